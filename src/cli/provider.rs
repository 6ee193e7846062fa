//! `aigate provider add|list|show|remove|test`: upstream providers in the db.

use super::{Ctx, not_yet};
use crate::error::Result;

#[derive(Debug, clap::Subcommand)]
pub enum ProviderCommand {
    /// Register an upstream provider
    #[command(after_long_help = "Examples:
  aigate provider add deepseek --preset deepseek --key-env DEEPSEEK_API_KEY
  aigate provider add work --preset openai --key-env OPENAI_API_KEY --model-map gpt-5=gpt-5-mini
  echo \"$KEY\" | aigate provider add local --base-url http://127.0.0.1:8000/v1 --api chat --key-stdin")]
    Add(ProviderAddArgs),
    /// List providers (keys masked)
    List,
    /// Show one provider (keys masked)
    Show { name: String },
    /// Remove a provider
    Remove { name: String },
    /// Send one minimal request per wire API and report status and latency
    Test {
        name: String,
        /// Model to test with (default: the provider's default model)
        #[arg(long)]
        model: Option<String>,
    },
}

#[derive(Debug, clap::Args)]
pub struct ProviderAddArgs {
    /// A name for this provider (letters, digits, `-`, `_`)
    pub name: String,
    /// Start from a preset: openai, anthropic, deepseek, openrouter, kimi, glm, qwen,
    /// minimax, groq, mistral, xai, together, gemini, ollama, lmstudio, custom
    #[arg(long)]
    pub preset: Option<String>,
    /// The API base URL (overrides the preset's)
    #[arg(long)]
    pub base_url: Option<String>,
    /// A wire API it speaks natively (repeat): responses, chat, messages
    #[arg(long = "api", value_name = "API")]
    pub apis: Vec<String>,
    /// Name of the environment variable holding the key (preferred: nothing secret is stored)
    #[arg(long, value_name = "VAR", action = clap::ArgAction::Append, conflicts_with = "key_stdin")]
    pub key_env: Vec<String>,
    /// Read the key from stdin (one per line; stored in the 0600 db)
    #[arg(long)]
    pub key_stdin: bool,
    /// Map a requested model to the provider's model (repeat)
    #[arg(long, value_name = "FROM=TO")]
    pub model_map: Vec<String>,
    /// Model to use when the client names none the provider knows
    #[arg(long)]
    pub default_model: Option<String>,
    /// Lower runs first in the default chain
    #[arg(long)]
    pub priority: Option<i64>,
    /// Seconds to wait for response headers
    #[arg(long)]
    pub timeout: Option<u64>,
    /// Outbound proxy for this provider: http://, https:// or socks5://
    #[arg(long)]
    pub proxy: Option<String>,
    /// The provider cannot read images (requests with images skip it)
    #[arg(long)]
    pub no_vision: bool,
    /// Replace an existing provider of the same name
    #[arg(long)]
    pub force: bool,
}

pub(crate) fn run(_ctx: &Ctx, _command: ProviderCommand) -> Result<u8> {
    Err(not_yet("provider"))
}
