//! `aigate completions <shell>`: completions generated from the same clap tree.

use clap::CommandFactory;

use crate::error::Result;
use crate::output::Printer;

#[derive(Debug, clap::Args)]
#[command(after_long_help = "Examples:
  aigate completions bash > ~/.local/share/bash-completion/completions/aigate
  aigate completions zsh > \"${fpath[1]}/_aigate\"
  aigate completions fish > ~/.config/fish/completions/aigate.fish")]
pub struct CompletionsArgs {
    /// The shell to generate completions for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

pub(crate) fn run(out: &Printer, args: &CompletionsArgs) -> Result<u8> {
    let mut command = super::Cli::command();
    let mut buffer = Vec::new();
    clap_complete::generate(args.shell, &mut command, "aigate", &mut buffer);
    out.data(&String::from_utf8_lossy(&buffer));
    Ok(0)
}
