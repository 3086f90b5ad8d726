//! The compose file as typed structs, written by serde-saphyr's emitter.
//!
//! Built from strings, a value such as an instance named `0b101` or `yes`
//! reads as a number or a bool in Compose v1 (YAML 1.1) or v2. The emitter
//! quotes every string that a YAML 1.1 or 1.2 reader could take for anything
//! but a string (numbers in any radix, `1_000`, sexagesimal `12:30`, bools
//! such as `on`/`y`, null, `~`, timestamps, `=`, `<<` ...), keys included;
//! the tests below hold it to that for every awkward spelling.

use indexmap::IndexMap;
use serde::Serialize;
use serde_saphyr::{CommentPosition, Commented};

#[derive(Serialize)]
pub struct ComposeFile {
    pub services: IndexMap<String, Commented<Service>>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub volumes: IndexMap<String, Empty>,
    pub networks: IndexMap<String, Empty>,
}

/// A named volume or network with the engine's defaults: `{}`.
#[derive(Debug, Default, Serialize)]
pub struct Empty {}

#[derive(Debug, Default, Serialize)]
pub struct Service {
    pub image: String,
    pub restart: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entrypoint: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env_file: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<String>,
    pub networks: Vec<String>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub depends_on: IndexMap<String, DependsOn>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy: Option<Deploy>,
    pub labels: IndexMap<String, String>,
}

#[derive(Debug, Serialize)]
pub struct DependsOn {
    pub condition: String,
}

#[derive(Debug, Serialize)]
pub struct Healthcheck {
    pub test: Vec<String>,
    pub interval: String,
    pub timeout: String,
    pub retries: u32,
    pub start_period: String,
}

#[derive(Debug, Serialize)]
pub struct Deploy {
    pub resources: Resources,
}

#[derive(Debug, Serialize)]
pub struct Resources {
    pub limits: Limits,
}

#[derive(Debug, Serialize)]
pub struct Limits {
    pub memory: String,
    /// A string: compose reads `cpus: "0.5"` in v1 and v2 alike.
    pub cpus: String,
}

/// The file's text: `header` as comment lines, then the YAML.
pub fn compose_text(header: &str, file: &ComposeFile) -> Result<String, String> {
    let options = serde_saphyr::ser_options! {
        comment_position: CommentPosition::Above,
        // Long commands stay on one line, as written in the catalog.
        prefer_block_scalars: false,
        compact_list_indent: false,
    };
    let yaml = serde_saphyr::to_string_with_options(file, options).map_err(|e| e.to_string())?;
    let mut out = String::new();
    for line in header.lines() {
        out.push_str(&format!("# {line}\n"));
    }
    out.push('\n');
    out.push_str(&yaml);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every string a YAML 1.1 or 1.2 reader could take for a number, bool,
    /// null, timestamp or merge key, as a key and as a value.
    pub const AWKWARD: &[&str] = &[
        "0b101",
        "0B101",
        "0o17",
        "0x1F",
        "017",
        "007",
        "1_000",
        "1e3",
        "1E3",
        "-1e-3",
        "1.0",
        ".5",
        "+1",
        "-1",
        "12:30",
        "190:20:30.15",
        "1:2",
        ".inf",
        "-.Inf",
        ".NaN",
        "~",
        "null",
        "Null",
        "NULL",
        "yes",
        "Yes",
        "YES",
        "no",
        "No",
        "on",
        "On",
        "off",
        "OFF",
        "y",
        "Y",
        "n",
        "N",
        "true",
        "True",
        "false",
        "FALSE",
        "=",
        "<<",
        "2001-12-14",
        "2001-12-14t21:59:43.10-05:00",
        "2001-12-14 21:59:43.10 -5",
        "",
        " s",
        "x #y",
        "a: b",
        "- a",
        "[x]",
        "{x}",
        "*a",
        "&a",
        "!a",
        "%a",
        "@a",
        "`a",
        "'a",
        "\"a",
        "#a",
        "|",
        ">",
        "?",
        "-",
    ];

    fn sample(word: &str) -> ComposeFile {
        let mut labels = IndexMap::new();
        labels.insert("com.superdeploy.instance".to_string(), word.to_string());
        labels.insert(word.to_string(), "key".to_string());
        let mut services = IndexMap::new();
        services.insert(
            word.to_string(),
            Commented(
                Service {
                    image: word.into(),
                    restart: "unless-stopped".into(),
                    command: vec![word.into()],
                    networks: vec![word.into()],
                    labels,
                    ..Service::default()
                },
                "comment".into(),
            ),
        );
        ComposeFile {
            services,
            volumes: IndexMap::new(),
            networks: IndexMap::new(),
        }
    }

    /// Each line's scalar after `key: ` or `- `, and keys, unquoted ones only.
    fn plain_scalars(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        for line in text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        {
            let t = line.trim_start();
            let t = t.strip_prefix("- ").unwrap_or(t);
            let (key, value) = match t.split_once(": ") {
                Some((k, v)) => (k, Some(v)),
                None => (t.strip_suffix(':').unwrap_or(t), None),
            };
            for s in [Some(key), value].into_iter().flatten() {
                if !(s.starts_with('"') || s.starts_with('\'') || s == "{}") {
                    out.push(s.to_string());
                }
            }
        }
        out
    }

    #[test]
    fn every_awkward_string_is_quoted_as_key_and_value() {
        for word in AWKWARD {
            let text = compose_text("h", &sample(word)).unwrap();
            assert!(
                !plain_scalars(&text).iter().any(|p| p == word),
                "{word:?} was written plain:\n{text}"
            );
            // And it reads back as the same string.
            let back: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
            let svc = &back["services"][word];
            assert_eq!(svc["image"], serde_json::json!(word), "{text}");
            assert_eq!(
                svc["labels"]["com.superdeploy.instance"],
                serde_json::json!(word),
                "{text}"
            );
            assert_eq!(svc["labels"][word], serde_json::json!("key"), "{text}");
        }
    }

    #[test]
    fn comments_open_each_service() {
        let text = compose_text("line one\nline two", &sample("web")).unwrap();
        assert!(
            text.starts_with("# line one\n# line two\n\nservices:\n"),
            "{text}"
        );
        assert!(
            text.contains("  web:\n    # comment\n    image: web\n"),
            "{text}"
        );
    }
}
