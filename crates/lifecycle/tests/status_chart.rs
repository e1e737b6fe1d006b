//! The status page as a person reads it: y-axis labels never repeat, every
//! bar stays inside the plot, and the verdict box is green only for a
//! proven "done" (amber when unknown or unproven, red when stranded).

// Test code may hold long tables (`scripts/test.sh` holds non-test code to 80 lines).
#![allow(clippy::too_many_lines)]

use trickle_lifecycle::chart;
use trickle_lifecycle::status::{
    compute, Day, ExportRead, Findings, Method, NewConnection, Policy, Proof, Status, VerdictKind,
};

fn today() -> Day {
    Day::of("2026-03-01").unwrap()
}

fn findings(users: u64, migrated: u64, per_day: &[(u64, u64)]) -> Findings {
    let mut findings = Findings::counted("R", Method::SearchTotals, users, migrated);
    findings.per_day = per_day
        .iter()
        .map(|(back, n)| (today().minus(*back), *n))
        .collect();
    findings
}

fn status(findings: Findings) -> Status {
    let policy = Policy {
        trend_days: 7,
        close_below: Some(5.0),
    };
    compute(findings, today(), policy)
}

fn counted(users: u64, migrated: u64, per_day: &[(u64, u64)]) -> Status {
    status(findings(users, migrated, per_day))
}

/// Checked by id against the new tenant: `missing` users absent, all marked.
fn proven(users: u64, missing: u64) -> Status {
    let mut f = findings(users, users, &[(20, users)]);
    f.method = Method::Export;
    f.export = Some(ExportRead {
        records: users,
        ..ExportRead::default()
    });
    f.new_connection = Some(NewConnection {
        connection: "New".to_owned(),
        users: users - missing,
        method: Method::Export,
    });
    f.proof = Some(Proof {
        checked: users,
        found: users - missing,
        missing,
        missing_marked: missing,
        new_users_in_connection: users - missing,
        new_export: ExportRead {
            records: users - missing,
            ..ExportRead::default()
        },
    });
    status(f)
}

/// The numbers of `name="…"` attributes in an SVG/HTML tag.
fn attr(tag: &str, name: &str) -> f64 {
    let start = tag.find(&format!(" {name}=\"")).expect(name) + name.len() + 3;
    let end = start + tag[start..].find('"').unwrap();
    tag[start..end].parse().unwrap()
}

/// Every `<rect …>` tag of the page.
fn rects(page: &str) -> Vec<&str> {
    page.match_indices("<rect ")
        .map(|(at, _)| &page[at..at + page[at..].find('>').unwrap()])
        .collect()
}

/// The y-axis labels (right-aligned, left of the plot), top to bottom.
fn y_labels(page: &str) -> Vec<String> {
    let plot_left = attr(rects(page)[0], "x");
    page.match_indices("<text ")
        .map(|(at, _)| &page[at..at + page[at..].find("</text>").unwrap()])
        .filter(|tag| tag.contains("text-anchor=\"end\"") && attr(tag, "x") < plot_left)
        .map(|tag| tag[tag.find('>').unwrap() + 1..].to_owned())
        .collect()
}

#[test]
fn y_axis_labels_never_repeat_even_with_no_users() {
    for users in [0, 1, 2, 3, 5, 1_000] {
        let page = chart::render(&counted(users, 0, &[]));
        let labels = y_labels(&page);
        let mut distinct = labels.clone();
        distinct.dedup();
        assert!(labels.len() >= 2, "{users} users: {labels:?}");
        assert_eq!(labels, distinct, "{users} users: labels repeat");
    }
}

#[test]
fn the_first_and_last_days_bars_stay_inside_the_plot() {
    for days in [2, 13, 40] {
        let status = counted(1_000, 300, &[(days, 200), (1, 50), (0, 50)]);
        let page = chart::render(&status);
        let all = rects(&page);
        let plot = all[0];
        let (left, right) = (attr(plot, "x"), attr(plot, "x") + attr(plot, "width"));
        let bars: Vec<&&str> = all
            .iter()
            .filter(|r| r.contains("#9ab7e8") && !r.contains("width=\"14\""))
            .collect();
        assert_eq!(bars.len(), 3, "{days}: one bar a day with migrations");
        for bar in bars {
            let (x, w) = (attr(bar, "x"), attr(bar, "width"));
            assert!(
                x >= left && x + w <= right,
                "{days}: {bar} outside [{left}, {right}]"
            );
        }
    }
}

/// The CSS rule that styles the verdict box.
fn verdict_style(page: &str) -> String {
    let at = page.find("<div class=\"verdict ").expect("a verdict box") + 20;
    let class = &page[at..at + page[at..].find('"').unwrap()];
    page.lines()
        .filter(|line| line.trim_start().starts_with('.') && line.contains(&format!(".{class}")))
        .collect::<Vec<_>>()
        .join(" ")
}

const GREEN: &str = "#1e8e3e";
const AMBER: &str = "#f9ab00";
const RED: &str = "#d93025";

#[test]
fn only_done_is_green() {
    let done = proven(100, 0);
    assert_eq!(done.verdict.kind, VerdictKind::Done);
    assert!(verdict_style(&chart::render(&done)).contains(GREEN));
    let ready = counted(1000, 300, &[(20, 290), (6, 7), (0, 3)]);
    let open = counted(1000, 300, &[(20, 100), (5, 100), (1, 100)]);
    let marked = counted(100, 100, &[(20, 100)]);
    let empty = counted(0, 0, &[]);
    let stranded = proven(100, 7);
    let expected = [
        (ready, VerdictKind::ReadyToClose, None),
        (open, VerdictKind::KeepOpen, None),
        (marked, VerdictKind::Marked, Some(AMBER)),
        (empty, VerdictKind::Unknown, Some(AMBER)),
        (stranded, VerdictKind::Stranded, Some(RED)),
    ];
    for (status, kind, colour) in expected {
        assert_eq!(status.verdict.kind, kind);
        let style = verdict_style(&chart::render(&status));
        assert!(!style.contains(GREEN), "{kind:?}: {style}");
        if let Some(colour) = colour {
            assert!(style.contains(colour), "{kind:?}: {style}");
        }
    }
}
