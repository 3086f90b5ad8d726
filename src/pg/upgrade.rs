//! `pg upgrade SOURCE --version V`: a major upgrade by changeover. Physical
//! replication cannot cross majors, so a new instance of the new version
//! is made beside the old one, its schema copied, and logical replication
//! (a publication on the old, a subscription on the new) copies the rows
//! and then follows the writes while the apps keep running. The cut-over
//! is short: writes stop on the old (read-only, sessions ended), the new
//! confirms it has everything, sequences are copied, every attachment
//! moves to the new instance and the apps restart. The old one is kept
//! stopped with its volume until `--purge`.
//!
//! Each step is recorded in `<project>/pg-upgrades/<id>.json` before the
//! next begins, and each is safe to run twice: an upgrade stopped anywhere
//! (the tool killed, a VM gone, the new instance unhealthy) resumes when
//! run again, or `--abort` leaves the old instance serving, writable, with
//! every attachment on it. Until the switch, nothing of the old instance's
//! data is at risk; after it, the new instance holds the writes.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bollard::Docker;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::ops::{psql, psql_writable};
use super::promote::{one_value, set_read_only};
use crate::config::{Addon, Config, InstanceState};
use crate::engine::{Operation, Project, Workspace};
use crate::error::{Result, UserError};

/// The publication, subscription and slot an upgrade uses.
const LINK: &str = "sdtui_upgrade";
/// Where the new instance keeps the old one's password while it
/// subscribes: a 0600 file outside the data volume, removed at the switch.
const PASSFILE: &str = "/var/lib/postgresql/.sdtui-upgrade.pgpass";

/// The steps, in order; the state file holds the last one done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// The state file exists; config.yml may not have the new instance yet.
    Planned,
    /// config.yml has the new instance.
    Added,
    /// The new instance runs, healthy and provisioned.
    TargetUp,
    /// The old one writes logical WAL (restarted once if it did not).
    Logical,
    /// The schema is copied.
    Schema,
    /// The publication and the subscription exist.
    Subscribed,
    /// The initial copy is done and the subscription streams.
    CaughtUp,
    /// Writes are stopped on the old instance: the window is open.
    WritesStopped,
    /// Everything it committed is on the new one, sequences too; the
    /// subscription and publication are gone.
    Copied,
    /// config.yml moved the attachments and stopped the old instance.
    Switched,
}

impl Step {
    fn describe(self) -> &'static str {
        match self {
            Step::Planned => "planned",
            Step::Added => "the new instance added to config.yml",
            Step::TargetUp => "the new instance running",
            Step::Logical => "the old instance writing logical WAL",
            Step::Schema => "the schema copied",
            Step::Subscribed => "replication set up",
            Step::CaughtUp => "the rows copied, replication following",
            Step::WritesStopped => "writes stopped on the old instance",
            Step::Copied => "the last writes and sequences copied",
            Step::Switched => "the attachments moved",
        }
    }
}

/// An upgrade in progress, as the state file holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UpgradeState {
    pub source: String,
    pub target: String,
    pub version: String,
    /// Dump and restore with writes stopped, instead of replication.
    pub dump: bool,
    pub step: Step,
    /// When writes stopped (seconds since the epoch), once they have.
    pub writes_stopped_at: Option<f64>,
}

/// What an upgrade did.
#[derive(Debug, Clone, Serialize)]
pub struct Upgraded {
    pub source: String,
    pub target: String,
    pub version: String,
    pub method: String,
    /// Writes refused (old read-only) until the apps ran on the new one.
    pub window_seconds: f64,
    pub seconds: f64,
    pub apps: Vec<String>,
}

/// What to do: `pg upgrade SOURCE [--version V] [--name N] ...`.
#[derive(Debug, Clone, Default)]
pub struct UpgradeRequest {
    pub source: String,
    pub version: Option<String>,
    pub name: Option<String>,
    pub allow_dump: bool,
    pub dry_run: bool,
}

/// The plan of an upgrade: what it will do and what it cannot carry.
#[derive(Debug, Clone, Serialize)]
pub struct UpgradePlan {
    pub source: String,
    pub target: String,
    pub version: String,
    pub method: String,
    pub steps: Vec<String>,
    /// What logical replication cannot carry, found in the source.
    pub unsupported: Vec<String>,
    pub notes: Vec<String>,
    /// The config.yml change of its first step, as a diff.
    pub diff: String,
    /// An upgrade of this source stopped at this step: running it again
    /// resumes there.
    pub resumes_at: Option<String>,
}

fn state_path(project: &Project, source: &str) -> PathBuf {
    project
        .dir
        .join("pg-upgrades")
        .join(format!("{source}.json"))
}

/// The upgrade of `source` in progress, if any.
pub fn in_progress(project: &Project, source: &str) -> Result<Option<UpgradeState>> {
    let path = state_path(project, source);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
            UserError::new(format!("{} is not an upgrade's state: {e}", path.display()))
                .hint("remove it if no upgrade is running, then run the upgrade again")
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(UserError::new(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

fn save(project: &Project, state: &UpgradeState) -> Result<()> {
    let path = state_path(project, &state.source);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| UserError::new(format!("cannot create {}: {e}", dir.display())))?;
    }
    let text = serde_json::to_string_pretty(state).unwrap_or_default();
    crate::engine::apply::write_atomic(&path, text.as_bytes(), 0o644)
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The SQL that lists what logical replication cannot carry: large
/// objects, and tables with neither a primary key nor a replica identity
/// (their updates and deletes would be refused on the old instance).
const UNSUPPORTED_SQL: &str = "SELECT 'large objects: ' || count(*) FROM pg_largeobject_metadata HAVING count(*) > 0 UNION ALL SELECT 'table without a primary key or replica identity: ' || n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema' AND NOT EXISTS (SELECT FROM pg_index i WHERE i.indrelid = c.oid AND (i.indisprimary OR i.indisreplident)) AND c.relreplident <> 'f' UNION ALL SELECT 'unlogged table: ' || n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relpersistence = 'u' AND c.relkind = 'r' AND n.nspname NOT LIKE 'pg\\_%'";

/// The checks that need only config.yml; `(source, target name, version)`.
fn check<'a>(
    ws: &Workspace,
    config: &'a Config,
    req: &UpgradeRequest,
) -> Result<(&'a Addon, String, String)> {
    let source = crate::engine::require_addon(config, &req.source)?;
    if source.type_name != "postgres" {
        return Err(UserError::new(format!(
            "{} is {}: only postgres instances are upgraded this way",
            source.id(),
            source.type_name
        ))
        .hint(format!(
            "change its version with `sdtui addons upgrade {} --version V`",
            source.id()
        )));
    }
    if let Some(leader) = &source.follows {
        return Err(
            UserError::new(format!("{} is a follower of {leader}", source.id())).hint(format!(
                "upgrade its leader: sdtui pg upgrade {leader} --version V"
            )),
        );
    }
    if source.state != InstanceState::Running {
        return Err(UserError::new(format!(
            "{} is state: {}",
            source.id(),
            source.state.as_str()
        ))
        .hint("only a running, writable instance is upgraded"));
    }
    let followers: Vec<String> = super::followers(config, source).map(|f| f.id()).collect();
    if let Some(first) = followers.first() {
        return Err(UserError::new(format!(
            "{} has followers ({}): physical followers cannot cross major versions",
            source.id(),
            followers.join(", ")
        ))
        .hint(format!(
            "remove them first (sdtui addons remove {first}), or make them independent (sdtui pg unfollow {first}); follow the new instance once the upgrade is done"
        )));
    }
    let t = ws.catalog.require("postgres")?;
    let version = match &req.version {
        Some(v) => v.clone(),
        None => t.versions.last().cloned().unwrap_or_default(),
    };
    let major = |v: &str| crate::config::major(v).parse::<u32>().unwrap_or(0);
    if major(&version) <= major(&source.version) {
        return Err(UserError::new(format!(
            "{} is postgres {}: {version} is not a newer major version",
            source.id(),
            source.version
        ))
        .hint(crate::config::hint_choices(
            "newer versions",
            t.versions
                .iter()
                .filter(|v| major(v) > major(&source.version)),
        )));
    }
    let name = req
        .name
        .clone()
        .unwrap_or_else(|| format!("{}-{}", source.name, major(&version)));
    Ok((source, name, version))
}

fn step_list(dump: bool, source: &str, target: &str, version: &str) -> Vec<String> {
    let mut steps = vec![
        format!("add {target} (postgres {version}, same plan, options and VM) to config.yml"),
        format!("up: {target} running and healthy"),
    ];
    if dump {
        steps.extend([
            format!("writes stop on {source} (read-only, sessions ended): the window opens"),
            format!("pg_dump of {source} restored into {target}, sequences included"),
        ]);
    } else {
        steps.extend([
            format!("{source} writes logical WAL (wal_level=logical; restarted once if it did not)"),
            format!("the schema of {source} copied into {target}"),
            format!("publication on {source}, subscription on {target}: the rows are copied while the apps keep writing"),
            format!("wait until {target} has every table and follows {source}'s writes"),
            format!("writes stop on {source} (read-only, sessions ended): the window opens"),
            format!("{target} confirms it has everything {source} committed; sequences copied; subscription and publication dropped"),
        ]);
    }
    steps.extend([
        format!("config.yml: every attachment of {source} moved to {target}, {source} state: stopped"),
        format!("up: apps restarted on {target}, {source}'s container removed (its volume kept): the window closes"),
    ]);
    steps
}

/// The plan: what will happen, what cannot be carried. Reads the source's
/// schema when it is running.
pub async fn plan(ws: &Workspace, project: &Project, req: &UpgradeRequest) -> Result<UpgradePlan> {
    let loaded = ws.load(project)?;
    if let Some(state) = in_progress(project, &req.source)? {
        return Ok(UpgradePlan {
            source: state.source.clone(),
            target: state.target.clone(),
            version: state.version.clone(),
            method: method(state.dump),
            steps: step_list(state.dump, &state.source, &state.target, &state.version),
            unsupported: vec![],
            notes: vec![format!(
                "stopped after: {}; run it again to resume, or --abort",
                state.step.describe()
            )],
            diff: String::new(),
            resumes_at: Some(state.step.describe().into()),
        });
    }
    let (source, name, version) = check(ws, &loaded.config, req)?;
    let target = format!("{}.{name}", source.category);
    let unsupported = unsupported(ws, project, source).await?;
    let dump = !unsupported.is_empty();
    let op = Operation::UpgradeTarget {
        source: source.id(),
        name: name.clone(),
        version: version.clone(),
    };
    let config_plan = ws.plan(project, &op)?;
    let mut notes = vec![
        "don't change the schema (DDL) until the upgrade is done: logical replication does not carry it".to_string(),
        format!("{} is kept stopped with its volume until `sdtui pg upgrade {} --purge`", source.id(), source.id()),
    ];
    if dump && !req.allow_dump {
        notes.push("refused: logical replication cannot carry what is listed; --allow-dump stops writes for the whole copy instead".into());
    }
    let apps: Vec<String> = loaded
        .config
        .attachments_of(&source.id())
        .map(|(a, _)| a.name.clone())
        .collect();
    if !apps.is_empty() {
        notes.push(format!("apps restarted at the switch: {}", apps.join(", ")));
    }
    Ok(UpgradePlan {
        source: source.id(),
        target: target.clone(),
        version: version.clone(),
        method: method(dump),
        steps: step_list(dump, &source.id(), &target, &version),
        unsupported,
        notes,
        diff: config_plan.diff(false),
        resumes_at: None,
    })
}

fn method(dump: bool) -> String {
    if dump {
        "dump and restore (writes stopped for the whole copy)".into()
    } else {
        "logical replication (writes stopped for the cut-over only)".into()
    }
}

async fn unsupported(ws: &Workspace, project: &Project, source: &Addon) -> Result<Vec<String>> {
    let loaded = ws.load(project)?;
    let creds = &loaded.generated.secrets[&source.type_name][&source.name];
    let (docker, c) = crate::deploy::service_container(ws, project, &source.service())
        .await
        .map_err(|e| {
            UserError::new(format!(
                "{} must be running to be upgraded: {}",
                source.id(),
                e.message
            ))
            .hint("start it: sdtui up")
        })?;
    let (code, out) = psql(&docker, &c.container_id, creds, UNSUPPORTED_SQL).await?;
    if code != 0 {
        return Err(UserError::new(format!(
            "cannot read {}'s schema (exit {code}): {}",
            source.id(),
            out.trim()
        )));
    }
    Ok(out
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

/// Runs (or resumes) the upgrade. Refuses what logical replication cannot
/// carry unless `allow_dump`.
pub async fn upgrade(
    ws: &Workspace,
    project: &Project,
    req: &UpgradeRequest,
    timeout: Duration,
    report: &(dyn Fn(String) + Sync),
) -> Result<Upgraded> {
    let started = Instant::now();
    let mut state = match in_progress(project, &req.source)? {
        Some(s) => {
            if let Some(v) = &req.version
                && v != &s.version
            {
                return Err(UserError::new(format!(
                    "an upgrade of {} to {} is in progress",
                    s.source, s.version
                ))
                .hint(format!(
                    "resume it (sdtui pg upgrade {}) or abort it (sdtui pg upgrade {} --abort) first",
                    s.source, s.source
                )));
            }
            report(format!(
                "resuming the upgrade of {} to {} after: {}",
                s.source,
                s.version,
                s.step.describe()
            ));
            s
        }
        None => {
            let p = plan(ws, project, req).await?;
            if !p.unsupported.is_empty() && !req.allow_dump {
                return Err(UserError::new(format!(
                    "logical replication cannot carry everything in {}: {}",
                    p.source,
                    p.unsupported.join("; ")
                ))
                .hint(format!(
                    "nothing was changed; give those tables a primary key (or REPLICA IDENTITY FULL), or upgrade by dump and restore with the writes stopped for the whole copy: sdtui pg upgrade {} --version {} --allow-dump",
                    p.source, p.version
                )));
            }
            let s = UpgradeState {
                source: p.source.clone(),
                target: p.target.clone(),
                version: p.version.clone(),
                dump: !p.unsupported.is_empty(),
                step: Step::Planned,
                writes_stopped_at: None,
            };
            save(project, &s)?;
            s
        }
    };
    let path: &[Step] = if state.dump {
        &[
            Step::Added,
            Step::TargetUp,
            Step::WritesStopped,
            Step::Copied,
            Step::Switched,
        ]
    } else {
        &[
            Step::Added,
            Step::TargetUp,
            Step::Logical,
            Step::Schema,
            Step::Subscribed,
            Step::CaughtUp,
            Step::WritesStopped,
            Step::Copied,
            Step::Switched,
        ]
    };
    // The last step, the final `up`, is not recorded: it always runs.
    let total = path.len() + 1;
    let mut n = path.iter().filter(|s| **s <= state.step).count();
    let mut next = |step: &str| {
        n += 1;
        report(format!("upgrade {n}/{total}: {step}"));
    };
    let (source_id, target_id) = (state.source.clone(), state.target.clone());

    if state.step < Step::Added {
        next(&format!("{target_id} added to config.yml"));
        let loaded = ws.load(project)?;
        if loaded.config.addon(&target_id).is_none() {
            let name = target_id
                .split_once('.')
                .map(|(_, n)| n.to_string())
                .unwrap_or_default();
            ws.run(
                project,
                &Operation::UpgradeTarget {
                    source: source_id.clone(),
                    name,
                    version: state.version.clone(),
                },
                false,
            )?;
        }
        advance(project, &mut state, Step::Added)?;
    }
    let loaded = ws.load(project)?;
    let source = crate::engine::require_addon(&loaded.config, &source_id)?.clone();
    let target = crate::engine::require_addon(&loaded.config, &target_id)?.clone();
    let creds = loaded.generated.secrets[&source.type_name][&source.name].clone();
    let tcreds = loaded.generated.secrets[&target.type_name][&target.name].clone();
    let stopped = |e: UserError| {
        UserError::new(format!("the upgrade of {source_id} stopped: {}", e.message)).hint(format!(
            "{}resume it with `sdtui -p {p} pg upgrade {source_id}`, or give up with `sdtui -p {p} pg upgrade {source_id} --abort` ({source_id} serving, writable, every attachment on it)",
            e.hint.map(|h| format!("{h}; ")).unwrap_or_default(),
            p = project.name
        ))
    };

    if state.step < Step::TargetUp {
        next(&format!("up --vm {}: {target_id} running", target.vm));
        crate::deploy::up_reporting(ws, project, Some(&target.vm), timeout, report)
            .await
            .map_err(stopped)?;
        advance(project, &mut state, Step::TargetUp)?;
    }
    if state.step < Step::Copied {
        copy_rows(
            ws, project, &mut state, &source, &target, &creds, &tcreds, timeout, report, &mut next,
        )
        .await
        .map_err(stopped)?;
    }
    let apps: Vec<String> = loaded
        .config
        .attachments_of(&source_id)
        .map(|(a, _)| a.name.clone())
        .collect();
    if state.step < Step::Switched {
        next(&format!(
            "config.yml: attachments of {source_id} moved to {target_id}, {source_id} stopped"
        ));
        let now_config = ws.load(project)?.config;
        let switched = now_config
            .addon(&source_id)
            .is_some_and(|a| a.state == InstanceState::Stopped);
        if !switched {
            ws.run(
                project,
                &Operation::Changeover {
                    from: source_id.clone(),
                    to: target_id.clone(),
                },
                false,
            )?;
        }
        advance(project, &mut state, Step::Switched)?;
    }
    let vms = super::vms_with_apps(&loaded.config, &source.vm, &apps);
    next(&format!(
        "up --vm {vms}: apps on {target_id}, {source_id} stopped"
    ));
    crate::deploy::up_reporting(ws, project, Some(&vms), timeout, report)
        .await
        .map_err(|e| {
            UserError::new(format!(
                "the upgrade of {source_id} switched to {target_id}, but up failed: {}",
                e.message
            ))
            .hint(format!(
                "fix that and run `sdtui -p {} up`: the attachments are on {target_id} already",
                project.name
            ))
        })?;
    let window = state
        .writes_stopped_at
        .map(|t| now() - t)
        .unwrap_or_default();
    let _ = std::fs::remove_file(state_path(project, &source_id));
    Ok(Upgraded {
        source: source_id,
        target: target_id,
        version: state.version.clone(),
        method: method(state.dump),
        window_seconds: window,
        seconds: started.elapsed().as_secs_f64(),
        apps,
    })
}

/// The steps from the new instance running to everything copied: both
/// instances are needed, so either one found stopped (killed, its VM
/// restarted, the tool killed in an `up`) is started first by `up` of its
/// VM, which changes nothing else. While writes are stopped config.yml
/// says `state: read_only`, so that `up` keeps the old one read-only.
#[allow(clippy::too_many_arguments)]
async fn copy_rows(
    ws: &Workspace,
    project: &Project,
    state: &mut UpgradeState,
    source: &Addon,
    target: &Addon,
    creds: &IndexMap<String, String>,
    tcreds: &IndexMap<String, String>,
    timeout: Duration,
    report: &(dyn Fn(String) + Sync),
    next: &mut impl FnMut(&str),
) -> Result<()> {
    let (source_id, target_id) = (source.id(), target.id());
    let conn = |addon: &Addon| {
        let service = addon.service();
        async move { crate::deploy::service_container(ws, project, &service).await }
    };
    let mut down: Vec<&Addon> = Vec::new();
    for addon in [source, target] {
        match conn(addon).await {
            Ok((_, c)) if c.state == "running" => {}
            _ => down.push(addon),
        }
    }
    if !down.is_empty() {
        let mut vms: Vec<&str> = down.iter().map(|a| a.vm.as_str()).collect();
        vms.dedup();
        let vms = vms.join(",");
        report(format!(
            "{} not running: up --vm {vms} first",
            down.iter().map(|a| a.id()).collect::<Vec<_>>().join(", ")
        ));
        crate::deploy::up_reporting(ws, project, Some(&vms), timeout, report).await?;
    }
    let (sd, sc) = conn(source).await?;
    let (td, tc) = conn(target).await?;
    let (sc, tc) = (sc.container_id, tc.container_id);
    let link = Link {
        source,
        target,
        creds,
        tcreds,
    };

    if !state.dump {
        if state.step < Step::Logical {
            next(&format!("{source_id} writing logical WAL"));
            let restarted = link.ensure_logical(&sd, &sc).await?;
            if restarted {
                report(format!("{source_id} restarted once for wal_level=logical"));
            }
            advance(project, state, Step::Logical)?;
        }
        if state.step < Step::Schema {
            next(&format!(
                "the schema of {source_id} copied into {target_id}"
            ));
            link.copy(&td, &tc, true).await?;
            advance(project, state, Step::Schema)?;
        }
        if state.step < Step::Subscribed {
            next(&format!(
                "publication on {source_id}, subscription on {target_id}"
            ));
            link.subscribe(&sd, &sc, &td, &tc).await?;
            advance(project, state, Step::Subscribed)?;
        }
        if state.step < Step::CaughtUp {
            next(&format!("{target_id} copying the rows"));
            link.wait_copied(&sd, &sc, &td, &tc, timeout, report)
                .await?;
            advance(project, state, Step::CaughtUp)?;
        }
    }
    if state.step < Step::WritesStopped {
        next(&format!(
            "writes stopped on {source_id} (read-only, sessions ended)"
        ));
        if state.writes_stopped_at.is_none() {
            state.writes_stopped_at = Some(now());
            save(project, state)?;
        }
        if ws.load(project)?.config.addon(&source_id).map(|a| a.state)
            != Some(InstanceState::ReadOnly)
        {
            ws.run(
                project,
                &Operation::UpgradeWrites {
                    source: source_id.clone(),
                    stopped: true,
                },
                false,
            )?;
        }
        set_read_only(&sd, &sc, creds, source, true).await?;
        advance(project, state, Step::WritesStopped)?;
    }
    if state.step < Step::Copied {
        if state.dump {
            next(&format!("pg_dump of {source_id} restored into {target_id}"));
            link.copy(&td, &tc, false).await?;
        } else {
            next(&format!(
                "{target_id} has everything {source_id} committed; sequences copied"
            ));
            link.final_catch_up(&sd, &sc, &td, &tc, timeout).await?;
            link.copy_sequences(&sd, &sc, &td, &tc).await?;
            link.unsubscribe(&sd, &sc, &td, &tc).await?;
        }
        advance(project, state, Step::Copied)?;
    }
    Ok(())
}

fn advance(project: &Project, state: &mut UpgradeState, step: Step) -> Result<()> {
    state.step = step;
    save(project, state)
}

/// What `--abort` did.
#[derive(Debug, Clone, Serialize)]
pub struct Aborted {
    pub source: String,
    pub target: String,
    pub stopped_after: String,
    pub removed_volumes: Vec<String>,
}

/// `pg upgrade SOURCE --abort`: the old instance writable, every
/// attachment on it (they never left before the switch), replication
/// undone, the new instance and its partial copy removed.
pub async fn abort(
    ws: &Workspace,
    project: &Project,
    source_id: &str,
    report: &(dyn Fn(String) + Sync),
) -> Result<Aborted> {
    let Some(state) = in_progress(project, source_id)? else {
        return Err(
            UserError::new(format!("no upgrade of {source_id} is in progress"))
                .hint("nothing to abort"),
        );
    };
    if state.step >= Step::Switched {
        return Err(UserError::new(format!(
            "the upgrade of {source_id} has switched to {}: the apps write there now",
            state.target
        ))
        .hint(format!(
            "finish it with `sdtui pg upgrade {source_id}`; going back would drop what {} took since",
            state.target
        )));
    }
    // Writable again in config.yml first, so that any `up` from here on
    // (this one's included) keeps it writable.
    if ws
        .load(project)?
        .config
        .addon(source_id)
        .is_some_and(|a| a.state == InstanceState::ReadOnly)
    {
        ws.run(
            project,
            &Operation::UpgradeWrites {
                source: source_id.into(),
                stopped: false,
            },
            false,
        )?;
    }
    let loaded = ws.load(project)?;
    let source = crate::engine::require_addon(&loaded.config, source_id)?.clone();
    let creds = loaded.generated.secrets[&source.type_name][&source.name].clone();
    let running = |addon: &Addon| {
        let service = addon.service();
        async move {
            match crate::deploy::service_container(ws, project, &service).await {
                Ok((d, c)) if c.state == "running" => Some((d, c.container_id)),
                _ => None,
            }
        }
    };
    let target = loaded.config.addon(&state.target).cloned();
    // While both run, dropping the subscription ends its slots on the old
    // one cleanly; otherwise they are dropped there below.
    if let Some(t) = &target
        && let Some((td, tc)) = running(t).await
        && let Some((sd, sc)) = running(&source).await
    {
        let tcreds = loaded.generated.secrets[&t.type_name][&t.name].clone();
        let link = Link {
            source: &source,
            target: t,
            creds: &creds,
            tcreds: &tcreds,
        };
        match link.unsubscribe(&sd, &sc, &td, &tc).await {
            Ok(()) => report(format!("abort: subscription on {} dropped", t.id())),
            Err(e) => report(format!(
                "abort: the subscription on {} was not dropped ({}); its slots on {source_id} are",
                t.id(),
                e.message
            )),
        }
    }
    let mut removed_volumes = Vec::new();
    if let Some(t) = target {
        report(format!(
            "abort: {} (a partial copy) removed with its volume",
            t.id()
        ));
        removed_volumes = crate::deploy::remove_and_purge(ws, project, &t.id(), None, report)
            .await
            .map_err(|e| match e {
                crate::deploy::RemoveError::Refused(e)
                | crate::deploy::RemoveError::PurgeFailed(e) => e,
            })?;
    }
    // The old one serving: started again if it stopped (the new one has
    // left config.yml, so this `up` starts nothing else).
    let (sd, sc) = match running(&source).await {
        Some(found) => found,
        None => {
            report(format!(
                "abort: {source_id} not running: up --vm {}",
                source.vm
            ));
            crate::deploy::up_reporting(
                ws,
                project,
                Some(&source.vm),
                Duration::from_secs(300),
                report,
            )
            .await?;
            running(&source).await.ok_or_else(|| {
                UserError::new(format!("{source_id} is not running after up"))
                    .hint(format!("its logs: sdtui logs {}", source.service()))
            })?
        }
    };
    report(format!(
        "abort: {source_id} writable, its publication and slots dropped"
    ));
    drop_slots(&sd, &sc, &creds, source_id).await?;
    psql_writable(
        &sd,
        &sc,
        &creds,
        &format!("DROP PUBLICATION IF EXISTS {LINK}"),
    )
    .await?;
    set_read_only(&sd, &sc, &creds, &source, false).await?;
    let _ = std::fs::remove_file(state_path(project, source_id));
    Ok(Aborted {
        source: source_id.into(),
        target: state.target,
        stopped_after: state.step.describe().into(),
        removed_volumes,
    })
}

/// The upgrade's slots on the old instance: its own and the initial
/// copy's (`pg_<sub>_sync_<table>_<system>`), which a subscription leaves
/// behind when its instance went away mid-copy; each would keep the old
/// one's WAL forever. Their senders are ended first.
async fn drop_slots(
    docker: &Docker,
    container: &str,
    creds: &IndexMap<String, String>,
    source_id: &str,
) -> Result<()> {
    let ours = format!(
        "(slot_name = '{LINK}' OR (slot_name LIKE 'pg\\_%\\_sync\\_%' AND plugin = 'pgoutput')) AND database = current_database()"
    );
    let ended = format!(
        "SELECT count(pg_terminate_backend(active_pid)) FROM pg_replication_slots WHERE active AND {ours}"
    );
    let dropped = format!(
        "SELECT count(pg_drop_replication_slot(slot_name)) FROM pg_replication_slots WHERE NOT active AND {ours}"
    );
    let left = format!("SELECT count(*) FROM pg_replication_slots WHERE {ours}");
    for _ in 0..30 {
        for sql in [&ended, &dropped] {
            let (code, out) = psql_writable(docker, container, creds, sql).await?;
            if code != 0 {
                return Err(UserError::new(format!(
                    "cannot drop the upgrade's slots on {source_id} (exit {code}): {}",
                    out.trim()
                )));
            }
        }
        if one_value(
            psql(docker, container, creds, &left).await?,
            "counting slots",
        )? == "0"
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(UserError::new(format!(
        "the upgrade's slots on {source_id} are still in use after 15 s"
    ))
    .hint(format!(
        "see SELECT * FROM pg_replication_slots on {source_id}, then run the abort again"
    )))
}

/// The old and the new instance, and how one reaches the other: the new
/// one's container runs the clients and reaches the old one by its compose
/// service (one VM, one compose network).
struct Link<'a> {
    source: &'a Addon,
    target: &'a Addon,
    creds: &'a IndexMap<String, String>,
    tcreds: &'a IndexMap<String, String>,
}

impl Link<'_> {
    fn get<'b>(m: &'b IndexMap<String, String>, k: &str) -> &'b str {
        m.get(k).map(String::as_str).unwrap_or_default()
    }

    /// `wal_level=logical` on the source; true when it had to restart.
    async fn ensure_logical(&self, sd: &Docker, sc: &str) -> Result<bool> {
        let level = one_value(
            psql(sd, sc, self.creds, "SHOW wal_level").await?,
            "reading wal_level",
        )?;
        if level == "logical" {
            return Ok(false);
        }
        let (code, out) =
            psql_writable(sd, sc, self.creds, "ALTER SYSTEM SET wal_level = logical").await?;
        if code != 0 {
            return Err(UserError::new(format!(
                "cannot set wal_level=logical on {} (exit {code}): {}",
                self.source.id(),
                out.trim()
            )));
        }
        sd.restart_container(sc, None)
            .await
            .map_err(|e| UserError::new(format!("restarting {}: {e}", self.source.id())))?;
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(v) = psql(sd, sc, self.creds, "SHOW wal_level").await
                && v.0 == 0
                && v.1.trim() == "logical"
            {
                return Ok(true);
            }
            if Instant::now() > deadline {
                return Err(UserError::new(format!(
                    "{} did not come back with wal_level=logical within 120 s",
                    self.source.id()
                ))
                .hint(format!("its logs: sdtui logs {}", self.source.service())));
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Runs `script` in the target's container with the source's password
    /// in its environment (never on a command line).
    async fn in_target(&self, td: &Docker, tc: &str, script: &str, what: &str) -> Result<String> {
        let (code, out) = crate::docker::exec(
            td,
            tc,
            vec![
                "bash".into(),
                "-o".into(),
                "pipefail".into(),
                "-c".into(),
                script.into(),
                "sh".into(),
                self.source.service(),
                Self::get(self.creds, "USER").into(),
                Self::get(self.creds, "DATABASE").into(),
                Self::get(self.tcreds, "USER").into(),
                Self::get(self.tcreds, "DATABASE").into(),
            ],
            vec![format!(
                "SDTUI_SOURCE_PASSWORD={}",
                Self::get(self.creds, "PASSWORD")
            )],
            None,
        )
        .await?;
        let secret = Self::get(self.creds, "PASSWORD");
        if code != 0 {
            return Err(UserError::new(format!(
                "{what} failed (exit {code}): {}",
                crate::deploy::steps::mask(out.trim(), &[secret])
            ))
            .hint(format!("the logs: sdtui logs {}", self.target.service())));
        }
        Ok(out)
    }

    /// Copies the source into the target, emptied first: its schema only
    /// (`schema_only`, before replication) or everything (a dump, with
    /// writes stopped).
    async fn copy(&self, td: &Docker, tc: &str, schema_only: bool) -> Result<()> {
        let (dump, what) = if schema_only {
            ("--schema-only", "copying the schema")
        } else {
            ("", "dump and restore")
        };
        let script = format!(
            r#"set -e
psql -X -q -v ON_ERROR_STOP=1 -U "$4" -d "$5" -c "DO \$\$DECLARE s text; BEGIN FOR s IN SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema' LOOP EXECUTE format('DROP SCHEMA %I CASCADE', s); END LOOP; END\$\$; CREATE SCHEMA public"
PGPASSWORD="$SDTUI_SOURCE_PASSWORD" pg_dump -h "$1" -U "$2" -d "$3" {dump} --no-owner --no-privileges --no-publications --no-subscriptions -Fc | pg_restore --no-owner --no-privileges --exit-on-error -U "$4" -d "$5"
"#
        );
        self.in_target(td, tc, &script, what).await.map(|_| ())
    }

    async fn subscribe(&self, sd: &Docker, sc: &str, td: &Docker, tc: &str) -> Result<()> {
        let (code, out) = psql_writable(
            sd,
            sc,
            self.creds,
            &format!("SELECT count(*) FROM pg_publication WHERE pubname = '{LINK}'"),
        )
        .await?;
        if code == 0 && out.trim() == "0" {
            let (code, out) = psql_writable(
                sd,
                sc,
                self.creds,
                &format!("CREATE PUBLICATION {LINK} FOR ALL TABLES"),
            )
            .await?;
            if code != 0 {
                return Err(UserError::new(format!(
                    "cannot publish {}'s tables (exit {code}): {}",
                    self.source.id(),
                    out.trim()
                )));
            }
        }
        // The password reaches the subscription through a 0600 file that
        // conninfo names, never the catalog.
        self.in_target(
            td,
            tc,
            &format!(
                "umask 077; printf '*:*:*:%s:%s\\n' \"$2\" \"$SDTUI_SOURCE_PASSWORD\" >{PASSFILE}; chown postgres {PASSFILE}"
            ),
            "writing the subscription's passfile",
        )
        .await?;
        if !self.subscribed(td, tc).await? {
            let conninfo = format!(
                "host={} port=5432 user={} dbname={} passfile={PASSFILE}",
                self.source.service(),
                Self::get(self.creds, "USER"),
                Self::get(self.creds, "DATABASE")
            );
            let (code, out) = psql(
                td,
                tc,
                self.tcreds,
                &format!("CREATE SUBSCRIPTION {LINK} CONNECTION '{conninfo}' PUBLICATION {LINK}"),
            )
            .await?;
            if code != 0 {
                return Err(UserError::new(format!(
                    "cannot subscribe {} to {} (exit {code}): {}",
                    self.target.id(),
                    self.source.id(),
                    out.trim()
                )));
            }
        }
        Ok(())
    }

    /// Whether the target has the upgrade's subscription.
    async fn subscribed(&self, td: &Docker, tc: &str) -> Result<bool> {
        let count = one_value(
            psql(
                td,
                tc,
                self.tcreds,
                &format!("SELECT count(*) FROM pg_subscription WHERE subname = '{LINK}'"),
            )
            .await?,
            "reading the subscriptions",
        )?;
        Ok(count != "0")
    }

    /// Bytes of the source's WAL the subscription has not confirmed.
    async fn behind(&self, sd: &Docker, sc: &str, upto: Option<&str>) -> Result<Option<i64>> {
        let lsn = upto
            .map(|l| format!("'{l}'::pg_lsn"))
            .unwrap_or_else(|| "pg_current_wal_lsn()".into());
        let v = one_value(
            psql(
                sd,
                sc,
                self.creds,
                &format!("SELECT COALESCE((SELECT pg_wal_lsn_diff({lsn}, confirmed_flush_lsn)::bigint FROM pg_replication_slots WHERE slot_name = '{LINK}')::text, 'none')"),
            )
            .await?,
            "reading the upgrade's slot",
        )?;
        Ok(v.parse().ok())
    }

    async fn wait_copied(
        &self,
        sd: &Docker,
        sc: &str,
        td: &Docker,
        tc: &str,
        timeout: Duration,
        report: &(dyn Fn(String) + Sync),
    ) -> Result<()> {
        let started = Instant::now();
        let mut last_said = Instant::now();
        loop {
            let pending = one_value(
                psql(
                    td,
                    tc,
                    self.tcreds,
                    "SELECT count(*) FILTER (WHERE srsubstate <> 'r') || ' ' || count(*) FROM pg_subscription_rel",
                )
                .await?,
                "reading the subscription's tables",
            )?;
            let (left, all) = pending.split_once(' ').unwrap_or(("?", "?"));
            let behind = self.behind(sd, sc, None).await?;
            if left == "0" && behind.is_some_and(|b| b < 1 << 20) {
                report(format!(
                    "{all} table(s) copied in {:.1} s; {} B behind",
                    started.elapsed().as_secs_f64(),
                    behind.unwrap_or_default()
                ));
                return Ok(());
            }
            if last_said.elapsed() > Duration::from_secs(5) {
                report(format!(
                    "{left} of {all} table(s) still copying; {} behind",
                    behind.map(|b| format!("{b} B")).unwrap_or("?".into())
                ));
                last_said = Instant::now();
            }
            if started.elapsed() > timeout {
                return Err(UserError::new(format!(
                    "{} has not copied {}'s tables within {} s ({left} of {all} left)",
                    self.target.id(),
                    self.source.id(),
                    timeout.as_secs()
                ))
                .hint("a larger --timeout; writes were never stopped"));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// With writes stopped: waits until the subscription confirmed every
    /// byte the source wrote.
    async fn final_catch_up(
        &self,
        sd: &Docker,
        sc: &str,
        _td: &Docker,
        _tc: &str,
        timeout: Duration,
    ) -> Result<()> {
        let end = one_value(
            psql(sd, sc, self.creds, "SELECT pg_current_wal_lsn()").await?,
            "reading the source's WAL position",
        )?;
        let started = Instant::now();
        loop {
            match self.behind(sd, sc, Some(&end)).await? {
                Some(b) if b <= 0 => return Ok(()),
                None => {
                    return Err(UserError::new(format!(
                        "the upgrade's slot on {} is gone before the final catch-up",
                        self.source.id()
                    ))
                    .hint("abort the upgrade and start it again"));
                }
                Some(b) if started.elapsed() > timeout => {
                    return Err(UserError::new(format!(
                        "{} is still {b} B behind {} after {} s with writes stopped",
                        self.target.id(),
                        self.source.id(),
                        timeout.as_secs()
                    ))
                    .hint("writes stay stopped on the source until you resume or abort"));
                }
                Some(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// Every sequence's position, from the source to the target
    /// (logical replication carries rows, not sequences).
    async fn copy_sequences(&self, sd: &Docker, sc: &str, td: &Docker, tc: &str) -> Result<()> {
        let (code, out) = psql(
            sd,
            sc,
            self.creds,
            "SELECT format('SELECT setval(%L, %s, true);', quote_ident(schemaname) || '.' || quote_ident(sequencename), last_value) FROM pg_sequences WHERE last_value IS NOT NULL",
        )
        .await?;
        if code != 0 {
            return Err(UserError::new(format!(
                "cannot read {}'s sequences (exit {code}): {}",
                self.source.id(),
                out.trim()
            )));
        }
        let sql: String = out
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        if sql.is_empty() {
            return Ok(());
        }
        let (code, out) = psql(td, tc, self.tcreds, &sql).await?;
        if code != 0 {
            return Err(UserError::new(format!(
                "cannot set {}'s sequences (exit {code}): {}",
                self.target.id(),
                out.trim()
            )));
        }
        Ok(())
    }

    /// The subscription, its slot, the publication and the passfile gone.
    async fn unsubscribe(&self, sd: &Docker, sc: &str, td: &Docker, tc: &str) -> Result<()> {
        if self.subscribed(td, tc).await? {
            // Detached from its slot first: the source may be read-only
            // or gone; the slot is dropped there below.
            for sql in [
                format!("ALTER SUBSCRIPTION {LINK} DISABLE"),
                format!("ALTER SUBSCRIPTION {LINK} SET (slot_name = NONE)"),
                format!("DROP SUBSCRIPTION {LINK}"),
            ] {
                let (code, out) = psql(td, tc, self.tcreds, &sql).await?;
                if code != 0 {
                    return Err(UserError::new(format!(
                        "{sql} on {} failed (exit {code}): {}",
                        self.target.id(),
                        out.trim()
                    )));
                }
            }
        }
        let _ = crate::docker::exec(
            td,
            tc,
            vec!["rm".into(), "-f".into(), PASSFILE.into()],
            vec![],
            None,
        )
        .await;
        // The walsender may take a moment to let go of the slot.
        for _ in 0..40 {
            let (code, out) = psql_writable(
                sd,
                sc,
                self.creds,
                &format!("SELECT count(pg_drop_replication_slot(slot_name)) FROM pg_replication_slots WHERE slot_name = '{LINK}' AND NOT active; SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{LINK}'"),
            )
            .await?;
            if code == 0 && out.lines().last().map(str::trim) == Some("0") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        psql_writable(
            sd,
            sc,
            self.creds,
            &format!("DROP PUBLICATION IF EXISTS {LINK}"),
        )
        .await?;
        Ok(())
    }
}
