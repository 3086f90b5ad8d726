//! User-facing errors: what went wrong, where (file:line:column or the
//! offending name), and a hint with the valid choices.

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSpot {
    pub file: PathBuf,
    pub line: u64,
    pub column: u64,
    /// The offending source line, shown under the message with a caret.
    pub snippet: Option<String>,
}

impl SourceSpot {
    pub fn new(file: &Path, source: Option<&str>, line: u64, column: u64) -> Self {
        let snippet = source.and_then(|s| {
            s.lines()
                .nth(line.saturating_sub(1) as usize)
                .map(str::to_string)
        });
        SourceSpot {
            file: file.to_path_buf(),
            line,
            column,
            snippet,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserError {
    pub message: String,
    pub spot: Option<SourceSpot>,
    pub hint: Option<String>,
}

impl UserError {
    pub fn new(message: impl Into<String>) -> Self {
        UserError {
            message: message.into(),
            spot: None,
            hint: None,
        }
    }
    pub fn at(mut self, spot: Option<SourceSpot>) -> Self {
        self.spot = spot;
        self
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.spot {
            Some(spot) => {
                writeln!(
                    f,
                    "{}:{}:{}: {}",
                    spot.file.display(),
                    spot.line,
                    spot.column,
                    self.message
                )?;
                if let Some(line) = &spot.snippet {
                    let gutter = spot.line.to_string();
                    writeln!(f, "{gutter} | {line}")?;
                    let pad = " ".repeat(gutter.len());
                    let caret = " ".repeat(spot.column.saturating_sub(1) as usize);
                    writeln!(f, "{pad} | {caret}^")?;
                }
            }
            None => writeln!(f, "{}", self.message)?,
        }
        if let Some(hint) = &self.hint {
            write!(f, "hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for UserError {}

pub type Result<T, E = UserError> = std::result::Result<T, E>;

/// Renders a list of choices for hints: `a, b, c`.
pub fn choices<I, S>(items: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let v: Vec<String> = items.into_iter().map(|s| s.as_ref().to_string()).collect();
    if v.is_empty() {
        "(none defined)".to_string()
    } else {
        v.join(", ")
    }
}

/// Wraps an I/O error with the path it concerns.
pub fn io_error(path: &Path, action: &str, err: std::io::Error) -> UserError {
    UserError::new(format!("cannot {action} {}: {err}", path.display()))
}
