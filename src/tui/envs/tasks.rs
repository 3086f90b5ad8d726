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
use crate::env::live::{self, ConfigLine};
use crate::env::ops;
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
        EnvRequest::Preview { verb, env } => {
            tokio::spawn(async move {
                let rows = match verb {
                    // What `restart` touches: the deployment's containers.
                    "restart" => ops::restart_preview(&ws, &project, &env).await,
                    // What `stop` touches: the instances that have a container.
                    _ => ops::status(&ws, &project, Some(&env))
                        .await
                        .map(|rows| rows.into_iter().filter(|r| r.state != "absent").collect()),
                }
                .map_err(|e| error_text(&e));
                let _ = tx.send(Msg::Env(EnvMsg::Preview(env, rows))).await;
            });
        }
        EnvRequest::Text { verb, env } => {
            tokio::task::spawn_blocking(move || {
                let lines = match verb {
                    "config" => live::config_lines(&ws, &project, &env).map_err(|e| error_text(&e)),
                    "dry-run" => {
                        live::dry_run_lines(&ws, &project, &env).map_err(|e| error_text(&e))
                    }
                    other => Err(format!("env {other} has no text view")),
                };
                let _ = tx.blocking_send(Msg::Env(EnvMsg::Text(env, lines)));
            });
        }
        // The event loop follows the logs itself.
        EnvRequest::Logs { .. } => {}
        EnvRequest::Export { env, format } => {
            tokio::task::spawn_blocking(move || {
                // Where the CLI writes without -o: export-ENV in the
                // current folder (the console's), named in full.
                let out = std::env::current_dir()
                    .unwrap_or_default()
                    .join(format!("export-{env}"));
                let result = ops::export(&ws, &project, &env, format, &out)
                    .map(|files| exported_lines(&env, format, &files))
                    .map_err(|e| format!("env export {env} failed: {}", error_text(&e)));
                // A note, not Done: export holds no run of the environment
                // (a start of it may be going on).
                let note = match &result {
                    Ok(lines) => format!(
                        "env export {env}: {} file{} written into {}",
                        lines.len() - 1,
                        if lines.len() == 2 { "" } else { "s" },
                        out.display()
                    ),
                    Err(e) => e.lines().next().unwrap_or_default().to_string(),
                };
                let _ = tx.blocking_send(Msg::Env(EnvMsg::Report(env, "export", result)));
                let _ = tx.blocking_send(Msg::Note(note));
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
                    "init" => {
                        let got = ops::init(&ws, &project, &env, &report).await;
                        // The table to read, on success or failure alike.
                        let lines = match &got {
                            Ok(r) => Ok(init_lines(&env, r)),
                            Err(e) => Err(format!("env init {env} failed: {}", error_text(e))),
                        };
                        let _ = tx
                            .send(Msg::Env(EnvMsg::Report(env.clone(), "init", lines)))
                            .await;
                        got.map(|r| match r.rows.len() {
                            0 => format!("env {env}: init: none configured (skipped)"),
                            n => format!(
                                "env {env}: init: {n} container{} exited 0",
                                if n == 1 { "" } else { "s" }
                            ),
                        })
                    }
                    "migrate" => {
                        let got = crate::env::migrate::migrate(&ws, &project, &env, &report).await;
                        let lines = match &got {
                            Ok(r) => Ok(table_lines(
                                format!("env {env}: the migrate command exited 0 (the deployment was not touched)"),
                                r,
                            )),
                            Err(e) => Err(format!("env migrate {env} failed: {}", error_text(e))),
                        };
                        let _ = tx
                            .send(Msg::Env(EnvMsg::Report(env.clone(), "migrate", lines)))
                            .await;
                        got.map(|_| format!("env {env}: migrate: exited 0"))
                    }
                    "deploy" => ops::deploy(&ws, &project, &env, START_TIMEOUT, &report)
                        .await
                        .map(|r| {
                            if r.services.is_empty() {
                                format!("env {env}: deployment: {}", r.file)
                            } else {
                                format!(
                                    "env {env}: deployed {} as {}: {}",
                                    r.file,
                                    r.compose_project,
                                    r.services
                                        .iter()
                                        .map(|s| format!(
                                            "{} {}",
                                            s.service,
                                            s.health.as_deref().unwrap_or(&s.state)
                                        ))
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                )
                            }
                        }),
                    "restart" => ops::restart(&ws, &project, &env, None, &report)
                        .await
                        .map(|()| format!("env {env}: restarted every service of the deployment")),
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

/// Init's report as lines: the table `env init` prints.
pub fn init_lines(env: &str, r: &ops::InitReport) -> Vec<ConfigLine> {
    if r.rows.is_empty() {
        return vec![ConfigLine {
            text: format!("env {env}: init: none configured (skipped)"),
            secret: None,
        }];
    }
    table_lines(
        format!("env {env}: every init container exited 0 (the deployment was not touched)"),
        r,
    )
}

/// A heading, a blank line, then the init table's rows (init, migrate).
fn table_lines(heading: String, r: &ops::InitReport) -> Vec<ConfigLine> {
    let plain = |text: String| ConfigLine { text, secret: None };
    std::iter::once(plain(heading))
        .chain(std::iter::once(plain(String::new())))
        .chain(
            ops::render_init(&r.rows)
                .lines()
                .map(|l| plain(l.to_string())),
        )
        .collect()
}

/// Export's report as lines: what the CLI prints, one file a line.
pub fn exported_lines(
    env: &str,
    format: ops::ExportFormat,
    files: &[ops::Exported],
) -> Vec<ConfigLine> {
    let plain = |text: String| ConfigLine { text, secret: None };
    std::iter::once(plain(format!(
        "env export {env} --format {}: every value resolved; runs without sdtui",
        format!("{format:?}").to_lowercase()
    )))
    .chain(files.iter().map(|f| {
        plain(format!(
            "wrote {} ({:o}){}",
            f.path.display(),
            f.mode,
            if f.secrets {
                ": holds secrets in the clear, as asked; mode 0600"
            } else {
                ""
            }
        ))
    }))
    .collect()
}

/// The Logs pane on an environment's containers (`env logs ENV [SERVICE]`'s
/// sources): each followed by a task of its own, its lines after its
/// service's name when there are several; aborting this ends them all.
pub fn spawn_logs(
    ws: Arc<Workspace>,
    project: Project,
    env: String,
    service: Option<String>,
    cap: usize,
    tx: mpsc::Sender<Msg>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let sources = match ops::log_sources(&ws, &project, &env, service.as_deref()).await {
            Ok(s) => s,
            Err(e) => {
                let _ = tx
                    .send(Msg::Note(format!(
                        "env logs {env}: {}",
                        error_text(&e).replace('\n', "; ")
                    )))
                    .await;
                return;
            }
        };
        // The VM too when a service name runs on more than one.
        let names: Vec<String> = sources
            .iter()
            .map(|s| {
                if sources.iter().filter(|o| o.service == s.service).count() > 1 {
                    format!("{}@{}", s.service, s.vm)
                } else {
                    s.service.clone()
                }
            })
            .collect();
        let _ = tx
            .send(Msg::Note(format!("env logs {env}: {}", names.join(", "))))
            .await;
        let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
        let several = sources.len() > 1;
        let mut followers = tokio::task::JoinSet::new();
        for (s, name) in sources.into_iter().zip(names) {
            let prefix = several.then(|| format!("{name:<width$} | "));
            followers.spawn(crate::tui::follow_logs(
                s.docker,
                s.container_id,
                cap,
                tx.clone(),
                prefix,
            ));
        }
        while followers.join_next().await.is_some() {}
    })
}
