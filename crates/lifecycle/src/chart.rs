//! The status as a page a person can look at: a self-contained HTML file
//! (inline SVG and CSS; no script, nothing fetched) with cumulative
//! migrated and remaining users over time, the daily migrations, the
//! numbers and the verdict. The geometry is computed here; the markup is
//! `status.html.hbs`.

use handlebars::Handlebars;
use serde_json::json;

use crate::status::{Status, VerdictKind};

const TEMPLATE: &str = include_str!("status.html.hbs");
const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 440.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 20.0;
const BOTTOM: f64 = 80.0;

fn round(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

/// The page for `status`.
pub fn render(status: &Status) -> String {
    let plot_width = WIDTH - LEFT - RIGHT;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let days = status.per_day.len().max(2);
    let step = plot_width / (days - 1) as f64;
    let x = |i: usize| round(LEFT + i as f64 * step);
    let top_value = status.users_in_realm.max(1) as f64;
    let y = |value: u64| round(TOP + plot_height * (1.0 - value as f64 / top_value));
    let points = |pick: &dyn Fn(usize) -> u64| {
        (0..status.per_day.len())
            .map(|i| format!("{},{}", x(i), y(pick(i))))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let migrated_points = points(&|i| status.per_day[i].cumulative);
    let remaining_points = points(&|i| status.per_day[i].remaining);
    // Daily bars on their own scale, up to a quarter of the plot's height.
    let bar_max = status
        .per_day
        .iter()
        .map(|d| d.migrated)
        .max()
        .unwrap_or(0)
        .max(1);
    let bar_width = round((step * 0.7).clamp(1.0, 40.0));
    let bars: Vec<_> = status
        .per_day
        .iter()
        .enumerate()
        .filter(|(_, d)| d.migrated > 0)
        .map(|(i, d)| {
            let h = round(plot_height * 0.25 * d.migrated as f64 / bar_max as f64).max(1.0);
            json!({"x": round(x(i) - bar_width / 2.0), "y": round(TOP + plot_height - h), "w": bar_width, "h": h,
                   "day": d.day.to_string(), "n": d.migrated})
        })
        .collect();
    let y_ticks: Vec<_> = (0..=4)
        .map(|k| {
            let value = (top_value * k as f64 / 4.0).round() as u64;
            let at = y(value);
            json!({"y": at, "label": value, "label_x": LEFT - 8.0, "label_y": at + 4.0})
        })
        .collect();
    // About eight dated ticks; the last day always, unless it would crowd
    // the tick before it; its label ends at the plot's edge.
    let last = status.per_day.len().saturating_sub(1);
    let label_every = status.per_day.len().div_ceil(8).max(1);
    let x_ticks: Vec<_> = status
        .per_day
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            // A date label is about 70 px wide: the last one, anchored at
            // its end, needs that much room after the tick before it.
            (i % label_every == 0 && x(last) - x(*i) >= 120.0) || *i == last
        })
        .map(|(i, d)| {
            let anchor = if i == last && i > 0 { "end" } else { "middle" };
            json!({"x": x(i), "tick_end": TOP + plot_height + 5.0, "label_y": TOP + plot_height + 20.0,
                   "label": d.day.to_string(), "anchor": anchor})
        })
        .collect();
    let mut notes = Vec::new();
    if status.undated > 0 {
        notes.push(format!(
            "{} migrated users have a marker that is not a date within the days counted; they are counted from the first day on.",
            status.undated
        ));
    }
    if status.totals_may_be_capped {
        notes.push("A search total was exactly 1,000: it may be capped there. Run trickle status --exact for exact numbers.".to_owned());
    }
    let verdict_class = match status.verdict.kind {
        VerdictKind::ReadyToClose => "ready",
        VerdictKind::Done => "done",
        _ => "open",
    };
    let data = json!({
        "realm": status.realm,
        "today": status.today.to_string(),
        "method": status.method_description,
        "verdict": status.verdict.message,
        "verdict_class": verdict_class,
        "users": status.users_in_realm,
        "migrated": status.migrated,
        "remaining": status.remaining,
        "new_connection": status.new_connection,
        "trend_days": status.verdict.trend_days,
        "rate": format!("{:.1}", status.verdict.rate_per_day),
        "width": WIDTH, "height": HEIGHT,
        "plot": {"left": LEFT, "right": WIDTH - RIGHT, "top": TOP, "bottom": TOP + plot_height,
                 "width": plot_width, "height": plot_height},
        "y_ticks": y_ticks,
        "x_ticks": x_ticks,
        "bars": bars,
        "bar_max": bar_max,
        "migrated_points": migrated_points,
        "remaining_points": remaining_points,
        "legend": {"x": LEFT, "y": HEIGHT - 22.0},
        "notes": notes,
        "version": env!("CARGO_PKG_VERSION"),
    });
    let mut handlebars = Handlebars::new();
    handlebars.set_strict_mode(false);
    handlebars
        .render_template(TEMPLATE, &data)
        .expect("the status template renders")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::status::{compute, Day, Method, Policy};

    #[test]
    fn the_page_is_self_contained_and_plots_the_series() {
        let today = Day::of("2026-03-01").unwrap();
        let counts: BTreeMap<Day, u64> =
            [(today.minus(10), 40), (today.minus(3), 10), (today, 5)].into();
        let mut status = compute(
            "Users <&>",
            Method::SearchTotals,
            100,
            55,
            &counts,
            today,
            Policy {
                trend_days: 7,
                close_below: Some(1.0),
            },
            false,
        );
        status.totals_may_be_capped = true;
        let page = render(&status);
        assert!(page.starts_with("<!DOCTYPE html>"));
        for forbidden in ["<script", "http://", "https://", "src=", "@import"] {
            let allowed = forbidden == "http://"
                && page.matches("http://").count()
                    == page.matches("http://www.w3.org/2000/svg").count();
            assert!(
                !page.contains(forbidden) || allowed,
                "{forbidden} in the page"
            );
        }
        assert!(page.contains("Users &lt;&amp;&gt;"), "names are escaped");
        assert_eq!(page.matches("<polyline").count(), 2);
        assert_eq!(
            page.matches("migrated</title>").count(),
            3,
            "one bar a day with migrations"
        );
        assert!(page.contains("2026-02-19") && page.contains("2026-03-01"));
        assert!(page.contains("may be capped"));
        // Cumulative starts at 40 of 100 (y at 60% of the plot) and ends at 55.
        let plot_height = HEIGHT - TOP - BOTTOM;
        let first_y = round(TOP + plot_height * 0.6);
        assert!(page.contains(&format!("{LEFT},{first_y}")), "{first_y}");
    }
}
