//! Past a handful of VMs: the same project on a distributed engine the user
//! already runs, never on anything home-made. `kubernetes`: manifests by
//! export; `swarm`: a stack on a Docker Swarm of the project's VMs
//! (`stack` generates it, `swarm` deploys it).

pub mod kubernetes;
pub mod stack;
pub mod swarm;
pub mod swarm_scale;
mod swarm_tasks;

use crate::config::Config;

/// The config as if every VM were one machine: apps then reach addons by
/// service name and container port, as on one overlay network or as pods
/// reach Services.
pub fn one_machine(config: &Config) -> Config {
    let mut c = config.clone();
    let first = c.vms.keys().next().cloned().unwrap_or_default();
    for a in &mut c.addons {
        a.vm = first.clone();
    }
    for app in c.apps.values_mut() {
        app.vm = first.clone();
    }
    c
}
