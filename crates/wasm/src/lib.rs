//! The WASM façade over `trickle-core`: the functions the generated
//! `login` and `getByEmail` scripts call. Thin by design: it converts
//! JavaScript values in and out and leaves every decision to the core.
//!
//! Size matters here (every byte ships inside a 100 KB script): it is
//! `no_std` on wasm32 with a panic handler that just traps, metadata stays
//! a JavaScript object end to end, and errors carry static messages.
//!
//! Hostile input must not hurt the instance, which lives for the whole
//! container: every export takes plain `JsValue`s and checks their types
//! here (wasm-bindgen's own string passing trusts its caller and corrupts
//! the allocator on a non-string), and every call back into JavaScript
//! that could run user code (a getter, a Proxy trap) is a `catch` import,
//! so no exception ever unwinds through WASM frames and strands its stack.
//!
//! Each script embeds only the exports it calls: the default features
//! build every export (native tests, the Node tests' full build), and
//! `scripts/build-wasm.sh` builds one bundle per source and script role
//! from a subset (`password-grant`, `users`, `marker`, `api`; see
//! Cargo.toml). A partial build leaves some readers unused, hence the
//! `allow` below for those builds only.

#![cfg_attr(target_arch = "wasm32", no_std)]
#![cfg_attr(
    not(all(
        feature = "password-grant",
        feature = "users",
        feature = "marker",
        feature = "api"
    )),
    allow(dead_code, unused_imports)
)]
// Test code may hold long tables; `scripts/test.sh` holds the rest to 80 lines.
#![cfg_attr(test, allow(clippy::too_many_lines))]

extern crate alloc;

mod keys;
#[cfg(feature = "api")]
mod legacy;
mod read;
mod write;

use alloc::string::String;

use js_sys::Reflect;
use trickle_core::{Metadata, NameKind, Policy};
use wasm_bindgen::prelude::*;

use crate::read::{optional_text_arg, source_user, source_users, text_arg, token_body};

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

/// A metadata object, kept as the very JavaScript value the old tenant sent
/// (or a copy of it without some keys).
pub(crate) struct JsMetadata(JsValue);

impl Metadata for JsMetadata {
    fn string_field(&self, key: &str) -> Option<String> {
        Reflect::get(&self.0, &JsValue::from_str(key))
            .ok()?
            .as_string()
    }

    fn without_keys(self, keys: &[&'static str]) -> Self {
        JsMetadata(read::without_keys(self.0, keys))
    }
}

pub(crate) fn js_error(message: &str) -> JsValue {
    js_sys::Error::new(message).into()
}

/// The old tenant's base URL from `configuration.domain`; throws when unusable.
#[wasm_bindgen(js_name = baseUrl)]
pub fn base_url(domain: JsValue) -> Result<JsValue, JsValue> {
    let domain = text_arg(&domain, "configuration.domain must be a string")?;
    trickle_core::base_url(&domain)
        .map(JsValue::from_str)
        .map_err(|error| js_error(error.message()))
}

/// The email as users-by-email must be asked for it.
#[wasm_bindgen(js_name = emailKey)]
pub fn email_key(email: JsValue) -> Result<JsValue, JsValue> {
    let email = text_arg(&email, "the email must be a string")?;
    Ok(JsValue::from_str(&trickle_core::email_key(&email)))
}

/// `{kind, reset_at?}` for an answer to the password-realm grant. `body` is
/// the parsed JSON, or `undefined` when the body was not JSON.
#[cfg(feature = "password-grant")]
#[wasm_bindgen(js_name = classifyToken)]
pub fn classify_token(status: u16, body: JsValue, ratelimit_reset: JsValue) -> JsValue {
    let outcome = trickle_core::classify_token_answer(
        status,
        token_body(&body).as_ref(),
        optional_text_arg(&ratelimit_reset).as_deref(),
    );
    write::outcome(outcome.kind(), outcome.reset_at())
}

/// `{kind, reset_at?}` for a Management API answer.
#[wasm_bindgen(js_name = classifyManagement)]
pub fn classify_management(status: u16, ratelimit_reset: JsValue) -> JsValue {
    let outcome = trickle_core::classify_management_answer(
        status,
        optional_text_arg(&ratelimit_reset).as_deref(),
    );
    write::outcome(outcome.kind(), outcome.reset_at())
}

/// `{kind, profile?, source_user_id?}` for a user fetched by id (login).
#[cfg(feature = "users")]
#[wasm_bindgen(js_name = decideUser)]
pub fn decide_user(user: JsValue, realm: JsValue, policy: u32) -> Result<JsValue, JsValue> {
    let realm = text_arg(&realm, "the realm must be a string")?;
    let user = source_user(&user)?;
    trickle_core::decide(user, &realm, &Policy::decode(policy))
        .map(|verdict| write::verdict(&verdict))
        .map_err(|error| js_error(error.message()))
}

/// `{kind, profile?, source_user_id?}` for a users-by-email answer
/// (get_user), or with `by_username` true for a user search's answer and a
/// username (a login by username).
#[cfg(feature = "users")]
#[wasm_bindgen(js_name = decideByEmail)]
pub fn decide_by_email(
    candidates: JsValue,
    name: JsValue,
    realm: JsValue,
    policy: u32,
    by_username: JsValue,
) -> Result<JsValue, JsValue> {
    let name = text_arg(&name, "the email must be a string")?;
    let realm = text_arg(&realm, "the realm must be a string")?;
    let candidates = source_users(&candidates)?;
    let kind = if by_username.as_bool() == Some(true) {
        NameKind::Username
    } else {
        NameKind::Email
    };
    trickle_core::decide_by_name(candidates, &name, kind, &realm, &Policy::decode(policy))
        .map(|verdict| write::verdict(&verdict))
        .map_err(|error| js_error(error.message()))
}

/// The `PATCH /api/v2/users/{id}` body that marks a user as migrated.
#[cfg(feature = "marker")]
#[wasm_bindgen(js_name = markerPatch)]
pub fn marker_patch(now_iso: JsValue) -> Result<JsValue, JsValue> {
    let now_iso = text_arg(&now_iso, "the time must be a string")?;
    Ok(write::marker_patch(&now_iso))
}

/// `written`, `refused` or `uncertain`: what the answer to the marker PATCH
/// says (`body` as parsed, `undefined` when not JSON).
#[cfg(feature = "marker")]
#[wasm_bindgen(js_name = markerWrite)]
pub fn marker_write(status: u16, body: JsValue) -> JsValue {
    // A user carries its id: `{}` or an error body is not the user back.
    let answered_a_user = source_user(&body).is_ok_and(|user| user.user_id.is_some());
    write::kind(trickle_core::classify_marker_write(status, answered_a_user).kind())
}

/// `marked`, `not_marked` or `unconfirmed`: what reading the user back
/// after an uncertain marker write found.
#[cfg(feature = "marker")]
#[wasm_bindgen(js_name = markerCheck)]
pub fn marker_check(status: u16, user: JsValue) -> JsValue {
    let user = source_user(&user).ok();
    write::kind(trickle_core::check_marker(status, user.as_ref()).kind())
}
