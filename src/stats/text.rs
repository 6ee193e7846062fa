//! Small pure text helpers shared by the terminal views: escaping client-supplied strings,
//! display widths, and the number formats (money, tokens, milliseconds).
//!
//! Every string that came from a client (model names, session ids, client names) goes
//! through [`escape_terminal`] before it reaches a terminal: a control character, or a
//! bidi override that reorders what the user sees, is shown as `\u{1b}`, never sent raw.

use std::borrow::Cow;

/// `text` with every control character (C0, DEL, C1) and bidi control shown as a Rust
/// style `\u{..}` escape; a backslash stays as it is. Borrowed when nothing needed escaping.
pub fn escape_terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for character in text.chars() {
        if needs_escape(character) {
            out.extend(character.escape_unicode());
        } else {
            out.push(character);
        }
    }
    Cow::Owned(out)
}

fn needs_escape(character: char) -> bool {
    character.is_control()
        || matches!(character, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Columns `text` takes in a terminal (wide CJK characters count two).
pub fn width(text: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(text)
}

/// `text` cut to at most `max` columns, with `…` when something was cut.
pub fn truncate(text: &str, max: usize) -> Cow<'_, str> {
    if width(text) <= max {
        return Cow::Borrowed(text);
    }
    let mut out = String::new();
    let mut used = 0;
    for character in text.chars() {
        let character_width = unicode_width::UnicodeWidthChar::width(character).unwrap_or(0);
        if used + character_width + 1 > max {
            break;
        }
        used += character_width;
        out.push(character);
    }
    if max > 0 {
        out.push('…');
    }
    Cow::Owned(out)
}

/// `text` padded with spaces on the right to `columns`.
pub fn pad_right(text: &str, columns: usize) -> String {
    let mut out = text.to_string();
    out.extend(std::iter::repeat_n(' ', columns.saturating_sub(width(text))));
    out
}

/// `text` padded with spaces on the left to `columns`.
pub fn pad_left(text: &str, columns: usize) -> String {
    let mut out: String = std::iter::repeat_n(' ', columns.saturating_sub(width(text))).collect();
    out.push_str(text);
    out
}

/// US dollars: four decimals under $10 (single requests cost fractions of a cent), two above.
pub fn money(value: f64) -> String {
    if value.abs() >= 10.0 { format!("${value:.2}") } else { format!("${value:.4}") }
}

/// A token count for a chart: `950`, `12.3k`, `4.5M`, `1.2B`.
pub fn compact(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 1e9 {
        format!("{:.1}B", value / 1e9)
    } else if magnitude >= 1e6 {
        format!("{:.1}M", value / 1e6)
    } else if magnitude >= 1e3 {
        format!("{:.1}k", value / 1e3)
    } else {
        format!("{value:.0}")
    }
}

/// Milliseconds: `850ms` under a second, `1.2s` up to a minute, `3m05s` above.
pub fn millis(value: i64) -> String {
    if value < 1_000 {
        format!("{value}ms")
    } else if value < 60_000 {
        format!("{:.1}s", value as f64 / 1_000.0)
    } else {
        format!("{}m{:02}s", value / 60_000, (value % 60_000) / 1_000)
    }
}

/// A percentage with one decimal: `4.2%`.
pub fn percent(part: u64, whole: u64) -> String {
    if whole == 0 { "0.0%".to_string() } else { format!("{:.1}%", part as f64 * 100.0 / whole as f64) }
}

/// HTML-escape `text` for element content and quoted attribute values.
pub fn escape_html(text: &str) -> Cow<'_, str> {
    if !text.contains(['&', '<', '>', '"', '\'']) && !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Controls are shown as escapes here too: a NUL or ESC in a model name is data
            // to see, not something for the browser to swallow.
            control if control.is_control() => out.extend(control.escape_unicode()),
            other => out.push(other),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape_terminal("gpt-5"), "gpt-5");
        assert_eq!(escape_terminal("evil\u{1b}[2Jmodel\n"), "evil\\u{1b}[2Jmodel\\u{a}");
        assert_eq!(escape_terminal("a\u{9b}b\u{7f}"), "a\\u{9b}b\\u{7f}");
        assert_eq!(escape_terminal("abc\u{202e}def"), "abc\\u{202e}def");
        assert_eq!(escape_terminal("模型"), "模型");
    }

    #[test]
    fn widths_and_truncation() {
        assert_eq!(width("模型"), 4);
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abcd", 4), "abcd");
        assert_eq!(truncate("模型模型", 5), "模型…");
        assert_eq!(pad_left("ab", 4), "  ab");
        assert_eq!(pad_right("模", 4), "模  ");
    }

    #[test]
    fn number_formats() {
        assert_eq!(money(0.01), "$0.0100");
        assert_eq!(money(12.345), "$12.35");
        assert_eq!(compact(950.0), "950");
        assert_eq!(compact(12_345.0), "12.3k");
        assert_eq!(compact(4_500_000.0), "4.5M");
        assert_eq!(millis(850), "850ms");
        assert_eq!(millis(1_250), "1.2s");
        assert_eq!(millis(185_000), "3m05s");
        assert_eq!(percent(1, 3), "33.3%");
        assert_eq!(percent(0, 0), "0.0%");
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(escape_html("<b a=\"1\">&'"), "&lt;b a=&quot;1&quot;&gt;&amp;&#39;");
        assert_eq!(escape_html("x\u{1b}y"), "x\\u{1b}y");
    }
}
