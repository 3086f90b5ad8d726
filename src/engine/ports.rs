//! Published ports, per VM: from each type's base port upward, never two
//! alike on one VM, and never moving once given (the last allocation is read
//! back from secrets.yml) when other instances come and go.

use std::collections::{BTreeMap, HashMap};

use super::secrets::Secrets;
use crate::catalog::{Catalog, port_var};
use crate::config::Config;
use crate::error::{Result, UserError};

#[derive(Debug, Default, Clone)]
pub struct Allocation {
    /// (addon id, port name) → host port.
    ports: HashMap<(String, String), u16>,
}

impl Allocation {
    pub fn port(&self, addon_id: &str, port_name: &str) -> u16 {
        self.ports[&(addon_id.to_string(), port_name.to_string())]
    }
}

pub fn allocate(config: &Config, catalog: &Catalog, existing: &Secrets) -> Result<Allocation> {
    let mut alloc = Allocation::default();
    for vm in config.vms.values() {
        // port → who holds it, for clash messages.
        let mut taken: BTreeMap<u16, String> = BTreeMap::new();
        let claim = |taken: &mut BTreeMap<u16, String>, port: u16, who: String| -> Result<()> {
            if let Some(holder) = taken.get(&port) {
                return Err(UserError::new(format!(
                    "port {port} on VM {}: {who} clashes with {holder}",
                    vm.name
                ))
                .hint(format!(
                    "pin another port with `port:`; free ports start at {}",
                    first_free(taken, port)
                )));
            }
            taken.insert(port, who);
            Ok(())
        };
        // Pinned ports first: apps' published ports and addons' `port:`.
        for app in config.apps.values().filter(|a| a.vm == vm.name) {
            if let Some(p) = app.port {
                claim(&mut taken, p, format!("app {}", app.name))?;
            }
        }
        let addons: Vec<_> = config.addons.iter().filter(|a| a.vm == vm.name).collect();
        for a in &addons {
            if let Some(p) = a.port {
                let t = catalog.require(&a.type_name)?;
                claim(&mut taken, p, format!("addon {} (pinned)", a.id()))?;
                alloc.ports.insert((a.id(), t.main_port().name.clone()), p);
            }
        }
        // Then what earlier syncs gave out, if it still belongs to this VM.
        let mut pending = Vec::new();
        for a in &addons {
            let t = catalog.require(&a.type_name)?;
            let old = existing
                .instance(&a.type_name, &a.name)
                .filter(|o| o.get("HOST") == Some(&vm.private_ip));
            for (i, p) in t.ports.iter().enumerate() {
                let key = (a.id(), p.name.clone());
                if alloc.ports.contains_key(&key) {
                    continue;
                }
                let var = if i == 0 {
                    "PORT".to_string()
                } else {
                    port_var(&p.name)
                };
                match old
                    .and_then(|o| o.get(&var))
                    .and_then(|v| v.parse::<u16>().ok())
                {
                    Some(port) => {
                        if let Some(holder) = taken
                            .get(&port)
                            .filter(|h| h.ends_with("(pinned)") || h.starts_with("app "))
                        {
                            return Err(UserError::new(format!(
                                "port {port} on VM {}: {holder} clashes with addon {}, which has held it since an earlier sync",
                                vm.name,
                                a.id()
                            ))
                            .hint("pin a different port; moving a running addon's port would break its apps"));
                        }
                        match taken.entry(port) {
                            std::collections::btree_map::Entry::Occupied(_) => {
                                pending.push((a.id(), p.clone()))
                            }
                            std::collections::btree_map::Entry::Vacant(slot) => {
                                slot.insert(a.id());
                                alloc.ports.insert(key, port);
                            }
                        }
                    }
                    None => pending.push((a.id(), p.clone())),
                }
            }
        }
        // New instances: from the base upward, in config order.
        for (id, p) in pending {
            let mut port = p.base;
            while taken.contains_key(&port) {
                port = port.checked_add(p.increment.max(1)).ok_or_else(|| {
                    UserError::new(format!(
                        "no free port above {} on VM {} for {id}",
                        p.base, vm.name
                    ))
                    .hint("pin a port with `port:`")
                })?;
            }
            taken.insert(port, id.clone());
            alloc.ports.insert((id, p.name.clone()), port);
        }
    }
    Ok(alloc)
}

fn first_free(taken: &BTreeMap<u16, String>, from: u16) -> u16 {
    (from..u16::MAX)
        .find(|p| !taken.contains_key(p))
        .unwrap_or(from)
}
