//! `aigate stats --html FILE`: one self-contained page with the same charts as the
//! terminal, the most expensive sessions (a sortable table), failover events and error
//! classes.
//!
//! Invariants: the page loads nothing (inline CSS, inline SVG drawn here from the data,
//! a few lines of inline JS for sorting; a CSP meta that forbids every fetch); every
//! string from the db is HTML-escaped ([`escape_html`]); it is built from a [`Summary`]
//! alone, which holds no provider key or token (nothing here reads the providers table).
//! Light and dark follow `prefers-color-scheme`.

use std::fmt::Write as _;

use super::aggregate::{Summary, TOP_SESSIONS};
use super::chart::{Chart, Second, Tone};
use super::text::{compact, escape_html, millis, money, truncate};
use super::{local_time, view};

/// What the page says about where its numbers come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// The window as the user gave it (`since 7d`, `2026-11-01 to 2026-11-30`).
    pub window: String,
    /// Filters other than time, already described (`client codex`).
    pub filters: Vec<String>,
    pub generated_ms: i64,
}

/// The Content-Security-Policy of the page: nothing may be fetched.
pub const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:";

const WIDTH: f64 = 960.0;
const ROW: f64 = 24.0;

/// The whole page.
pub fn render(summary: &Summary, context: &Context) -> String {
    let mut page = String::with_capacity(64 * 1024);
    let _ = write!(
        page,
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>aigate usage</title>
<style>{STYLE}</style>
</head>
<body>
<header>
<h1>aigate usage</h1>
<p class="meta">{window}{filters} · generated {generated}</p>
"#,
        window = escape_html(&context.window),
        filters = context.filters.iter().fold(String::new(), |mut out, filter| {
            let _ = write!(out, " · {}", escape_html(filter));
            out
        }),
        generated = escape_html(&local_time(context.generated_ms)),
    );
    page.push_str(&totals(summary));
    page.push_str("</header>\n<main>\n");
    for chart in view::charts(summary, None, None) {
        // Error classes and failovers get their own sections below, with their tables.
        if chart.id == "errors" || chart.id == "failovers" {
            continue;
        }
        let svg = if chart.id == "by-day" { day_svg(&chart) } else { bars_svg(&chart) };
        section(&mut page, chart.id, &chart.title, &svg, "");
    }
    sessions_section(&mut page, summary);
    failovers_section(&mut page, summary);
    errors_section(&mut page, summary);
    page.push_str("</main>\n<script>");
    page.push_str(SCRIPT);
    page.push_str("</script>\n</body>\n</html>\n");
    page
}

fn totals(summary: &Summary) -> String {
    let total = &summary.total;
    let cards = [
        ("requests", total.requests.to_string()),
        ("errors", format!("{} ({})", total.errors, super::text::percent(total.errors, total.requests))),
        ("cost", total.cost_usd.map_or_else(|| "-".to_string(), money)),
        (
            "tokens in / out",
            format!("{} / {}", compact(total.input_tokens as f64), compact(total.output_tokens as f64)),
        ),
        ("median duration", total.p50_ms.map_or_else(|| "-".to_string(), millis)),
        ("failovers", summary.failover_count.to_string()),
    ];
    let mut out = String::from("<div class=\"cards\">");
    for (name, value) in cards {
        let _ = write!(out, "<div class=\"card\"><span>{name}</span><b>{}</b></div>", escape_html(&value));
    }
    out.push_str("</div>\n");
    out
}

fn section(page: &mut String, id: &str, title: &str, svg: &str, rest: &str) {
    let _ = write!(page, "<section id=\"{id}\">\n<h2>{}</h2>\n{svg}\n{rest}</section>\n", escape_html(title));
}

/// Horizontal bars: a label column, then one panel per chart column, each on its own scale.
fn bars_svg(chart: &Chart) -> String {
    if chart.rows.is_empty() {
        return empty_svg(&chart.title);
    }
    let label_width = 210.0;
    let panels = chart.columns.len().max(1) as f64;
    let panel_width = (WIDTH - label_width) / panels;
    let value_room = 150.0;
    let bar_room = panel_width - value_room - 10.0;
    let height = ROW * (chart.rows.len() as f64 + 1.0) + 8.0;
    let mut svg = svg_open(height, &chart.title);
    for (index, column) in chart.columns.iter().enumerate() {
        let x = label_width + panel_width * index as f64;
        let legend = match column.second {
            Some(Second::Errors) => format!("{} (red: errors)", column.heading),
            Some(Second::Spread) => format!("{} (p50, shaded to p95)", column.heading),
            None => column.heading.clone(),
        };
        let _ = write!(svg, r#"<text class="head" x="{x:.1}" y="16">{}</text>"#, escape_html(&legend));
    }
    let scales: Vec<f64> = (0..chart.columns.len())
        .map(|index| {
            chart
                .rows
                .iter()
                .filter_map(|row| row.cells.get(index))
                .map(|cell| cell.first.max(0.0) + cell.second.max(0.0))
                .fold(0.0, f64::max)
        })
        .collect();
    for (row_index, row) in chart.rows.iter().enumerate() {
        let y = ROW * (row_index as f64 + 1.0) + 4.0;
        let label = escape_html(&row.label);
        let truncated = truncate(&row.label, 24);
        let short = escape_html(&truncated);
        let _ = write!(
            svg,
            r#"<text class="label" x="{:.1}" y="{:.1}" text-anchor="end"><title>{label}</title>{short}</text>"#,
            label_width - 10.0,
            y + 15.0
        );
        for (index, column) in chart.columns.iter().enumerate() {
            let Some(cell) = row.cells.get(index) else { continue };
            let x = label_width + panel_width * index as f64;
            let scale = scales[index];
            let first = if scale > 0.0 { cell.first.max(0.0) / scale * bar_room } else { 0.0 };
            let second = if scale > 0.0 { cell.second.max(0.0) / scale * bar_room } else { 0.0 };
            let _ = write!(
                svg,
                r#"<rect class="track" x="{x:.1}" y="{:.1}" width="{bar_room:.1}" height="16" rx="2"/>"#,
                y + 3.0
            );
            if first > 0.0 {
                let _ = write!(
                    svg,
                    r#"<rect class="{}" x="{x:.1}" y="{:.1}" width="{first:.1}" height="16" rx="2"/>"#,
                    tone_class(column.tone),
                    y + 3.0
                );
            }
            if second > 0.0 {
                let class = match column.second {
                    Some(Second::Errors) => "err",
                    Some(Second::Spread) | None => "spread",
                };
                let _ = write!(
                    svg,
                    r#"<rect class="{class}" x="{:.1}" y="{:.1}" width="{second:.1}" height="16" rx="2"/>"#,
                    x + first,
                    y + 3.0
                );
            }
            let _ = write!(
                svg,
                r#"<text class="value" x="{:.1}" y="{:.1}">{}</text>"#,
                x + bar_room + 6.0,
                y + 15.0,
                escape_html(&cell.text)
            );
        }
    }
    if let Some(note) = &chart.note {
        let _ = write!(svg, "<desc>{}</desc>", escape_html(note));
    }
    svg.push_str("</svg>");
    svg
}

/// Cost and tokens per day as two panels of columns, days along the bottom.
fn day_svg(chart: &Chart) -> String {
    if chart.rows.is_empty() {
        return empty_svg(&chart.title);
    }
    let panel_height = 130.0;
    let left = 70.0;
    let plot_width = WIDTH - left - 10.0;
    let count = chart.rows.len() as f64;
    let slot = plot_width / count;
    let bar = (slot * 0.75).max(1.0);
    let panels = chart.columns.len();
    let height = (panel_height + 40.0) * panels as f64 + 24.0;
    let mut svg = svg_open(height, &chart.title);
    for (index, column) in chart.columns.iter().enumerate() {
        let top = (panel_height + 40.0) * index as f64 + 20.0;
        let scale = chart
            .rows
            .iter()
            .filter_map(|row| row.cells.get(index))
            .map(|cell| cell.first)
            .fold(0.0, f64::max);
        let peak = match column.tone {
            Tone::Cost => money(scale),
            Tone::Tokens | Tone::Requests | Tone::Latency => compact(scale),
        };
        let _ = write!(
            svg,
            r#"<text class="head" x="0" y="{:.1}">{}</text>"#,
            top - 6.0,
            escape_html(&column.heading)
        );
        let _ = write!(
            svg,
            r#"<text class="axis" x="{:.1}" y="{:.1}" text-anchor="end">{}</text><line class="grid" x1="{left}" x2="{:.1}" y1="{top:.1}" y2="{top:.1}"/><line class="grid" x1="{left}" x2="{:.1}" y1="{:.1}" y2="{:.1}"/>"#,
            left - 6.0,
            top + 10.0,
            escape_html(&peak),
            WIDTH - 10.0,
            WIDTH - 10.0,
            top + panel_height,
            top + panel_height
        );
        for (row_index, row) in chart.rows.iter().enumerate() {
            let Some(cell) = row.cells.get(index) else { continue };
            let value_height = if scale > 0.0 { cell.first.max(0.0) / scale * panel_height } else { 0.0 };
            let x = left + slot * row_index as f64 + (slot - bar) / 2.0;
            let _ = write!(
                svg,
                r#"<rect class="{}" x="{x:.1}" y="{:.1}" width="{bar:.1}" height="{value_height:.1}"><title>{}: {}</title></rect>"#,
                tone_class(column.tone),
                top + panel_height - value_height,
                escape_html(&row.label),
                escape_html(&cell.text)
            );
        }
        // About eight date labels along the axis, whatever the span.
        let every = (chart.rows.len() / 8).max(1);
        for (row_index, row) in chart.rows.iter().enumerate().filter(|(row_index, _)| row_index % every == 0)
        {
            let _ = write!(
                svg,
                r#"<text class="axis" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                left + slot * (row_index as f64 + 0.5),
                top + panel_height + 16.0,
                escape_html(row.label.get(5..).unwrap_or(&row.label))
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

fn sessions_section(page: &mut String, summary: &Summary) {
    let chart = Chart {
        id: "sessions",
        title: "Most expensive sessions".into(),
        columns: vec![super::chart::Column { heading: "cost".into(), tone: Tone::Cost, second: None }],
        rows: summary
            .sessions
            .iter()
            .take(10)
            .map(|session| super::chart::ChartRow {
                label: session.session_id.clone(),
                cells: vec![super::chart::Cell::new(
                    session.cost_usd.unwrap_or(0.0),
                    session.cost_usd.map_or_else(|| "-".to_string(), money),
                )],
            })
            .collect(),
        note: None,
    };
    let mut table = format!(
        "<p class=\"note\">The {TOP_SESSIONS} most expensive sessions at most; click a column to sort.</p>\n<table class=\"sortable\">\n<thead><tr>"
    );
    for (name, kind) in [
        ("session", "text"),
        ("client", "text"),
        ("providers", "text"),
        ("requests", "number"),
        ("errors", "number"),
        ("tokens in", "number"),
        ("tokens out", "number"),
        ("cost", "number"),
        ("first", "number"),
        ("last", "number"),
    ] {
        let _ = write!(table, "<th data-kind=\"{kind}\">{name}</th>");
    }
    table.push_str("</tr></thead>\n<tbody>\n");
    for session in &summary.sessions {
        let _ = writeln!(
            table,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td data-value=\"{}\">{}</td><td data-value=\"{}\">{}</td><td data-value=\"{}\">{}</td><td data-value=\"{}\">{}</td><td data-value=\"{}\">{}</td><td data-value=\"{}\">{}</td><td data-value=\"{}\">{}</td></tr>",
            escape_html(&session.session_id),
            escape_html(session.client.as_deref().unwrap_or("-")),
            escape_html(&session.providers.join(", ")),
            session.requests,
            session.requests,
            session.errors,
            session.errors,
            session.input_tokens,
            compact(session.input_tokens as f64),
            session.output_tokens,
            compact(session.output_tokens as f64),
            session.cost_usd.unwrap_or(-1.0),
            session.cost_usd.map_or_else(|| "-".to_string(), money),
            session.first_ms,
            escape_html(&local_time(session.first_ms)),
            session.last_ms,
            escape_html(&local_time(session.last_ms)),
        );
    }
    table.push_str("</tbody>\n</table>\n");
    if summary.sessions.is_empty() {
        table = "<p class=\"note\">No request carried a session id.</p>\n".to_string();
    }
    section(page, chart.id, &chart.title, &bars_svg(&chart), &table);
}

fn failovers_section(page: &mut String, summary: &Summary) {
    let chart = view::charts(summary, None, None).into_iter().find(|chart| chart.id == "failovers");
    let title = "Failover events";
    let svg = chart.as_ref().map_or_else(|| empty_svg("No failovers"), bars_svg);
    let mut rest = String::from(
        "<p class=\"note\">A failover is a request that needed more than one provider. The proxy records how many \
         providers it tried and which one answered (or failed last); it does not record which providers failed \
         before it, nor why.</p>\n",
    );
    if summary.failovers.is_empty() {
        rest.push_str("<p class=\"note\">No request failed over in this window.</p>\n");
    } else {
        rest.push_str("<table class=\"sortable\">\n<thead><tr>");
        for (name, kind) in [
            ("time", "number"),
            ("client", "text"),
            ("model", "text"),
            ("answered by", "text"),
            ("providers tried", "number"),
            ("outcome", "text"),
            ("status", "number"),
            ("error class", "text"),
        ] {
            let _ = write!(rest, "<th data-kind=\"{kind}\">{name}</th>");
        }
        rest.push_str("</tr></thead>\n<tbody>\n");
        for event in &summary.failovers {
            let _ = writeln!(
                rest,
                "<tr><td data-value=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td data-value=\"{}\">{}</td><td>{}</td><td data-value=\"{}\">{}</td><td>{}</td></tr>",
                event.ts_ms,
                escape_html(&local_time(event.ts_ms)),
                escape_html(event.client.as_deref().unwrap_or("-")),
                escape_html(event.model.as_deref().unwrap_or("-")),
                escape_html(event.provider.as_deref().unwrap_or("-")),
                event.attempts,
                event.attempts,
                if event.recovered { "served" } else { "failed" },
                event.status.unwrap_or(0),
                event.status.map_or_else(|| "-".to_string(), |status| status.to_string()),
                escape_html(event.error_class.as_deref().unwrap_or("-")),
            );
        }
        rest.push_str("</tbody>\n</table>\n");
        if summary.failover_count > summary.failovers.len() as u64 {
            let _ = writeln!(
                rest,
                "<p class=\"note\">The newest {} of {} failovers.</p>",
                summary.failovers.len(),
                summary.failover_count
            );
        }
    }
    section(page, "failovers", title, &svg, &rest);
}

fn errors_section(page: &mut String, summary: &Summary) {
    let chart = view::charts(summary, None, None).into_iter().find(|chart| chart.id == "errors");
    let svg = chart.as_ref().map_or_else(|| empty_svg("No errors"), bars_svg);
    let mut rest = String::new();
    if summary.error_classes.is_empty() {
        rest.push_str("<p class=\"note\">No request failed in this window.</p>\n");
    } else {
        rest.push_str(
            "<table class=\"sortable\">\n<thead><tr><th data-kind=\"text\">error class</th><th data-kind=\"number\">requests</th><th data-kind=\"text\">providers</th></tr></thead>\n<tbody>\n",
        );
        for class in &summary.error_classes {
            let providers: Vec<String> =
                class.providers.iter().map(|(provider, count)| format!("{provider}: {count}")).collect();
            let _ = writeln!(
                rest,
                "<tr><td>{}</td><td data-value=\"{}\">{}</td><td>{}</td></tr>",
                escape_html(&class.class),
                class.requests,
                class.requests,
                escape_html(&providers.join(", "))
            );
        }
        rest.push_str("</tbody>\n</table>\n");
    }
    section(page, "errors", "Error classes", &svg, &rest);
}

fn svg_open(height: f64, title: &str) -> String {
    format!(
        r#"<svg role="img" viewBox="0 0 {WIDTH} {height:.0}" width="100%"><title>{}</title>"#,
        escape_html(title)
    )
}

fn empty_svg(title: &str) -> String {
    let mut svg = svg_open(40.0, title);
    svg.push_str(r#"<text class="label" x="0" y="24">(no data)</text></svg>"#);
    svg
}

fn tone_class(tone: Tone) -> &'static str {
    match tone {
        Tone::Cost => "cost",
        Tone::Tokens => "tokens",
        Tone::Requests => "req",
        Tone::Latency => "lat",
    }
}

const STYLE: &str = r"
:root { --bg: #ffffff; --fg: #1f2328; --muted: #59636e; --grid: #d1d9e0; --track: #f0f3f6; --card: #f6f8fa;
  --cost: #1a7f37; --tokens: #0969da; --req: #1b7c83; --lat: #8250df; --err: #cf222e; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #0d1117; --fg: #e6edf3; --muted: #9198a1; --grid: #3d444d; --track: #151b23; --card: #161b22;
    --cost: #3fb950; --tokens: #4493f8; --req: #39c5cf; --lat: #ab7df8; --err: #f85149; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', sans-serif; }
header, main { max-width: 1040px; margin: 0 auto; padding: 16px 24px; }
h1 { margin: 8px 0 0; font-size: 24px; }
h2 { margin: 0 0 8px; font-size: 17px; }
.meta, .note { color: var(--muted); }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 10px; }
.card { background: var(--card); border: 1px solid var(--grid); border-radius: 8px; padding: 10px 12px; }
.card span { display: block; color: var(--muted); font-size: 12px; }
.card b { font-size: 18px; font-variant-numeric: tabular-nums; }
section { border-top: 1px solid var(--grid); padding: 18px 0; }
svg { display: block; max-width: 100%; height: auto; font-size: 12px; }
svg text { fill: var(--fg); } svg .axis, svg .head { fill: var(--muted); } svg .head { font-weight: 600; }
svg .value { font-variant-numeric: tabular-nums; }
.track { fill: var(--track); } .grid { stroke: var(--grid); }
.cost { fill: var(--cost); } .tokens { fill: var(--tokens); } .req { fill: var(--req); } .lat { fill: var(--lat); }
.err { fill: var(--err); } .spread { fill: var(--lat); opacity: .35; }
table { border-collapse: collapse; width: 100%; margin-top: 8px; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--grid); overflow-wrap: break-word; }
th { white-space: nowrap; }
th { cursor: pointer; user-select: none; color: var(--muted); font-weight: 600; }
th[aria-sort=ascending]::after { content: ' ▲'; } th[aria-sort=descending]::after { content: ' ▼'; }
";

/// Sort a table by the clicked column: numbers by `data-value`, text by content.
const SCRIPT: &str = r"
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th, column) {
    th.addEventListener('click', function () {
      var descending = th.getAttribute('aria-sort') !== 'descending';
      table.querySelectorAll('th').forEach(function (other) { other.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', descending ? 'descending' : 'ascending');
      var numeric = th.dataset.kind === 'number';
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[column], y = b.cells[column];
        var order = numeric ? Number(x.dataset.value) - Number(y.dataset.value)
                            : x.textContent.localeCompare(y.textContent);
        return descending ? -order : order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
";
