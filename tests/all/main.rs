//! One integration-test binary (as ripgrep and codex-rs do): every module links the crate
//! once, instead of once per file.

mod backup;
mod cli_help;
mod common;
mod crash;
mod doc_fuzz_smoke;
mod doc_roundtrip;
mod doctor;
mod mcp;
mod provider;
mod proxy;
mod run;
mod serve;
mod skill;
mod stats;
mod status;
mod use_cli;
mod use_gateway_files;
mod use_gemini;
