//! `aigate doctor`: checks everything that commonly breaks, each finding with a hint.

use super::{Ctx, not_yet};
use crate::error::Result;

#[derive(Debug, clap::Args)]
#[command(after_long_help = "Examples:
  aigate doctor
  aigate doctor --json")]
pub struct DoctorArgs {}

pub(crate) fn run(_ctx: &Ctx, _args: &DoctorArgs) -> Result<u8> {
    Err(not_yet("doctor"))
}
