//! What the console shows of a project, read through the engine: the
//! Addons, Attachments and Environments panes' rows, the catalog's types
//! for the wizards, each app's environment.

use std::collections::BTreeMap;

use crate::engine::generate::EnvVar;
use crate::engine::{Project, Workspace};
use crate::error::Result;

/// One addon instance as the Addons pane shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct AddonRow {
    pub id: String,
    pub type_name: String,
    pub version: String,
    pub plan: String,
    pub vm: String,
    pub port: String,
    pub service: String,
    pub attached: String,
    /// The leader, for a follower: the console shows its lag.
    pub follows: Option<String>,
}

/// A catalog type as the wizards and the palette offer it.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeInfo {
    pub name: String,
    pub category: String,
    pub plans: Vec<String>,
    /// plan → `1 GB · 1 cpu · 10 GB disk`.
    pub plan_summaries: Vec<(String, String)>,
    pub default_plan: String,
    pub versions: Vec<String>,
    pub default_version: String,
    pub readonly: bool,
    /// name, description, the pattern values must match.
    pub options: Vec<(String, String, String)>,
}

/// An environment as the Environments pane lists it (its live state
/// comes apart, from a task).
#[derive(Debug, Clone, PartialEq)]
pub struct EnvRow {
    pub name: String,
    pub vms: String,
    /// Instance ids, with `(own)` or `(override)` where not the project's.
    pub addons: Vec<String>,
}

/// What the console shows of a project, read through the engine.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProjectView {
    pub addons: Vec<AddonRow>,
    /// app, addon, as, access.
    pub attachments: Vec<[String; 4]>,
    pub environments: Vec<String>,
    pub env_rows: Vec<EnvRow>,
    pub apps: Vec<String>,
    pub vms: Vec<String>,
    pub types: Vec<TypeInfo>,
    /// Each app's environment, as its env file holds it.
    pub env: BTreeMap<String, Vec<EnvVar>>,
    /// A swarm stack: rows show their task's state and the node's VM.
    pub swarm: bool,
}

impl ProjectView {
    pub fn read(ws: &Workspace, project: &Project) -> Result<ProjectView> {
        let l = ws.load(project)?;
        let addons = l
            .addon_summaries()
            .into_iter()
            .map(|a| AddonRow {
                id: a.id,
                type_name: a.type_name,
                version: a.version,
                plan: a.plan,
                vm: a.vm,
                port: a.port.map(|p| p.to_string()).unwrap_or_default(),
                service: a.service,
                attached: if a.attached.is_empty() {
                    "-".into()
                } else {
                    a.attached.join(", ")
                },
                follows: a.follows,
            })
            .collect();
        let attachments = l
            .config
            .apps
            .values()
            .flat_map(|app| {
                app.attachments.iter().map(move |att| {
                    [
                        app.name.clone(),
                        att.addon.clone(),
                        att.prefix.clone(),
                        att.access.as_str().to_string(),
                    ]
                })
            })
            .collect();
        let types = ws
            .catalog
            .types()
            .map(|t| TypeInfo {
                name: t.name.clone(),
                category: t.category.clone(),
                plans: t.plans.keys().cloned().collect(),
                plan_summaries: t
                    .plans
                    .iter()
                    .map(|(n, p)| {
                        (
                            n.clone(),
                            format!("{} memory · {} cpu · {} disk", p.memory, p.cpu, p.disk),
                        )
                    })
                    .collect(),
                default_plan: t.default_plan.clone(),
                versions: t.versions.clone(),
                default_version: t.default_version.clone(),
                readonly: t.readonly.is_some(),
                options: t
                    .options
                    .iter()
                    .map(|(n, o)| (n.clone(), o.description.clone(), o.pattern.clone()))
                    .collect(),
            })
            .collect();
        Ok(ProjectView {
            addons,
            attachments,
            environments: l
                .config
                .environments
                .values()
                .map(crate::env::ops::describe)
                .collect(),
            env_rows: l
                .config
                .environments
                .values()
                .map(|e| EnvRow {
                    name: e.name.clone(),
                    vms: e.vms.join(", "),
                    addons: e
                        .addons
                        .iter()
                        .map(|a| {
                            let id = a.id();
                            let tag = if e.own.contains(&id) {
                                " (own)"
                            } else if e.overridden.contains(&id) {
                                " (override)"
                            } else {
                                ""
                            };
                            format!("{id}{tag}")
                        })
                        .collect(),
                })
                .collect(),
            apps: l.config.apps.keys().cloned().collect(),
            swarm: l.config.cluster.is_some(),
            vms: l.config.vms.keys().cloned().collect(),
            types,
            env: l
                .generated
                .app_env
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        })
    }
}
