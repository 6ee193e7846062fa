//! aigate: run coding agents (Codex CLI, Claude Code, OpenCode) behind a session proxy,
//! switch them between the official account and a gateway without breaking their
//! configs, and manage MCP servers and Skills for all of them.
//!
//! `main` parses and calls [`run`]; everything else lives in one module per concern.

pub mod backup;
pub mod cli;
pub mod clients;
pub mod convert;
pub mod db;
pub mod diff;
pub mod doc;
pub mod doctor;
pub mod env_vars;
pub mod error;
pub mod fsx;
pub mod output;
pub mod paths;
pub mod progress;
pub mod providers;
pub mod proxy;
pub mod random;
pub mod session;
pub mod skills_mcp;
pub mod stats;
pub mod usage_store;
pub mod write;

use clap::Parser;

/// Parse the command line, run the command, and return the process exit code.
pub fn run() -> u8 {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let command_line =
        args.iter().map(|arg| arg.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ");
    let cli = match cli::Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(error) => {
            let code = match error.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                _ => 1,
            };
            let _ = error.print();
            return code;
        }
    };
    let out =
        output::Printer::new(cli.global.json, cli.global.quiet, cli.global.verbose, cli.global.no_color);
    match cli::dispatch(cli, command_line) {
        Ok(code) => code,
        Err(error) => {
            out.error(&error);
            error.exit_code()
        }
    }
}
