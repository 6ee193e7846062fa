//! A local `count_tokens` estimate for Messages requests when no upstream can count:
//! CJK characters count as one token each, other text as four characters per token, and each
//! image as a fixed 1,500 tokens (UNVERIFIED, conversion.md §5).

use serde_json::Value;

const IMAGE_TOKENS: u64 = 1500;

/// Estimated input tokens of a Messages (or Chat/Responses) request body; 0 for non-JSON.
pub fn count_tokens_estimate(body: &[u8]) -> u64 {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return 0;
    };
    let mut counter = Counter::default();
    // Messages, Chat and Responses bodies; Gemini API ones (`contents`, or a
    // `generateContentRequest` wrapping them in `:countTokens`).
    let value = value.get("generateContentRequest").unwrap_or(&value);
    for key in ["system", "messages", "tools", "instructions", "input", "contents", "systemInstruction"] {
        if let Some(part) = value.get(key) {
            counter.walk(part);
        }
    }
    counter.total()
}

#[derive(Default)]
struct Counter {
    cjk: u64,
    other: u64,
    images: u64,
}

impl Counter {
    fn walk(&mut self, value: &Value) {
        match value {
            Value::String(text) => self.text(text),
            Value::Array(items) => items.iter().for_each(|item| self.walk(item)),
            Value::Object(map) => {
                let kind = map.get("type").and_then(Value::as_str);
                if matches!(kind, Some("image" | "image_url" | "input_image"))
                    || map.contains_key("inlineData")
                    || map.contains_key("fileData")
                {
                    self.images += 1;
                    return;
                }
                for (key, item) in map {
                    if key != "type" && key != "cache_control" {
                        self.walk(item);
                    }
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    fn text(&mut self, text: &str) {
        for c in text.chars() {
            if is_cjk(c) {
                self.cjk += 1;
            } else {
                self.other += 1;
            }
        }
    }

    fn total(&self) -> u64 {
        self.cjk + self.other.div_ceil(4) + self.images * IMAGE_TOKENS
    }
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // kana
        | 0x3400..=0x4DBF    // CJK ext A
        | 0x4E00..=0x9FFF    // CJK unified
        | 0xAC00..=0xD7AF    // Hangul
        | 0xF900..=0xFAFF    // compatibility ideographs
        | 0xFF00..=0xFFEF    // full-width forms
        | 0x20000..=0x2FFFF) // ext B..
}
