//! The console's data-safety dialogs on an addon: its backups (listed from
//! the engine), a restore from one (the plan, then the instance's name
//! typed back), a credentials rotation (the plan, then a confirmation), and
//! connect (the type's client, the console stepping aside). The work runs
//! in tasks (tasks.rs); this file holds the dialog's state and keys, and
//! how reports change it.

pub mod draw;
pub mod tasks;

use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui_textarea::TextArea;

use crate::backup::Manifest;
use crate::backup::restore::RestorePlan;
use crate::connect::Destination;
use crate::credentials::plan::RotatePlan;

use super::app::App;
use super::msg::Request;

/// One dialog on one addon, step by step.
pub struct DataDialog {
    pub addon: String,
    pub stage: Stage,
}

pub enum Stage {
    /// The addon's backups, newest first once read; `into` carries a
    /// palette `restore ADDON into OTHER` to the restore it leads to.
    Backups {
        list: Option<Result<Vec<Manifest>, String>>,
        selected: usize,
        into: Option<String>,
        /// When the list was read: ages are counted from it.
        loaded_at: chrono::DateTime<chrono::Utc>,
    },
    /// The engine reads the backup's manifest and the attached apps.
    RestorePlanning {
        backup: String,
    },
    /// The plan, and the target's name typed back.
    RestoreReview {
        plan: Box<RestorePlan>,
        confirm: Box<TextArea<'static>>,
        tried: bool,
    },
    RotatePlanning {
        readonly: bool,
    },
    RotateReview {
        plan: RotatePlan,
        readonly: bool,
    },
    /// A restore or rotation running: its steps so far.
    Running {
        what: String,
        steps: Vec<String>,
    },
    /// How it ended: the engine's words (and hint) on failure.
    Done {
        what: String,
        steps: Vec<String>,
        result: Result<String, String>,
    },
}

/// Work the dialogs ask of a task.
#[derive(Debug, Clone)]
pub enum DataRequest {
    ListBackups(String),
    PlanRestore {
        addon: String,
        backup: String,
        into: Option<String>,
    },
    /// The reviewed plan and the name the user typed back.
    Restore(Box<RestorePlan>, String),
    PlanRotate {
        addon: String,
        readonly: bool,
    },
    Rotate {
        addon: String,
        readonly: bool,
    },
    /// Where connect goes, read off the event loop.
    ResolveConnect(String),
}

impl DataRequest {
    /// For the crash report: what, never a secret.
    pub fn describe(&self) -> String {
        match self {
            DataRequest::ListBackups(a) => format!("list the backups of {a}"),
            DataRequest::PlanRestore { addon, backup, .. } => {
                format!("plan restoring {backup} of {addon}")
            }
            DataRequest::Restore(p, _) => {
                format!("restore {} into {}", p.backup.id, p.confirm_name())
            }
            DataRequest::PlanRotate { addon, .. } => format!("plan rotating {addon}"),
            DataRequest::Rotate { addon, .. } => format!("rotate the credentials of {addon}"),
            DataRequest::ResolveConnect(a) => format!("find where {a} listens"),
        }
    }
}

/// Where connect goes; holds credentials, so Debug names the addon only.
#[derive(Clone)]
pub struct ConnectTo(pub Arc<Destination>);

impl std::fmt::Debug for ConnectTo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ConnectTo({})", self.0.addon.id())
    }
}

/// Reports of the dialogs' tasks.
#[derive(Debug)]
pub enum DataMsg {
    Backups(String, Result<Vec<Manifest>, String>),
    RestorePlanned(Result<Box<RestorePlan>, String>),
    RotatePlanned(Result<RotatePlan, String>),
    /// A step of the running restore or rotation (also on the footer).
    Step(String),
    Done(Result<String, String>),
    ConnectReady(Result<ConnectTo, String>),
}

impl App {
    /// `B` / `:backups ADDON`: the list opens at once and fills when read.
    pub(super) fn open_backups(&mut self, addon: String, into: Option<String>) -> Option<Request> {
        self.data = Some(DataDialog {
            addon: addon.clone(),
            stage: Stage::Backups {
                list: None,
                selected: 0,
                into,
                loaded_at: chrono::Utc::now(),
            },
        });
        Some(Request::Data(DataRequest::ListBackups(addon)))
    }

    /// `:restore ADDON BACKUP [into OTHER]`: straight to the plan.
    pub(super) fn open_restore(
        &mut self,
        addon: String,
        backup: String,
        into: Option<String>,
    ) -> Option<Request> {
        self.data = Some(DataDialog {
            addon: addon.clone(),
            stage: Stage::RestorePlanning {
                backup: backup.clone(),
            },
        });
        Some(Request::Data(DataRequest::PlanRestore {
            addon,
            backup,
            into,
        }))
    }

    /// `C` / `:rotate ADDON [readonly]`.
    pub(super) fn open_rotate(&mut self, addon: String, readonly: bool) -> Option<Request> {
        self.data = Some(DataDialog {
            addon: addon.clone(),
            stage: Stage::RotatePlanning { readonly },
        });
        Some(Request::Data(DataRequest::PlanRotate { addon, readonly }))
    }

    /// `c` / `:connect ADDON`.
    pub(super) fn open_connect(&mut self, addon: String) -> Option<Request> {
        self.message = Some(format!("connect {addon}: opening its client ..."));
        Some(Request::Data(DataRequest::ResolveConnect(addon)))
    }

    /// The dialog's keys; Esc before a run changes nothing.
    pub(super) fn data_key(&mut self, k: KeyEvent) -> Option<Request> {
        let d = self.data.as_mut()?;
        let addon = d.addon.clone();
        match &mut d.stage {
            Stage::Backups {
                list,
                selected,
                into,
                ..
            } => {
                let n = list
                    .as_ref()
                    .and_then(|l| l.as_ref().ok())
                    .map_or(0, Vec::len);
                match k.code {
                    KeyCode::Esc | KeyCode::Char('q') => self.data = None,
                    KeyCode::Down | KeyCode::Char('j') => {
                        *selected = (*selected + 1).min(n.saturating_sub(1))
                    }
                    KeyCode::Up | KeyCode::Char('k') => *selected = selected.saturating_sub(1),
                    KeyCode::Char('g') | KeyCode::Home => *selected = 0,
                    KeyCode::Char('G') | KeyCode::End => *selected = n.saturating_sub(1),
                    KeyCode::Enter | KeyCode::Char('r') => {
                        let backup = list
                            .as_ref()
                            .and_then(|l| l.as_ref().ok())
                            .and_then(|l| l.get(*selected))
                            .map(|m| m.id.clone())?;
                        let into = into.take();
                        return self.open_restore(addon, backup, into);
                    }
                    _ => {}
                }
                None
            }
            Stage::RestoreReview {
                plan,
                confirm,
                tried,
            } => match k.code {
                KeyCode::Esc => {
                    self.data = None;
                    None
                }
                KeyCode::Enter => {
                    let typed = confirm.lines().first().cloned().unwrap_or_default();
                    if typed != plan.confirm_name() {
                        *tried = true;
                        return None;
                    }
                    let plan = plan.clone();
                    d.stage = Stage::Running {
                        what: format!("restore {} into {}", plan.backup.id, plan.confirm_name()),
                        steps: vec![],
                    };
                    Some(Request::Data(DataRequest::Restore(plan, typed)))
                }
                _ => {
                    confirm.input(k);
                    *tried = false;
                    None
                }
            },
            Stage::RotateReview { readonly, .. } => match k.code {
                KeyCode::Enter | KeyCode::Char('y') => {
                    let readonly = *readonly;
                    d.stage = Stage::Running {
                        what: format!(
                            "rotate {}{addon}",
                            if readonly {
                                "the readonly login of "
                            } else {
                                ""
                            }
                        ),
                        steps: vec![],
                    };
                    Some(Request::Data(DataRequest::Rotate { addon, readonly }))
                }
                KeyCode::Esc | KeyCode::Char('n') => {
                    self.data = None;
                    None
                }
                _ => None,
            },
            // Waiting for the engine: Esc drops the dialog; a plan that
            // arrives later finds none and changes nothing.
            Stage::RestorePlanning { .. } | Stage::RotatePlanning { .. } => {
                if k.code == KeyCode::Esc {
                    self.data = None;
                }
                None
            }
            // The run goes on without the dialog; its steps and end stay
            // on the footer.
            Stage::Running { what, .. } => {
                if k.code == KeyCode::Esc {
                    self.message = Some(format!("{what}: still running; its steps show here"));
                    self.data = None;
                }
                None
            }
            Stage::Done { .. } => {
                self.data = None;
                None
            }
        }
    }

    /// A dialog task's report; returns work for the loop (connect).
    pub(super) fn apply_data(&mut self, msg: DataMsg) -> Option<Request> {
        match msg {
            DataMsg::Backups(addon, result) => {
                if let Ok(list) = &result {
                    self.known_backups
                        .insert(addon.clone(), list.iter().map(|m| m.id.clone()).collect());
                }
                if let Some(DataDialog {
                    addon: open,
                    stage:
                        Stage::Backups {
                            list, loaded_at, ..
                        },
                }) = &mut self.data
                    && *open == addon
                {
                    // Newest first: the one a restore most often wants.
                    *list = Some(result.map(|mut l| {
                        l.reverse();
                        l
                    }));
                    *loaded_at = chrono::Utc::now();
                }
            }
            DataMsg::RestorePlanned(result) => {
                let d = self.data.as_mut()?;
                if !matches!(d.stage, Stage::RestorePlanning { .. }) {
                    return None;
                }
                d.stage = match result {
                    Ok(plan) => {
                        let mut confirm = TextArea::default();
                        confirm.set_placeholder_text(format!(
                            "type {} to restore",
                            plan.confirm_name()
                        ));
                        Stage::RestoreReview {
                            plan,
                            confirm: Box::new(confirm),
                            tried: false,
                        }
                    }
                    Err(e) => Stage::Done {
                        what: format!("restore into {}", d.addon),
                        steps: vec![],
                        result: Err(format!("nothing was changed: {e}")),
                    },
                };
            }
            DataMsg::RotatePlanned(result) => {
                let d = self.data.as_mut()?;
                let Stage::RotatePlanning { readonly } = d.stage else {
                    return None;
                };
                d.stage = match result {
                    Ok(plan) => Stage::RotateReview { plan, readonly },
                    Err(e) => Stage::Done {
                        what: format!("rotate {}", d.addon),
                        steps: vec![],
                        result: Err(format!("nothing was changed: {e}")),
                    },
                };
            }
            DataMsg::Step(line) => {
                if let Some(DataDialog {
                    stage: Stage::Running { steps, .. },
                    ..
                }) = &mut self.data
                {
                    steps.push(line.clone());
                }
                self.message = Some(line);
            }
            DataMsg::Done(result) => {
                let line = match &result {
                    Ok(s) => s.clone(),
                    Err(e) => e.lines().next().unwrap_or_default().to_string(),
                };
                self.message = Some(line);
                if let Some(d) = self.data.as_mut()
                    && let Stage::Running { what, steps } = &mut d.stage
                {
                    d.stage = Stage::Done {
                        what: std::mem::take(what),
                        steps: std::mem::take(steps),
                        result,
                    };
                }
            }
            DataMsg::ConnectReady(Ok(to)) => return Some(Request::Connect(to)),
            DataMsg::ConnectReady(Err(e)) => self.message = Some(format!("connect: {e}")),
        }
        None
    }
}
