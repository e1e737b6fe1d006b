use alloc::string::String;

use crate::MARKER_KEY;

/// Trickle's own `app_metadata` keys: the old tenant's migration marker and
/// the post-login Action's bookkeeping in the new tenant. They describe one
/// migration, so they never travel with a user to the next tenant (A → B,
/// then B → C). A list, not a `trickle_` prefix: the WASM then asks for
/// three keys instead of reading every key (hundreds of bytes less).
pub const OWN_KEYS: [&str; 3] = [MARKER_KEY, "trickle_checked_at", "trickle_marked_at"];

/// Whether `key` is one of Trickle's own keys.
pub fn is_own_key(key: &str) -> bool {
    OWN_KEYS.contains(&key)
}

/// A metadata object (`app_metadata`, `user_metadata`) as the caller holds
/// it. The core passes metadata through untouched, so nested objects and
/// unicode come out exactly as they went in; it only ever reads one string
/// key (the migration marker) and leaves out Trickle's own keys.
pub trait Metadata: Sized {
    /// The value at `key` when it is a string.
    fn string_field(&self, key: &str) -> Option<String>;

    /// This object without the top-level keys `unwanted` picks: itself when
    /// it has none of them (the common case costs no copy), else a copy.
    fn without_keys(self, keys: &[&'static str]) -> Self;
}

#[cfg(feature = "json")]
impl Metadata for serde_json::Value {
    fn string_field(&self, key: &str) -> Option<String> {
        self.get(key)?
            .as_str()
            .map(alloc::borrow::ToOwned::to_owned)
    }

    fn without_keys(mut self, keys: &[&'static str]) -> Self {
        if let Some(object) = self.as_object_mut() {
            for key in keys {
                object.remove(*key);
            }
        }
        self
    }
}
