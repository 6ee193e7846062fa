//! Gemini API streams: the upstream decoder (`GenerateContentResponse` chunks → events) and
//! the client encoder (events → chunks for Gemini CLI), plus the non-streamed body.
//!
//! Decoder invariants: each chunk is a whole `GenerateContentResponse`; only
//! `candidates[0]` is read; a `functionCall` arrives whole (start, arguments and end at once);
//! `finishReason` is the clean end (the API has no other terminal); `usageMetadata` is
//! cumulative, so the last one wins.
//!
//! Encoder invariants: a function call goes out whole, in one part, once its arguments are
//! complete; the last content chunk is held back so that `finishReason` and `usageMetadata`
//! ride on it (Gemini CLI treats a stream without a `finishReason` as broken); errors are
//! Google's `{"error": {code, message, status}}`.

use serde_json::{Map, Value, json};

use super::ir::{Event, Part, StopReason, Usage, salvage_arguments};
use super::stream::{Decode, Encode, Sink, Terminal};
use super::tools::{ToolMap, sanitize_id};
use super::{ConvContext, FinalBody, sse};
use std::sync::Arc;

/// Gemini upstream → events.
#[derive(Debug)]
pub(crate) struct Decoder {
    tag: String,
    next_index: usize,
    any_tool: bool,
    finished: bool,
}

impl Decoder {
    pub(crate) fn new(tag: &str) -> Self {
        Self { tag: tag.to_string(), next_index: 0, any_tool: false, finished: false }
    }

    fn chunk(&mut self, chunk: &Value, sink: &mut Sink<'_>) {
        if let Some(error) = chunk.get("error") {
            let (code, message) = google_error_fields(error);
            sink.emit(Event::Error { code: &code, message: &message });
            return;
        }
        let candidate = chunk.pointer("/candidates/0");
        if let Some(Value::Array(parts)) = candidate.and_then(|candidate| candidate.pointer("/content/parts"))
        {
            for part in parts {
                self.part(part, sink);
            }
        }
        if let Some(usage) = chunk.get("usageMetadata") {
            sink.emit(Event::Usage(usage_of(usage)));
        }
        let finish = candidate.and_then(|candidate| candidate.get("finishReason")).and_then(Value::as_str);
        if let Some(reason) =
            finish.filter(|reason| !reason.is_empty() && *reason != "FINISH_REASON_UNSPECIFIED")
        {
            self.finished = true;
            let stop = match reason {
                "MAX_TOKENS" => StopReason::MaxTokens,
                "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
                    StopReason::ContentFilter
                }
                _ if self.any_tool => StopReason::ToolUse,
                _ => StopReason::EndTurn,
            };
            sink.emit(Event::Finish(stop));
        } else if candidate.is_none() {
            if let Some(blocked) = chunk.pointer("/promptFeedback/blockReason").and_then(Value::as_str) {
                let message = format!("The prompt was blocked ({blocked})");
                sink.emit(Event::Error { code: "content_filter", message: &message });
            }
        }
    }

    fn part(&mut self, part: &Value, sink: &mut Sink<'_>) {
        if let Some(call) = part.get("functionCall") {
            let name = call.get("name").and_then(Value::as_str).unwrap_or("");
            if name.is_empty() {
                sink.emit(Event::ToolDropped);
                return;
            }
            let index = self.next_index;
            self.next_index += 1;
            self.any_tool = true;
            let id = call
                .get("id")
                .and_then(Value::as_str)
                .map(sanitize_id)
                .filter(|id| !id.is_empty())
                .unwrap_or_else(|| format!("call_{}_{index}", self.tag));
            sink.emit(Event::ToolStart { index, id: &id, name });
            let args = match call.get("args") {
                Some(args @ Value::Object(_)) => args.to_string(),
                _ => "{}".to_string(),
            };
            sink.emit(Event::ToolArgs { index, delta: &args });
            sink.emit(Event::ToolEnd { index });
            return;
        }
        if let Some(text) = part.get("text").and_then(Value::as_str) {
            if part.get("thought").and_then(Value::as_bool) == Some(true) {
                if !text.is_empty() {
                    sink.emit(Event::Reasoning(text));
                }
                if let Some(signature) = part.get("thoughtSignature").and_then(Value::as_str) {
                    sink.emit(Event::ReasoningSignature(signature));
                }
                sink.emit(Event::ReasoningEnd);
            } else if !text.is_empty() {
                sink.emit(Event::Text(text));
            }
        }
    }
}

impl Decode for Decoder {
    fn frame(&mut self, _event: Option<&str>, data: &str, sink: &mut Sink<'_>) {
        let data = data.trim();
        if data.is_empty() {
            return;
        }
        if data == "[DONE]" {
            sink.emit(Event::Done);
            return;
        }
        match serde_json::from_str::<Value>(data) {
            Ok(chunk @ Value::Object(_)) => self.chunk(&chunk, sink),
            Ok(Value::Array(chunks)) => {
                for chunk in &chunks {
                    self.chunk(chunk, sink);
                }
            }
            Ok(_) | Err(_) => sink.malformed("Gemini API chunk"),
        }
    }

    fn json(&mut self, body: &str, sink: &mut Sink<'_>) {
        // `generateContent` answers one object; `streamGenerateContent` without `alt=sse`
        // answers an array of them.
        match serde_json::from_str::<Value>(body) {
            Ok(Value::Array(chunks)) => {
                for chunk in &chunks {
                    self.chunk(chunk, sink);
                }
            }
            Ok(chunk @ Value::Object(_)) => self.chunk(&chunk, sink),
            Ok(_) | Err(_) => sink.malformed("Gemini API body"),
        }
    }

    fn eof(&mut self, _sink: &mut Sink<'_>) {}
}

/// `(code, message)` of a Google error object (`{code, message, status}`).
fn google_error_fields(error: &Value) -> (String, String) {
    let code = error
        .get("status")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| {
            error.get("code").map(|code| code.as_str().map_or_else(|| code.to_string(), str::to_string))
        })
        .unwrap_or_default();
    let message =
        error.get("message").and_then(Value::as_str).map_or_else(|| error.to_string(), str::to_string);
    (code, message)
}

fn usage_of(usage: &Value) -> Usage {
    let count = |key: &str| usage.get(key).and_then(Value::as_u64).unwrap_or(0);
    let thoughts = count("thoughtsTokenCount");
    Usage {
        input: count("promptTokenCount") + count("toolUsePromptTokenCount"),
        output: count("candidatesTokenCount") + thoughts,
        cached: count("cachedContentTokenCount"),
        cache_write: 0,
        reasoning: thoughts,
    }
}

/// `usageMetadata` for a Gemini client (`candidatesTokenCount` excludes thoughts).
pub(crate) fn usage_json(usage: &Usage) -> Value {
    let candidates = usage.output.saturating_sub(usage.reasoning);
    let mut out = json!({
        "promptTokenCount": usage.input,
        "candidatesTokenCount": candidates,
        "totalTokenCount": usage.input + usage.output,
    });
    if usage.cached > 0 {
        out["cachedContentTokenCount"] = json!(usage.cached);
    }
    if usage.reasoning > 0 {
        out["thoughtsTokenCount"] = json!(usage.reasoning);
    }
    out
}

/// The Gemini spelling of a stop reason.
fn finish_name(stop: Option<StopReason>) -> &'static str {
    match stop {
        Some(StopReason::MaxTokens) => "MAX_TOKENS",
        Some(StopReason::ContentFilter) => "SAFETY",
        Some(StopReason::EndTurn | StopReason::ToolUse | StopReason::StopSequence) | None => "STOP",
    }
}

/// A Google error body: `{"error": {"code": 500, "message": …, "status": "INTERNAL"}}`.
pub(crate) fn error_json(http: u16, status: &str, message: &str) -> Value {
    json!({"error": {"code": http, "message": message, "status": status}})
}

#[derive(Debug, Default)]
struct PendingCall {
    id: String,
    name: String,
    args: String,
    done: bool,
}

/// Events → Gemini chunks (Gemini CLI).
pub(crate) struct Encoder {
    id: String,
    model: String,
    map: Arc<ToolMap>,
    /// The last content parts, held back until the next content or the end.
    pending: Vec<Value>,
    calls: Vec<Option<PendingCall>>,
    usage: Option<Usage>,
    stop: Option<StopReason>,
}

impl Encoder {
    pub(crate) fn new(ctx: &ConvContext, id: &str) -> Self {
        Self {
            id: id.to_string(),
            model: ctx.client_model.clone(),
            map: Arc::clone(&ctx.tools),
            pending: Vec::new(),
            calls: Vec::new(),
            usage: None,
            stop: None,
        }
    }

    fn push(&mut self, part: Value, out: &mut Vec<u8>) {
        self.flush(None, out);
        self.pending.push(part);
    }

    /// Write the held parts (with `finish` on the last chunk).
    fn flush(&mut self, finish: Option<&str>, out: &mut Vec<u8>) {
        if self.pending.is_empty() && finish.is_none() {
            return;
        }
        let parts = std::mem::take(&mut self.pending);
        let parts = if parts.is_empty() { vec![json!({"text": ""})] } else { parts };
        let mut candidate = json!({"content": {"role": "model", "parts": parts}, "index": 0});
        let mut chunk = Map::new();
        if let Some(finish) = finish {
            candidate["finishReason"] = json!(finish);
        }
        chunk.insert("candidates".into(), json!([candidate]));
        if finish.is_some() {
            chunk.insert("usageMetadata".into(), usage_json(&self.usage.unwrap_or_default()));
        }
        chunk.insert("modelVersion".into(), json!(self.model));
        chunk.insert("responseId".into(), json!(self.id));
        sse::write_data(out, &Value::Object(chunk));
    }

    fn call_part(&self, call: &PendingCall) -> Value {
        let client = self.map.client(&call.name);
        let args: Value = serde_json::from_str(&salvage_arguments(&call.args)).unwrap_or_else(|_| json!({}));
        let args = if args.is_object() { args } else { json!({}) };
        json!({"functionCall": {"name": client.name, "args": args, "id": call.id}})
    }

    fn end_calls(&mut self, out: &mut Vec<u8>) {
        let open: Vec<usize> = (0..self.calls.len())
            .filter(|index| self.calls[*index].as_ref().is_some_and(|call| !call.done))
            .collect();
        for index in open {
            self.end_call(index, out);
        }
    }

    fn end_call(&mut self, index: usize, out: &mut Vec<u8>) {
        let Some(Some(call)) = self.calls.get_mut(index) else {
            return;
        };
        if call.done {
            return;
        }
        call.done = true;
        let call =
            PendingCall { id: call.id.clone(), name: call.name.clone(), args: call.args.clone(), done: true };
        let part = self.call_part(&call);
        self.push(part, out);
    }
}

impl Encode for Encoder {
    fn event(&mut self, event: &Event<'_>, out: &mut Vec<u8>) {
        match event {
            Event::Text(text) => {
                if !text.is_empty() {
                    self.push(json!({"text": text}), out);
                }
            }
            Event::Reasoning(text) => {
                if !text.is_empty() {
                    self.push(json!({"text": text, "thought": true}), out);
                }
            }
            Event::ToolStart { index, id, name } => {
                if self.calls.len() <= *index {
                    self.calls.resize_with(*index + 1, || None);
                }
                self.calls[*index] = Some(PendingCall {
                    id: sanitize_id(id),
                    name: (*name).to_string(),
                    args: String::new(),
                    done: false,
                });
            }
            Event::ToolArgs { index, delta } => {
                if let Some(Some(call)) = self.calls.get_mut(*index) {
                    call.args.push_str(delta);
                }
            }
            Event::ToolEnd { index } => self.end_call(*index, out),
            Event::Usage(usage) => self.usage = Some(*usage),
            Event::Finish(stop) => self.stop = Some(*stop),
            Event::ReasoningSignature(_)
            | Event::ReasoningEncrypted(_)
            | Event::ReasoningEnd
            | Event::ToolDropped
            | Event::Error { .. }
            | Event::Done => {}
        }
    }

    fn terminal(&mut self, terminal: Terminal<'_>, out: &mut Vec<u8>) {
        self.end_calls(out);
        match terminal {
            Terminal::Complete => {
                let finish = finish_name(self.stop);
                self.flush(Some(finish), out);
            }
            Terminal::Truncated => {
                self.flush(None, out);
                sse::write_data(out, &error_json(502, "UNAVAILABLE", "The upstream stream ended early"));
            }
            Terminal::Failed { code, message } => {
                self.flush(None, out);
                let _ = code;
                sse::write_data(out, &error_json(502, "UNAVAILABLE", message));
            }
        }
    }
}

/// The non-streamed Gemini body (`generateContent`).
pub(crate) fn write_body(body: &FinalBody<'_>, out: &mut Vec<u8>) {
    if let Some(failure) = body.failed {
        if body.parts.is_empty() || failure.class != "stream_truncated" {
            sse::write_json(out, &error_json(502, "UNAVAILABLE", failure.message));
            return;
        }
    }
    let mut parts = Vec::new();
    for part in &body.parts {
        match part {
            Part::Text(text) => parts.push(json!({"text": text})),
            Part::Reasoning(reasoning) if !reasoning.text.is_empty() => {
                parts.push(json!({"text": reasoning.text, "thought": true}));
            }
            Part::ToolCall(call) => {
                let args: Value = serde_json::from_str(&call.arguments).unwrap_or_else(|_| json!({}));
                let args = if args.is_object() { args } else { json!({}) };
                parts.push(json!({"functionCall": {"name": call.name, "args": args, "id": call.id}}));
            }
            Part::Reasoning(_) | Part::Image(_) | Part::ToolResult(_) => {}
        }
    }
    if parts.is_empty() {
        parts.push(json!({"text": ""}));
    }
    let value = json!({
        "candidates": [{
            "content": {"role": "model", "parts": parts},
            "finishReason": finish_name(body.stop),
            "index": 0
        }],
        "usageMetadata": usage_json(&body.usage),
        "modelVersion": body.model,
        "responseId": body.id
    });
    sse::write_json(out, &value);
}
