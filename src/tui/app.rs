//! The console's state and what keys and mouse do to it. Plain data: keys
//! return the work they ask of the event loop ([`Request`]); background
//! tasks report back with [`Msg`]. Tested without a terminal.

use std::cell::Cell;
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::Rect;
use ratatui_textarea::TextArea;

use crate::deploy::StatusRow;
use crate::engine::generate::EnvVar;
use crate::engine::{Operation, Project, Workspace};
use crate::error::Result;

use super::keymap::{Action, Keymap};
use super::logs::{DEFAULT_LOG_LINES, Logs};
use super::palette;
use super::theme::Theme;
use super::wizard::{Step, Wizard, WizardKind};

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

/// One addon instance as the Addons pane shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct AddonRow {
    pub id: String,
    pub type_name: String,
    pub version: String,
    pub plan: String,
    pub vm: String,
    pub port: String,
    pub service: String,
    pub attached: String,
}

/// A catalog type as the wizards and the palette offer it.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeInfo {
    pub name: String,
    pub category: String,
    pub plans: Vec<String>,
    /// plan → `1 GB · 1 cpu · 10 GB disk`.
    pub plan_summaries: Vec<(String, String)>,
    pub default_plan: String,
    pub versions: Vec<String>,
    pub default_version: String,
    pub readonly: bool,
    /// name, description, the pattern values must match.
    pub options: Vec<(String, String, String)>,
}

/// What the console shows of a project, read through the engine.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProjectView {
    pub addons: Vec<AddonRow>,
    /// app, addon, as, access.
    pub attachments: Vec<[String; 4]>,
    pub environments: Vec<String>,
    pub apps: Vec<String>,
    pub vms: Vec<String>,
    pub types: Vec<TypeInfo>,
    /// Each app's environment, as its env file holds it.
    pub env: BTreeMap<String, Vec<EnvVar>>,
}

impl ProjectView {
    pub fn read(ws: &Workspace, project: &Project) -> Result<ProjectView> {
        let l = ws.load(project)?;
        let addons = l
            .config
            .addons
            .iter()
            .map(|a| {
                let creds = &l.generated.secrets[&a.type_name][&a.name];
                let attached: Vec<String> = l
                    .config
                    .attachments_of(&a.id())
                    .map(|(app, att)| format!("{}::{}", app.name, att.prefix))
                    .collect();
                AddonRow {
                    id: a.id(),
                    type_name: a.type_name.clone(),
                    version: a.version.clone(),
                    plan: a.plan.clone(),
                    vm: a.vm.clone(),
                    port: creds.get("PORT").cloned().unwrap_or_default(),
                    service: a.service(),
                    attached: if attached.is_empty() {
                        "-".into()
                    } else {
                        attached.join(", ")
                    },
                }
            })
            .collect();
        let attachments = l
            .config
            .apps
            .values()
            .flat_map(|app| {
                app.attachments.iter().map(move |att| {
                    [
                        app.name.clone(),
                        att.addon.clone(),
                        att.prefix.clone(),
                        att.access.as_str().to_string(),
                    ]
                })
            })
            .collect();
        let types = ws
            .catalog
            .types()
            .map(|t| TypeInfo {
                name: t.name.clone(),
                category: t.category.clone(),
                plans: t.plans.keys().cloned().collect(),
                plan_summaries: t
                    .plans
                    .iter()
                    .map(|(n, p)| {
                        (
                            n.clone(),
                            format!("{} memory · {} cpu · {} disk", p.memory, p.cpu, p.disk),
                        )
                    })
                    .collect(),
                default_plan: t.default_plan.clone(),
                versions: t.versions.clone(),
                default_version: t.default_version.clone(),
                readonly: t.readonly.is_some(),
                options: t
                    .options
                    .iter()
                    .map(|(n, o)| (n.clone(), o.description.clone(), o.pattern.clone()))
                    .collect(),
            })
            .collect();
        Ok(ProjectView {
            addons,
            attachments,
            environments: l.config.environments.clone(),
            apps: l.config.apps.keys().cloned().collect(),
            vms: l.config.vms.keys().cloned().collect(),
            types,
            env: l
                .generated
                .app_env
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        })
    }
}

/// An SSH host key nobody has vouched for yet: the user decides.
#[derive(Debug, Clone)]
pub struct HostPrompt {
    pub vm: String,
    pub label: String,
    pub host: String,
    pub port: u16,
    pub fingerprint: String,
    pub algorithm: String,
    pub key: russh::keys::PublicKey,
    pub known_hosts: PathBuf,
}

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
    /// A shell in a container; the console steps aside meanwhile.
    Shell {
        vm: String,
        container: String,
        label: String,
    },
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
    /// stderr, engine timestamp, text.
    Logs(Vec<(bool, String, String)>),
    /// A line for the footer: an error, or how a background task ended.
    Note(String),
    /// The console's deploy ended, with the line that says how.
    DeployDone(String),
    Planned(std::result::Result<PlanView, String>),
    Applied(std::result::Result<String, String>),
    View(Box<ProjectView>),
    HostKey(Box<HostPrompt>),
    /// An encrypted key needs its passphrase: the answer goes back on
    /// `reply` (None: the user declined).
    Passphrase {
        key: PathBuf,
        retry: bool,
        reply: std::sync::mpsc::Sender<Option<String>>,
    },
}

/// The passphrase dialog: typed masked, sent back once.
pub struct PassphrasePrompt {
    pub key: PathBuf,
    pub retry: bool,
    pub input: TextArea<'static>,
    reply: std::sync::mpsc::Sender<Option<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    Filter,
    Search,
    LogFilter,
    Palette,
    SavePath,
}

/// A one-line input at the bottom (filter, search, palette, file name).
pub struct Prompt {
    pub kind: PromptKind,
    pub input: TextArea<'static>,
    pub error: Option<String>,
}

impl Prompt {
    fn new(kind: PromptKind, value: &str) -> Prompt {
        let mut input = TextArea::new(vec![value.to_string()]);
        input.move_cursor(ratatui_textarea::CursorMove::End);
        Prompt {
            kind,
            input,
            error: None,
        }
    }
    pub fn text(&self) -> String {
        self.input.lines().first().cloned().unwrap_or_default()
    }
    pub fn sigil(&self) -> &'static str {
        match self.kind {
            PromptKind::Filter => "/",
            PromptKind::Search => "search /",
            PromptKind::LogFilter => "keep &",
            PromptKind::Palette => ":",
            PromptKind::SavePath => "save to ",
        }
    }
}

/// An app's environment, secrets masked until revealed one by one.
pub struct EnvView {
    pub app: String,
    pub selected: usize,
    pub revealed: HashSet<usize>,
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
    vm_status: BTreeMap<String, Vec<StatusRow>>,
    pub logs: Logs,
    pub pane: Pane,
    /// Where Esc goes back to from the logs.
    came_from: Pane,
    pub selected: [usize; 6],
    pub help: bool,
    /// Per pane, k9s-style: a case-insensitive substring, `!` inverts.
    pub filter: [String; 6],
    pub prompt: Option<Prompt>,
    pub wizard: Option<Wizard>,
    pub env: Option<EnvView>,
    pub host_prompt: Option<HostPrompt>,
    pub passphrase: Option<PassphrasePrompt>,
    pub mouse: bool,
    pub message: Option<String>,
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
            mouse: false,
            message: None,
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
    fn start_deploy(&mut self) -> Option<Request> {
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

    pub fn visible_status(&self) -> Vec<&StatusRow> {
        self.status
            .iter()
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

    fn rows(&self) -> usize {
        match self.pane {
            Pane::Projects => self.visible_projects().len(),
            Pane::Addons => self.visible_addons().len(),
            Pane::Attachments => self.visible_attachments().len(),
            Pane::Environments => self.view.environments.len(),
            Pane::Containers => self.visible_status().len(),
            Pane::Logs => self.logs.lines.len(),
        }
    }

    fn selected_row(&self) -> usize {
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

    fn container_of(&self, service: &str) -> Option<(String, String, String)> {
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

    fn selected_addon(&self) -> Option<String> {
        (self.pane == Pane::Addons)
            .then(|| {
                self.visible_addons()
                    .get(self.selected_row())
                    .map(|a| a.id.clone())
            })
            .flatten()
    }

    fn selected_attachment(&self) -> Option<usize> {
        if self.pane != Pane::Attachments {
            return None;
        }
        let row = *self.visible_attachments().get(self.selected_row())?;
        self.view.attachments.iter().position(|r| r == row)
    }

    fn follow(&mut self, target: Option<(String, String, String)>) -> Option<Request> {
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

    fn open_wizard(&mut self, kind: WizardKind) {
        let w = Wizard::new(
            kind,
            &self.view,
            self.selected_addon().as_deref(),
            self.selected_attachment(),
        );
        self.wizard = Some(w);
    }

    /// Applies a key; returns the work it asks of the event loop.
    pub fn key(&mut self, k: KeyEvent) -> Option<Request> {
        if self.help {
            self.help = false;
            return None;
        }
        // A note lasts until the next key.
        self.message = None;
        if let Some(p) = self.passphrase.as_mut() {
            match k.code {
                KeyCode::Enter => {
                    let text = p.input.lines().first().cloned().unwrap_or_default();
                    let _ = p.reply.send(Some(text));
                    self.passphrase = None;
                }
                KeyCode::Esc => {
                    let _ = p.reply.send(None);
                    self.message = Some(format!("{}: no passphrase given", p.key.display()));
                    self.passphrase = None;
                }
                _ => {
                    p.input.input(k);
                }
            }
            return None;
        }
        if let Some(p) = &self.host_prompt {
            return match k.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => {
                    let p = self.host_prompt.take()?;
                    self.message = Some(format!(
                        "VM {}: trusting {} and connecting ...",
                        p.vm, p.fingerprint
                    ));
                    Some(Request::TrustHost(Box::new(p)))
                }
                KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => {
                    self.message = Some(format!(
                        "VM {}: host key not trusted; its containers are not shown",
                        p.vm
                    ));
                    self.host_prompt = None;
                    None
                }
                _ => None,
            };
        }
        if self.wizard.is_some() {
            return self.wizard_key(k);
        }
        if self.prompt.is_some() {
            return self.prompt_key(k);
        }
        if self.env.is_some() {
            self.env_key(k);
            return None;
        }
        if let KeyCode::Char(c @ '1'..='6') = k.code
            && k.modifiers.is_empty()
        {
            self.pane = PANES[c as usize - '1' as usize];
            return None;
        }
        let in_logs = self.pane == Pane::Logs;
        let action = self.keymap.action(&k, in_logs)?;
        if in_logs && let Some(r) = self.logs_action(action) {
            return r;
        }
        let n = self.rows();
        let page = self.body.get().height.saturating_sub(3).max(1) as usize;
        let sel = &mut self.selected[self.pane.index()];
        match action {
            Action::Quit => self.quit = true,
            Action::Help => self.help = true,
            Action::Filter => {
                let current = self.filter[self.pane.index()].clone();
                self.prompt = Some(Prompt::new(PromptKind::Filter, &current));
            }
            Action::Palette => self.prompt = Some(Prompt::new(PromptKind::Palette, "")),
            Action::Deploy => return self.start_deploy(),
            Action::NextPane => self.pane = PANES[(self.pane.index() + 1) % PANES.len()],
            Action::PrevPane => {
                self.pane = PANES[(self.pane.index() + PANES.len() - 1) % PANES.len()]
            }
            Action::Down => *sel = (*sel + 1).min(n.saturating_sub(1)),
            Action::Up => *sel = sel.saturating_sub(1),
            Action::PageDown => *sel = (*sel + page).min(n.saturating_sub(1)),
            Action::PageUp => *sel = sel.saturating_sub(page),
            Action::Top => *sel = 0,
            Action::Bottom => *sel = n.saturating_sub(1),
            Action::Back => {
                let f = &mut self.filter[self.pane.index()];
                if !f.is_empty() {
                    f.clear();
                } else if self.pane == Pane::Logs {
                    self.pane = self.came_from;
                } else {
                    self.pane = Pane::Addons;
                }
            }
            Action::Open => match self.pane {
                Pane::Projects => {
                    let name = self
                        .visible_projects()
                        .get(self.selected_row())
                        .map(|s| s.to_string())?;
                    return Some(Request::SwitchProject(name));
                }
                Pane::Addons | Pane::Containers => {
                    let target = self.selected_container();
                    return self.follow(target);
                }
                Pane::Attachments => {
                    let app = self
                        .visible_attachments()
                        .get(self.selected_row())
                        .map(|r| r[0].clone())?;
                    self.env = Some(EnvView {
                        app,
                        selected: 0,
                        revealed: HashSet::new(),
                    });
                }
                _ => {}
            },
            Action::AddAddon => self.open_wizard(WizardKind::Add),
            Action::Attach => self.open_wizard(WizardKind::Attach),
            Action::Detach => self.open_wizard(WizardKind::Detach),
            Action::Upgrade => self.open_wizard(WizardKind::Upgrade),
            Action::Remove => self.open_wizard(WizardKind::Remove),
            Action::Mouse => {
                self.mouse = !self.mouse;
                self.message = Some(format!("mouse {}", if self.mouse { "on" } else { "off" }));
                return Some(Request::Mouse(self.mouse));
            }
            Action::Shell | Action::Restart | Action::StopStart => {
                let Some((vm, container, label)) = self.selected_container() else {
                    self.message =
                        Some("no container on this row (Addons or Containers pane)".into());
                    return None;
                };
                if action == Action::Shell {
                    return Some(Request::Shell {
                        vm,
                        container,
                        label,
                    });
                }
                let running = self
                    .status
                    .iter()
                    .any(|s| s.state.container_id == container && s.state.state == "running");
                let action = match (action, running) {
                    (Action::Restart, _) => ContainerAction::Restart,
                    (_, true) => ContainerAction::Stop,
                    (_, false) => ContainerAction::Start,
                };
                self.message = Some(format!("{} {label} ...", action.verb()));
                return Some(Request::Container {
                    vm,
                    container,
                    label,
                    action,
                });
            }
            Action::Reveal => {
                self.message = Some(
                    "Enter on an attachment shows its app's env; r reveals a secret there".into(),
                )
            }
            _ => {}
        }
        None
    }

    /// Keys of the Logs pane; `None` lets the global map have the key.
    fn logs_action(&mut self, action: Action) -> Option<Option<Request>> {
        let height = self.log_height.get().max(1);
        match action {
            Action::Down => self.logs.scroll_by(-1),
            Action::Up => self.logs.scroll_by(1),
            Action::PageDown => self.logs.scroll_by(-(height as isize)),
            Action::PageUp => self.logs.scroll_by(height as isize),
            Action::Top => self.logs.scroll_by(isize::MAX / 2),
            Action::Bottom => self.logs.follow(),
            Action::Pause => self.logs.toggle_pause(),
            Action::Timestamps => self.logs.timestamps = !self.logs.timestamps,
            Action::Wrap => self.logs.wrap = !self.logs.wrap,
            Action::Search => {
                let t = self.logs.search_text.clone();
                self.prompt = Some(Prompt::new(PromptKind::Search, &t));
            }
            Action::LogFilter => {
                let t = self.logs.filter_text.clone();
                self.prompt = Some(Prompt::new(PromptKind::LogFilter, &t));
            }
            Action::NextMatch | Action::PrevMatch => {
                if self.logs.search.is_none() {
                    self.message = Some(format!(
                        "no search yet: {} searches",
                        self.keymap.first(Action::Search)
                    ));
                } else if !self.logs.jump(action == Action::NextMatch, height) {
                    self.message = Some(format!(
                        "no {} match for /{}",
                        if action == Action::NextMatch {
                            "older"
                        } else {
                            "newer"
                        },
                        self.logs.search_text
                    ));
                }
            }
            Action::Save => {
                let name = self.logs.of.clone().unwrap_or_else(|| "logs".into());
                let default = format!(
                    "./{}-{}.log",
                    name,
                    chrono::Local::now().format("%Y%m%d-%H%M%S")
                );
                self.prompt = Some(Prompt::new(PromptKind::SavePath, &default));
            }
            _ => return None,
        }
        Some(None)
    }

    fn prompt_key(&mut self, k: KeyEvent) -> Option<Request> {
        let prompt = self.prompt.as_mut()?;
        let pane = self.pane.index();
        match k.code {
            KeyCode::Esc => {
                match prompt.kind {
                    PromptKind::Filter => self.filter[pane].clear(),
                    PromptKind::LogFilter => {
                        let _ = self.logs.set_filter("");
                    }
                    _ => {}
                }
                self.prompt = None;
                return None;
            }
            KeyCode::Tab if prompt.kind == PromptKind::Palette => {
                if let Some(done) = palette::complete(&prompt.text(), &self.view, &self.projects) {
                    *prompt = Prompt::new(PromptKind::Palette, &done);
                }
                return None;
            }
            KeyCode::Enter => {
                let text = prompt.text();
                let kind = prompt.kind;
                match kind {
                    PromptKind::Filter => {}
                    PromptKind::LogFilter => {
                        if let Err(e) = self.logs.set_filter(&text) {
                            prompt.error = Some(e);
                            return None;
                        }
                    }
                    PromptKind::Search => {
                        let height = self.log_height.get().max(1);
                        match self.logs.set_search(&text, height) {
                            Ok(n) => {
                                self.message =
                                    Some(format!("/{text}: {n} matches; n older, N newer"))
                            }
                            Err(e) => {
                                prompt.error = Some(e);
                                return None;
                            }
                        }
                    }
                    PromptKind::SavePath => {
                        self.prompt = None;
                        return Some(Request::SaveLogs(PathBuf::from(text)));
                    }
                    PromptKind::Palette => match palette::parse(&text) {
                        Ok(cmd) => {
                            self.prompt = None;
                            return self.palette_command(cmd);
                        }
                        Err(e) => {
                            prompt.error = Some(e);
                            return None;
                        }
                    },
                }
                self.prompt = None;
                return None;
            }
            _ => {
                prompt.input.input(k);
                prompt.error = None;
            }
        }
        // Filters follow the typing.
        let text = prompt.text();
        match prompt.kind {
            PromptKind::Filter => {
                self.filter[pane] = text;
                self.selected[pane] = 0;
            }
            PromptKind::LogFilter => {
                if let Err(e) = self.logs.set_filter(&text) {
                    prompt.error = Some(e);
                }
            }
            _ => {}
        }
        None
    }

    fn palette_command(&mut self, cmd: palette::Command) -> Option<Request> {
        use palette::Command as C;
        match cmd {
            C::Operation(op) => {
                self.wizard = Some(Wizard::command(op.clone(), &self.view));
                return Some(Request::Plan(op));
            }
            C::Remove(id) => {
                let mut w = Wizard::new(WizardKind::Remove, &self.view, Some(&id), None);
                if w.value("addon") != id {
                    self.message = Some(format!("no addon {id}"));
                    return None;
                }
                w.focus = 1;
                self.wizard = Some(w);
            }
            C::Up => return self.start_deploy(),
            C::Logs(name) => {
                let service = self
                    .view
                    .addons
                    .iter()
                    .find(|a| a.id == name)
                    .map(|a| a.service.clone())
                    .unwrap_or(name);
                let target = self.container_of(&service);
                return self.follow(target);
            }
            C::Theme(name) => {
                let dir = self.config_dir.as_ref().map(|d| d.join("themes"));
                match Theme::load(&name, dir.as_deref()) {
                    Ok(t) => {
                        self.theme = t;
                        self.message =
                            Some(format!("theme {name} (settings.yml `theme:` keeps it)"));
                    }
                    Err(e) => self.message = Some(format!("theme: {e}")),
                }
            }
            C::Mouse(on) => {
                self.mouse = on;
                return Some(Request::Mouse(on));
            }
            C::Project(name) => {
                if !self.projects.contains(&name) {
                    self.message = Some(format!(
                        "no project {name}; projects: {}",
                        self.projects.join(", ")
                    ));
                    return None;
                }
                return Some(Request::SwitchProject(name));
            }
            C::Help => self.help = true,
            C::Quit => self.quit = true,
        }
        None
    }

    fn wizard_key(&mut self, k: KeyEvent) -> Option<Request> {
        let w = self.wizard.as_mut()?;
        match &mut w.step {
            Step::Form => {
                if k.code == KeyCode::Esc {
                    self.wizard = None;
                    return None;
                }
                let op = w.form_key(k)?;
                w.step = Step::Planning;
                w.op = Some(op.clone());
                Some(Request::Plan(op))
            }
            Step::Planning | Step::Applying => {
                if k.code == KeyCode::Esc && matches!(w.step, Step::Planning) {
                    self.wizard = None;
                }
                None
            }
            Step::Review { scroll, diff, .. } => match k.code {
                KeyCode::Char('j') | KeyCode::Down => {
                    *scroll = scroll.saturating_add(1);
                    None
                }
                KeyCode::Char('k') | KeyCode::Up => {
                    *scroll = scroll.saturating_sub(1);
                    None
                }
                KeyCode::PageDown | KeyCode::Char(' ') => {
                    *scroll = scroll.saturating_add(10);
                    None
                }
                KeyCode::PageUp => {
                    *scroll = scroll.saturating_sub(10);
                    None
                }
                KeyCode::Enter | KeyCode::Char('y') => {
                    let reviewed = std::mem::take(diff);
                    let op = w.op.clone()?;
                    let purge = w.purges();
                    w.step = Step::Applying;
                    match op {
                        Operation::Remove { id } if purge => {
                            Some(Request::RemoveAndPurge(id, reviewed))
                        }
                        op => Some(Request::Apply(op, reviewed)),
                    }
                }
                KeyCode::Esc | KeyCode::Char('b') => {
                    if w.kind == WizardKind::Command {
                        self.wizard = None;
                    } else {
                        w.step = Step::Form;
                    }
                    None
                }
                _ => None,
            },
            Step::Done(_) => {
                self.wizard = None;
                None
            }
        }
    }

    fn env_key(&mut self, k: KeyEvent) {
        let Some(env) = self.env.as_mut() else {
            return;
        };
        let n = self.view.env.get(&env.app).map(|v| v.len()).unwrap_or(0);
        match self.keymap.action(&k, false) {
            Some(Action::Down) => env.selected = (env.selected + 1).min(n.saturating_sub(1)),
            Some(Action::Up) => env.selected = env.selected.saturating_sub(1),
            Some(Action::Reveal) if !env.revealed.remove(&env.selected) => {
                env.revealed.insert(env.selected);
            }
            Some(Action::Back) | Some(Action::Quit) | Some(Action::Open) => self.env = None,
            _ => {}
        }
    }

    /// Clicks select panes and rows; the wheel moves or scrolls.
    pub fn mouse_event(&mut self, m: MouseEvent) -> Option<Request> {
        if !self.mouse || self.wizard.is_some() || self.prompt.is_some() || self.help {
            return None;
        }
        let body = self.body.get();
        match m.kind {
            MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => {
                let down = m.kind == MouseEventKind::ScrollDown;
                if self.pane == Pane::Logs {
                    self.logs.scroll_by(if down { -3 } else { 3 });
                } else {
                    let n = self.rows();
                    let sel = &mut self.selected[self.pane.index()];
                    *sel = if down {
                        (*sel + 1).min(n.saturating_sub(1))
                    } else {
                        sel.saturating_sub(1)
                    };
                }
            }
            MouseEventKind::Down(MouseButton::Left) => {
                if m.row == body.y.saturating_sub(1) {
                    // The tab bar: " 1 Projects │ 2 Addons │ ..."
                    let mut x = 0u16;
                    for p in PANES {
                        let w =
                            format!("{} {}", p.index() + 1, p.title()).chars().count() as u16 + 2;
                        if m.column >= x && m.column < x + w {
                            self.pane = p;
                            return None;
                        }
                        x += w + 1;
                    }
                } else if self.pane != Pane::Logs && self.pane != Pane::Environments {
                    // Border, then the header row (the Projects list has none).
                    let first = body.y + if self.pane == Pane::Projects { 1 } else { 2 };
                    if m.row >= first && m.row < body.y + body.height.saturating_sub(1) {
                        let i = (m.row - first) as usize + self.table_offset.get();
                        if i < self.rows() {
                            self.selected[self.pane.index()] = i;
                        }
                    }
                }
            }
            _ => {}
        }
        None
    }

    /// A background task's report.
    pub fn apply(&mut self, msg: Msg) {
        match msg {
            Msg::VmStatus(vm, rows) => {
                self.vm_status.insert(vm, rows);
                self.flatten_status();
            }
            Msg::Logs(batch) => {
                for (err, time, text) in batch {
                    self.logs.push(err, time, text);
                }
            }
            Msg::Note(e) => self.message = Some(e),
            Msg::DeployDone(e) => {
                self.deploying = None;
                self.message = Some(e);
            }
            Msg::Planned(result) => {
                let Some(w) = self.wizard.as_mut() else {
                    return;
                };
                if !matches!(w.step, Step::Planning) {
                    return;
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
                        _ => self.view.environments.len(),
                    };
                    let sel = &mut self.selected[pane.index()];
                    *sel = (*sel).min(rows.saturating_sub(1));
                }
            }
            Msg::HostKey(p) => self.host_prompt = Some(*p),
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
    }

    /// Another project: none of the old rows apply.
    pub fn clear_status(&mut self) {
        self.vm_status.clear();
        self.status.clear();
    }

    fn flatten_status(&mut self) {
        self.status = self.vm_status.values().flatten().cloned().collect();
    }

    pub fn push_log(&mut self, err: bool, line: String) {
        self.logs.push(err, String::new(), line);
    }
}
