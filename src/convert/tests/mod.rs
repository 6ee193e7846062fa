//! Golden tests for the conversion module: conversion.md §8 cases, real client traffic,
//! split streams, malformed upstreams.
//!
//! Golden files live in `tests/fixtures/convert/golden/`. A missing golden file is written
//! from the current output (then reviewed and committed); `AIGATE_BLESS=1` rewrites them all.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines, clippy::format_collect)]

mod directions;
mod gemini;
mod messages_streams;
mod real;
mod requests;
mod robustness;
mod streams;
mod whole_bodies;

use serde_json::{Value, json};

use super::{ConvContext, Converted, Outcome, Quirks, ResponseCache, StreamConverter, convert_request};
use crate::providers::Api;

pub(super) fn fixture_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/convert")
}

pub(super) fn fixture(name: &str) -> String {
    fs_err::read_to_string(fixture_dir().join(name)).unwrap()
}

pub(super) fn fixture_json(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).unwrap()
}

/// Compare with `golden/<name>.json` (whole value), writing it when missing or blessing.
pub(super) fn golden(name: &str, actual: &Value) {
    let path = fixture_dir().join("golden").join(format!("{name}.json"));
    let text = serde_json::to_string_pretty(actual).unwrap() + "\n";
    if std::env::var_os("AIGATE_BLESS").is_some() || !path.exists() {
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(&path, &text).unwrap();
        return;
    }
    let expected: Value = serde_json::from_str(&fs_err::read_to_string(&path).unwrap()).unwrap();
    pretty_assertions::assert_eq!(&expected, actual, "golden {name}");
}

pub(super) fn convert_full(
    client: Api,
    upstream: Api,
    body: &Value,
    quirks: &Quirks,
    cache: &ResponseCache,
) -> Converted {
    convert_request(client, upstream, body.to_string().as_bytes(), Some("up-model"), quirks, cache).unwrap()
}

/// Convert a request and return the upstream body as JSON.
pub(super) fn convert(client: Api, upstream: Api, body: &Value, quirks: &Quirks) -> Value {
    let converted = convert_full(client, upstream, body, quirks, &ResponseCache::new());
    serde_json::from_slice(&converted.body).unwrap()
}

pub(super) fn context(client: Api, upstream: Api, body: &Value) -> ConvContext {
    convert_full(client, upstream, body, &Quirks::default(), &ResponseCache::new()).ctx
}

/// Run chunks through a converter; returns the client bytes and the outcome.
pub(super) fn run(
    ctx: &ConvContext,
    upstream: Api,
    client: Api,
    stream: bool,
    chunks: &[&[u8]],
) -> (Vec<u8>, Outcome) {
    let mut converter = StreamConverter::new(ctx.clone(), upstream, client, stream);
    let mut out = Vec::new();
    for chunk in chunks {
        converter.feed(chunk, &mut out);
    }
    converter.finish(&mut out);
    // A second finish writes nothing.
    let len = out.len();
    converter.finish(&mut out);
    assert_eq!(out.len(), len, "finish is once-guarded");
    (out, converter.outcome())
}

/// Client SSE as `(event name or "data", data JSON or string)`, ids and times normalised.
pub(super) fn events(bytes: &[u8]) -> Vec<(String, Value)> {
    super::sse::parse_all(bytes)
        .into_iter()
        .map(|(event, data)| {
            let value = serde_json::from_str(&data).unwrap_or(Value::String(data));
            (event.unwrap_or_else(|| "data".to_string()), normalize(value))
        })
        .collect()
}

/// As [`events`], as one JSON array `[[event, data], …]` for golden files.
pub(super) fn events_json(bytes: &[u8]) -> Value {
    Value::Array(events(bytes).into_iter().map(|(event, data)| json!([event, data])).collect())
}

/// Random ids become `prefix*`; timestamps become 0.
pub(super) fn normalize(value: Value) -> Value {
    match value {
        Value::String(text) => Value::String(normalize_id(&text)),
        Value::Array(items) => Value::Array(items.into_iter().map(normalize).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, item)| {
                    let item = if matches!(key.as_str(), "created" | "created_at") && item.is_number() {
                        json!(0)
                    } else {
                        normalize(item)
                    };
                    (key, item)
                })
                .collect(),
        ),
        other => other,
    }
}

fn normalize_id(text: &str) -> String {
    for prefix in ["resp_", "msg_", "rs_", "fc_", "chatcmpl-", "gem_"] {
        if let Some(rest) = text.strip_prefix(prefix) {
            if rest.len() == 24 && rest.bytes().all(|b| b.is_ascii_hexdigit()) {
                return format!("{prefix}*");
            }
        }
    }
    // Minted call ids embed the first 8 hex characters of the response id.
    if let Some(rest) = text.strip_prefix("call_") {
        if let Some((tag, index)) = rest.split_once('_') {
            if tag.len() == 8
                && tag.bytes().all(|b| b.is_ascii_hexdigit())
                && index.bytes().all(|b| b.is_ascii_digit())
            {
                return format!("call_*_{index}");
            }
        }
    }
    text.to_string()
}

/// `data: <chunk>\n\n` for each Chat chunk, then `data: [DONE]` when `done`.
pub(super) fn chat_sse(chunks: &[Value], done: bool) -> String {
    let mut out = String::new();
    for chunk in chunks {
        out.push_str(&format!("data: {chunk}\n\n"));
    }
    if done {
        out.push_str("data: [DONE]\n\n");
    }
    out
}

/// A Chat chunk with `choices[0].delta = delta`.
pub(super) fn delta(delta: Value) -> Value {
    json!({"id": "chatcmpl-up", "object": "chat.completion.chunk", "created": 1, "model": "up",
           "choices": [{"index": 0, "delta": delta, "finish_reason": null}]})
}

pub(super) fn finish(reason: &str) -> Value {
    json!({"id": "chatcmpl-up", "object": "chat.completion.chunk", "created": 1, "model": "up",
           "choices": [{"index": 0, "delta": {}, "finish_reason": reason}]})
}

pub(super) fn usage_chunk(usage: Value) -> Value {
    json!({"id": "chatcmpl-up", "object": "chat.completion.chunk", "created": 1, "model": "up", "choices": [], "usage": usage})
}

/// A plain Codex request with the given input items and tools.
pub(super) fn codex_request(input: Value, tools: Value) -> Value {
    json!({"model": "gpt-5-codex", "instructions": "You are Codex.", "input": input, "tools": tools,
           "tool_choice": "auto", "parallel_tool_calls": true, "stream": true, "store": false,
           "include": ["reasoning.encrypted_content"]})
}

/// The proxy moves converters across tasks and shares the cache and contexts.
#[test]
fn thread_safety() {
    fn send<T: Send>() {}
    fn send_sync<T: Send + Sync>() {}
    send::<StreamConverter>();
    send_sync::<ResponseCache>();
    send_sync::<ConvContext>();
    send_sync::<Quirks>();
}
