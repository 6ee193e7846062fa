//! Incremental server-sent-events parsing (upstream side) and writing (client side).
//!
//! Invariants: bytes are buffered until a full line, so a multi-byte UTF-8 character split
//! across chunks is never decoded in halves (no U+FFFD). `:` comment lines (keep-alives) are
//! ignored. A bare line that starts with `{` (a proxy's raw JSON error in the middle of a
//! stream) is treated as a `data:` line. Only one partial event is ever held.

use serde::Serialize;

/// A single event larger than this is cut off (its data is replaced by an empty string,
/// which the decoders treat as malformed).
const EVENT_LIMIT: usize = 16 << 20;

#[derive(Debug, Default)]
pub(crate) struct SseParser {
    line: Vec<u8>,
    event: String,
    data: String,
    data_lines: usize,
    oversized: bool,
}

impl SseParser {
    /// Feed bytes; `on_frame(event_name, data)` runs for each complete event.
    pub(crate) fn feed(&mut self, chunk: &[u8], on_frame: &mut dyn FnMut(Option<&str>, &str)) {
        let mut rest = chunk;
        while let Some(newline) = memchr::memchr(b'\n', rest) {
            let (head, tail) = rest.split_at(newline);
            rest = &tail[1..];
            if self.line.is_empty() {
                self.line_done(head, on_frame);
            } else {
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(head);
                self.line_done(&line, on_frame);
                line.clear();
                self.line = line;
            }
        }
        if self.line.len() + rest.len() <= EVENT_LIMIT {
            self.line.extend_from_slice(rest);
        } else {
            self.oversized = true;
        }
    }

    /// The upstream ended: dispatch a last event that had no blank line after it.
    pub(crate) fn finish(&mut self, on_frame: &mut dyn FnMut(Option<&str>, &str)) {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.line_done(&line, on_frame);
        }
        self.dispatch(on_frame);
    }

    fn line_done(&mut self, line: &[u8], on_frame: &mut dyn FnMut(Option<&str>, &str)) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            self.dispatch(on_frame);
            return;
        }
        if line[0] == b':' {
            return;
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        let (field, value) = if line[0] == b'{' { (&b"data"[..], line) } else { (field, value) };
        match field {
            b"data" => {
                if self.data_lines > 0 {
                    self.data.push('\n');
                }
                if self.data.len() + value.len() > EVENT_LIMIT {
                    self.oversized = true;
                } else {
                    match std::str::from_utf8(value) {
                        Ok(text) => self.data.push_str(text),
                        Err(_) => self.data.push_str(&String::from_utf8_lossy(value)),
                    }
                }
                self.data_lines += 1;
            }
            b"event" => {
                self.event.clear();
                self.event.push_str(&String::from_utf8_lossy(value));
            }
            _ => {}
        }
    }

    fn dispatch(&mut self, on_frame: &mut dyn FnMut(Option<&str>, &str)) {
        if self.data_lines == 0 && self.event.is_empty() {
            return;
        }
        let event = if self.event.is_empty() { None } else { Some(self.event.as_str()) };
        if std::mem::take(&mut self.oversized) {
            on_frame(event, "");
        } else {
            on_frame(event, &self.data);
        }
        self.event.clear();
        self.data.clear();
        self.data_lines = 0;
    }
}

/// Write `event: name\ndata: <json>\n\n`.
pub(crate) fn write_event(out: &mut Vec<u8>, name: &str, data: &impl Serialize) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    write_json(out, data);
    out.extend_from_slice(b"\n\n");
}

/// Write `data: <json>\n\n`.
pub(crate) fn write_data(out: &mut Vec<u8>, data: &impl Serialize) {
    out.extend_from_slice(b"data: ");
    write_json(out, data);
    out.extend_from_slice(b"\n\n");
}

/// Serialize into `out`. Serializing our own structs and `Value`s into a `Vec` cannot fail;
/// if it ever did, `null` keeps the frame well-formed.
pub(crate) fn write_json(out: &mut Vec<u8>, data: &impl Serialize) {
    let mark = out.len();
    if serde_json::to_writer(&mut *out, data).is_err() {
        out.truncate(mark);
        out.extend_from_slice(b"null");
    }
}

/// Parse client-side SSE output into `(event, data)` pairs (tests and tools).
#[cfg(test)]
pub(crate) fn parse_all(bytes: &[u8]) -> Vec<(Option<String>, String)> {
    let mut parser = SseParser::default();
    let mut frames = Vec::new();
    let mut on_frame =
        |event: Option<&str>, data: &str| frames.push((event.map(str::to_string), data.to_string()));
    parser.feed(bytes, &mut on_frame);
    parser.finish(&mut on_frame);
    frames
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_anywhere_and_comments_ignored() {
        let input = ": keep-alive\r\n\r\nevent: a\r\ndata: {\"x\":\"é\"}\r\n\r\ndata: 1\ndata: 2\n\n{\"error\":1}\n\n";
        let whole = parse_all(input.as_bytes());
        assert_eq!(
            whole,
            vec![
                (Some("a".into()), "{\"x\":\"é\"}".into()),
                (None, "1\n2".into()),
                (None, "{\"error\":1}".into())
            ]
        );
        for cut in 0..input.len() {
            let mut parser = SseParser::default();
            let mut frames = Vec::new();
            let mut on_frame =
                |event: Option<&str>, data: &str| frames.push((event.map(str::to_string), data.to_string()));
            parser.feed(&input.as_bytes()[..cut], &mut on_frame);
            parser.feed(&input.as_bytes()[cut..], &mut on_frame);
            parser.finish(&mut on_frame);
            assert_eq!(frames, whole, "cut at {cut}");
        }
    }
}
