//! A failed request in a few words, for messages and reports.

/// What went wrong with a request that got no usable answer: its kind
/// (`otherwise` when reqwest names none) and the innermost cause, which
/// names neither the URL's query nor anything sent.
pub fn describe_transport_error(error: &reqwest::Error, otherwise: &str) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_body() || error.is_decode() {
        "the answer broke off"
    } else {
        otherwise
    };
    let mut source = std::error::Error::source(error);
    let mut detail = String::new();
    while let Some(inner) = source {
        detail = inner.to_string();
        source = inner.source();
    }
    if detail.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind} ({detail})")
    }
}
