//! Bar charts as data ([`Chart`]) and their terminal rendering ([`render`]): unicode
//! blocks with eighth-cell resolution, sized to a given width, colour optional.
//!
//! Pure: a chart and a width in, a `String` out. Labels are client data and are escaped
//! ([`escape_terminal`]) before they are measured or shown. Without colour the chart reads
//! the same: the second segment of a bar (errors, the spread up to p95) is drawn with `░`.

use anstyle::{AnsiColor, Style};

use super::text::{escape_terminal, pad_left, pad_right, truncate, width};

/// What a bar measures; picks its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Cost,
    Tokens,
    Requests,
    Latency,
}

/// What the second segment of a bar means; picks its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Second {
    /// Errors within the requests (red).
    Errors,
    /// The spread from p50 to p95 (dim).
    Spread,
}

/// One bar column of a chart, with its own scale.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub heading: String,
    pub tone: Tone,
    pub second: Option<Second>,
}

/// One bar: its two segments (the second may be 0) and the text shown beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub first: f64,
    pub second: f64,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChartRow {
    /// Client data: escaped by the renderers.
    pub label: String,
    pub cells: Vec<Cell>,
}

/// A chart: a title, one or more bar columns, and a row per label.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// A stable identifier (the HTML section's id).
    pub id: &'static str,
    pub title: String,
    pub columns: Vec<Column>,
    pub rows: Vec<ChartRow>,
    /// A line under the chart (what was left out, what is not recorded).
    pub note: Option<String>,
}

impl Cell {
    pub fn new(first: f64, text: impl Into<String>) -> Self {
        Self { first, second: 0.0, text: text.into() }
    }

    pub fn split(first: f64, second: f64, text: impl Into<String>) -> Self {
        Self { first, second, text: text.into() }
    }
}

/// Eighth blocks, from one eighth to seven.
const EIGHTHS: [char; 7] = ['▏', '▎', '▍', '▌', '▋', '▊', '▉'];
const FULL: char = '█';
const SHADE: char = '░';
const MIN_BAR: usize = 4;

/// `chart` for a terminal `columns` wide, with ANSI colour or without.
pub fn render(chart: &Chart, columns: usize, color: bool) -> String {
    let title_style = if color { Style::new().bold() } else { Style::new() };
    let mut out = format!("{}{}{}\n", title_style.render(), chart.title, title_style.render_reset());
    if chart.rows.is_empty() {
        out.push_str("  (no data)\n");
        return out;
    }
    let labels: Vec<String> = chart.rows.iter().map(|row| escape_terminal(&row.label).into_owned()).collect();
    let longest = labels.iter().map(|label| width(label)).max().unwrap_or(0);
    let label_width = longest.min((columns / 4).clamp(8, 28)).max(1);
    let text_widths: Vec<usize> = (0..chart.columns.len())
        .map(|index| {
            chart
                .rows
                .iter()
                .filter_map(|row| row.cells.get(index))
                .map(|cell| width(&cell.text))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let fixed: usize = label_width + text_widths.iter().map(|text| 3 + text).sum::<usize>();
    let bar_width = (columns.saturating_sub(fixed) / chart.columns.len().max(1)).max(MIN_BAR);
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

    let mut heading = " ".repeat(label_width);
    for (column, text_width) in chart.columns.iter().zip(&text_widths) {
        let legend = match column.second {
            Some(Second::Errors) => format!("{} ({SHADE} errors)", column.heading),
            Some(Second::Spread) => format!("{} (p50 {FULL}{SHADE} p95)", column.heading),
            None => column.heading.clone(),
        };
        heading.push_str("  ");
        heading.push_str(&pad_right(&legend, bar_width + 1 + text_width));
    }
    out.push_str(heading.trim_end());
    out.push('\n');

    for (row, label) in chart.rows.iter().zip(&labels) {
        let mut line = pad_right(&truncate(label, label_width), label_width);
        for (index, column) in chart.columns.iter().enumerate() {
            let empty = Cell::new(0.0, "");
            let cell = row.cells.get(index).unwrap_or(&empty);
            line.push_str("  ");
            line.push_str(&bar(cell, scales[index], bar_width, column, color));
            line.push(' ');
            line.push_str(&pad_left(&cell.text, text_widths[index]));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    if let Some(note) = &chart.note {
        out.push_str(note);
        out.push('\n');
    }
    out
}

/// One bar, exactly `bar_width` columns (spaces after it).
fn bar(cell: &Cell, scale: f64, bar_width: usize, column: &Column, color: bool) -> String {
    let (first_eighths, second_end) = if scale > 0.0 {
        let first = cell.first.max(0.0);
        let second = cell.second.max(0.0);
        let mut eighths = (first / scale * (bar_width * 8) as f64).round() as usize;
        if first > 0.0 {
            eighths = eighths.max(1);
        }
        let end = ((first + second) / scale * bar_width as f64).round() as usize;
        (eighths.min(bar_width * 8), (end, second > 0.0))
    } else {
        (0, (0, false))
    };
    let full = first_eighths / 8;
    let part = first_eighths % 8;
    let mut first_text: String = std::iter::repeat_n(FULL, full).collect();
    if part > 0 {
        first_text.push(EIGHTHS[part - 1]);
    }
    let used = full + usize::from(part > 0);
    let (end, has_second) = second_end;
    let end = if has_second { end.max(used + 1) } else { end }.min(bar_width);
    let second_cells = end.saturating_sub(used);
    let second_text: String = std::iter::repeat_n(SHADE, second_cells).collect();
    let pad = " ".repeat(bar_width.saturating_sub(used + second_cells));
    if !color {
        return format!("{first_text}{second_text}{pad}");
    }
    let first_style = Style::new().fg_color(Some(tone_color(column.tone).into()));
    let second_style = match column.second {
        Some(Second::Errors) => Style::new().fg_color(Some(AnsiColor::Red.into())),
        Some(Second::Spread) | None => first_style.dimmed(),
    };
    let mut out = String::new();
    for (text, style) in [(first_text, first_style), (second_text, second_style)] {
        if !text.is_empty() {
            out.push_str(&format!("{}{text}{}", style.render(), style.render_reset()));
        }
    }
    out.push_str(&pad);
    out
}

fn tone_color(tone: Tone) -> AnsiColor {
    match tone {
        Tone::Cost => AnsiColor::Green,
        Tone::Tokens => AnsiColor::Blue,
        Tone::Requests => AnsiColor::Cyan,
        Tone::Latency => AnsiColor::Magenta,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn sample() -> Chart {
        Chart {
            id: "sample",
            title: "Sample".into(),
            columns: vec![Column { heading: "n".into(), tone: Tone::Requests, second: Some(Second::Errors) }],
            rows: vec![
                ChartRow { label: "a".into(), cells: vec![Cell::split(3.0, 1.0, "4")] },
                ChartRow { label: "bb\u{1b}[31m".into(), cells: vec![Cell::new(1.0, "1")] },
            ],
            note: None,
        }
    }

    #[test]
    fn bars_scale_to_width_and_escape_labels() {
        let expected = "Sample
              n (░ errors)
a             ████████████████████████████████████████████████░░░░░░░░░░░░░░░░ 4
bb\\u{1b}[31m  ████████████████                                                 1
";
        assert_eq!(render(&sample(), 80, false), expected);
    }

    #[test]
    fn colour_wraps_only_the_bars() {
        let text = render(&sample(), 40, true);
        assert!(text.starts_with("\u{1b}[1mSample\u{1b}[0m\n"), "{text:?}");
        assert!(text.contains("\u{1b}[36m█"), "{text:?}");
        assert!(text.contains("\u{1b}[31m░"), "{text:?}");
        assert!(!text.contains("\u{1b}[31m\u{1b}"), "the label's escape is shown, not sent: {text:?}");
    }

    #[test]
    fn empty_chart_says_so() {
        let chart = Chart { rows: Vec::new(), ..sample() };
        assert_eq!(render(&chart, 80, false), "Sample\n  (no data)\n");
    }
}
