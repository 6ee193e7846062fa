//! Token counts read out of an answer's JSON while it is parsed, without building a tree
//! of it: the usage object of any API ([`Counts`]), at a path inside an event
//! ([`counts_at`]), or as a body's top-level `usage` / `usageMetadata` ([`top_counts`],
//! and [`skim_counts`], which passes over the other values by their brackets alone).
//!
//! Invariants: what is read is what `serde_json::Value` lookups on the parsed document
//! give (`pointer(path)`, then `get(name)` and `as_i64()` per count; the last of duplicate
//! keys); a document that does not parse gives nothing (the skim: one whose brackets do
//! not pair or that is cut short). Nothing is allocated per key.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Every count any API's usage object carries, by its own name.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub input_tokens: Option<i64>,
    pub prompt_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    /// `input_tokens_details.cached_tokens` (Responses).
    pub input_cached_tokens: Option<i64>,
    /// `prompt_tokens_details.cached_tokens` (Chat).
    pub prompt_cached_tokens: Option<i64>,
    pub cache_read_input_tokens: Option<i64>,
    pub prompt_cache_hit_tokens: Option<i64>,
    pub cache_creation_input_tokens: Option<i64>,
    /// Gemini's `usageMetadata` names.
    pub prompt_token_count: Option<i64>,
    pub candidates_token_count: Option<i64>,
    pub thoughts_token_count: Option<i64>,
    pub cached_content_token_count: Option<i64>,
}

/// The usage object at `path` (object keys) in a JSON document, as
/// `parse(data)?.pointer(path)` would find it: `None` when the document does not parse,
/// the path leads nowhere, or the value there is `null`.
pub fn counts_at(data: &[u8], path: &[Field]) -> Option<Counts> {
    fn read<'de, R: serde_json::de::Read<'de>>(
        mut deserializer: serde_json::Deserializer<R>,
        path: &[Field],
    ) -> Option<Counts> {
        let counts = At(path).deserialize(&mut deserializer).ok()?;
        deserializer.end().ok()?;
        counts
    }
    match std::str::from_utf8(data) {
        Ok(text) => read(serde_json::Deserializer::from_str(text), path),
        Err(_) => read(serde_json::Deserializer::from_slice(data), path),
    }
}

/// A body's top-level `usage`, else its `usageMetadata`: `Err` when the body is not one
/// JSON object, `Ok(None)` when it has neither (or both are `null`).
///
/// A UTF-8 body is read as text: checked once as a whole, not string by string
/// (serde_json's byte reader checks each string it reads whole); other bytes as bytes,
/// which then fail where the bad byte is, as before.
pub fn top_counts(data: &[u8]) -> Result<Option<Counts>, serde_json::Error> {
    match std::str::from_utf8(data) {
        Ok(text) => read_top(serde_json::Deserializer::from_str(text)),
        Err(_) => read_top(serde_json::Deserializer::from_slice(data)),
    }
}

/// [`top_counts`] without parsing every value, for the usual body: the top level is read
/// key by key, each value but `usage` and `usageMetadata` passed over by its brackets and
/// strings alone, and those two read by [`skim_usage`] when they are plain (else by serde).
/// `None` leaves the document to [`top_counts`]: it is no object, does not end where its
/// object closes (cut short, or more after it), has a top-level key with an escape or a
/// usage key twice, nests deeper than [`super::skim::SKIM_DEPTH`], or a usage value serde
/// does not read either. So it gives what [`top_counts`] gives for every document that
/// parses; of one that does not, it checks no more than that its brackets pair and its
/// strings end (a body the upstream framed whole that is no JSON is not told from one that
/// is, and a usage object's other values are passed over as the body's are).
pub fn skim_counts(data: &[u8]) -> Option<Option<Counts>> {
    let [usage, metadata] = super::skim::values_of(data, [b"usage", b"usageMetadata"])?;
    let read = |raw: Option<&[u8]>| match raw {
        None => Some(None),
        Some(raw) => skim_usage(raw).or_else(|| serde_json::from_slice::<Option<Counts>>(raw).ok()),
    };
    let (usage, metadata) = (read(usage)?, read(metadata)?);
    Some(usage.or(metadata))
}

/// A usage value as [`Counts`] reads it, by the skim: `null`, or an object whose counts
/// are plain integers and whose `*_tokens_details` are objects with plain integer
/// `cached_tokens` (the last of duplicate keys, as serde). `None` leaves it to serde: any
/// other shape, a count that is no plain integer that fits `i64` (a float, a string, a
/// number too large), or what [`super::skim::top_level`] cannot vouch for.
#[allow(clippy::option_option)] // as `skim_counts`: the outer `None` is "ask serde"
fn skim_usage(raw: &[u8]) -> Option<Option<Counts>> {
    if raw == b"null" {
        return Some(None);
    }
    let mut counts = Counts::default();
    super::skim::top_level(raw, |key, value| {
        match Field::of(key) {
            Field::InputTokensDetails => counts.input_cached_tokens = skim_details(value)?,
            Field::PromptTokensDetails => counts.prompt_cached_tokens = skim_details(value)?,
            field => {
                if let Some(slot) = counts.slot(field) {
                    *slot = Some(plain_integer(value)?);
                }
            }
        }
        Some(())
    })?;
    Some(Some(counts))
}

/// `cached_tokens` of a details object, by the skim (`None`: left to serde).
#[allow(clippy::option_option)] // as `skim_usage`
fn skim_details(raw: &[u8]) -> Option<Option<i64>> {
    let mut cached = None;
    super::skim::top_level(raw, |key, value| {
        if key == b"cached_tokens" {
            cached = Some(plain_integer(value)?);
        }
        Some(())
    })?;
    Some(cached)
}

/// A JSON integer without a sign (`0|[1-9][0-9]*`) of at most 18 digits. (A count is not
/// negative; serde reads `-0` as a float, which counts nothing.)
fn plain_integer(digits: &[u8]) -> Option<i64> {
    if digits.is_empty() || digits.len() > 18 || (digits[0] == b'0' && digits.len() > 1) {
        return None;
    }
    digits
        .iter()
        .try_fold(0i64, |value, digit| digit.is_ascii_digit().then(|| value * 10 + i64::from(digit - b'0')))
}

/// [`top_counts`] over a reader.
fn read_top<'de, R: serde_json::de::Read<'de>>(
    mut deserializer: serde_json::Deserializer<R>,
) -> Result<Option<Counts>, serde_json::Error> {
    let counts = deserializer.deserialize_map(TopVisitor)?;
    deserializer.end()?;
    Ok(counts)
}

/// The counts of an already parsed usage value (nothing when it is no object).
pub fn counts_of(value: &serde_json::Value) -> Counts {
    Counts::deserialize(value).unwrap_or_default()
}

/// The keys read on the way to and inside a usage object, and every other key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    InputTokens,
    PromptTokens,
    OutputTokens,
    CompletionTokens,
    InputTokensDetails,
    PromptTokensDetails,
    CacheReadInputTokens,
    PromptCacheHitTokens,
    CacheCreationInputTokens,
    PromptTokenCount,
    CandidatesTokenCount,
    ThoughtsTokenCount,
    CachedContentTokenCount,
    CachedTokens,
    Usage,
    UsageMetadata,
    Response,
    Message,
    Other,
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldVisitor;
        impl Visitor<'_> for FieldVisitor {
            type Value = Field;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<Field, E> {
                Ok(Field::of(key.as_bytes()))
            }
        }
        deserializer.deserialize_str(FieldVisitor)
    }
}

impl Field {
    /// The field a key names.
    fn of(key: &[u8]) -> Field {
        match key {
            b"input_tokens" => Field::InputTokens,
            b"prompt_tokens" => Field::PromptTokens,
            b"output_tokens" => Field::OutputTokens,
            b"completion_tokens" => Field::CompletionTokens,
            b"input_tokens_details" => Field::InputTokensDetails,
            b"prompt_tokens_details" => Field::PromptTokensDetails,
            b"cache_read_input_tokens" => Field::CacheReadInputTokens,
            b"prompt_cache_hit_tokens" => Field::PromptCacheHitTokens,
            b"cache_creation_input_tokens" => Field::CacheCreationInputTokens,
            b"promptTokenCount" => Field::PromptTokenCount,
            b"candidatesTokenCount" => Field::CandidatesTokenCount,
            b"thoughtsTokenCount" => Field::ThoughtsTokenCount,
            b"cachedContentTokenCount" => Field::CachedContentTokenCount,
            b"cached_tokens" => Field::CachedTokens,
            b"usage" => Field::Usage,
            b"usageMetadata" => Field::UsageMetadata,
            b"response" => Field::Response,
            b"message" => Field::Message,
            _ => Field::Other,
        }
    }
}

/// What a value that is not of the shape looked for reads as: it is skipped whole.
/// `skip_other_shapes!(v)` covers every shape but a map; `skip_other_shapes!(v, numbers
/// read)` leaves the integers to the visitor.
macro_rules! skip_other_shapes {
    ($value:expr) => {
        skip_other_shapes!($value, numbers read);
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
    ($value:expr, numbers read) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok($value)
        }
    };
}

/// One count: an integer that fits `i64` (as `Value::as_i64`), else nothing.
struct Count(Option<i64>);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CountVisitor;
        impl<'de> Visitor<'de> for CountVisitor {
            type Value = Option<i64>;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("any value")
            }
            skip_other_shapes!(None, numbers read);
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
                Ok(Some(value))
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
                Ok(i64::try_from(value).ok())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(None)
            }
        }
        deserializer.deserialize_any(CountVisitor).map(Count)
    }
}

/// `cached_tokens` inside a `*_tokens_details` object.
struct Details(Option<i64>);

impl<'de> Deserialize<'de> for Details {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DetailsVisitor;
        impl<'de> Visitor<'de> for DetailsVisitor {
            type Value = Option<i64>;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("any value")
            }
            skip_other_shapes!(None);
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut cached = None;
                while let Some(field) = map.next_key::<Field>()? {
                    match field {
                        Field::CachedTokens => cached = map.next_value::<Count>()?.0,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(cached)
            }
        }
        deserializer.deserialize_any(DetailsVisitor).map(Details)
    }
}

impl<'de> Deserialize<'de> for Counts {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CountsVisitor;
        impl<'de> Visitor<'de> for CountsVisitor {
            type Value = Counts;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("any value")
            }
            skip_other_shapes!(Counts::default());
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Counts, A::Error> {
                let mut counts = Counts::default();
                while let Some(field) = map.next_key::<Field>()? {
                    match field {
                        Field::InputTokensDetails => {
                            counts.input_cached_tokens = map.next_value::<Details>()?.0;
                        }
                        Field::PromptTokensDetails => {
                            counts.prompt_cached_tokens = map.next_value::<Details>()?.0;
                        }
                        field => match counts.slot(field) {
                            Some(slot) => *slot = map.next_value::<Count>()?.0,
                            None => {
                                map.next_value::<IgnoredAny>()?;
                            }
                        },
                    }
                }
                Ok(counts)
            }
        }
        deserializer.deserialize_any(CountsVisitor)
    }
}

impl Counts {
    /// Where the count a key names goes (`None` for the details objects and other keys).
    fn slot(&mut self, field: Field) -> Option<&mut Option<i64>> {
        Some(match field {
            Field::InputTokens => &mut self.input_tokens,
            Field::PromptTokens => &mut self.prompt_tokens,
            Field::OutputTokens => &mut self.output_tokens,
            Field::CompletionTokens => &mut self.completion_tokens,
            Field::CacheReadInputTokens => &mut self.cache_read_input_tokens,
            Field::PromptCacheHitTokens => &mut self.prompt_cache_hit_tokens,
            Field::CacheCreationInputTokens => &mut self.cache_creation_input_tokens,
            Field::PromptTokenCount => &mut self.prompt_token_count,
            Field::CandidatesTokenCount => &mut self.candidates_token_count,
            Field::ThoughtsTokenCount => &mut self.thoughts_token_count,
            Field::CachedContentTokenCount => &mut self.cached_content_token_count,
            Field::InputTokensDetails
            | Field::PromptTokensDetails
            | Field::CachedTokens
            | Field::Usage
            | Field::UsageMetadata
            | Field::Response
            | Field::Message
            | Field::Other => return None,
        })
    }
}

/// The usage at a path of object keys; `null` there reads as nothing.
struct At<'a>(&'a [Field]);

impl<'de> DeserializeSeed<'de> for At<'_> {
    type Value = Option<Counts>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        if self.0.is_empty() {
            return Option::<Counts>::deserialize(deserializer);
        }
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for At<'_> {
    type Value = Option<Counts>;
    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any value")
    }
    skip_other_shapes!(None);
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let Some((name, rest)) = self.0.split_first() else {
            return Err(de::Error::custom("an empty path"));
        };
        let mut found = None;
        while let Some(key) = map.next_key::<Field>()? {
            if key == *name {
                found = map.next_value_seed(At(rest))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// A body's top-level `usage` or `usageMetadata`.
struct TopVisitor;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = Option<Counts>;
    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut usage = None;
        let mut metadata = None;
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::Usage => usage = map.next_value::<Option<Counts>>()?,
                Field::UsageMetadata => metadata = map.next_value::<Option<Counts>>()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(usage.or(metadata))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// What the tree lookups give: the reference the streaming reads must equal.
    fn from_tree(usage: &Value) -> Counts {
        let number = |path: &[&str]| {
            let mut value = usage;
            for key in path {
                value = value.get(key)?;
            }
            value.as_i64()
        };
        Counts {
            input_tokens: number(&["input_tokens"]),
            prompt_tokens: number(&["prompt_tokens"]),
            output_tokens: number(&["output_tokens"]),
            completion_tokens: number(&["completion_tokens"]),
            input_cached_tokens: number(&["input_tokens_details", "cached_tokens"]),
            prompt_cached_tokens: number(&["prompt_tokens_details", "cached_tokens"]),
            cache_read_input_tokens: number(&["cache_read_input_tokens"]),
            prompt_cache_hit_tokens: number(&["prompt_cache_hit_tokens"]),
            cache_creation_input_tokens: number(&["cache_creation_input_tokens"]),
            prompt_token_count: number(&["promptTokenCount"]),
            candidates_token_count: number(&["candidatesTokenCount"]),
            thoughts_token_count: number(&["thoughtsTokenCount"]),
            cached_content_token_count: number(&["cachedContentTokenCount"]),
        }
    }

    const USAGES: &[&str] = &[
        r#"{"input_tokens":12,"output_tokens":5,"input_tokens_details":{"cached_tokens":4}}"#,
        r#"{"prompt_tokens":7,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":2},"total_tokens":10}"#,
        r#"{"input_tokens":3,"cache_read_input_tokens":100,"cache_creation_input_tokens":20,"output_tokens":9}"#,
        r#"{"promptTokenCount":8,"candidatesTokenCount":4,"thoughtsTokenCount":6,"cachedContentTokenCount":1}"#,
        r#"{"prompt_cache_hit_tokens":5,"prompt_tokens":9}"#,
        // Duplicates (the last wins, also when it is no number), floats, negatives, a number
        // past i64, strings, null, nested shapes where a number belongs.
        r#"{"input_tokens":1,"input_tokens":2,"output_tokens":3,"output_tokens":null}"#,
        r#"{"input_tokens":1.5,"output_tokens":-4,"prompt_tokens":18446744073709551615}"#,
        r#"{"input_tokens":"12","output_tokens":true,"completion_tokens":[1],"prompt_tokens":{"a":1}}"#,
        r#"{"input_tokens_details":null,"prompt_tokens_details":7}"#,
        r#"{"input_tokens_details":{"cached_tokens":4},"input_tokens_details":{"other":1}}"#,
        r#"{"input_tokens_details":[{"cached_tokens":4}],"prompt_tokens_details":{"cached_tokens":2.0}}"#,
        // An escaped key is the same key.
        r#"{"input\u005ftokens":11,"output_tokens":1e3}"#,
        r#"{"nested":{"input_tokens":99},"list":[{"output_tokens":1}],"input_tokens":5}"#,
        "{}",
        "[]",
        r#""usage""#,
        "12",
        "null",
    ];

    #[test]
    fn counts_equal_the_tree_lookups() {
        for usage in USAGES {
            let value: Value = serde_json::from_str(usage).unwrap();
            let expected = from_tree(&value);
            assert_eq!(counts_of(&value), expected, "{usage}");
            // The same object inside the events that carry it.
            let completed =
                format!(r#"{{"type":"response.completed","response":{{"id":"r","usage":{usage}}}}}"#);
            let read = counts_at(completed.as_bytes(), &[Field::Response, Field::Usage]);
            let tree: Value = serde_json::from_str(&completed).unwrap();
            assert_eq!(read, tree.pointer("/response/usage").filter(|value| !value.is_null()).map(from_tree));
            let delta = format!(r#"{{"type":"message_delta","usage":{usage},"delta":{{}}}}"#);
            assert_eq!(counts_at(delta.as_bytes(), &[Field::Usage]), (*usage != "null").then_some(expected));
        }
    }

    #[test]
    fn a_path_that_leads_nowhere_or_a_document_that_does_not_parse_gives_nothing() {
        let path = [Field::Message, Field::Usage];
        for data in [
            r#"{"message":{"id":"m"}}"#,
            r#"{"message":null}"#,
            r#"{"message":[{"usage":{"input_tokens":1}}]}"#,
            r#"{"usage":{"input_tokens":1}}"#,
            r#"{"message":{"usage":null}}"#,
            r#"{"message":{"usage":{"input_tokens":1}}"#,
            r#"{"message":{"usage":{"input_tokens":1}}} trailing"#,
            "",
        ] {
            assert_eq!(counts_at(data.as_bytes(), &path), None, "{data}");
        }
        let last = r#"{"message":{"usage":{"input_tokens":1}},"message":{"usage":{"input_tokens":2}}}"#;
        assert_eq!(counts_at(last.as_bytes(), &path).and_then(|counts| counts.input_tokens), Some(2));
    }

    /// Whether reading `data` as text and as bytes agree: both fail, or both give the same
    /// counts.
    fn agree(data: &[u8]) -> bool {
        let fast = top_counts(data).ok();
        let reference = read_top(serde_json::Deserializer::from_slice(data)).ok();
        fast == reference
    }

    #[test]
    fn a_body_read_as_text_reads_as_read_as_bytes() {
        let documents: &[&[u8]] = &[
            br#"{"id":"resp_mock","object":"response","created_at":1700000000,"status":"completed","model":"mock","output":[{"type":"message","id":"msg_mock","status":"completed","role":"assistant","content":[{"type":"output_text","text":"ok \"quoted\" \u00e9\n","annotations":[]}]}],"usage":{"input_tokens":10,"output_tokens":5,"total_tokens":15,"input_tokens_details":{"cached_tokens":2}}}"#,
            br#" { "usageMetadata" : { "promptTokenCount" : 3 , "candidatesTokenCount" : 4 } , "candidates" : [ { "content" : { "parts" : [ { "functionCall" : { "args" : { "usage" : { "input_tokens" : 99 } } } } ] } } ] } "#,
            br#"{"usage":null,"usageMetadata":{"promptTokenCount":3}}"#,
            br#"{"usage":{"input_tokens":1},"usage":{"input_tokens":2}}"#,
            br#"{"usa\u0067e":{"input_tokens":7}}"#,
            br#"{"usage":{"input_tokens":1e400}}"#,
            br#"{"usage":{"input_tokens":-0.5e-3,"output_tokens":18446744073709551615}}"#,
            br#"{"a":[1,-0,0.5,1E+2,2e-2,true,false,null,"",{},[],[[]],{"b":{}}]}"#,
            b"{\"a\":\"tab\tinside\"}",
            br#"{"a":"\x"}"#,
            br#"{"a":"\u12G4"}"#,
            br#"{"a":01}"#,
            br#"{"a":-}"#,
            br#"{"a":1.}"#,
            br#"{"a":1e}"#,
            br#"{"a":.5}"#,
            br#"{"a":+1}"#,
            br#"{"a":[1,]}"#,
            br#"{"a":1,}"#,
            br#"{"a" 1}"#,
            b"{a:1}",
            br#"{"a":nul}"#,
            br#"{"a":truex}"#,
            b"{} x",
            b"{}{}",
            b"{}\x0c",
            b"\xef\xbb\xbf{}",
            b"{\"a\":\"\xff\"}",
            b"{\"\xff\":1}",
            br#"[{"usage":{"input_tokens":1}}]"#,
            br#""usage""#,
            b"",
            b"   ",
            br#"{"usage":{"input_tokens":"1"},"x":{"y":[{"z":"\ud800"}]}}"#,
            br#"{"\ud800":1}"#,
        ];
        let nested = |depth: usize| {
            format!(r#"{{"a":{}1{},"usage":{{"input_tokens":4}}}}"#, "[".repeat(depth), "]".repeat(depth))
        };
        let (deep, shallow) = (nested(200), nested(60));
        for document in documents.iter().copied().chain([deep.as_bytes(), shallow.as_bytes()]) {
            assert!(agree(document), "{}", String::from_utf8_lossy(document));
            // Every prefix (a body cut short) and every one-byte change.
            for end in 0..document.len() {
                assert!(agree(&document[..end]), "{}", String::from_utf8_lossy(&document[..end]));
            }
            for at in 0..document.len() {
                for byte in *b"\"\\{}[],:0e-. \nun\x01" {
                    let mut changed = document.to_vec();
                    changed[at] = byte;
                    assert!(agree(&changed), "{}", String::from_utf8_lossy(&changed));
                }
            }
        }
        let first = top_counts(documents[0]).unwrap().unwrap();
        assert_eq!((first.input_tokens, first.input_cached_tokens), (Some(10), Some(2)));
        assert_eq!(top_counts(documents[1]).unwrap().unwrap().prompt_token_count, Some(3));
        assert_eq!(top_counts(documents[4]).unwrap().unwrap().input_tokens, Some(7));
        assert_eq!(top_counts(deep.as_bytes()).unwrap().unwrap().input_tokens, Some(4));
    }

    /// The skim gives what serde gives wherever serde reads the document, and never takes
    /// a document cut short for a whole one.
    fn skims_as_serde_reads(data: &[u8]) {
        let text = String::from_utf8_lossy(data);
        match (skim_counts(data), top_counts(data)) {
            (Some(skimmed), Ok(read)) => assert_eq!(skimmed, read, "{text}"),
            (Some(_), Err(_)) => {
                // Only a document whose brackets pair and strings end, ending with its object.
                let end = data.iter().rposition(|byte| !byte.is_ascii_whitespace()).unwrap();
                assert_eq!(data[end], b'}', "{text}");
            }
            (None, _) => {}
        }
    }

    #[test]
    fn the_skim_reads_usage_as_serde_does_and_never_a_body_cut_short() {
        let documents: &[&[u8]] = &[
            br#"{"id":"resp_mock","object":"response","created_at":1700000000,"status":"completed","model":"mock","output":[{"type":"message","id":"msg_mock","status":"completed","role":"assistant","content":[{"type":"output_text","text":"ok \"quoted\" \u00e9 {[}] \\","annotations":[]}]}],"usage":{"input_tokens":10,"output_tokens":5,"total_tokens":15,"input_tokens_details":{"cached_tokens":2}}}"#,
            br#" { "usageMetadata" : { "promptTokenCount" : 3 , "candidatesTokenCount" : 4 } , "candidates" : [ { "content" : { "parts" : [ { "functionCall" : { "args" : { "usage" : { "input_tokens" : 99 } } } } ] } } ] } "#,
            br#"{"id":"chatcmpl","choices":[{"message":{"content":"{\"usage\":{\"prompt_tokens\":1}}","tool_calls":[]}}],"usage":{"prompt_tokens":7,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":2}}}"#,
            br#"{"type":"message","content":[{"type":"text","text":"]}"}],"usage":{"input_tokens":3,"cache_read_input_tokens":100,"cache_creation_input_tokens":20,"output_tokens":9}}"#,
            br#"{"usage":null,"usageMetadata":{"promptTokenCount":3}}"#,
            br#"{"usage":{"input_tokens":1},"usage":{"input_tokens":2}}"#,
            br#"{"usa\u0067e":{"input_tokens":7}}"#,
            br#"{"usage":5,"a":[1,-0,0.5,1E+2,2e-2,true,false,null,"",{},[],[[]],{"b":{}}]}"#,
            br#"{"usage":{"input_tokens":1e400}}"#,
            b"{}",
            br#"{"id":"x"}"#,
            b"{\"a\":\"\xff\",\"usage\":{\"input_tokens\":1}}",
            br#"{"usage":{"input_tokens":9223372036854775807,"output_tokens":9223372036854775808,"cached_tokens":1}}"#,
            br#"{"usage":{"input_tokens":1.0,"output_tokens":"2","prompt_tokens":[3],"completion_tokens":{"a":4},"input_tokens":-5}}"#,
            br#"{"usage":{"prompt_tokens_details":{"cached_tokens":1,"cached_tokens":2},"input_tokens_details":null,"output_tokens":0}}"#,
            br#"{"usage":{"prompt_tokens_details":{"cached_tokens":1},"prompt_tokens_details":{"audio_tokens":1}}}"#,
        ];
        let deep = format!(r#"{{"a":{}1{},"usage":{{"input_tokens":4}}}}"#, "[".repeat(200), "]".repeat(200));
        for document in documents.iter().copied().chain([deep.as_bytes()]) {
            skims_as_serde_reads(document);
            for end in 0..document.len() {
                let cut = &document[..end];
                if !cut.trim_ascii().is_empty() && top_counts(cut).is_err() {
                    assert_eq!(skim_counts(cut), None, "cut short: {}", String::from_utf8_lossy(cut));
                }
            }
            for at in 0..document.len() {
                for byte in *b"\"\\{}[],:0e-. \nun\x01" {
                    let mut changed = document.to_vec();
                    changed[at] = byte;
                    skims_as_serde_reads(&changed);
                }
            }
        }
        assert_eq!(skim_counts(documents[0]).unwrap().unwrap().input_cached_tokens, Some(2));
        assert_eq!(skim_counts(documents[2]).unwrap().unwrap().prompt_tokens, Some(7));
        assert_eq!(skim_counts(documents[1]).unwrap().unwrap().prompt_token_count, Some(3));
        // The usual usage objects are read by the skim too; what is not plain goes to serde.
        let usual = skim_usage(br#"{"input_tokens":10,"output_tokens":5,"total_tokens":15,"input_tokens_details":{"cached_tokens":2}}"#);
        assert_eq!(
            usual.unwrap().map(|counts| (counts.input_tokens, counts.input_cached_tokens)),
            Some((Some(10), Some(2)))
        );
        for odd in [
            &br#"{"input_tokens":1.5}"#[..],
            br#"{"input_tokens":-0}"#,
            br#"{"input_tokens_details":5}"#,
            b"[]",
            b"7",
        ] {
            assert_eq!(skim_usage(odd), None, "{}", String::from_utf8_lossy(odd));
        }
        // Left to serde: an escaped key, a usage key twice, deep nesting.
        assert_eq!(skim_counts(documents[5]), None);
        assert_eq!(skim_counts(documents[6]), None);
        assert_eq!(skim_counts(deep.as_bytes()), None);
    }

    #[test]
    fn the_skim_finds_a_strings_end_at_every_length() {
        for length in 0..40 {
            for tail in ["", "\\\"", "\\\\", "\\u0022"] {
                let text = format!("{}{tail}", "x".repeat(length));
                let document =
                    format!(r#"{{"a":"{text}","b":["{text}"],"usage":{{"input_tokens":{length}}}}}"#);
                let skimmed = skim_counts(document.as_bytes()).expect("skimmed");
                assert_eq!(Ok(skimmed), top_counts(document.as_bytes()).map_err(|_| ()), "{document}");
                assert_eq!(skimmed.unwrap().input_tokens, Some(length as i64));
            }
        }
    }

    #[test]
    fn top_counts_take_usage_then_usage_metadata() {
        let both = br#"{"usageMetadata":{"promptTokenCount":3},"usage":{"input_tokens":1}}"#;
        assert_eq!(top_counts(both).unwrap().and_then(|counts| counts.input_tokens), Some(1));
        let null_usage = br#"{"usage":null,"usageMetadata":{"promptTokenCount":3}}"#;
        assert_eq!(top_counts(null_usage).unwrap().and_then(|counts| counts.prompt_token_count), Some(3));
        // A usage that is no object still is the usage (and counts nothing).
        let odd = br#"{"usage":5,"usageMetadata":{"promptTokenCount":3}}"#;
        assert_eq!(top_counts(odd).unwrap(), Some(Counts::default()));
        assert_eq!(top_counts(br#"{"id":"x"}"#).unwrap(), None);
        assert!(top_counts(b"[1]").is_err());
        assert!(top_counts(br#"{"usage":{"input_tokens":1}"#).is_err());
    }
}
