//! `pg fork SOURCE --name COPY`: an independent writable copy of a running
//! postgres, made from a base backup of it (not a dump), with logins of its
//! own. It is the follower machinery run to its end, each step one the
//! engine already does and tests: `pg follow` (config, plan, audit), `up`
//! of the copy's VM (the leader's slot and role, `pg_basebackup`), `pg
//! unfollow` (promoted, slot and role dropped on the source), `up` again
//! (a plain primary), then every login of the copy rotated so the source's
//! passwords stop working on it. A step that fails stops the fork and says
//! how to finish it by hand; the source is never written to beyond its
//! replication slot and role, which the unfollow step removes.

use std::time::Duration;

use serde::Serialize;

use crate::engine::{Operation, Project, Workspace};
use crate::error::{Result, UserError};

/// What a fork made.
#[derive(Debug, Clone, Serialize)]
pub struct Forked {
    pub source: String,
    pub copy: String,
    pub vm: String,
    /// The copy's logins that now have passwords of their own.
    pub rotated: Vec<String>,
    pub seconds: f64,
}

/// What to fork: `pg fork SOURCE --name NAME [--plan] [--vm]`.
#[derive(Debug, Clone)]
pub struct ForkRequest {
    pub source: String,
    pub name: String,
    pub plan: Option<String>,
    pub vm: Option<String>,
}

/// Forks `req.source`; each step told to `report`.
pub async fn fork(
    ws: &Workspace,
    project: &Project,
    req: ForkRequest,
    timeout: Duration,
    report: &(dyn Fn(String) + Sync),
) -> Result<Forked> {
    let started = std::time::Instant::now();
    let source = req.source.as_str();
    let op = Operation::Follow {
        leader: req.source.clone(),
        name: req.name.clone(),
        plan: req.plan,
        vm: req.vm,
    };
    let name = req.name.as_str();
    report(format!(
        "fork 1/5: {} (config.yml, as a follower of {source})",
        op.describe()
    ));
    ws.run(project, &op, false)?;
    let loaded = ws.load(project)?;
    let category = crate::engine::require_addon(&loaded.config, source)?
        .category
        .clone();
    let copy = format!("{category}.{name}");
    let copy_vm = crate::engine::require_addon(&loaded.config, &copy)?
        .vm
        .clone();
    let stopped = |step: &str, e: UserError, then: &str| {
        UserError::new(format!("pg fork stopped at {step}: {}", e.message)).hint(format!(
            "{}finish it by hand: {then}",
            e.hint.map(|h| format!("{h}; ")).unwrap_or_default()
        ))
    };
    let rest_after_up = format!(
        "sdtui -p {p} pg unfollow {copy}, sdtui -p {p} up --vm {copy_vm}, sdtui -p {p} addons credentials rotate {copy} (and --readonly); or remove it: sdtui -p {p} addons remove {copy}",
        p = project.name
    );

    report(format!(
        "fork 2/5: base backup of {source} into {copy} (up --vm {copy_vm})"
    ));
    crate::deploy::up_reporting(ws, project, Some(&copy_vm), timeout, report)
        .await
        .map_err(|e| {
            stopped(
                "the base backup",
                e,
                &format!(
                    "sdtui -p {} up --vm {copy_vm}, then {rest_after_up}",
                    project.name
                ),
            )
        })?;

    report(format!(
        "fork 3/5: {copy} promoted, its slot on {source} dropped"
    ));
    crate::pg::ops::unfollow(ws, project, &copy, false)
        .await
        .map_err(|e| stopped("the promotion", e, &rest_after_up))?;

    report(format!("fork 4/5: {copy} recreated as a plain primary"));
    let rest_after_promotion = format!(
        "sdtui -p {p} up --vm {copy_vm}, sdtui -p {p} addons credentials rotate {copy} (and --readonly)",
        p = project.name
    );
    crate::deploy::up_reporting(ws, project, Some(&copy_vm), timeout, report)
        .await
        .map_err(|e| stopped("the restart as a primary", e, &rest_after_promotion))?;

    // The copy came with the source's logins: new passwords, so nothing
    // that knows the source's can write to the copy, or the other way.
    let t = ws.catalog.require("postgres")?;
    let mut rotated = Vec::new();
    for readonly in [false, true] {
        if readonly && t.readonly.is_none() {
            continue;
        }
        let which = if readonly { "readonly login" } else { "login" };
        report(format!("fork 5/5: a new password for {copy}'s {which}"));
        let r = crate::credentials::rotate::rotate(ws, project, &copy, readonly, timeout, report)
            .await
            .map_err(|e| {
                stopped(
                    &format!("the new password of its {which}"),
                    e,
                    &format!(
                        "sdtui -p {} addons credentials rotate {copy}{}",
                        project.name,
                        if readonly { " --readonly" } else { "" }
                    ),
                )
            })?;
        rotated.push(r.user);
    }
    Ok(Forked {
        source: source.to_string(),
        copy,
        vm: copy_vm,
        rotated,
        seconds: started.elapsed().as_secs_f64(),
    })
}
