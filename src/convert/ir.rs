//! The one conversation model every codec decodes into and encodes from, and the stream
//! events every stream decoder produces.
//!
//! Invariants: nothing here knows a wire format. A fourth API is one more codec that maps its
//! requests onto [`Request`] and its stream onto [`Event`]s.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// An in-place system/developer message (the head system text lives in `Request::system`).
    System,
    User,
    Assistant,
    /// Tool results, in order. Only `Part::ToolResult` parts.
    Tool,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Message {
    pub role: Role,
    pub parts: Vec<Part>,
}

impl Message {
    pub(crate) fn new(role: Role, parts: Vec<Part>) -> Self {
        Self { role, parts }
    }

    /// The text parts joined with `sep`.
    pub(crate) fn text(&self, sep: &str) -> String {
        join_text(&self.parts, sep)
    }

    pub(crate) fn has_tool_calls(&self) -> bool {
        self.parts.iter().any(|part| matches!(part, Part::ToolCall(_)))
    }

    /// Rough heap size, for the response cache's byte bound.
    pub(crate) fn weight(&self) -> usize {
        self.parts.iter().map(Part::weight).sum::<usize>() + 32
    }
}

/// Text parts of `parts` joined with `sep`.
pub(crate) fn join_text(parts: &[Part], sep: &str) -> String {
    let mut out = String::new();
    for part in parts {
        if let Part::Text(text) = part {
            if !out.is_empty() {
                out.push_str(sep);
            }
            out.push_str(text);
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Part {
    Text(String),
    Image(Image),
    ToolCall(ToolCall),
    ToolResult(ToolResult),
    Reasoning(Reasoning),
}

impl Part {
    fn weight(&self) -> usize {
        match self {
            Part::Text(text) => text.len(),
            Part::Image(image) => image.url().len(),
            Part::ToolCall(call) => call.id.len() + call.name.len() + call.arguments.len(),
            Part::ToolResult(result) => {
                result.id.len() + result.content.iter().map(Part::weight).sum::<usize>()
            }
            Part::Reasoning(reasoning) => {
                reasoning.text.len()
                    + reasoning.signature.as_ref().map_or(0, String::len)
                    + reasoning.encrypted.as_ref().map_or(0, String::len)
                    + reasoning.redacted.as_ref().map_or(0, String::len)
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ImageSource {
    Url(String),
    Base64 { media_type: String, data: String },
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Image {
    pub source: ImageSource,
    pub detail: Option<String>,
}

impl Image {
    /// An image from a URL; a `data:` URL becomes base64 with its media type.
    pub(crate) fn from_url(url: &str, detail: Option<String>) -> Self {
        if let Some(rest) = url.strip_prefix("data:") {
            if let Some((head, data)) = rest.split_once(',') {
                if let Some(media_type) = head.strip_suffix(";base64") {
                    return Self {
                        source: ImageSource::Base64 {
                            media_type: media_type.to_string(),
                            data: data.to_string(),
                        },
                        detail,
                    };
                }
            }
        }
        Self { source: ImageSource::Url(url.to_string()), detail }
    }

    /// The image as a URL (`data:` for base64).
    pub(crate) fn url(&self) -> String {
        match &self.source {
            ImageSource::Url(url) => url.clone(),
            ImageSource::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ToolKind {
    Function,
    /// Responses `custom` tool (Codex `apply_patch`): one free-form string `input`.
    Custom,
    /// Responses `local_shell`.
    LocalShell,
    /// Responses client-executed `tool_search`.
    ToolSearch,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ToolCall {
    pub id: String,
    /// The client-side name (un-flattened).
    pub name: String,
    pub namespace: Option<String>,
    /// JSON text of the arguments (for custom tools `{"input": …}`).
    pub arguments: String,
    pub kind: ToolKind,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ToolResult {
    pub id: String,
    /// Text and image parts.
    pub content: Vec<Part>,
    pub is_error: bool,
    pub kind: ToolKind,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Reasoning {
    pub text: String,
    /// Anthropic thinking signature.
    pub signature: Option<String>,
    /// OpenAI Responses `encrypted_content` (foreign, opaque).
    pub encrypted: Option<String>,
    /// Anthropic `redacted_thinking.data`.
    pub redacted: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tool {
    pub name: String,
    pub namespace: Option<String>,
    pub description: Option<String>,
    /// JSON schema of the arguments (already an object schema).
    pub parameters: Value,
    pub strict: Option<bool>,
    pub kind: ToolKind,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ToolChoice {
    Auto,
    None,
    Required,
    Tool { name: String, namespace: Option<String> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Effort {
    None,
    Minimal,
    Low,
    Medium,
    High,
    XHigh,
    Max,
}

impl Effort {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "none" => Effort::None,
            "minimal" => Effort::Minimal,
            "low" => Effort::Low,
            "medium" => Effort::Medium,
            "high" => Effort::High,
            "xhigh" => Effort::XHigh,
            "max" => Effort::Max,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Effort::None => "none",
            Effort::Minimal => "minimal",
            Effort::Low => "low",
            Effort::Medium => "medium",
            Effort::High => "high",
            Effort::XHigh => "xhigh",
            Effort::Max => "max",
        }
    }

    /// cc-switch's buckets: <4000 low, <16000 medium, ≥16000 high.
    pub(crate) fn from_budget(budget: u64) -> Self {
        if budget < 4000 {
            Effort::Low
        } else if budget < 16000 {
            Effort::Medium
        } else {
            Effort::High
        }
    }

    /// An Anthropic thinking budget for this effort (`None` = thinking off). Each lands back
    /// in its own bucket of [`Effort::from_budget`].
    pub(crate) fn budget(self) -> Option<u64> {
        match self {
            Effort::None => None,
            Effort::Minimal => Some(1024),
            Effort::Low => Some(2048),
            Effort::Medium => Some(8192),
            Effort::High => Some(16384),
            Effort::XHigh | Effort::Max => Some(32000),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ResponseFormat {
    JsonObject,
    JsonSchema { name: String, schema: Value, strict: Option<bool> },
}

/// One request, any API.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Request {
    pub model: Option<String>,
    /// Head system text blocks (instructions, Anthropic `system`).
    pub system: Vec<String>,
    pub messages: Vec<Message>,
    pub tools: Vec<Tool>,
    pub tool_choice: Option<ToolChoice>,
    pub parallel_tool_calls: Option<bool>,
    pub max_tokens: Option<u64>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub stop: Vec<String>,
    pub effort: Option<Effort>,
    /// Anthropic thinking budget, when the source had one.
    pub budget: Option<u64>,
    pub response_format: Option<ResponseFormat>,
    pub stream: bool,
    pub previous_response_id: Option<String>,
    /// Responses `store` (`false`: the turn may not be referenced later).
    pub store: Option<bool>,
}

/// Token usage. `input` includes cached reads and cache writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Usage {
    pub input: u64,
    pub output: u64,
    pub cached: u64,
    /// Anthropic cache writes (part of `input`).
    pub cache_write: u64,
    pub reasoning: u64,
}

/// Why the model stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopReason {
    EndTurn,
    MaxTokens,
    ToolUse,
    ContentFilter,
    StopSequence,
}

impl StopReason {
    pub(crate) fn name(self) -> &'static str {
        match self {
            StopReason::EndTurn => "end_turn",
            StopReason::MaxTokens => "max_tokens",
            StopReason::ToolUse => "tool_use",
            StopReason::ContentFilter => "content_filter",
            StopReason::StopSequence => "stop_sequence",
        }
    }
}

/// One decoded upstream stream event. Tool `index` is dense from 0 in start order, assigned
/// by the decoder; names are upstream (wire) names, mapped back by the encoders.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Event<'a> {
    Text(&'a str),
    Reasoning(&'a str),
    ReasoningSignature(&'a str),
    ReasoningEncrypted(&'a str),
    /// The current reasoning block closed (the next reasoning opens a new one).
    ReasoningEnd,
    ToolStart {
        index: usize,
        id: &'a str,
        name: &'a str,
    },
    ToolArgs {
        index: usize,
        delta: &'a str,
    },
    ToolEnd {
        index: usize,
    },
    /// A tool call was dropped because the upstream never named it.
    ToolDropped,
    Usage(Usage),
    Finish(StopReason),
    /// An upstream error frame.
    Error {
        code: &'a str,
        message: &'a str,
    },
    /// The upstream's own clean terminal (`[DONE]`, `message_stop`, `response.completed`).
    Done,
}

/// Salvage tool-call arguments: valid JSON stays, anything else becomes `{}`.
pub(crate) fn salvage_arguments(arguments: &str) -> String {
    let trimmed = arguments.trim();
    if trimmed.is_empty() {
        return "{}".to_string();
    }
    match serde_json::from_str::<&serde_json::value::RawValue>(trimmed) {
        Ok(_) => trimmed.to_string(),
        Err(_) => "{}".to_string(),
    }
}
