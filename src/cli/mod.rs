//! The command line: clap derive structs and dispatch. One file per verb.
//!
//! Exit codes: 0 success; 1 refused (input or a config file invalid or in conflict,
//! nothing written); 2 internal or environment failure; `aigate run` exits with the
//! agent's own code (128 + signal when the agent was killed by a signal).

use clap::{Parser, Subcommand};

use crate::clients::Client;
use crate::error::Result;
use crate::output::Printer;
use crate::paths::Paths;

pub(crate) mod backup;
pub(crate) mod completions;
pub(crate) mod doctor;
pub(crate) mod internal;
pub(crate) mod mcp;
pub(crate) mod provider;
pub(crate) mod restore;
pub(crate) mod run;
pub(crate) mod serve;
pub(crate) mod skill;
pub(crate) mod stats;
pub(crate) mod status;
pub(crate) mod use_cmd;

const EXIT_CODES: &str = "Exit codes:
  0  success
  1  refused: the input or a config file is invalid or in conflict; nothing was written
  2  internal or environment failure
  N  `aigate run` exits with the agent's own exit code (128 + signal number if killed)";

/// Run coding agents behind a session proxy, switch them between the official account and
/// a gateway without breaking their configs, and manage MCP servers and Skills for all of them.
#[derive(Debug, Parser)]
#[command(name = "aigate", version, after_long_help = EXIT_CODES, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Args)]
pub struct GlobalArgs {
    /// Print machine-readable JSON on stdout (one document with `"version": 1`)
    #[arg(long, global = true)]
    pub json: bool,
    /// Print only data and errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print more detail on stderr
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Never use colour (also `NO_COLOR`)
    #[arg(long, global = true)]
    pub no_color: bool,
}

// `defer`: a subcommand's arguments are built only when it is the one parsed, which keeps
// `aigate run`'s start-up short (here and in every nested subcommand enum).
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Show each client's files, mode, drift, the gateway and snapshots
    Status(status::StatusArgs),
    /// Manage upstream providers
    #[command(subcommand)]
    Provider(provider::ProviderCommand),
    /// Point clients at the gateway or back at the official account
    #[command(subcommand)]
    Use(use_cmd::UseCommand),
    /// Launch an agent behind a proxy that lives as long as the session
    Run(run::RunArgs),
    /// Run the persistent gateway for clients switched with `use gateway`
    Serve(serve::ServeArgs),
    /// Snapshots of client files
    #[command(subcommand)]
    Backup(backup::BackupCommand),
    /// Put client files back exactly as a snapshot holds them
    Restore(restore::RestoreArgs),
    /// Manage MCP servers across every client
    #[command(subcommand)]
    Mcp(mcp::McpCommand),
    /// Manage Skills in the shared store, visible to every client
    #[command(subcommand)]
    Skill(skill::SkillCommand),
    /// Usage, cost and latency from the proxy's records
    Stats(stats::StatsArgs),
    /// The most recent proxied requests
    Logs(stats::LogsArgs),
    /// Check everything that commonly breaks
    Doctor(doctor::DoctorArgs),
    /// Print shell completions
    Completions(completions::CompletionsArgs),
    /// Test hooks (not for users)
    #[command(subcommand, hide = true)]
    Internal(internal::InternalCommand),
    /// The proxy alone with one provider, for `bench/proxy_bench.sh`
    #[command(hide = true)]
    ProxyBenchServe(provider::BenchServeArgs),
}

/// `--client` values: one client, or `all` (every client, found or not). No `--client`
/// means the command's own default (usually: every client whose files exist).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClientChoice {
    Codex,
    Claude,
    #[value(name = "opencode")]
    OpenCode,
    Gemini,
    All,
}

/// The agent of `aigate run` and `mcp sync --from`: exactly one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AgentChoice {
    Codex,
    Claude,
    #[value(name = "opencode")]
    OpenCode,
    Gemini,
}

impl From<AgentChoice> for Client {
    fn from(choice: AgentChoice) -> Self {
        match choice {
            AgentChoice::Codex => Client::Codex,
            AgentChoice::Claude => Client::Claude,
            AgentChoice::OpenCode => Client::OpenCode,
            AgentChoice::Gemini => Client::Gemini,
        }
    }
}

/// `--scope` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScopeChoice {
    User,
    Project,
    Local,
}

impl From<ScopeChoice> for crate::skills_mcp::Scope {
    fn from(choice: ScopeChoice) -> Self {
        match choice {
            ScopeChoice::User => Self::User,
            ScopeChoice::Project => Self::Project,
            ScopeChoice::Local => Self::Local,
        }
    }
}

/// `--client` values to clients, sorted, without repeats (`all`: all of them); none given
/// means `default()`.
pub(crate) fn choose(choices: &[ClientChoice], default: impl FnOnce() -> Vec<Client>) -> Vec<Client> {
    if choices.is_empty() {
        return default();
    }
    let mut chosen: Vec<Client> = choices
        .iter()
        .flat_map(|choice| match choice {
            ClientChoice::Codex => vec![Client::Codex],
            ClientChoice::Claude => vec![Client::Claude],
            ClientChoice::OpenCode => vec![Client::OpenCode],
            ClientChoice::Gemini => vec![Client::Gemini],
            ClientChoice::All => Client::ALL.to_vec(),
        })
        .collect();
    chosen.sort();
    chosen.dedup();
    chosen
}

/// `--client` values with `--all` folded in.
pub(crate) fn with_all(choices: &[ClientChoice], all: bool) -> Vec<ClientChoice> {
    if all { vec![ClientChoice::All] } else { choices.to_vec() }
}

/// `--client` values as given (`all` expanded); none given stays none.
pub(crate) fn chosen(choices: &[ClientChoice]) -> Vec<Client> {
    choose(choices, Vec::new)
}

/// What every command gets: where things are, how to print, and the command line.
pub struct Ctx {
    pub out: Printer,
    pub paths: Paths,
    /// The command line as typed, recorded in snapshot transactions (no secrets: aigate
    /// never takes a secret on its command line).
    pub command_line: String,
}

impl Ctx {
    pub fn json(&self) -> bool {
        self.out.json
    }

    pub fn db(&self) -> Result<rusqlite::Connection> {
        crate::db::open(&self.paths.aigate_home)
    }
}

/// Dispatch a parsed command. Returns the process exit code on success.
pub fn dispatch(cli: Cli, command_line: String) -> Result<u8> {
    let out = Printer::new(cli.global.json, cli.global.quiet, cli.global.verbose, cli.global.no_color);
    if let Command::Completions(args) = &cli.command {
        return completions::run(&out, args);
    }
    let paths = Paths::from_env()?;
    let ctx = Ctx { out, paths, command_line };
    match cli.command {
        Command::Status(args) => status::run(&ctx, &args),
        Command::Provider(command) => provider::run(&ctx, command),
        Command::Use(command) => use_cmd::run(&ctx, command),
        Command::Run(args) => run::run(&ctx, args),
        Command::Serve(args) => serve::run(&ctx, &args),
        Command::Backup(command) => backup::run(&ctx, command),
        Command::Restore(args) => restore::run(&ctx, &args),
        Command::Mcp(command) => mcp::run(&ctx, command),
        Command::Skill(command) => skill::run(&ctx, command),
        Command::Stats(args) => stats::run_stats(&ctx, &args),
        Command::Logs(args) => stats::run_logs(&ctx, &args),
        Command::Doctor(args) => doctor::run(&ctx, &args),
        Command::Completions(args) => completions::run(&ctx.out, &args),
        Command::Internal(command) => internal::run(&ctx, command),
        Command::ProxyBenchServe(args) => provider::run_bench_serve(&ctx, &args),
    }
}
