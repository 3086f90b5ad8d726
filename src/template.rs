//! `{NAME}` placeholders, with an optional `|urlencode` filter. Small on
//! purpose: catalog templates only ever substitute known names.

use std::collections::BTreeMap;

/// Variables a template refers to, in order of appearance.
pub fn variables(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    scan(template, |name, _| {
        out.push(name.to_string());
        None
    });
    out
}

/// Substitutes every placeholder; an unknown one is an error naming it.
pub fn render(template: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let mut missing = None;
    let out = scan(template, |name, filter| match vars.get(name) {
        Some(v) => Some(match filter {
            Some("urlencode") => urlencode(v),
            _ => v.clone(),
        }),
        None => {
            missing.get_or_insert_with(|| name.to_string());
            Some(String::new())
        }
    });
    match missing {
        Some(name) => Err(name),
        None => Ok(out),
    }
}

fn scan(template: &str, mut f: impl FnMut(&str, Option<&str>) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end)
                if after[..end]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '|') =>
            {
                let inner = &after[..end];
                let (name, filter) = match inner.split_once('|') {
                    Some((n, f)) => (n, Some(f)),
                    None => (inner, None),
                };
                if let Some(v) = f(name, filter) {
                    out.push_str(&v);
                }
                rest = &after[end + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_encodes() {
        let vars = BTreeMap::from([
            ("HOST".to_string(), "db".to_string()),
            ("VHOST".to_string(), "/".to_string()),
        ]);
        assert_eq!(
            render("amqp://{HOST}/{VHOST|urlencode}", &vars).unwrap(),
            "amqp://db/%2F"
        );
        assert_eq!(render("{NOPE}", &vars).unwrap_err(), "NOPE");
        assert_eq!(variables("a {X} {Y|urlencode} {not a var}"), ["X", "Y"]);
    }
}
