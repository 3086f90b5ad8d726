//! The seed-000 "Before" format: `addons: {postgres: {version}}`, credentials
//! in `secrets.shared.POSTGRES_*`, and `env_aliases` per app. `migrate` turns
//! it into named instances and attachments whose prefixes reproduce every
//! app's old variable names, keeping every existing credential.

use std::path::Path;
use std::str::FromStr;

use indexmap::IndexMap;
use serde::Deserialize;
use yaml_edit::{Document, Mapping, Sequence};

use super::generate::FileKind;
use super::plan::{FileChange, Plan};
use super::secrets::{AddonSecrets, Secrets};
use super::{CONFIG_FILE, Project, SECRETS_FILE, Workspace};
use crate::config::{self, LOCAL_VM, legacy};
use crate::error::{Result, UserError, io_error};
use crate::ssh::default_ssh_config;
use vms::Machines;

mod vms;

#[derive(Deserialize)]
pub(super) struct LegacyConfig {
    #[serde(default)]
    addons: IndexMap<String, Option<IndexMap<String, String>>>,
    #[serde(default)]
    pub(super) apps: IndexMap<String, Option<LegacyApp>>,
    #[serde(default)]
    pub(super) vms: IndexMap<String, Option<LegacyVm>>,
}

#[derive(Deserialize, Default, Clone)]
pub(super) struct LegacyVm {
    pub(super) host: Option<String>,
    pub(super) private_ip: Option<String>,
}

#[derive(Deserialize, Default, Clone)]
pub(super) struct LegacyApp {
    pub(super) vm: Option<String>,
}

#[derive(Deserialize, Default)]
struct LegacySecrets {
    #[serde(default)]
    secrets: IndexMap<String, Option<IndexMap<String, String>>>,
    #[serde(default)]
    env_aliases: IndexMap<String, Option<IndexMap<String, String>>>,
}

/// Legacy suffixes that name a credential differently.
fn credential_key(suffix: &str) -> &str {
    match suffix {
        "DB" | "DATABASE" | "NAME" => "DATABASE",
        "USERNAME" | "USER" => "USER",
        "PASS" | "PASSWORD" => "PASSWORD",
        other => other,
    }
}

pub fn plan(ws: &Workspace, project: &Project) -> Result<Plan> {
    let config_path = project.config_path();
    let secrets_path = project.secrets_path();
    let config_text =
        std::fs::read_to_string(&config_path).map_err(|e| io_error(&config_path, "read", e))?;
    let secrets_text = std::fs::read_to_string(&secrets_path).unwrap_or_default();
    if legacy::detect(&config_path, &config_text).is_none() {
        return Err(UserError::new(format!(
            "{} is not in the legacy format: nothing to migrate",
            config_path.display()
        ))
        .hint("`sdtui sync` regenerates a current project"));
    }
    let legacy: LegacyConfig = config::parse_yaml(&config_path, &config_text)?;
    let old_secrets: LegacySecrets = if secrets_text.trim().is_empty() {
        LegacySecrets::default()
    } else {
        config::parse_yaml(&secrets_path, &secrets_text)?
    };
    let mut shared: IndexMap<String, String> = old_secrets
        .secrets
        .get("shared")
        .cloned()
        .flatten()
        .unwrap_or_default();

    let mut notes = Vec::new();
    let mut machines = Machines::new(&legacy, default_ssh_config())?;
    // Each new instance's mapping and its VM: `vm:` is written once every
    // VM is known, since a later addon may declare another.
    let mut instance_vms: Vec<(String, String, String)> = Vec::new();
    let mut addon_secrets = AddonSecrets::new();
    // (type, category.name, env prefix of the type) per legacy addon.
    let mut instances: Vec<(String, String, String)> = Vec::new();
    let new_addons = Mapping::new();
    for (type_name, fields) in &legacy.addons {
        let t = ws.catalog.require(type_name).map_err(|e| UserError {
            message: format!(
                "{} in the legacy addons of {}",
                e.message,
                config_path.display()
            ),
            ..e
        })?;
        let fields = fields.clone().unwrap_or_default();
        let name = if t.category == "databases" {
            "primary"
        } else {
            "main"
        };
        let type_prefix = type_name.to_ascii_uppercase();
        // Credentials from `shared`, moved into the instance.
        let mut creds: IndexMap<String, String> = IndexMap::new();
        let keys: Vec<String> = shared
            .keys()
            .filter(|k| k.starts_with(&format!("{type_prefix}_")))
            .cloned()
            .collect();
        for k in keys {
            let suffix = &k[type_prefix.len() + 1..];
            let ck = credential_key(suffix).to_string();
            let v = shared.shift_remove(&k).unwrap_or_default();
            creds.insert(ck, v);
        }
        let vm = machines.place(type_name, &t.category, creds.get("HOST"), &mut notes)?;
        let inst = Mapping::new();
        inst.set("type", t.name.as_str());
        inst.set(
            "version",
            fields
                .get("version")
                .cloned()
                .unwrap_or_else(|| t.default_version.clone())
                .as_str(),
        );
        inst.set("plan", t.default_plan.as_str());
        instance_vms.push((t.category.clone(), name.to_string(), vm));
        let cat = match new_addons.get_mapping(&t.category) {
            Some(m) => m,
            None => {
                new_addons.set(t.category.as_str(), Mapping::new());
                new_addons.get_mapping(&t.category).unwrap_or_default()
            }
        };
        cat.set(name, &inst);
        if !creds.is_empty() {
            addon_secrets
                .entry(t.name.clone())
                .or_default()
                .insert(name.to_string(), creds);
        } else if !t.credentials.is_empty() {
            notes.push(format!("{type_name}: no {type_prefix}_* credentials in secrets.shared; new ones will be generated"));
        }
        instances.push((
            t.name.clone(),
            format!("{}.{name}", t.category),
            type_prefix,
        ));
    }

    // Attachments: every app had the shared TYPE_* variables; aliases add
    // their own prefix (DB_HOST: POSTGRES_HOST → attached as DB).
    let doc = Document::from_str(&config_text)
        .map_err(|e| UserError::new(format!("config.yml cannot be edited: {e}")))?;
    let root = doc
        .as_mapping()
        .ok_or_else(|| UserError::new("config.yml is not a mapping"))?;
    let several = machines.declared_count() > 1;
    for (category, name, vm) in &instance_vms {
        if let Some(inst) = new_addons
            .get_mapping(category)
            .and_then(|c| c.get_mapping(name))
            && (several || vm != LOCAL_VM)
        {
            inst.set("vm", vm.as_str());
        }
    }
    root.set("addons", &new_addons);
    let apps_map = root.get_mapping("apps");
    machines.write(&root, apps_map.as_ref(), &mut notes);
    for app in legacy.apps.keys() {
        let seq = Sequence::new();
        let aliases = old_secrets
            .env_aliases
            .get(app)
            .cloned()
            .flatten()
            .unwrap_or_default();
        for (type_name, id, type_prefix) in &instances {
            let t = ws.catalog.require(type_name)?;
            let produced: Vec<&str> = t.env.iter().map(|e| e.name.as_str()).collect();
            let mut prefixes = vec![type_prefix.clone()];
            for (alias, target) in &aliases {
                if let Some(target_suffix) = target.strip_prefix(&format!("{type_prefix}_")) {
                    let Some((alias_prefix, alias_suffix)) = split_alias(alias, &produced) else {
                        notes.push(format!("app {app}: {alias} (alias of {target}) has no counterpart; set it under `env:` if the app needs it"));
                        continue;
                    };
                    if credential_key(alias_suffix) != credential_key(target_suffix)
                        && alias_suffix != target_suffix
                    {
                        notes.push(format!("app {app}: {alias} was {target}; it now holds {alias_prefix}_{alias_suffix}'s value"));
                    }
                    if !prefixes.iter().any(|p| p == alias_prefix) {
                        prefixes.push(alias_prefix.to_string());
                    }
                }
            }
            for p in prefixes {
                let item = Mapping::new();
                item.set("addon", id.as_str());
                item.set("as", p.as_str());
                seq.push(&item);
            }
            for old in ["DB", "PASS", "USERNAME"] {
                let k = format!("{type_prefix}_{old}");
                if !produced.contains(&old) && old_key_existed(&old_secrets, type_prefix, old) {
                    notes.push(format!(
                        "app {app}: {k} is now {type_prefix}_{}",
                        if old == "DB" {
                            "DATABASE (and _NAME)"
                        } else if old == "PASS" {
                            "PASSWORD"
                        } else {
                            "USER"
                        }
                    ));
                }
            }
        }
        if let Some(a) = apps_map.as_ref().and_then(|m| m.get_mapping(app))
            && !seq.is_empty()
        {
            a.set("addons", &seq);
        }
    }
    notes.dedup();
    let new_config_text = doc.to_string();
    let new_config = config::parse(&config_path, &new_config_text, &ws.catalog).map_err(|e| {
        UserError::new(format!(
            "the migrated config.yml would not be valid: {}",
            e.message
        ))
        .hint(e.hint.unwrap_or_default())
    })?;

    // User sections: what is left of `shared`, and per-app sections.
    let mut user_text = String::from(
        crate::engine::secrets::NEW_USER_TEXT
            .split("shared: {}")
            .next()
            .unwrap_or_default(),
    );
    user_text.push_str(&section("shared", &shared));
    user_text.push_str("\n# =============================================================================\n# App-specific secrets (user-managed): a section per app name\n# =============================================================================\n");
    for (name, kv) in &old_secrets.secrets {
        if name != "shared" {
            user_text.push_str(&section(name, &kv.clone().unwrap_or_default()));
        }
    }
    let secrets = Secrets {
        addons: addon_secrets,
        user: IndexMap::new(),
        user_text,
    };
    // Parse the user part back so app env generation sees it.
    let secrets = Secrets::parse(
        &project.secrets_path(),
        &Secrets::render(&secrets.addons, &secrets.user_text),
    )?;
    shared.clear();

    let mut plan = ws.plan_generated(project, &new_config, &secrets, Some(secrets_text.clone()))?;
    plan.changes.insert(
        0,
        FileChange {
            rel: CONFIG_FILE.into(),
            old: Some(config_text.clone()),
            new: Some(new_config_text),
            mode: 0o644,
            kind: FileKind::Plain,
        },
    );
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let backup = Path::new(crate::engine::STATE_DIR)
        .join("backups")
        .join(format!("legacy-{stamp}"));
    plan.changes.push(FileChange {
        rel: backup.join(CONFIG_FILE),
        old: None,
        new: Some(config_text),
        mode: 0o644,
        kind: FileKind::Plain,
    });
    if !secrets_text.is_empty() {
        plan.changes.push(FileChange {
            rel: backup.join(SECRETS_FILE),
            old: None,
            new: Some(secrets_text),
            mode: 0o600,
            kind: FileKind::Secrets,
        });
    }
    plan.notes = notes;
    Ok(plan)
}

fn old_key_existed(s: &LegacySecrets, type_prefix: &str, suffix: &str) -> bool {
    s.secrets
        .get("shared")
        .cloned()
        .flatten()
        .is_some_and(|m| m.contains_key(&format!("{type_prefix}_{suffix}")))
}

/// `DB_HOST` → (`DB`, `HOST`) when HOST is a variable the type produces
/// (or a legacy spelling of one); the longest known suffix wins.
fn split_alias<'a>(alias: &'a str, produced: &[&str]) -> Option<(&'a str, &'a str)> {
    let mut best = None;
    for (i, _) in alias.match_indices('_') {
        let (p, s) = (&alias[..i], &alias[i + 1..]);
        if p.is_empty() {
            continue;
        }
        if (produced.contains(&s) || produced.contains(&credential_key(s)))
            && best.is_none_or(|(_, bs): (&str, &str)| s.len() > bs.len())
        {
            best = Some((p, s));
        }
    }
    best
}

fn section(name: &str, kv: &IndexMap<String, String>) -> String {
    if kv.is_empty() {
        return format!("{name}: {{}}\n");
    }
    let mut out = format!("{name}:\n");
    for (k, v) in kv {
        out.push_str(&format!("  {k}: {}\n", crate::yamlout::scalar(v)));
    }
    out
}
