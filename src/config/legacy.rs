//! Recognising the seed-000 "Before" format (`addons: {postgres: {version}}`,
//! `secrets.shared.POSTGRES_*`, `env_aliases`), so loading it can point at
//! `migrate`. The migration itself is an engine operation
//! (`engine::migrate`): config never depends on the engine.

use std::path::Path;

use indexmap::IndexMap;
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::error::SourceSpot;

type SpannedFields = Option<IndexMap<Spanned<String>, serde::de::IgnoredAny>>;

#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    addons: Option<IndexMap<Spanned<String>, SpannedFields>>,
}

#[derive(Deserialize)]
struct ValueProbe {
    #[serde(default)]
    addons: Option<IndexMap<String, Option<IndexMap<String, ScalarOrNot>>>>,
}

/// Whether a value is a scalar; what it holds does not matter here.
struct ScalarOrNot(bool);

impl<'de> Deserialize<'de> for ScalarOrNot {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        Ok(ScalarOrNot(!v.is_object() && !v.is_array()))
    }
}

/// Where the legacy shape shows, if config.yml is in it: a type key directly
/// under `addons:` whose fields are scalars (`postgres: {version: 15}`).
pub fn detect(path: &Path, text: &str) -> Option<SourceSpot> {
    let values: ValueProbe = serde_saphyr::from_str(text).ok()?;
    let spans: Probe = serde_saphyr::from_str(text).ok()?;
    let addons = values.addons?;
    let (idx, _) = addons
        .iter()
        .enumerate()
        .find(|(_, (_, fields))| fields.as_ref().is_some_and(|f| f.values().any(|v| v.0)))?;
    let (key, _) = spans.addons?.into_iter().nth(idx)?;
    Some(SourceSpot::new(
        path,
        Some(text),
        key.referenced.line(),
        key.referenced.column(),
    ))
}

#[derive(Deserialize)]
struct LegacySecretsProbe {
    secrets: Option<Spanned<serde::de::IgnoredAny>>,
    env_aliases: Option<Spanned<serde::de::IgnoredAny>>,
}

pub fn detect_secrets(path: &Path, text: &str) -> Option<SourceSpot> {
    let p: LegacySecretsProbe = serde_saphyr::from_str(text).ok()?;
    let loc = p
        .secrets
        .map(|s| s.referenced)
        .or(p.env_aliases.map(|s| s.referenced))?;
    // The key's line, not the value's.
    let line = text
        .lines()
        .position(|l| l.starts_with("secrets:") || l.starts_with("env_aliases:"))
        .map(|i| i as u64 + 1)
        .unwrap_or(loc.line());
    Some(SourceSpot::new(path, Some(text), line, 1))
}
