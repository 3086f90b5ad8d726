//! The Postgres dialog's work, off the event loop: the same engine calls
//! as `sdtui pg ...`, their plan first (`--dry-run`), then the run with
//! each step sent as it happens.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::{PgMsg, PgOp, PgRequest};
use crate::engine::plan::Plan;
use crate::engine::{Operation, Project, Workspace};
use crate::error::Result;
use crate::tui::Msg;

/// The CLI's defaults: each health check, and a follower's catch-up.
const TIMEOUT: Duration = Duration::from_secs(300);
const CATCH_UP: Duration = Duration::from_secs(30);

fn send(tx: &mpsc::Sender<Msg>, m: PgMsg) {
    let _ = tx.try_send(Msg::Pg(m));
}

/// A config plan as review lines: its notes, then its diff (masked).
fn plan_lines(plan: &Plan) -> Vec<String> {
    plan.notes
        .iter()
        .map(|n| format!("note: {n}"))
        .chain(std::iter::once(String::new()))
        .chain(plan.diff(false).lines().map(String::from))
        .collect()
}

async fn plan(ws: &Workspace, project: &Project, op: &PgOp) -> Result<(Vec<String>, bool)> {
    Ok(match op {
        PgOp::Follow { leader, name }
        | PgOp::Fork {
            source: leader,
            name,
        } => {
            let plan = ws.plan(
                project,
                &Operation::Follow {
                    leader: leader.clone(),
                    name: name.clone(),
                    plan: None,
                    vm: None,
                },
            )?;
            let mut lines = Vec::new();
            if matches!(op, PgOp::Fork { .. }) {
                lines.extend([
                    format!("fork: {name} follows {leader} (below), up takes a base backup,"),
                    "then it is promoted, restarted as a plain primary, and both its logins get new passwords".into(),
                    format!("{leader} is only read (a replication slot, dropped at the end)"),
                    String::new(),
                ]);
            }
            lines.extend(plan_lines(&plan));
            (lines, true)
        }
        PgOp::Unfollow { follower } => {
            let (plan, _) = crate::pg::ops::unfollow(ws, project, follower, true).await?;
            (plan_lines(&plan), true)
        }
        PgOp::Promote { follower } => {
            let (plan, _) = crate::pg::promote::promote(
                ws,
                project,
                crate::pg::promote::PromoteRequest {
                    id: follower,
                    force: None,
                    dry_run: true,
                    catch_up: CATCH_UP,
                },
                TIMEOUT,
                &|_| {},
            )
            .await?;
            (plan_lines(&plan), true)
        }
        PgOp::Upgrade { source, version } => {
            let p = crate::pg::upgrade::plan(
                ws,
                project,
                &crate::pg::upgrade::UpgradeRequest {
                    source: source.clone(),
                    version: version.clone(),
                    ..Default::default()
                },
            )
            .await?;
            let mut lines = vec![format!(
                "postgres {} as {}, by {}:",
                p.version, p.target, p.method
            )];
            lines.extend(
                p.steps
                    .iter()
                    .enumerate()
                    .map(|(i, s)| format!("  {}. {s}", i + 1)),
            );
            lines.extend(
                p.unsupported
                    .iter()
                    .map(|u| format!("cannot be carried by logical replication: {u}")),
            );
            lines.extend(p.notes.iter().map(|n| format!("note: {n}")));
            if !p.unsupported.is_empty() {
                lines.push(format!(
                    "the console does not stop writes for a whole copy: sdtui pg upgrade {source} --allow-dump does"
                ));
            }
            lines.push(String::new());
            lines.extend(p.diff.lines().map(String::from));
            (lines, p.unsupported.is_empty())
        }
        PgOp::AbortUpgrade { source } => match crate::pg::upgrade::in_progress(project, source)? {
            Some(s) => (
                vec![
                    format!(
                        "the upgrade of {source} to {} stopped after: {:?}",
                        s.version, s.step
                    ),
                    format!(
                        "abort: {source} writable with every attachment on it, replication undone,"
                    ),
                    format!("{} (a partial copy) removed with its volume", s.target),
                ],
                true,
            ),
            None => (
                vec![format!("no upgrade of {source} is in progress")],
                false,
            ),
        },
    })
}

async fn run(
    ws: &Workspace,
    project: &Project,
    op: &PgOp,
    report: &(dyn Fn(String) + Sync),
) -> Result<String> {
    Ok(match op {
        PgOp::Follow { leader, name } => {
            let plan = ws.run(
                project,
                &Operation::Follow {
                    leader: leader.clone(),
                    name: name.clone(),
                    plan: None,
                    vm: None,
                },
                false,
            )?;
            format!(
                "{} file(s) written: `u` (up) starts the follower of {leader}",
                plan.changes.len()
            )
        }
        PgOp::Unfollow { follower } => {
            crate::pg::ops::unfollow(ws, project, follower, false).await?;
            format!("{follower} is an independent writable primary; `u` recreates its container")
        }
        PgOp::Promote { follower } => {
            let (_, done) = crate::pg::promote::promote(
                ws,
                project,
                crate::pg::promote::PromoteRequest {
                    id: follower,
                    force: None,
                    dry_run: false,
                    catch_up: CATCH_UP,
                },
                TIMEOUT,
                report,
            )
            .await?;
            match done {
                Some(d) => format!(
                    "{} promoted in {:.1} s (writes unavailable {:.1} s); {} read-only",
                    d.follower, d.seconds, d.window_seconds, d.old_leader
                ),
                None => format!("{follower}: nothing done"),
            }
        }
        PgOp::Fork { source, name } => {
            let f = crate::pg::fork::fork(
                ws,
                project,
                crate::pg::fork::ForkRequest {
                    source: source.clone(),
                    name: name.clone(),
                    plan: None,
                    vm: None,
                },
                TIMEOUT,
                report,
            )
            .await?;
            format!("{} forked from {} in {:.1} s", f.copy, f.source, f.seconds)
        }
        PgOp::Upgrade { source, version } => {
            let u = crate::pg::upgrade::upgrade(
                ws,
                project,
                &crate::pg::upgrade::UpgradeRequest {
                    source: source.clone(),
                    version: version.clone(),
                    ..Default::default()
                },
                TIMEOUT,
                report,
            )
            .await?;
            format!(
                "{} upgraded to postgres {} as {} in {:.1} s; writes unavailable {:.1} s",
                u.source, u.version, u.target, u.seconds, u.window_seconds
            )
        }
        PgOp::AbortUpgrade { source } => {
            let a = crate::pg::upgrade::abort(ws, project, source, report).await?;
            format!(
                "upgrade of {} aborted: it serves, writable; {} removed",
                a.source, a.target
            )
        }
    })
}

/// Runs one dialog request as a task.
pub fn spawn(ws: Arc<Workspace>, project: Project, request: PgRequest, tx: mpsc::Sender<Msg>) {
    tokio::spawn(async move {
        match request {
            PgRequest::Plan(op) => {
                let result = plan(&ws, &project, &op)
                    .await
                    .map_err(|e| super::super::error_text(&e));
                let _ = tx.send(Msg::Pg(PgMsg::Planned(result))).await;
            }
            PgRequest::Run(op) => {
                let progress = tx.clone();
                let report = move |line: String| send(&progress, PgMsg::Step(line));
                let result = run(&ws, &project, &op, &report).await.map_err(|e| {
                    format!("{} failed: {}", op.describe(), super::super::error_text(&e))
                });
                let _ = tx.send(Msg::Pg(PgMsg::Done(result))).await;
                let (ws2, p2) = (ws.clone(), project.clone());
                if let Ok(m) =
                    tokio::task::spawn_blocking(move || super::super::tasks::reread(&ws2, &p2))
                        .await
                {
                    let _ = tx.send(m).await;
                }
            }
        }
    });
}
