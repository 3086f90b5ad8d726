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
use crate::ssh::{alias_for_address, default_ssh_config, resolve_alias};

#[derive(Deserialize)]
struct LegacyConfig {
    #[serde(default)]
    addons: IndexMap<String, Option<IndexMap<String, String>>>,
    #[serde(default)]
    apps: IndexMap<String, Option<LegacyApp>>,
    #[serde(default)]
    vms: IndexMap<String, Option<LegacyVm>>,
}

#[derive(Deserialize, Default, Clone)]
struct LegacyVm {
    host: Option<String>,
    private_ip: Option<String>,
}

#[derive(Deserialize, Default, Clone)]
struct LegacyApp {
    vm: Option<String>,
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

/// A VM the migrated config.yml has: declared already, or declared by the
/// migration because an app names it or an addon's `*_HOST` points at it.
struct Machine {
    name: String,
    /// Written as `host:`.
    host: String,
    /// Written as `private_ip:` when `host` is not an address itself.
    private_ip: Option<String>,
    /// What a legacy `*_HOST` may say to mean this VM.
    addresses: Vec<String>,
    /// In the legacy config.yml already: left as the user wrote it.
    declared: bool,
    /// An addon or app runs there.
    used: bool,
    /// For the summary: why and how it was declared.
    why: String,
}

/// The VMs of the migrated project and where each legacy addon goes.
struct Machines {
    list: Vec<Machine>,
    ssh_config: Option<std::path::PathBuf>,
    /// Apps that name no VM: they ran where the legacy tool ran them,
    /// which is `local` here.
    apps_without_vm: Vec<String>,
    /// The VM every app runs on, when there is exactly one.
    apps_vm: Option<String>,
}

fn is_address(s: &str) -> bool {
    s.parse::<std::net::IpAddr>().is_ok()
}

impl Machines {
    fn new(legacy: &LegacyConfig, ssh_config: Option<std::path::PathBuf>) -> Result<Machines> {
        let mut m = Machines {
            list: Vec::new(),
            ssh_config,
            apps_without_vm: Vec::new(),
            apps_vm: None,
        };
        for (name, vm) in &legacy.vms {
            let vm = vm.clone().unwrap_or_default();
            let host = vm.host.clone().unwrap_or_else(|| name.clone());
            let mut addresses = vec![name.clone(), host.clone()];
            addresses.extend(vm.private_ip.clone());
            addresses.extend(m.resolve(&host).map(|(h, _)| h));
            if host == LOCAL_VM {
                addresses.extend(["127.0.0.1".to_string(), "localhost".to_string()]);
            }
            m.list.push(Machine {
                name: name.clone(),
                host,
                private_ip: vm.private_ip,
                addresses,
                declared: true,
                used: false,
                why: String::new(),
            });
        }
        let mut app_vms: Vec<String> = Vec::new();
        for (app, fields) in &legacy.apps {
            match fields.as_ref().and_then(|f| f.vm.clone()) {
                Some(vm) => {
                    if !app_vms.contains(&vm) {
                        app_vms.push(vm.clone());
                    }
                    m.declare_named(&vm, app)?;
                }
                None => m.apps_without_vm.push(app.clone()),
            }
        }
        if app_vms.len() == 1 && m.apps_without_vm.is_empty() {
            m.apps_vm = app_vms.pop();
        }
        Ok(m)
    }

    /// `~/.ssh/config`'s HostName for an alias, as ssh would read it.
    fn resolve(&self, alias: &str) -> Option<(String, String)> {
        let file = self.ssh_config.as_ref()?;
        let (host, port, user, _) = resolve_alias(alias, file)?;
        let mut how = format!("HostName {host}");
        if let Some(u) = user {
            how.push_str(&format!(", User {u}"));
        }
        if let Some(p) = port {
            how.push_str(&format!(", Port {p}"));
        }
        Some((host, how))
    }

    fn ssh_config_shown(&self) -> String {
        self.ssh_config
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "~/.ssh/config".into())
    }

    /// An app's `vm:` that config.yml does not declare: declared with the
    /// name as its host, reached through `~/.ssh/config` as ssh would.
    fn declare_named(&mut self, vm: &str, app: &str) -> Result<()> {
        if let Some(known) = self.list.iter_mut().find(|m| m.name == vm) {
            known.used = true;
            return Ok(());
        }
        if vm == LOCAL_VM {
            self.list.push(Machine {
                name: LOCAL_VM.into(),
                host: LOCAL_VM.into(),
                private_ip: None,
                addresses: vec![LOCAL_VM.into(), "127.0.0.1".into(), "localhost".into()],
                declared: false,
                used: true,
                why: "the local Docker engine".into(),
            });
            return Ok(());
        }
        let resolved = self.resolve(vm);
        let Some((address, how)) = resolved.filter(|(h, _)| is_address(h)) else {
            let found = match self.resolve(vm) {
                Some((h, _)) => format!("gives HostName {h}, not an IP address"),
                None => "has no Host entry for it".to_string(),
            };
            return Err(UserError::new(format!(
                "app {app} runs on VM \"{vm}\", which config.yml does not declare, and {} {found}",
                self.ssh_config_shown()
            ))
            .hint(format!(
                "declare it in config.yml (vms: {{{vm}: {{host: ADDRESS}}}}), or give it `Host {vm}` with `HostName ADDRESS` in {}; then migrate again",
                self.ssh_config_shown()
            )));
        };
        self.list.push(Machine {
            name: vm.to_string(),
            host: vm.to_string(),
            private_ip: Some(address.clone()),
            addresses: vec![vm.to_string(), address.clone()],
            declared: false,
            used: true,
            why: format!(
                "named by the apps but not declared; declared with host {vm}, which {} resolves ({how})",
                self.ssh_config_shown()
            ),
        });
        Ok(())
    }

    /// The VM a legacy addon ran on: the one its `*_HOST` names, a new one
    /// for an address no VM has, or a refusal when that cannot be told.
    fn place(
        &mut self,
        type_name: &str,
        category: &str,
        host: Option<&String>,
        notes: &mut Vec<String>,
    ) -> Result<String> {
        let var = format!("{}_HOST", type_name.to_ascii_uppercase());
        let Some(host) = host else {
            // Nothing says where it ran: only one answer is safe.
            let candidates: Vec<String> = self.list.iter().map(|m| m.name.clone()).collect();
            let only = match candidates.as_slice() {
                [] => {
                    self.declare_named(LOCAL_VM, type_name)?;
                    Some(LOCAL_VM.to_string())
                }
                [one] => Some(one.clone()),
                // A reverse proxy fronts the apps: it goes where they are.
                _ if category == "proxy" => self.apps_vm.clone(),
                _ => None,
            };
            return match only {
                Some(vm) => {
                    if candidates.len() > 1 {
                        notes.push(format!(
                            "{type_name}: secrets.shared has no {var}; placed with the apps on VM {vm} (change its `vm:` in config.yml to move it)"
                        ));
                    }
                    self.mark_used(&vm);
                    Ok(vm)
                }
                None => Err(UserError::new(format!(
                    "where did {type_name} run? secrets.shared has no {var}, and the project has several VMs"
                ))
                .hint(format!(
                    "add `{var}: ADDRESS` under secrets.shared in secrets.yml, then migrate again; VMs: {}",
                    self.choices()
                ))),
            };
        };
        if let Some(m) = self
            .list
            .iter_mut()
            .find(|m| m.addresses.iter().any(|a| a == host))
        {
            m.used = true;
            return Ok(m.name.clone());
        }
        if matches!(host.as_str(), "localhost" | "127.0.0.1") && self.list.is_empty() {
            self.declare_named(LOCAL_VM, type_name)?;
            return Ok(LOCAL_VM.into());
        }
        // An address no VM has: a VM of its own, named after its
        // `~/.ssh/config` alias when it has one.
        let (name, address, how) = if is_address(host) {
            let alias = self
                .ssh_config
                .as_ref()
                .and_then(|f| alias_for_address(host, f))
                .filter(|a| config::is_dns_label(a) && !self.has(a));
            match alias {
                Some(a) => {
                    let how = format!("{} has Host {a} for it", self.ssh_config_shown());
                    (a, host.clone(), how)
                }
                None => (self.free_name(host), host.clone(), String::new()),
            }
        } else {
            match self.resolve(host).filter(|(h, _)| is_address(h)) {
                Some((address, how)) if config::is_dns_label(host) && !self.has(host) => (
                    host.clone(),
                    address,
                    format!("{} resolves it ({how})", self.ssh_config_shown()),
                ),
                _ => {
                    return Err(UserError::new(format!(
                        "{type_name} ran on \"{host}\" ({var} in secrets.yml), which is no VM's address"
                    ))
                    .hint(format!(
                        "VMs: {}; set {var} to one of their addresses, or declare a VM with `host: {host}` and `private_ip: ADDRESS` in config.yml; then migrate again",
                        self.choices()
                    )));
                }
            }
        };
        let (host_field, private_ip) = if address == *host {
            (host.clone(), None)
        } else {
            (host.clone(), Some(address.clone()))
        };
        let mut why = format!("{type_name} ran on {host} ({var}); declared for it");
        if !how.is_empty() {
            why.push_str(&format!(" ({how})"));
        }
        self.list.push(Machine {
            name: name.clone(),
            host: host_field,
            private_ip,
            addresses: vec![name.clone(), host.clone(), address],
            declared: false,
            used: true,
            why,
        });
        Ok(name)
    }

    fn has(&self, name: &str) -> bool {
        self.list.iter().any(|m| m.name == name)
    }

    fn mark_used(&mut self, name: &str) {
        if let Some(m) = self.list.iter_mut().find(|m| m.name == name) {
            m.used = true;
        }
    }

    /// `vm-10-1-0-3` for 10.1.0.3: says where it is until the user renames it.
    fn free_name(&self, address: &str) -> String {
        let base: String = format!("vm-{address}")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        let base = base.trim_end_matches('-').to_string();
        if !self.has(&base) {
            return base;
        }
        (2..)
            .map(|n| format!("{base}-{n}"))
            .find(|n| !self.has(n))
            .unwrap_or(base)
    }

    fn choices(&self) -> String {
        if self.list.is_empty() {
            return "none yet (only the local engine)".into();
        }
        crate::error::choices(self.list.iter().map(|m| {
            match m.addresses.iter().find(|a| is_address(a)) {
                Some(a) => format!("{} ({a})", m.name),
                None => m.name.clone(),
            }
        }))
    }

    /// VMs config.yml will declare.
    fn declared_count(&self) -> usize {
        let implicit_local_only =
            self.list.len() == 1 && self.list[0].name == LOCAL_VM && !self.list[0].declared;
        if implicit_local_only {
            0
        } else {
            self.list.len()
        }
    }

    /// Adds the VMs the migration declared to `vms:`, and `vm: local` to
    /// apps that named none once other VMs exist.
    fn write(&mut self, root: &Mapping, apps: Option<&Mapping>, notes: &mut Vec<String>) {
        if self.declared_count() == 0 {
            return;
        }
        if !self.apps_without_vm.is_empty() && !self.list.is_empty() && !self.has(LOCAL_VM) {
            self.list.push(Machine {
                name: LOCAL_VM.into(),
                host: LOCAL_VM.into(),
                private_ip: None,
                addresses: vec![],
                declared: false,
                used: true,
                why: "declared for the apps that named no VM: the local Docker engine".into(),
            });
        }
        if !self.apps_without_vm.is_empty() {
            for app in &self.apps_without_vm {
                if let Some(a) = apps.and_then(|m| m.get_mapping(app)) {
                    a.set("vm", LOCAL_VM);
                }
            }
            notes.push(format!(
                "app {} named no VM: it runs on `local`, the local Docker engine (change its `vm:` in config.yml to move it)",
                self.apps_without_vm.join(", ")
            ));
        }
        let new: Vec<&Machine> = self.list.iter().filter(|m| !m.declared).collect();
        if new.is_empty() {
            return;
        }
        let vms = match root.get_mapping("vms") {
            Some(v) => v,
            None => {
                root.insert_before("addons", "vms", Mapping::new());
                root.get_mapping("vms").unwrap_or_default()
            }
        };
        for m in new {
            let fields = Mapping::new();
            fields.set("host", m.host.as_str());
            if let Some(ip) = &m.private_ip {
                fields.set("private_ip", ip.as_str());
            }
            vms.set(m.name.as_str(), &fields);
            notes.push(format!(
                "VM {}: {}; change its host, user or port under vms.{} in config.yml",
                m.name, m.why, m.name
            ));
        }
    }
}
