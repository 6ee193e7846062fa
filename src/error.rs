//! The one error type every command returns, and how it becomes an exit code.
//!
//! Exit codes (also in `aigate --help`): 0 success; 1 refused (the user's input or a
//! config file is invalid or in conflict, and nothing was written); 2 internal or
//! environment failure; `aigate run` passes the agent's own code through.
//!
//! Rendering follows the uv style: `error: <what failed>`, one `  Caused by: ` line per
//! source, then a blank line and `hint: <the next command to run>`. Messages never
//! depend on colour and never carry a secret.

use std::fmt;

/// How a failure maps onto the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The user's input or a config file is unusable or in conflict: exit 1.
    Refused,
    /// Something in aigate or its environment failed: exit 2.
    Internal,
}

/// A user-facing error: what failed, why (a chain), and what to do next.
#[derive(Debug)]
pub struct Error {
    pub kind: Kind,
    pub message: String,
    pub causes: Vec<String>,
    pub hint: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Exit 1: the input or a file is invalid or in conflict; nothing was written.
    pub fn refused(message: impl Into<String>) -> Self {
        Self { kind: Kind::Refused, message: message.into(), causes: Vec::new(), hint: None }
    }

    /// Exit 2: an internal or environment failure.
    pub fn internal(message: impl Into<String>) -> Self {
        Self { kind: Kind::Internal, message: message.into(), causes: Vec::new(), hint: None }
    }

    #[must_use]
    pub fn cause(mut self, cause: impl fmt::Display) -> Self {
        let text = cause.to_string();
        for line in text.lines() {
            if !line.trim().is_empty() {
                self.causes.push(line.trim_end().to_string());
            }
        }
        self
    }

    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Wrap this error under a new headline, keeping the old one as the first cause.
    #[must_use]
    pub fn context(self, message: impl Into<String>) -> Self {
        let mut causes = vec![self.message];
        causes.extend(self.causes);
        Self { kind: self.kind, message: message.into(), causes, hint: self.hint }
    }

    pub fn exit_code(&self) -> u8 {
        match self.kind {
            Kind::Refused => 1,
            Kind::Internal => 2,
        }
    }

    /// The full text as printed on stderr.
    pub fn render(&self) -> String {
        let mut out = format!("error: {}\n", self.message);
        for cause in &self.causes {
            out.push_str("  Caused by: ");
            out.push_str(cause);
            out.push('\n');
        }
        if let Some(hint) = &self.hint {
            out.push('\n');
            out.push_str("hint: ");
            out.push_str(hint);
            out.push('\n');
        }
        out
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        for cause in &self.causes {
            write!(f, ": {cause}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(error: std::io::Error) -> Self {
        // fs_err errors already name the path in their message.
        Self::internal(error.to_string())
    }
}

impl From<rusqlite::Error> for Error {
    fn from(error: rusqlite::Error) -> Self {
        Self::internal("The aigate database failed")
            .cause(error)
            .hint("run `aigate doctor` to check the database")
    }
}

impl From<serde_json::Error> for Error {
    fn from(error: serde_json::Error) -> Self {
        Self::internal("JSON encoding failed").cause(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn renders_message_causes_and_hint() {
        let error = Error::refused("Failed to parse `~/.codex/config.toml`")
            .cause("line 2, column 17: unclosed table")
            .hint("fix the file, or run `aigate restore`");
        assert_eq!(
            error.render(),
            "error: Failed to parse `~/.codex/config.toml`\n  Caused by: line 2, column 17: unclosed table\n\nhint: fix the file, or run `aigate restore`\n"
        );
        assert_eq!(error.exit_code(), 1);
    }

    #[test]
    fn context_keeps_the_old_headline_as_a_cause() {
        let error = Error::internal("disk full").context("Failed to write `x`");
        assert_eq!(error.render(), "error: Failed to write `x`\n  Caused by: disk full\n");
        assert_eq!(error.exit_code(), 2);
    }
}
