//! The status as a page a person can look at: a self-contained HTML file
//! (inline SVG and CSS; no script, nothing fetched) with cumulative
//! migrated and remaining users over time, the daily migrations, the
//! numbers and the verdict, coloured by its [`Tone`]: green only for a
//! proven "done". The geometry is computed here; the markup is
//! `status.html.hbs`. Each day is a band of the plot's width, its bar and
//! its points at the band's middle, so no bar reaches past the plot.

use handlebars::Handlebars;
use serde_json::{json, Value};

use crate::status::{Status, Tone};

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

/// Up to five y-axis values from 0 to `top`, never one twice (a scale of
/// 1 user has two: 0 and 1).
fn y_tick_values(top: u64) -> Vec<u64> {
    let mut values: Vec<u64> = (0..=4u64)
        .map(|k| (top as f64 * k as f64 / 4.0).round() as u64)
        .collect();
    values.dedup();
    values
}

/// The plot's scales: one band a day across, users up.
struct Plot {
    step: f64,
    top_value: f64,
}

const PLOT_WIDTH: f64 = WIDTH - LEFT - RIGHT;
const PLOT_HEIGHT: f64 = HEIGHT - TOP - BOTTOM;

impl Plot {
    fn new(status: &Status) -> Plot {
        Plot {
            step: PLOT_WIDTH / status.per_day.len().max(1) as f64,
            top_value: status.users_in_realm.max(1) as f64,
        }
    }

    /// The middle of day `i`'s band.
    fn x(&self, i: usize) -> f64 {
        round(LEFT + (i as f64 + 0.5) * self.step)
    }

    fn y(&self, value: u64) -> f64 {
        round(TOP + PLOT_HEIGHT * (1.0 - value as f64 / self.top_value))
    }

    fn points(&self, values: impl Iterator<Item = u64>) -> String {
        values
            .enumerate()
            .map(|(i, value)| format!("{},{}", self.x(i), self.y(value)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Daily bars on their own scale, up to a quarter of the plot's height,
/// each inside its day's band; and the tallest bar's count.
fn bars(status: &Status, plot: &Plot) -> (Vec<Value>, u64) {
    let bar_max = status
        .per_day
        .iter()
        .map(|d| d.migrated)
        .max()
        .unwrap_or(0)
        .max(1);
    let width = round((plot.step * 0.7).clamp(0.5, 40.0));
    let bars = status
        .per_day
        .iter()
        .enumerate()
        .filter(|(_, d)| d.migrated > 0)
        .map(|(i, d)| {
            let h = round(PLOT_HEIGHT * 0.25 * d.migrated as f64 / bar_max as f64).max(1.0);
            json!({"x": round(plot.x(i) - width / 2.0), "y": round(TOP + PLOT_HEIGHT - h), "w": width, "h": h,
                   "day": d.day.to_string(), "n": d.migrated})
        })
        .collect();
    (bars, bar_max)
}

fn y_ticks(plot: &Plot) -> Vec<Value> {
    y_tick_values(plot.top_value as u64)
        .into_iter()
        .map(|value| {
            let at = plot.y(value);
            json!({"y": at, "label": value, "label_x": LEFT - 8.0, "label_y": at + 4.0})
        })
        .collect()
}

/// About eight dated ticks; the last day always, unless it would crowd the
/// tick before it; its label ends at its tick.
fn x_ticks(status: &Status, plot: &Plot) -> Vec<Value> {
    let last = status.per_day.len().saturating_sub(1);
    let label_every = status.per_day.len().div_ceil(8).max(1);
    status
        .per_day
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            // A date label is about 70 px wide: the last one, anchored at
            // its end, needs that much room after the tick before it.
            (i % label_every == 0 && plot.x(last) - plot.x(*i) >= 120.0) || *i == last
        })
        .map(|(i, d)| {
            let anchor = if i == last && i > 0 { "end" } else { "middle" };
            json!({"x": plot.x(i), "tick_end": TOP + PLOT_HEIGHT + 5.0, "label_y": TOP + PLOT_HEIGHT + 20.0,
                   "label": d.day.to_string(), "anchor": anchor})
        })
        .collect()
}

fn notes(status: &Status) -> Vec<String> {
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
    if let Some(check) = status
        .realm_check
        .as_ref()
        .filter(|_| status.users_in_realm == 0)
    {
        notes.push(format!("The realm check: {}.", check.detail));
    }
    notes
}

/// The verdict box's class (its colour): green only for a proven "done".
fn verdict_class(tone: Tone) -> &'static str {
    match tone {
        Tone::Done => "done",
        Tone::Progress => "progress",
        Tone::Unproven => "unproven",
        Tone::Stranded => "stranded",
    }
}

/// The page for `status`.
pub fn render(status: &Status) -> String {
    let plot = Plot::new(status);
    let (bars, bar_max) = bars(status, &plot);
    let data = json!({
        "realm": status.realm,
        "today": status.today.to_string(),
        "method": status.method_description,
        "verdict": status.verdict.message,
        "verdict_class": verdict_class(status.verdict.kind.tone()),
        "users": status.users_in_realm,
        "migrated": status.migrated,
        "remaining": status.remaining,
        "new_connection": status.new_connection,
        "proof": status.proof,
        "trend_days": status.verdict.trend_days,
        "rate": format!("{:.1}", status.verdict.rate_per_day),
        "width": WIDTH, "height": HEIGHT,
        "plot": {"left": LEFT, "right": WIDTH - RIGHT, "top": TOP, "bottom": TOP + PLOT_HEIGHT,
                 "width": PLOT_WIDTH, "height": PLOT_HEIGHT},
        "y_ticks": y_ticks(&plot),
        "x_ticks": x_ticks(status, &plot),
        "bars": bars,
        "bar_max": bar_max,
        "migrated_points": plot.points(status.per_day.iter().map(|d| d.cumulative)),
        "remaining_points": plot.points(status.per_day.iter().map(|d| d.remaining)),
        "legend": {"x": LEFT, "y": HEIGHT - 22.0},
        "notes": notes(status),
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
    use super::*;
    use crate::status::{compute, Day, Findings, Method, Policy};

    #[test]
    fn the_page_is_self_contained_and_plots_the_series() {
        let today = Day::of("2026-03-01").unwrap();
        let mut findings = Findings::counted("Users <&>", Method::SearchTotals, 100, 55);
        findings.per_day = [(today.minus(10), 40), (today.minus(3), 10), (today, 5)].into();
        findings.totals_may_be_capped = true;
        let policy = Policy {
            trend_days: 7,
            close_below: Some(1.0),
        };
        let status = compute(findings, today, policy);
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
        assert!(
            page.contains("class=\"verdict unproven\""),
            "capped: unknown"
        );
        // Cumulative starts at 40 of 100 (y at 60% of the plot), in the
        // middle of the first of 11 days, and ends at 55.
        let first_x = round(LEFT + PLOT_WIDTH / 11.0 / 2.0);
        let first_y = round(TOP + PLOT_HEIGHT * 0.6);
        assert!(
            page.contains(&format!("\"{first_x},{first_y} ")),
            "{first_x},{first_y}"
        );
    }
}
