//! Splits inline `<think>…</think>` reasoning out of Chat content, across chunks
//! (conversion.md §2.3 step 4). A tag cut between chunks (`<thi` | `nk>`) is carried over, so
//! no tag text leaks. `<commentary>` tags are removed and their text kept as text.

const TAGS: [&str; 4] = ["<think>", "</think>", "<commentary>", "</commentary>"];

#[derive(Debug, Default)]
pub(crate) struct ThinkSplitter {
    in_think: bool,
    carry: String,
    /// Just after `</think>`: leading newlines of the answer are dropped.
    trim_next: bool,
}

impl ThinkSplitter {
    /// Feed content; `emit(is_reasoning, text)` gets each non-empty segment.
    pub(crate) fn push(&mut self, input: &str, emit: &mut dyn FnMut(bool, &str)) {
        if self.carry.is_empty() && !input.contains('<') {
            self.emit(input, emit);
            return;
        }
        let joined;
        let buffer: &str = if self.carry.is_empty() {
            input
        } else {
            let mut carry = std::mem::take(&mut self.carry);
            carry.push_str(input);
            joined = carry;
            &joined
        };
        let mut rest = buffer;
        while !rest.is_empty() {
            let Some(at) = rest.find('<') else {
                self.emit(rest, emit);
                break;
            };
            self.emit(&rest[..at], emit);
            let tail = &rest[at..];
            if let Some(tag) = TAGS.iter().find(|tag| tail.starts_with(*tag)) {
                match *tag {
                    "<think>" => self.in_think = true,
                    "</think>" => {
                        self.in_think = false;
                        self.trim_next = true;
                    }
                    _ => {}
                }
                rest = &tail[tag.len()..];
            } else if TAGS.iter().any(|tag| tag.starts_with(tail)) {
                self.carry = tail.to_string();
                break;
            } else {
                self.emit("<", emit);
                rest = &tail[1..];
            }
        }
    }

    /// The stream ended: a carried half tag is plain text after all.
    pub(crate) fn flush(&mut self, emit: &mut dyn FnMut(bool, &str)) {
        let carry = std::mem::take(&mut self.carry);
        self.emit(&carry, emit);
    }

    fn emit(&mut self, text: &str, emit: &mut dyn FnMut(bool, &str)) {
        let text =
            if self.trim_next && !self.in_think { text.trim_start_matches(['\n', '\r']) } else { text };
        if text.is_empty() {
            return;
        }
        if !self.in_think {
            self.trim_next = false;
        }
        emit(self.in_think, text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&str]) -> (String, String) {
        let mut splitter = ThinkSplitter::default();
        let (mut reasoning, mut text) = (String::new(), String::new());
        let mut emit =
            |think: bool, piece: &str| if think { reasoning.push_str(piece) } else { text.push_str(piece) };
        for chunk in chunks {
            splitter.push(chunk, &mut emit);
        }
        splitter.flush(&mut emit);
        (reasoning, text)
    }

    #[test]
    fn tags_split_across_chunks() {
        assert_eq!(split(&["<thi", "nk>x</th", "ink>y"]), ("x".into(), "y".into()));
        assert_eq!(split(&["<commentary>keep</commentary> a < b"]), (String::new(), "keep a < b".into()));
        assert_eq!(split(&["<think>r</think>\n\nanswer <t"]), ("r".into(), "answer <t".into()));
    }
}
