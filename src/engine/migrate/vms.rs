//! Where a legacy project's machines are: the VMs config.yml declares,
//! those its apps name without declaring, and those its addons' `*_HOST`
//! point at; each addon placed on the one that held its data.

use yaml_edit::Mapping;

use super::LegacyConfig;
use crate::config::{self, LOCAL_VM};
use crate::error::{Result, UserError};
use crate::ssh::{alias_for_address, resolve_alias};

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
pub(super) struct Machines {
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
    pub(super) fn new(
        legacy: &LegacyConfig,
        ssh_config: Option<std::path::PathBuf>,
    ) -> Result<Machines> {
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
    pub(super) fn place(
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
    pub(super) fn declared_count(&self) -> usize {
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
    pub(super) fn write(
        &mut self,
        root: &Mapping,
        apps: Option<&Mapping>,
        notes: &mut Vec<String>,
    ) {
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
