//! Reading the scopes a Management API token carries, from its claims
//! (`scope`, space-separated, and `permissions`), not from what was asked.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;

/// The claims of a JWT (not verified: it came straight from the token
/// endpoint over TLS); `None` when the token is not a JWT.
pub fn claims(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Every scope the claims grant: `scope` and `permissions` together.
pub fn granted_scopes(claims: &Value) -> Vec<String> {
    let mut scopes: Vec<String> = claims
        .get("scope")
        .and_then(Value::as_str)
        .map(|s| s.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    if let Some(Value::Array(permissions)) = claims.get("permissions") {
        scopes.extend(
            permissions
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned),
        );
    }
    scopes.sort();
    scopes.dedup();
    scopes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_scope_and_permissions() {
        let payload = URL_SAFE_NO_PAD.encode(r#"{"scope":"read:users update:users","permissions":["read:users","read:connections"]}"#);
        let claims = claims(&format!("e30.{payload}.sig")).unwrap();
        assert_eq!(
            granted_scopes(&claims),
            ["read:connections", "read:users", "update:users"]
        );
        assert!(super::claims("opaque-token").is_none());
        assert!(super::claims("a.!!!.c").is_none());
    }
}
