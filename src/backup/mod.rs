//! Backups as a catalog capability, each one proven by a restore drill;
//! restore. The CLI (`db ...`, see `cli.rs`) and the console call the
//! async functions here, which report progress through `report` the way
//! `deploy::up_reporting` does.
//!
//! A backup is written on the addon's VM, never through this process: the
//! dump runs in the addon's container and streams into a file beside the
//! other backups (see `run.rs`).

pub mod drill;
pub mod health;
pub mod pull;
pub mod restore;
pub mod run;
pub mod script;
pub mod spec;
pub mod store;
mod task_secrets;

use std::collections::BTreeMap;
use std::time::Instant;

use bollard::Docker;

use crate::catalog::AddonType;
use crate::config::{Addon, Config};
use crate::deploy::compose_project;
use crate::deploy::target::Connected;
use crate::docker::ServiceState;
use crate::engine::{Project, Workspace, audit};
use crate::error::{Result, UserError};
use spec::BackupSpec;
pub use store::{Drill, Manifest};

pub type Report<'a> = &'a (dyn Fn(String) + Sync);

/// An addon, its type's backup section, its credentials and its VM.
pub(crate) struct Subject<'a> {
    pub addon: &'a Addon,
    pub kind: &'a AddonType,
    pub spec: &'a BackupSpec,
    pub vars: BTreeMap<String, String>,
}

pub(crate) fn subject<'a>(
    ws: &'a Workspace,
    config: &'a Config,
    secrets: &crate::engine::secrets::Secrets,
    addon_id: &str,
) -> Result<Subject<'a>> {
    let addon = crate::engine::require_addon(config, addon_id)?;
    let kind = ws.catalog.require(&addon.type_name)?;
    let spec = kind.backup.as_ref().ok_or_else(|| {
        UserError::new(format!(
            "{addon_id} is a {}, and that type has no backup: section in its addon.yml",
            kind.name
        ))
        .hint("add backup: (dump, restore, inventory) to the type's addon.yml; see README.md, \"Backups\"")
    })?;
    let vars = secrets
        .instance(&addon.type_name, &addon.name)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .ok_or_else(|| {
            UserError::new(format!("{addon_id} has no credentials in secrets.yml"))
                .hint("run sdtui sync, then sdtui up")
        })?;
    Ok(Subject {
        addon,
        kind,
        spec,
        vars,
    })
}

/// The addon's running container, or why there is none; nothing is
/// written before this passes.
pub(crate) async fn running_container(
    docker: &Docker,
    project: &Project,
    addon: &Addon,
    doing: &str,
) -> Result<ServiceState> {
    let service = addon.service();
    let compose =
        crate::docker::project_containers(docker, &compose_project(&project.name, &addon.vm))
            .await?
            .into_iter()
            .find(|s| s.service == service);
    // In a swarm stack the addon runs as a task: its container carries the
    // service's name, not compose's labels.
    let found = match compose {
        Some(s) if s.state == "running" => Some(s),
        compose => crate::cluster::swarm::task_container(docker, &project.name, &service)
            .await?
            .or(compose),
    };
    let start_hint = match &project.env {
        Some(e) => format!("start it: sdtui -p {} env start {}", e.project, e.env),
        None => format!("start it: sdtui -p {} up --vm {}", project.name, addon.vm),
    };
    match found {
        Some(s) if s.state == "running" => Ok(s),
        Some(s) => Err(UserError::new(format!(
            "{} is not running ({}) on VM {}: {doing}",
            addon.id(),
            s.state,
            addon.vm
        ))
        .hint(start_hint)),
        None => Err(UserError::new(format!(
            "{} has no container on VM {}: {doing}",
            addon.id(),
            addon.vm
        ))
        .hint(start_hint)),
    }
}

/// Hides the instance's secret credentials in text bound for the screen.
pub(crate) fn mask(text: &str, s: &Subject) -> String {
    let mut out = text.to_string();
    for (k, v) in &s.vars {
        if s.kind.is_secret_credential(k) && !v.is_empty() {
            out = out.replace(v.as_str(), "••••••••");
        }
    }
    out
}

/// `main-20261130T180501Z`.
pub fn backup_id(instance: &str, at: chrono::DateTime<chrono::Utc>) -> String {
    format!("{instance}-{}", at.format("%Y%m%dT%H%M%SZ"))
}

/// Takes a backup of `addon_id` on its VM, then drills it. The backup and
/// its manifest are kept either way; the manifest says whether the drill
/// passed (a failed drill is an error for the caller to show, with its
/// first difference, after the manifest is written).
pub async fn backup(
    ws: &Workspace,
    project: &Project,
    addon_id: &str,
    report: Report<'_>,
) -> Result<Manifest> {
    if script::applies(ws, project, addon_id)? {
        return script::backup(ws, project, addon_id, report).await;
    }
    let loaded = ws.load(project)?;
    let s = subject(ws, &loaded.config, &loaded.secrets, addon_id)?;
    let vm = &loaded.config.vms[&s.addon.vm];
    let started = audit::now();
    let conn = Connected::open(ws, project, vm).await?;
    let source = running_container(&conn.docker, project, s.addon, "nothing was backed up").await?;
    let dir = store::folder(&conn.target, project, addon_id);
    let now = chrono::Utc::now();
    let id = backup_id(&s.addon.name, now);
    let file = format!("{id}.{}", s.spec.extension);

    // The inventory first (held open across the dump when the type can
    // share one snapshot), so the drill compares against dump time.
    report(format!("{addon_id}: inventory of the source"));
    let mut vars = s.vars.clone();
    let (held, before) = match &s.spec.inventory {
        Some(inv) if inv.hold => {
            let cmd = spec::render(&s.kind.name, &inv.command, &inv.env, &s.vars)?;
            let input = render_input(&s, inv.input.as_deref())?;
            let (session, lines) = run::hold(&conn.docker, &source.container_id, &cmd, &input)
                .await
                .map_err(|e| UserError::new(mask(&e.message, &s)))?;
            let (inv, snapshot) = store::parse_inventory(&lines);
            if let Some(snap) = snapshot {
                vars.insert("SNAPSHOT".into(), snap);
            }
            (Some(session), Some(inv))
        }
        Some(_) => (
            None,
            Some(inventory(&conn.docker, &source.container_id, &s).await?),
        ),
        None => (None, None),
    };

    report(format!("{addon_id}: dump to {file} on VM {}", vm.name));
    let dump = spec::render(&s.kind.name, &s.spec.dump.command, &s.spec.dump.env, &vars)?;
    let t0 = Instant::now();
    let mut args = vec![dir.clone(), file.clone(), source.container_id.clone()];
    args.extend(dump.argv.iter().cloned());
    let out = run::vm_sh(&conn.target, run::DUMP_SCRIPT, &args, &dump.env).await;
    let dump_seconds = t0.elapsed().as_secs_f64();
    if let Some(session) = held {
        session.close().await;
    }
    let out = out?;
    let (size, sha256) = match (out.success(), run::parse_size_sum(&out.stdout)) {
        (true, Some(v)) => v,
        _ => {
            let why = mask(out.stderr.trim(), &s);
            audit_entry(project, &started, addon_id, "failed", vec![])?;
            return Err(UserError::new(format!(
                "backup of {addon_id} failed on VM {}; the partial file was removed, earlier backups are kept:\n{why}",
                vm.name
            ))
            .hint("a full disk on the VM is the usual cause: df -h there"));
        }
    };
    let after = match (&s.spec.inventory, &before) {
        (Some(inv), Some(b)) if !inv.hold => {
            let a = inventory(&conn.docker, &source.container_id, &s).await?;
            (a != *b).then_some(a)
        }
        _ => None,
    };
    let mut manifest = Manifest {
        id,
        addon: addon_id.to_string(),
        type_name: s.kind.name.clone(),
        image: source.image.clone(),
        vm: vm.name.clone(),
        file,
        created: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        size,
        sha256,
        dump_seconds,
        inventory: before.unwrap_or_default(),
        inventory_after: after,
        drill: Drill::not_run(),
        trigger: "manual".into(),
    };
    store::write_manifest(&conn.target, &dir, &manifest).await?;
    report(format!(
        "{addon_id}: {} bytes in {dump_seconds:.1} s; drill: restoring into a throwaway container",
        manifest.size
    ));
    manifest.drill = drill::run(&conn, project, &s, &source, &dir, &manifest, report).await;
    store::write_manifest(&conn.target, &dir, &manifest).await?;
    let outcome = if manifest.drill.passed() {
        "applied"
    } else {
        "drill failed"
    };
    audit_entry(
        project,
        &started,
        addon_id,
        outcome,
        vec![format!("{dir}/{}", manifest.file)],
    )?;
    Ok(manifest)
}

fn audit_entry(
    project: &Project,
    started: &str,
    addon_id: &str,
    outcome: &str,
    files: Vec<String>,
) -> Result<()> {
    audit::append(
        &project.audit_path(),
        &audit::Entry {
            started: Some(started.to_string()),
            ..audit::Entry::new(format!("db backup {addon_id}"), outcome, files)
        },
    )
}

pub(crate) fn render_input(s: &Subject, input: Option<&str>) -> Result<String> {
    match input {
        None => Ok(String::new()),
        Some(text) => crate::template::render(text, &s.vars).map_err(|m| {
            UserError::new(format!(
                "{}: backup.inventory.input uses unknown {{{m}}}",
                s.kind.name
            ))
        }),
    }
}

/// The inventory of a container (the source, or a drill's copy).
pub(crate) async fn inventory(
    docker: &Docker,
    container: &str,
    s: &Subject<'_>,
) -> Result<store::Inventory> {
    let Some(inv) = &s.spec.inventory else {
        return Ok(store::Inventory::new());
    };
    let cmd = spec::render(&s.kind.name, &inv.command, &inv.env, &s.vars)?;
    let input = inv
        .input
        .as_deref()
        .map(|i| render_input(s, Some(i)))
        .transpose()?;
    let (code, out) = run::exec(docker, container, &cmd, input).await?;
    if code != 0 {
        return Err(UserError::new(format!(
            "the inventory of {} failed (exit {code}): {}",
            s.addon.id(),
            mask(out.trim(), s)
        )));
    }
    Ok(store::parse_inventory(&run::lines_until_end(&out)).0)
}

/// The backups of one addon (or of every addon with a backup section),
/// oldest first, read from each VM's manifests.
pub async fn list(
    ws: &Workspace,
    project: &Project,
    addon_id: Option<&str>,
) -> Result<Vec<Manifest>> {
    let loaded = ws.load(project)?;
    let addons: Vec<&Addon> = match addon_id {
        Some(id) => vec![crate::engine::require_addon(&loaded.config, id)?],
        None => loaded
            .config
            .addons
            .iter()
            .filter(|a| {
                ws.catalog
                    .get(&a.type_name)
                    .is_some_and(|t| t.backup.is_some())
            })
            .collect(),
    };
    let mut by_vm: BTreeMap<&str, Vec<&Addon>> = BTreeMap::new();
    for a in addons {
        by_vm.entry(a.vm.as_str()).or_default().push(a);
    }
    let mut all = Vec::new();
    for (vm, addons) in by_vm {
        let conn = Connected::open(ws, project, &loaded.config.vms[vm]).await?;
        for a in addons {
            let dir = store::folder(&conn.target, project, &a.id());
            all.extend(store::list(&conn.target, &dir).await?);
        }
    }
    Ok(all)
}

/// One backup by id, with its VM connection and folder.
pub(crate) async fn find(
    ws: &Workspace,
    project: &Project,
    config: &Config,
    addon_id: &str,
    backup_id: &str,
) -> Result<(Connected, String, Manifest)> {
    let addon = crate::engine::require_addon(config, addon_id)?;
    let conn = Connected::open(ws, project, &config.vms[&addon.vm]).await?;
    let dir = store::folder(&conn.target, project, addon_id);
    let all = store::list(&conn.target, &dir).await?;
    let Some(m) = all.iter().find(|m| m.id == backup_id).cloned() else {
        return Err(
            UserError::new(format!("{addon_id} has no backup \"{backup_id}\"")).hint(
                crate::config::hint_choices(
                    "backups",
                    all.iter().rev().take(10).map(|m| m.id.clone()),
                ),
            ),
        );
    };
    Ok((conn, dir, m))
}
