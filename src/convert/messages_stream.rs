//! Anthropic Messages streams: the upstream decoder (events → IR events) and the client
//! encoder (conversion.md §5: what Claude Code consumes).
//!
//! Encoder invariants: `message_start` comes first and carries the *requested* model name;
//! content blocks are strictly nested start/stop pairs with dense indexes; tool arguments go
//! only through `input_json_delta`; once text has started no new thinking block opens; any
//! tool_use makes the stop reason `tool_use`; the terminal is sent once, and a mid-stream
//! error is `event: error` without `message_stop`.

use std::borrow::Cow;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::ir::{Event, Part, StopReason, Usage};
use super::messages::ENCRYPTED_MARK;
use super::stream::{Decode, Encode, Sink, Terminal};
use super::tools::{ToolMap, sanitize_id};
use super::{ConvContext, FinalBody, sse};

#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    index: Option<usize>,
    #[serde(borrow, default)]
    delta: Option<FrameDelta<'a>>,
    #[serde(borrow, default)]
    content_block: Option<Block<'a>>,
    #[serde(default)]
    message: Option<MessageHead>,
    #[serde(default)]
    usage: Option<AnthropicUsage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct FrameDelta<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    thinking: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    signature: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    partial_json: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    stop_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Block<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(default)]
    input: Option<Value>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    thinking: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    signature: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct MessageHead {
    #[serde(default)]
    usage: Option<AnthropicUsage>,
}

#[derive(Deserialize, Default, Clone, Copy)]
#[expect(clippy::struct_field_names, reason = "Anthropic's field names")]
struct AnthropicUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct Body<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    content: Vec<Block<'a>>,
    #[serde(borrow, default)]
    stop_reason: Option<Cow<'a, str>>,
    #[serde(default)]
    usage: Option<AnthropicUsage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockKind {
    Text,
    Thinking,
    Tool(usize),
    Other,
}

fn stop_reason(reason: &str) -> StopReason {
    match reason {
        "max_tokens" | "model_context_window_exceeded" => StopReason::MaxTokens,
        "tool_use" => StopReason::ToolUse,
        "refusal" => StopReason::ContentFilter,
        "stop_sequence" => StopReason::StopSequence,
        _ => StopReason::EndTurn,
    }
}

/// Messages upstream → events.
#[derive(Debug, Default)]
pub(crate) struct Decoder {
    blocks: Vec<(usize, BlockKind)>,
    next_tool: usize,
    input: u64,
    cached: u64,
    cache_write: u64,
    output: u64,
}

impl Decoder {
    fn usage(&mut self, usage: &AnthropicUsage) -> Usage {
        if let Some(input) = usage.input_tokens {
            self.input = input;
        }
        if let Some(cached) = usage.cache_read_input_tokens {
            self.cached = cached;
        }
        if let Some(write) = usage.cache_creation_input_tokens {
            self.cache_write = write;
        }
        if let Some(output) = usage.output_tokens {
            self.output = output;
        }
        Usage {
            input: self.input + self.cached + self.cache_write,
            output: self.output,
            cached: self.cached,
            cache_write: self.cache_write,
            reasoning: 0,
        }
    }

    fn block_start(&mut self, index: usize, block: &Block<'_>, sink: &mut Sink<'_>) {
        let kind = match block.kind.as_ref() {
            "text" => {
                if let Some(text) = block.text.as_deref().filter(|text| !text.is_empty()) {
                    sink.emit(Event::Text(text));
                }
                BlockKind::Text
            }
            "thinking" => {
                if let Some(text) = block.thinking.as_deref().filter(|text| !text.is_empty()) {
                    sink.emit(Event::Reasoning(text));
                }
                if let Some(signature) = block.signature.as_deref().filter(|s| !s.is_empty()) {
                    sink.emit(Event::ReasoningSignature(signature));
                }
                BlockKind::Thinking
            }
            "tool_use" => {
                let tool = self.next_tool;
                self.next_tool += 1;
                sink.emit(Event::ToolStart {
                    index: tool,
                    id: block.id.as_deref().unwrap_or(""),
                    name: block.name.as_deref().unwrap_or(""),
                });
                if let Some(input) =
                    block.input.as_ref().filter(|input| input.as_object().is_some_and(|o| !o.is_empty()))
                {
                    sink.emit(Event::ToolArgs { index: tool, delta: &input.to_string() });
                }
                BlockKind::Tool(tool)
            }
            _ => BlockKind::Other,
        };
        self.blocks.push((index, kind));
    }

    fn kind_of(&self, index: Option<usize>) -> BlockKind {
        let found = match index {
            Some(index) => self.blocks.iter().rev().find(|(at, _)| *at == index),
            None => self.blocks.last(),
        };
        found.map_or(BlockKind::Other, |(_, kind)| *kind)
    }
}

impl Decode for Decoder {
    fn frame(&mut self, _event: Option<&str>, data: &str, sink: &mut Sink<'_>) {
        if data.trim().is_empty() {
            return;
        }
        let Ok(frame) = serde_json::from_str::<Frame<'_>>(data) else {
            sink.malformed("Messages event");
            return;
        };
        match frame.kind.as_ref() {
            "message_start" => {
                if let Some(usage) = frame.message.as_ref().and_then(|message| message.usage) {
                    let usage = self.usage(&usage);
                    sink.emit(Event::Usage(usage));
                }
            }
            "content_block_start" => {
                if let Some(block) = &frame.content_block {
                    self.block_start(frame.index.unwrap_or(self.blocks.len()), block, sink);
                }
            }
            "content_block_delta" => {
                let Some(delta) = &frame.delta else {
                    return;
                };
                let kind = self.kind_of(frame.index);
                match delta.kind.as_deref() {
                    Some("text_delta") => {
                        if let Some(text) = delta.text.as_deref().filter(|text| !text.is_empty()) {
                            sink.emit(Event::Text(text));
                        }
                    }
                    Some("thinking_delta") => {
                        if let Some(text) = delta.thinking.as_deref().filter(|text| !text.is_empty()) {
                            sink.emit(Event::Reasoning(text));
                        }
                    }
                    Some("signature_delta") => {
                        if let Some(signature) = delta.signature.as_deref() {
                            sink.emit(Event::ReasoningSignature(signature));
                        }
                    }
                    Some("input_json_delta") => {
                        if let (BlockKind::Tool(index), Some(json)) = (kind, delta.partial_json.as_deref()) {
                            if !json.is_empty() {
                                sink.emit(Event::ToolArgs { index, delta: json });
                            }
                        }
                    }
                    _ => {}
                }
            }
            "content_block_stop" => match self.kind_of(frame.index) {
                BlockKind::Tool(index) => sink.emit(Event::ToolEnd { index }),
                BlockKind::Thinking => sink.emit(Event::ReasoningEnd),
                BlockKind::Text | BlockKind::Other => {}
            },
            "message_delta" => {
                if let Some(usage) = &frame.usage {
                    let usage = self.usage(usage);
                    sink.emit(Event::Usage(usage));
                }
                if let Some(reason) = frame.delta.as_ref().and_then(|delta| delta.stop_reason.as_deref()) {
                    sink.emit(Event::Finish(stop_reason(reason)));
                }
            }
            "message_stop" => sink.emit(Event::Done),
            "error" => {
                let value = json!({"error": frame.error.unwrap_or(Value::Null)});
                let (code, message) = super::error_fields(&value);
                sink.emit(Event::Error { code: &code, message: &message });
            }
            _ => {}
        }
    }

    fn json(&mut self, body: &str, sink: &mut Sink<'_>) {
        let Ok(parsed) = serde_json::from_str::<Body<'_>>(body) else {
            sink.malformed("Messages body");
            return;
        };
        if parsed.kind.as_deref() == Some("error") || parsed.error.is_some() {
            let value: Value = serde_json::from_str(body).unwrap_or(Value::Null);
            let (code, message) = super::error_fields(&value);
            sink.emit(Event::Error { code: &code, message: &message });
            return;
        }
        for (index, block) in parsed.content.iter().enumerate() {
            self.block_start(index, block, sink);
            match self.kind_of(Some(index)) {
                BlockKind::Tool(tool) => sink.emit(Event::ToolEnd { index: tool }),
                BlockKind::Thinking => sink.emit(Event::ReasoningEnd),
                BlockKind::Text | BlockKind::Other => {}
            }
        }
        if let Some(usage) = &parsed.usage {
            let usage = self.usage(usage);
            sink.emit(Event::Usage(usage));
        }
        sink.emit(Event::Finish(stop_reason(parsed.stop_reason.as_deref().unwrap_or("end_turn"))));
        sink.emit(Event::Done);
    }

    fn eof(&mut self, _sink: &mut Sink<'_>) {}
}

#[derive(Serialize)]
struct DeltaFrame<D: Serialize> {
    #[serde(rename = "type")]
    kind: &'static str,
    index: usize,
    delta: D,
}

#[derive(Serialize)]
struct TextDelta<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    text: &'a str,
}

#[derive(Serialize)]
struct ThinkingDelta<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    thinking: &'a str,
}

#[derive(Serialize)]
struct SignatureDelta<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    signature: &'a str,
}

#[derive(Serialize)]
struct JsonDelta<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    partial_json: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text(usize),
    Thinking(usize),
    Tool { block: usize, tool: usize },
}

#[derive(Debug)]
struct QueuedTool {
    tool: usize,
    id: String,
    name: String,
    args: String,
    ended: bool,
}

/// Events → Anthropic SSE (Claude Code).
pub(crate) struct Encoder {
    id: String,
    model: String,
    map: Arc<ToolMap>,
    input_estimate: u64,
    started: bool,
    next_block: usize,
    open: Option<Open>,
    text_started: bool,
    /// Tool calls waiting for the open tool block to end.
    queue: std::collections::VecDeque<QueuedTool>,
    any_tool: bool,
    usage: Option<Usage>,
    stop: Option<StopReason>,
    pub(crate) dropped_reasoning: usize,
}

impl Encoder {
    pub(crate) fn new(ctx: &ConvContext, id: &str) -> Self {
        Self {
            id: id.to_string(),
            model: ctx.client_model.clone(),
            map: Arc::clone(&ctx.tools),
            input_estimate: ctx.input_estimate,
            started: false,
            next_block: 0,
            open: None,
            text_started: false,
            queue: std::collections::VecDeque::new(),
            any_tool: false,
            usage: None,
            stop: None,
            dropped_reasoning: 0,
        }
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let start = json!({
            "type": "message_start",
            "message": {
                "id": self.id, "type": "message", "role": "assistant", "model": self.model,
                "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": self.input_estimate, "output_tokens": 0}
            }
        });
        sse::write_event(out, "message_start", &start);
    }

    fn close(&mut self, out: &mut Vec<u8>) {
        if let Some(open) = self.open.take() {
            let index = match open {
                Open::Text(index) | Open::Thinking(index) | Open::Tool { block: index, .. } => index,
            };
            sse::write_event(
                out,
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": index}),
            );
        }
    }

    fn open_block(&mut self, block: &Value, out: &mut Vec<u8>) -> usize {
        self.close(out);
        let index = self.next_block;
        self.next_block += 1;
        sse::write_event(
            out,
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": block}),
        );
        index
    }

    fn open_tool(&mut self, tool: &QueuedTool, out: &mut Vec<u8>) {
        let block =
            self.open_block(&json!({"type": "tool_use", "id": tool.id, "name": tool.name, "input": {}}), out);
        self.open = Some(Open::Tool { block, tool: tool.tool });
        if !tool.args.is_empty() {
            Self::delta(out, block, JsonDelta { kind: "input_json_delta", partial_json: &tool.args });
        }
    }

    /// Open the waiting tools in order; stop at one still streaming unless `all`.
    fn flush_queue(&mut self, all: bool, out: &mut Vec<u8>) {
        while let Some(tool) = self.queue.pop_front() {
            self.open_tool(&tool, out);
            if !(tool.ended || all) {
                return;
            }
            self.close(out);
        }
    }

    fn delta<D: Serialize>(out: &mut Vec<u8>, index: usize, delta: D) {
        sse::write_event(
            out,
            "content_block_delta",
            &DeltaFrame { kind: "content_block_delta", index, delta },
        );
    }
}

/// Anthropic's usage: `input_tokens` excludes both cache buckets.
/// A Messages `usage` object (typed, so a whole body is written without building it).
#[derive(Serialize)]
#[expect(clippy::struct_field_names, reason = "the API's names")]
struct UsageBody {
    input_tokens: u64,
    output_tokens: u64,
    cache_read_input_tokens: u64,
    cache_creation_input_tokens: u64,
}

impl UsageBody {
    fn of(usage: &Usage) -> Self {
        Self {
            input_tokens: usage.input.saturating_sub(usage.cached.saturating_add(usage.cache_write)),
            output_tokens: usage.output,
            cache_read_input_tokens: usage.cached,
            cache_creation_input_tokens: usage.cache_write,
        }
    }
}

pub(crate) fn usage_json(usage: &Usage) -> Value {
    serde_json::to_value(UsageBody::of(usage)).unwrap_or(Value::Null)
}

fn stop_name(stop: Option<StopReason>, any_tool: bool) -> &'static str {
    if any_tool {
        return "tool_use";
    }
    match stop {
        Some(StopReason::MaxTokens) => "max_tokens",
        Some(StopReason::ContentFilter) => "refusal",
        Some(StopReason::StopSequence) => "stop_sequence",
        Some(StopReason::EndTurn | StopReason::ToolUse) | None => "end_turn",
    }
}

/// The Anthropic error type for an error code.
fn error_type(code: &str) -> &'static str {
    match code {
        "rate_limit_exceeded" | "rate_limit_error" => "rate_limit_error",
        "server_is_overloaded" | "overloaded_error" | "slow_down" => "overloaded_error",
        "invalid_request_error" | "context_length_exceeded" => "invalid_request_error",
        "authentication_error" => "authentication_error",
        "permission_error" => "permission_error",
        _ => "api_error",
    }
}

pub(crate) fn error_json(code: &str, message: &str) -> Value {
    json!({"type": "error", "error": {"type": error_type(code), "message": message}})
}

impl Encode for Encoder {
    fn event(&mut self, event: &Event<'_>, out: &mut Vec<u8>) {
        match event {
            Event::Text(text) => {
                self.start(out);
                let index = if let Some(Open::Text(index)) = self.open {
                    index
                } else {
                    let index = self.open_block(&json!({"type": "text", "text": ""}), out);
                    self.open = Some(Open::Text(index));
                    index
                };
                self.text_started = true;
                Self::delta(out, index, TextDelta { kind: "text_delta", text });
            }
            Event::Reasoning(text) => {
                self.start(out);
                if self.text_started || self.any_tool {
                    self.dropped_reasoning += 1;
                    return;
                }
                let index = if let Some(Open::Thinking(index)) = self.open {
                    index
                } else {
                    let index = self.open_block(&json!({"type": "thinking", "thinking": ""}), out);
                    self.open = Some(Open::Thinking(index));
                    index
                };
                Self::delta(out, index, ThinkingDelta { kind: "thinking_delta", thinking: text });
            }
            Event::ReasoningSignature(signature) => {
                if let Some(Open::Thinking(index)) = self.open {
                    Self::delta(out, index, SignatureDelta { kind: "signature_delta", signature });
                }
            }
            Event::ReasoningEncrypted(encrypted) => {
                if let Some(Open::Thinking(index)) = self.open {
                    let signature = format!("{ENCRYPTED_MARK}{encrypted}");
                    Self::delta(
                        out,
                        index,
                        SignatureDelta { kind: "signature_delta", signature: &signature },
                    );
                }
            }
            Event::ReasoningEnd => {
                if matches!(self.open, Some(Open::Thinking(_))) {
                    self.close(out);
                }
            }
            Event::ToolStart { index, id, name } => {
                self.start(out);
                self.any_tool = true;
                let client = self.map.client(name);
                let tool = QueuedTool {
                    tool: *index,
                    id: sanitize_id(id),
                    name: client.name,
                    args: String::new(),
                    ended: false,
                };
                if matches!(self.open, Some(Open::Tool { .. })) {
                    // Blocks cannot interleave: a second tool waits until the open one ends,
                    // so arguments the upstream interleaves between calls still land right.
                    self.queue.push_back(tool);
                } else {
                    self.open_tool(&tool, out);
                }
            }
            Event::ToolArgs { index, delta } => {
                if delta.is_empty() {
                    return;
                }
                match self.open {
                    Some(Open::Tool { block, tool }) if tool == *index => {
                        Self::delta(out, block, JsonDelta { kind: "input_json_delta", partial_json: delta });
                    }
                    _ => {
                        if let Some(queued) = self.queue.iter_mut().find(|queued| queued.tool == *index) {
                            queued.args.push_str(delta);
                        }
                    }
                }
            }
            Event::ToolEnd { index } => {
                if matches!(self.open, Some(Open::Tool { tool, .. }) if tool == *index) {
                    self.close(out);
                    self.flush_queue(false, out);
                } else if let Some(queued) = self.queue.iter_mut().find(|queued| queued.tool == *index) {
                    queued.ended = true;
                }
            }
            Event::Usage(usage) => self.usage = Some(*usage),
            Event::Finish(stop) => self.stop = Some(*stop),
            Event::ToolDropped | Event::Error { .. } | Event::Done => {}
        }
    }

    fn terminal(&mut self, terminal: Terminal<'_>, out: &mut Vec<u8>) {
        match terminal {
            Terminal::Complete => {
                self.start(out);
                self.close(out);
                self.flush_queue(true, out);
                let usage = self.usage.unwrap_or(Usage { input: self.input_estimate, ..Usage::default() });
                let delta = json!({
                    "type": "message_delta",
                    "delta": {"stop_reason": stop_name(self.stop, self.any_tool), "stop_sequence": null},
                    "usage": usage_json(&usage)
                });
                sse::write_event(out, "message_delta", &delta);
                sse::write_event(out, "message_stop", &json!({"type": "message_stop"}));
            }
            Terminal::Truncated => {
                self.start(out);
                let error =
                    error_json("api_error", "The upstream stream ended before the message was complete");
                sse::write_event(out, "error", &error);
            }
            Terminal::Failed { code, message } => {
                self.start(out);
                sse::write_event(out, "error", &error_json(code, message));
            }
        }
    }
}

/// The non-streamed Messages body.
/// A whole (not streamed) Messages body, written as it is typed: building it as a
/// `Value` first cost most of a converted small request (`bench/PROFILE.md`).
#[derive(Serialize)]
struct MessageBody<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    model: &'a str,
    content: Vec<ContentBlock<'a>>,
    stop_reason: &'static str,
    stop_sequence: Option<&'static str>,
    usage: UsageBody,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ContentBlock<'a> {
    Text { text: &'a str },
    Thinking { thinking: &'a str, signature: Cow<'a, str> },
    ToolUse { id: &'a str, name: &'a str, input: Value },
}

pub(crate) fn write_body(body: &FinalBody<'_>, out: &mut Vec<u8>) {
    if let Some(failure) = body.failed {
        sse::write_json(out, &error_json(failure.code, failure.message));
        return;
    }
    let mut any_tool = false;
    let content: Vec<ContentBlock<'_>> = body
        .parts
        .iter()
        .filter_map(|part| match part {
            Part::Text(text) => Some(ContentBlock::Text { text }),
            Part::Reasoning(reasoning) if !reasoning.text.is_empty() => {
                let signature = match (&reasoning.signature, &reasoning.encrypted) {
                    (Some(signature), _) => Cow::Borrowed(signature.as_str()),
                    (None, Some(encrypted)) => Cow::Owned(format!("{ENCRYPTED_MARK}{encrypted}")),
                    (None, None) => Cow::Borrowed(""),
                };
                Some(ContentBlock::Thinking { thinking: &reasoning.text, signature })
            }
            Part::ToolCall(call) => {
                any_tool = true;
                let input: Value = serde_json::from_str(&call.arguments).unwrap_or_else(|_| json!({}));
                Some(ContentBlock::ToolUse { id: &call.id, name: &call.name, input })
            }
            Part::Reasoning(_) | Part::Image(_) | Part::ToolResult(_) => None,
        })
        .collect();
    let value = MessageBody {
        id: body.id,
        kind: "message",
        role: "assistant",
        model: body.model,
        content,
        stop_reason: stop_name(body.stop, any_tool),
        stop_sequence: None,
        usage: UsageBody::of(&body.usage),
    };
    sse::write_json(out, &value);
}
