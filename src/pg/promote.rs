//! `pg promote FOLLOWER`: the follower takes over its leader's attachments.
//! Writes stop on the leader first (read-only, client sessions ended), the
//! follower replays everything the leader wrote, and only then is it
//! promoted: there are never two writable primaries behind one attachment.
//! config.yml then moves every attachment of the leader to it and keeps the
//! leader running read-only (`state: read_only`) until the user removes it;
//! `up` restarts the apps with their new variables.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::ops::{psql, psql_writable};
use crate::config::Addon;
use crate::engine::plan::Plan;
use crate::engine::{Operation, Project, Workspace};
use crate::error::{Result, UserError};

/// What a promotion did beyond its plan.
#[derive(Debug, Clone, Serialize)]
pub struct Promoted {
    pub follower: String,
    pub old_leader: String,
    /// The apps whose attachments moved (restarted by `up`).
    pub apps: Vec<String>,
    /// WAL the follower had not replayed when it was promoted: 0 unless
    /// `--force`; `None` when the leader could not be asked.
    pub lost_bytes: Option<i64>,
    /// From writes stopped on the leader to the apps running on the new
    /// primary.
    pub window_seconds: f64,
    pub seconds: f64,
}

/// What to promote: `pg promote ID [--force] [--wait S] [--dry-run]`.
pub struct PromoteRequest<'a> {
    pub id: &'a str,
    /// The leader's name typed back: promote a follower that has not
    /// caught up (or whose leader is gone), saying how much is lost.
    pub force: Option<&'a str>,
    /// The plan only.
    pub dry_run: bool,
    /// How long the follower may take to replay what its leader wrote.
    pub catch_up: Duration,
}

/// Promotes `req.id`.
pub async fn promote(
    ws: &Workspace,
    project: &Project,
    req: PromoteRequest<'_>,
    timeout: Duration,
    report: &(dyn Fn(String) + Sync),
) -> Result<(Plan, Option<Promoted>)> {
    let PromoteRequest {
        id,
        force,
        dry_run,
        catch_up,
    } = req;
    let started = Instant::now();
    let loaded = ws.load(project)?;
    let (f, leader) = super::ops::require_follower(&loaded.config, id)?;
    let (f, leader) = (f.clone(), leader.clone());
    let op = Operation::Promote { id: id.into() };
    let mut plan = ws.plan(project, &op)?;
    let apps: Vec<String> = loaded
        .config
        .attachments_of(&leader.id())
        .map(|(app, _)| app.name.clone())
        .collect();
    plan.notes.extend(notes(&loaded.config, &f, &leader, &apps));
    if dry_run {
        return Ok((plan, None));
    }
    // --force can lose what the leader committed last: its name typed back.
    if let Some(typed) = force
        && typed != leader.id()
    {
        return Err(UserError::new(format!(
            "\"{typed}\" is not {}: --force was not confirmed; nothing changed",
            leader.id()
        ))
        .hint(format!(
            "type {} to promote at the risk of its last writes",
            leader.id()
        )));
    }
    let force = force.is_some();
    let creds = loaded.generated.secrets[&f.type_name][&f.name].clone();
    let leader_creds = loaded.generated.secrets[&leader.type_name][&leader.name].clone();
    let (fdocker, fc) = crate::deploy::service_container(ws, project, &f.service()).await?;
    let leader_conn = crate::deploy::service_container(ws, project, &leader.service()).await;
    let window = Instant::now();
    let lost_bytes = match &leader_conn {
        Ok((ld, lc)) => {
            report(format!(
                "promote 1/4: writes stopped on {} (read-only, client sessions ended)",
                leader.id()
            ));
            set_read_only(ld, &lc.container_id, &leader_creds, &leader, true).await?;
            let target = one_value(
                psql_writable(
                    ld,
                    &lc.container_id,
                    &leader_creds,
                    "SELECT pg_current_wal_lsn()",
                )
                .await?,
                &format!("reading {}'s WAL position", leader.id()),
            )?;
            report(format!(
                "promote 2/4: {} replaying {}'s WAL up to {target}",
                f.id(),
                leader.id()
            ));
            let behind =
                replay_until(&fdocker, &fc.container_id, &creds, &target, catch_up).await?;
            if behind > 0 && !force {
                // Back as config.yml has it: writable, unless it was
                // already read-only (a leader promoted away from before).
                if leader.state != crate::config::InstanceState::ReadOnly {
                    set_read_only(ld, &lc.container_id, &leader_creds, &leader, false).await?;
                }
                return Err(UserError::new(format!(
                    "{} is {behind} B of WAL behind {} after {:.0} s: promoting it would lose what {} committed last",
                    f.id(),
                    leader.id(),
                    catch_up.as_secs_f64(),
                    leader.id()
                ))
                .hint(format!(
                    "nothing changed and {} is as it was; see `sdtui pg lag {}` (is replay paused, or the stream broken?), or promote anyway with --force, losing those {behind} B",
                    leader.id(),
                    f.id()
                )));
            }
            Some(behind.max(0))
        }
        Err(e) => {
            let last = psql(
                &fdocker,
                &fc.container_id,
                &creds,
                "SELECT COALESCE(pg_last_xact_replay_timestamp()::text, 'never')",
            )
            .await
            .ok()
            .map(|(_, out)| out.trim().to_string())
            .unwrap_or_else(|| "an unknown time".into());
            if !force {
                return Err(UserError::new(format!(
                    "{} cannot be reached ({}): what it committed after {last}, the last transaction {} replayed, would be lost",
                    leader.id(),
                    e.message,
                    f.id()
                ))
                .hint(format!(
                    "nothing changed; bring {} back and promote again, or promote anyway with --force (and keep {} stopped: it must not take writes again)",
                    leader.id(),
                    leader.id()
                )));
            }
            report(format!(
                "promote 1-2/4: {} unreachable; {} promoted as it is (last replayed transaction {last})",
                leader.id(),
                f.id()
            ));
            None
        }
    };
    report(format!(
        "promote 3/4: {} promoted; config.yml: attachments of {} moved to it, {} read-only",
        f.id(),
        leader.id(),
        leader.id()
    ));
    super::ops::promote_server(&fdocker, &fc.container_id, &creds, &f).await?;
    let plan = ws.run(project, &op, false).map(|p| Plan {
        notes: plan.notes.clone(),
        ..p
    })?;
    if let Ok((ld, lc)) = &leader_conn {
        super::ops::drop_slot_and_role(ld, &lc.container_id, &leader_creds, &creds, &f, &leader)
            .await?;
    }
    let vms = super::vms_with_apps(&loaded.config, &f.vm, &apps);
    report(format!(
        "promote 4/4: up --vm {vms} ({} recreated as a plain primary{})",
        f.id(),
        if apps.is_empty() {
            String::new()
        } else {
            format!(", {} restarted", apps.join(", "))
        }
    ));
    crate::deploy::up_reporting(ws, project, Some(&vms), timeout, report)
        .await
        .map_err(|e| {
            UserError::new(format!(
                "{} is promoted and config.yml moved the attachments, but up failed: {}",
                f.id(),
                e.message
            ))
            .hint(format!(
                "fix that and run `sdtui -p {} up`; {} stays read-only",
                project.name,
                leader.id()
            ))
        })?;
    Ok((
        plan,
        Some(Promoted {
            follower: f.id(),
            old_leader: leader.id(),
            apps,
            lost_bytes,
            window_seconds: window.elapsed().as_secs_f64(),
            seconds: started.elapsed().as_secs_f64(),
        }),
    ))
}

fn notes(
    config: &crate::config::Config,
    f: &Addon,
    leader: &Addon,
    apps: &[String],
) -> Vec<String> {
    let mut notes = vec![
        format!(
            "writes stop on {l} first (read-only, client sessions ended); {f} is promoted once it has replayed everything {l} wrote (refused otherwise unless --force): never two writable primaries",
            l = leader.id(),
            f = f.id()
        ),
        if apps.is_empty() {
            format!("no app is attached to {}", leader.id())
        } else {
            format!(
                "attachments of {} move to {}: {} restarted by up",
                leader.id(),
                f.id(),
                apps.join(", ")
            )
        },
        format!(
            "{l} keeps running read-only (state: read_only) with its volume until you remove it: sdtui addons remove {l}",
            l = leader.id()
        ),
    ];
    let others: Vec<String> = super::followers(config, leader)
        .filter(|o| o.id() != f.id())
        .map(|o| o.id())
        .collect();
    if !others.is_empty() {
        notes.push(format!(
            "{} keep following {} (read-only); follow {} instead with `sdtui pg follow {} --name NAME`",
            others.join(", "),
            leader.id(),
            f.id(),
            f.id()
        ));
    }
    notes
}

/// Makes `leader` read-only (ending its client sessions, so nothing begun
/// while it was writable commits later) or writable again.
pub(crate) async fn set_read_only(
    docker: &bollard::Docker,
    container: &str,
    creds: &indexmap::IndexMap<String, String>,
    addon: &Addon,
    read_only: bool,
) -> Result<()> {
    let mut sql = super::read_only_steps(read_only);
    if read_only {
        sql.push(super::END_CLIENT_SESSIONS.into());
    }
    for s in sql {
        let (code, out) = psql_writable(docker, container, creds, &s).await?;
        if code != 0 {
            return Err(UserError::new(format!(
                "cannot make {} {} (exit {code}): {}",
                addon.id(),
                if read_only { "read-only" } else { "writable" },
                out.trim()
            ))
            .hint(format!("is it running? sdtui logs {}", addon.service())));
        }
    }
    Ok(())
}

/// The single value a `psql -At` printed, or why there is none.
pub(crate) fn one_value((code, out): (i64, String), what: &str) -> Result<String> {
    match out.lines().map(str::trim).rfind(|l| !l.is_empty()) {
        Some(v) if code == 0 => Ok(v.to_string()),
        _ => Err(
            UserError::new(format!("{what} failed (exit {code}): {}", out.trim()))
                .hint("the container's logs may say more: sdtui logs SERVICE"),
        ),
    }
}

/// Waits until the standby has replayed up to `target`; the bytes still
/// missing when `within` runs out (0 when caught up).
async fn replay_until(
    docker: &bollard::Docker,
    container: &str,
    creds: &indexmap::IndexMap<String, String>,
    target: &str,
    within: Duration,
) -> Result<i64> {
    let deadline = Instant::now() + within;
    loop {
        let behind: i64 = one_value(
            psql(
                docker,
                container,
                creds,
                &format!(
                    "SELECT COALESCE(pg_wal_lsn_diff('{target}', pg_last_wal_replay_lsn()), 0)::bigint"
                ),
            )
            .await?,
            "reading the follower's replay position",
        )?
        .parse()
        .unwrap_or(i64::MAX);
        if behind <= 0 || Instant::now() >= deadline {
            return Ok(behind);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
