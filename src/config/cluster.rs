//! `cluster: {kind: swarm, manager: VM, nodes: [VM, ...]}`: the project runs
//! as a stack on a Docker Swarm its VMs already form. Without `nodes`, every
//! VM of the project is a node.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::raw::spot;
use super::{Addon, App, Vm, hint_choices};
use crate::error::{Result, UserError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClusterKind {
    Swarm,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cluster {
    pub kind: ClusterKind,
    /// The VM `docker stack deploy` runs on.
    pub manager: String,
    /// The VMs that are the swarm's nodes, in file order.
    pub nodes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCluster {
    kind: Option<Spanned<String>>,
    manager: Option<Spanned<String>>,
    nodes: Option<Vec<Spanned<String>>>,
}

const KINDS: &[&str] = &["swarm"];

/// Checks the section against the VMs, and that every addon and app runs
/// on a node.
pub(super) fn validate(
    raw: Spanned<RawCluster>,
    path: &std::path::Path,
    text: &str,
    vms: &IndexMap<String, Vm>,
    addons: &[Addon],
    apps: &IndexMap<String, App>,
) -> Result<Cluster> {
    let at = |loc: &serde_saphyr::Location| spot(path, text, loc);
    let section = &raw.referenced;
    let raw = raw.value;
    let kind = match &raw.kind {
        None => {
            return Err(UserError::new("cluster has no kind")
                .at(at(section))
                .hint("write `kind: swarm` (the only kind sdtui deploys to)"));
        }
        Some(k) if k.value == "swarm" => ClusterKind::Swarm,
        Some(k) => {
            return Err(
                UserError::new(format!("unknown cluster kind \"{}\"", k.value))
                    .at(at(&k.referenced))
                    .hint(format!(
                        "{}; for Kubernetes use `sdtui export --format kubernetes`",
                        hint_choices("kinds", KINDS)
                    )),
            );
        }
    };
    let known_vm = |name: &Spanned<String>, what: &str| -> Result<String> {
        if vms.contains_key(&name.value) {
            return Ok(name.value.clone());
        }
        Err(UserError::new(format!(
            "cluster {what} \"{}\" is not a VM of this project",
            name.value
        ))
        .at(at(&name.referenced))
        .hint(hint_choices("VMs under `vms:`", vms.keys())))
    };
    let Some(manager) = &raw.manager else {
        return Err(UserError::new("cluster has no manager")
            .at(at(section))
            .hint(format!(
                "name the VM `docker stack deploy` runs on: `manager: VM`; {}",
                hint_choices("VMs", vms.keys())
            )));
    };
    let manager = known_vm(manager, "manager")?;
    let nodes: Vec<String> = match &raw.nodes {
        None => vms.keys().cloned().collect(),
        Some(list) => {
            let mut nodes = Vec::new();
            for n in list {
                let name = known_vm(n, "node")?;
                if !nodes.contains(&name) {
                    nodes.push(name);
                }
            }
            nodes
        }
    };
    if !nodes.contains(&manager) {
        return Err(
            UserError::new(format!("cluster manager {manager} is not one of its nodes"))
                .at(at(section))
                .hint(format!("add {manager} to `nodes:`, or leave `nodes:` out")),
        );
    }
    let off_node = addons
        .iter()
        .map(|a| (format!("addon {}", a.id()), &a.vm))
        .chain(apps.values().map(|a| (format!("app {}", a.name), &a.vm)))
        .find(|(_, vm)| !nodes.contains(vm));
    if let Some((what, vm)) = off_node {
        return Err(UserError::new(format!(
            "{what} is pinned to VM {vm}, which is not a node of the swarm"
        ))
        .at(at(section))
        .hint(format!(
            "pin it to a node ({}), or add {vm} to the cluster's `nodes:`",
            nodes.join(", ")
        )));
    }
    Ok(Cluster {
        kind,
        manager,
        nodes,
    })
}
