//! What the console asks of its event loop ([`Request`]) and what
//! background tasks report back ([`Msg`]), and how a report changes the
//! state.

use std::path::PathBuf;

use ratatui_textarea::TextArea;

use crate::deploy::StatusRow;
use crate::engine::Operation;

use super::app::{App, Pane};
use super::host_prompt::HostPrompt;
use super::passphrase::PassphrasePrompt;
use super::project_view::ProjectView;
use super::wizard::{Step, WizardKind};

/// A project read in the background: where it is, its panes' rows, its
/// VMs (or why they could not be read).
pub type LoadedProject = (
    crate::engine::Project,
    ProjectView,
    std::result::Result<Vec<crate::config::Vm>, String>,
);

/// Work a key asks for, run as a task so the frame never waits.
#[derive(Debug, Clone)]
pub enum Request {
    FollowLogs {
        vm: String,
        container: String,
        label: String,
    },
    Up,
    Plan(Operation),
    /// The operation and the diff the user reviewed.
    Apply(Operation, String),
    /// Remove from config.yml, then delete the container and volumes.
    RemoveAndPurge(String, String),
    SaveLogs(PathBuf),
    Mouse(bool),
    TrustHost(Box<HostPrompt>),
    SwitchProject(String),
    /// Back up an addon and prove it restores (a drill).
    Backup(String),
    /// Prove every attachment (of one app, or all) from inside its app.
    Doctor(Option<String>),
    /// A project read in the background: the loop switches its watchers
    /// and panes to it.
    UseProject(Box<LoadedProject>),
    /// A host key was recorded: the VMs' watchers start again (the VMs read
    /// off the loop, or why not).
    Rewatch(std::result::Result<Vec<crate::config::Vm>, String>),
    /// A shell in a container; the console steps aside meanwhile.
    /// A shell in the container, or the type's client (`db shell`) when
    /// the row is an addon whose type has one.
    Shell {
        vm: String,
        container: String,
        label: String,
        addon: Option<String>,
    },
    /// Backups list, restore, rotation, connect: run as tasks.
    Data(super::data::DataRequest),
    /// A Postgres operation's plan or run.
    Pg(super::pg::PgRequest),
    /// The Environments pane's reads and `env` verbs.
    Env(super::envs::EnvRequest),
    /// The type's client; the console steps aside meanwhile.
    Connect(super::data::ConnectTo),
    /// start, stop or restart a container on a VM.
    Container {
        vm: String,
        container: String,
        label: String,
        action: ContainerAction,
    },
}

pub use crate::deploy::container::ContainerAction;

/// A plan as the review step shows it.
#[derive(Debug, Clone)]
pub struct PlanView {
    pub diff: String,
    pub files: Vec<String>,
    pub notes: Vec<String>,
}

/// Messages from background tasks.
#[derive(Debug)]
pub enum Msg {
    /// One VM's rows (each VM is watched on its own).
    VmStatus(String, Vec<StatusRow>),
    /// One VM's addons' backup health.
    BackupHealth(Vec<crate::backup::health::Health>),
    /// stderr, engine timestamp, text.
    Logs(Vec<(bool, String, String)>),
    /// The followed container's figures (its id: a late one from a
    /// dropped stream is ignored).
    /// A selected follower's replay lag: its id and how far behind.
    Lag(String, String),
    Metrics(String, crate::watch::metrics::Metrics),
    /// A selected addon's contract `metrics`: its id and `key=value` pairs.
    ContractMetrics(String, String),
    /// A VM's connection changed: its name and row.
    Vm(String, super::vms::VmRow),
    /// A line for the footer: an error, or how a background task ended.
    Note(String),
    /// `doctor` ended: a verdict per attachment, or why it could not run.
    Doctor(std::result::Result<Vec<crate::contract::doctor::AttachmentReport>, String>),
    /// The console's deploy ended, with the line that says how.
    DeployDone(String),
    Planned(std::result::Result<PlanView, String>),
    Applied(std::result::Result<String, String>),
    View(Box<ProjectView>),
    HostKey(Box<HostPrompt>),
    /// A project switched to, read off the event loop (or why not).
    ProjectLoaded(std::result::Result<Box<LoadedProject>, String>),
    /// known_hosts was written for this VM, and the VMs read again (or why
    /// not).
    HostTrusted(
        String,
        std::result::Result<std::result::Result<Vec<crate::config::Vm>, String>, String>,
    ),
    /// A data-safety dialog's task reported.
    Data(super::data::DataMsg),
    /// The Postgres dialog's task reported.
    Pg(super::pg::PgMsg),
    /// An Environments task reported.
    Env(super::envs::EnvMsg),
    /// An encrypted key needs its passphrase: the answer goes back on
    /// `reply` (None: the user declined).
    Passphrase {
        key: PathBuf,
        retry: bool,
        reply: std::sync::mpsc::Sender<Option<String>>,
    },
}

impl App {
    /// A background task's report.
    /// Applies a report; returns the work it leaves for the event loop
    /// (switching watchers after a project or a host key changed).
    pub fn apply(&mut self, msg: Msg) -> Option<Request> {
        match msg {
            Msg::VmStatus(vm, rows) => {
                self.vm_status.insert(vm, rows);
                self.flatten_status();
            }
            Msg::BackupHealth(list) => {
                for h in list {
                    self.backup_health.insert(h.service.clone(), h);
                }
            }
            Msg::Logs(batch) => {
                for (err, time, text) in batch {
                    self.logs.push(err, time, text);
                }
            }
            Msg::Note(e) => self.message = Some(e),
            Msg::Vm(vm, row) => {
                self.vms.insert(vm, row);
            }
            Msg::Metrics(container, m) => self.metrics_arrived(container, m),
            Msg::ContractMetrics(id, line) => self.contract_metrics_arrived(id, line),
            Msg::Lag(id, line) => {
                if let Some((selected, reading)) = self.lag.as_mut()
                    && *selected == id
                {
                    *reading = Some(line);
                }
            }
            Msg::Doctor(result) => self.doctor_done(result),
            Msg::DeployDone(e) => {
                self.deploying = None;
                self.message = Some(e);
            }
            Msg::Planned(result) => {
                let w = self.wizard.as_mut()?;
                if !matches!(w.step, Step::Planning) {
                    return None;
                }
                match result {
                    Ok(p) if p.files.is_empty() => {
                        w.step = Step::Done(
                            "nothing to change: config.yml and every file are up to date".into(),
                        )
                    }
                    Ok(mut p) => {
                        if w.purges() {
                            p.notes.push(format!(
                                "then {} container and volumes are DELETED for good",
                                w.value("addon")
                            ));
                        }
                        w.step = Step::Review {
                            diff: p.diff,
                            files: p.files,
                            notes: p.notes,
                            scroll: 0,
                        }
                    }
                    Err(e) if w.kind == WizardKind::Command => {
                        w.step = Step::Done(format!("refused: {e}"))
                    }
                    Err(e) => {
                        w.error = Some(e);
                        w.step = Step::Form;
                    }
                }
            }
            Msg::Applied(result) => {
                if let Some(w) = self.wizard.as_mut() {
                    match result {
                        Ok(s) => w.step = Step::Done(s),
                        // The task says what was and was not changed.
                        Err(e) => {
                            w.error = Some(e.clone());
                            w.step = if w.kind == WizardKind::Command {
                                Step::Done(format!("failed: {e}"))
                            } else {
                                Step::Form
                            };
                        }
                    }
                }
            }
            Msg::View(v) => {
                self.view = *v;
                // Keep each list's cursor on a row that still exists.
                for pane in [
                    Pane::Projects,
                    Pane::Addons,
                    Pane::Attachments,
                    Pane::Environments,
                ] {
                    let rows = match pane {
                        Pane::Projects => self.projects.len(),
                        Pane::Addons => self.view.addons.len(),
                        Pane::Attachments => self.view.attachments.len(),
                        _ => self.view.env_rows.len(),
                    };
                    let sel = &mut self.selected[pane.index()];
                    *sel = (*sel).min(rows.saturating_sub(1));
                }
            }
            Msg::HostKey(p) => self.host_prompt = Some(*p),
            Msg::Data(m) => return self.apply_data(m),
            Msg::Pg(m) => return self.apply_pg(m),
            Msg::Env(m) => return self.apply_env(m),
            Msg::ProjectLoaded(Ok(loaded)) => return Some(Request::UseProject(loaded)),
            Msg::ProjectLoaded(Err(e)) => self.message = Some(e),
            Msg::HostTrusted(_, Ok(vms)) => return Some(Request::Rewatch(vms)),
            Msg::HostTrusted(vm, Err(e)) => self.message = Some(format!("VM {vm}: {e}")),
            Msg::Passphrase { key, retry, reply } => {
                let mut input = TextArea::default();
                input.set_mask_char('•');
                // A dialog already open is answered "none"; this one asks.
                if let Some(old) = self.passphrase.take() {
                    let _ = old.reply.send(None);
                }
                self.passphrase = Some(PassphrasePrompt {
                    key,
                    retry,
                    input,
                    reply,
                });
            }
        }
        None
    }
}
