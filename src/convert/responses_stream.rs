//! Responses streams: the client encoder (conversion.md §2: the event machine Codex consumes)
//! and the upstream decoder (Responses SSE → events, for Chat and Messages clients).
//!
//! Encoder invariants: `sequence_number` counts from 0 per stream; an `output_index` is
//! allocated when its item is added and reused by every delta and done; reasoning closes
//! before the message and tool items open; `response.output_item.done` carries the whole item
//! (Codex treats it as authoritative); exactly one terminal, and `response.completed.usage`
//! always has integer `input_tokens`, `output_tokens` and `total_tokens`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::ir::{Event, Part, StopReason, ToolCall, ToolKind, Usage};
use super::responses::mark_reasoning;
use super::stream::{Decode, Encode, Sink, Terminal};
use super::tools::{ToolMap, sanitize_id};
use super::util::{CachedTokens, ReasoningTokens};
use super::{ConvContext, FinalBody, sse, util};

#[derive(Serialize)]
struct ItemDelta<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    sequence_number: u64,
    item_id: &'a str,
    output_index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_index: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary_index: Option<u32>,
    delta: &'a str,
}

#[derive(Debug)]
struct OpenReasoning {
    oi: usize,
    id: String,
    text: String,
    signature: Option<String>,
}

#[derive(Debug)]
struct OpenMessage {
    oi: usize,
    id: String,
    text: String,
}

#[derive(Debug)]
struct OpenTool {
    oi: usize,
    item_id: String,
    call: ToolCall,
}

/// Events → Responses SSE (Codex).
pub(crate) struct Encoder {
    id: String,
    created_at: u64,
    model: String,
    map: Arc<ToolMap>,
    seq: u64,
    next_oi: usize,
    started: bool,
    reasoning: Option<OpenReasoning>,
    /// A signature that arrived after its reasoning item was closed goes to that item.
    message: Option<OpenMessage>,
    tools: Vec<Option<OpenTool>>,
    done: Vec<(usize, Value)>,
    usage: Usage,
    stop: Option<StopReason>,
}

impl Encoder {
    pub(crate) fn new(ctx: &ConvContext, id: &str) -> Self {
        Self {
            id: id.to_string(),
            created_at: util::now(),
            model: ctx.client_model.clone(),
            map: Arc::clone(&ctx.tools),
            seq: 0,
            next_oi: 0,
            started: false,
            reasoning: None,
            message: None,
            tools: Vec::new(),
            done: Vec::new(),
            usage: Usage::default(),
            stop: None,
        }
    }

    fn next_seq(&mut self) -> u64 {
        let seq = self.seq;
        self.seq += 1;
        seq
    }

    /// Write `{type, sequence_number, …fields}`.
    fn write(&mut self, kind: &str, fields: Value, out: &mut Vec<u8>) {
        let mut object = Map::new();
        object.insert("type".into(), json!(kind));
        object.insert("sequence_number".into(), json!(self.next_seq()));
        if let Value::Object(fields) = fields {
            object.extend(fields);
        }
        sse::write_event(out, kind, &Value::Object(object));
    }

    fn envelope(&self, status: &'static str, output: Vec<Value>, usage: Option<&Usage>) -> Value {
        to_value(&ResponseBody {
            id: &self.id,
            object: "response",
            created_at: self.created_at,
            status,
            error: Value::Null,
            incomplete_details: Value::Null,
            model: &self.model,
            output: output.into_iter().map(OutputItem::Other).collect(),
            usage: usage.map(UsageBody::of),
        })
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let response = self.envelope("in_progress", Vec::new(), None);
        self.write("response.created", json!({ "response": response }), out);
        self.write("response.in_progress", json!({ "response": response }), out);
    }

    fn close_reasoning(&mut self, out: &mut Vec<u8>) {
        let Some(reasoning) = self.reasoning.take() else {
            return;
        };
        let OpenReasoning { oi, id, text, signature } = reasoning;
        self.write(
            "response.reasoning_summary_text.done",
            json!({"item_id": id, "output_index": oi, "summary_index": 0, "text": text}),
            out,
        );
        self.write(
            "response.reasoning_summary_part.done",
            json!({"item_id": id, "output_index": oi, "summary_index": 0, "part": {"type": "summary_text", "text": text}}),
            out,
        );
        let item = reasoning_item(&id, &text, signature.as_deref());
        self.write("response.output_item.done", json!({"output_index": oi, "item": item}), out);
        self.done.push((oi, item));
    }

    fn close_message(&mut self, out: &mut Vec<u8>) {
        let Some(OpenMessage { oi, id, text }) = self.message.take() else {
            return;
        };
        self.write(
            "response.output_text.done",
            json!({"item_id": id, "output_index": oi, "content_index": 0, "text": text}),
            out,
        );
        self.write(
            "response.content_part.done",
            json!({"item_id": id, "output_index": oi, "content_index": 0,
                   "part": {"type": "output_text", "text": text, "annotations": []}}),
            out,
        );
        let item = message_item(&id, &text);
        self.write("response.output_item.done", json!({"output_index": oi, "item": item}), out);
        self.done.push((oi, item));
    }

    fn close_tools(&mut self, out: &mut Vec<u8>) {
        let tools: Vec<OpenTool> = self.tools.iter_mut().filter_map(Option::take).collect();
        for OpenTool { oi, item_id, mut call } in tools {
            if call.kind != ToolKind::Custom {
                call.arguments = super::ir::salvage_arguments(&call.arguments);
            }
            let item = tool_item(&item_id, &call);
            match call.kind {
                ToolKind::Function => self.write(
                    "response.function_call_arguments.done",
                    json!({"item_id": item_id, "output_index": oi, "arguments": call.arguments}),
                    out,
                ),
                ToolKind::Custom => {
                    let input = item.get("input").cloned().unwrap_or_else(|| json!(""));
                    self.write(
                        "response.custom_tool_call_input.delta",
                        json!({"item_id": item_id, "output_index": oi, "delta": input}),
                        out,
                    );
                    self.write(
                        "response.custom_tool_call_input.done",
                        json!({"item_id": item_id, "output_index": oi, "input": input}),
                        out,
                    );
                }
                ToolKind::LocalShell | ToolKind::ToolSearch => {}
            }
            self.write("response.output_item.done", json!({"output_index": oi, "item": item}), out);
            self.done.push((oi, item));
        }
    }

    fn finish_items(&mut self, out: &mut Vec<u8>) {
        self.close_reasoning(out);
        self.close_message(out);
        self.close_tools(out);
    }

    fn output(&mut self) -> Vec<Value> {
        let mut done = std::mem::take(&mut self.done);
        done.sort_by_key(|(oi, _)| *oi);
        done.into_iter().map(|(_, item)| item).collect()
    }

    fn failed(&mut self, code: &str, message: &str, out: &mut Vec<u8>) {
        // Codex acts on a few codes (context window, quota, overload): map an upstream's own.
        let code = super::responses_error_code(code, message);
        self.start(out);
        let mut response = self.envelope("failed", Vec::new(), Some(&self.usage));
        response["error"] = json!({"code": code, "message": message});
        self.write("response.failed", json!({ "response": response }), out);
    }
}

/// One delta frame (the hot path: a small borrowed struct, no `Value`).
fn write_delta(
    seq: &mut u64,
    kind: &'static str,
    item: (&str, usize),
    index: (Option<u32>, Option<u32>),
    delta: &str,
    out: &mut Vec<u8>,
) {
    let frame = ItemDelta {
        kind,
        sequence_number: *seq,
        item_id: item.0,
        output_index: item.1,
        content_index: index.0,
        summary_index: index.1,
        delta,
    };
    *seq += 1;
    sse::write_event(out, kind, &frame);
}

/// A Responses `usage` object, every integer present (Codex fails to parse it otherwise);
/// typed, so a whole body is written without building it.
#[derive(Serialize)]
pub(crate) struct UsageBody {
    input_tokens: u64,
    input_tokens_details: CachedTokens,
    output_tokens: u64,
    output_tokens_details: ReasoningTokens,
    total_tokens: u64,
}

impl UsageBody {
    pub(crate) fn of(usage: &Usage) -> Self {
        Self {
            input_tokens: usage.input,
            input_tokens_details: CachedTokens::of(usage),
            output_tokens: usage.output,
            output_tokens_details: ReasoningTokens::of(usage),
            total_tokens: usage.input.saturating_add(usage.output),
        }
    }
}

/// `value` as a JSON value (the typed bodies here always serialise).
fn to_value(value: &impl Serialize) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

pub(crate) fn reasoning_item(id: &str, text: &str, signature: Option<&str>) -> Value {
    json!({
        "type": "reasoning", "id": id,
        "summary": [{"type": "summary_text", "text": text}],
        "encrypted_content": mark_reasoning(text, signature)
    })
}

/// A Responses `message` output item: one `output_text` part.
#[derive(Serialize)]
pub(crate) struct MessageItem<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: Cow<'a, str>,
    status: &'static str,
    role: &'static str,
    content: [OutputText<'a>; 1],
}

#[derive(Serialize)]
struct OutputText<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    text: &'a str,
    annotations: [(); 0],
}

impl<'a> MessageItem<'a> {
    pub(crate) fn new(id: impl Into<Cow<'a, str>>, text: &'a str) -> Self {
        Self {
            kind: "message",
            id: id.into(),
            status: "completed",
            role: "assistant",
            content: [OutputText { kind: "output_text", text, annotations: [] }],
        }
    }
}

pub(crate) fn message_item(id: &str, text: &str) -> Value {
    to_value(&MessageItem::new(id, text))
}

/// `{"input": "…"}` → the raw string; anything else stays as it came.
fn unwrap_custom_input(arguments: &str) -> String {
    match serde_json::from_str::<Value>(arguments) {
        Ok(Value::Object(object)) => match object.get("input") {
            Some(Value::String(input)) => input.clone(),
            Some(other) => other.to_string(),
            None => arguments.to_string(),
        },
        _ => arguments.to_string(),
    }
}

pub(crate) fn tool_item(item_id: &str, call: &ToolCall) -> Value {
    match call.kind {
        ToolKind::Function => {
            let mut item = Map::new();
            item.insert("type".into(), json!("function_call"));
            item.insert("id".into(), json!(item_id));
            item.insert("call_id".into(), json!(call.id));
            item.insert("name".into(), json!(call.name));
            if let Some(namespace) = &call.namespace {
                item.insert("namespace".into(), json!(namespace));
            }
            item.insert("arguments".into(), json!(call.arguments));
            item.insert("status".into(), json!("completed"));
            Value::Object(item)
        }
        ToolKind::Custom => json!({
            "type": "custom_tool_call", "id": item_id, "call_id": call.id, "name": call.name,
            "input": unwrap_custom_input(&call.arguments), "status": "completed"
        }),
        ToolKind::ToolSearch => json!({
            "type": "tool_search_call", "id": item_id, "call_id": call.id, "execution": "client",
            "arguments": serde_json::from_str::<Value>(&call.arguments).unwrap_or_else(|_| json!({})),
            "status": "completed"
        }),
        ToolKind::LocalShell => {
            let arguments: Value = serde_json::from_str(&call.arguments).unwrap_or_else(|_| json!({}));
            let command = match arguments.get("command") {
                Some(Value::String(command)) => json!(["bash", "-lc", command]),
                Some(command @ Value::Array(_)) => command.clone(),
                _ => json!([]),
            };
            json!({
                "type": "local_shell_call", "id": item_id, "call_id": call.id, "status": "completed",
                "action": {
                    "type": "exec", "command": command,
                    "working_directory": arguments.get("workdir").cloned().unwrap_or(Value::Null),
                    "timeout_ms": arguments.get("timeout_ms").cloned().unwrap_or(Value::Null),
                    "env": {}
                }
            })
        }
    }
}

impl Encode for Encoder {
    fn event(&mut self, event: &Event<'_>, out: &mut Vec<u8>) {
        match event {
            Event::Reasoning(text) => {
                self.start(out);
                if self.reasoning.is_none() {
                    let oi = self.next_oi;
                    self.next_oi += 1;
                    let id = util::mint_id("rs_");
                    self.write(
                        "response.output_item.added",
                        json!({"output_index": oi, "item": {"type": "reasoning", "id": id, "summary": []}}),
                        out,
                    );
                    self.write(
                        "response.reasoning_summary_part.added",
                        json!({"item_id": id, "output_index": oi, "summary_index": 0,
                               "part": {"type": "summary_text", "text": ""}}),
                        out,
                    );
                    self.reasoning = Some(OpenReasoning { oi, id, text: String::new(), signature: None });
                }
                let Some(reasoning) = self.reasoning.as_mut() else {
                    return;
                };
                reasoning.text.push_str(text);
                let item = (reasoning.id.as_str(), reasoning.oi);
                write_delta(
                    &mut self.seq,
                    "response.reasoning_summary_text.delta",
                    item,
                    (None, Some(0)),
                    text,
                    out,
                );
            }
            Event::ReasoningSignature(signature) => {
                if let Some(reasoning) = self.reasoning.as_mut() {
                    reasoning.signature.get_or_insert_with(String::new).push_str(signature);
                }
            }
            Event::ReasoningEnd => self.close_reasoning(out),
            Event::Text(text) => {
                self.start(out);
                self.close_reasoning(out);
                if self.message.is_none() {
                    let oi = self.next_oi;
                    self.next_oi += 1;
                    let id = util::mint_id("msg_");
                    self.write(
                        "response.output_item.added",
                        json!({"output_index": oi, "item": {"type": "message", "id": id, "status": "in_progress",
                               "role": "assistant", "content": []}}),
                        out,
                    );
                    self.write(
                        "response.content_part.added",
                        json!({"item_id": id, "output_index": oi, "content_index": 0,
                               "part": {"type": "output_text", "text": "", "annotations": []}}),
                        out,
                    );
                    self.message = Some(OpenMessage { oi, id, text: String::new() });
                }
                let Some(message) = self.message.as_mut() else {
                    return;
                };
                message.text.push_str(text);
                let item = (message.id.as_str(), message.oi);
                write_delta(&mut self.seq, "response.output_text.delta", item, (Some(0), None), text, out);
            }
            Event::ToolStart { index, id, name } => {
                self.start(out);
                self.close_reasoning(out);
                let client = self.map.client(name);
                let oi = self.next_oi;
                self.next_oi += 1;
                let item_id = util::mint_id("fc_");
                let call = ToolCall {
                    id: sanitize_id(id),
                    name: client.name,
                    namespace: client.namespace,
                    arguments: String::new(),
                    kind: client.kind,
                };
                let mut item = tool_item(&item_id, &call);
                item["status"] = json!("in_progress");
                match call.kind {
                    ToolKind::Function => item["arguments"] = json!(""),
                    ToolKind::Custom => item["input"] = json!(""),
                    ToolKind::LocalShell => {}
                    ToolKind::ToolSearch => item["arguments"] = json!({}),
                }
                self.write("response.output_item.added", json!({"output_index": oi, "item": item}), out);
                if self.tools.len() <= *index {
                    self.tools.resize_with(*index + 1, || None);
                }
                self.tools[*index] = Some(OpenTool { oi, item_id, call });
            }
            Event::ToolArgs { index, delta } => {
                let Some(tool) = self.tools.get_mut(*index).and_then(Option::as_mut) else {
                    return;
                };
                tool.call.arguments.push_str(delta);
                if tool.call.kind == ToolKind::Function && !delta.is_empty() {
                    let item = (tool.item_id.as_str(), tool.oi);
                    write_delta(
                        &mut self.seq,
                        "response.function_call_arguments.delta",
                        item,
                        (None, None),
                        delta,
                        out,
                    );
                }
            }
            Event::Usage(usage) => self.usage = *usage,
            Event::Finish(stop) => self.stop = Some(*stop),
            // Foreign encrypted reasoning never reaches Codex: only our marked copy does.
            Event::ReasoningEncrypted(_)
            | Event::ToolEnd { .. }
            | Event::ToolDropped
            | Event::Error { .. }
            | Event::Done => {}
        }
    }

    fn terminal(&mut self, terminal: Terminal<'_>, out: &mut Vec<u8>) {
        match terminal {
            Terminal::Complete | Terminal::Truncated => {
                self.start(out);
                self.finish_items(out);
                let output = self.output();
                if terminal == Terminal::Truncated && output.is_empty() {
                    self.failed("stream_truncated", "The upstream stream ended before any output", out);
                    return;
                }
                let incomplete = match (terminal, self.stop) {
                    (Terminal::Truncated, _) => Some("interrupted"),
                    (_, Some(StopReason::MaxTokens)) => Some("max_output_tokens"),
                    (_, Some(StopReason::ContentFilter)) => Some("content_filter"),
                    _ => None,
                };
                let mut response = self.envelope(
                    if incomplete.is_some() { "incomplete" } else { "completed" },
                    output,
                    Some(&self.usage),
                );
                if let Some(reason) = incomplete {
                    response["incomplete_details"] = json!({ "reason": reason });
                }
                self.write("response.completed", json!({ "response": response }), out);
            }
            Terminal::Failed { code, message } => self.failed(code, message, out),
        }
    }
}

/// A Responses `response` object: the non-streamed body, and what the stream's
/// `response.*` events carry. Typed, so a whole body is written without building it as a
/// `Value` first (which cost most of a converted small request, `bench/PROFILE.md`).
#[derive(Serialize)]
struct ResponseBody<'a> {
    id: &'a str,
    object: &'static str,
    created_at: u64,
    status: &'static str,
    error: Value,
    incomplete_details: Value,
    model: &'a str,
    output: Vec<OutputItem<'a>>,
    /// `null` until the stream's end.
    usage: Option<UsageBody>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum OutputItem<'a> {
    Message(MessageItem<'a>),
    Other(Value),
}

pub(crate) fn write_body(body: &FinalBody<'_>, out: &mut Vec<u8>) {
    let mut output = Vec::new();
    for part in &body.parts {
        match part {
            Part::Reasoning(reasoning) if !reasoning.text.is_empty() => {
                output.push(OutputItem::Other(reasoning_item(
                    &util::mint_id("rs_"),
                    &reasoning.text,
                    reasoning.signature.as_deref(),
                )));
            }
            Part::Text(text) => {
                output.push(OutputItem::Message(MessageItem::new(util::mint_id("msg_"), text)));
            }
            Part::ToolCall(call) => output.push(OutputItem::Other(tool_item(&util::mint_id("fc_"), call))),
            Part::Reasoning(_) | Part::Image(_) | Part::ToolResult(_) => {}
        }
    }
    let (status, incomplete, error) = match (body.failed, body.stop) {
        (Some(failure), _) if failure.class == "stream_truncated" && !output.is_empty() => {
            ("incomplete", json!({"reason": "interrupted"}), Value::Null)
        }
        (Some(failure), _) => {
            ("failed", Value::Null, json!({"code": failure.code, "message": failure.message}))
        }
        (None, Some(StopReason::MaxTokens)) => {
            ("incomplete", json!({"reason": "max_output_tokens"}), Value::Null)
        }
        (None, Some(StopReason::ContentFilter)) => {
            ("incomplete", json!({"reason": "content_filter"}), Value::Null)
        }
        (None, _) => ("completed", Value::Null, Value::Null),
    };
    let value = ResponseBody {
        id: body.id,
        object: "response",
        created_at: util::now(),
        status,
        error,
        incomplete_details: incomplete,
        model: body.model,
        output,
        usage: Some(UsageBody::of(&body.usage)),
    };
    sse::write_json(out, &value);
}

#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    delta: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    item_id: Option<Cow<'a, str>>,
    #[serde(default)]
    output_index: Option<usize>,
    #[serde(default)]
    item: Option<Value>,
    #[serde(default)]
    response: Option<Value>,
    #[serde(default)]
    code: Option<Value>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Debug, Default)]
struct ToolTrack {
    index: usize,
    streamed: bool,
    custom: bool,
}

/// Responses upstream → events.
#[derive(Debug, Default)]
pub(crate) struct Decoder {
    /// Item id (or `#<output_index>`) → tool.
    tools: HashMap<String, ToolTrack>,
    next_tool: usize,
    text_streamed: bool,
    reasoning_streamed: bool,
}

fn item_key(item_id: Option<&str>, output_index: Option<usize>) -> String {
    match (item_id, output_index) {
        (Some(id), _) if !id.is_empty() => id.to_string(),
        (_, Some(index)) => format!("#{index}"),
        _ => String::new(),
    }
}

fn response_usage(response: &Value) -> Option<Usage> {
    let usage = response.get("usage").filter(|usage| usage.is_object())?;
    let number = |pointer: &str| usage.pointer(pointer).and_then(Value::as_u64).unwrap_or(0);
    Some(Usage {
        input: number("/input_tokens"),
        output: number("/output_tokens"),
        cached: number("/input_tokens_details/cached_tokens"),
        cache_write: 0,
        reasoning: number("/output_tokens_details/reasoning_tokens"),
    })
}

impl Decoder {
    fn item_added(&mut self, key: String, item: &Value, sink: &mut Sink<'_>) {
        let kind = item.get("type").and_then(Value::as_str).unwrap_or("");
        if !matches!(kind, "function_call" | "custom_tool_call") || self.tools.contains_key(&key) {
            return;
        }
        let index = self.next_tool;
        self.next_tool += 1;
        let id = item.get("call_id").and_then(Value::as_str).unwrap_or("");
        let name = item.get("name").and_then(Value::as_str).unwrap_or("");
        sink.emit(Event::ToolStart { index, id, name });
        self.tools.insert(key, ToolTrack { index, streamed: false, custom: kind == "custom_tool_call" });
    }

    fn item_done(&mut self, key: String, item: &Value, sink: &mut Sink<'_>) {
        match item.get("type").and_then(Value::as_str).unwrap_or("") {
            kind @ ("function_call" | "custom_tool_call") => {
                self.item_added(key.clone(), item, sink);
                let Some(track) = self.tools.get(&key) else {
                    return;
                };
                if !track.streamed {
                    let arguments = if kind == "custom_tool_call" {
                        json!({"input": item.get("input").and_then(Value::as_str).unwrap_or("")}).to_string()
                    } else {
                        item.get("arguments").and_then(Value::as_str).unwrap_or("").to_string()
                    };
                    sink.emit(Event::ToolArgs { index: track.index, delta: &arguments });
                }
                sink.emit(Event::ToolEnd { index: track.index });
            }
            "reasoning" => {
                if !self.reasoning_streamed {
                    let summary = item
                        .get("summary")
                        .and_then(Value::as_array)
                        .map(|parts| parts.iter().filter_map(super::text_of).collect::<Vec<_>>().join("\n\n"))
                        .unwrap_or_default();
                    if !summary.is_empty() {
                        sink.emit(Event::Reasoning(&summary));
                    }
                }
                if let Some(encrypted) = item.get("encrypted_content").and_then(Value::as_str) {
                    sink.emit(Event::ReasoningEncrypted(encrypted));
                }
                sink.emit(Event::ReasoningEnd);
                self.reasoning_streamed = false;
            }
            "message" => {
                if !self.text_streamed {
                    let text = item
                        .get("content")
                        .and_then(Value::as_array)
                        .map(|parts| parts.iter().filter_map(super::text_of).collect::<String>())
                        .unwrap_or_default();
                    if !text.is_empty() {
                        sink.emit(Event::Text(&text));
                    }
                }
                self.text_streamed = false;
            }
            _ => {}
        }
    }

    fn terminal(&self, response: Option<&Value>, sink: &mut Sink<'_>) {
        if let Some(usage) = response.and_then(response_usage) {
            sink.emit(Event::Usage(usage));
        }
        let reason = response.and_then(|r| r.pointer("/incomplete_details/reason")).and_then(Value::as_str);
        let stop = match reason {
            Some("max_output_tokens") => StopReason::MaxTokens,
            Some("content_filter") => StopReason::ContentFilter,
            _ if self.next_tool > 0 => StopReason::ToolUse,
            _ => StopReason::EndTurn,
        };
        sink.emit(Event::Finish(stop));
        sink.emit(Event::Done);
    }
}

fn failed_fields(response: Option<&Value>) -> (String, String) {
    let error = response.and_then(|response| response.get("error"));
    let code =
        error.and_then(|e| e.get("code")).and_then(Value::as_str).unwrap_or("upstream_error").to_string();
    let message = error
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .unwrap_or("The upstream response failed");
    (code, message.to_string())
}

impl Decode for Decoder {
    fn frame(&mut self, _event: Option<&str>, data: &str, sink: &mut Sink<'_>) {
        if data.trim().is_empty() || data.trim() == "[DONE]" {
            return;
        }
        let Ok(frame) = serde_json::from_str::<Frame<'_>>(data) else {
            sink.malformed("Responses event");
            return;
        };
        let key = || item_key(frame.item_id.as_deref(), frame.output_index);
        match frame.kind.as_ref() {
            "response.output_item.added" => {
                if let Some(item) = &frame.item {
                    let key = item_key(item.get("id").and_then(Value::as_str), frame.output_index);
                    self.item_added(key, item, sink);
                }
            }
            "response.output_item.done" => {
                if let Some(item) = &frame.item {
                    let key = item_key(item.get("id").and_then(Value::as_str), frame.output_index);
                    self.item_done(key, item, sink);
                }
            }
            "response.output_text.delta" | "response.refusal.delta" => {
                if let Some(delta) = frame.delta.as_deref().filter(|delta| !delta.is_empty()) {
                    self.text_streamed = true;
                    sink.emit(Event::Text(delta));
                }
            }
            "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => {
                if let Some(delta) = frame.delta.as_deref().filter(|delta| !delta.is_empty()) {
                    self.reasoning_streamed = true;
                    sink.emit(Event::Reasoning(delta));
                }
            }
            "response.function_call_arguments.delta" | "response.custom_tool_call_input.delta" => {
                let Some(delta) = frame.delta.as_deref() else {
                    return;
                };
                let key = key();
                let by_index = frame.output_index.map(|index| format!("#{index}"));
                let track = match self.tools.get(&key) {
                    Some(_) => self.tools.get_mut(&key),
                    None => by_index.and_then(|index| self.tools.get_mut(&index)),
                };
                if let Some(track) = track {
                    if !track.custom {
                        track.streamed = true;
                        sink.emit(Event::ToolArgs { index: track.index, delta });
                    }
                }
            }
            "response.completed" | "response.incomplete" => self.terminal(frame.response.as_ref(), sink),
            "response.failed" => {
                let (code, message) = failed_fields(frame.response.as_ref());
                sink.emit(Event::Error { code: &code, message: &message });
            }
            "error" => {
                let code =
                    frame.code.as_ref().and_then(Value::as_str).unwrap_or("upstream_error").to_string();
                let message = frame.message.clone().unwrap_or_else(|| "upstream error".to_string());
                sink.emit(Event::Error { code: &code, message: &message });
            }
            _ => {}
        }
    }

    fn json(&mut self, body: &str, sink: &mut Sink<'_>) {
        let Ok(value) = serde_json::from_str::<Value>(body) else {
            sink.malformed("Responses body");
            return;
        };
        if value.get("error").is_some_and(|error| !error.is_null())
            || value.get("status").and_then(Value::as_str) == Some("failed")
        {
            let (code, message) = if value.get("status").is_some() {
                failed_fields(Some(&value))
            } else {
                super::error_fields(&value)
            };
            sink.emit(Event::Error { code: &code, message: &message });
            return;
        }
        if let Some(Value::Array(items)) = value.get("output") {
            for (index, item) in items.iter().enumerate() {
                let key = item_key(item.get("id").and_then(Value::as_str), Some(index));
                self.item_done(key, item, sink);
            }
        }
        self.terminal(Some(&value), sink);
    }

    fn eof(&mut self, _sink: &mut Sink<'_>) {}
}
