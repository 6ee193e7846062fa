//! What the terminal shows: the charts built from a [`Summary`], the `--by` table, the
//! `aigate logs` table and the one-line-per-request format of `logs --follow`.
//!
//! Pure: data in, text out. Client-supplied strings are escaped here, once, at the edge.

use super::GroupBy;
use super::LogEntry;
use super::aggregate::{StatsGroup, Summary};
use super::chart::{self, Cell, Chart, ChartRow, Column, Second, Tone};
use super::text::{compact, escape_terminal, millis, money, pad_left, pad_right, percent, width};

/// How many rows a terminal chart shows at most (the rest is summed up in its note).
const TERMINAL_DAYS: usize = 31;
const TERMINAL_MODELS: usize = 10;

/// The charts of `aigate stats`: the terminal shows at most `days` days and `models`
/// models (`None`: all, for the HTML report).
pub fn charts(summary: &Summary, days: Option<usize>, models: Option<usize>) -> Vec<Chart> {
    let mut charts = vec![
        day_chart(summary, days),
        cost_tokens(
            "by-provider",
            "Cost and tokens per provider",
            &provider_groups(summary),
            None,
            "providers",
        ),
        cost_tokens("by-model", "Cost and tokens per model", &by_cost(&summary.models), models, "models"),
        requests_chart(summary),
        latency_chart(summary),
    ];
    if !summary.error_classes.is_empty() {
        charts.push(error_chart(summary));
    }
    if summary.failover_count > 0 {
        charts.push(failover_chart(summary));
    }
    charts
}

/// The whole `aigate stats` page for a terminal: charts (when asked), then the table.
pub fn stats_page(summary: &Summary, by: GroupBy, columns: usize, color: bool, with_charts: bool) -> String {
    let mut out = String::new();
    if with_charts {
        for chart in charts(summary, Some(TERMINAL_DAYS), Some(TERMINAL_MODELS)) {
            out.push_str(&chart::render(&chart, columns, color));
            out.push('\n');
        }
    }
    out.push_str(&stats_table(summary, by));
    out
}

/// The `--by` table with a total row last.
pub fn stats_table(summary: &Summary, by: GroupBy) -> String {
    let header: Vec<String> =
        [by.name().to_uppercase().as_str(), "REQUESTS", "ERRORS", "IN", "OUT", "CACHED", "COST", "P50"]
            .map(str::to_string)
            .to_vec();
    let mut rows: Vec<Vec<String>> = summary.groups(by).iter().map(stats_row).collect();
    rows.push(stats_row(&summary.total));
    table(&header, &rows)
}

/// The `aigate logs` table, rows as given (newest first).
pub fn logs_table(entries: &[LogEntry]) -> String {
    let header: Vec<String> =
        ["TIME", "CLIENT", "PROVIDER", "MODEL", "STATUS", "MS", "IN", "OUT", "COST", "ERROR"]
            .map(str::to_string)
            .to_vec();
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|entry| {
            vec![
                entry.time.clone(),
                dash(entry.client.as_deref()),
                dash(entry.provider.as_deref()),
                model(entry),
                number(entry.status),
                number(entry.duration_ms),
                number(entry.input_tokens),
                number(entry.output_tokens),
                entry.cost_usd.map_or_else(|| "-".to_string(), money),
                dash(entry.error_class.as_deref()),
            ]
        })
        .collect();
    table(&header, &rows)
}

/// One request on one line for `logs --follow`: time, client, provider, model, status,
/// time to first token, tokens in/out, cost, attempts (and the error class if any).
pub fn follow_line(entry: &LogEntry) -> String {
    let fields = [
        (entry.time.clone(), 19, false),
        (dash(entry.client.as_deref()), 8, false),
        (dash(entry.provider.as_deref()), 12, false),
        (model(entry), 28, false),
        (number(entry.status), 3, true),
        (entry.ttft_ms.map_or_else(|| "-".to_string(), |ms| format!("ttft {}", millis(ms))), 11, true),
        (
            format!(
                "{}/{} tok",
                entry.input_tokens.map_or_else(|| "-".to_string(), |value| compact(value as f64)),
                entry.output_tokens.map_or_else(|| "-".to_string(), |value| compact(value as f64))
            ),
            14,
            true,
        ),
        (entry.cost_usd.map_or_else(|| "-".to_string(), money), 8, true),
        (
            match entry.attempts {
                Some(1) | None => "1 attempt".to_string(),
                Some(attempts) => format!("{attempts} attempts"),
            },
            10,
            false,
        ),
    ];
    let mut line = String::new();
    for (index, (text, columns, right)) in fields.iter().enumerate() {
        if index > 0 {
            line.push_str("  ");
        }
        line.push_str(&if *right { pad_left(text, *columns) } else { pad_right(text, *columns) });
    }
    if let Some(class) = &entry.error_class {
        line.push_str("  ");
        line.push_str(&escape_terminal(class));
    }
    line.trim_end().to_string()
}

/// A plain left-aligned table, two spaces between columns, no trailing spaces; every cell
/// is escaped for the terminal.
pub fn table(header: &[String], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> =
        rows.iter().map(|row| row.iter().map(|cell| escape_terminal(cell).into_owned()).collect()).collect();
    let mut widths: Vec<usize> = header.iter().map(|cell| width(cell)).collect();
    for row in &rows {
        for (index, cell) in row.iter().enumerate() {
            if let Some(column) = widths.get_mut(index) {
                *column = (*column).max(width(cell));
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
            line.push_str(&pad_right(cell, widths.get(index).copied().unwrap_or(0)));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn day_chart(summary: &Summary, days: Option<usize>) -> Chart {
    let filled = fill_days(&summary.days);
    let shown = days.map_or(filled.len(), |limit| limit.min(filled.len()));
    let hidden = filled.len() - shown;
    let mut chart = cost_tokens("by-day", "Cost and tokens per day", &filled[hidden..], None, "days");
    if hidden > 0 {
        chart.note = Some(format!("({hidden} earlier days not shown; see --html or --json)"));
    }
    chart
}

fn cost_tokens(
    id: &'static str,
    title: &str,
    groups: &[StatsGroup],
    limit: Option<usize>,
    noun: &str,
) -> Chart {
    let shown = limit.map_or(groups.len(), |limit| limit.min(groups.len()));
    let rows = groups[..shown]
        .iter()
        .map(|group| {
            let tokens = (group.input_tokens + group.output_tokens) as f64;
            ChartRow {
                label: group.key.clone(),
                cells: vec![
                    Cell::new(
                        group.cost_usd.unwrap_or(0.0),
                        group.cost_usd.map_or_else(|| "-".to_string(), money),
                    ),
                    Cell::new(tokens, compact(tokens)),
                ],
            }
        })
        .collect();
    Chart {
        id,
        title: title.to_string(),
        columns: vec![
            Column { heading: "cost".into(), tone: Tone::Cost, second: None },
            Column { heading: "tokens (in + out)".into(), tone: Tone::Tokens, second: None },
        ],
        rows,
        note: (shown < groups.len()).then(|| format!("({} more {noun} not shown)", groups.len() - shown)),
    }
}

fn requests_chart(summary: &Summary) -> Chart {
    let mut providers: Vec<_> = summary.providers.iter().collect();
    providers.sort_by(|left, right| right.requests.cmp(&left.requests).then(left.key.cmp(&right.key)));
    let rows = providers
        .iter()
        .map(|provider| ChartRow {
            label: provider.key.clone(),
            cells: vec![Cell::split(
                (provider.requests - provider.errors) as f64,
                provider.errors as f64,
                format!("{} req  {} err", provider.requests, percent(provider.errors, provider.requests)),
            )],
        })
        .collect();
    Chart {
        id: "requests",
        title: "Requests and error rate per provider".into(),
        columns: vec![Column {
            heading: "requests".into(),
            tone: Tone::Requests,
            second: Some(Second::Errors),
        }],
        rows,
        note: None,
    }
}

fn latency_chart(summary: &Summary) -> Chart {
    let spread = |p50: Option<i64>, p95: Option<i64>| match (p50, p95) {
        (Some(p50), Some(p95)) => {
            Cell::split(p50 as f64, (p95 - p50).max(0) as f64, format!("{} / {}", millis(p50), millis(p95)))
        }
        (Some(_) | None, _) => Cell::new(0.0, "-"),
    };
    let rows = summary
        .providers
        .iter()
        .map(|provider| ChartRow {
            label: provider.key.clone(),
            cells: vec![
                spread(provider.p50_ms, provider.p95_ms),
                spread(provider.ttft_p50_ms, provider.ttft_p95_ms),
            ],
        })
        .collect();
    Chart {
        id: "latency",
        title: "Latency per provider".into(),
        columns: vec![
            Column { heading: "duration".into(), tone: Tone::Latency, second: Some(Second::Spread) },
            Column { heading: "first token".into(), tone: Tone::Latency, second: Some(Second::Spread) },
        ],
        rows,
        note: None,
    }
}

fn error_chart(summary: &Summary) -> Chart {
    let rows = summary
        .error_classes
        .iter()
        .map(|class| ChartRow {
            label: class.class.clone(),
            cells: vec![Cell::new(class.requests as f64, class.requests.to_string())],
        })
        .collect();
    Chart {
        id: "errors",
        title: "Error classes".into(),
        columns: vec![Column { heading: "requests".into(), tone: Tone::Requests, second: None }],
        rows,
        note: None,
    }
}

fn failover_chart(summary: &Summary) -> Chart {
    // Per provider that took over (or failed last): served after a failover, or not.
    let mut by_provider: std::collections::BTreeMap<String, (u64, u64)> = std::collections::BTreeMap::new();
    for event in &summary.failovers {
        let slot = by_provider.entry(event.provider.clone().unwrap_or_else(|| "-".to_string())).or_default();
        if event.recovered {
            slot.0 += 1;
        } else {
            slot.1 += 1;
        }
    }
    let rows = by_provider
        .into_iter()
        .map(|(provider, (recovered, failed))| ChartRow {
            label: provider,
            cells: vec![Cell::split(
                recovered as f64,
                failed as f64,
                format!("{recovered} served  {failed} failed"),
            )],
        })
        .collect();
    let shown = summary.failovers.len() as u64;
    Chart {
        id: "failovers",
        title: "Failovers by the provider that answered last".into(),
        columns: vec![Column {
            heading: "requests".into(),
            tone: Tone::Requests,
            second: Some(Second::Errors),
        }],
        rows,
        note: (summary.failover_count > shown)
            .then(|| format!("(the newest {shown} of {} failovers)", summary.failover_count)),
    }
}

/// Providers by cost, then tokens, then name.
fn provider_groups(summary: &Summary) -> Vec<StatsGroup> {
    by_cost(&summary.groups(GroupBy::Provider))
}

fn by_cost(groups: &[StatsGroup]) -> Vec<StatsGroup> {
    let mut sorted = groups.to_vec();
    sorted.sort_by(|left, right| {
        right
            .cost_usd
            .unwrap_or(0.0)
            .total_cmp(&left.cost_usd.unwrap_or(0.0))
            .then((right.input_tokens + right.output_tokens).cmp(&(left.input_tokens + left.output_tokens)))
            .then(left.key.cmp(&right.key))
    });
    sorted
}

/// Every day from the first to the last with a group, the days without requests as zeros.
pub fn fill_days(days: &[StatsGroup]) -> Vec<StatsGroup> {
    let parse = |group: &StatsGroup| group.key.parse::<jiff::civil::Date>().ok();
    let (Some(first), Some(last)) = (days.first().and_then(parse), days.last().and_then(parse)) else {
        return days.to_vec();
    };
    let mut filled = Vec::new();
    let mut known = days.iter().peekable();
    let mut day = first;
    while day <= last {
        let key = day.strftime("%Y-%m-%d").to_string();
        match known.peek() {
            Some(group) if group.key == key => {
                filled.push((*group).clone());
                known.next();
            }
            Some(_) | None => filled.push(StatsGroup { key, ..StatsGroup::default() }),
        }
        let Ok(next) = day.tomorrow() else { break };
        day = next;
    }
    filled
}

fn model(entry: &LogEntry) -> String {
    let text = match (&entry.model_requested, &entry.model_sent) {
        (Some(requested), Some(sent)) if requested != sent => format!("{requested}→{sent}"),
        (_, Some(model)) | (Some(model), None) => model.clone(),
        (None, None) => "-".to_string(),
    };
    escape_terminal(&text).into_owned()
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

fn dash(value: Option<&str>) -> String {
    value.map_or_else(|| "-".to_string(), |value| escape_terminal(value).into_owned())
}

fn number(value: Option<i64>) -> String {
    value.map_or_else(|| "-".to_string(), |value| value.to_string())
}

#[cfg(test)]
#[path = "view_tests.rs"]
mod tests;
