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
//! match is already a substring match); parentheses are ignored. Ranges
//! (`field:[a TO b]`, `{a TO b}`, mixed brackets, `*` for an open end) are
//! exact, not loose: numbers compare as numbers, anything else as text, so
//! ISO 8601 timestamps compare by time (`app_metadata.trickle_migrated_at:
//! [2026-01-05 TO 2026-01-06}` is that day).

use serde_json::Value;

/// A parsed query: OR of AND-groups of (possibly negated) terms.
pub struct Filter {
    groups: Vec<Vec<(bool, Term)>>,
}

enum Term {
    All,
    Exists(String),
    Field(String, String),
    Range(String, Range),
    Anywhere(String),
}

/// `[low TO high]`; `None` is an open end (`*`).
struct Range {
    low: Option<String>,
    low_inclusive: bool,
    high: Option<String>,
    high_inclusive: bool,
}

const DEFAULT_FIELDS: &[&str] = &["email", "name", "nickname", "username", "user_id"];

/// Splits on whitespace outside double quotes; quotes are kept.
fn tokens(q: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut ranged = false;
    for c in q.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            // A range keeps its blanks: `field:[a TO b]` is one token.
            '[' | '{' if !quoted && current.ends_with(':') => {
                ranged = true;
                current.push(c);
            }
            ']' | '}' if !quoted && ranged => {
                ranged = false;
                current.push(c);
            }
            '(' | ')' if !quoted => {}
            c if c.is_whitespace() && !quoted && !ranged => {
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
            if let Some(range) = range(&token[i + 1..]) {
                return Term::Range(field, range);
            }
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

/// `[a TO b]`, `{a TO b}` or mixed; `None` when `text` is not a range.
fn range(text: &str) -> Option<Range> {
    let low_inclusive = match text.chars().next()? {
        '[' => true,
        '{' => false,
        _ => return None,
    };
    let high_inclusive = match text.chars().last()? {
        ']' => true,
        '}' => false,
        _ => return None,
    };
    let inner = text.get(1..text.len() - 1)?;
    let (low, high) = inner.split_once(" TO ")?;
    let bound = |value: &str| {
        let value = value.trim().trim_matches('"');
        (value != "*").then(|| value.to_owned())
    };
    Some(Range {
        low: bound(low),
        low_inclusive,
        high: bound(high),
        high_inclusive,
    })
}

/// Orders a stored value against a bound: as numbers when both are, as
/// times when both read as ISO 8601 dates or timestamps, else as text.
fn compare(value: &str, bound: &str) -> std::cmp::Ordering {
    if let (Ok(a), Ok(b)) = (value.parse::<f64>(), bound.parse::<f64>()) {
        return a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal);
    }
    if let (Some(a), Some(b)) = (instant(value), instant(bound)) {
        return a.cmp(&b);
    }
    value.cmp(bound)
}

/// A date (`2026-01-05`, midnight UTC) or an RFC 3339 timestamp.
fn instant(text: &str) -> Option<std::time::SystemTime> {
    if text.len() == 10 {
        return humantime::parse_rfc3339(&format!("{text}T00:00:00Z")).ok();
    }
    humantime::parse_rfc3339_weak(text.trim_end_matches('Z')).ok()
}

impl Range {
    fn contains(&self, leaf: &Value) -> bool {
        let text = match leaf {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return false,
        };
        use std::cmp::Ordering::{Equal, Greater, Less};
        let above_low = self.low.as_deref().is_none_or(|low| {
            matches!(
                (compare(&text, low), self.low_inclusive),
                (Greater, _) | (Equal, true)
            )
        });
        let below_high = self.high.as_deref().is_none_or(|high| {
            matches!(
                (compare(&text, high), self.high_inclusive),
                (Less, _) | (Equal, true)
            )
        });
        above_low && below_high
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
                    Term::Range(field, range) => {
                        let path: Vec<&str> = field.split('.').collect();
                        let mut found = Vec::new();
                        leaves(user, &path, &mut found);
                        found.iter().any(|leaf| range.contains(leaf))
                    }
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

    #[test]
    fn ranges_compare_numbers_and_times_exactly() {
        let mut u = user("a@example.com");
        u["app_metadata"]["trickle_migrated_at"] = json!("2026-01-05T23:59:59.999Z");
        let day = |q: &str| parse(q).matches(&u);
        assert!(day(
            "app_metadata.trickle_migrated_at:[2026-01-05 TO 2026-01-06}"
        ));
        assert!(!day(
            "app_metadata.trickle_migrated_at:[2026-01-06 TO 2026-01-07}"
        ));
        assert!(!day(
            "app_metadata.trickle_migrated_at:[2026-01-04 TO 2026-01-05}"
        ));
        assert!(day("app_metadata.trickle_migrated_at:[* TO 2026-01-06}"));
        assert!(day("app_metadata.trickle_migrated_at:{2026-01-05 TO *]"));
        assert!(day(
            "identities.connection:Users AND app_metadata.trickle_migrated_at:[2026-01-05 TO 2026-01-06}"
        ));
        assert!(day("app_metadata.n:[3 TO 3]") && !day("app_metadata.n:{3 TO 10]"));
        assert!(day("app_metadata.n:[2 TO 10]") && !day("app_metadata.n:[10 TO 20]"));
        assert!(!day("app_metadata.missing:[* TO *]"));
    }
}
