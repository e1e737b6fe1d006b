use alloc::string::String;
use alloc::vec::Vec;

use crate::lowercase::to_lowercase;
use crate::{SourceUser, UserError};

/// The form of an email that Auth0 stores and that
/// `GET /api/v2/users-by-email` matches exactly: lower-cased (by the core's
/// one lower-casing, on every path), nothing else.
pub fn email_key(email: &str) -> String {
    to_lowercase(email)
}

/// What a login name is: an email, or a username.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Email,
    Username,
}

/// The one candidate whose email equals `email` (ignoring case) and that has
/// an identity in `realm`. Loose matches (`aa@x.com` for `a@x.com`, as a
/// Lucene search returns them) and users of other connections never count.
pub fn select_by_email<M>(
    candidates: Vec<SourceUser<M>>,
    email: &str,
    realm: &str,
) -> Result<Option<SourceUser<M>>, UserError> {
    select_by_name(candidates, email, NameKind::Email, realm)
}

/// The one candidate whose username equals `username` (ignoring case, as
/// Auth0's database connections compare them) and that has an identity in
/// `realm`; loose matches and other connections never count.
pub fn select_by_username<M>(
    candidates: Vec<SourceUser<M>>,
    username: &str,
    realm: &str,
) -> Result<Option<SourceUser<M>>, UserError> {
    select_by_name(candidates, username, NameKind::Username, realm)
}

/// The one candidate whose email or username (as `kind` says) equals
/// `name`, ignoring case (an email's key is its lower-casing), and that has
/// an identity in `realm`; two are an error, never a guess. One function
/// for both, so the WASM carries one copy.
pub fn select_by_name<M>(
    candidates: Vec<SourceUser<M>>,
    name: &str,
    kind: NameKind,
    realm: &str,
) -> Result<Option<SourceUser<M>>, UserError> {
    let wanted = to_lowercase(name);
    let mut found = None;
    for candidate in candidates {
        let own = match kind {
            NameKind::Email => candidate.email.as_deref(),
            NameKind::Username => candidate.username.as_deref(),
        };
        let same = own.is_some_and(|own| to_lowercase(own) == wanted);
        if same && candidate.identity_in(realm).is_some() {
            if found.is_some() {
                return Err(UserError::Ambiguous);
            }
            found = Some(candidate);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    const REALM: &str = "Username-Password-Authentication";

    fn candidate(id: &str, email: &str, connection: &str) -> Value {
        json!({
            "user_id": format!("auth0|{id}"),
            "email": email,
            "identities": [{"provider": "auth0", "connection": connection, "user_id": id}]
        })
    }

    fn select(candidates: Vec<Value>, email: &str) -> Result<Option<String>, UserError> {
        let candidates: Vec<SourceUser<Value>> =
            serde_json::from_value(Value::Array(candidates)).unwrap();
        select_by_email(candidates, email, REALM).map(|found| found.and_then(|user| user.user_id))
    }

    #[test]
    fn a_loose_match_is_never_taken() {
        let loose = vec![
            candidate("1", "aa@x.com", REALM),
            candidate("2", "a@x.com.evil", REALM),
        ];
        assert_eq!(select(loose, "a@x.com"), Ok(None));
        let with_exact = vec![
            candidate("1", "aa@x.com", REALM),
            candidate("2", "a@x.com", REALM),
        ];
        assert_eq!(select(with_exact, "a@x.com"), Ok(Some("auth0|2".into())));
    }

    #[test]
    fn case_does_not_matter() {
        let candidates = vec![candidate("1", "jane@example.com", REALM)];
        assert_eq!(
            select(candidates, "Jane@EXAMPLE.com"),
            Ok(Some("auth0|1".into()))
        );
        let candidates = vec![candidate("1", "ÉMILE@example.com", REALM)];
        assert_eq!(
            select(candidates, "émile@example.com"),
            Ok(Some("auth0|1".into()))
        );
    }

    #[test]
    fn only_the_source_connection_counts() {
        let candidates = vec![
            candidate("1", "a@x.com", "other-db"),
            candidate("2", "a@x.com", REALM),
        ];
        assert_eq!(select(candidates, "a@x.com"), Ok(Some("auth0|2".into())));
        let candidates = vec![candidate("1", "a@x.com", "other-db")];
        assert_eq!(select(candidates, "a@x.com"), Ok(None));
        let no_identities = vec![json!({"user_id": "auth0|1", "email": "a@x.com"})];
        assert_eq!(select(no_identities, "a@x.com"), Ok(None));
    }

    #[test]
    fn two_exact_matches_are_an_error_not_a_guess() {
        let candidates = vec![
            candidate("1", "a@x.com", REALM),
            candidate("2", "A@x.com", REALM),
        ];
        assert_eq!(select(candidates, "a@x.com"), Err(UserError::Ambiguous));
    }

    #[test]
    fn a_username_is_taken_only_exactly_and_in_the_realm() {
        let with_name = |id: &str, username: &str, connection: &str| {
            let mut user = candidate(id, &format!("{id}@x.com"), connection);
            user["username"] = json!(username);
            user
        };
        let select = |candidates: Vec<Value>, username: &str| {
            let candidates: Vec<SourceUser<Value>> =
                serde_json::from_value(Value::Array(candidates)).unwrap();
            select_by_username(candidates, username, REALM)
                .map(|found| found.and_then(|user| user.user_id))
        };
        // A loose search's answer: the exact one is picked, whatever its case.
        let loose = vec![
            with_name("1", "multi.factor.two", REALM),
            with_name("2", "Multi.Factor", REALM),
            with_name("3", "multi.factor", "other-db"),
            candidate("4", "multi.factor@x.com", REALM),
        ];
        assert_eq!(select(loose, "multi.FACTOR"), Ok(Some("auth0|2".into())));
        assert_eq!(select(vec![with_name("1", "ann2", REALM)], "ann"), Ok(None));
        let twins = vec![with_name("1", "ann", REALM), with_name("2", "ANN", REALM)];
        assert_eq!(select(twins, "ann"), Err(UserError::Ambiguous));
    }

    #[test]
    fn no_candidates_is_not_found() {
        assert_eq!(select(vec![], "a@x.com"), Ok(None));
        let no_email = vec![
            json!({"user_id": "auth0|1", "identities": [{"connection": REALM, "user_id": "1"}]}),
        ];
        assert_eq!(select(no_email, "a@x.com"), Ok(None));
    }
}
