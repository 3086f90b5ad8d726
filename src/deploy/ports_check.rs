//! Before `up` touches a VM: every host port its compose file will publish
//! is compared with what the engine's running containers already publish
//! there (other projects', other VMs' of this project on the same machine,
//! anything started by hand). A clash is refused with the port, its holder
//! and the fix, instead of failing inside compose half-way through.

use std::collections::{BTreeSet, HashMap};

use bollard::Docker;
use bollard::query_parameters::ListContainersOptionsBuilder;
use indexmap::IndexMap;
use serde::Deserialize;

use crate::config::Vm;
use crate::docker::{COMPOSE_PROJECT, COMPOSE_SERVICE};
use crate::engine::generate::{self, COMPOSE_FILE};
use crate::engine::ports::addresses_overlap;
use crate::engine::{Loaded, Project};
use crate::error::{Result, UserError};

/// The label sdtui puts on every container it generates.
const SDTUI_PROJECT: &str = "com.superdeploy.project";

/// A host port the generated compose file publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub service: String,
    /// The IP it binds, or "" for every address.
    pub address: String,
    pub port: u16,
}

/// A host port a running container publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// "project shop, service memcached-cache (container shop-core-memcached-cache-1)".
    pub who: String,
    pub address: String,
    pub port: u16,
}

#[derive(Deserialize)]
struct ComposeFile {
    #[serde(default)]
    services: IndexMap<String, ComposeService>,
}

#[derive(Deserialize)]
struct ComposeService {
    #[serde(default)]
    ports: Vec<String>,
}

/// The host ports a generated compose file publishes. sdtui writes only
/// the short forms `IP:HOST:CONTAINER` and `HOST:CONTAINER`.
pub fn wanted_ports(compose_text: &str) -> Result<Vec<Wanted>> {
    let file: ComposeFile = serde_saphyr::from_str(compose_text).map_err(|e| {
        UserError::new(format!("the generated compose file cannot be read: {e}"))
            .hint("run `sdtui sync` and try again")
    })?;
    let mut out = Vec::new();
    for (service, s) in file.services {
        for spec in s.ports {
            let mut parts = spec.rsplitn(3, ':');
            let _container = parts.next();
            let host = parts.next().and_then(|p| p.parse::<u16>().ok());
            let address = parts.next().unwrap_or_default();
            if let Some(port) = host {
                out.push(Wanted {
                    service: service.clone(),
                    address: address.trim_matches(['[', ']']).to_string(),
                    port,
                });
            }
        }
    }
    Ok(out)
}

/// Every host port the engine's running containers publish, except those
/// of `own_compose_project` (its containers are what `up` recreates).
pub async fn held_ports(docker: &Docker, own_compose_project: &str) -> Result<Vec<Holder>> {
    let list = docker
        .list_containers(Some(ListContainersOptionsBuilder::default().build()))
        .await
        .map_err(|e| {
            UserError::new(format!("Docker: list containers: {e}"))
                .hint("is the Docker engine running and its socket readable?")
        })?;
    let mut out = Vec::new();
    for c in list {
        let labels = c.labels.unwrap_or_default();
        let compose = labels.get(COMPOSE_PROJECT);
        if compose.is_some_and(|p| p == own_compose_project) {
            continue;
        }
        let container = c
            .names
            .unwrap_or_default()
            .first()
            .map(|n| n.trim_start_matches('/').to_string())
            .or(c.id)
            .unwrap_or_default();
        let who = holder_name(&labels, &container);
        // A bind on every address is listed once for IPv4 and once for IPv6.
        let mut seen = BTreeSet::new();
        for p in c.ports.unwrap_or_default() {
            let Some(port) = p.public_port else { continue };
            let address = p.ip.unwrap_or_default();
            let address = if address == "::" {
                "0.0.0.0".to_string()
            } else {
                address
            };
            if seen.insert((address.clone(), port)) {
                out.push(Holder {
                    who: who.clone(),
                    address,
                    port,
                });
            }
        }
    }
    Ok(out)
}

fn holder_name(labels: &HashMap<String, String>, container: &str) -> String {
    let service = labels.get(COMPOSE_SERVICE);
    match (
        labels.get(SDTUI_PROJECT),
        labels.get(COMPOSE_PROJECT),
        service,
    ) {
        (Some(project), _, Some(service)) => {
            format!("project {project}, service {service} (container {container})")
        }
        (None, Some(compose), Some(service)) => {
            format!("compose project {compose}, service {service} (container {container})")
        }
        _ => format!("container {container}"),
    }
}

/// Each wanted port that a holder already has on an overlapping address.
pub fn clashes<'a>(wanted: &'a [Wanted], held: &'a [Holder]) -> Vec<(&'a Wanted, &'a Holder)> {
    wanted
        .iter()
        .flat_map(|w| {
            held.iter()
                .filter(move |h| h.port == w.port && addresses_overlap(&h.address, &w.address))
                .map(move |h| (w, h))
        })
        .collect()
}

/// Where in config.yml a published port is chosen: an app's `port:`, or an
/// addon's `port:`, which pins its main port only (the one secrets.yml
/// keeps as `PORT`); other ports of an addon have no key.
fn config_key(loaded: &Loaded, w: &Wanted) -> Option<String> {
    let config = &loaded.config;
    if let Some(a) = config.addons.iter().find(|a| a.service() == w.service) {
        let main = loaded
            .generated
            .secrets
            .get(&a.type_name)
            .and_then(|i| i.get(&a.name))
            .and_then(|c| c.get("PORT"))
            .and_then(|p| p.parse::<u16>().ok());
        return (main == Some(w.port)).then(|| format!("addons.{}.{}.port", a.category, a.name));
    }
    config
        .apps
        .get(&w.service)
        .map(|a| format!("apps.{}.port", a.name))
}

/// The refusal for `clashes` on `vm`: every clash named, one hint.
pub fn refusal(
    vm: &Vm,
    loaded: &Loaded,
    clashes: &[(&Wanted, &Holder)],
    wanted: &[Wanted],
    held: &[Holder],
) -> UserError {
    let lines: Vec<String> = clashes
        .iter()
        .map(|(w, h)| {
            let address = if w.address.is_empty() {
                "every address".to_string()
            } else {
                w.address.clone()
            };
            format!(
                "port {} on VM {} ({address}) is held by {}; {} wants it",
                w.port, vm.name, h.who, w.service
            )
        })
        .collect();
    let keys: Vec<String> = clashes
        .iter()
        .filter_map(|(w, _)| {
            config_key(loaded, w).map(|k| {
                let free = first_free(w, wanted, held);
                format!("{k}: {free} is free")
            })
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let hint = if keys.is_empty() {
        "put it on another VM, or stop what holds the port".to_string()
    } else {
        format!(
            "pin another port with `port:` in config.yml ({}), or put it on another VM",
            keys.join("; ")
        )
    };
    UserError::new(format!("{}; nothing was changed", lines.join("\n"))).hint(hint)
}

/// The first port above `w`'s that neither a holder nor this compose file
/// has on an overlapping address.
fn first_free(w: &Wanted, wanted: &[Wanted], held: &[Holder]) -> u16 {
    (w.port.saturating_add(1)..u16::MAX)
        .find(|p| {
            !held
                .iter()
                .any(|h| h.port == *p && addresses_overlap(&h.address, &w.address))
                && !wanted
                    .iter()
                    .any(|o| o.port == *p && addresses_overlap(&o.address, &w.address))
        })
        .unwrap_or(w.port)
}

/// Refuses `up` on `vm` when a port its compose file publishes is already
/// held on that machine; touches nothing either way.
pub async fn refuse_held_ports(
    docker: &Docker,
    project: &Project,
    loaded: &Loaded,
    vm: &Vm,
) -> Result<()> {
    let rel = generate::compose_dir(&vm.name).join(COMPOSE_FILE);
    let Some(file) = loaded.generated.files.iter().find(|f| f.rel == rel) else {
        return Ok(());
    };
    let wanted = wanted_ports(&file.content)?;
    if wanted.is_empty() {
        return Ok(());
    }
    let held = held_ports(docker, &super::compose_project(&project.name, &vm.name)).await?;
    let found = clashes(&wanted, &held);
    if found.is_empty() {
        return Ok(());
    }
    Err(refusal(vm, loaded, &found, &wanted, &held))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_short_forms() {
        let text = "services:\n  memcached-cache:\n    image: x\n    ports:\n      - \"127.0.5.1:11211:11211\"\n  web:\n    ports:\n      - \"8080:8080\"\n  worker:\n    image: y\n";
        assert_eq!(
            wanted_ports(text).unwrap(),
            [
                Wanted {
                    service: "memcached-cache".into(),
                    address: "127.0.5.1".into(),
                    port: 11211
                },
                Wanted {
                    service: "web".into(),
                    address: "".into(),
                    port: 8080
                }
            ]
        );
    }

    #[test]
    fn every_address_clashes_with_any_one_address_only_with_itself() {
        let want = |address: &str| Wanted {
            service: "s".into(),
            address: address.into(),
            port: 11211,
        };
        let hold = |address: &str, port| Holder {
            who: "x".into(),
            address: address.into(),
            port,
        };
        let held = [
            hold("127.0.5.1", 11211),
            hold("0.0.0.0", 8080),
            hold("127.0.5.9", 11212),
        ];
        assert_eq!(clashes(&[want("127.0.5.1")], &held).len(), 1);
        assert_eq!(clashes(&[want("127.0.5.2")], &held).len(), 0);
        assert_eq!(clashes(&[want("")], &held).len(), 1);
        let mut web = want("127.0.5.2");
        web.port = 8080;
        assert_eq!(clashes(&[web], &held).len(), 1);
        // 11212 is held on another address only: free on 127.0.5.1.
        assert_eq!(first_free(&want("127.0.5.1"), &[], &held), 11212);
        assert_eq!(first_free(&want(""), &[], &held), 11213);
    }
}
