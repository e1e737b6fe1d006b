//! Counting by search totals: one `GET /api/v2/users?include_totals=true`
//! per number (its `total`, one result fetched), so a tenant far too big to
//! page through (searches stop at 1,000 results) is counted all the same.
//! A total of exactly 1,000 may be that cap: it is flagged.

use std::collections::BTreeMap;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::Method as HttpMethod;
use serde_json::Value;
use trickle_core::MARKER_KEY;

use super::{Day, Progress};
use crate::tenant::{Tenant, TenantError};

/// Where a search total may stop.
pub(super) const SEARCH_CAP: u64 = 1000;

/// RFC 3986's unreserved characters stay as they are.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

pub(super) fn urlencode(text: &str) -> String {
    utf8_percent_encode(text, QUERY_VALUE).to_string()
}

fn lucene_quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The search query for the users of `connection`.
pub(super) fn in_connection(connection: &str) -> String {
    format!("identities.connection:{}", lucene_quote(connection))
}

/// The `total` of a search (one result fetched).
pub(super) async fn total(tenant: &Tenant, token: &str, q: &str) -> Result<u64, TenantError> {
    let path = format!(
        "/api/v2/users?q={}&search_engine=v3&include_totals=true&page=0&per_page=1&fields=user_id",
        urlencode(q)
    );
    let answer = tenant.management(HttpMethod::GET, &path, token, None).await;
    let total = answer
        .json()
        .and_then(|b| b.get("total").and_then(Value::as_u64));
    match (answer.status, total) {
        (200, Some(total)) => Ok(total),
        _ => Err(tenant.refusal("a user search", &answer)),
    }
}

/// The realm's users, the marked ones, and the marked per day.
pub(super) struct SearchCounts {
    pub users: u64,
    pub migrated: u64,
    pub per_day: BTreeMap<Day, u64>,
    /// Some total was exactly [`SEARCH_CAP`].
    pub capped: bool,
}

/// Counts the realm by search totals, walking back from `today` one day a
/// request until every marker dated up to today is placed (or `max_days`).
pub(super) async fn count(
    old: &Tenant,
    token: &str,
    realm: &str,
    today: Day,
    max_days: u64,
    step: Progress<'_>,
) -> Result<SearchCounts, TenantError> {
    step("counting the realm's users (search totals)");
    let in_realm = in_connection(realm);
    let marked = format!("{in_realm} AND _exists_:app_metadata.{MARKER_KEY}");
    let users = total(old, token, &in_realm).await?;
    let migrated = total(old, token, &marked).await?;
    // Markers dated up to today: the walk back stops once all are found (a
    // marker in the future, or not a date, never makes it walk to max_days).
    let dated_q = format!(
        "{in_realm} AND app_metadata.{MARKER_KEY}:[* TO {}}}",
        today.next()
    );
    let due = total(old, token, &dated_q).await?;
    let mut per_day = BTreeMap::new();
    let mut capped = users == SEARCH_CAP || migrated == SEARCH_CAP;
    let (mut dated, mut day, mut looked) = (0, today, 0);
    while dated < due && looked < max_days {
        step(&format!(
            "migrations on {day} ({dated} of {migrated} dated so far)"
        ));
        let q = format!(
            "{in_realm} AND app_metadata.{MARKER_KEY}:[{day} TO {}}}",
            day.next()
        );
        let n = total(old, token, &q).await?;
        capped |= n == SEARCH_CAP;
        if n > 0 {
            per_day.insert(day, n);
        }
        dated += n;
        looked += 1;
        day = day.minus(1);
    }
    Ok(SearchCounts {
        users,
        migrated,
        per_day,
        capped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_quoted_and_encoded() {
        assert_eq!(
            in_connection("a \"b\\"),
            "identities.connection:\"a \\\"b\\\\\""
        );
        assert_eq!(urlencode("a-b_c.d~e f:\"g\""), "a-b_c.d~e%20f%3A%22g%22");
        assert_eq!(urlencode("job_1|é"), "job_1%7C%C3%A9");
    }
}
