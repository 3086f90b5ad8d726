//! The order `up` works on VMs in: a VM whose apps attach an addon on
//! another VM, or whose addons depend (`depends:`) on an instance that only
//! another VM holds, goes after that VM, so an app never starts against a
//! database that is not there yet. VMs with nothing between them go in the
//! same wave, at once; VMs that need each other (a cycle) go together in
//! one wave, as before.

use std::collections::{BTreeMap, BTreeSet};

use crate::catalog::Catalog;
use crate::config::{Config, Vm};

/// For each VM, the other VMs it needs up first.
pub fn needs(config: &Config, catalog: &Catalog) -> BTreeMap<String, BTreeSet<String>> {
    let mut needs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for app in config.apps.values() {
        for att in &app.attachments {
            if let Some(addon) = config.addon(&att.addon)
                && addon.vm != app.vm
            {
                needs
                    .entry(app.vm.clone())
                    .or_default()
                    .insert(addon.vm.clone());
            }
        }
    }
    for addon in &config.addons {
        let Some(t) = catalog.get(&addon.type_name) else {
            continue;
        };
        for need in &t.depends {
            let providers = crate::contract::deps::providers(config, catalog, need, &addon.vm);
            // Met on its own VM: compose orders it there.
            if let Some(p) = providers.first()
                && p.vm != addon.vm
            {
                needs
                    .entry(addon.vm.clone())
                    .or_default()
                    .insert(p.vm.clone());
            }
        }
    }
    needs
}

/// `vms` in waves: each VM after every selected VM it needs. A VM it needs
/// that is not selected (`--vm`) is taken as up already.
pub fn waves<'a>(vms: &[&'a Vm], needs: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<&'a Vm>> {
    let selected: BTreeSet<&str> = vms.iter().map(|v| v.name.as_str()).collect();
    let mut left: Vec<&Vm> = vms.to_vec();
    let mut placed: BTreeSet<String> = BTreeSet::new();
    let mut waves = Vec::new();
    while !left.is_empty() {
        let (ready, waiting): (Vec<&Vm>, Vec<&Vm>) = left.iter().partition(|vm| {
            needs.get(&vm.name).is_none_or(|n| {
                n.iter()
                    .all(|d| placed.contains(d) || !selected.contains(d.as_str()) || *d == vm.name)
            })
        });
        if ready.is_empty() {
            // A cycle: the rest at once, as without an order.
            waves.push(waiting);
            break;
        }
        placed.extend(ready.iter().map(|v| v.name.clone()));
        waves.push(ready);
        left = waiting;
    }
    waves
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vm(name: &str) -> Vm {
        Vm {
            name: name.into(),
            host: "local".into(),
            ..Default::default()
        }
    }

    fn names(waves: &[Vec<&Vm>]) -> Vec<Vec<String>> {
        waves
            .iter()
            .map(|w| w.iter().map(|v| v.name.clone()).collect())
            .collect()
    }

    #[test]
    fn a_vm_waits_for_the_vms_it_needs_and_a_cycle_goes_together() {
        let (db, web, edge, other) = (vm("db"), vm("web"), vm("edge"), vm("other"));
        let vms = [&edge, &web, &db, &other];
        let needs = BTreeMap::from([
            ("web".to_string(), BTreeSet::from(["db".to_string()])),
            ("edge".to_string(), BTreeSet::from(["web".to_string()])),
        ]);
        assert_eq!(
            names(&waves(&vms, &needs)),
            [vec!["db", "other"], vec!["web"], vec!["edge"]]
        );
        // db not selected: taken as up, web goes first.
        assert_eq!(
            names(&waves(&[&edge, &web], &needs)),
            [vec!["web"], vec!["edge"]]
        );
        let cycle = BTreeMap::from([
            ("web".to_string(), BTreeSet::from(["db".to_string()])),
            ("db".to_string(), BTreeSet::from(["web".to_string()])),
        ]);
        assert_eq!(
            names(&waves(&vms, &cycle)),
            [vec!["edge", "other"], vec!["web", "db"]]
        );
    }
}
