//! Reading the old tenant's JSON (already parsed by JavaScript) into core
//! types. Done by hand with `Reflect` rather than serde: serde's error paths
//! drag float formatting into the WASM, which costs more than this file.

use alloc::string::String;
use alloc::vec::Vec;

use js_sys::{Array, Reflect};
use trickle_core::{Identity, IdentityUserId, SourceUser, TokenBody};
use wasm_bindgen::JsValue;

use crate::keys::key;
use crate::{js_error, JsMetadata};

fn field(object: &JsValue, name: &'static str) -> JsValue {
    Reflect::get(object, key(name)).unwrap_or(JsValue::UNDEFINED)
}

fn is_absent(value: &JsValue) -> bool {
    value.is_undefined() || value.is_null()
}

fn wrong_type(key: &str) -> JsValue {
    let mut message = String::from("the old tenant sent a user whose field has the wrong type: ");
    message.push_str(key);
    js_error(&message)
}

fn text(object: &JsValue, key: &'static str) -> Result<Option<String>, JsValue> {
    let value = field(object, key);
    if is_absent(&value) {
        return Ok(None);
    }
    value.as_string().map(Some).ok_or_else(|| wrong_type(key))
}

fn flag(object: &JsValue, key: &'static str) -> Result<Option<bool>, JsValue> {
    let value = field(object, key);
    if is_absent(&value) {
        return Ok(None);
    }
    value.as_bool().map(Some).ok_or_else(|| wrong_type(key))
}

fn metadata(object: &JsValue, key: &'static str) -> Result<Option<JsMetadata>, JsValue> {
    let value = field(object, key);
    if is_absent(&value) {
        return Ok(None);
    }
    if !value.is_object() || Array::is_array(&value) {
        return Err(wrong_type(key));
    }
    Ok(Some(JsMetadata(value)))
}

fn identity(value: &JsValue) -> Result<Identity, JsValue> {
    if !value.is_object() {
        return Err(wrong_type("identities"));
    }
    Ok(Identity {
        provider: text(value, "provider")?,
        connection: text(value, "connection")?,
        // Numbers (some social providers) are never used as ids.
        user_id: IdentityUserId(field(value, "user_id").as_string()),
    })
}

/// A user object of the Management API.
pub(crate) fn source_user(value: &JsValue) -> Result<SourceUser<JsMetadata>, JsValue> {
    if !value.is_object() || Array::is_array(value) {
        return Err(js_error("the old tenant sent a user that is not an object"));
    }
    let identities = field(value, "identities");
    let identities = if is_absent(&identities) {
        Vec::new()
    } else if Array::is_array(&identities) {
        Array::from(&identities)
            .iter()
            .map(|item| identity(&item))
            .collect::<Result<_, _>>()?
    } else {
        return Err(wrong_type("identities"));
    };
    Ok(SourceUser {
        user_id: text(value, "user_id")?,
        email: text(value, "email")?,
        email_verified: flag(value, "email_verified")?,
        username: text(value, "username")?,
        name: text(value, "name")?,
        nickname: text(value, "nickname")?,
        given_name: text(value, "given_name")?,
        family_name: text(value, "family_name")?,
        picture: text(value, "picture")?,
        identities,
        app_metadata: metadata(value, "app_metadata")?,
        user_metadata: metadata(value, "user_metadata")?,
        blocked: flag(value, "blocked")?,
    })
}

/// An array of user objects (a users-by-email answer).
pub(crate) fn source_users(value: &JsValue) -> Result<Vec<SourceUser<JsMetadata>>, JsValue> {
    if !Array::is_array(value) {
        return Err(js_error(
            "the old tenant sent a user list that is not an array",
        ));
    }
    Array::from(value)
        .iter()
        .map(|item| source_user(&item))
        .collect()
}

/// A token endpoint body; `None` when it is not shaped like one, which the
/// core treats exactly like a body that is not JSON.
pub(crate) fn token_body(value: &JsValue) -> Option<TokenBody> {
    if !value.is_object() {
        return None;
    }
    Some(TokenBody {
        error: text(value, "error").ok()?,
        access_token: text(value, "access_token").ok()?,
        id_token: text(value, "id_token").ok()?,
    })
}
