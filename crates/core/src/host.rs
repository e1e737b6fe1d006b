use alloc::string::String;

/// What the platform the core runs on can do more cheaply than Rust.
///
/// In the WASM, lower-casing through Rust's Unicode tables costs kilobytes
/// that JavaScript's `toLowerCase` already has; natively the tables are free.
pub trait Host {
    /// Unicode lower-casing, the way Auth0 stores emails.
    fn to_lowercase(&self, text: &str) -> String;
}

/// The host for native callers (CLI, bulk, tests): Rust's own tables.
#[derive(Debug, Default, Clone, Copy)]
pub struct NativeHost;

impl Host for NativeHost {
    fn to_lowercase(&self, text: &str) -> String {
        text.to_lowercase()
    }
}
