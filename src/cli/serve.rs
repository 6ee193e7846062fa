//! `aigate serve`: argv to [`crate::session::serve`].

use super::Ctx;
use crate::error::Result;
use crate::session::serve::{ServeOptions, rotate_token, serve};

#[derive(Debug, clap::Args)]
#[command(after_long_help = "Examples:
  aigate serve
  aigate serve --port 9000 --provider deepseek --provider openrouter
  aigate serve --rotate-token")]
pub struct ServeArgs {
    /// Address to listen on (loopback unless --allow-remote)
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0 picks a free one)
    #[arg(long, default_value_t = 8787)]
    pub port: u16,
    /// Allow a non-loopback --host
    #[arg(long)]
    pub allow_remote: bool,
    /// A provider in the chain, in order (repeat); default: every provider by priority
    #[arg(long = "provider", value_name = "P")]
    pub providers: Vec<String>,
    /// Make a new gateway token and exit (clients in gateway mode need `aigate use gateway` again)
    #[arg(long)]
    pub rotate_token: bool,
}

pub(crate) fn run(ctx: &Ctx, args: &ServeArgs) -> Result<u8> {
    if args.rotate_token {
        return rotate_token(&ctx.out, &ctx.paths);
    }
    serve(
        &ctx.out,
        &ctx.paths,
        &ServeOptions {
            host: args.host.clone(),
            port: args.port,
            allow_remote: args.allow_remote,
            providers: args.providers.clone(),
            json: ctx.json(),
        },
    )
}
