//! The console's Environments pane: each environment's live state (read
//! by a task, tasks.rs), its keys and `:env VERB [ENV]` palette commands,
//! and the dialogs they open — an environment's instances (Enter, and Enter
//! again for one's logs), what a stop or restart touches before y/N, its
//! effective configuration and dry-run, the init table, export's format
//! and the files it wrote, its logs. Every verb is one row of
//! [`ENV_ACTIONS`]; how it runs is decided by its kind, what it calls by
//! one arm in tasks.rs, so a new `env` operation plugs in as a line each.

pub mod draw;
pub mod tasks;

use std::collections::HashSet;
use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent};

use crate::env::live::{ConfigLine, EnvLive};
use crate::env::ops::EnvStatusRow;

use super::app::{App, Pane};
use super::keymap::{Action, Context};
use super::msg::Request;

/// How the console runs an environment verb.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvKind {
    /// In the background, each step on the footer (like `u`).
    Run,
    /// What it would change is read first, then y/N, then as `Run`.
    Confirm,
    /// The environment's instances, live (k9s's drill-down).
    Instances,
    /// A scrollable text of the engine's, secrets masked until `r`.
    Text,
    /// One of these words first (export's format), then it runs and shows
    /// what it wrote.
    Choose(&'static [&'static str]),
    /// The console's Logs pane on its containers.
    Logs,
}

/// One environment verb: the palette's word, its key on an environment
/// row, its usage line, and how it runs.
#[derive(Debug, Clone, Copy)]
pub struct EnvAction {
    pub verb: &'static str,
    pub key: Action,
    pub usage: &'static str,
    pub kind: EnvKind,
}

pub const ENV_ACTIONS: &[EnvAction] = &[
    EnvAction {
        verb: "start",
        key: Action::EnvStart,
        usage: "validate, addons up and healthy; steps on the footer",
        kind: EnvKind::Run,
    },
    EnvAction {
        verb: "stop",
        key: Action::EnvStop,
        usage: "what stops, then y/N; its volumes (the data) are kept",
        kind: EnvKind::Confirm,
    },
    EnvAction {
        verb: "status",
        key: Action::Open,
        usage: "each instance's state, health and ports",
        kind: EnvKind::Instances,
    },
    EnvAction {
        verb: "config",
        key: Action::EnvConfig,
        usage: "the effective configuration, secrets masked (r reveals)",
        kind: EnvKind::Text,
    },
    EnvAction {
        verb: "restart",
        key: Action::EnvRestart,
        usage: "what restarts, then y/N; steps on the footer",
        kind: EnvKind::Confirm,
    },
    EnvAction {
        verb: "init",
        key: Action::EnvInit,
        usage: "its init files run to completion; then each container's exit, time, last lines",
        kind: EnvKind::Run,
    },
    EnvAction {
        verb: "deploy",
        key: Action::EnvDeploy,
        usage: "its deployment file substituted, up -d, health waited; steps on the footer",
        kind: EnvKind::Run,
    },
    EnvAction {
        verb: "dry-run",
        key: Action::EnvDryRun,
        usage: "every variable its files use, masked (r reveals), and file:line:col where it lands",
        kind: EnvKind::Text,
    },
    EnvAction {
        verb: "export",
        key: Action::EnvExport,
        usage: "compose, pod or env files into ./export-ENV (as the CLI), then the paths",
        kind: EnvKind::Choose(EXPORT_FORMATS),
    },
    EnvAction {
        verb: "logs",
        key: Action::EnvLogs,
        usage: "the Logs pane on its addons' and deployment's containers",
        kind: EnvKind::Logs,
    },
    EnvAction {
        verb: "migrate",
        key: Action::EnvMigrate,
        usage: "its migrate command once, in the deployment's image; then its exit, time, last lines",
        kind: EnvKind::Run,
    },
];

/// `env export`'s formats, as the CLI's `--format` spells them.
pub const EXPORT_FORMATS: &[&str] = &["compose", "pod", "env"];

pub fn env_action(verb: &str) -> Option<&'static EnvAction> {
    ENV_ACTIONS.iter().find(|a| a.verb == verb)
}

/// A dialog on one environment.
pub struct EnvDialog {
    pub env: String,
    pub stage: EnvStage,
}

pub enum EnvStage {
    /// Its instances (from the live state the pane shows).
    Instances { selected: usize },
    /// What `verb` would touch, read fresh (None while reading); y runs it.
    Confirm {
        verb: &'static str,
        preview: Option<Result<Vec<EnvStatusRow>, String>>,
    },
    /// A word to pick (export's format); Enter or its first letter runs.
    Choose {
        verb: &'static str,
        options: &'static [&'static str],
        selected: usize,
    },
    /// The engine's text (None while reading).
    Text {
        verb: &'static str,
        lines: Option<Result<Vec<ConfigLine>, String>>,
        selected: usize,
        revealed: HashSet<usize>,
    },
}

/// Work asked of tasks.rs.
#[derive(Debug, Clone)]
pub enum EnvRequest {
    /// Read every environment's live state now.
    Refresh,
    Preview {
        verb: &'static str,
        env: String,
    },
    Run {
        verb: &'static str,
        env: String,
    },
    Text {
        verb: &'static str,
        env: String,
    },
    /// `env export ENV --format F` into the CLI's default folder.
    Export {
        env: String,
        format: crate::env::ops::ExportFormat,
    },
    /// The Logs pane on its containers (one service's when named); run
    /// by the event loop, which owns the log stream.
    Logs {
        env: String,
        service: Option<String>,
    },
}

impl EnvRequest {
    /// For the crash report.
    pub fn describe(&self) -> String {
        match self {
            EnvRequest::Refresh => "read the environments' live state".into(),
            EnvRequest::Preview { verb, env } => format!("read what env {verb} {env} touches"),
            EnvRequest::Run { verb, env } => format!("env {verb} {env}"),
            EnvRequest::Text { verb, env } => format!("read env {verb} {env}"),
            EnvRequest::Export { env, format } => format!("env export {env} --format {format:?}"),
            EnvRequest::Logs { env, service } => match service {
                Some(s) => format!("follow the logs of env {env} {s}"),
                None => format!("follow the logs of env {env}"),
            },
        }
    }
}

/// Reports of the tasks.
#[derive(Debug)]
pub enum EnvMsg {
    Live(Result<Vec<EnvLive>, String>),
    Preview(String, Result<Vec<EnvStatusRow>, String>),
    Step(String, String),
    Done(String, Result<String, String>),
    Text(String, Result<Vec<ConfigLine>, String>),
    /// What a run leaves to read (init's table, export's paths, or the
    /// error with its table and hint): opened as a text dialog.
    Report(String, &'static str, Result<Vec<ConfigLine>, String>),
}

/// The label the Logs pane shows and names a saved file after.
pub fn logs_label(env: &str, service: Option<&str>) -> String {
    match service {
        Some(s) => format!("env-{env}-{s}"),
        None => format!("env-{env}"),
    }
}

/// A verb this console runs on an environment, for the pane and `u`-like
/// refusals.
#[derive(Debug, Clone)]
pub struct Busy {
    pub verb: &'static str,
    pub since: Instant,
    pub last_step: String,
}

impl App {
    /// The Environments pane's rows, through its filter.
    pub fn visible_envs(&self) -> Vec<&super::project_view::EnvRow> {
        self.view
            .env_rows
            .iter()
            .filter(|e| self.shows(&format!("{} {} {}", e.name, e.vms, e.addons.join(" "))))
            .collect()
    }

    fn selected_env(&self) -> Option<String> {
        (self.pane == Pane::Environments)
            .then(|| {
                self.visible_envs()
                    .get(self.selected_row())
                    .map(|e| e.name.clone())
            })
            .flatten()
    }

    /// An environment key on the pane; `None` leaves the key to the
    /// global map.
    pub(super) fn envs_action(&mut self, action: Action) -> Option<Option<Request>> {
        let spec = ENV_ACTIONS.iter().find(|a| a.key == action)?;
        let Some(env) = self.selected_env() else {
            self.message =
                Some("no environments in config.yml (declare them under `environments:`)".into());
            return Some(None);
        };
        Some(self.open_env_action(spec, env))
    }

    /// `:env VERB [ENV] [SERVICE|FORMAT]`: ENV defaults to the selected
    /// row's; a third word names logs' service or export's format.
    pub(super) fn open_env_command(
        &mut self,
        spec: &EnvAction,
        env: Option<String>,
        arg: Option<String>,
    ) -> Option<Request> {
        let env = match env.or_else(|| self.selected_env()) {
            Some(e) => e,
            None if self.view.env_rows.len() == 1 => self.view.env_rows[0].name.clone(),
            None => {
                self.message = Some(format!(
                    "env {} needs an environment: {}",
                    spec.verb,
                    self.view
                        .env_rows
                        .iter()
                        .map(|e| e.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                return None;
            }
        };
        match (spec.kind, arg) {
            (_, None) => self.open_env_action(spec, env),
            (EnvKind::Logs, Some(service)) => {
                if !self.view.env_rows.iter().any(|e| e.name == env) {
                    return self.open_env_action(spec, env);
                }
                Some(self.env_logs(env, Some(service)))
            }
            (EnvKind::Choose(options), Some(word)) => {
                if !options.contains(&word.as_str()) {
                    self.message = Some(format!(
                        "env {}: unknown \"{word}\"; choose {}",
                        spec.verb,
                        options.join(", ")
                    ));
                    return None;
                }
                if !self.view.env_rows.iter().any(|e| e.name == env) {
                    return self.open_env_action(spec, env);
                }
                self.chosen(spec.verb, env, &word)
            }
            (_, Some(word)) => {
                self.message = Some(format!(
                    "env {}: unexpected \"{word}\"; usage: env {} [ENV]",
                    spec.verb, spec.verb
                ));
                None
            }
        }
    }

    /// The Logs pane on an environment's containers (Esc comes back here).
    fn env_logs(&mut self, env: String, service: Option<String>) -> Request {
        self.env_dialog = None;
        if self.pane != Pane::Logs {
            self.came_from = self.pane;
        }
        self.pane = Pane::Logs;
        Request::Env(EnvRequest::Logs { env, service })
    }

    /// A word picked in a Choose dialog (or named on the palette).
    fn chosen(&mut self, verb: &'static str, env: String, word: &str) -> Option<Request> {
        self.env_dialog = None;
        match verb {
            "export" => {
                use clap::ValueEnum;
                let format = crate::env::ops::ExportFormat::from_str(word, false).ok()?;
                self.message = Some(format!("env export {env} --format {word}: writing ..."));
                Some(Request::Env(EnvRequest::Export { env, format }))
            }
            _ => None,
        }
    }

    /// `:env VERB ENV` or a key: what the verb's kind says.
    pub(super) fn open_env_action(&mut self, spec: &EnvAction, env: String) -> Option<Request> {
        if !self.view.env_rows.iter().any(|e| e.name == env) {
            self.message = Some(format!(
                "no environment {env}; environments: {}",
                self.view
                    .env_rows
                    .iter()
                    .map(|e| e.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            return None;
        }
        let verb = spec.verb;
        match spec.kind {
            EnvKind::Run => self.run_env(verb, env),
            EnvKind::Confirm => {
                if let Some(r) = self.refuse_busy(&env) {
                    self.message = Some(r);
                    return None;
                }
                self.env_dialog = Some(EnvDialog {
                    env: env.clone(),
                    stage: EnvStage::Confirm {
                        verb,
                        preview: None,
                    },
                });
                Some(Request::Env(EnvRequest::Preview { verb, env }))
            }
            EnvKind::Instances => {
                self.env_dialog = Some(EnvDialog {
                    env,
                    stage: EnvStage::Instances { selected: 0 },
                });
                Some(Request::Env(EnvRequest::Refresh))
            }
            EnvKind::Text => {
                self.env_dialog = Some(EnvDialog {
                    env: env.clone(),
                    stage: EnvStage::Text {
                        verb,
                        lines: None,
                        selected: 0,
                        revealed: HashSet::new(),
                    },
                });
                Some(Request::Env(EnvRequest::Text { verb, env }))
            }
            EnvKind::Choose(options) => {
                self.env_dialog = Some(EnvDialog {
                    env,
                    stage: EnvStage::Choose {
                        verb,
                        options,
                        selected: 0,
                    },
                });
                None
            }
            EnvKind::Logs => Some(self.env_logs(env, None)),
        }
    }

    /// One run per environment from this console at a time (the engine's
    /// per-environment deploy lock holds other processes off, and its
    /// wait shows on the footer).
    fn refuse_busy(&self, env: &str) -> Option<String> {
        self.env_busy.get(env).map(|b| {
            format!(
                "env {} {env} is already in progress (started {} s ago); its steps show here",
                b.verb,
                b.since.elapsed().as_secs()
            )
        })
    }

    fn run_env(&mut self, verb: &'static str, env: String) -> Option<Request> {
        if let Some(r) = self.refuse_busy(&env) {
            self.message = Some(r);
            return None;
        }
        self.env_busy.insert(
            env.clone(),
            Busy {
                verb,
                since: Instant::now(),
                last_step: String::new(),
            },
        );
        self.message = Some(format!("env {verb} {env}: starting ..."));
        Some(Request::Env(EnvRequest::Run { verb, env }))
    }

    /// The dialog's keys.
    pub(super) fn env_dialog_key(&mut self, k: KeyEvent) -> Option<Request> {
        let d = self.env_dialog.as_mut()?;
        let env = d.env.clone();
        let page = self.body.get().height.saturating_sub(4).max(1) as usize;
        match &mut d.stage {
            EnvStage::Instances { selected } => {
                let n = self
                    .env_live
                    .get(&env)
                    .and_then(|l| l.rows.as_ref().ok())
                    .map_or(0, Vec::len);
                if let Some(action) = self.keymap.action(&k, Some(Context::Environments))
                    && let Some(spec) = ENV_ACTIONS
                        .iter()
                        .find(|a| a.key == action && a.kind != EnvKind::Instances)
                {
                    self.env_dialog = None;
                    return self.open_env_action(spec, env);
                }
                match k.code {
                    KeyCode::Esc | KeyCode::Char('q') => self.env_dialog = None,
                    KeyCode::Enter => {
                        // The selected instance's logs.
                        let service = self
                            .env_live
                            .get(&env)
                            .and_then(|l| l.rows.as_ref().ok())
                            .and_then(|rows| rows.get(*selected))
                            .map(|r| r.service.clone());
                        return match service {
                            Some(s) => Some(self.env_logs(env, Some(s))),
                            None => {
                                self.message = Some("no instance on this row yet".into());
                                None
                            }
                        };
                    }
                    KeyCode::Down | KeyCode::Char('j') => {
                        *selected = (*selected + 1).min(n.saturating_sub(1))
                    }
                    KeyCode::Up | KeyCode::Char('k') => *selected = selected.saturating_sub(1),
                    _ => {}
                }
                None
            }
            EnvStage::Confirm { verb, preview } => match k.code {
                KeyCode::Char('y') | KeyCode::Char('Y')
                    if preview.as_ref().is_some_and(Result::is_ok) =>
                {
                    let verb = *verb;
                    self.env_dialog = None;
                    self.run_env(verb, env)
                }
                KeyCode::Esc | KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Enter => {
                    self.env_dialog = None;
                    self.message = Some(format!("env {env}: nothing was changed"));
                    None
                }
                _ => None,
            },
            EnvStage::Choose {
                verb,
                options,
                selected,
            } => {
                let verb = *verb;
                let last = options.len().saturating_sub(1);
                match k.code {
                    KeyCode::Esc | KeyCode::Char('q') => {
                        self.env_dialog = None;
                        self.message = Some(format!("env {verb} {env}: nothing was written"));
                    }
                    KeyCode::Down | KeyCode::Char('j') | KeyCode::Right | KeyCode::Tab => {
                        *selected = (*selected + 1).min(last)
                    }
                    KeyCode::Up | KeyCode::Char('k') | KeyCode::Left | KeyCode::BackTab => {
                        *selected = selected.saturating_sub(1)
                    }
                    KeyCode::Enter => {
                        let word = options[(*selected).min(last)];
                        return self.chosen(verb, env, word);
                    }
                    KeyCode::Char(c) => {
                        if let Some(word) = options.iter().find(|o| o.starts_with(c)) {
                            return self.chosen(verb, env, word);
                        }
                    }
                    _ => {}
                }
                None
            }
            EnvStage::Text {
                lines,
                selected,
                revealed,
                ..
            } => {
                let n = lines
                    .as_ref()
                    .and_then(|l| l.as_ref().ok())
                    .map_or(0, Vec::len);
                let last = n.saturating_sub(1);
                match k.code {
                    KeyCode::Esc | KeyCode::Char('q') => self.env_dialog = None,
                    KeyCode::Down | KeyCode::Char('j') => *selected = (*selected + 1).min(last),
                    KeyCode::Up | KeyCode::Char('k') => *selected = selected.saturating_sub(1),
                    KeyCode::PageDown => *selected = (*selected + page).min(last),
                    KeyCode::PageUp => *selected = selected.saturating_sub(page),
                    KeyCode::Char('g') | KeyCode::Home => *selected = 0,
                    KeyCode::Char('G') | KeyCode::End => *selected = last,
                    _ if self.keymap.action(&k, None) == Some(Action::Reveal) => {
                        let secret = lines
                            .as_ref()
                            .and_then(|l| l.as_ref().ok())
                            .and_then(|l| l.get(*selected))
                            .is_some_and(|l| l.secret.is_some());
                        if !secret {
                            self.message = Some("no secret on this line".into());
                        } else if !revealed.remove(selected) {
                            revealed.insert(*selected);
                        }
                    }
                    _ => {}
                }
                None
            }
        }
    }

    /// A task's report.
    pub(super) fn apply_env(&mut self, msg: EnvMsg) -> Option<Request> {
        match msg {
            EnvMsg::Live(Ok(list)) => {
                self.env_live = list.into_iter().map(|l| (l.env.clone(), l)).collect();
            }
            EnvMsg::Live(Err(e)) => self.message = Some(format!("environments: {e}")),
            EnvMsg::Preview(env, result) => {
                if let Some(EnvDialog {
                    env: open,
                    stage: EnvStage::Confirm { preview, .. },
                }) = &mut self.env_dialog
                    && *open == env
                {
                    *preview = Some(result);
                }
            }
            EnvMsg::Text(env, result) => {
                if let Some(EnvDialog {
                    env: open,
                    stage: EnvStage::Text { lines, .. },
                }) = &mut self.env_dialog
                    && *open == env
                {
                    *lines = Some(result);
                }
            }
            EnvMsg::Report(env, verb, result) => {
                // A run's report: shown whatever was open on the pane
                // (what the user asked for last), and kept until Esc.
                self.env_dialog = Some(EnvDialog {
                    env,
                    stage: EnvStage::Text {
                        verb,
                        lines: Some(result),
                        selected: 0,
                        revealed: HashSet::new(),
                    },
                });
            }
            EnvMsg::Step(env, line) => {
                if let Some(b) = self.env_busy.get_mut(&env) {
                    b.last_step = line
                        .strip_prefix(&format!("env {env}: "))
                        .unwrap_or(&line)
                        .to_string();
                }
                self.message = Some(line);
            }
            EnvMsg::Done(env, result) => {
                self.env_busy.remove(&env);
                self.message = Some(match result {
                    Ok(s) => s,
                    Err(e) => e.lines().next().unwrap_or_default().to_string(),
                });
                return Some(Request::Env(EnvRequest::Refresh));
            }
        }
        None
    }
}
