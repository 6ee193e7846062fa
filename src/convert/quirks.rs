//! Per-provider differences as data (conversion.md §3.2). The codecs read only these fields;
//! the preset table (`providers::presets`) says which provider has which.

/// Which field carries the output-token limit on Chat Completions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxTokensField {
    MaxTokens,
    MaxCompletionTokens,
}

/// How a Chat upstream is told the reasoning effort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasoningStyle {
    /// Send nothing (the model decides).
    None,
    /// `reasoning_effort` as OpenAI spells it (`max` becomes `xhigh`).
    OpenAi,
    /// DeepSeek V4: `reasoning_effort` high|max (lower efforts become high, xhigh becomes
    /// max); effort none gives `thinking:{type:disabled}`.
    Deepseek,
    /// OpenRouter: `reasoning:{effort}` only, never `reasoning_effort`; `max` becomes `xhigh`.
    OpenRouter,
    /// DashScope: `enable_thinking: bool`.
    QwenEnableThinking,
    /// `thinking:{type:enabled|disabled}` and no `reasoning_effort` (Kimi K2, GLM).
    ThinkingType,
}

/// How earlier reasoning goes back to a Chat upstream in the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasoningEcho {
    /// Not sent.
    Drop,
    /// `reasoning_content` on the assistant message.
    Field,
    /// `<think>…</think>` in front of the assistant content (MiniMax without `reasoning_split`).
    InlineThink,
}

/// What a JSON-schema response format becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonSchemaMode {
    /// `response_format:{type:json_schema, json_schema:{name,schema,strict}}`.
    Nested,
    /// `response_format:{type:json_object}`.
    JsonObject,
    /// No `response_format`.
    Drop,
}

/// One upstream's quirks. [`Quirks::default`] is a plain OpenAI-compatible server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quirks {
    pub max_tokens_field: MaxTokensField,
    /// Merge every system message into one at the head (MiniMax error 2013).
    pub collapse_system: bool,
    pub supports_parallel_tool_calls: bool,
    /// Send `stream_options:{include_usage:true}` on streamed Chat requests.
    pub supports_stream_options: bool,
    pub reasoning_style: ReasoningStyle,
    pub echo_reasoning: ReasoningEcho,
    /// Reasoning text to echo on a tool-call turn that has none (DeepSeek/Kimi require one).
    pub reasoning_placeholder: Option<&'static str>,
    pub json_schema: JsonSchemaMode,
    /// Drop `temperature`/`top_p` (ignored or fixed upstream).
    pub strip_sampling: bool,
    /// Forced tool choices degrade to `auto`; `none` removes the tools (GLM).
    pub tool_choice_auto_only: bool,
    /// Do not send an explicit `tool_choice:"auto"` (MiniMax rejects it).
    pub omit_explicit_auto: bool,
    /// Do not send `strict` on function tools.
    pub drop_strict: bool,
    /// Also drop `additionalProperties`, null properties and `format:"uri"` from schemas.
    pub strict_schema_cleaning: bool,
    /// Send `tool_stream:true` so tool arguments stream (GLM).
    pub tool_stream: bool,
    /// The upstream reads images; otherwise each image becomes a text notice.
    pub vision: bool,
    /// Clamp the output-token limit.
    pub max_output_cap: Option<u32>,
    /// `max_tokens` for a Messages upstream when the client sent none (the field is required).
    pub default_max_tokens: u32,
}

impl Quirks {
    /// A plain OpenAI-compatible upstream.
    pub const DEFAULT: Quirks = Quirks {
        max_tokens_field: MaxTokensField::MaxTokens,
        collapse_system: false,
        supports_parallel_tool_calls: true,
        supports_stream_options: true,
        reasoning_style: ReasoningStyle::None,
        echo_reasoning: ReasoningEcho::Drop,
        reasoning_placeholder: None,
        json_schema: JsonSchemaMode::Nested,
        strip_sampling: false,
        tool_choice_auto_only: false,
        omit_explicit_auto: false,
        drop_strict: false,
        strict_schema_cleaning: false,
        tool_stream: false,
        vision: true,
        max_output_cap: None,
        default_max_tokens: 32000,
    };

    pub const OPENAI: Quirks = Quirks {
        max_tokens_field: MaxTokensField::MaxCompletionTokens,
        reasoning_style: ReasoningStyle::OpenAi,
        ..Quirks::DEFAULT
    };

    pub const DEEPSEEK: Quirks = Quirks {
        reasoning_style: ReasoningStyle::Deepseek,
        echo_reasoning: ReasoningEcho::Field,
        reasoning_placeholder: Some("(this turn ran without thinking mode)"),
        json_schema: JsonSchemaMode::JsonObject,
        strip_sampling: true,
        strict_schema_cleaning: true,
        vision: false,
        ..Quirks::DEFAULT
    };

    pub const KIMI: Quirks = Quirks {
        max_tokens_field: MaxTokensField::MaxCompletionTokens,
        reasoning_style: ReasoningStyle::ThinkingType,
        echo_reasoning: ReasoningEcho::Field,
        reasoning_placeholder: Some("tool call"),
        strip_sampling: true,
        drop_strict: true,
        ..Quirks::DEFAULT
    };

    pub const GLM: Quirks = Quirks {
        reasoning_style: ReasoningStyle::ThinkingType,
        echo_reasoning: ReasoningEcho::Field,
        tool_choice_auto_only: true,
        tool_stream: true,
        ..Quirks::DEFAULT
    };

    pub const QWEN: Quirks =
        Quirks { reasoning_style: ReasoningStyle::QwenEnableThinking, ..Quirks::DEFAULT };

    pub const MINIMAX: Quirks = Quirks {
        max_tokens_field: MaxTokensField::MaxCompletionTokens,
        collapse_system: true,
        supports_parallel_tool_calls: false,
        echo_reasoning: ReasoningEcho::InlineThink,
        json_schema: JsonSchemaMode::Drop,
        omit_explicit_auto: true,
        drop_strict: true,
        ..Quirks::DEFAULT
    };

    pub const OPENROUTER: Quirks = Quirks { reasoning_style: ReasoningStyle::OpenRouter, ..Quirks::DEFAULT };
}

impl Default for Quirks {
    fn default() -> Self {
        Quirks::DEFAULT
    }
}
