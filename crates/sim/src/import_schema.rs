//! The users file's schema, as an import job checks each user (see
//! auth0-facts.md): a table of small checks, every problem reported with
//! Auth0's code and the property's path.

use serde_json::{json, Map, Value};

use crate::text::is_email;

/// `app_metadata` keys an import refuses.
const RESERVED_APP_METADATA: &[&str] = &[
    "__tenant",
    "_id",
    "blocked",
    "clientID",
    "created_at",
    "email",
    "email_verified",
    "globalClientID",
    "global_client_id",
    "identities",
    "lastIP",
    "lastLogin",
    "loginsCount",
    "metadata",
    "updated_at",
    "user_id",
];

const CUSTOM_HASH_ALGORITHMS: &[&str] = &[
    "argon2", "bcrypt", "hmac", "ldap", "md4", "md5", "sha1", "sha256", "sha512", "pbkdf2",
    "scrypt",
];

/// One problem of a user, as the job's errors list it.
pub fn problem(code: &str, message: impl Into<String>, path: &str) -> Value {
    let mut error = json!({"code": code, "message": message.into()});
    if !path.is_empty() {
        error["path"] = Value::String(path.to_owned());
    }
    error
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn is_bcrypt(hash: &str) -> bool {
    let bytes = hash.as_bytes();
    bytes.len() == 60
        && (hash.starts_with("$2a$") || hash.starts_with("$2b$"))
        && bytes[4].is_ascii_digit()
        && bytes[5].is_ascii_digit()
        && bytes[6] == b'$'
        && bytes[7..]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'.' || *b == b'/')
}

/// Keys (at any depth) that MongoDB-style storage refuses.
fn bad_keys(value: &Value, prefix: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            for (key, child) in object {
                let path = format!("{prefix}.{key}");
                if key.contains('.') || key.contains('$') {
                    out.push(path.clone());
                }
                bad_keys(child, &path, out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                bad_keys(item, &format!("{prefix}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// One check of the import schema: the problems it finds in a user object.
type Check = fn(&Map<String, Value>, &mut Vec<Value>);

/// The schema's checks, in the order their problems are reported.
const CHECKS: &[Check] = &[
    check_types,
    check_email,
    check_user_id,
    check_password_hash,
    check_one_hash,
    check_custom_hash,
    check_reserved_app_metadata,
    check_metadata_keys,
    check_mfa_factors,
];

/// The import schema (see auth0-facts.md): every problem of one user.
pub fn validate(user: &Value) -> Result<&Map<String, Value>, Vec<Value>> {
    let Some(object) = user.as_object() else {
        return Err(vec![problem(
            "INVALID_TYPE",
            format!("Expected type object but found type {}", type_name(user)),
            "",
        )]);
    };
    let mut problems = Vec::new();
    for check in CHECKS {
        check(object, &mut problems);
    }
    if problems.is_empty() {
        Ok(object)
    } else {
        Err(problems)
    }
}

/// The type a property of the schema has; `None`: no such property.
fn expected_type(key: &str) -> Option<&'static str> {
    Some(match key {
        "email" | "user_id" | "username" | "given_name" | "family_name" | "name" | "nickname"
        | "picture" | "password_hash" => "string",
        "email_verified" | "blocked" => "boolean",
        "app_metadata" | "user_metadata" | "custom_password_hash" => "object",
        "mfa_factors" => "array",
        _ => return None,
    })
}

/// Every property known, and of its type.
fn check_types(object: &Map<String, Value>, problems: &mut Vec<Value>) {
    for (key, value) in object {
        let Some(expected) = expected_type(key) else {
            problems.push(problem(
                "OBJECT_ADDITIONAL_PROPERTIES",
                format!("Additional properties not allowed: {key}"),
                key,
            ));
            continue;
        };
        if type_name(value) != expected {
            problems.push(problem(
                "INVALID_TYPE",
                format!(
                    "Expected type {expected} but found type {}",
                    type_name(value)
                ),
                key,
            ));
        }
    }
}

/// `email` given, and an email address.
fn check_email(object: &Map<String, Value>, problems: &mut Vec<Value>) {
    match object.get("email") {
        None => problems.push(problem(
            "OBJECT_REQUIRED",
            "Missing required property: email",
            "email",
        )),
        Some(Value::String(email)) if !is_email(email) => problems.push(problem(
            "INVALID_FORMAT",
            format!(
                "Error in email property - Object didn't pass validation for format email: {email}"
            ),
            "email",
        )),
        _ => {}
    }
}

/// `user_id` not empty, and without the `auth0|` the import adds.
fn check_user_id(object: &Map<String, Value>, problems: &mut Vec<Value>) {
    let Some(Value::String(id)) = object.get("user_id") else {
        return;
    };
    if id.is_empty() {
        problems.push(problem(
            "MIN_LENGTH",
            "String is too short (0 chars), minimum 1",
            "user_id",
        ));
    } else if id.starts_with("auth0|") {
        problems.push(problem(
            "PATTERN",
            format!(
                "user_id {id:?} starts with auth0|: the import adds that prefix itself \
                 (strip it from ids exported from Auth0, or the user becomes auth0|auth0|…)"
            ),
            "user_id",
        ));
    }
}

/// `password_hash` is a bcrypt hash.
fn check_password_hash(object: &Map<String, Value>, problems: &mut Vec<Value>) {
    if let Some(Value::String(hash)) = object.get("password_hash") {
        if !is_bcrypt(hash) {
            problems.push(problem(
                "PATTERN",
                "password_hash must be a bcrypt hash ($2a$ or $2b$)",
                "password_hash",
            ));
        }
    }
}

/// At most one of `password_hash` and `custom_password_hash`.
fn check_one_hash(object: &Map<String, Value>, problems: &mut Vec<Value>) {
    if object.contains_key("password_hash") && object.contains_key("custom_password_hash") {
        problems.push(problem(
            "CONFLICT",
            "password_hash and custom_password_hash cannot both be given",
            "custom_password_hash",
        ));
    }
}

/// `custom_password_hash`: a known algorithm, a hash value, and what
/// `custom_hash` requires of that algorithm.
fn check_custom_hash(object: &Map<String, Value>, problems: &mut Vec<Value>) {
    let Some(Value::Object(custom)) = object.get("custom_password_hash") else {
        return;
    };
    match custom.get("algorithm").and_then(Value::as_str) {
        Some(algorithm) if CUSTOM_HASH_ALGORITHMS.contains(&algorithm) => {}
        Some(algorithm) => problems.push(problem(
            "ENUM_MISMATCH",
            format!("No enum match for: {algorithm}"),
            "custom_password_hash.algorithm",
        )),
        None => problems.push(problem(
            "OBJECT_REQUIRED",
            "Missing required property: algorithm",
            "custom_password_hash.algorithm",
        )),
    }
    if custom
        .get("hash")
        .and_then(|h| h.get("value"))
        .and_then(Value::as_str)
        .is_none()
    {
        problems.push(problem(
            "OBJECT_REQUIRED",
            "Missing required property: value",
            "custom_password_hash.hash.value",
        ));
    }
    for (code, message, path) in crate::custom_hash::import_problems(custom) {
        problems.push(problem(code, message, &path));
    }
}

/// No reserved key at the top of `app_metadata`.
fn check_reserved_app_metadata(object: &Map<String, Value>, problems: &mut Vec<Value>) {
    let Some(Value::Object(metadata)) = object.get("app_metadata") else {
        return;
    };
    for key in metadata
        .keys()
        .filter(|k| RESERVED_APP_METADATA.contains(&k.as_str()))
    {
        problems.push(problem(
            "NOT_PASSED",
            format!("app_metadata must not contain the reserved key {key:?}"),
            &format!("app_metadata.{key}"),
        ));
    }
}

/// No `.` or `$` in a metadata key, at any depth.
fn check_metadata_keys(object: &Map<String, Value>, problems: &mut Vec<Value>) {
    for field in ["app_metadata", "user_metadata"] {
        if let Some(metadata) = object.get(field) {
            let mut bad = Vec::new();
            bad_keys(metadata, field, &mut bad);
            for path in bad {
                problems.push(problem(
                    "PATTERN",
                    "Metadata field names must not contain '.' or '$'",
                    &path,
                ));
            }
        }
    }
}

/// Each MFA factor one of the three kinds.
fn check_mfa_factors(object: &Map<String, Value>, problems: &mut Vec<Value>) {
    let Some(Value::Array(factors)) = object.get("mfa_factors") else {
        return;
    };
    for (i, factor) in factors.iter().enumerate() {
        let known = factor.as_object().is_some_and(|f| {
            f.len() == 1
                && ["totp", "phone", "email"]
                    .iter()
                    .any(|k| f.contains_key(*k))
        });
        if !known {
            problems.push(problem(
                "MFA_FACTORS_FAILED",
                "Each MFA factor must be one of {\"totp\": …}, {\"phone\": …}, {\"email\": …}",
                &format!("mfa_factors[{i}]"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(user: Value) -> Vec<String> {
        match validate(&user) {
            Ok(_) => Vec::new(),
            Err(problems) => problems
                .iter()
                .map(|p| p["code"].as_str().unwrap_or_default().to_owned())
                .collect(),
        }
    }

    #[test]
    fn schema_problems_are_named() {
        let hash = bcrypt::hash("pw", 4).expect("hash");
        assert!(codes(json!({"email": "a@example.com", "password_hash": hash})).is_empty());
        assert_eq!(codes(json!({"name": "x"})), ["OBJECT_REQUIRED"]);
        assert_eq!(
            codes(json!({"email": "a@example.com", "password": "x"})),
            ["OBJECT_ADDITIONAL_PROPERTIES"]
        );
        assert_eq!(codes(json!({"email": "nope"})), ["INVALID_FORMAT"]);
        assert_eq!(
            codes(json!({"email": "a@example.com", "blocked": "no"})),
            ["INVALID_TYPE"]
        );
        assert_eq!(
            codes(json!({"email": "a@example.com", "user_id": "auth0|1"})),
            ["PATTERN"]
        );
        assert_eq!(
            codes(json!({"email": "a@example.com", "password_hash": "md5:x"})),
            ["PATTERN"]
        );
        assert_eq!(
            codes(json!({"email": "a@example.com", "app_metadata": {"blocked": true, "ok": 1}})),
            ["NOT_PASSED"]
        );
        assert_eq!(
            codes(json!({"email": "a@example.com", "user_metadata": {"a": {"b.c": 1}}})),
            ["PATTERN"]
        );
        assert_eq!(
            codes(
                json!({"email": "a@example.com", "custom_password_hash": {"algorithm": "rot13", "hash": {"value": "x"}}})
            ),
            ["ENUM_MISMATCH"]
        );
        assert_eq!(codes(json!([1])), ["INVALID_TYPE"]);
    }
}
