//! Followers against the running containers: the leader's provisioning
//! (role, pg_hba line, slot), replay lag, and `unfollow`.

use std::collections::BTreeMap;
use std::time::Duration;

use bollard::Docker;
use serde::Serialize;

use crate::config::{Addon, Config};
use crate::docker::{self, ServiceState};
use crate::engine::plan::Plan;
use crate::engine::secrets::AddonSecrets;
use crate::engine::{Operation, Project, Workspace};
use crate::error::{Result, UserError};

/// After `up` made a VM's addons healthy: on each leader there, what each
/// of its followers needs (the replication role and its password, the
/// `pg_hba` line, the slot). Idempotent.
pub async fn provision_leaders(
    ws: &Workspace,
    config: &Config,
    secrets: &AddonSecrets,
    vm: &str,
    docker: &Docker,
    states: &[ServiceState],
) -> Result<()> {
    for leader in config
        .addons
        .iter()
        .filter(|a| a.vm == vm && a.type_name == "postgres" && a.follows.is_none())
    {
        let followers: Vec<&Addon> = super::followers(config, leader).collect();
        let Some(container) = states.iter().find(|s| s.service == leader.service()) else {
            continue;
        };
        let t = ws.catalog.require(&leader.type_name)?;
        let Some(client) = &t.provision_with else {
            continue;
        };
        let vars: BTreeMap<String, String> = secrets[&leader.type_name][&leader.name]
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let read_only = leader.state == crate::config::InstanceState::ReadOnly;
        crate::deploy::steps::run(
            docker,
            &container.container_id,
            t,
            client,
            &vars,
            &super::read_only_steps(read_only),
            &vars,
            &format!(
                "making {} {}",
                leader.id(),
                if read_only { "read-only" } else { "writable" }
            ),
            &crate::deploy::steps::secret_values(t, &vars),
        )
        .await?;
        let session: Vec<String> = read_only
            .then(|| super::WRITABLE_SESSION.to_string())
            .into_iter()
            .collect();
        // A slot no follower uses any more (one removed from config.yml)
        // would keep the leader's WAL forever: dropped once inactive.
        let keep: Vec<String> = followers
            .iter()
            .map(|f| format!("'{}'", super::slot_name(f)))
            .collect();
        let stale = format!(
            "SELECT 1 FROM (SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'sdtui\\_follower\\_%' AND NOT active{}) d",
            if keep.is_empty() {
                String::new()
            } else {
                format!(" AND slot_name NOT IN ({})", keep.join(", "))
            }
        );
        crate::deploy::steps::run(
            docker,
            &container.container_id,
            t,
            client,
            &vars,
            &[session.clone(), vec![stale]].concat(),
            &vars,
            &format!("dropping unused follower slots on {}", leader.id()),
            &crate::deploy::steps::secret_values(t, &vars),
        )
        .await?;
        for f in followers {
            let creds = &secrets[&f.type_name][&f.name];
            let role = creds
                .get(super::REPLICATION_USER)
                .cloned()
                .unwrap_or_default();
            let password = creds
                .get(super::REPLICATION_PASSWORD)
                .cloned()
                .unwrap_or_default();
            let what = format!("provisioning {} for its follower {}", leader.id(), f.id());
            let (code, out) = docker::exec(
                docker,
                &container.container_id,
                super::hba_command(&role),
                vec![],
                None,
            )
            .await?;
            if code != 0 {
                return Err(UserError::new(format!(
                    "{what}: pg_hba.conf not updated (exit {code}): {}",
                    out.trim()
                ))
                .hint("the container's logs may say more: sdtui logs SERVICE"));
            }
            let steps = [
                session.clone(),
                super::leader_steps(&role, &password, &super::slot_name(f)),
            ]
            .concat();
            let mut secret_values = crate::deploy::steps::secret_values(t, &vars);
            secret_values.push(&password);
            crate::deploy::steps::run(
                docker,
                &container.container_id,
                t,
                client,
                &vars,
                &steps,
                &vars,
                &what,
                &secret_values,
            )
            .await?;
        }
    }
    Ok(())
}

/// psql as the instance's owner on its own socket (trusted inside the
/// container): `-At`, fields by tabs.
pub(crate) async fn psql(
    docker: &Docker,
    container: &str,
    creds: &indexmap::IndexMap<String, String>,
    sql: &str,
) -> Result<(i64, String)> {
    psql_with(docker, container, creds, sql, vec![]).await
}

/// [`psql`] in a session that may write on a `state: read_only` instance
/// (the read-only default is only a default).
pub(crate) async fn psql_writable(
    docker: &Docker,
    container: &str,
    creds: &indexmap::IndexMap<String, String>,
    sql: &str,
) -> Result<(i64, String)> {
    psql_with(
        docker,
        container,
        creds,
        sql,
        vec!["PGOPTIONS=-c default_transaction_read_only=off".into()],
    )
    .await
}

async fn psql_with(
    docker: &Docker,
    container: &str,
    creds: &indexmap::IndexMap<String, String>,
    sql: &str,
    env: Vec<String>,
) -> Result<(i64, String)> {
    let get = |k: &str| creds.get(k).cloned().unwrap_or_default();
    docker::exec(
        docker,
        container,
        vec![
            "psql".into(),
            "-X".into(),
            "-q".into(),
            "-At".into(),
            "-F".into(),
            "\t".into(),
            "-v".into(),
            "ON_ERROR_STOP=1".into(),
            "-U".into(),
            get("USER"),
            "-d".into(),
            get("DATABASE"),
            "-c".into(),
            sql.into(),
        ],
        env,
        None,
    )
    .await
}

/// A follower's replay lag, as its leader's `pg_stat_replication` sees it
/// on the follower's slot.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Lag {
    pub follower: String,
    pub leader: String,
    /// The follower's walreceiver is connected to the slot.
    pub streaming: bool,
    /// WAL the leader wrote that the follower has not replayed.
    pub lag_bytes: Option<i64>,
    /// `replay_lag`: 0 when the leader is idle and the follower caught up.
    pub lag_seconds: Option<f64>,
}

impl Lag {
    /// `0 B, 0.000 s behind` or `not streaming`.
    pub fn describe(&self) -> String {
        match (self.streaming, self.lag_bytes, self.lag_seconds) {
            (true, Some(b), Some(s)) => format!("{b} B, {s:.3} s behind {}", self.leader),
            _ => format!("not streaming from {}", self.leader),
        }
    }
}

/// The SQL that reads a slot's lag on the leader.
pub fn lag_sql(slot: &str) -> String {
    format!(
        "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn)::bigint, COALESCE(EXTRACT(EPOCH FROM r.replay_lag), 0)::float8 FROM pg_replication_slots s JOIN pg_stat_replication r ON r.pid = s.active_pid WHERE s.slot_name = '{slot}'"
    )
}

/// The follower's lag, read on its leader.
pub async fn lag(ws: &Workspace, project: &Project, follower: &str) -> Result<Lag> {
    let loaded = ws.load(project)?;
    let (f, leader) = require_follower(&loaded.config, follower)?;
    let (docker, c) = crate::deploy::service_container(ws, project, &leader.service()).await?;
    let creds = &loaded.generated.secrets[&leader.type_name][&leader.name];
    let (code, out) = psql(
        &docker,
        &c.container_id,
        creds,
        &lag_sql(&super::slot_name(f)),
    )
    .await?;
    if code != 0 {
        return Err(UserError::new(format!(
            "cannot read the lag of {} on {} (exit {code}): {}",
            f.id(),
            leader.id(),
            out.trim()
        ))
        .hint(format!("is {} running? sdtui status", leader.id())));
    }
    let row = out.lines().find(|l| !l.trim().is_empty());
    let (bytes, seconds) = match row.and_then(|r| r.split_once('\t')) {
        Some((b, s)) => (b.trim().parse().ok(), s.trim().parse().ok()),
        None => (None, None),
    };
    Ok(Lag {
        follower: f.id(),
        leader: leader.id(),
        streaming: bytes.is_some(),
        lag_bytes: bytes,
        lag_seconds: seconds,
    })
}

/// The lag of every follower in the project; one that cannot be read is
/// reported as not streaming.
pub async fn lags(ws: &Workspace, project: &Project, config: &Config) -> Vec<Lag> {
    let mut out = Vec::new();
    for f in config.addons.iter().filter(|a| a.follows.is_some()) {
        out.push(lag(ws, project, &f.id()).await.unwrap_or_else(|_| Lag {
            follower: f.id(),
            leader: f.follows.clone().unwrap_or_default(),
            streaming: false,
            lag_bytes: None,
            lag_seconds: None,
        }));
    }
    out
}

/// `id` and its leader, or why it is not a follower.
pub fn require_follower<'a>(config: &'a Config, id: &str) -> Result<(&'a Addon, &'a Addon)> {
    let followers: Vec<String> = config
        .addons
        .iter()
        .filter(|a| a.follows.is_some())
        .map(|a| a.id())
        .collect();
    let Some(f) = config.addon(id) else {
        return Err(UserError::new(format!("no addon {id}"))
            .hint(crate::config::hint_choices("followers", &followers)));
    };
    let Some(leader) = f.follows.as_deref().and_then(|l| config.addon(l)) else {
        return Err(
            UserError::new(format!("addon {id} is not a follower")).hint(if followers.is_empty() {
                format!("make one with `sdtui pg follow {id} --name NAME`")
            } else {
                crate::config::hint_choices("followers", &followers)
            }),
        );
    };
    Ok((f, leader))
}

/// What `unfollow` did beyond its plan.
#[derive(Debug, Clone, Serialize)]
pub struct Unfollowed {
    pub follower: String,
    pub leader: String,
    pub promoted: bool,
    pub slot_dropped: bool,
}

/// `pg unfollow`: promote the follower (`pg_promote()`), write config.yml
/// without `follows:` (plan, diff, audit), then drop its slot and role on
/// the leader. `dry_run`: the plan only.
pub async fn unfollow(
    ws: &Workspace,
    project: &Project,
    id: &str,
    dry_run: bool,
) -> Result<(Plan, Option<Unfollowed>)> {
    let loaded = ws.load(project)?;
    let (f, leader) = require_follower(&loaded.config, id)?;
    let op = Operation::Unfollow { id: id.into() };
    let mut plan = ws.plan(project, &op)?;
    plan.notes.push(format!(
        "{} is promoted to an independent writable primary (pg_promote); its slot {} and role are dropped on {}",
        f.id(),
        super::slot_name(f),
        leader.id()
    ));
    if dry_run {
        return Ok((plan, None));
    }
    let creds = loaded.generated.secrets[&f.type_name][&f.name].clone();
    let leader_creds = loaded.generated.secrets[&leader.type_name][&leader.name].clone();
    let (docker, c) = crate::deploy::service_container(ws, project, &f.service()).await?;
    let in_recovery = promote_server(&docker, &c.container_id, &creds, f).await?;
    let plan = ws.run(project, &op, false).map(|p| Plan {
        notes: plan.notes.clone(),
        ..p
    })?;
    let (ldocker, lc) = crate::deploy::service_container(ws, project, &leader.service()).await?;
    let dropped = drop_slot_and_role(&ldocker, &lc.container_id, &leader_creds, &creds, f, leader)
        .await
        .map(|()| true)?;
    Ok((
        plan,
        Some(Unfollowed {
            follower: f.id(),
            leader: leader.id(),
            promoted: in_recovery,
            slot_dropped: dropped,
        }),
    ))
}

/// `pg_promote()` on a standby: `Ok(true)` when it was one and is now a
/// primary, `Ok(false)` when it already was writable.
pub(crate) async fn promote_server(
    docker: &Docker,
    container: &str,
    creds: &indexmap::IndexMap<String, String>,
    f: &Addon,
) -> Result<bool> {
    let (code, out) = psql(docker, container, creds, "SELECT pg_is_in_recovery()").await?;
    if code != 0 {
        return Err(UserError::new(format!(
            "cannot ask {} whether it is a standby (exit {code}): {}",
            f.id(),
            out.trim()
        ))
        .hint("nothing was written; start it with `sdtui up` first"));
    }
    if out.trim() != "t" {
        return Ok(false);
    }
    let (code, out) = psql(docker, container, creds, "SELECT pg_promote(true, 60)").await?;
    if code != 0 || out.trim() != "t" {
        return Err(UserError::new(format!(
            "{} was not promoted (exit {code}): {}",
            f.id(),
            out.trim()
        ))
        .hint(format!(
            "nothing was written; its logs may say why: sdtui logs {}",
            f.service()
        )));
    }
    Ok(true)
}

/// Drops a promoted follower's slot and replication role on its old
/// leader; the slot is released once the promoted server's walreceiver is
/// gone, so this waits for it (up to 15 s).
pub(crate) async fn drop_slot_and_role(
    ldocker: &Docker,
    leader_container: &str,
    leader_creds: &indexmap::IndexMap<String, String>,
    follower_creds: &indexmap::IndexMap<String, String>,
    f: &Addon,
    leader: &Addon,
) -> Result<()> {
    let slot = super::slot_name(f);
    let role = follower_creds
        .get(super::REPLICATION_USER)
        .cloned()
        .unwrap_or_default();
    let mut dropped = false;
    for _ in 0..30 {
        // A read-only leader (a promoted follower's old one) still lets
        // its owner drop what it made.
        let (code, out) = psql_writable(
            ldocker,
            leader_container,
            leader_creds,
            &format!("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '{slot}' AND NOT active; SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}'"),
        )
        .await?;
        if code == 0 && out.lines().last().map(str::trim) == Some("0") {
            dropped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    if !dropped {
        return Err(UserError::new(format!(
            "{} is promoted and config.yml updated, but the slot {slot} on {} is still held",
            f.id(),
            leader.id()
        ))
        .hint(format!(
            "drop it on {} once nothing uses it: SELECT pg_drop_replication_slot('{slot}')",
            leader.id()
        )));
    }
    psql_writable(
        ldocker,
        leader_container,
        leader_creds,
        &format!("DROP ROLE IF EXISTS \"{role}\""),
    )
    .await?;
    Ok(())
}
