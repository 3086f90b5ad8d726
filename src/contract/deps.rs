//! `depends`, `provides` and `conflicts` between addon types, enforced: a
//! cycle between types refused when the catalog loads, a missing
//! dependency or a conflict on one VM refused when adding or attaching,
//! and each instance's dependencies on its VM started before it.
//!
//! A name in `depends`/`conflicts` is met by a type of that name or one
//! that `provides` it (mariadb provides `mysql`).

use std::collections::BTreeMap;

use crate::catalog::{AddonType, Catalog};
use crate::config::{Addon, Config};
use crate::error::{Result, UserError};

/// Whether type `t` is, or provides, `need`.
pub fn meets(t: &AddonType, need: &str) -> bool {
    t.name == need || t.provides.iter().any(|p| p == need)
}

/// A cycle in `depends` between the types, as `a → b → a`.
pub fn find_cycle<'a>(types: impl IntoIterator<Item = &'a AddonType>) -> Option<String> {
    let types: Vec<&AddonType> = types.into_iter().collect();
    // Edges: each type to every type that meets one of its needs.
    let edges: BTreeMap<&str, Vec<&str>> = types
        .iter()
        .map(|t| {
            let next = t
                .depends
                .iter()
                .flat_map(|need| types.iter().filter(move |o| meets(o, need)))
                .map(|o| o.name.as_str())
                .collect();
            (t.name.as_str(), next)
        })
        .collect();
    fn visit<'a>(
        at: &'a str,
        edges: &BTreeMap<&'a str, Vec<&'a str>>,
        path: &mut Vec<&'a str>,
        done: &mut Vec<&'a str>,
    ) -> Option<String> {
        if let Some(i) = path.iter().position(|p| *p == at) {
            let mut cycle: Vec<&str> = path[i..].to_vec();
            cycle.push(at);
            return Some(cycle.join(" → "));
        }
        if done.contains(&at) {
            return None;
        }
        path.push(at);
        for next in edges.get(at).into_iter().flatten() {
            if let Some(c) = visit(next, edges, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.push(at);
        None
    }
    let mut done = Vec::new();
    for name in edges.keys() {
        if let Some(c) = visit(name, &edges, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

/// The instances that meet `need`, those on `vm` first.
pub fn providers<'a>(
    config: &'a Config,
    catalog: &Catalog,
    need: &str,
    vm: &str,
) -> Vec<&'a Addon> {
    let mut found: Vec<&Addon> = config
        .addons
        .iter()
        .filter(|a| catalog.get(&a.type_name).is_some_and(|t| meets(t, need)))
        .collect();
    found.sort_by_key(|a| a.vm != vm);
    found
}

/// The needs of `addon`'s type that no instance of the project meets.
pub fn missing(config: &Config, catalog: &Catalog, addon: &Addon) -> Vec<String> {
    let Some(t) = catalog.get(&addon.type_name) else {
        return vec![];
    };
    t.depends
        .iter()
        .filter(|need| providers(config, catalog, need, &addon.vm).is_empty())
        .cloned()
        .collect()
}

/// The type that a `--with-deps` adds for `need`: the type of that name, or
/// else the first (by name) that provides it.
pub fn type_for<'a>(catalog: &'a Catalog, need: &str) -> Option<&'a AddonType> {
    catalog
        .get(need)
        .or_else(|| catalog.types().find(|t| meets(t, need)))
}

/// Refuses `addon` when a dependency is missing (naming it and the command
/// that adds it) or when it conflicts with another instance on its VM
/// (naming both).
pub fn check_instance(
    config: &Config,
    catalog: &Catalog,
    project: &str,
    addon: &Addon,
) -> Result<()> {
    let id = addon.id();
    if let Some(need) = missing(config, catalog, addon).first() {
        let add = match type_for(catalog, need) {
            Some(t) => format!(
                "sdtui -p {project} addons add {} NAME --vm {}",
                t.name, addon.vm
            ),
            None => format!("add a type that provides {need} to the catalog"),
        };
        return Err(UserError::new(format!(
            "{id} ({}) depends on {need}, and project {project} has no instance of it",
            addon.type_name
        ))
        .hint(format!(
            "add it first: `{add}`, or in the same plan: `sdtui -p {project} addons add {} {} --with-deps`",
            addon.type_name, addon.name
        )));
    }
    let Some(t) = catalog.get(&addon.type_name) else {
        return Ok(());
    };
    for other in config
        .addons
        .iter()
        .filter(|o| o.vm == addon.vm && o.id() != id)
    {
        let Some(ot) = catalog.get(&other.type_name) else {
            continue;
        };
        // Either side may name the other.
        let clash =
            t.conflicts.iter().any(|c| meets(ot, c)) || ot.conflicts.iter().any(|c| meets(t, c));
        if clash {
            return Err(UserError::new(format!(
                "{id} ({}) conflicts with {} ({}) on VM {}",
                t.name,
                other.id(),
                ot.name,
                addon.vm
            ))
            .hint(format!(
                "put {id} on another VM (--vm), or remove {} first",
                other.id()
            )));
        }
    }
    Ok(())
}

/// Services on `addon`'s VM that must be healthy before it starts: the
/// instances that meet its type's needs there.
pub fn start_after(config: &Config, catalog: &Catalog, addon: &Addon) -> Vec<String> {
    let Some(t) = catalog.get(&addon.type_name) else {
        return vec![];
    };
    let mut services = Vec::new();
    for need in &t.depends {
        for p in providers(config, catalog, need, &addon.vm) {
            if p.vm == addon.vm && !services.contains(&p.service()) {
                services.push(p.service());
            }
        }
    }
    services
}
