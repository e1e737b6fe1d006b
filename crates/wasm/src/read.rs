//! Reading the old tenant's JSON (already parsed by JavaScript) into core
//! types. Done by hand with `Reflect` rather than serde: serde's error paths
//! drag float formatting into the WASM, which costs more than this file.
//!
//! Every read that could run JavaScript (a getter, a Proxy trap) goes
//! through a `catch` import, so a throwing one is an error value here and
//! never an exception unwinding through WASM.

use alloc::string::String;
use alloc::vec::Vec;

use js_sys::{JsString, Reflect};
use trickle_core::{Identity, IdentityUserId, SourceUser, TokenBody};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::keys::key;
use crate::{js_error, JsMetadata};

#[wasm_bindgen]
extern "C" {
    // js-sys's `Array::isArray` is not `catch`, and a revoked Proxy throws.
    #[wasm_bindgen(catch, js_namespace = Array, js_name = isArray)]
    fn is_array_checked(value: &JsValue) -> Result<bool, JsValue>;
    // Getters and Proxy traps run here: both `catch`.
    #[wasm_bindgen(catch, js_namespace = Object, js_name = entries)]
    fn entries_checked(value: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_namespace = Object, js_name = fromEntries)]
    fn from_entries_checked(entries: &JsValue) -> Result<JsValue, JsValue>;
}

pub(crate) fn is_array(value: &JsValue) -> bool {
    is_array_checked(value).unwrap_or(false)
}

pub(crate) fn field(object: &JsValue, name: &'static str) -> JsValue {
    Reflect::get(object, key(name)).unwrap_or(JsValue::UNDEFINED)
}

/// More elements than any answer the scripts read can hold (users by
/// email, a user's identities): a longer (or sparse, 2^32 - 1 long) array
/// is refused rather than read element by element.
const MAX_ELEMENTS: f64 = 100_000.0;

/// The elements of an array, read with `catch` imports only.
pub(crate) fn elements(array: &JsValue) -> Result<Vec<JsValue>, JsValue> {
    let length = field(array, "length").as_f64().unwrap_or(0.0);
    if !(0.0..=MAX_ELEMENTS).contains(&length) {
        return Err(js_error("the old tenant sent a list with a bad length"));
    }
    (0..length as u32)
        .map(|index| Reflect::get_u32(array, index))
        .collect()
}

/// The Rust string for a JavaScript string, refusing unpaired surrogates
/// (which the conversion would silently turn into U+FFFD, making two
/// different emails one).
fn well_formed(value: &JsValue) -> Option<Result<String, ()>> {
    let text = value.as_string()?;
    // Only a replaced surrogate leaves U+FFFD behind: look closer only then.
    if text.chars().any(|c| c == '\u{FFFD}') && has_unpaired_surrogate(value.unchecked_ref()) {
        return Some(Err(()));
    }
    Some(Ok(text))
}

/// By hand rather than `JsString::is_valid_utf16` (measured: kilobytes more).
fn has_unpaired_surrogate(text: &JsString) -> bool {
    let length = text.length();
    let mut index = 0;
    while index < length {
        let unit = text.char_code_at(index) as u32;
        index += 1;
        match unit {
            0xD800..=0xDBFF => {
                let next = if index < length {
                    text.char_code_at(index) as u32
                } else {
                    0
                };
                if !(0xDC00..=0xDFFF).contains(&next) {
                    return true;
                }
                index += 1;
            }
            0xDC00..=0xDFFF => return true,
            _ => {}
        }
    }
    false
}

/// An argument that must be a well-formed string.
pub(crate) fn text_arg(value: &JsValue, message: &'static str) -> Result<String, JsValue> {
    match well_formed(value) {
        Some(Ok(text)) => Ok(text),
        Some(Err(())) => Err(js_error(
            "a string holds an unpaired surrogate (not valid Unicode)",
        )),
        None => Err(js_error(message)),
    }
}

/// An optional string argument (a header value): anything else is absent.
pub(crate) fn optional_text_arg(value: &JsValue) -> Option<String> {
    well_formed(value)?.ok()
}

fn is_absent(value: &JsValue) -> bool {
    value.is_undefined() || value.is_null()
}

fn wrong_type(key: &str) -> JsValue {
    let mut message = String::from("the old tenant sent a user whose field has the wrong type: ");
    message.push_str(key);
    js_error(&message)
}

pub(crate) fn text(object: &JsValue, key: &'static str) -> Result<Option<String>, JsValue> {
    let value = field(object, key);
    if is_absent(&value) {
        return Ok(None);
    }
    match well_formed(&value) {
        Some(Ok(text)) => Ok(Some(text)),
        _ => Err(wrong_type(key)),
    }
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
    if !value.is_object() || is_array(&value) {
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
        user_id: IdentityUserId(match well_formed(&field(value, "user_id")) {
            Some(Ok(id)) => Some(id),
            Some(Err(())) => return Err(wrong_type("user_id")),
            None => None,
        }),
    })
}

/// `object` without `keys`: the object itself when it has none of them (or
/// cannot be read: nothing is taken out of what cannot be read), else a
/// copy without them. `fromEntries` makes each key an own data property of
/// the copy, so even a `__proto__` key stays a key.
pub(crate) fn without_keys(object: JsValue, keys: &[&'static str]) -> JsValue {
    // JSON holds no `undefined`: a key that reads as one is not there.
    if keys.iter().all(|name| field(&object, name).is_undefined()) {
        return object;
    }
    let copy = entries_checked(&object).and_then(|entries| from_entries_checked(&entries));
    let Ok(copy) = copy else {
        return object;
    };
    for name in keys {
        let _ = Reflect::delete_property(copy.unchecked_ref::<js_sys::Object>(), key(name));
    }
    copy
}

/// A user object of the Management API.
pub(crate) fn source_user(value: &JsValue) -> Result<SourceUser<JsMetadata>, JsValue> {
    user_object(value, "user_id", true)
}

/// A user object whose id is under `id_key`; its `identities` are read
/// only `with_identities` (a legacy store's are an unknown member, ignored).
pub(crate) fn user_object(
    value: &JsValue,
    id_key: &'static str,
    with_identities: bool,
) -> Result<SourceUser<JsMetadata>, JsValue> {
    if !value.is_object() || is_array(value) {
        return Err(js_error("the old tenant sent a user that is not an object"));
    }
    let identities = if with_identities {
        identities(value)?
    } else {
        Vec::new()
    };
    Ok(SourceUser {
        user_id: text(value, id_key)?,
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

fn identities(value: &JsValue) -> Result<Vec<Identity>, JsValue> {
    let identities = field(value, "identities");
    if is_absent(&identities) {
        Ok(Vec::new())
    } else if is_array(&identities) {
        elements(&identities)?.iter().map(identity).collect()
    } else {
        Err(wrong_type("identities"))
    }
}

/// An array of user objects (a users-by-email answer).
pub(crate) fn source_users(value: &JsValue) -> Result<Vec<SourceUser<JsMetadata>>, JsValue> {
    if !is_array(value) {
        return Err(js_error(
            "the old tenant sent a user list that is not an array",
        ));
    }
    elements(value)?.iter().map(source_user).collect()
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
