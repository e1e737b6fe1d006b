use alloc::string::String;

/// A metadata object (`app_metadata`, `user_metadata`) as the caller holds
/// it. The core passes metadata through untouched, so nested objects and
/// unicode come out exactly as they went in; it only ever reads one string
/// key (the migration marker).
pub trait Metadata {
    /// The value at `key` when it is a string.
    fn string_field(&self, key: &str) -> Option<String>;
}

#[cfg(feature = "json")]
impl Metadata for serde_json::Value {
    fn string_field(&self, key: &str) -> Option<String> {
        self.get(key)?
            .as_str()
            .map(alloc::borrow::ToOwned::to_owned)
    }
}
