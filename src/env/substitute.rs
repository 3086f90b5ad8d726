//! `${...}` substitution into a user's compose or Pod file, by Compose's
//! rules (see template.rs for the grammar and what v1 and v2 disagree on).
//!
//! Compose interpolates after reading the YAML: only scalar *values* are
//! substituted, never mapping keys, never comments, and the result is a
//! string (Compose then casts a few known fields such as `replicas` or
//! `privileged`). So this module does the same on the parsed scalars, then
//! rewrites each changed scalar in place in the text, quoted when a YAML 1.1
//! or 1.2 reader could take it for anything but a string. Everything else
//! (comments, keys, layout) is left byte for byte. The user's file is never
//! written: the caller gets the text and writes it atomically.

mod dry_run;
mod template;

pub use dry_run::{DryRunRow, MASK as DRY_RUN_MASK, dry_run_rows, render_dry_run};
pub use template::closest_names;

use crate::error::{SourceSpot, UserError};
use granit_parser::{Event, Parser, ScalarStyle, Span};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use template::{ErrorKind, TemplateError};

/// A value available to `${NAME}`; `secret` decides masking in dry-run.
#[derive(Clone, PartialEq, Eq)]
pub struct Variable {
    pub value: String,
    pub secret: bool,
}

// Never print a value through Debug: it may be a secret.
impl std::fmt::Debug for Variable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Variable")
            .field("secret", &self.secret)
            .finish_non_exhaustive()
    }
}

pub type Variables = BTreeMap<String, Variable>;

/// Who reads the output, which decides how a literal `$` and a typed value
/// are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Compose reads the output again: a literal `$` is written `$$`, and a
    /// substituted value is always a string (Compose's own rule).
    Compose,
    /// Kubernetes reads it as is: `$` stays `$`, and a plain scalar whose
    /// result is a decimal number or `true`/`false` stays that type (so
    /// `containerPort: ${PORT}` is an integer); anything else is a string.
    Kubernetes,
}

/// One reference to a variable, where it lands in the user's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    pub name: String,
    pub file: PathBuf,
    pub line: u64,
    pub column: u64,
    /// The default text written in the file, when it replaced the variable.
    pub default_used: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Substituted {
    pub text: String,
    pub occurrences: Vec<Occurrence>,
}

/// Substitutes every `${...}` in the scalar values of `source` (the text of
/// `file`). Errors name file:line:col, the variable and the names defined.
pub fn substitute(
    file: &Path,
    source: &str,
    variables: &Variables,
    target: Target,
) -> Result<Substituted, UserError> {
    let values: BTreeMap<String, String> = variables
        .iter()
        .map(|(k, v)| (k.clone(), v.value.clone()))
        .collect();
    let mut edits: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    let mut occurrences = Vec::new();
    let mut nesting = Nesting::default();
    for next in Parser::new_from_str(source) {
        let (event, span) = next.map_err(|e| {
            let m = e.marker();
            UserError::new(format!("this file is not valid YAML: {}", e.info()))
                .at(Some(SourceSpot::new(
                    file,
                    Some(source),
                    m.line() as u64,
                    m.col() as u64 + 1,
                )))
                .hint("fix the YAML syntax; nothing was substituted or written")
        })?;
        match event {
            Event::Scalar(value, style, _, _) => {
                let is_key = nesting.node_is_key();
                nesting.node_done();
                if is_key || !value.contains('$') {
                    continue;
                }
                let Some(range) = scalar_range(source, &span, style) else {
                    continue;
                };
                let (text, uses) = template::interpolate(&value, &values)
                    .map_err(|e| template_error(file, source, &range, &value, e, variables))?;
                for u in &uses {
                    let (line, column) = locate(source, &range, &u.token, u.offset, &value);
                    occurrences.push(Occurrence {
                        name: u.name.clone(),
                        file: file.to_path_buf(),
                        line,
                        column,
                        default_used: u.used_default.then(|| default_text(&u.token)),
                    });
                }
                let raw = &source[range.clone()];
                edits.push((range, render_scalar(&text, style, raw, target)));
            }
            Event::Alias(_) => {
                nesting.node_is_key();
                nesting.node_done();
            }
            Event::MappingStart(..) => nesting.open(true),
            Event::SequenceStart(..) => nesting.open(false),
            Event::MappingEnd | Event::SequenceEnd => nesting.close(),
            _ => {}
        }
    }
    let mut text = String::with_capacity(source.len());
    let mut at = 0;
    for (range, replacement) in edits {
        text.push_str(&source[at..range.start]);
        text.push_str(&replacement);
        at = range.end;
    }
    text.push_str(&source[at..]);
    Ok(Substituted { text, occurrences })
}

/// Where the parser is: which nodes are mapping keys (Compose never
/// interpolates keys), including everything inside a complex key.
#[derive(Default)]
struct Nesting {
    frames: Vec<Frame>,
}

struct Frame {
    is_mapping: bool,
    expecting_key: bool,
    inside_key: bool,
}

impl Nesting {
    fn node_is_key(&self) -> bool {
        self.frames
            .last()
            .is_some_and(|f| f.inside_key || (f.is_mapping && f.expecting_key))
    }
    fn node_done(&mut self) {
        if let Some(f) = self.frames.last_mut()
            && f.is_mapping
        {
            f.expecting_key = !f.expecting_key;
        }
    }
    fn open(&mut self, is_mapping: bool) {
        let inside_key = self.node_is_key();
        self.frames.push(Frame {
            is_mapping,
            expecting_key: true,
            inside_key,
        });
    }
    fn close(&mut self) {
        self.frames.pop();
        self.node_done();
    }
}

/// The scalar's bytes in the source, quotes and block indicator included.
fn scalar_range(source: &str, span: &Span, style: ScalarStyle) -> Option<std::ops::Range<usize>> {
    let mut range = span.byte_range()?;
    let quote = match style {
        ScalarStyle::SingleQuoted => Some(b'\''),
        ScalarStyle::DoubleQuoted => Some(b'"'),
        _ => None,
    };
    let bytes = source.as_bytes();
    if let Some(q) = quote
        && bytes.get(range.start) != Some(&q)
        && range.start > 0
        && bytes.get(range.start - 1) == Some(&q)
    {
        range = range.start - 1..range.end + 1;
    }
    if matches!(style, ScalarStyle::Literal | ScalarStyle::Folded) {
        range.start = block_header_start(source, range.start)?;
    }
    Some(range)
}

/// A block scalar's span starts at its content: back up to its `|` or `>`
/// header, the last token of the last non-blank line before the content
/// (after any comment is cut off).
fn block_header_start(source: &str, content_start: usize) -> Option<usize> {
    let before = &source[..content_start];
    let mut end = before.len();
    loop {
        let line_start = before[..end]
            .trim_end_matches(['\n', '\r'])
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let line = &before[line_start..end];
        let code = match line.find(" #") {
            Some(i) => &line[..i],
            None => line,
        };
        let code = code.trim_end();
        if code.trim().is_empty() {
            if line_start == 0 {
                return None;
            }
            end = line_start;
            continue;
        }
        let token_at = code.rfind([' ', '\t']).map_or(0, |i| i + 1);
        return code[token_at..]
            .starts_with(['|', '>'])
            .then_some(line_start + token_at);
    }
}

/// Writes the substituted value back as a scalar of the same meaning.
fn render_scalar(value: &str, style: ScalarStyle, raw: &str, target: Target) -> String {
    let text = match target {
        Target::Compose => value.replace('$', "$$"),
        Target::Kubernetes => value.to_string(),
    };
    match style {
        ScalarStyle::Plain if is_plain_string(&text) => text,
        ScalarStyle::Plain if target == Target::Kubernetes && is_plain_number_or_bool(&text) => {
            text
        }
        ScalarStyle::SingleQuoted if !text.chars().any(needs_escape) => {
            format!("'{}'", text.replace('\'', "''"))
        }
        ScalarStyle::Literal | ScalarStyle::Folded => {
            // The block's trailing line breaks belong to the layout after it.
            let tail_len = raw.len() - raw.trim_end_matches(['\n', '\r', ' ']).len();
            format!("{}{}", double_quoted(&text), &raw[raw.len() - tail_len..])
        }
        _ => double_quoted(&text),
    }
}

/// A plain scalar every YAML 1.1 and 1.2 reader takes for this same string:
/// a conservative alphabet, never starting with a digit or sign (numbers,
/// times, sexagesimals), never a bool or null word of YAML 1.1.
fn is_plain_string(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    const WORDS: &[&str] = &["true", "false", "yes", "no", "on", "off", "null", "y", "n"];
    (first.is_ascii_alphabetic() || first == '/' || first == '_')
        && !WORDS.contains(&s.to_ascii_lowercase().as_str())
        && !s.ends_with(':')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./@+:=-$".contains(c))
}

/// Decimal integers and floats, `true` and `false`: the same type in YAML
/// 1.1 and 1.2 readers.
fn is_plain_number_or_bool(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let int_ok = !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && (int == "0" || !int.starts_with('0'));
    let frac_ok = frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()));
    (int_ok && frac_ok) || s == "true" || s == "false"
}

/// Characters a single-quoted scalar cannot hold as they are (YAML 1.1 also
/// breaks lines at U+0085, U+2028 and U+2029).
fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}')
}

fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if needs_escape(c) => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The default written in `${NAME:-default}` / `${NAME-default}`.
fn default_text(token: &str) -> String {
    let inner = token.trim_start_matches("${").trim_end_matches('}');
    let at = inner.find('-').map(|i| i + 1).unwrap_or(inner.len());
    inner[at..].to_string()
}

/// Line and column (1-based, in characters) of a reference: found in the
/// scalar's source text when written there as is, else the scalar's start
/// (an escape such as `\x24` in a double-quoted scalar hides it).
fn locate(
    source: &str,
    range: &std::ops::Range<usize>,
    token: &str,
    offset_in_value: usize,
    value: &str,
) -> (u64, u64) {
    let raw = &source[range.clone()];
    // The nth time this token appears in the value is the nth in the source.
    let nth = value[..offset_in_value].matches(token).count();
    let at = raw
        .match_indices(token)
        .nth(nth)
        .map(|(i, _)| range.start + i)
        .unwrap_or(range.start);
    line_col(source, at)
}

fn line_col(source: &str, byte: usize) -> (u64, u64) {
    let before = &source[..byte];
    let line = before.matches('\n').count() as u64 + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = source[line_start..byte].chars().count() as u64 + 1;
    (line, column)
}

fn template_error(
    file: &Path,
    source: &str,
    range: &std::ops::Range<usize>,
    value: &str,
    error: TemplateError,
    variables: &Variables,
) -> UserError {
    let token_start = &value[error.offset..];
    let token: String = token_start.chars().take(2).collect();
    let (line, column) = locate(source, range, &token, error.offset, value);
    let spot = Some(SourceSpot::new(file, Some(source), line, column));
    match error.kind {
        ErrorKind::Unresolved { name } => {
            let names = closest_names(&name, variables.keys());
            UserError::new(format!("variable `{name}` is not defined"))
                .at(spot)
                .hint(format!(
                    "defined here: {}; add `{name}` to the environment's variables, or give a default: ${{{name}:-value}}",
                    crate::error::choices(names)
                ))
        }
        ErrorKind::Required { name, message } => {
            let said = if message.is_empty() {
                String::new()
            } else {
                format!(": {message}")
            };
            UserError::new(format!("variable `{name}` is required{said}"))
                .at(spot)
                .hint(format!(
                    "set `{name}` in the environment's variables (defined now: {})",
                    crate::error::choices(closest_names(&name, variables.keys()))
                ))
        }
        ErrorKind::Invalid { token, why } => {
            UserError::new(format!("invalid substitution `{token}`: {why}"))
                .at(spot)
                .hint("write ${NAME}, ${NAME:-default} or ${NAME:?message}; `$$` is a literal `$`")
        }
        ErrorKind::Unportable { token, why } => {
            UserError::new(format!("`{token}` is refused: {why}"))
                .at(spot)
                .hint("sdtui accepts only what Compose v1 and v2 read the same way, since either may deploy this file")
        }
    }
}

#[cfg(test)]
#[path = "substitute/tests.rs"]
mod tests;
