//! The stream converter: upstream bytes → decoder → [`Event`]s → client encoder → bytes.
//!
//! Invariants:
//! - Exactly one terminal per stream ([`Terminal`]), whatever the upstream does: a clean end,
//!   EOF before its terminal (`stream_truncated`), a frame that does not parse
//!   (`malformed_upstream`), an upstream error frame (`upstream_error_event`) or a transport
//!   error ([`StreamConverter::fail`]). After it, input is ignored.
//! - Nothing is buffered beyond one partial SSE event, except the body of a non-streamed
//!   upstream (JSON), which is only complete at the end.
//! - All state is per converter: ids, sequence numbers, indexes.

use std::sync::Arc;

use super::ir::{Event, Message, Part, Reasoning, StopReason, ToolCall, ToolKind, Usage};
use super::sse::SseParser;
use super::tools::ToolMap;
use super::{ConvContext, chat_stream, gemini_stream, messages_stream, responses_stream, util};
use crate::providers::Api;

/// How a stream ended, for the client encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Terminal<'a> {
    Complete,
    /// EOF before the upstream's terminal.
    Truncated,
    Failed {
        code: &'a str,
        message: &'a str,
    },
}

/// What happened, for the usage log and failover.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    pub usage: OutcomeUsage,
    /// The upstream reported usage (otherwise `usage` is all zeros).
    pub usage_known: bool,
    /// `end_turn`, `max_tokens`, `tool_use`, `content_filter`, `stop_sequence`.
    pub stop_reason: Option<&'static str>,
    /// `None` on success; `upstream_error_event`, `stream_truncated`, `malformed_upstream`,
    /// `transport_error` or `upstream_tool_call_dropped` otherwise.
    pub error_class: Option<&'static str>,
    pub error_message: Option<String>,
}

/// Token counts; `input` includes cached input and cache writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutcomeUsage {
    pub input: u64,
    pub output: u64,
    pub cached: u64,
    pub reasoning: u64,
}

/// A client-side encoder (streamed SSE or the aggregated JSON body).
pub(crate) trait Encode: Send {
    fn event(&mut self, event: &Event<'_>, out: &mut Vec<u8>);
    fn terminal(&mut self, terminal: Terminal<'_>, out: &mut Vec<u8>);
}

/// An upstream-side decoder.
pub(crate) trait Decode: Send {
    /// One SSE event.
    fn frame(&mut self, event: Option<&str>, data: &str, sink: &mut Sink<'_>);
    /// A whole non-streamed JSON body.
    fn json(&mut self, body: &str, sink: &mut Sink<'_>);
    /// The upstream ended: flush pending state (the decoder emits no `Done` here).
    fn eof(&mut self, sink: &mut Sink<'_>);
}

/// Where decoders put events: tracks the outcome, forwards to the encoder.
pub(crate) struct Sink<'a> {
    tracker: &'a mut Tracker,
    encoder: &'a mut dyn Encode,
    collector: Option<&'a mut Collector>,
    out: &'a mut Vec<u8>,
}

impl Sink<'_> {
    pub(crate) fn emit(&mut self, event: Event<'_>) {
        if self.tracker.ended {
            return;
        }
        match &event {
            Event::Text(_) | Event::Reasoning(_) => self.tracker.content_started = true,
            Event::ToolStart { .. } => {
                self.tracker.content_started = true;
                self.tracker.tools_started += 1;
            }
            Event::Usage(usage) => {
                self.tracker.usage = *usage;
                self.tracker.usage_known = true;
            }
            Event::Finish(stop) => self.tracker.stop = Some(*stop),
            Event::Done => self.tracker.done = true,
            Event::ToolDropped => self.tracker.dropped += 1,
            Event::Error { code, message } => {
                let message = (*message).to_string();
                if !self.tracker.content_started {
                    self.tracker.error_before_content = Some(message.clone());
                }
                self.tracker.error_class = Some("upstream_error_event");
                self.tracker.error_code = Some((*code).to_string());
                self.tracker.error_message = Some(message.clone());
                self.end(Terminal::Failed { code, message: &message });
                return;
            }
            Event::ReasoningSignature(_)
            | Event::ReasoningEncrypted(_)
            | Event::ReasoningEnd
            | Event::ToolArgs { .. }
            | Event::ToolEnd { .. } => {}
        }
        if let Some(collector) = self.collector.as_deref_mut() {
            collector.event(&event);
        }
        self.encoder.event(&event, self.out);
    }

    /// A frame that does not parse: the stream ends with an error.
    pub(crate) fn malformed(&mut self, what: &str) {
        if self.tracker.ended {
            return;
        }
        self.tracker.error_class = Some("malformed_upstream");
        let message = format!("The upstream sent a malformed {what}");
        self.tracker.error_message = Some(message.clone());
        self.end(Terminal::Failed { code: "malformed_upstream", message: &message });
    }

    fn end(&mut self, terminal: Terminal<'_>) {
        self.tracker.ended = true;
        self.encoder.terminal(terminal, self.out);
    }
}

#[derive(Debug, Default)]
struct Tracker {
    content_started: bool,
    error_before_content: Option<String>,
    error_class: Option<&'static str>,
    /// The upstream's own error code, for an upstream error frame.
    error_code: Option<String>,
    error_message: Option<String>,
    usage: Usage,
    usage_known: bool,
    stop: Option<StopReason>,
    done: bool,
    dropped: usize,
    tools_started: usize,
    ended: bool,
}

/// What a chunk's converted events get beyond twice its length, in the buffer they are
/// written to.
const OUT_SLACK: usize = 512;

/// The buffer the last events are written to starts this large.
const FINISH_ROOM: usize = 4096;

/// The turn's output as IR parts (for a non-streamed client body and the response cache).
#[derive(Debug, Default)]
pub(crate) struct Collector {
    pub parts: Vec<Part>,
    /// Tool index → position in `parts`.
    tools: Vec<usize>,
    reasoning_open: bool,
    pub usage: Usage,
    pub stop: Option<StopReason>,
    map: Arc<ToolMap>,
    id_tag: String,
    scratch: Reasoning,
}

impl Collector {
    pub(crate) fn new(map: Arc<ToolMap>, id_tag: &str) -> Self {
        Self { map, id_tag: id_tag.to_string(), ..Self::default() }
    }

    pub(crate) fn event(&mut self, event: &Event<'_>) {
        match event {
            Event::Text(text) => {
                self.reasoning_open = false;
                if let Some(Part::Text(last)) = self.parts.last_mut() {
                    last.push_str(text);
                } else {
                    self.parts.push(Part::Text((*text).to_string()));
                }
            }
            Event::Reasoning(text) => self.reasoning().text.push_str(text),
            Event::ReasoningSignature(signature) => {
                self.reasoning().signature.get_or_insert_with(String::new).push_str(signature);
            }
            Event::ReasoningEncrypted(encrypted) => {
                self.reasoning().encrypted = Some((*encrypted).to_string());
            }
            Event::ReasoningEnd => self.reasoning_open = false,
            Event::ToolStart { index, id, name } => {
                self.reasoning_open = false;
                let client = self.map.client(name);
                let id = if id.is_empty() {
                    format!("call_{}_{index}", self.id_tag)
                } else {
                    super::tools::sanitize_id(id)
                };
                if self.tools.len() <= *index {
                    self.tools.resize(*index + 1, usize::MAX);
                }
                self.tools[*index] = self.parts.len();
                self.parts.push(Part::ToolCall(ToolCall {
                    id,
                    name: client.name,
                    namespace: client.namespace,
                    arguments: String::new(),
                    kind: client.kind,
                }));
            }
            Event::ToolArgs { index, delta } => {
                if let Some(Part::ToolCall(call)) =
                    self.tools.get(*index).and_then(|&at| self.parts.get_mut(at))
                {
                    call.arguments.push_str(delta);
                }
            }
            Event::Usage(usage) => self.usage = *usage,
            Event::Finish(stop) => self.stop = Some(*stop),
            Event::ToolEnd { .. } | Event::ToolDropped | Event::Error { .. } | Event::Done => {}
        }
    }

    /// The open reasoning part, opened if needed.
    fn reasoning(&mut self) -> &mut Reasoning {
        let open = self.reasoning_open && matches!(self.parts.last(), Some(Part::Reasoning(_)));
        if !open {
            self.parts.push(Part::Reasoning(Reasoning::default()));
            self.reasoning_open = true;
        }
        match self.parts.last_mut() {
            Some(Part::Reasoning(reasoning)) => reasoning,
            // Not reached (a reasoning part is last); keeps this total without a panic.
            _ => &mut self.scratch,
        }
    }

    /// Tool calls with salvaged arguments (what every client finally receives).
    pub(crate) fn finished_parts(&self) -> Vec<Part> {
        self.parts
            .iter()
            .filter(|part| match part {
                Part::Text(text) => !text.is_empty(),
                Part::ToolCall(call) => !call.name.is_empty(),
                _ => true,
            })
            .map(|part| match part {
                Part::ToolCall(call) if call.kind != ToolKind::Custom => {
                    let mut call = call.clone();
                    call.arguments = super::ir::salvage_arguments(&call.arguments);
                    Part::ToolCall(call)
                }
                other => other.clone(),
            })
            .collect()
    }
}

/// Upstream bytes in, client bytes out (see the module docs and `convert` docs).
pub struct StreamConverter {
    ctx: ConvContext,
    passthrough: bool,
    /// `Some(true)` once the upstream body is known to be JSON, `Some(false)` SSE.
    json_body: Option<bool>,
    json: Vec<u8>,
    sse: SseParser,
    decoder: Box<dyn Decode>,
    encoder: Box<dyn Encode>,
    collector: Option<Collector>,
    tracker: Tracker,
    response_id: String,
    client_stream: bool,
    finished: bool,
}

impl std::fmt::Debug for StreamConverter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamConverter")
            .field("ctx", &self.ctx)
            .field("response_id", &self.response_id)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

/// Does nothing: the same-API pass-through only decodes for the outcome.
struct NullEncoder;

impl Encode for NullEncoder {
    fn event(&mut self, _: &Event<'_>, _: &mut Vec<u8>) {}
    fn terminal(&mut self, _: Terminal<'_>, _: &mut Vec<u8>) {}
}

impl StreamConverter {
    /// A converter for one upstream response. `client_wants_stream: false` collects the
    /// upstream and emits the client's JSON body at [`finish`](Self::finish).
    pub fn new(ctx: ConvContext, upstream_api: Api, client_api: Api, client_wants_stream: bool) -> Self {
        let mut ctx = ctx;
        ctx.upstream_api = upstream_api;
        ctx.client_api = client_api;
        ctx.client_stream = client_wants_stream;
        let passthrough = upstream_api == client_api;
        let response_id = match client_api {
            Api::Responses => util::mint_id("resp_"),
            Api::Messages => util::mint_id("msg_"),
            Api::Chat => util::mint_id("chatcmpl-"),
            Api::Gemini => util::mint_id("gem_"),
        };
        let tag = response_id.rsplit(['_', '-']).next().unwrap_or("x").chars().take(8).collect::<String>();
        let decoder: Box<dyn Decode> = match upstream_api {
            Api::Chat => Box::new(chat_stream::Decoder::new(&tag)),
            Api::Messages => Box::new(messages_stream::Decoder::default()),
            Api::Responses => Box::new(responses_stream::Decoder::default()),
            Api::Gemini => Box::new(gemini_stream::Decoder::new(&tag)),
        };
        let map = Arc::clone(&ctx.tools);
        let encoder: Box<dyn Encode> = if passthrough || !client_wants_stream {
            Box::new(NullEncoder)
        } else {
            match client_api {
                Api::Responses => Box::new(responses_stream::Encoder::new(&ctx, &response_id)),
                Api::Messages => Box::new(messages_stream::Encoder::new(&ctx, &response_id)),
                Api::Chat => Box::new(chat_stream::Encoder::new(&ctx, &response_id)),
                Api::Gemini => Box::new(gemini_stream::Encoder::new(&ctx, &response_id)),
            }
        };
        let wants_collector =
            !passthrough && (!client_wants_stream || (client_api == Api::Responses && ctx.history.is_some()));
        let collector = wants_collector.then(|| Collector::new(map, &tag));
        Self {
            ctx,
            passthrough,
            json_body: None,
            json: Vec::new(),
            sse: SseParser::default(),
            decoder,
            encoder,
            collector,
            tracker: Tracker::default(),
            response_id,
            client_stream: client_wants_stream,
            finished: false,
        }
    }

    /// Upstream bytes in; client bytes appended to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        if self.finished {
            return;
        }
        if self.passthrough {
            out.extend_from_slice(chunk);
        }
        if self.json_body.is_none() {
            match chunk.iter().find(|byte| !byte.is_ascii_whitespace()) {
                Some(b'{' | b'[') => self.json_body = Some(true),
                Some(_) => self.json_body = Some(false),
                None => {
                    self.json.extend_from_slice(chunk);
                    return;
                }
            }
            if self.json_body == Some(false) && !self.json.is_empty() {
                let pending = std::mem::take(&mut self.json);
                self.feed_sse(&pending, out);
            }
        }
        if self.json_body == Some(true) {
            self.json.extend_from_slice(chunk);
        } else {
            self.feed_sse(chunk, out);
        }
    }

    fn feed_sse(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        let Self { sse, decoder, encoder, collector, tracker, passthrough, .. } = self;
        let mut scratch = Vec::new();
        let out: &mut Vec<u8> = if *passthrough { &mut scratch } else { out };
        // Room for what the chunk's events usually become (an event in another API is up to
        // about twice as long), so the many small writes of its events do not grow the
        // buffer step by step (each step a realloc and a copy: 15% of a converted stream's
        // instructions, `bench/PROFILE.md`).
        if !*passthrough {
            out.reserve(chunk.len().saturating_mul(2).saturating_add(OUT_SLACK));
        }
        let mut sink = Sink { tracker, encoder: encoder.as_mut(), collector: collector.as_mut(), out };
        sse.feed(chunk, &mut |event, data| decoder.frame(event, data, &mut sink));
    }

    /// The upstream ended: finalize exactly once.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.finished {
            return;
        }
        self.finished = true;
        let Self { sse, decoder, encoder, collector, tracker, passthrough, json, json_body, .. } = self;
        let mut scratch = Vec::new();
        let sink_out: &mut Vec<u8> = if *passthrough { &mut scratch } else { out };
        // The last events (a whole body, or a stream's terminal events, which in Responses
        // repeat the turn's text) start with room for a few kilobytes.
        if !*passthrough {
            sink_out.reserve(FINISH_ROOM);
        }
        let mut sink =
            Sink { tracker, encoder: encoder.as_mut(), collector: collector.as_mut(), out: sink_out };
        if *json_body == Some(true) {
            match std::str::from_utf8(json) {
                Ok(body) => decoder.json(body, &mut sink),
                Err(_) => sink.malformed("JSON body (not UTF-8)"),
            }
        } else {
            sse.finish(&mut |event, data| decoder.frame(event, data, &mut sink));
            decoder.eof(&mut sink);
        }
        if !sink.tracker.ended {
            if sink.tracker.done || sink.tracker.stop.is_some() {
                let dropped_all = sink.tracker.dropped > 0
                    && sink.tracker.stop != Some(StopReason::MaxTokens)
                    && sink.tracker.tools_started == 0;
                if dropped_all {
                    sink.tracker.error_class = Some("upstream_tool_call_dropped");
                    let message = "The upstream returned a tool call without a name";
                    sink.tracker.error_message = Some(message.to_string());
                    sink.end(Terminal::Failed { code: "upstream_tool_call_dropped", message });
                } else {
                    sink.end(Terminal::Complete);
                }
            } else {
                sink.tracker.error_class = Some("stream_truncated");
                sink.tracker.error_message =
                    Some("The upstream stream ended before its terminal event".to_string());
                sink.end(Terminal::Truncated);
            }
        }
        self.store_turn();
        if !self.client_stream && !self.passthrough {
            self.write_body(out);
        }
    }

    /// A transport error after the response was committed: a well-formed error in the
    /// client's shape.
    pub fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        if self.finished {
            return;
        }
        self.finished = true;
        if self.passthrough {
            self.tracker.error_class.get_or_insert("transport_error");
            self.tracker.error_message.get_or_insert_with(|| message.to_string());
            return;
        }
        let Self { encoder, collector, tracker, .. } = self;
        let mut sink = Sink { tracker, encoder: encoder.as_mut(), collector: collector.as_mut(), out };
        if !sink.tracker.ended {
            sink.tracker.error_class = Some("transport_error");
            sink.tracker.error_message = Some(message.to_string());
            sink.end(Terminal::Failed { code: "transport_error", message });
        }
        if !self.client_stream {
            self.write_body(out);
        }
    }

    /// A keep-alive for a long upstream silence, in the client's form: Messages `event: ping`
    /// (what Anthropic sends), an SSE comment otherwise; nothing for a JSON client or once the
    /// stream has ended.
    pub fn keepalive(&mut self, out: &mut Vec<u8>) {
        if !self.client_stream || self.finished || self.tracker.ended {
            return;
        }
        match self.ctx.client_api {
            Api::Messages if !self.passthrough => {
                out.extend_from_slice(b"event: ping\ndata: {\"type\":\"ping\"}\n\n");
            }
            Api::Messages | Api::Responses | Api::Chat | Api::Gemini => {
                out.extend_from_slice(b": keep-alive\n\n");
            }
        }
    }

    /// First content (text, reasoning or a tool call) has been decoded.
    pub fn content_started(&self) -> bool {
        self.tracker.content_started
    }

    /// An upstream error frame seen before any content: the proxy may fail over.
    pub fn error_before_content(&self) -> Option<String> {
        self.tracker.error_before_content.clone()
    }

    pub fn outcome(&self) -> Outcome {
        let usage = self.tracker.usage;
        Outcome {
            usage: OutcomeUsage {
                input: usage.input,
                output: usage.output,
                cached: usage.cached,
                reasoning: usage.reasoning,
            },
            usage_known: self.tracker.usage_known,
            stop_reason: self.tracker.stop.map(StopReason::name),
            error_class: self.tracker.error_class,
            error_message: self.tracker.error_message.clone(),
        }
    }

    /// The client's content type.
    pub fn content_type(&self) -> &'static str {
        if self.client_stream { "text/event-stream" } else { "application/json" }
    }

    /// The id of the response the client sees (`resp_…`, `msg_…`, `chatcmpl-…`).
    pub fn response_id(&self) -> &str {
        &self.response_id
    }

    fn store_turn(&mut self) {
        if self.ctx.client_api != Api::Responses || self.tracker.error_class.is_some() {
            return;
        }
        let (Some(history), Some(collector)) = (&self.ctx.history, &self.collector) else {
            return;
        };
        let output = Message::new(super::ir::Role::Assistant, collector.finished_parts());
        self.ctx.cache.put(&self.response_id, Arc::clone(history), output);
    }

    fn write_body(&self, out: &mut Vec<u8>) {
        let Some(collector) = &self.collector else {
            return;
        };
        let message = self.tracker.error_message.clone().unwrap_or_else(|| "upstream error".to_string());
        let failed = self.tracker.error_class.map(|class| super::Failure {
            class,
            code: self.tracker.error_code.as_deref().filter(|code| !code.is_empty()).unwrap_or(class),
            message: &message,
        });
        let body = super::FinalBody {
            id: &self.response_id,
            model: &self.ctx.client_model,
            parts: collector.finished_parts(),
            usage: self.tracker.usage,
            stop: self.tracker.stop,
            failed,
        };
        match self.ctx.client_api {
            Api::Responses => responses_stream::write_body(&body, out),
            Api::Messages => messages_stream::write_body(&body, out),
            Api::Chat => chat_stream::write_body(&body, out),
            Api::Gemini => gemini_stream::write_body(&body, out),
        }
    }
}
