//! A plan: every file an operation would write or delete, shown as a
//! unified diff with secrets masked, applied all at once or not at all.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use serde::Serialize;

use super::generate::FileKind;

#[derive(Debug, Clone)]
pub struct FileChange {
    /// Relative to the project folder.
    pub rel: PathBuf,
    pub old: Option<String>,
    /// `None` deletes the file.
    pub new: Option<String>,
    pub mode: u32,
    pub kind: FileKind,
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub changes: Vec<FileChange>,
    /// Things worth saying that are not file changes.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChangeSummary {
    pub path: String,
    pub action: &'static str,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    pub fn summary(&self) -> Vec<ChangeSummary> {
        self.changes
            .iter()
            .map(|c| ChangeSummary {
                path: c.rel.display().to_string(),
                action: match (&c.old, &c.new) {
                    (None, Some(_)) => "create",
                    (Some(_), None) => "delete",
                    _ => "update",
                },
            })
            .collect()
    }

    /// The unified diff of every change; secrets masked unless `reveal`.
    pub fn diff(&self, reveal: bool) -> String {
        let mut masker = Masker::default();
        let mut out = String::new();
        for c in &self.changes {
            let (old, new) = if reveal {
                (
                    c.old.clone().unwrap_or_default(),
                    c.new.clone().unwrap_or_default(),
                )
            } else {
                (
                    masker.mask(&c.kind, c.old.as_deref().unwrap_or_default()),
                    masker.mask(&c.kind, c.new.as_deref().unwrap_or_default()),
                )
            };
            let from = if c.old.is_some() {
                format!("a/{}", c.rel.display())
            } else {
                "/dev/null".into()
            };
            let to = if c.new.is_some() {
                format!("b/{}", c.rel.display())
            } else {
                "/dev/null".into()
            };
            let diff = similar::TextDiff::from_lines(&old, &new);
            let text = diff
                .unified_diff()
                .context_radius(3)
                .header(&from, &to)
                .to_string();
            if text.is_empty() {
                // Masked contents equal but the secret changed.
                out.push_str(&format!(
                    "--- {from}\n+++ {to}\n@@ secret values changed @@\n"
                ));
            } else {
                out.push_str(&text);
            }
        }
        out
    }
}

/// Replaces secret values with a stable label: the same value reads the same
/// on both sides of a diff, a changed one reads differently, and nothing of
/// the value itself is shown.
#[derive(Default)]
pub struct Masker {
    labels: HashMap<String, usize>,
}

/// secrets.yml keys that are not secret.
const PLAIN_SECRET_KEYS: &[&str] = &["HOST", "PORT", "USER", "DATABASE", "VHOST", "READONLY_USER"];

impl Masker {
    pub fn label(&mut self, value: &str) -> String {
        let n = self.labels.len() + 1;
        let id = *self.labels.entry(value.to_string()).or_insert(n);
        format!("•••••••• (secret #{id})")
    }

    pub fn mask(&mut self, kind: &FileKind, text: &str) -> String {
        match kind {
            FileKind::Plain => text.to_string(),
            FileKind::Env(secret_keys) => self.mask_env(text, secret_keys),
            FileKind::Secrets => self.mask_secrets_yml(text),
        }
    }

    fn mask_env(&mut self, text: &str, secret_keys: &BTreeSet<String>) -> String {
        text.split_inclusive('\n')
            .map(|line| match line.split_once('=') {
                Some((k, v)) if secret_keys.contains(k) && !line.starts_with('#') => {
                    let nl = if v.ends_with('\n') { "\n" } else { "" };
                    format!("{k}={}{nl}", self.label(v.trim_end_matches('\n')))
                }
                _ => line.to_string(),
            })
            .collect()
    }

    fn mask_secrets_yml(&mut self, text: &str) -> String {
        text.split_inclusive('\n')
            .map(|line| {
                let trimmed = line.trim_start();
                let indent = &line[..line.len() - trimmed.len()];
                match trimmed.split_once(':') {
                    Some((k, v))
                        if !indent.is_empty()
                            && !trimmed.starts_with('#')
                            && !v.trim().is_empty()
                            && !PLAIN_SECRET_KEYS.contains(&k)
                            && !k.ends_with("_PORT") =>
                    {
                        let nl = if line.ends_with('\n') { "\n" } else { "" };
                        format!("{indent}{k}: {}{nl}", self.label(v.trim()))
                    }
                    _ => line.to_string(),
                }
            })
            .collect()
    }
}
