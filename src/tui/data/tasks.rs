//! The dialogs' work, off the event loop: the same engine calls as `sdtui
//! db backups`, `db restore`, `addons credentials rotate` and `connect`,
//! each step sent to the footer as it happens.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::{ConnectTo, DataMsg, DataRequest};
use crate::engine::{Project, Workspace};
use crate::tui::Msg;

/// How long a rotation waits for each restarted service (the CLI's
/// default).
const ROTATE_TIMEOUT: Duration = Duration::from_secs(300);

fn send(tx: &mpsc::Sender<Msg>, m: DataMsg) {
    // try_send from sync code; a closed console has no one to tell.
    let _ = tx.try_send(Msg::Data(m));
}

/// Runs one dialog request as a task.
pub fn spawn(ws: Arc<Workspace>, project: Project, request: DataRequest, tx: mpsc::Sender<Msg>) {
    match request {
        DataRequest::ListBackups(addon) => {
            tokio::spawn(async move {
                let result = crate::backup::list(&ws, &project, Some(&addon))
                    .await
                    .map_err(|e| super::super::error_text(&e));
                let _ = tx.send(Msg::Data(DataMsg::Backups(addon, result))).await;
            });
        }
        DataRequest::PlanRestore {
            addon,
            backup,
            into,
        } => {
            tokio::spawn(async move {
                let result =
                    crate::backup::restore::plan(&ws, &project, &addon, &backup, into.as_deref())
                        .await
                        .map(Box::new)
                        .map_err(|e| super::super::error_text(&e));
                let _ = tx.send(Msg::Data(DataMsg::RestorePlanned(result))).await;
            });
        }
        DataRequest::Restore(plan, confirm) => {
            tokio::spawn(async move {
                let progress = tx.clone();
                let who = plan.target.clone();
                let report = move |line: String| {
                    send(&progress, DataMsg::Step(format!("restore {who}: {line}")));
                };
                let result =
                    crate::backup::restore::apply(&ws, &project, &plan, &confirm, &report).await;
                let done = match result {
                    Ok(()) => Ok(format!(
                        "restore {}: {} restored (checksum verified){}",
                        plan.target,
                        plan.backup.id,
                        if plan.apps.is_empty() {
                            String::new()
                        } else {
                            format!(
                                "; {} started again",
                                plan.apps
                                    .iter()
                                    .map(|(a, _)| a.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        }
                    )),
                    Err(e) => Err(format!(
                        "restore {} failed: {}",
                        plan.target,
                        super::super::error_text(&e)
                    )),
                };
                let _ = tx.send(Msg::Data(DataMsg::Done(done))).await;
            });
        }
        DataRequest::PlanRotate { addon, readonly } => {
            tokio::task::spawn_blocking(move || {
                let result = crate::credentials::plan::plan(&ws, &project, &addon, readonly)
                    .map_err(|e| super::super::error_text(&e));
                let _ = tx.blocking_send(Msg::Data(DataMsg::RotatePlanned(result)));
            });
        }
        DataRequest::Rotate { addon, readonly } => {
            tokio::spawn(async move {
                let progress = tx.clone();
                let who = addon.clone();
                let report = move |line: String| {
                    send(&progress, DataMsg::Step(format!("rotate {who}: {line}")));
                };
                let result = crate::credentials::rotate::rotate(
                    &ws,
                    &project,
                    &addon,
                    readonly,
                    ROTATE_TIMEOUT,
                    &report,
                )
                .await;
                let rotated = result.is_ok();
                let done = match result {
                    Ok(r) => {
                        let mut s = format!(
                            "rotate {}: new {} for {}; the old one is refused, the new one works",
                            r.addon, r.credential, r.user
                        );
                        if !r.restarted.is_empty() {
                            s.push_str(&format!("; restarted {}", r.restarted.join(", ")));
                        }
                        if !r.on_next_start.is_empty() {
                            s.push_str(&format!(
                                "; {} get it when they next start",
                                r.on_next_start.join(", ")
                            ));
                        }
                        Ok(s)
                    }
                    Err(e) => Err(format!(
                        "rotate {addon} failed: {}",
                        super::super::error_text(&e)
                    )),
                };
                let _ = tx.send(Msg::Data(DataMsg::Done(done))).await;
                if rotated {
                    // The env pane shows the new files.
                    let (ws, project, tx) = (ws.clone(), project.clone(), tx.clone());
                    tokio::task::spawn_blocking(move || {
                        let _ = tx.blocking_send(super::super::reread(&ws, &project));
                    });
                }
            });
        }
        DataRequest::ResolveConnect(addon) => {
            tokio::task::spawn_blocking(move || {
                let result = crate::connect::destination(&ws, &project, &addon, false)
                    .and_then(|d| {
                        // Refused here, before the console steps aside.
                        if d.t.connect.is_none() {
                            return Err(crate::error::UserError::new(format!(
                                "{addon} ({}) has no client to open: its type declares no connect:",
                                d.t.name
                            ))
                            .hint(format!(
                                "keep a forward open instead: sdtui -p {} connect {addon} --port 0",
                                project.name
                            )));
                        }
                        Ok(ConnectTo(Arc::new(d)))
                    })
                    .map_err(|e| super::super::error_text(&e));
                let _ = tx.blocking_send(Msg::Data(DataMsg::ConnectReady(result)));
            });
        }
    }
}

/// The type's client in the terminal the console stepped out of: the same
/// path as `sdtui connect`; its exit code.
pub async fn connect(
    ws: &Workspace,
    project: &Project,
    to: &ConnectTo,
) -> crate::error::Result<i32> {
    let report: crate::connect::forward::Report = Arc::new(|line: String| eprintln!("{line}"));
    crate::connect::client::connect(ws, project, &to.0, &[], report).await
}
