//! Usage you can see: everything `aigate stats` and `aigate logs` know about the `usage`
//! table the proxy writes, as data (JSON), terminal charts, a self-contained HTML report
//! and a live feed, plus the retention of those rows.
//!
//! - [`query`]: the SQL (filters, streaming, newest rows, rows after an id).
//! - [`aggregate`]: one pure pass over rows into groups, percentiles, sessions, failovers.
//! - [`chart`]: pure terminal bar charts (unicode blocks, optional colour).
//! - [`html`]: the offline HTML report (inline SVG, inline CSS and JS, strict CSP).
//! - [`follow`]: `logs --follow`, polling the db by rowid.
//! - [`retention`]: how long rows are kept, and pruning them in batches.
//!
//! Invariants: nothing here writes the usage table except [`retention`]; every string a
//! client supplied is escaped before it reaches a terminal ([`text::escape_terminal`]) or
//! the HTML ([`text::escape_html`]); nothing here reads the providers table, so no key can
//! end up in an output.

pub mod aggregate;
pub mod chart;
pub mod follow;
pub mod html;
pub mod query;
pub mod retention;
pub mod text;
pub mod view;

use serde::Serialize;

use crate::error::{Error, Result};

/// How `aigate stats` groups its table (`--by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GroupBy {
    Provider,
    Model,
    Client,
    Day,
}

impl GroupBy {
    pub fn name(self) -> &'static str {
        match self {
            GroupBy::Provider => "provider",
            GroupBy::Model => "model",
            GroupBy::Client => "client",
            GroupBy::Day => "day",
        }
    }
}

/// Which rows a command looks at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Filter {
    /// Rows at or after this time (ms since the epoch).
    pub since_ms: Option<i64>,
    /// Rows before this time (ms since the epoch).
    pub until_ms: Option<i64>,
    /// Only these clients (any of them); empty: every client.
    pub clients: Vec<String>,
    /// Only these providers (any of them); empty: every provider.
    pub providers: Vec<String>,
}

/// One request as recorded (`aigate logs`, `logs --follow`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LogEntry {
    /// The row id: `logs --follow` resumes after it.
    pub id: i64,
    pub time: String,
    pub ts_ms: i64,
    pub request_id: Option<String>,
    pub session_id: Option<String>,
    pub client: Option<String>,
    pub api: Option<String>,
    pub provider: Option<String>,
    pub model_requested: Option<String>,
    pub model_sent: Option<String>,
    pub status: Option<i64>,
    pub stream: Option<bool>,
    pub ttfb_ms: Option<i64>,
    pub ttft_ms: Option<i64>,
    pub duration_ms: Option<i64>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cached_tokens: Option<i64>,
    pub cost_usd: Option<f64>,
    pub error_class: Option<String>,
    pub attempts: Option<i64>,
}

/// Aggregate every row `filter` keeps (days cut at local midnight), parked rows settled
/// first.
pub fn summarize(connection: &rusqlite::Connection, filter: &Filter) -> Result<aggregate::Summary> {
    crate::usage_store::settle_for_reading(connection);
    let mut aggregator = aggregate::Aggregator::new(jiff::tz::TimeZone::system());
    query::for_each(connection, filter, |record| aggregator.add(record))?;
    Ok(aggregator.finish())
}

/// `--since` / `--until`: a span back from `now_ms` (`30m`, `24h`, `7d`, `4w`), a local
/// date (`2026-11-30`, its midnight), a local date and time (`2026-11-30T14:00`), or an
/// RFC 3339 instant (`2026-11-30T14:00:00Z`). Returns ms since the epoch.
pub fn parse_time(flag: &str, text: &str, now_ms: i64) -> Result<i64> {
    let text = text.trim();
    if text.starts_with(|c: char| c.is_ascii_digit()) && !text.contains('-') {
        return parse_span(text).map(|span| now_ms - span).ok_or_else(|| refuse_time(flag, text));
    }
    if let Ok(timestamp) = text.parse::<jiff::Timestamp>() {
        return Ok(timestamp.as_millisecond());
    }
    let zone = jiff::tz::TimeZone::system();
    let civil = text.parse::<jiff::civil::DateTime>().or_else(|_| {
        text.parse::<jiff::civil::Date>().map(|date| date.to_datetime(jiff::civil::Time::midnight()))
    });
    civil
        .ok()
        .and_then(|civil| civil.to_zoned(zone).ok())
        .map(|zoned| zoned.timestamp().as_millisecond())
        .ok_or_else(|| refuse_time(flag, text))
}

/// `30m`, `24h`, `7d`, `4w` → milliseconds (positive); `None` for anything else.
pub fn parse_span(text: &str) -> Option<i64> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = text.split_at(split);
    let amount: i64 = digits.parse().ok()?;
    let unit_ms: i64 = match unit {
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 604_800_000,
        _ => return None,
    };
    amount.checked_mul(unit_ms).filter(|ms| *ms > 0)
}

fn refuse_time(flag: &str, text: &str) -> Error {
    Error::refused(format!("Invalid {flag} `{text}`"))
        .hint("use a span back from now (30m, 24h, 7d, 4w), a date (2026-11-30) or a time (2026-11-30T14:00)")
}

/// `ts_ms` as local `YYYY-MM-DD HH:MM:SS`.
pub fn local_time(ts_ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ts_ms).map_or_else(
        |_| ts_ms.to_string(),
        |timestamp| {
            timestamp.to_zoned(jiff::tz::TimeZone::system()).strftime("%Y-%m-%d %H:%M:%S").to_string()
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn spans_and_dates() {
        let now = 10_000_000_000;
        assert_eq!(parse_time("--since", "30m", now).unwrap(), now - 1_800_000);
        assert_eq!(parse_time("--since", "24h", now).unwrap(), now - 86_400_000);
        assert_eq!(parse_time("--since", "7d", now).unwrap(), now - 604_800_000);
        assert_eq!(parse_time("--since", "4w", now).unwrap(), now - 2_419_200_000);
        assert_eq!(parse_time("--until", "2026-11-30T14:00:00Z", now).unwrap(), 1_796_047_200_000);
        assert!(parse_time("--since", "2026-11-30", now).is_ok());
        assert!(parse_time("--since", "2026-11-30T14:00", now).is_ok());
        for bad in ["", "h", "24", "-1h", "3y", "0h", "yesterday", "2026-13-01"] {
            assert!(parse_time("--since", bad, now).is_err(), "{bad}");
        }
    }
}
