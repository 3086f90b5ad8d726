//! Remote commands as data: every word quoted into the one line SSH
//! sends, and what a command printed.

use super::*;

/// A remote command as data: a program and its arguments, each quoted when
/// turned into the one line SSH sends. Never paste user strings into a shell
/// line; to run a shell snippet, make it the fixed `-c` argument of `sh` and
/// pass the user's values as positional parameters after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteCommand {
    pub program: String,
    pub args: Vec<String>,
}

impl RemoteCommand {
    pub fn new<P, I, S>(program: P, args: I) -> Self
    where
        P: Into<String>,
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        RemoteCommand {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
        }
    }

    /// The line SSH sends, every word quoted for a POSIX shell. Errors on an
    /// empty program and on NUL bytes, which no remote argument can hold.
    pub fn try_line(&self) -> Result<String> {
        if self.program.is_empty() {
            return Err(UserError::new("a remote command needs a program"));
        }
        let words = std::iter::once(&self.program).chain(&self.args);
        let mut line = String::new();
        for (i, word) in words.enumerate() {
            let quoted = shlex::try_quote(word).map_err(|_| {
                UserError::new(format!(
                    "argument {i} of the remote command `{}` holds a NUL byte",
                    self.program.replace('\0', "\\0")
                ))
            })?;
            if i > 0 {
                line.push(' ');
            }
            line.push_str(&quoted);
        }
        Ok(line)
    }

    /// The line SSH sends (see [`RemoteCommand::try_line`]); for display a
    /// NUL byte shows as `\0` (running such a command is refused).
    pub fn line(&self) -> String {
        match self.try_line() {
            Ok(line) => line,
            Err(_) => RemoteCommand {
                program: self.program.replace('\0', "\\0"),
                args: self.args.iter().map(|a| a.replace('\0', "\\0")).collect(),
            }
            .try_line()
            .unwrap_or_default(),
        }
    }
}

impl fmt::Display for RemoteCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.line())
    }
}

/// What a remote command printed and its exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    pub code: u32,
    pub stdout: String,
    pub stderr: String,
}

impl ExecOutput {
    pub fn success(&self) -> bool {
        self.code == 0
    }
}
