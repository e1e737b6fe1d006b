//! The WASM façade over `trickle-core`: the functions the generated
//! `login` and `getByEmail` scripts call. Thin by design: it converts
//! JavaScript values in and out and leaves every decision to the core.
//!
//! Size matters here (every byte ships inside a 100 KB script): it is
//! `no_std` on wasm32 with a panic handler that just traps, metadata stays
//! a JavaScript object end to end, lower-casing uses JavaScript's own, and
//! errors carry static messages.

#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

mod keys;
mod read;
mod write;

use alloc::borrow::ToOwned;
use alloc::string::String;

use js_sys::{JsString, Reflect};
use trickle_core::{Host, Metadata, Policy};
use wasm_bindgen::prelude::*;

use crate::read::{source_user, source_users, token_body};

// dlmalloc is ~8 KB of the WASM; the scripts allocate little and briefly,
// and this WASM runs on one thread, which is what this allocator assumes.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    // SAFETY: wasm32-unknown-unknown without the atomics feature has one thread.
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

// Nothing here is meant to panic (bad input is a typed error). Should it
// happen anyway, trap: JavaScript sees a RuntimeError, the script answers
// with a plain Error, and no formatting code ships.
#[cfg(target_arch = "wasm32")]
#[panic_handler]
fn trap_on_panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

/// A metadata object, kept as the very JavaScript value the old tenant sent.
pub(crate) struct JsMetadata(JsValue);

impl Metadata for JsMetadata {
    fn string_field(&self, key: &str) -> Option<String> {
        Reflect::get(&self.0, &JsValue::from_str(key))
            .ok()?
            .as_string()
    }
}

/// Lower-casing by JavaScript's `toLowerCase`, which needs no tables in the WASM.
struct JsHost;

impl Host for JsHost {
    fn to_lowercase(&self, text: &str) -> String {
        JsString::from(text).to_lower_case().into()
    }
}

pub(crate) fn js_error(message: &str) -> JsValue {
    js_sys::Error::new(message).into()
}

/// The old tenant's base URL from `configuration.domain`; throws when unusable.
#[wasm_bindgen(js_name = baseUrl)]
pub fn base_url(domain: &str) -> Result<String, JsValue> {
    trickle_core::base_url(domain)
        .map(ToOwned::to_owned)
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
pub fn classify_token(status: u16, body: JsValue, ratelimit_reset: Option<String>) -> JsValue {
    let outcome = trickle_core::classify_token_answer(
        status,
        token_body(&body).as_ref(),
        ratelimit_reset.as_deref(),
    );
    write::outcome(outcome.kind(), outcome.reset_at())
}

/// `{kind, reset_at?}` for a Management API answer.
#[wasm_bindgen(js_name = classifyManagement)]
pub fn classify_management(status: u16, ratelimit_reset: Option<String>) -> JsValue {
    let outcome = trickle_core::classify_management_answer(status, ratelimit_reset.as_deref());
    write::outcome(outcome.kind(), outcome.reset_at())
}

/// `{kind, profile?, source_user_id?}` for a user fetched by id (login).
#[wasm_bindgen(js_name = decideUser)]
pub fn decide_user(user: JsValue, realm: &str, policy: u32) -> Result<JsValue, JsValue> {
    let user = source_user(&user)?;
    trickle_core::decide(user, realm, &Policy::decode(policy), &JsHost)
        .map(|verdict| write::verdict(&verdict))
        .map_err(|error| js_error(error.message()))
}

/// `{kind, profile?, source_user_id?}` for a users-by-email answer (get_user).
#[wasm_bindgen(js_name = decideByEmail)]
pub fn decide_by_email(
    candidates: JsValue,
    email: &str,
    realm: &str,
    policy: u32,
) -> Result<JsValue, JsValue> {
    let candidates = source_users(&candidates)?;
    trickle_core::decide_by_email(candidates, email, realm, &Policy::decode(policy), &JsHost)
        .map(|verdict| write::verdict(&verdict))
        .map_err(|error| js_error(error.message()))
}

/// The `PATCH /api/v2/users/{id}` body that marks a user as migrated.
#[wasm_bindgen(js_name = markerPatch)]
pub fn marker_patch(now_iso: &str) -> JsValue {
    write::marker_patch(now_iso)
}
