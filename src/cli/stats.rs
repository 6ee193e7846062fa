//! `aigate stats` and `aigate logs`: usage, cost and latency from the proxy's records.
//!
//! Read-only over the `usage` table. Both print a table on stdout, or with `--json` one
//! typed document with `"version": 1`. Times are shown in the local time zone.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Ctx;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GroupBy {
    Provider,
    Model,
    Client,
    Day,
}

impl GroupBy {
    fn name(self) -> &'static str {
        match self {
            GroupBy::Provider => "provider",
            GroupBy::Model => "model",
            GroupBy::Client => "client",
            GroupBy::Day => "day",
        }
    }
}

#[derive(Debug, clap::Args)]
#[command(after_long_help = "Examples:
  aigate stats
  aigate stats --since 7d --by model
  aigate stats --by day --json")]
pub struct StatsArgs {
    /// Only requests newer than this: 30m, 24h, 7d, 4w
    #[arg(long, default_value = "24h")]
    pub since: String,
    /// Group rows by
    #[arg(long, value_enum, default_value = "provider")]
    pub by: GroupBy,
}

#[derive(Debug, clap::Args)]
#[command(after_long_help = "Examples:
  aigate logs
  aigate logs --limit 100 --json")]
pub struct LogsArgs {
    /// How many requests, newest first
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
}

/// One group of `aigate stats`.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub(crate) struct StatsGroup {
    pub key: String,
    pub requests: u64,
    pub errors: u64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cached_tokens: i64,
    /// `null` when no request of the group had a known price.
    pub cost_usd: Option<f64>,
    /// Median request duration.
    pub p50_ms: Option<i64>,
}

#[derive(Debug, Serialize)]
struct StatsReport {
    since: String,
    since_ms: i64,
    by: &'static str,
    groups: Vec<StatsGroup>,
    total: StatsGroup,
}

/// One request of `aigate logs`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct LogEntry {
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

#[derive(Debug, Serialize)]
struct LogsReport {
    requests: Vec<LogEntry>,
}

pub(crate) fn run_stats(ctx: &Ctx, args: &StatsArgs) -> Result<u8> {
    let window = parse_since(&args.since)?;
    let since_ms = crate::db::now_ms() - window;
    let entries = load(&ctx.db()?, Window::Since(since_ms))?;
    let (groups, total) = group(&entries, args.by);
    if ctx.json() {
        ctx.out.json(&StatsReport {
            since: args.since.clone(),
            since_ms,
            by: args.by.name(),
            groups,
            total,
        })?;
        return Ok(0);
    }
    if entries.is_empty() {
        ctx.out.info(&format!("No requests in the last {}", args.since));
        return Ok(0);
    }
    let header =
        [args.by.name().to_uppercase(), "REQUESTS".into(), "ERRORS".into(), "IN".into(), "OUT".into()];
    let header: Vec<String> =
        header.into_iter().chain(["CACHED", "COST", "P50"].map(str::to_string)).collect();
    let mut rows: Vec<Vec<String>> = groups.iter().map(stats_row).collect();
    let mut total_row = stats_row(&total);
    total_row[0] = "total".to_string();
    rows.push(total_row);
    ctx.out.data(&table(&header, &rows));
    Ok(0)
}

pub(crate) fn run_logs(ctx: &Ctx, args: &LogsArgs) -> Result<u8> {
    let entries = load(&ctx.db()?, Window::Newest(args.limit))?;
    if ctx.json() {
        ctx.out.json(&LogsReport { requests: entries })?;
        return Ok(0);
    }
    if entries.is_empty() {
        ctx.out.info("No requests recorded yet");
        return Ok(0);
    }
    let header: Vec<String> =
        ["TIME", "CLIENT", "PROVIDER", "MODEL", "STATUS", "MS", "IN", "OUT", "COST", "ERROR"]
            .map(str::to_string)
            .to_vec();
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|entry| {
            let model = match (&entry.model_requested, &entry.model_sent) {
                (Some(requested), Some(sent)) if requested != sent => format!("{requested}→{sent}"),
                (_, Some(model)) | (Some(model), None) => model.clone(),
                (None, None) => "-".to_string(),
            };
            vec![
                entry.time.clone(),
                dash(entry.client.as_deref()),
                dash(entry.provider.as_deref()),
                model,
                number(entry.status),
                number(entry.duration_ms),
                number(entry.input_tokens),
                number(entry.output_tokens),
                entry.cost_usd.map_or_else(|| "-".to_string(), money),
                dash(entry.error_class.as_deref()),
            ]
        })
        .collect();
    ctx.out.data(&table(&header, &rows));
    Ok(0)
}

/// `30m`, `24h`, `7d`, `4w` → milliseconds.
pub(crate) fn parse_since(text: &str) -> Result<i64> {
    let refuse = || {
        Error::refused(format!("Invalid --since `{text}`"))
            .hint("use a number and a unit: 30m, 24h, 7d or 4w")
    };
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(refuse)?;
    let (digits, unit) = text.split_at(split);
    let amount: i64 = digits.parse().map_err(|_| refuse())?;
    let unit_ms: i64 = match unit {
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 604_800_000,
        _ => return Err(refuse()),
    };
    amount.checked_mul(unit_ms).filter(|ms| *ms > 0).ok_or_else(refuse)
}

/// Which usage rows to load.
enum Window {
    /// Rows at or after this time (ms), oldest first: `stats`.
    Since(i64),
    /// The newest rows, newest first: `logs`.
    Newest(u32),
}

fn load(connection: &rusqlite::Connection, window: Window) -> Result<Vec<LogEntry>> {
    let columns = "ts, request_id, session_id, client, api, provider, model_requested, model_sent, status, stream,
        ttfb_ms, ttft_ms, duration_ms, input_tokens, output_tokens, cached_tokens, cost_usd, error_class, attempts";
    let (sql, bound) = match window {
        Window::Since(since) => {
            (format!("SELECT {columns} FROM usage WHERE ts >= ?1 ORDER BY ts, id"), since)
        }
        Window::Newest(limit) => {
            (format!("SELECT {columns} FROM usage ORDER BY ts DESC, id DESC LIMIT ?1"), i64::from(limit))
        }
    };
    let mut statement = connection.prepare(&sql)?;
    let entries = statement
        .query_map([bound], |row| {
            let ts_ms: i64 = row.get(0)?;
            Ok(LogEntry {
                time: local_time(ts_ms),
                ts_ms,
                request_id: row.get(1)?,
                session_id: row.get(2)?,
                client: row.get(3)?,
                api: row.get(4)?,
                provider: row.get(5)?,
                model_requested: row.get(6)?,
                model_sent: row.get(7)?,
                status: row.get(8)?,
                stream: row.get(9)?,
                ttfb_ms: row.get(10)?,
                ttft_ms: row.get(11)?,
                duration_ms: row.get(12)?,
                input_tokens: row.get(13)?,
                output_tokens: row.get(14)?,
                cached_tokens: row.get(15)?,
                cost_usd: row.get(16)?,
                error_class: row.get(17)?,
                attempts: row.get(18)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(entries)
}

/// Group entries (pure): groups sorted by key, and the total.
pub(crate) fn group(entries: &[LogEntry], by: GroupBy) -> (Vec<StatsGroup>, StatsGroup) {
    let mut groups: BTreeMap<String, (StatsGroup, Vec<i64>)> = BTreeMap::new();
    let mut total = (StatsGroup { key: "total".to_string(), ..StatsGroup::default() }, Vec::new());
    for entry in entries {
        let key = match by {
            GroupBy::Provider => dash(entry.provider.as_deref()),
            GroupBy::Model => dash(entry.model_sent.as_deref().or(entry.model_requested.as_deref())),
            GroupBy::Client => dash(entry.client.as_deref()),
            GroupBy::Day => entry.time.get(..10).unwrap_or("-").to_string(),
        };
        let slot = groups
            .entry(key.clone())
            .or_insert_with(|| (StatsGroup { key, ..StatsGroup::default() }, Vec::new()));
        add(slot, entry);
        add(&mut total, entry);
    }
    let finish = |(mut group, mut durations): (StatsGroup, Vec<i64>)| {
        durations.sort_unstable();
        group.p50_ms = (!durations.is_empty()).then(|| durations[(durations.len() - 1) / 2]);
        group
    };
    (groups.into_values().map(finish).collect(), finish(total))
}

fn add((group, durations): &mut (StatsGroup, Vec<i64>), entry: &LogEntry) {
    group.requests += 1;
    if entry.status.is_some_and(|status| status >= 400) || entry.error_class.is_some() {
        group.errors += 1;
    }
    group.input_tokens += entry.input_tokens.unwrap_or(0);
    group.output_tokens += entry.output_tokens.unwrap_or(0);
    group.cached_tokens += entry.cached_tokens.unwrap_or(0);
    if let Some(cost) = entry.cost_usd {
        group.cost_usd = Some(group.cost_usd.unwrap_or(0.0) + cost);
    }
    if let Some(duration) = entry.duration_ms {
        durations.push(duration);
    }
}

fn stats_row(group: &StatsGroup) -> Vec<String> {
    vec![
        group.key.clone(),
        group.requests.to_string(),
        group.errors.to_string(),
        group.input_tokens.to_string(),
        group.output_tokens.to_string(),
        group.cached_tokens.to_string(),
        group.cost_usd.map_or_else(|| "-".to_string(), money),
        group.p50_ms.map_or_else(|| "-".to_string(), |ms| format!("{ms}ms")),
    ]
}

fn local_time(ts_ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ts_ms).map_or_else(
        |_| ts_ms.to_string(),
        |timestamp| {
            timestamp.to_zoned(jiff::tz::TimeZone::system()).strftime("%Y-%m-%d %H:%M:%S").to_string()
        },
    )
}

fn money(value: f64) -> String {
    format!("${value:.4}")
}

fn dash(value: Option<&str>) -> String {
    value.map_or_else(|| "-".to_string(), str::to_string)
}

fn number(value: Option<i64>) -> String {
    value.map_or_else(|| "-".to_string(), |value| value.to_string())
}

/// A plain left-aligned table, two spaces between columns, no trailing spaces.
pub(crate) fn table(header: &[String], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|cell| cell.chars().count()).collect();
    for row in rows {
        for (index, cell) in row.iter().enumerate() {
            if let Some(width) = widths.get_mut(index) {
                *width = (*width).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    for row in std::iter::once(header).chain(rows.iter().map(Vec::as_slice)) {
        let mut line = String::new();
        for (index, cell) in row.iter().enumerate() {
            if index > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            let pad = widths.get(index).copied().unwrap_or(0).saturating_sub(cell.chars().count());
            line.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn since_units() {
        assert_eq!(parse_since("30m").unwrap(), 1_800_000);
        assert_eq!(parse_since("24h").unwrap(), 86_400_000);
        assert_eq!(parse_since("7d").unwrap(), 604_800_000);
        assert_eq!(parse_since("4w").unwrap(), 2_419_200_000);
        for bad in ["", "h", "24", "-1h", "3y", "0h"] {
            assert!(parse_since(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tables_align() {
        let header = vec!["A".to_string(), "BB".to_string()];
        let rows = vec![vec!["long".to_string(), "1".to_string()]];
        assert_eq!(table(&header, &rows), "A     BB\nlong  1\n");
    }
}
