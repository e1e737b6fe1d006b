//! A DELIBERATELY LOOSE imitation of the v3 user search (Lucene syntax).
//!
//! This is on purpose, not a bug to fix: every `field:value` term matches
//! when the field CONTAINS the value, case-insensitively, so
//! `email:"a@example.com"` also finds `aa@example.com`. That reproduces the
//! pitfall of looking users up by email through search instead of
//! `users-by-email` (which is exact): code that trusts the search result
//! without an exact comparison migrates the wrong user, and the emulator
//! must let tests show it.
//!
//! Understood: `field:value`, `field:"quoted value"`, bare values (searched
//! in email, name, nickname, username and user_id), `*` / `*:*` (all),
//! `_exists_:field`, `AND` / `&&` (also the default between terms),
//! `OR` / `||`, `NOT` / `-term`, and dotted paths (`app_metadata.plan`,
//! `identities.connection`). Wildcards inside a value are ignored (the
//! match is already a substring match); parentheses are ignored; ranges are
//! not understood (they match as text).

use serde_json::Value;

/// A parsed query: OR of AND-groups of (possibly negated) terms.
pub struct Filter {
    groups: Vec<Vec<(bool, Term)>>,
}

enum Term {
    All,
    Exists(String),
    Field(String, String),
    Anywhere(String),
}

const DEFAULT_FIELDS: &[&str] = &["email", "name", "nickname", "username", "user_id"];

/// Splits on whitespace outside double quotes; quotes are kept.
fn tokens(q: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in q.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            '(' | ')' if !quoted => {}
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn unquote(value: &str) -> String {
    value.replace(['"', '*', '\\'], "")
}

fn term(token: &str) -> Term {
    if token == "*" || token == "*:*" {
        return Term::All;
    }
    // A colon inside quotes belongs to the value.
    let split = token
        .char_indices()
        .scan(false, |quoted, (i, c)| {
            if c == '"' {
                *quoted = !*quoted;
            }
            Some((i, c, *quoted))
        })
        .find(|&(_, c, quoted)| c == ':' && !quoted)
        .map(|(i, _, _)| i);
    match split {
        Some(i) => {
            let field = token[..i].to_owned();
            let value = unquote(&token[i + 1..]);
            if field == "_exists_" {
                Term::Exists(value)
            } else {
                Term::Field(field, value)
            }
        }
        None => Term::Anywhere(unquote(token)),
    }
}

pub fn parse(q: &str) -> Filter {
    let mut groups = vec![Vec::new()];
    let mut negate = false;
    for token in tokens(q) {
        match token.as_str() {
            "AND" | "&&" => {}
            "OR" | "||" => groups.push(Vec::new()),
            "NOT" | "!" => negate = !negate,
            _ => {
                let (negated, body) = match token.strip_prefix('-') {
                    Some(rest) if !rest.is_empty() => (!negate, rest),
                    _ => (negate, token.strip_prefix('+').unwrap_or(&token)),
                };
                groups
                    .last_mut()
                    .expect("at least one group")
                    .push((negated, term(body)));
                negate = false;
            }
        }
    }
    groups.retain(|g| !g.is_empty());
    Filter { groups }
}

/// Every leaf under a dotted path, arrays flattened.
fn leaves<'a>(value: &'a Value, path: &[&str], out: &mut Vec<&'a Value>) {
    match value {
        Value::Array(items) => {
            for item in items {
                leaves(item, path, out);
            }
        }
        _ => match path.split_first() {
            None => out.push(value),
            Some((first, rest)) => {
                if let Some(child) = value.get(*first) {
                    leaves(child, rest, out);
                }
            }
        },
    }
}

fn contains(leaf: &Value, needle: &str) -> bool {
    let text = match leaf {
        Value::String(s) => s.to_lowercase(),
        other => other.to_string().to_lowercase(),
    };
    text.contains(needle)
}

fn field_matches(user: &Value, field: &str, needle: &str) -> bool {
    let path: Vec<&str> = field.split('.').collect();
    let mut found = Vec::new();
    leaves(user, &path, &mut found);
    let needle = needle.to_lowercase();
    found.iter().any(|leaf| contains(leaf, &needle))
}

impl Filter {
    /// No terms (an empty `q`) matches every user.
    pub fn matches(&self, user: &Value) -> bool {
        if self.groups.is_empty() {
            return true;
        }
        self.groups.iter().any(|group| {
            group.iter().all(|(negated, term)| {
                let hit = match term {
                    Term::All => true,
                    Term::Exists(field) => {
                        let path: Vec<&str> = field.split('.').collect();
                        let mut found = Vec::new();
                        leaves(user, &path, &mut found);
                        found.iter().any(|v| !v.is_null())
                    }
                    Term::Field(field, value) => field_matches(user, field, value),
                    Term::Anywhere(value) => DEFAULT_FIELDS
                        .iter()
                        .any(|field| field_matches(user, field, value)),
                };
                hit != *negated
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user(email: &str) -> Value {
        json!({
            "user_id": "auth0|1",
            "email": email,
            "name": "Jane Doe",
            "identities": [{"connection": "Users", "user_id": "1"}],
            "app_metadata": {"plan": "gold", "n": 3},
        })
    }

    #[test]
    fn email_terms_match_loosely_on_purpose() {
        let a = user("a@example.com");
        let aa = user("aa@example.com");
        for q in [
            "email:\"a@example.com\"",
            "email:a@example.com",
            "email:A@EXAMPLE.COM",
        ] {
            let filter = parse(q);
            assert!(filter.matches(&a), "{q}");
            assert!(
                filter.matches(&aa),
                "{q} should also match aa@ (the pitfall)"
            );
        }
        assert!(!parse("email:\"b@example.com\"").matches(&a));
    }

    #[test]
    fn operators_paths_and_existence() {
        let u = user("a@example.com");
        assert!(parse("").matches(&u));
        assert!(parse("*:*").matches(&u));
        assert!(parse("app_metadata.plan:gold AND identities.connection:Users").matches(&u));
        assert!(!parse("app_metadata.plan:silver AND name:jane").matches(&u));
        assert!(parse("app_metadata.plan:silver OR name:jane").matches(&u));
        assert!(!parse("NOT name:jane").matches(&u));
        assert!(!parse("-name:jane").matches(&u));
        assert!(parse("_exists_:app_metadata.plan").matches(&u));
        assert!(!parse("_exists_:app_metadata.missing").matches(&u));
        assert!(parse("jane").matches(&u));
        assert!(parse("name:\"jane doe\"").matches(&u));
        assert!(parse("(email:a*)").matches(&u));
    }
}
