//! `aigate run <agent>`: the agent behind a proxy that lives exactly as long as it does.

use std::ffi::OsString;
use std::path::PathBuf;

use super::Ctx;
use crate::error::Result;

#[derive(Debug, clap::Args)]
#[command(after_long_help = "Examples:
  aigate run codex
  aigate run codex --provider official --provider deepseek
  aigate run claude --provider anthropic -- -p \"say hi\"
  aigate run opencode --model deepseek-chat -- run \"fix the tests\"")]
pub struct RunArgs {
    /// The agent to launch
    #[arg(value_enum)]
    pub client: super::AgentChoice,
    /// A provider in the chain, in order (repeat); default: every provider by priority
    #[arg(long = "provider", value_name = "P")]
    pub providers: Vec<String>,
    /// The model the agent should ask for
    #[arg(long)]
    pub model: Option<String>,
    /// The agent executable (default: `AIGATE_<AGENT>_BIN`, else found on `PATH`)
    #[arg(long)]
    pub bin: Option<PathBuf>,
    /// Arguments passed to the agent as they are
    #[arg(last = true, value_name = "AGENT ARGS")]
    pub agent_args: Vec<OsString>,
}

pub(crate) fn run(ctx: &Ctx, args: RunArgs) -> Result<u8> {
    crate::session::run::run(
        &ctx.out,
        &ctx.paths,
        crate::session::run::RunOptions {
            client: args.client.into(),
            providers: args.providers,
            model: args.model,
            bin: args.bin,
            agent_args: args.agent_args,
        },
    )
}
