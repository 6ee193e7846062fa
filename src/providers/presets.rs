//! Built-in provider presets (docs/providers.md). A preset fills the base URL, the wire
//! APIs the provider speaks natively, a default model and whether it reads images; every
//! field can be overridden on `aigate provider add`.
//!
//! Entries marked UNVERIFIED in providers.md are left out of `apis` so that aigate never
//! sends a request to an endpoint nobody has seen answer; `aigate provider test` probes
//! them.

use super::Api;
use crate::convert::Quirks;

/// One preset row.
#[derive(Debug, Clone, Copy)]
pub struct Preset {
    pub name: &'static str,
    /// Base URL to which `/chat/completions` etc. is appended.
    pub base_url: &'static str,
    pub apis: &'static [Api],
    /// APIs served at a different base URL.
    pub api_base_urls: &'static [(Api, &'static str)],
    pub default_model: Option<&'static str>,
    /// `Some(false)`: never reads images; `None`: model-dependent.
    pub vision: Option<bool>,
    /// The environment variable people usually keep this key in (a hint only).
    pub key_env: Option<&'static str>,
    /// Local servers need no key.
    pub needs_key: bool,
    /// How its Chat Completions endpoint differs from plain OpenAI (conversion.md §3.2); the
    /// converter reads only this, never the preset name.
    pub quirks: Quirks,
}

const RCM: &[Api] = &[Api::Responses, Api::Chat, Api::Messages];
const RC: &[Api] = &[Api::Responses, Api::Chat];
const CM: &[Api] = &[Api::Chat, Api::Messages];
const C: &[Api] = &[Api::Chat];
const M: &[Api] = &[Api::Messages];

/// Every preset, `custom` last.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "openai",
        base_url: "https://api.openai.com/v1",
        apis: RC,
        api_base_urls: &[],
        default_model: Some("gpt-5"),
        vision: Some(true),
        key_env: Some("OPENAI_API_KEY"),
        needs_key: true,
        quirks: Quirks::OPENAI,
    },
    Preset {
        name: "anthropic",
        base_url: "https://api.anthropic.com/v1",
        apis: M,
        api_base_urls: &[],
        default_model: Some("claude-sonnet-4-5"),
        vision: Some(true),
        key_env: Some("ANTHROPIC_API_KEY"),
        needs_key: true,
        quirks: Quirks::DEFAULT,
    },
    Preset {
        name: "deepseek",
        base_url: "https://api.deepseek.com/v1",
        apis: RCM,
        api_base_urls: &[(Api::Messages, "https://api.deepseek.com/anthropic/v1")],
        default_model: Some("deepseek-chat"),
        vision: Some(false),
        key_env: Some("DEEPSEEK_API_KEY"),
        needs_key: true,
        quirks: Quirks::DEEPSEEK,
    },
    Preset {
        name: "openrouter",
        base_url: "https://openrouter.ai/api/v1",
        apis: C,
        api_base_urls: &[],
        default_model: None,
        vision: None,
        key_env: Some("OPENROUTER_API_KEY"),
        needs_key: true,
        quirks: Quirks::OPENROUTER,
    },
    Preset {
        name: "kimi",
        base_url: "https://api.moonshot.ai/v1",
        apis: RCM,
        api_base_urls: &[(Api::Messages, "https://api.moonshot.ai/anthropic/v1")],
        default_model: Some("kimi-k2-0905-preview"),
        vision: None,
        key_env: Some("MOONSHOT_API_KEY"),
        needs_key: true,
        quirks: Quirks::KIMI,
    },
    Preset {
        name: "glm",
        base_url: "https://api.z.ai/api/paas/v4",
        apis: CM,
        api_base_urls: &[(Api::Messages, "https://api.z.ai/api/anthropic/v1")],
        default_model: Some("glm-4.6"),
        vision: None,
        key_env: Some("ZAI_API_KEY"),
        needs_key: true,
        quirks: Quirks::GLM,
    },
    Preset {
        name: "qwen",
        base_url: "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
        apis: C,
        api_base_urls: &[],
        default_model: Some("qwen3-coder-plus"),
        vision: None,
        key_env: Some("DASHSCOPE_API_KEY"),
        needs_key: true,
        quirks: Quirks::QWEN,
    },
    Preset {
        name: "minimax",
        base_url: "https://api.minimax.io/v1",
        apis: CM,
        api_base_urls: &[(Api::Messages, "https://api.minimax.io/anthropic/v1")],
        default_model: Some("MiniMax-M2"),
        vision: Some(true),
        key_env: Some("MINIMAX_API_KEY"),
        needs_key: true,
        quirks: Quirks::MINIMAX,
    },
    Preset {
        name: "groq",
        base_url: "https://api.groq.com/openai/v1",
        apis: C,
        api_base_urls: &[],
        default_model: Some("llama-3.3-70b-versatile"),
        vision: None,
        key_env: Some("GROQ_API_KEY"),
        needs_key: true,
        quirks: Quirks::DEFAULT,
    },
    Preset {
        name: "mistral",
        base_url: "https://api.mistral.ai/v1",
        apis: C,
        api_base_urls: &[],
        default_model: Some("devstral-medium-latest"),
        vision: None,
        key_env: Some("MISTRAL_API_KEY"),
        needs_key: true,
        quirks: Quirks::DEFAULT,
    },
    Preset {
        name: "xai",
        base_url: "https://api.x.ai/v1",
        apis: C,
        api_base_urls: &[],
        default_model: Some("grok-code-fast-1"),
        vision: None,
        key_env: Some("XAI_API_KEY"),
        needs_key: true,
        quirks: Quirks::DEFAULT,
    },
    Preset {
        name: "together",
        base_url: "https://api.together.xyz/v1",
        apis: C,
        api_base_urls: &[],
        default_model: None,
        vision: None,
        key_env: Some("TOGETHER_API_KEY"),
        needs_key: true,
        quirks: Quirks::DEFAULT,
    },
    Preset {
        name: "gemini",
        base_url: "https://generativelanguage.googleapis.com/v1beta/openai",
        // Its OpenAI-compatible endpoint and the native Gemini API beside it (which Gemini
        // CLI speaks, so its requests pass through).
        apis: &[Api::Chat, Api::Gemini],
        api_base_urls: &[(Api::Gemini, "https://generativelanguage.googleapis.com/v1beta")],
        default_model: Some("gemini-2.5-pro"),
        vision: Some(true),
        key_env: Some("GEMINI_API_KEY"),
        needs_key: true,
        quirks: Quirks::DEFAULT,
    },
    Preset {
        name: "ollama",
        base_url: "http://localhost:11434/v1",
        apis: C,
        api_base_urls: &[],
        default_model: None,
        vision: None,
        key_env: None,
        needs_key: false,
        quirks: Quirks::DEFAULT,
    },
    Preset {
        name: "lmstudio",
        base_url: "http://localhost:1234/v1",
        apis: C,
        api_base_urls: &[],
        default_model: None,
        vision: None,
        key_env: None,
        needs_key: false,
        quirks: Quirks::DEFAULT,
    },
    Preset {
        name: "custom",
        base_url: "",
        apis: &[],
        api_base_urls: &[],
        default_model: None,
        vision: None,
        key_env: None,
        needs_key: false,
        quirks: Quirks::DEFAULT,
    },
];

/// The preset called `name`.
pub fn find(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|preset| preset.name == name)
}

/// `openai, anthropic, …` for hints.
pub fn names() -> String {
    PRESETS.iter().map(|preset| preset.name).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_but_custom_has_a_base_and_an_api() {
        for preset in PRESETS {
            if preset.name == "custom" {
                continue;
            }
            assert!(preset.base_url.starts_with("http"), "{}", preset.name);
            assert!(!preset.apis.is_empty(), "{}", preset.name);
            assert!(!preset.base_url.ends_with('/'), "{}", preset.name);
            for (api, _) in preset.api_base_urls {
                assert!(preset.apis.contains(api), "{}", preset.name);
            }
        }
        assert!(find("deepseek").is_some());
        assert!(find("nope").is_none());
        assert_eq!(find("deepseek").map(|preset| preset.quirks), Some(Quirks::DEEPSEEK));
        assert_eq!(find("custom").map(|preset| preset.quirks), Some(Quirks::DEFAULT));
    }

    #[test]
    fn the_gemini_preset_has_its_native_api_beside_the_openai_compatible_one() {
        let gemini = find("gemini").unwrap();
        assert_eq!(gemini.apis, &[Api::Chat, Api::Gemini]);
        assert_eq!(
            gemini.api_base_urls,
            &[(Api::Gemini, "https://generativelanguage.googleapis.com/v1beta")]
        );
    }
}
