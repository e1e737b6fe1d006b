//! The WASM façade over `trickle-core`: the functions the generated
//! `login` and `getByEmail` scripts call. Thin by design: it converts
//! JavaScript values in and out and delegates every decision to the core.
//!
//! Size matters here (every byte ships inside a 100 KB script): metadata
//! objects stay JavaScript objects end to end, lower-casing uses
//! JavaScript's own, and errors carry static messages.

mod read;

// dlmalloc is ~7 KB of the WASM; the scripts allocate little and briefly,
// and WASM runs on one thread, which is what this allocator assumes.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    // SAFETY: wasm32-unknown-unknown without the atomics feature has one thread.
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

use js_sys::{JsString, Reflect};
use serde::{Serialize, Serializer};
use trickle_core::{Host, Metadata, Policy};
use wasm_bindgen::prelude::*;

use crate::read::{source_user, source_users, token_body};

/// A metadata object, kept as the very JavaScript value the old tenant sent.
struct JsMetadata(JsValue);

impl Serialize for JsMetadata {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serde_wasm_bindgen::preserve::serialize(&self.0, serializer)
    }
}

impl Metadata for JsMetadata {
    fn string_field(&self, key: &str) -> Option<String> {
        Reflect::get(&self.0, &JsValue::from_str(key)).ok()?.as_string()
    }
}

/// Lower-casing by JavaScript's `toLowerCase`, which needs no tables in the WASM.
struct JsHost;

impl Host for JsHost {
    fn to_lowercase(&self, text: &str) -> String {
        JsString::from(text).to_lower_case().into()
    }
}

fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    let serializer = serde_wasm_bindgen::Serializer::new().serialize_maps_as_objects(true);
    Ok(value.serialize(&serializer)?)
}

fn js_error(message: &str) -> JsValue {
    js_sys::Error::new(message).into()
}

/// The old tenant's base URL from `configuration.domain`; throws when unusable.
#[wasm_bindgen(js_name = baseUrl)]
pub fn base_url(domain: &str) -> Result<String, JsValue> {
    trickle_core::base_url(domain)
        .map(str::to_owned)
        .map_err(|error| js_error(error.message()))
}

/// The email as users-by-email must be asked for it.
#[wasm_bindgen(js_name = emailKey)]
pub fn email_key(email: &str) -> String {
    trickle_core::email_key(email, &JsHost)
}

/// `{kind, reset_at?}` for an answer to the password-realm grant. `body` is
/// the parsed JSON, or `undefined` when the body was not JSON.
#[wasm_bindgen(js_name = classifyToken)]
pub fn classify_token(status: u16, body: JsValue, ratelimit_reset: Option<String>) -> Result<JsValue, JsValue> {
    let body = token_body(&body);
    to_js(&trickle_core::classify_token_answer(status, body.as_ref(), ratelimit_reset.as_deref()))
}

/// `{kind, reset_at?}` for a Management API answer.
#[wasm_bindgen(js_name = classifyManagement)]
pub fn classify_management(status: u16, ratelimit_reset: Option<String>) -> Result<JsValue, JsValue> {
    to_js(&trickle_core::classify_management_answer(status, ratelimit_reset.as_deref()))
}

/// `{kind, profile?}` for a user fetched by id (login).
#[wasm_bindgen(js_name = decideUser)]
pub fn decide_user(user: JsValue, realm: &str, policy: u32) -> Result<JsValue, JsValue> {
    let user = source_user(&user)?;
    let verdict = trickle_core::decide(user, realm, &Policy::decode(policy), &JsHost)
        .map_err(|error| js_error(error.message()))?;
    to_js(&verdict)
}

/// `{kind, profile?}` for a users-by-email answer (get_user).
#[wasm_bindgen(js_name = decideByEmail)]
pub fn decide_by_email(candidates: JsValue, email: &str, realm: &str, policy: u32) -> Result<JsValue, JsValue> {
    let candidates = source_users(&candidates)?;
    let verdict = trickle_core::decide_by_email(candidates, email, realm, &Policy::decode(policy), &JsHost)
        .map_err(|error| js_error(error.message()))?;
    to_js(&verdict)
}

/// The `PATCH /api/v2/users/{id}` body that marks a user as migrated.
#[wasm_bindgen(js_name = markerPatch)]
pub fn marker_patch(now_iso: &str) -> Result<JsValue, JsValue> {
    to_js(&trickle_core::marker_patch(now_iso))
}
