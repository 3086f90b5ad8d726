//! Addon instances as written (`addons:` of the project, or an environment's
//! instances with its overrides laid over the project's) → the typed model,
//! checked against the catalog. One checker for both, so an environment's
//! `plan: huge` is refused in the same words as the project's.

use std::collections::HashMap;
use std::path::Path;

use indexmap::IndexMap;
use serde_saphyr::Spanned;

use super::raw::{Name, RawAddon, spot};
use super::*;
use crate::catalog::Catalog;
use crate::error::UserError;

/// What instances are checked against: the file, the catalog, the VMs they
/// may run on, and whose instances they are ("the project", "environment
/// staging") for messages.
pub(super) struct Where<'a> {
    pub path: &'a Path,
    pub text: &'a str,
    pub catalog: &'a Catalog,
    pub vms: &'a IndexMap<String, Vm>,
    pub scope: &'a str,
}

/// The VM an instance or app runs on: the one it names, else the only one.
pub(super) fn resolve_vm(
    path: &Path,
    text: &str,
    vms: &IndexMap<String, Vm>,
    scope: &str,
    vm: &Option<Spanned<String>>,
    owner: &str,
    owner_loc: &serde_saphyr::Location,
) -> Result<String> {
    match vm {
        Some(v) if vms.contains_key(&v.value) => Ok(v.value.clone()),
        Some(v) => Err(
            UserError::new(format!("{owner} is on unknown VM \"{}\"", v.value))
                .at(spot(path, text, &v.referenced))
                .hint(if scope == "the project" {
                    hint_choices("VMs", vms.keys())
                } else {
                    hint_choices(&format!("VMs {scope} runs on"), vms.keys())
                }),
        ),
        None if vms.len() == 1 => Ok(vms.keys().next().cloned().unwrap_or_default()),
        None => Err(
            UserError::new(format!("{owner} has no vm and {scope} has several"))
                .at(spot(path, text, owner_loc))
                .hint(format!(
                    "add `vm: NAME`; {}",
                    hint_choices("VMs", vms.keys())
                )),
        ),
    }
}

pub(super) fn validate(
    raw: IndexMap<Name, IndexMap<Name, RawAddon>>,
    w: &Where,
) -> Result<Vec<Addon>> {
    let (path, text, catalog) = (w.path, w.text, w.catalog);
    let at = |loc: &serde_saphyr::Location| spot(path, text, loc);
    // "addon databases.primary" in the project, "addon databases.primary of
    // environment staging" in one.
    let shown = |id: &str| {
        if w.scope == "the project" {
            id.to_string()
        } else {
            format!("{id} of {}", w.scope)
        }
    };
    let mut addons: Vec<Addon> = Vec::new();
    let mut by_service: HashMap<String, String> = HashMap::new();
    // `follows:` as written, checked once every instance is known.
    let mut follows: Vec<(usize, Spanned<String>)> = Vec::new();
    for (category, instances) in raw {
        if !is_dns_label(&category.value) {
            return Err(UserError::new(format!(
                "addon category \"{}\" is not a DNS label",
                category.value
            ))
            .at(at(&category.referenced))
            .hint(DNS_LABEL_HINT));
        }
        for (name, a) in instances {
            let id = format!("{}.{}", category.value, name.value);
            let shown_id = shown(&id);
            if !is_dns_label(&name.value) {
                return Err(UserError::new(format!(
                    "addon instance name \"{shown_id}\" is not a DNS label"
                ))
                .at(at(&name.referenced))
                .hint(DNS_LABEL_HINT));
            }
            let Some(type_name) = &a.type_name else {
                return Err(UserError::new(format!("addon {shown_id} has no type"))
                    .at(at(&name.referenced))
                    .hint(hint_choices(
                        "add `type: NAME`; types",
                        catalog.types().map(|t| t.name.clone()),
                    )));
            };
            let t = catalog.require(&type_name.value).map_err(|e| {
                UserError {
                    message: format!("{} for addon {shown_id}", e.message),
                    ..e
                }
                .at(at(&type_name.referenced))
            })?;
            let version = a
                .version
                .as_ref()
                .map(|v| v.value.clone())
                .unwrap_or_else(|| t.default_version.clone());
            if version.is_empty() || version.contains(char::is_whitespace) {
                return Err(UserError::new(format!(
                    "addon {shown_id} has an empty or spaced version"
                ))
                .at(a.version.as_ref().and_then(|v| at(&v.referenced)))
                .hint(hint_choices("known versions", &t.versions)));
            }
            let plan = match &a.plan {
                Some(p) if t.plans.contains_key(&p.value) => p.value.clone(),
                Some(p) => {
                    return Err(UserError::new(format!(
                        "unknown plan \"{}\" for addon {shown_id} ({})",
                        p.value, t.name
                    ))
                    .at(at(&p.referenced))
                    .hint(hint_choices(&format!("{} plans", t.name), t.plans.keys())));
                }
                None => t.default_plan.clone(),
            };
            let mut options = IndexMap::new();
            for (k, v) in a.options {
                let Some(spec) = t.options.get(&k.value) else {
                    return Err(UserError::new(format!(
                        "unknown option \"{}\" for addon {shown_id} ({})",
                        k.value, t.name
                    ))
                    .at(at(&k.referenced))
                    .hint(hint_choices(
                        &format!("{} options", t.name),
                        t.options.keys(),
                    )));
                };
                if !option_matches(&spec.pattern, &v.value) {
                    return Err(UserError::new(format!(
                        "option {} = \"{}\" of addon {shown_id} is not valid",
                        k.value, v.value
                    ))
                    .at(at(&v.referenced))
                    .hint(format!(
                        "{}: values must match {}",
                        spec.description, spec.pattern
                    )));
                }
                options.insert(k.value.clone(), v.value.clone());
            }
            let publish = match &a.publish {
                None => t.publish,
                Some(p) => match p.value.as_str() {
                    "private" => Publish::Private,
                    "public" => Publish::Public,
                    "none" => Publish::None,
                    _ => {
                        return Err(UserError::new(format!("publish \"{}\" of addon {shown_id} is not valid", p.value))
                            .at(at(&p.referenced))
                            .hint("publish: private (the VM's private address), public (all interfaces) or none"));
                    }
                },
            };
            let vm = resolve_vm(
                path,
                text,
                w.vms,
                w.scope,
                &a.vm,
                &format!("addon {shown_id}"),
                &name.referenced,
            )?;
            let backup = match &a.backup {
                None => None,
                Some(b) => Some(super::schedule::validate(&b.value, &shown_id, t, |l| {
                    at(l).or_else(|| at(&b.referenced))
                })?),
            };
            let state = match &a.state {
                None => InstanceState::Running,
                Some(s) => InstanceState::parse(&s.value).ok_or_else(|| {
                    UserError::new(format!(
                        "state \"{}\" of addon {shown_id} is not valid",
                        s.value
                    ))
                    .at(at(&s.referenced))
                    .hint("state: running (the default), read_only (running, refusing writes) or stopped (not started, its volume kept)")
                })?,
            };
            if state == InstanceState::ReadOnly && t.name != "postgres" {
                return Err(UserError::new(format!(
                    "addon {shown_id} is {}, which sdtui cannot make read-only",
                    t.name
                ))
                .at(a.state.as_ref().and_then(|s| at(&s.referenced)))
                .hint("only postgres instances can be `state: read_only`; use `stopped` or remove `state:`"));
            }
            let addon = Addon {
                category: category.value.clone(),
                name: name.value.clone(),
                type_name: t.name.clone(),
                version,
                plan,
                options,
                vm,
                image: a.image,
                port: a.port.as_ref().map(|p| p.value),
                publish,
                backup,
                follows: a.follows.as_ref().map(|f| f.value.clone()),
                state,
                system: t.is_system(),
            };
            if let Some(f) = &a.follows {
                follows.push((addons.len(), f.clone()));
            }
            // One service per type and name: two `main` postgres instances in
            // different categories would share a container name and secrets.
            if let Some(other) = by_service.insert(addon.service(), id.clone()) {
                return Err(UserError::new(format!(
                    "addons {other} and {shown_id} are both {} named \"{}\"",
                    t.name, name.value
                ))
                .at(at(&name.referenced))
                .hint("give one of them another name"));
            }
            addons.push(addon);
        }
    }
    for (i, f) in follows {
        let follower = &addons[i];
        let shown_id = shown(&follower.id());
        let fail = |message: String, hint: String| {
            Err(UserError::new(message).at(at(&f.referenced)).hint(hint))
        };
        let Some(leader) = addons.iter().find(|a| a.id() == f.value) else {
            let postgres = addons
                .iter()
                .filter(|a| {
                    a.type_name == "postgres" && a.follows.is_none() && a.id() != follower.id()
                })
                .map(|a| a.id());
            return fail(
                format!("addon {shown_id} follows unknown addon \"{}\"", f.value),
                hint_choices(&format!("postgres instances {} has", w.scope), postgres),
            );
        };
        if follower.type_name != "postgres" {
            return fail(
                format!(
                    "addon {shown_id} is {}, which cannot follow another instance",
                    follower.type_name
                ),
                "only postgres instances are followers: remove `follows:`".into(),
            );
        }
        if leader.type_name != "postgres" {
            return fail(
                format!(
                    "addon {shown_id} follows {}, which is {}, not postgres",
                    leader.id(),
                    leader.type_name
                ),
                "a follower streams from a postgres instance of the same major version".into(),
            );
        }
        if leader.id() == follower.id() || leader.follows.is_some() {
            return fail(
                format!(
                    "addon {shown_id} follows {}, which is itself a follower",
                    leader.id()
                ),
                "follow the leader instead; chains of followers are not supported".into(),
            );
        }
        if major(&leader.version) != major(&follower.version) {
            return fail(
                format!(
                    "addon {shown_id} is postgres {} but follows {} (postgres {}): physical replication cannot cross major versions",
                    follower.version,
                    leader.id(),
                    leader.version
                ),
                format!(
                    "give it `version: {}`, or move {} to a new major with `sdtui pg upgrade`",
                    leader.version,
                    leader.id()
                ),
            );
        }
        // A hot standby refuses to start with fewer connections than its
        // leader allows.
        let max_connections = |a: &Addon| {
            catalog.get(&a.type_name).and_then(|t| {
                a.options
                    .get("max_connections")
                    .or_else(|| t.plans.get(&a.plan)?.options.get("max_connections"))
                    .and_then(|v| v.parse::<u64>().ok())
            })
        };
        if let (Some(mine), Some(theirs)) = (max_connections(follower), max_connections(leader))
            && mine < theirs
        {
            return fail(
                format!(
                    "addon {shown_id} allows {mine} connections but its leader {} allows {theirs}: a standby needs at least as many",
                    leader.id()
                ),
                format!(
                    "give it the leader's plan ({}) or `options: {{max_connections: \"{theirs}\"}}`",
                    leader.plan
                ),
            );
        }
    }
    Ok(addons)
}

/// `15` of `15`, `15.4` or `15-alpine`.
pub fn major(version: &str) -> &str {
    version
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap_or(version)
}
