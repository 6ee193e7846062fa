//! `aigate doctor`: argv to [`crate::doctor::diagnose`], and the findings printed.

use super::Ctx;
use crate::doctor::{Report, Severity, diagnose};
use crate::error::Result;

#[derive(Debug, clap::Args)]
#[command(after_long_help = "Examples:
  aigate doctor
  aigate doctor --json")]
pub struct DoctorArgs {}

pub(crate) fn run(ctx: &Ctx, _args: &DoctorArgs) -> Result<u8> {
    let report = diagnose(&ctx.paths)?;
    let Report { ok, checks, findings } = &report;
    if ctx.json() {
        ctx.out.json(&report)?;
    } else {
        let mut text = String::new();
        for finding in findings {
            let severity = match finding.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            text.push_str(&format!("{severity}[{}]: {}\n", finding.check, finding.what));
            if let Some(location) = &finding.location {
                text.push_str(&format!("  --> {location}\n"));
            }
            text.push_str(&format!("  hint: {}\n", finding.hint));
        }
        if *ok {
            ctx.out.info(&format!("All {} checks passed", checks.len()));
        } else {
            ctx.out.data(&text);
            ctx.out.info(&format!(
                "{} problem{} found",
                findings.len(),
                if findings.len() == 1 { "" } else { "s" }
            ));
        }
    }
    Ok(u8::from(!ok))
}
