//! `aigate stats` and `aigate logs`: usage, cost and latency from the proxy's records.

use super::{Ctx, not_yet};
use crate::error::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GroupBy {
    Provider,
    Model,
    Client,
    Day,
}

#[derive(Debug, clap::Args)]
#[command(after_long_help = "Examples:
  aigate stats
  aigate stats --since 7d --by model
  aigate stats --by day --json")]
pub struct StatsArgs {
    /// Only requests newer than this: 30m, 24h, 7d, 4w
    #[arg(long, default_value = "24h")]
    pub since: String,
    /// Group rows by
    #[arg(long, value_enum, default_value = "provider")]
    pub by: GroupBy,
}

#[derive(Debug, clap::Args)]
#[command(after_long_help = "Examples:
  aigate logs
  aigate logs --limit 100 --json")]
pub struct LogsArgs {
    /// How many requests, newest first
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
}

pub(crate) fn run_stats(_ctx: &Ctx, _args: &StatsArgs) -> Result<u8> {
    Err(not_yet("stats"))
}

pub(crate) fn run_logs(_ctx: &Ctx, _args: &LogsArgs) -> Result<u8> {
    Err(not_yet("logs"))
}
