//! The exports for a legacy user store behind an API as the source (the
//! scripts of `templates/api/`): the contract's `User` read into the core's
//! `LegacyUser`, every answer handed to the core. No decision is made here.

use alloc::string::String;
use alloc::vec::Vec;

use trickle_core::{LegacyUser, Policy};
use wasm_bindgen::prelude::*;

use crate::read::{elements, field, is_array, optional_text_arg, text, text_arg, user_object};
use crate::{js_error, write, JsMetadata};

fn is_record(value: &JsValue) -> bool {
    value.is_object() && !is_array(value)
}

/// A `User` of the contract: the Management API user's reader, the id
/// under `id`, no identities, and the store's `migrated_at`.
fn legacy_user(value: &JsValue) -> Result<LegacyUser<JsMetadata>, JsValue> {
    Ok(LegacyUser {
        user: user_object(value, "id", false)?,
        migrated_at: text(value, "migrated_at")?,
    })
}

fn legacy_users(value: &JsValue) -> Result<Vec<LegacyUser<JsMetadata>>, JsValue> {
    if !is_array(value) {
        return Err(js_error(
            "the user store sent a user list that is not an array",
        ));
    }
    elements(value)?.iter().map(legacy_user).collect()
}

/// A member of an answer's body; none when the body is not an object (a
/// read of `undefined` would throw, and each thrown read keeps a value).
fn member(body: &JsValue, name: &'static str) -> JsValue {
    if body.is_object() {
        field(body, name)
    } else {
        JsValue::UNDEFINED
    }
}

/// The body's `error` code, when it is a string.
fn error_code(body: &JsValue) -> Option<String> {
    if body.is_object() {
        text(body, "error").ok().flatten()
    } else {
        None
    }
}

/// The body's `user`, when it is one.
fn body_user(body: &JsValue) -> Option<LegacyUser<JsMetadata>> {
    legacy_user(&member(body, "user")).ok()
}

/// The API's base URL from `configuration.api_url` (or the config's
/// `[source] url`); throws when unusable.
#[wasm_bindgen(js_name = apiUrl)]
pub fn api_url(url: JsValue) -> Result<JsValue, JsValue> {
    let url = text_arg(&url, "configuration.domain must be a string")?;
    trickle_core::api_base_url(&url)
        .map(JsValue::from_str)
        .map_err(|error| js_error(error.message()))
}

/// `{kind, reset_at?}` for an answer of the API (`body` as parsed,
/// `undefined` when not JSON); `now` is the caller's clock in UNIX seconds,
/// for `Retry-After`.
#[wasm_bindgen(js_name = classifyLegacy)]
pub fn classify_legacy(status: u16, body: JsValue, retry_after: JsValue, now: u32) -> JsValue {
    let has_payload = is_record(&member(&body, "user")) || is_array(&member(&body, "users"));
    let outcome = trickle_core::classify_legacy_answer(
        status,
        error_code(&body).as_deref(),
        has_payload,
        optional_text_arg(&retry_after).as_deref(),
        now,
    );
    write::outcome(outcome.kind(), outcome.reset_at())
}

/// `{kind, profile?, source_user_id?}` for the body's `user` (verify, by
/// id), or with `email` for the exact match among the body's `users` (a
/// lookup by email).
#[wasm_bindgen(js_name = decideLegacy)]
pub fn decide_legacy(body: JsValue, email: JsValue, policy: u32) -> Result<JsValue, JsValue> {
    let policy = Policy::decode(policy);
    let verdict = if email.is_undefined() {
        trickle_core::decide_legacy(legacy_user(&member(&body, "user"))?, &policy)
    } else {
        let email = text_arg(&email, "the email must be a string")?;
        let users = legacy_users(&member(&body, "users"))?;
        trickle_core::decide_legacy_by_email(users, &email, &policy)
    };
    verdict
        .map(|verdict| write::verdict(&verdict))
        .map_err(|error| js_error(error.message()))
}

/// `written`, `refused` or `uncertain`: what the answer to
/// `PUT /users/{id}/migrated` says.
#[wasm_bindgen(js_name = legacyMarkerWrite)]
pub fn legacy_marker_write(status: u16, body: JsValue) -> JsValue {
    let user = body_user(&body);
    let error = error_code(&body);
    write::kind(
        trickle_core::classify_legacy_marker_write(status, error.as_deref(), user.as_ref()).kind(),
    )
}

/// `marked`, `not_marked` or `unconfirmed`: what reading the user back
/// (`GET /users/{id}`) after an uncertain marker write found.
#[wasm_bindgen(js_name = legacyMarkerCheck)]
pub fn legacy_marker_check(status: u16, body: JsValue) -> JsValue {
    write::kind(trickle_core::check_legacy_marker(status, body_user(&body).as_ref()).kind())
}
