//! An environment's `env_file:` (`deploy/dev.env`): its variables, one
//! `NAME=value` a line, read with the rules Compose v1 and v2 share for a
//! `.env` file (measured, see DESIGN.md): blank lines and `#` lines are
//! skipped; an unquoted value ends at ` #` (a comment) and is trimmed; a
//! value in matching single or double quotes is taken as written between
//! them, with no escapes. Anything else is refused with its line and column.

use std::path::Path;

use crate::error::{Result, SourceSpot, UserError};

/// One variable of an env file, with where its name is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub value: String,
    pub line: u64,
    pub column: u64,
}

/// The variables of `text` (read from `path`, for the error's spot), in
/// file order; a name written twice is refused naming both lines.
pub fn parse(path: &Path, text: &str) -> Result<Vec<Entry>> {
    let mut out: Vec<Entry> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i as u64 + 1;
        let body = raw.trim_start();
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let indent = (raw.len() - body.len()) as u64;
        let at = |col: u64| Some(SourceSpot::new(path, Some(text), line, col));
        let Some((name, rest)) = body.split_once('=') else {
            return Err(UserError::new(format!(
                "line {line} of {} is not NAME=value",
                path.display()
            ))
            .at(at(indent + 1))
            .hint("write one variable a line, e.g. LOG_LEVEL=debug; # starts a comment"));
        };
        let name = name.trim_end();
        if !super::is_env_name(name) {
            return Err(UserError::new(format!(
                "\"{name}\" in {} is not an environment variable name",
                path.display()
            ))
            .at(at(indent + 1))
            .hint("use upper-case letters, digits and '_', starting with a letter or '_'"));
        }
        let value_col = indent + (body.len() - rest.len()) as u64 + 1;
        let value = value_of(rest).map_err(|why| {
            UserError::new(format!(
                "the value of {name} in {} {why}",
                path.display()
            ))
            .at(at(value_col))
            .hint("quote the whole value with '...' or \"...\" (no escapes inside), or leave it unquoted")
        })?;
        if let Some(first) = out.iter().find(|e| e.name == name) {
            return Err(UserError::new(format!(
                "{name} is set twice in {} (lines {} and {line})",
                path.display(),
                first.line
            ))
            .at(at(indent + 1))
            .hint("keep one of the two lines"));
        }
        out.push(Entry {
            name: name.to_string(),
            value,
            line,
            column: indent + 1,
        });
    }
    Ok(out)
}

/// The value after `=`: quoted, or plain up to a ` #` comment.
fn value_of(rest: &str) -> std::result::Result<String, &'static str> {
    let v = rest.trim();
    for q in ['\'', '"'] {
        if let Some(inner) = v.strip_prefix(q) {
            let Some(end) = inner.find(q) else {
                return Err("opens a quote it never closes");
            };
            let after = inner[end + 1..].trim_start();
            if !(after.is_empty() || after.starts_with('#')) {
                return Err("goes on after its closing quote");
            }
            return Ok(inner[..end].to_string());
        }
    }
    let cut = v
        .char_indices()
        .find(|&(i, c)| c == '#' && i > 0 && v[..i].ends_with([' ', '\t']))
        .map_or(v.len(), |(i, _)| i);
    Ok(v[..cut].trim_end().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> String {
        parse(Path::new("dev.env"), text).unwrap()[0].value.clone()
    }

    #[test]
    fn values_as_both_compose_versions_read_them() {
        assert_eq!(one("A=x #y\n"), "x");
        assert_eq!(one("A=a#b\n"), "a#b");
        assert_eq!(one("A='q'\n"), "q");
        assert_eq!(one("A=\" s \"\n"), " s ");
        assert_eq!(one("A='a$b #c' # note\n"), "a$b #c");
        assert_eq!(one("  A = hello from dev  \n"), "hello from dev");
        assert_eq!(one("A=\n"), "");
    }

    #[test]
    fn refused_with_their_spot() {
        let p = Path::new("dev.env");
        let e = parse(p, "# c\n\nlog_level=debug\n").unwrap_err();
        assert_eq!(e.spot.as_ref().map(|s| (s.line, s.column)), Some((3, 1)));
        assert!(e.message.contains("\"log_level\""), "{}", e.message);
        let e = parse(p, "A=1\nNOPE\n").unwrap_err();
        assert!(e.message.contains("line 2"), "{}", e.message);
        let e = parse(p, "A='x\n").unwrap_err();
        assert_eq!(e.spot.as_ref().map(|s| s.column), Some(3));
        let e = parse(p, "A=1\nA=2\n").unwrap_err();
        assert!(e.message.contains("lines 1 and 2"), "{}", e.message);
    }
}
