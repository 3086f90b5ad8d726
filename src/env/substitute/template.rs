//! Compose's `${...}` grammar on one string, as the part both Compose v1
//! (1.29.2) and v2 (2.26.1) read the same way. Where they differ (measured
//! with each one's `config`), the construct is refused, never guessed:
//!
//! - `${VAR:+alt}` / `${VAR+alt}`: v2 only (v1: "Invalid interpolation format").
//! - a `$` or `{` inside a default or message (`${A:-${B}}`, `${A:-a$$b}`,
//!   `${A:-{x}}`): v2 nests and counts braces, v1 stops at the first `}` and
//!   keeps the text literally.
//! - a `$` followed by no name, `{` or `$` (`a$`, `$1`, `$ x`): v1 rejects
//!   it, v2 keeps the `$`.

use std::collections::BTreeMap;

/// One `${...}` or `$NAME` in a string, with what it resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    pub name: String,
    /// Byte offset of the `$` in the string.
    pub offset: usize,
    /// The exact text of the reference, e.g. `${DB_HOST:-localhost}`.
    pub token: String,
    /// The default or alternative text replaced it (the variable was unset,
    /// or empty with `:-`).
    pub used_default: bool,
}

/// Why a string cannot be substituted; `offset` is the `$` at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub offset: usize,
    pub kind: ErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// A variable with no value and no default.
    Unresolved { name: String },
    /// `${VAR:?message}` / `${VAR?message}` whose variable is missing.
    Required { name: String, message: String },
    /// Read the same way by v1 and v2, and rejected by both.
    Invalid { token: String, why: &'static str },
    /// Accepted by one Compose version only, or read differently by each.
    Unportable { token: String, why: &'static str },
}

/// Compose's modifiers after the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Modifier {
    DefaultIfUnsetOrEmpty, // :-
    DefaultIfUnset,        // -
    RequiredNonEmpty,      // :?
    Required,              // ?
}

/// Interpolates `text`: returns the result (a `$` from a value or from `$$`
/// is plain text in it, never read again) and every reference in order.
pub fn interpolate(
    text: &str,
    values: &BTreeMap<String, String>,
) -> Result<(String, Vec<Use>), TemplateError> {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut uses = Vec::new();
    let mut i = 0;
    while let Some(found) = text[i..].find('$') {
        let start = i + found;
        out.push_str(&text[i..start]);
        let next = bytes.get(start + 1).copied();
        match next {
            Some(b'$') => {
                out.push('$');
                i = start + 2;
            }
            Some(c) if is_name_start(c) => {
                let end = name_end(bytes, start + 1);
                let name = &text[start + 1..end];
                let value = lookup(values, name, start)?;
                out.push_str(value);
                uses.push(Use {
                    name: name.to_string(),
                    offset: start,
                    token: text[start..end].to_string(),
                    used_default: false,
                });
                i = end;
            }
            Some(b'{') => {
                let (end, resolved, used) = braced(text, start, values)?;
                out.push_str(&resolved);
                uses.push(used);
                i = end;
            }
            _ => {
                let shown: String = text[start..].chars().take(2).collect();
                return Err(TemplateError {
                    offset: start,
                    kind: ErrorKind::Unportable {
                        token: shown,
                        why: "a `$` not followed by a name, `{` or `$` is rejected by Compose v1 and kept by v2; write `$$` for a literal `$`",
                    },
                });
            }
        }
    }
    out.push_str(&text[i..]);
    Ok((out, uses))
}

/// `${...}` starting at `start` (the `$`): returns the byte after `}`.
fn braced(
    text: &str,
    start: usize,
    values: &BTreeMap<String, String>,
) -> Result<(usize, String, Use), TemplateError> {
    let bytes = text.as_bytes();
    let close = text[start..].find('}').map(|p| start + p);
    let token_end = close.map(|c| c + 1).unwrap_or(text.len());
    let token = text[start..token_end].to_string();
    let invalid = |why| TemplateError {
        offset: start,
        kind: ErrorKind::Invalid {
            token: token.clone(),
            why,
        },
    };
    let name_start = start + 2;
    if !bytes.get(name_start).copied().is_some_and(is_name_start) {
        return Err(invalid(
            "`${` must be followed by a variable name (letters, digits, `_`; not starting with a digit)",
        ));
    }
    let end_of_name = name_end(bytes, name_start);
    let name = &text[name_start..end_of_name];
    let Some(close) = close else {
        return Err(invalid("`${` has no closing `}`"));
    };
    let rest = &text[end_of_name..close];
    let (modifier, arg) = if rest.is_empty() {
        (None, "")
    } else if let Some(a) = rest.strip_prefix(":-") {
        (Some(Modifier::DefaultIfUnsetOrEmpty), a)
    } else if let Some(a) = rest.strip_prefix(":?") {
        (Some(Modifier::RequiredNonEmpty), a)
    } else if let Some(a) = rest.strip_prefix('-') {
        (Some(Modifier::DefaultIfUnset), a)
    } else if let Some(a) = rest.strip_prefix('?') {
        (Some(Modifier::Required), a)
    } else if rest.starts_with(":+") || rest.starts_with('+') {
        return Err(TemplateError {
            offset: start,
            kind: ErrorKind::Unportable {
                token,
                why: "`${VAR:+alt}` and `${VAR+alt}` work in Compose v2 only (v1 1.29 rejects them)",
            },
        });
    } else {
        return Err(invalid(
            "after the name, only `}`, `:-`, `-`, `:?` or `?` may follow",
        ));
    };
    if arg.contains(['$', '{']) {
        return Err(TemplateError {
            offset: start,
            kind: ErrorKind::Unportable {
                token,
                why: "a `$` or `{` inside a default or message is read differently by Compose v1 (kept as text, up to the first `}`) and v2 (nested); use a plain default",
            },
        });
    }
    let value = values.get(name);
    let mut used_default = false;
    let resolved = match modifier {
        None => lookup(values, name, start)?.to_string(),
        Some(Modifier::DefaultIfUnsetOrEmpty) => match value {
            Some(v) if !v.is_empty() => v.clone(),
            _ => {
                used_default = true;
                arg.to_string()
            }
        },
        Some(Modifier::DefaultIfUnset) => match value {
            Some(v) => v.clone(),
            None => {
                used_default = true;
                arg.to_string()
            }
        },
        Some(Modifier::RequiredNonEmpty) => match value {
            Some(v) if !v.is_empty() => v.clone(),
            _ => return Err(required(start, name, arg)),
        },
        Some(Modifier::Required) => match value {
            Some(v) => v.clone(),
            None => return Err(required(start, name, arg)),
        },
    };
    let used = Use {
        name: name.to_string(),
        offset: start,
        token,
        used_default,
    };
    Ok((close + 1, resolved, used))
}

fn required(offset: usize, name: &str, message: &str) -> TemplateError {
    TemplateError {
        offset,
        kind: ErrorKind::Required {
            name: name.to_string(),
            message: message.to_string(),
        },
    }
}

fn lookup<'a>(
    values: &'a BTreeMap<String, String>,
    name: &str,
    offset: usize,
) -> Result<&'a str, TemplateError> {
    values
        .get(name)
        .map(String::as_str)
        .ok_or_else(|| TemplateError {
            offset,
            kind: ErrorKind::Unresolved {
                name: name.to_string(),
            },
        })
}

/// Compose's names: `[_a-zA-Z][_a-zA-Z0-9]*` (ASCII only in both versions).
fn is_name_start(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphabetic()
}

fn name_end(bytes: &[u8], from: usize) -> usize {
    let mut end = from;
    while bytes
        .get(end)
        .is_some_and(|c| *c == b'_' || c.is_ascii_alphanumeric())
    {
        end += 1;
    }
    end
}

/// The defined names nearest to `wanted`, closest first (typos first, then
/// the rest alphabetically), for an unresolved variable's hint.
pub fn closest_names<'a>(wanted: &str, names: impl Iterator<Item = &'a String>) -> Vec<String> {
    let wanted_upper = wanted.to_ascii_uppercase();
    let mut scored: Vec<(usize, String)> = names
        .map(|n| {
            let distance = strsim::levenshtein(&wanted_upper, &n.to_ascii_uppercase());
            (distance, n.clone())
        })
        .collect();
    scored.sort();
    scored.into_iter().map(|(_, n)| n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn run(text: &str) -> Result<String, ErrorKind> {
        let v = vars(&[("A", "val"), ("E", ""), ("D", "x$y")]);
        interpolate(text, &v).map(|(s, _)| s).map_err(|e| e.kind)
    }

    #[test]
    fn compose_rules_for_defaults_and_required() {
        assert_eq!(run("${A}|$A|${A}b|$A-b").unwrap(), "val|val|valb|val-b");
        assert_eq!(run("${E:-d}|${E-d}|${U-d}|${U:-d}").unwrap(), "d||d|d");
        assert_eq!(run("${A:-a b}|${U:-a b}|${U:-}").unwrap(), "val|a b|");
        assert_eq!(run("${E?x}|${A:?x}").unwrap(), "|val");
        assert_eq!(run("$$|$${A}|a$$b").unwrap(), "$|${A}|a$b");
        assert_eq!(run("${A}}").unwrap(), "val}");
        // A value's `$` is inserted literally, never read again.
        assert_eq!(run("${D}").unwrap(), "x$y");
    }

    #[test]
    fn required_and_unresolved_are_errors() {
        assert_eq!(
            run("${U:?set U first}"),
            Err(ErrorKind::Required {
                name: "U".into(),
                message: "set U first".into()
            })
        );
        assert!(matches!(run("${E:?}"), Err(ErrorKind::Required { .. })));
        assert!(matches!(run("${U?}"), Err(ErrorKind::Required { .. })));
        assert_eq!(run("x $U"), Err(ErrorKind::Unresolved { name: "U".into() }));
    }

    #[test]
    fn constructs_the_versions_read_differently_are_refused() {
        for text in [
            "${A:+alt}",
            "${A+alt}",
            "${U:-${A}}",
            "${U:-a$$b}",
            "${A:-{x}}",
            "a$",
            "$1",
            "a$ b",
            "$é",
        ] {
            assert!(
                matches!(run(text), Err(ErrorKind::Unportable { .. })),
                "{text}: {:?}",
                run(text)
            );
        }
        for text in ["${}", "${A B}", "${1}", "${A", "${A:x}"] {
            assert!(
                matches!(run(text), Err(ErrorKind::Invalid { .. })),
                "{text}"
            );
        }
    }

    #[test]
    fn uses_carry_offsets_and_defaults() {
        let v = vars(&[("A", "1")]);
        let (_, uses) = interpolate("x ${A} $$B ${U:-d}", &v).unwrap();
        let got: Vec<(&str, usize, bool)> = uses
            .iter()
            .map(|u| (u.name.as_str(), u.offset, u.used_default))
            .collect();
        assert_eq!(got, vec![("A", 2, false), ("U", 11, true)]);
    }

    #[test]
    fn closest_names_put_typos_first() {
        let names = ["DB_HOST", "DATABASE_URL", "DB_PORT", "SDTUI_ENVIRONMENT"].map(String::from);
        let got = closest_names("DB_HOTS", names.iter());
        assert_eq!(got[0], "DB_HOST");
        assert_eq!(got.len(), 4);
    }
}
