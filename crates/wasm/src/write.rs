//! Building the JavaScript objects the scripts receive. The shapes come
//! from the core (`Profile::entries`, `kind()`), so serde's output natively
//! and these objects agree.

use js_sys::{Object, Reflect};
use trickle_core::{ProfileValue, Verdict, MARKER_KEY};
use wasm_bindgen::JsValue;

use crate::keys::key;
use crate::JsMetadata;

fn set(object: &Object, name: &'static str, value: &JsValue) {
    // Cannot fail on a fresh plain object.
    let _ = Reflect::set(object, key(name), value);
}

fn kind_object(kind: &'static str) -> Object {
    let object = Object::new();
    set(&object, "kind", key(kind));
    object
}

/// A bare kind name.
pub(crate) fn kind(kind: &'static str) -> JsValue {
    key(kind).clone()
}

/// `{kind, reset_at?}`.
pub(crate) fn outcome(kind: &'static str, reset_at: Option<u32>) -> JsValue {
    let object = kind_object(kind);
    if let Some(reset_at) = reset_at {
        set(&object, "reset_at", &JsValue::from_f64(f64::from(reset_at)));
    }
    object.into()
}

/// `{kind, profile?, source_user_id?}`.
pub(crate) fn verdict(verdict: &Verdict<JsMetadata>) -> JsValue {
    let object = kind_object(verdict.kind());
    if let Verdict::Migrate {
        profile,
        source_user_id,
    } = verdict
    {
        let fields = Object::new();
        for (key, value) in profile.entries() {
            let value = match value {
                ProfileValue::Text(text) => JsValue::from_str(text),
                ProfileValue::Flag(flag) => JsValue::from_bool(flag),
                ProfileValue::Metadata(metadata) => metadata.0.clone(),
            };
            set(&fields, key, &value);
        }
        set(&object, "profile", &fields);
        if let Some(id) = source_user_id {
            set(&object, "source_user_id", &JsValue::from_str(id));
        }
    }
    object.into()
}

/// `{app_metadata: {trickle_migrated_at: now}}`, as `MarkerPatch` serializes.
pub(crate) fn marker_patch(now_iso: &str) -> JsValue {
    let marker = Object::new();
    set(&marker, MARKER_KEY, &JsValue::from_str(now_iso));
    let patch = Object::new();
    set(&patch, "app_metadata", &marker);
    patch.into()
}
