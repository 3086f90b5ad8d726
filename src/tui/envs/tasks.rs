//! The Environments pane's work, off the event loop: the live state of
//! every environment (read now, then again on a poke — after each step of
//! a start or stop — or every [`REFRESH`]), and the `env` verbs, calling
//! the same engine functions as `sdtui env ...`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

use super::{EnvMsg, EnvRequest};
use crate::engine::{Project, Workspace};
use crate::env::{live, ops};
use crate::tui::{Msg, error_text};

/// How often the pane's state is read when nothing pokes it: modest, as
/// a remote environment costs an SSH connection per read.
pub const REFRESH: Duration = Duration::from_secs(10);

/// How long a start waits for each addon's health (the CLI's default).
const START_TIMEOUT: Duration = Duration::from_secs(300);

/// The live-state reader of one project; aborted when the project changes.
pub fn spawn_live(
    ws: Arc<Workspace>,
    project: Project,
    tx: mpsc::Sender<Msg>,
    poke: Arc<Notify>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let state = live::live(&ws, &project)
                .await
                .map_err(|e| e.message.lines().next().unwrap_or_default().to_string());
            if tx.send(Msg::Env(EnvMsg::Live(state))).await.is_err() {
                return;
            }
            // Pokes that came while reading fold into this one wait.
            tokio::select! {
                _ = tokio::time::sleep(REFRESH) => {}
                _ = poke.notified() => {}
            }
        }
    })
}

/// Runs one request as a task.
pub fn spawn(
    ws: Arc<Workspace>,
    project: Project,
    request: EnvRequest,
    tx: mpsc::Sender<Msg>,
    poke: Arc<Notify>,
) {
    match request {
        EnvRequest::Refresh => poke.notify_one(),
        EnvRequest::Preview { env, .. } => {
            tokio::spawn(async move {
                // What `stop` touches: the instances that have a container.
                let rows = ops::status(&ws, &project, Some(&env))
                    .await
                    .map(|rows| rows.into_iter().filter(|r| r.state != "absent").collect())
                    .map_err(|e| error_text(&e));
                let _ = tx.send(Msg::Env(EnvMsg::Preview(env, rows))).await;
            });
        }
        EnvRequest::Text { verb, env } => {
            tokio::task::spawn_blocking(move || {
                let lines = match verb {
                    "config" => live::config_lines(&ws, &project, &env).map_err(|e| error_text(&e)),
                    other => Err(format!("env {other} has no text view")),
                };
                let _ = tx.blocking_send(Msg::Env(EnvMsg::Text(env, lines)));
            });
        }
        EnvRequest::Run { verb, env } => {
            tokio::spawn(async move {
                // Each step on the footer and the pane's row; try_send: a
                // slow screen skips a step rather than holding the run up.
                let progress = tx.clone();
                let (who, poked) = (env.clone(), poke.clone());
                let report = move |line: String| {
                    let _ = progress.try_send(Msg::Env(EnvMsg::Step(who.clone(), line)));
                    poked.notify_one();
                };
                let result = match verb {
                    "start" => ops::start(&ws, &project, &env, START_TIMEOUT, &report)
                        .await
                        .map(|r| {
                            format!(
                                "env {env}: started, {} addon{} up and healthy; init: {}; deployment: {}",
                                r.addons.len(),
                                if r.addons.len() == 1 { "" } else { "s" },
                                match r.init.rows.len() {
                                    0 => "none configured".to_string(),
                                    n => format!("{n} container{} exited 0", if n == 1 { "" } else { "s" }),
                                },
                                if r.deployment.services.is_empty() {
                                    r.deployment.file.clone()
                                } else {
                                    format!("{} up ({} service{})", r.deployment.file, r.deployment.services.len(), if r.deployment.services.len() == 1 { "" } else { "s" })
                                }
                            )
                        }),
                    "stop" => ops::stop(&ws, &project, &env, &report).await.map(|r| {
                        format!(
                            "env {env}: stopped ({} service{}); its volumes (the data) are kept",
                            r.len(),
                            if r.len() == 1 { "" } else { "s" }
                        )
                    }),
                    other => Err(crate::error::UserError::new(format!(
                        "env {other} cannot run from the console yet"
                    ))),
                }
                .map_err(|e| format!("env {verb} {env} failed: {}", error_text(&e)));
                let _ = tx.send(Msg::Env(EnvMsg::Done(env, result))).await;
                poke.notify_one();
            });
        }
    }
}
