//! The console's state: plain data, tested without a terminal. Keys
//! (keys.rs and each dialog's file) return the work they ask of the event
//! loop ([`Request`]); background tasks report back ([`Msg`], msg.rs).

use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::PathBuf;

use ratatui::layout::Rect;

use crate::deploy::StatusRow;

use super::env_view::EnvView;
use super::host_prompt::HostPrompt;
use super::keymap::{Action, Keymap};
use super::logs::{DEFAULT_LOG_LINES, Logs};
use super::msg::Request;
use super::passphrase::PassphrasePrompt;
use super::project_view::{AddonRow, ProjectView};
use super::prompt::Prompt;
use super::theme::Theme;
use super::wizard::{Wizard, WizardKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Projects,
    Addons,
    Attachments,
    Environments,
    Containers,
    Logs,
}

pub const PANES: [Pane; 6] = [
    Pane::Projects,
    Pane::Addons,
    Pane::Attachments,
    Pane::Environments,
    Pane::Containers,
    Pane::Logs,
];

impl Pane {
    pub fn title(self) -> &'static str {
        match self {
            Pane::Projects => "Projects",
            Pane::Addons => "Addons",
            Pane::Attachments => "Attachments",
            Pane::Environments => "Environments",
            Pane::Containers => "Containers",
            Pane::Logs => "Logs",
        }
    }
    pub fn index(self) -> usize {
        PANES.iter().position(|p| *p == self).unwrap_or(0)
    }
}

pub const LOG_LINES: usize = DEFAULT_LOG_LINES;

pub struct App {
    pub theme: Theme,
    pub keymap: Keymap,
    pub config_dir: Option<PathBuf>,
    pub projects: Vec<String>,
    pub project: usize,
    pub view: ProjectView,
    pub status: Vec<StatusRow>,
    pub(super) vm_status: BTreeMap<String, Vec<StatusRow>>,
    /// Each scheduled or backed-up addon's last backup and verdict, by its
    /// service (read once a minute per VM).
    pub backup_health: BTreeMap<String, crate::backup::health::Health>,
    pub logs: Logs,
    pub pane: Pane,
    /// Where Esc goes back to from the logs.
    pub(super) came_from: Pane,
    pub selected: [usize; 6],
    pub help: bool,
    /// Per pane, k9s-style: a case-insensitive substring, `!` inverts.
    pub filter: [String; 6],
    pub prompt: Option<Prompt>,
    pub wizard: Option<Wizard>,
    pub env: Option<EnvView>,
    pub host_prompt: Option<HostPrompt>,
    pub passphrase: Option<PassphrasePrompt>,
    /// Backups list, restore or rotation on an addon.
    pub data: Option<super::data::DataDialog>,
    /// A Postgres operation: its plan, then its run.
    pub pg: Option<super::pg::PgDialog>,
    /// Each environment's live state, as the last read found it.
    pub env_live: BTreeMap<String, crate::env::live::EnvLive>,
    /// `env` verbs this console runs, per environment.
    pub env_busy: BTreeMap<String, super::envs::Busy>,
    /// An environment's instances, a stop's y/N, its configuration.
    pub env_dialog: Option<super::envs::EnvDialog>,
    /// Backup ids read so far per addon, for the palette's completion.
    pub known_backups: BTreeMap<String, Vec<String>>,
    pub mouse: bool,
    /// `doctor`'s last verdicts, by (app, prefix), and whether one runs.
    pub doctor: super::doctor::DoctorState,
    pub message: Option<String>,
    /// Each VM's connection as the watchers see it (vms.rs), by name.
    pub vms: BTreeMap<String, super::vms::VmRow>,
    /// The VMs overlay is open.
    pub vms_open: bool,
    /// The selected row's container figures (metrics.rs), while followed.
    pub metrics: Option<super::metrics::Selected>,
    /// The selected follower's replay lag, as its leader reports it
    /// (metrics.rs), while it is selected: its id and the last reading.
    pub lag: Option<(String, Option<String>)>,
    /// The selected script-backed addon's contract `metrics`
    /// (contract_metrics.rs), while selected: its id and the last reading.
    pub contract_metrics: Option<(String, Option<String>)>,
    /// The deploy this console started and has not heard the end of (one
    /// at a time: `u` during it says so instead of starting another).
    pub deploying: Option<std::time::Instant>,
    pub quit: bool,
    /// Geometry of the last frame, for the mouse.
    pub body: Cell<Rect>,
    pub table_offset: Cell<usize>,
    pub log_height: Cell<usize>,
}

impl App {
    pub fn new(theme: Theme, projects: Vec<String>, view: ProjectView) -> App {
        App {
            theme,
            keymap: Keymap::default(),
            config_dir: None,
            projects,
            project: 0,
            view,
            status: Vec::new(),
            vm_status: BTreeMap::new(),
            backup_health: BTreeMap::new(),
            logs: Logs::new(DEFAULT_LOG_LINES),
            pane: Pane::Addons,
            came_from: Pane::Addons,
            selected: [0; 6],
            help: false,
            filter: Default::default(),
            prompt: None,
            wizard: None,
            env: None,
            host_prompt: None,
            passphrase: None,
            data: None,
            pg: None,
            lag: None,
            contract_metrics: None,
            known_backups: BTreeMap::new(),
            env_live: BTreeMap::new(),
            env_busy: BTreeMap::new(),
            env_dialog: None,
            mouse: false,
            doctor: Default::default(),
            message: None,
            vms: BTreeMap::new(),
            vms_open: false,
            metrics: None,
            deploying: None,
            quit: false,
            body: Cell::new(Rect::default()),
            table_offset: Cell::new(0),
            log_height: Cell::new(20),
        }
    }

    /// `u` / `:up`: starts a deploy unless this console's last one is still
    /// running (another process's deploy is waited for by the task, which
    /// says whose it is on the footer).
    pub(super) fn start_deploy(&mut self) -> Option<Request> {
        if let Some(since) = self.deploying {
            self.message = Some(format!(
                "up is already in progress (started {} s ago); its steps show here",
                since.elapsed().as_secs()
            ));
            return None;
        }
        self.deploying = Some(std::time::Instant::now());
        self.message = Some("up: syncing, starting addons, waiting for health ...".into());
        Some(Request::Up)
    }

    /// Whether a row's text passes the current pane's filter.
    pub fn shows(&self, text: &str) -> bool {
        let f = &self.filter[self.pane.index()];
        let (invert, pattern) = match f.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, f.as_str()),
        };
        pattern.is_empty() || text.to_lowercase().contains(&pattern.to_lowercase()) != invert
    }

    pub fn visible_addons(&self) -> Vec<&AddonRow> {
        self.view
            .addons
            .iter()
            .filter(|a| {
                self.shows(&format!(
                    "{} {} {} {} {}",
                    a.id, a.type_name, a.plan, a.vm, a.attached
                ))
            })
            .collect()
    }

    pub fn visible_attachments(&self) -> Vec<&[String; 4]> {
        self.view
            .attachments
            .iter()
            .filter(|r| self.shows(&r.join(" ")))
            .collect()
    }

    /// The Containers pane's rows: a system type's row (no container) is
    /// shown on the Addons pane only.
    pub fn visible_status(&self) -> Vec<&StatusRow> {
        self.status
            .iter()
            .filter(|s| s.state.state != "system")
            .filter(|s| {
                self.shows(&format!(
                    "{} {} {} {}",
                    s.vm, s.state.service, s.state.state, s.state.image
                ))
            })
            .collect()
    }

    pub fn visible_projects(&self) -> Vec<&String> {
        self.projects.iter().filter(|p| self.shows(p)).collect()
    }

    pub(super) fn rows(&self) -> usize {
        match self.pane {
            Pane::Projects => self.visible_projects().len(),
            Pane::Addons => self.visible_addons().len(),
            Pane::Attachments => self.visible_attachments().len(),
            Pane::Environments => self.visible_envs().len(),
            Pane::Containers => self.visible_status().len(),
            Pane::Logs => self.logs.lines.len(),
        }
    }

    pub(super) fn selected_row(&self) -> usize {
        self.selected[self.pane.index()]
    }

    /// The container of the selected row (Addons or Containers pane):
    /// its VM, id and a label.
    pub fn selected_container(&self) -> Option<(String, String, String)> {
        let i = self.selected_row();
        let service = match self.pane {
            Pane::Addons => self.visible_addons().get(i).map(|a| a.service.clone())?,
            Pane::Containers => self
                .visible_status()
                .get(i)
                .map(|s| s.state.service.clone())?,
            _ => return None,
        };
        self.container_of(&service)
    }

    pub(super) fn container_of(&self, service: &str) -> Option<(String, String, String)> {
        self.status
            .iter()
            .find(|s| s.state.service == service)
            .map(|s| {
                (
                    s.vm.clone(),
                    s.state.container_id.clone(),
                    service.to_string(),
                )
            })
    }

    pub(super) fn selected_addon(&self) -> Option<String> {
        (self.pane == Pane::Addons)
            .then(|| {
                self.visible_addons()
                    .get(self.selected_row())
                    .map(|a| a.id.clone())
            })
            .flatten()
    }

    pub(super) fn selected_attachment(&self) -> Option<usize> {
        if self.pane != Pane::Attachments {
            return None;
        }
        let row = *self.visible_attachments().get(self.selected_row())?;
        self.view.attachments.iter().position(|r| r == row)
    }

    pub(super) fn follow(&mut self, target: Option<(String, String, String)>) -> Option<Request> {
        match target {
            Some((vm, container, label)) => {
                if self.pane != Pane::Logs {
                    self.came_from = self.pane;
                }
                self.pane = Pane::Logs;
                Some(Request::FollowLogs {
                    vm,
                    container,
                    label,
                })
            }
            None => {
                self.message = Some(format!(
                    "no container for this row yet; deploy with {}",
                    self.keymap.first(Action::Deploy)
                ));
                None
            }
        }
    }

    pub(super) fn open_wizard(&mut self, kind: WizardKind) {
        let w = Wizard::new(
            kind,
            &self.view,
            self.selected_addon().as_deref(),
            self.selected_attachment(),
        );
        self.wizard = Some(w);
    }

    /// Another project: none of the old rows apply.
    pub fn clear_status(&mut self) {
        self.vm_status.clear();
        self.status.clear();
    }

    pub(super) fn flatten_status(&mut self) {
        self.status = self.vm_status.values().flatten().cloned().collect();
    }

    pub fn push_log(&mut self, err: bool, line: String) {
        self.logs.push(err, String::new(), line);
    }
}
