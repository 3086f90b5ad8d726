//! Scalars for the few YAML lines sdtui writes by hand (secrets.yml, a
//! migrated config.yml), read back only by sdtui's typed reader. Compose
//! files go through serde-saphyr's emitter instead (engine/compose_yaml.rs).

pub fn scalar(s: &str) -> String {
    if is_plain_safe(s) {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
    }
}

fn is_plain_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    const RESERVED: &[&str] = &[
        "true", "false", "yes", "no", "on", "off", "null", "y", "n", "~",
    ];
    if RESERVED.contains(&s.to_ascii_lowercase().as_str()) {
        return false;
    }
    // Anything number-like must stay a string.
    if s.parse::<f64>().is_ok() || s.starts_with("0x") || s.starts_with("0o") {
        return false;
    }
    (first.is_ascii_alphanumeric() || first == '/' || first == '_' || first == '.')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./-@+".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn quotes_only_when_needed() {
        assert_eq!(scalar("postgres"), "postgres");
        assert_eq!(scalar("15"), "\"15\"");
        assert_eq!(scalar("yes"), "\"yes\"");
        assert_eq!(scalar("a: b"), "\"a: b\"");
        assert_eq!(scalar("/priority"), "/priority");
        assert_eq!(scalar(""), "\"\"");
    }
}
