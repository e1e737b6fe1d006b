//! JavaScript strings for the field names the façade reads and writes,
//! made once per WASM instance. Decoding a key out of WASM memory on every
//! access was half of what reading a user cost.

use wasm_bindgen::JsValue;

/// The JavaScript string for `name`. Only `'static` names are cached (the
/// field names), so the cache stays a few dozen entries.
#[cfg(target_arch = "wasm32")]
pub(crate) fn key(name: &'static str) -> &'static JsValue {
    use alloc::boxed::Box;
    use alloc::vec::Vec;
    use core::cell::RefCell;

    struct SingleThreaded(RefCell<Vec<(&'static str, &'static JsValue)>>);
    // SAFETY: wasm32-unknown-unknown without the atomics feature has one thread.
    unsafe impl Sync for SingleThreaded {}
    static CACHE: SingleThreaded = SingleThreaded(RefCell::new(Vec::new()));

    let mut cache = CACHE.0.borrow_mut();
    if let Some((_, value)) = cache
        .iter()
        .find(|(cached, _)| core::ptr::eq(*cached, name))
    {
        return value;
    }
    // Leaked on purpose: one string per field name, for the instance's life.
    let value: &'static JsValue = Box::leak(Box::new(JsValue::from_str(name)));
    cache.push((name, value));
    value
}

/// Natively (tests of the crate's Rust side) there is no JavaScript to cache for.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn key(name: &'static str) -> &'static JsValue {
    alloc::boxed::Box::leak(alloc::boxed::Box::new(JsValue::from_str(name)))
}
