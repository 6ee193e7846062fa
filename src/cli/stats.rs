//! `aigate stats` and `aigate logs`: argv → one call into [`crate::stats`] → print.
//!
//! Every query, aggregate, chart, the HTML report, the follow loop and retention live in
//! `src/stats/`; this file only turns flags into a [`Filter`] and prints what comes back.

use std::io::IsTerminal;
use std::path::PathBuf;

use serde::Serialize;

use super::Ctx;
use crate::error::{Error, Result};
use crate::stats::aggregate::{StatsGroup, Summary};
use crate::stats::retention::{self, Pruned, Retention};
use crate::stats::{Filter, GroupBy, LogEntry, follow, html, parse_time, view};

/// `provider list` prints its table with the same helper.
pub(crate) use crate::stats::view::table;

#[derive(Debug, clap::Args)]
#[command(after_long_help = "Examples:
  aigate stats
  aigate stats --since 7d --by model
  aigate stats --since 2026-11-01 --until 2026-12-01 --provider deepseek
  aigate stats --since 30d --html usage.html
  aigate stats --by day --json
  aigate stats --retention-days 90
  aigate stats --prune --dry-run

On a terminal `stats` draws bar charts (cost and tokens per day, provider and model;
requests and error rate, latency and time to first token per provider) above the table;
piped, it prints the table alone unless `--charts` is given.

Usage rows are kept 180 days unless `--retention-days` says otherwise (0 keeps them
forever). The setting is stored in the aigate db; the proxy prunes older rows once
when it starts, and `--prune` does it now.")]
pub struct StatsArgs {
    /// Only requests at or after this: a span back from now (30m, 24h, 7d, 4w), a date
    /// (2026-11-30) or a local time (2026-11-30T14:00)
    #[arg(long, default_value = "24h")]
    pub since: String,
    /// Only requests before this (same forms as --since)
    #[arg(long)]
    pub until: Option<String>,
    /// Group the table by
    #[arg(long, value_enum, default_value = "provider")]
    pub by: GroupBy,
    /// Only these clients (repeatable; default and `all`: every client)
    #[arg(long, value_enum)]
    pub client: Vec<super::ClientChoice>,
    /// Every client (the same as `--client all`, and as no `--client`)
    #[arg(long, conflicts_with = "client")]
    pub all: bool,
    /// Only these providers (repeatable)
    #[arg(long)]
    pub provider: Vec<String>,
    /// Draw the charts even when stdout is not a terminal
    #[arg(long, conflicts_with = "no_charts")]
    pub charts: bool,
    /// Print the table only
    #[arg(long)]
    pub no_charts: bool,
    /// Chart width in columns (default: the terminal's, else 80)
    #[arg(long, value_parser = clap::value_parser!(u16).range(40..))]
    pub width: Option<u16>,
    /// Write a self-contained HTML report (charts, sessions, failovers, errors) to FILE
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Keep usage rows this many days (0: forever); stored in the aigate db
    #[arg(long, value_name = "N")]
    pub retention_days: Option<u32>,
    /// Delete the usage rows past the retention now
    #[arg(long)]
    pub prune: bool,
    /// With --prune or --retention-days: say how many rows would go, change nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, clap::Args)]
#[command(after_long_help = "Examples:
  aigate logs
  aigate logs --limit 100 --json
  aigate logs --follow
  aigate logs --follow --json --provider deepseek

`--follow` prints each request as `run` sessions and `serve` record it, one line each
(time, client, provider, model, status, time to first token, tokens in/out, cost,
attempts), until Ctrl-C; with `--json`, one JSON object per line.")]
pub struct LogsArgs {
    /// How many requests, newest first
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
    /// Keep printing new requests as they are recorded, until Ctrl-C
    #[arg(short, long)]
    pub follow: bool,
    /// Only these clients (repeatable; default and `all`: every client)
    #[arg(long, value_enum)]
    pub client: Vec<super::ClientChoice>,
    /// Every client (the same as `--client all`, and as no `--client`)
    #[arg(long, conflicts_with = "client")]
    pub all: bool,
    /// Only these providers (repeatable)
    #[arg(long)]
    pub provider: Vec<String>,
}

#[derive(Debug, Serialize)]
struct StatsReport<'a> {
    since: &'a str,
    since_ms: i64,
    until: Option<&'a str>,
    until_ms: Option<i64>,
    by: &'static str,
    filter: &'a Filter,
    groups: Vec<StatsGroup>,
    total: &'a StatsGroup,
    /// Everything the charts and the HTML report show.
    summary: &'a Summary,
}

#[derive(Debug, Serialize)]
struct LogsReport {
    requests: Vec<LogEntry>,
}

#[derive(Debug, Serialize)]
struct RetentionReport {
    retention: Retention,
    /// Set with `--retention-days` (with `--dry-run`: would be).
    changed: bool,
    pruned: Option<Pruned>,
}

#[derive(Debug, Serialize)]
struct HtmlReport {
    path: String,
    requests: u64,
}

pub(crate) fn run_stats(ctx: &Ctx, args: &StatsArgs) -> Result<u8> {
    if args.retention_days.is_some() || args.prune {
        return run_retention(ctx, args);
    }
    if args.dry_run {
        return Err(Error::refused("--dry-run needs --prune or --retention-days")
            .hint("aigate stats --prune --dry-run"));
    }
    let now = crate::db::now_ms();
    let filter = Filter {
        since_ms: Some(parse_time("--since", &args.since, now)?),
        until_ms: args.until.as_deref().map(|until| parse_time("--until", until, now)).transpose()?,
        clients: client_names(&args.client, args.all),
        providers: args.provider.clone(),
    };
    let summary = crate::stats::summarize(&ctx.db()?, &filter)?;
    if let Some(path) = &args.html {
        let context =
            html::Context { window: window_text(args), filters: filter_text(&filter), generated_ms: now };
        crate::fsx::write_atomic(path, html::render(&summary, &context).as_bytes(), 0o600)?;
        if ctx.json() {
            ctx.out
                .json(&HtmlReport { path: path.display().to_string(), requests: summary.total.requests })?;
        } else {
            ctx.out.info(&format!(
                "Wrote the usage report of {} requests to `{}`",
                summary.total.requests,
                crate::output::display_path(path)
            ));
        }
        return Ok(0);
    }
    if ctx.json() {
        ctx.out.json(&StatsReport {
            since: &args.since,
            since_ms: filter.since_ms.unwrap_or(0),
            until: args.until.as_deref(),
            until_ms: filter.until_ms,
            by: args.by.name(),
            filter: &filter,
            groups: summary.groups(args.by),
            total: &summary.total,
            summary: &summary,
        })?;
        return Ok(0);
    }
    if summary.total.requests == 0 {
        ctx.out.info(&format!("No requests {}", window_text(args)));
        return Ok(0);
    }
    let terminal = std::io::stdout().is_terminal();
    let with_charts = args.charts || (terminal && !args.no_charts);
    let columns = args
        .width
        .map(usize::from)
        .or_else(|| terminal_size::terminal_size().map(|(width, _)| usize::from(width.0)))
        .unwrap_or(80);
    ctx.out.data(&view::stats_page(&summary, args.by, columns, ctx.out.color && terminal, with_charts));
    Ok(0)
}

fn run_retention(ctx: &Ctx, args: &StatsArgs) -> Result<u8> {
    let connection = ctx.db()?;
    let now = crate::db::now_ms();
    let (retention, changed) = match args.retention_days {
        Some(days) if args.dry_run => (Retention { days, default: false }, true),
        Some(days) => (retention::set_retention(&connection, days)?, true),
        None => (retention::retention(&connection)?, false),
    };
    let pruned = (args.prune || args.dry_run)
        .then(|| retention::prune(&connection, retention, now, args.dry_run))
        .transpose()?;
    if ctx.json() {
        ctx.out.json(&RetentionReport { retention, changed, pruned })?;
        return Ok(0);
    }
    if changed {
        let verb = if args.dry_run { "Would keep usage rows" } else { "Usage rows are now kept" };
        ctx.out.info(&format!("{verb} {}", retention.describe()));
    }
    if let Some(pruned) = pruned {
        let text = match (pruned.cutoff_ms, pruned.dry_run) {
            (None, _) => "Usage rows are kept forever: nothing to prune".to_string(),
            (Some(cutoff), true) => format!(
                "Would delete {} usage rows older than {}",
                pruned.rows,
                crate::stats::local_time(cutoff)
            ),
            (Some(cutoff), false) => {
                format!("Deleted {} usage rows older than {}", pruned.rows, crate::stats::local_time(cutoff))
            }
        };
        ctx.out.info(&text);
    }
    Ok(0)
}

pub(crate) fn run_logs(ctx: &Ctx, args: &LogsArgs) -> Result<u8> {
    let filter = Filter {
        clients: client_names(&args.client, args.all),
        providers: args.provider.clone(),
        ..Filter::default()
    };
    if args.follow {
        return run_follow(ctx, &filter);
    }
    let entries = crate::stats::query::newest(&ctx.db()?, &filter, args.limit)?;
    if ctx.json() {
        ctx.out.json(&LogsReport { requests: entries })?;
        return Ok(0);
    }
    if entries.is_empty() {
        ctx.out.info("No requests recorded yet");
        return Ok(0);
    }
    ctx.out.data(&view::logs_table(&entries));
    Ok(0)
}

fn run_follow(ctx: &Ctx, filter: &Filter) -> Result<u8> {
    let json = ctx.json();
    follow::follow(
        &ctx.paths.aigate_home,
        filter,
        follow::INTERVAL,
        || ctx.out.info("Following new requests (Ctrl-C to stop)"),
        |entry| {
            let line = if json {
                match serde_json::to_string(entry) {
                    Ok(line) => line,
                    Err(_) => return true,
                }
            } else {
                view::follow_line(entry)
            };
            ctx.out.data_line(&line)
        },
    )?;
    Ok(0)
}

fn window_text(args: &StatsArgs) -> String {
    let since = if args.since.starts_with(|c: char| c.is_ascii_digit()) && !args.since.contains('-') {
        format!("in the last {}", args.since)
    } else {
        format!("since {}", args.since)
    };
    match &args.until {
        Some(until) => format!("{since}, until {until}"),
        None => since,
    }
}

fn filter_text(filter: &Filter) -> Vec<String> {
    let mut out = Vec::new();
    if !filter.clients.is_empty() {
        out.push(format!("client {}", filter.clients.join(", ")));
    }
    if !filter.providers.is_empty() {
        out.push(format!("provider {}", filter.providers.join(", ")));
    }
    out
}

/// The `--client` filter as names; `all` (or none) filters nothing.
fn client_names(choices: &[super::ClientChoice], all: bool) -> Vec<String> {
    if all || choices.contains(&super::ClientChoice::All) {
        return Vec::new();
    }
    super::chosen(choices).iter().map(|client| client.name().to_string()).collect()
}
