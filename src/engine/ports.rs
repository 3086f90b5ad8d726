//! Published ports, per VM: from each type's base port upward, never two
//! alike on one VM, and never moving once given (the last allocation is read
//! back from secrets.yml) when other instances come and go.
//!
//! A new port also steers clear of what the same machine already publishes
//! on an overlapping address: the other projects under the root (their
//! pinned ports, the ports their secrets.yml remembers, their apps') and
//! this project's other VMs on that machine. Those never move a port this
//! project already holds; a real clash between two held ports is found by
//! `up`'s check against the engine (src/deploy/ports_check.rs).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use super::secrets::Secrets;
use crate::catalog::{Catalog, Publish, port_var};
use crate::config::{Config, LOCAL_VM, Vm};
use crate::error::{Result, UserError};

/// Which machine a VM is. `local`, `host: local` and loopback hosts
/// (`localhost`, 127.0.0.0/8, `::1`) are all this machine's own engine: an
/// SSH login to 127.0.0.1 on a laptop reaches the same Docker as its
/// socket. Any other host is compared as written, case-insensitively (an
/// `~/.ssh/config` alias and the address it names are not matched here; the
/// check before `up` still sees their clashes).
pub fn machine(vm: &Vm) -> String {
    let host = vm.host.trim().to_ascii_lowercase();
    let loopback = host == LOCAL_VM
        || host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback { LOCAL_VM.to_string() } else { host }
}

/// The address a port is published on; `0.0.0.0` (every address) for
/// apps and `publish: public` addons.
pub const ALL_ADDRESSES: &str = "0.0.0.0";

fn is_every_address(address: &str) -> bool {
    address.is_empty()
        || address
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_unspecified())
}

/// Whether two bindings of the same port on one machine collide: a port on
/// every address collides with any; one on 127.0.5.1 only with the same
/// address.
pub fn addresses_overlap(a: &str, b: &str) -> bool {
    is_every_address(a) || is_every_address(b) || a == b
}

/// Where an addon on `vm` publishes: its private address, every address
/// (`publish: public`), or nowhere.
fn publish_address(publish: Publish, vm: &Vm) -> Option<&str> {
    match publish {
        Publish::None => None,
        Publish::Public => Some(ALL_ADDRESSES),
        Publish::Private => Some(vm.private_ip.as_str()),
    }
}

/// A port some project publishes on a machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub vm: String,
    pub machine: String,
    pub address: String,
    pub port: u16,
}

/// What the other projects under the root publish, read with the project
/// (part of its snapshot, so planning stays pure).
#[derive(Debug, Default, Clone)]
pub struct Neighbours {
    pub held: Vec<Held>,
    /// Projects that could not be read, with why; they are left out.
    pub skipped: Vec<String>,
}

/// The ports a project publishes as its files stand: apps' ports, pinned
/// addon ports, and the ports secrets.yml remembers for addons still on
/// the VM it remembers them for. Addons with `publish: none` hold none.
pub fn published(config: &Config, catalog: &Catalog, secrets: &Secrets) -> Vec<Held> {
    let mut out = Vec::new();
    for vm in config.vms.values() {
        let mut hold = |address: &str, port: u16| {
            out.push(Held {
                vm: vm.name.clone(),
                machine: machine(vm),
                address: address.to_string(),
                port,
            })
        };
        for app in config.apps.values().filter(|a| a.vm == vm.name) {
            if let Some(p) = app.port {
                hold(ALL_ADDRESSES, p);
            }
        }
        for a in config.addons.iter().filter(|a| a.vm == vm.name) {
            let Some(address) = publish_address(a.publish, vm) else {
                continue;
            };
            let Some(t) = catalog.get(&a.type_name) else {
                continue;
            };
            let old = secrets
                .instance(&a.type_name, &a.name)
                .filter(|o| o.get("HOST") == Some(&vm.private_ip));
            for (i, p) in t.ports.iter().enumerate() {
                let var = if i == 0 {
                    "PORT".to_string()
                } else {
                    port_var(&p.name)
                };
                let pinned = if i == 0 { a.port } else { None };
                let remembered = old
                    .and_then(|o| o.get(&var))
                    .and_then(|v| v.parse::<u16>().ok());
                if let Some(port) = pinned.or(remembered) {
                    hold(address, port);
                }
            }
        }
    }
    out
}

/// Who publishes a port on a machine, for [`allocate`]: this project's VM
/// (None for another project's), and the address.
type Holder = (Option<String>, String);

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

pub fn allocate(
    config: &Config,
    catalog: &Catalog,
    existing: &Secrets,
    neighbours: &Neighbours,
) -> Result<Allocation> {
    let mut alloc = Allocation::default();
    // What new ports keep clear of. This project's own VMs are in it too,
    // so a VM sharing a machine with another of them does.
    let mut elsewhere: HashMap<(String, u16), Vec<Holder>> = HashMap::new();
    let mut index = |h: Held, own: bool| {
        elsewhere
            .entry((h.machine, h.port))
            .or_default()
            .push((own.then_some(h.vm), h.address));
    };
    for h in neighbours.held.iter().cloned() {
        index(h, false);
    }
    for h in published(config, catalog, existing) {
        index(h, true);
    }
    for vm in config.vms.values() {
        let here = machine(vm);
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
                                pending.push((a.id(), p.clone(), a.publish))
                            }
                            std::collections::btree_map::Entry::Vacant(slot) => {
                                slot.insert(a.id());
                                alloc.ports.insert(key, port);
                            }
                        }
                    }
                    None => pending.push((a.id(), p.clone(), a.publish)),
                }
            }
        }
        // New instances: from the base upward, in config order, past what
        // other projects and VMs publish on this machine's same address.
        for (id, p, publish) in pending {
            let address = publish_address(publish, vm);
            let held_elsewhere = |port: u16| {
                address.is_some_and(|address| {
                    elsewhere.get(&(here.clone(), port)).is_some_and(|holders| {
                        holders.iter().any(|(own_vm, held_at)| {
                            own_vm.as_ref() != Some(&vm.name) && addresses_overlap(held_at, address)
                        })
                    })
                })
            };
            let mut port = p.base;
            while taken.contains_key(&port) || held_elsewhere(port) {
                port = port.checked_add(p.increment.max(1)).ok_or_else(|| {
                    UserError::new(format!(
                        "no free port above {} on VM {} for {id}",
                        p.base, vm.name
                    ))
                    .hint("pin a port with `port:`")
                })?;
            }
            taken.insert(port, id.clone());
            if let Some(address) = address {
                elsewhere
                    .entry((here.clone(), port))
                    .or_default()
                    .push((Some(vm.name.clone()), address.to_string()));
            }
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
