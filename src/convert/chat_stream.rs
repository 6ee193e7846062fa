//! Chat Completions streams: the upstream decoder (chunks → events, conversion.md §2.3 steps
//! 2–7) and the client encoder (events → chunks, a final usage chunk and `[DONE]`).
//!
//! Decoder invariants: `choices[0]` is read whatever its `index`; tool calls are keyed by
//! `index` (or by id when the index is missing), id and name are never overwritten by empty
//! continuation deltas, and a call starts only once it has a name, in ascending key order
//! (a late name does not reorder calls). finish_reason and usage are only recorded.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::ir::{Event, Part, StopReason, Usage};
use super::stream::{Decode, Encode, Sink, Terminal};
use super::think::ThinkSplitter;
use super::tools::{ToolMap, sanitize_id};
use super::util::{CachedTokens, ReasoningTokens};
use super::{ConvContext, FinalBody, sse, util};

#[derive(Deserialize)]
struct Chunk<'a> {
    /// Only `choices[0]` is read, whatever its `index` (OpenRouter sent `index: 1`); the rest
    /// are skipped without allocating.
    #[serde(borrow, default, deserialize_with = "first_choice")]
    choices: Option<Choice<'a>>,
    #[serde(default)]
    usage: Option<ChatUsage>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
    #[serde(default)]
    base_resp: Option<BaseResp>,
}

fn first_choice<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Choice<'de>>, D::Error> {
    struct First;
    impl<'de> serde::de::Visitor<'de> for First {
        type Value = Option<Choice<'de>>;

        fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            formatter.write_str("an array of choices")
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let first = seq.next_element::<Choice<'de>>()?;
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            Ok(first)
        }
    }
    deserializer.deserialize_any(First)
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(borrow, default)]
    delta: Option<Delta<'a>>,
    #[serde(borrow, default)]
    message: Option<Delta<'a>>,
    #[serde(borrow, default)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(borrow, default)]
    content: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    reasoning_content: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    reasoning: Option<&'a RawValue>,
    #[serde(borrow, default)]
    reasoning_details: Option<Vec<ReasoningDetail<'a>>>,
    #[serde(borrow, default)]
    tool_calls: Option<Vec<ToolDelta<'a>>>,
}

#[derive(Deserialize)]
struct ReasoningDetail<'a> {
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct ToolDelta<'a> {
    #[serde(default)]
    index: Option<i64>,
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    function: Option<FunctionDelta<'a>>,
}

#[derive(Deserialize)]
struct FunctionDelta<'a> {
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    arguments: Option<&'a RawValue>,
}

#[derive(Deserialize, Default)]
struct ChatUsage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    prompt_tokens_details: Option<CachedDetails>,
    completion_tokens_details: Option<ReasoningDetails>,
    prompt_cache_hit_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    cached_tokens: Option<u64>,
}

#[derive(Deserialize, Default)]
struct CachedDetails {
    cached_tokens: Option<u64>,
}

#[derive(Deserialize, Default)]
struct ReasoningDetails {
    reasoning_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct BaseResp {
    status_code: Option<i64>,
    status_msg: Option<String>,
}

impl ChatUsage {
    fn to_usage(&self) -> Usage {
        let cached = self
            .prompt_tokens_details
            .as_ref()
            .and_then(|details| details.cached_tokens)
            .or(self.cache_read_input_tokens)
            .or(self.prompt_cache_hit_tokens)
            .or(self.cached_tokens)
            .unwrap_or(0);
        Usage {
            input: self.prompt_tokens.unwrap_or(0),
            output: self.completion_tokens.unwrap_or(0),
            cached,
            cache_write: self.cache_creation_input_tokens.unwrap_or(0),
            reasoning: self.completion_tokens_details.as_ref().and_then(|d| d.reasoning_tokens).unwrap_or(0),
        }
    }
}

/// A JSON string's text, or the raw JSON of anything else (`None` for null).
pub(crate) fn raw_text(raw: &RawValue) -> Option<Cow<'_, str>> {
    let text = raw.get();
    if text.starts_with('"') {
        serde_json::from_str::<Cow<'_, str>>(text).ok()
    } else if text == "null" {
        None
    } else {
        Some(Cow::Borrowed(text))
    }
}

fn stop_reason(reason: &str) -> StopReason {
    match reason {
        "length" | "max_tokens" => StopReason::MaxTokens,
        "tool_calls" | "function_call" => StopReason::ToolUse,
        "content_filter" | "sensitive" => StopReason::ContentFilter,
        _ => StopReason::EndTurn,
    }
}

#[derive(Debug)]
struct PendingTool {
    key: i64,
    id: String,
    name: String,
    args: String,
    /// The event index once started.
    index: Option<usize>,
    dropped: bool,
}

/// Chat upstream → events.
#[derive(Debug)]
pub(crate) struct Decoder {
    tag: String,
    think: ThinkSplitter,
    tools: Vec<PendingTool>,
    last_key: Option<i64>,
    next_index: usize,
    used_ids: HashSet<String>,
    closed: bool,
}

impl Decoder {
    pub(crate) fn new(tag: &str) -> Self {
        Self {
            tag: tag.to_string(),
            think: ThinkSplitter::default(),
            tools: Vec::new(),
            last_key: None,
            next_index: 0,
            used_ids: HashSet::new(),
            closed: false,
        }
    }

    fn chunk(&mut self, chunk: &Chunk<'_>, sink: &mut Sink<'_>) {
        if let Some(error) = chunk.error {
            let value: Value = serde_json::from_str(error.get()).unwrap_or(Value::Null);
            let (code, message) = super::error_fields(&value);
            sink.emit(Event::Error { code: &code, message: &message });
            return;
        }
        if let Some(base) = &chunk.base_resp {
            if base.status_code.is_some_and(|code| code != 0) {
                let message = base.status_msg.clone().unwrap_or_else(|| "upstream error".to_string());
                let code = base.status_code.unwrap_or(0).to_string();
                sink.emit(Event::Error { code: &code, message: &message });
                return;
            }
        }
        if let Some(choice) = &chunk.choices {
            if let Some(delta) = choice.delta.as_ref().or(choice.message.as_ref()) {
                self.delta(delta, sink);
            }
            if let Some(reason) = &choice.finish_reason {
                sink.emit(Event::Finish(stop_reason(reason)));
            }
        }
        if let Some(usage) = &chunk.usage {
            sink.emit(Event::Usage(usage.to_usage()));
        }
    }

    fn delta(&mut self, delta: &Delta<'_>, sink: &mut Sink<'_>) {
        let reasoning = delta.reasoning_content.clone().or_else(|| {
            delta.reasoning.and_then(|raw| raw.get().starts_with('"').then(|| raw_text(raw)).flatten())
        });
        if let Some(text) = reasoning.filter(|text| !text.is_empty()) {
            sink.emit(Event::Reasoning(&text));
        } else if let Some(details) = &delta.reasoning_details {
            for detail in details {
                if let Some(text) = detail.text.as_deref().filter(|text| !text.is_empty()) {
                    sink.emit(Event::Reasoning(text));
                }
            }
        }
        if let Some(content) = delta.content.as_deref().filter(|content| !content.is_empty()) {
            self.think.push(content, &mut |is_reasoning, text| {
                sink.emit(if is_reasoning { Event::Reasoning(text) } else { Event::Text(text) });
            });
        }
        if let Some(calls) = &delta.tool_calls {
            for call in calls {
                self.tool_delta(call, sink);
            }
            self.flush_ready(false, sink);
        }
    }

    fn tool_delta(&mut self, call: &ToolDelta<'_>, sink: &mut Sink<'_>) {
        let id = call.id.as_deref().unwrap_or("");
        let key = match call.index {
            Some(index) => index,
            None if !id.is_empty() => match self.tools.iter().find(|tool| tool.id == id) {
                Some(tool) => tool.key,
                None => self.tools.iter().map(|tool| tool.key + 1).max().unwrap_or(0),
            },
            None => self.last_key.unwrap_or(0),
        };
        self.last_key = Some(key);
        let position = match self.tools.binary_search_by_key(&key, |tool| tool.key) {
            Ok(position) => position,
            Err(position) => {
                let tool = PendingTool {
                    key,
                    id: String::new(),
                    name: String::new(),
                    args: String::new(),
                    index: None,
                    dropped: false,
                };
                self.tools.insert(position, tool);
                position
            }
        };
        let tool = &mut self.tools[position];
        if !id.is_empty() && tool.id.is_empty() {
            tool.id = id.to_string();
        }
        if let Some(function) = &call.function {
            if let Some(name) = function.name.as_deref().filter(|name| !name.is_empty()) {
                if tool.name.is_empty() {
                    tool.name = name.to_string();
                }
            }
            if let Some(arguments) = function.arguments.and_then(raw_text) {
                match tool.index {
                    Some(index) => sink.emit(Event::ToolArgs { index, delta: &arguments }),
                    None => tool.args.push_str(&arguments),
                }
            }
        }
    }

    /// Start every call that is ready, in key order; `force` (the end) drops nameless ones.
    fn flush_ready(&mut self, force: bool, sink: &mut Sink<'_>) {
        for position in 0..self.tools.len() {
            let tool = &self.tools[position];
            if tool.index.is_some() || tool.dropped {
                continue;
            }
            if tool.name.is_empty() {
                if force {
                    self.tools[position].dropped = true;
                    sink.emit(Event::ToolDropped);
                    continue;
                }
                break;
            }
            let index = self.next_index;
            self.next_index += 1;
            let mut id = sanitize_id(&tool.id);
            if id.is_empty() || self.used_ids.contains(&id) {
                id = format!("call_{}_{index}", self.tag);
            }
            self.used_ids.insert(id.clone());
            let tool = &mut self.tools[position];
            tool.index = Some(index);
            tool.id.clone_from(&id);
            sink.emit(Event::ToolStart { index, id: &id, name: &tool.name });
            if !tool.args.is_empty() {
                let args = std::mem::take(&mut tool.args);
                sink.emit(Event::ToolArgs { index, delta: &args });
            }
        }
    }

    fn close(&mut self, sink: &mut Sink<'_>) {
        if self.closed {
            return;
        }
        self.closed = true;
        self.think.flush(&mut |is_reasoning, text| {
            sink.emit(if is_reasoning { Event::Reasoning(text) } else { Event::Text(text) });
        });
        self.flush_ready(true, sink);
        for tool in &self.tools {
            if let Some(index) = tool.index {
                sink.emit(Event::ToolEnd { index });
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
            self.close(sink);
            sink.emit(Event::Done);
            return;
        }
        match serde_json::from_str::<Chunk<'_>>(data) {
            Ok(chunk) => self.chunk(&chunk, sink),
            Err(_) => sink.malformed("Chat Completions chunk"),
        }
    }

    fn json(&mut self, body: &str, sink: &mut Sink<'_>) {
        match serde_json::from_str::<Chunk<'_>>(body) {
            Ok(chunk) => {
                let is_error = chunk.error.is_some()
                    || chunk
                        .base_resp
                        .as_ref()
                        .is_some_and(|base| base.status_code.is_some_and(|code| code != 0));
                self.chunk(&chunk, sink);
                if !is_error {
                    self.close(sink);
                    sink.emit(Event::Done);
                }
            }
            Err(_) => sink.malformed("Chat Completions body"),
        }
    }

    fn eof(&mut self, sink: &mut Sink<'_>) {
        self.close(sink);
    }
}

#[derive(Serialize)]
struct ChunkOut<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: [ChoiceOut<'a>; 1],
}

#[derive(Serialize)]
struct ChoiceOut<'a> {
    index: u32,
    delta: DeltaOut<'a>,
    finish_reason: Option<&'a str>,
}

#[derive(Serialize, Default)]
struct DeltaOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolOut<'a>; 1]>,
}

#[derive(Serialize)]
struct ToolOut<'a> {
    index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    function: FunctionOut<'a>,
}

#[derive(Serialize)]
struct FunctionOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    arguments: &'a str,
}

/// Events → Chat chunks (OpenCode and other Chat clients).
pub(crate) struct Encoder {
    id: String,
    created: u64,
    model: String,
    map: Arc<ToolMap>,
    role_sent: bool,
    /// Event tool index → started.
    tools: Vec<bool>,
    any_tool: bool,
    usage: Usage,
    stop: Option<StopReason>,
}

impl Encoder {
    pub(crate) fn new(ctx: &ConvContext, id: &str) -> Self {
        Self {
            id: id.to_string(),
            created: util::now(),
            model: ctx.client_model.clone(),
            map: Arc::clone(&ctx.tools),
            role_sent: false,
            tools: Vec::new(),
            any_tool: false,
            usage: Usage::default(),
            stop: None,
        }
    }

    fn write(&mut self, mut delta: DeltaOut<'_>, finish_reason: Option<&str>, out: &mut Vec<u8>) {
        if !self.role_sent {
            self.role_sent = true;
            delta.role = Some("assistant");
        }
        let chunk = ChunkOut {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.created,
            model: &self.model,
            choices: [ChoiceOut { index: 0, delta, finish_reason }],
        };
        sse::write_data(out, &chunk);
    }
}

/// The Chat spelling of a stop reason.
fn finish_name(stop: Option<StopReason>, any_tool: bool) -> &'static str {
    if any_tool {
        return "tool_calls";
    }
    match stop {
        Some(StopReason::MaxTokens) => "length",
        Some(StopReason::ContentFilter) => "content_filter",
        Some(StopReason::ToolUse | StopReason::EndTurn | StopReason::StopSequence) | None => "stop",
    }
}

/// A Chat Completions `usage` object (typed, so a whole body is written without building it).
#[derive(Serialize)]
struct UsageBody {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
    prompt_tokens_details: CachedTokens,
    completion_tokens_details: ReasoningTokens,
}

impl UsageBody {
    fn of(usage: &Usage) -> Self {
        Self {
            prompt_tokens: usage.input,
            completion_tokens: usage.output,
            total_tokens: usage.input.saturating_add(usage.output),
            prompt_tokens_details: CachedTokens::of(usage),
            completion_tokens_details: ReasoningTokens::of(usage),
        }
    }
}

pub(crate) fn usage_json(usage: &Usage) -> Value {
    serde_json::to_value(UsageBody::of(usage)).unwrap_or(Value::Null)
}

fn error_json(code: &str, message: &str) -> Value {
    json!({"error": {"message": message, "type": "upstream_error", "code": code}})
}

impl Encode for Encoder {
    fn event(&mut self, event: &Event<'_>, out: &mut Vec<u8>) {
        match event {
            Event::Text(text) => {
                self.write(DeltaOut { content: Some(text), ..DeltaOut::default() }, None, out);
            }
            Event::Reasoning(text) => {
                self.write(DeltaOut { reasoning_content: Some(text), ..DeltaOut::default() }, None, out);
            }
            Event::ToolStart { index, id, name } => {
                if self.tools.len() <= *index {
                    self.tools.resize(*index + 1, false);
                }
                self.tools[*index] = true;
                self.any_tool = true;
                let client = self.map.client(name);
                let id = sanitize_id(id);
                let tool = ToolOut {
                    index: *index,
                    id: Some(&id),
                    kind: Some("function"),
                    function: FunctionOut { name: Some(&client.name), arguments: "" },
                };
                self.write(DeltaOut { tool_calls: Some([tool]), ..DeltaOut::default() }, None, out);
            }
            Event::ToolArgs { index, delta } => {
                if self.tools.get(*index).copied().unwrap_or(false) && !delta.is_empty() {
                    let tool = ToolOut {
                        index: *index,
                        id: None,
                        kind: None,
                        function: FunctionOut { name: None, arguments: delta },
                    };
                    self.write(DeltaOut { tool_calls: Some([tool]), ..DeltaOut::default() }, None, out);
                }
            }
            Event::Usage(usage) => self.usage = *usage,
            Event::Finish(stop) => self.stop = Some(*stop),
            Event::ReasoningSignature(_)
            | Event::ReasoningEncrypted(_)
            | Event::ReasoningEnd
            | Event::ToolEnd { .. }
            | Event::ToolDropped
            | Event::Error { .. }
            | Event::Done => {}
        }
    }

    fn terminal(&mut self, terminal: Terminal<'_>, out: &mut Vec<u8>) {
        match terminal {
            Terminal::Complete => {
                let finish = finish_name(self.stop, self.any_tool);
                self.write(DeltaOut::default(), Some(finish), out);
                let usage = json!({
                    "id": self.id, "object": "chat.completion.chunk", "created": self.created,
                    "model": self.model, "choices": [], "usage": usage_json(&self.usage)
                });
                sse::write_data(out, &usage);
            }
            Terminal::Truncated => {
                sse::write_data(out, &error_json("stream_truncated", "The upstream stream ended early"));
            }
            Terminal::Failed { code, message } => sse::write_data(out, &error_json(code, message)),
        }
        out.extend_from_slice(b"data: [DONE]\n\n");
    }
}

/// The non-streamed Chat body.
/// A whole (not streamed) Chat Completions body, written as it is typed: building it as a
/// `Value` first cost most of a converted small request (`bench/PROFILE.md`).
#[derive(Serialize)]
struct CompletionBody<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: [CompletionChoice<'a>; 1],
    usage: UsageBody,
}

#[derive(Serialize)]
struct CompletionChoice<'a> {
    index: u32,
    message: CompletionMessage<'a>,
    finish_reason: &'static str,
}

#[derive(Serialize)]
struct CompletionMessage<'a> {
    role: &'static str,
    /// `null` when there is no text.
    content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_content: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<CompletionCall<'a>>,
}

#[derive(Serialize)]
struct CompletionCall<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: CompletionFunction<'a>,
}

#[derive(Serialize)]
struct CompletionFunction<'a> {
    name: &'a str,
    arguments: &'a str,
}

pub(crate) fn write_body(body: &FinalBody<'_>, out: &mut Vec<u8>) {
    if let Some(failure) = body.failed {
        if body.parts.is_empty() || failure.class != "stream_truncated" {
            sse::write_json(out, &error_json(failure.code, failure.message));
            return;
        }
    }
    let text = super::ir::join_text(&body.parts, "");
    let reasoning: Vec<&str> = body
        .parts
        .iter()
        .filter_map(|part| match part {
            Part::Reasoning(reasoning) if !reasoning.text.is_empty() => Some(reasoning.text.as_str()),
            _ => None,
        })
        .collect();
    let tool_calls: Vec<CompletionCall<'_>> = body
        .parts
        .iter()
        .filter_map(|part| match part {
            Part::ToolCall(call) => Some(CompletionCall {
                id: &call.id,
                kind: "function",
                function: CompletionFunction { name: &call.name, arguments: &call.arguments },
            }),
            _ => None,
        })
        .collect();
    let finish_reason = finish_name(body.stop, !tool_calls.is_empty());
    let message = CompletionMessage {
        role: "assistant",
        content: (!text.is_empty()).then_some(text),
        reasoning_content: (!reasoning.is_empty()).then(|| reasoning.join("\n\n")),
        tool_calls,
    };
    let value = CompletionBody {
        id: body.id,
        object: "chat.completion",
        created: util::now(),
        model: body.model,
        choices: [CompletionChoice { index: 0, message, finish_reason }],
        usage: UsageBody::of(&body.usage),
    };
    sse::write_json(out, &value);
}
