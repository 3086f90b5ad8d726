//! The console: a tokio event loop over crossterm's EventStream, with
//! Docker work in tasks that report back over a channel, so nothing blocks
//! a frame. The state (`App`) and drawing (`draw`) are plain data and a pure
//! function, tested with ratatui's TestBackend.

pub mod theme;

use std::collections::VecDeque;
use std::time::Duration;

use crossterm::event::{Event, EventStream, KeyCode, KeyEvent, KeyModifiers};
use futures_util::StreamExt;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Borders, Cell, Clear, Paragraph, Row, Table, TableState, Tabs, Wrap,
};
use tokio::sync::mpsc;

use crate::deploy::StatusRow;
use crate::engine::{Project, Workspace};
use crate::error::Result;
use theme::Theme;

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
    fn title(self) -> &'static str {
        match self {
            Pane::Projects => "Projects",
            Pane::Addons => "Addons",
            Pane::Attachments => "Attachments",
            Pane::Environments => "Environments",
            Pane::Containers => "Containers",
            Pane::Logs => "Logs",
        }
    }
    fn index(self) -> usize {
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

/// What the console shows of a project, read through the engine.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProjectView {
    pub addons: Vec<AddonRow>,
    /// app, addon, as, access.
    pub attachments: Vec<[String; 4]>,
    pub environments: Vec<String>,
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
        Ok(ProjectView {
            addons,
            attachments,
            environments: l.config.environments.clone(),
        })
    }
}

/// Work a key asks for, run as a task so the frame never waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    FollowLogs(String),
    Up,
}

/// Messages from background tasks.
#[derive(Debug)]
pub enum Msg {
    Status(Vec<StatusRow>),
    Log(bool, String),
    /// A line for the footer: an error, or how a background task ended.
    Note(String),
}

pub const LOG_LINES: usize = 5000;

pub struct App {
    pub theme: Theme,
    pub projects: Vec<String>,
    pub project: usize,
    pub view: ProjectView,
    pub status: Vec<StatusRow>,
    /// A ring buffer: memory stays bounded however fast a container logs.
    pub logs: VecDeque<(bool, String)>,
    pub logs_of: Option<String>,
    pub pane: Pane,
    pub selected: [usize; 6],
    pub help: bool,
    /// Per pane, k9s-style: a case-insensitive substring, `!` inverts.
    pub filter: [String; 6],
    /// `/` was pressed: keys go to the filter until Enter or Esc.
    pub typing: bool,
    pub message: Option<String>,
    pub quit: bool,
}

impl App {
    pub fn new(theme: Theme, projects: Vec<String>, view: ProjectView) -> App {
        App {
            theme,
            projects,
            project: 0,
            view,
            status: Vec::new(),
            logs: VecDeque::new(),
            logs_of: None,
            pane: Pane::Addons,
            selected: [0; 6],
            help: false,
            filter: Default::default(),
            typing: false,
            message: None,
            quit: false,
        }
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

    fn rows(&self) -> usize {
        match self.pane {
            Pane::Projects => self.projects.len(),
            Pane::Addons => self.visible_addons().len(),
            Pane::Attachments => self.visible_attachments().len(),
            Pane::Environments => self.view.environments.len(),
            Pane::Containers => self.visible_status().len(),
            Pane::Logs => self.logs.len(),
        }
    }

    /// The container of the selected row (Addons or Containers pane).
    pub fn selected_container(&self) -> Option<String> {
        let i = self.selected[self.pane.index()];
        let service = match self.pane {
            Pane::Addons => self.visible_addons().get(i).map(|a| a.service.clone())?,
            Pane::Containers => self
                .visible_status()
                .get(i)
                .map(|s| s.state.service.clone())?,
            _ => return None,
        };
        self.status
            .iter()
            .find(|s| s.state.service == service)
            .map(|s| s.state.container_id.clone())
    }

    /// Applies a key; returns the work it asks of the event loop.
    pub fn key(&mut self, k: KeyEvent) -> Option<Request> {
        if self.help {
            self.help = false;
            return None;
        }
        if self.typing {
            let pane = self.pane.index();
            match k.code {
                KeyCode::Char(c) => self.filter[pane].push(c),
                KeyCode::Backspace => {
                    self.filter[pane].pop();
                }
                KeyCode::Esc => {
                    self.filter[pane].clear();
                    self.typing = false;
                }
                KeyCode::Enter => self.typing = false,
                _ => {}
            }
            self.selected[pane] = 0;
            return None;
        }
        let n = self.rows();
        let sel = &mut self.selected[self.pane.index()];
        match k.code {
            KeyCode::Char('q') => self.quit = true,
            KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => self.quit = true,
            KeyCode::Char('?') => self.help = true,
            KeyCode::Char('/') => self.typing = true,
            KeyCode::Char('u') => {
                self.message = Some("up: syncing, starting addons, waiting for health ...".into());
                return Some(Request::Up);
            }
            KeyCode::Tab => self.pane = PANES[(self.pane.index() + 1) % PANES.len()],
            KeyCode::BackTab => {
                self.pane = PANES[(self.pane.index() + PANES.len() - 1) % PANES.len()]
            }
            KeyCode::Char(c @ '1'..='6') => self.pane = PANES[c as usize - '1' as usize],
            KeyCode::Char('j') | KeyCode::Down => *sel = (*sel + 1).min(n.saturating_sub(1)),
            KeyCode::Char('k') | KeyCode::Up => *sel = sel.saturating_sub(1),
            KeyCode::Char('g') | KeyCode::Home => *sel = 0,
            KeyCode::Char('G') | KeyCode::End => *sel = n.saturating_sub(1),
            KeyCode::Esc => self.pane = Pane::Addons,
            KeyCode::Enter => {
                if let Some(c) = self.selected_container() {
                    self.pane = Pane::Logs;
                    return Some(Request::FollowLogs(c));
                }
                self.message =
                    Some("no running container for this row; deploy with `sdtui up`".into());
            }
            _ => {}
        }
        None
    }

    /// A background task's report.
    pub fn apply(&mut self, msg: Msg) {
        match msg {
            Msg::Status(rows) => {
                self.status = rows;
                self.message = None;
            }
            Msg::Log(err, line) => self.push_log(err, line),
            Msg::Note(e) => self.message = Some(e),
        }
    }

    pub fn push_log(&mut self, err: bool, line: String) {
        if self.logs.len() == LOG_LINES {
            self.logs.pop_front();
        }
        self.logs.push_back((err, line));
    }
}

const KEYS: &[(&str, &str)] = &[
    ("Tab / Shift-Tab, 1-6", "switch pane"),
    ("j k / ↓ ↑, g G", "move within a pane"),
    ("Enter", "follow the selected addon's or container's logs"),
    (
        "/",
        "filter the list (text, or !text to invert); Esc clears",
    ),
    ("Esc", "back to Addons"),
    ("?", "this help"),
    ("q, Ctrl-C", "quit"),
];

pub fn draw(f: &mut Frame, app: &App) {
    let t = &app.theme;
    let [header, tabs, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(f.area());
    let project = app
        .projects
        .get(app.project)
        .cloned()
        .unwrap_or_else(|| "(no project)".into());
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(
                " sdtui ",
                Style::default()
                    .fg(t.selected_fg)
                    .bg(t.accent)
                    .add_modifier(Modifier::BOLD),
            ),
            Span::styled(
                format!(" project {project} "),
                Style::default().fg(t.title).add_modifier(Modifier::BOLD),
            ),
            Span::styled(
                format!(
                    " {} addons · {} containers",
                    app.view.addons.len(),
                    app.status.len()
                ),
                Style::default().fg(t.dim),
            ),
        ])),
        header,
    );
    let titles: Vec<Line> = PANES
        .iter()
        .enumerate()
        .map(|(i, p)| Line::from(format!("{} {}", i + 1, p.title())))
        .collect();
    f.render_widget(
        Tabs::new(titles)
            .select(app.pane.index())
            .style(Style::default().fg(t.dim))
            .highlight_style(Style::default().fg(t.accent).add_modifier(Modifier::BOLD)),
        tabs,
    );
    let pane_title = match (app.pane, &app.logs_of) {
        (Pane::Logs, Some(c)) => format!(" Logs · {c} "),
        (Pane::Logs, None) => " Logs (Enter on an addon or container) ".to_string(),
        (p, _) => format!(" {} ", p.title()),
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(Style::default().fg(t.border))
        .title(Span::styled(pane_title, Style::default().fg(t.title)));
    let selected = Style::default().bg(t.selected_bg).fg(t.selected_fg);
    let header_style = Style::default().fg(t.accent).add_modifier(Modifier::BOLD);
    let mut state = TableState::default().with_selected(Some(app.selected[app.pane.index()]));
    let health = |service: &str| -> (String, Style) {
        match app.status.iter().find(|s| s.state.service == service) {
            None => ("-".into(), Style::default().fg(t.dim)),
            Some(s) => {
                // Short enough for 80 columns: the health when there is one.
                let label = match (s.state.state.as_str(), &s.state.health, s.state.exit_code) {
                    ("running", Some(h), _) => h.clone(),
                    ("exited", _, Some(code)) => format!("exited ({code})"),
                    (state, _, _) => state.to_string(),
                };
                let color = match (s.state.state.as_str(), s.state.health.as_deref()) {
                    ("running", Some("healthy") | None) => t.ok,
                    ("running", Some("starting")) => t.warn,
                    _ => t.error,
                };
                (label, Style::default().fg(color))
            }
        }
    };
    // Every list pane is one table: its header, the pane's border and the
    // selection.
    let mut list =
        |f: &mut Frame, rows: Vec<Row<'static>>, widths: &[Constraint], head: &[&'static str]| {
            let mut table = Table::new(rows, widths.to_vec())
                .block(block.clone())
                .row_highlight_style(selected);
            if !head.is_empty() {
                table = table.header(Row::new(head.to_vec()).style(header_style));
            }
            f.render_stateful_widget(table, body, &mut state);
        };
    match app.pane {
        Pane::Projects => {
            let rows = app
                .projects
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    Row::new(vec![
                        Cell::from(if i == app.project { "●" } else { " " }),
                        Cell::from(p.clone()),
                    ])
                })
                .collect();
            list(f, rows, &[Constraint::Length(2), Constraint::Min(10)], &[]);
        }
        Pane::Addons => {
            let rows = app
                .visible_addons()
                .into_iter()
                .map(|a| {
                    let (h, style) = health(&a.service);
                    Row::new(vec![
                        Cell::from(a.id.clone()),
                        Cell::from(a.type_name.clone()),
                        Cell::from(a.version.clone()),
                        Cell::from(a.plan.clone()),
                        Cell::from(a.vm.clone()),
                        Cell::from(a.port.clone()),
                        Cell::from(Span::styled(h, style)),
                        Cell::from(a.attached.clone()),
                    ])
                })
                .collect();
            let widths = [
                Constraint::Min(19),
                Constraint::Length(8),
                Constraint::Length(7),
                Constraint::Length(8),
                Constraint::Length(5),
                Constraint::Length(5),
                Constraint::Length(16),
                Constraint::Min(8),
            ];
            list(
                f,
                rows,
                &widths,
                &[
                    "ADDON", "TYPE", "VERSION", "PLAN", "VM", "PORT", "STATE", "ATTACHED",
                ],
            );
        }
        Pane::Attachments => {
            let rows = app
                .visible_attachments()
                .into_iter()
                .map(|r| Row::new(r.iter().cloned().map(Cell::from).collect::<Vec<_>>()))
                .collect();
            let widths = [
                Constraint::Min(10),
                Constraint::Min(18),
                Constraint::Min(10),
                Constraint::Length(10),
            ];
            list(f, rows, &widths, &["APP", "ADDON", "AS", "ACCESS"]);
        }
        Pane::Environments => {
            let text = if app.view.environments.is_empty() {
                vec![Line::from(Span::styled(
                    "no environments in config.yml",
                    Style::default().fg(t.dim),
                ))]
            } else {
                app.view
                    .environments
                    .iter()
                    .map(|e| Line::from(e.clone()))
                    .collect()
            };
            f.render_widget(Paragraph::new(text).block(block.clone()), body);
        }
        Pane::Containers => {
            let rows = app
                .visible_status()
                .into_iter()
                .map(|s| {
                    let (h, style) = health(&s.state.service);
                    Row::new(vec![
                        Cell::from(s.vm.clone()),
                        Cell::from(s.state.service.clone()),
                        Cell::from(Span::styled(h, style)),
                        Cell::from(s.state.image.clone()),
                        Cell::from(s.state.ports.join(" ")),
                    ])
                })
                .collect();
            let widths = [
                Constraint::Length(8),
                Constraint::Min(14),
                Constraint::Length(18),
                Constraint::Min(12),
                Constraint::Min(10),
            ];
            list(
                f,
                rows,
                &widths,
                &["VM", "SERVICE", "STATE", "IMAGE", "PORTS"],
            );
        }
        Pane::Logs => {
            let height = body.height.saturating_sub(2) as usize;
            // The filter keeps matching lines (`!` the others); the newest
            // that fit are shown.
            let kept: Vec<&(bool, String)> =
                app.logs.iter().filter(|(_, l)| app.shows(l)).collect();
            let lines: Vec<Line> = kept
                .iter()
                .skip(kept.len().saturating_sub(height))
                .map(|(err, l)| {
                    Line::from(Span::styled(
                        l.clone(),
                        // stderr reads apart from stdout.
                        Style::default().fg(if *err { t.warn } else { t.text }),
                    ))
                })
                .collect();
            f.render_widget(
                Paragraph::new(lines)
                    .wrap(Wrap { trim: false })
                    .block(block),
                body,
            );
        }
    }
    let filter = &app.filter[app.pane.index()];
    let hint = if app.typing || !filter.is_empty() {
        format!(
            "/{filter}{}",
            if app.typing {
                "▏ (Enter keeps, Esc clears)"
            } else {
                ""
            }
        )
    } else {
        app.message.clone().unwrap_or_else(|| {
            "? help · Tab panes · j/k move · / filter · Enter logs · q quit".into()
        })
    };
    f.render_widget(
        Paragraph::new(Span::styled(hint, Style::default().fg(t.dim))),
        footer,
    );
    if app.help {
        let area = centered(f.area(), 60, (KEYS.len() + 4) as u16);
        f.render_widget(Clear, area);
        let lines: Vec<Line> = KEYS
            .iter()
            .map(|(k, what)| {
                Line::from(vec![
                    Span::styled(format!("{k:<22}"), Style::default().fg(t.accent)),
                    Span::raw(*what),
                ])
            })
            .collect();
        f.render_widget(
            Paragraph::new(lines).block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(" Keys ")
                    .border_style(Style::default().fg(t.accent)),
            ),
            area,
        );
    }
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// Settings from the platform config dir (`settings.yml`): theme, mouse.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub theme: Option<String>,
}

/// Opens the console on the project (or the only one, or a bundled example
/// targeting the local engine when there is none yet).
pub fn run(
    ws: Workspace,
    project: Option<String>,
    config_dir: Option<std::path::PathBuf>,
) -> Result<()> {
    let settings: Settings = match config_dir
        .as_ref()
        .map(|d| d.join("settings.yml"))
        .filter(|p| p.is_file())
    {
        Some(p) => crate::config::parse_yaml(&p, &std::fs::read_to_string(&p).unwrap_or_default())?,
        None => Settings::default(),
    };
    let theme = Theme::load(
        settings.theme.as_deref().unwrap_or("dark"),
        config_dir.as_ref().map(|d| d.join("themes")).as_deref(),
    )
    .map_err(|e| {
        crate::error::UserError::new(format!("theme: {e}"))
            .hint("set `theme:` in settings.yml to dark, light or high-contrast")
    })?;
    if ws.projects().is_empty() {
        create_example(&ws)?;
    }
    let projects = ws.projects();
    let p = ws.project(
        project
            .as_deref()
            .or_else(|| (projects.len() > 1).then(|| projects[0].as_str())),
    )?;
    let view = ProjectView::read(&ws, &p)?;
    let mut app = App::new(theme, projects.clone(), view);
    app.project = projects.iter().position(|n| *n == p.name).unwrap_or(0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| crate::error::UserError::new(format!("runtime: {e}")))?;
    rt.block_on(event_loop(ws, p, app))
}

fn create_example(ws: &Workspace) -> Result<()> {
    let p = ws.new_project("example")?;
    ws.run(&p, &crate::engine::Operation::Init, false)?;
    for (t, n) in [("postgres", "primary"), ("redis", "cache")] {
        ws.run(
            &p,
            &crate::engine::Operation::Add {
                type_name: t.into(),
                name: n.into(),
                category: None,
                plan: Some("small".into()),
                version: None,
                vm: None,
                options: vec![],
            },
            false,
        )?;
    }
    Ok(())
}

async fn event_loop(ws: Workspace, project: Project, mut app: App) -> Result<()> {
    let (tx, mut rx) = mpsc::channel::<Msg>(1024);
    let ws = std::sync::Arc::new(ws);
    spawn_status_watch(ws.clone(), project.clone(), tx.clone());
    let mut terminal = ratatui::init();
    let mut events = EventStream::new();
    let mut log_task: Option<tokio::task::JoinHandle<()>> = None;
    let mut dirty = true;
    let result = loop {
        if dirty {
            if let Err(e) = terminal.draw(|f| draw(f, &app)) {
                break Err(crate::error::UserError::new(format!("terminal: {e}")));
            }
            dirty = false;
        }
        tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(Event::Key(k))) if k.kind == crossterm::event::KeyEventKind::Press => {
                    match app.key(k) {
                        Some(Request::FollowLogs(container)) => {
                            // A new selection cancels the old stream.
                            if let Some(t) = log_task.take() { t.abort(); }
                            app.logs.clear();
                            app.logs_of = Some(container.chars().take(12).collect());
                            log_task = Some(spawn_logs(container, tx.clone()));
                        }
                        Some(Request::Up) => spawn_up(ws.clone(), project.clone(), tx.clone()),
                        None => {}
                    }
                    dirty = true;
                }
                Some(Ok(Event::Resize(..))) => dirty = true,
                Some(Err(e)) => break Err(crate::error::UserError::new(format!("terminal input: {e}"))),
                None => break Ok(()),
                _ => {}
            },
            Some(msg) = rx.recv() => {
                app.apply(msg);
                // Drain what else is queued before one redraw.
                while let Ok(m) = rx.try_recv() {
                    app.apply(m);
                }
                dirty = true;
            }
        }
        if app.quit {
            break Ok(());
        }
    };
    if let Some(t) = log_task {
        t.abort();
    }
    ratatui::restore();
    result
}

/// Status now, then again after Docker events (throttled), never polling.
fn spawn_status_watch(ws: std::sync::Arc<Workspace>, project: Project, tx: mpsc::Sender<Msg>) {
    tokio::spawn(async move {
        let docker = match crate::docker::connect_local().await {
            Ok(d) => d,
            Err(e) => {
                let _ = tx.send(Msg::Note(e.message)).await;
                return;
            }
        };
        let refresh = |tx: mpsc::Sender<Msg>| {
            let ws = ws.clone();
            let project = project.clone();
            async move {
                match crate::deploy::status(&ws, &project, None).await {
                    Ok(rows) => {
                        let _ = tx.send(Msg::Status(rows)).await;
                    }
                    Err(e) => {
                        let _ = tx.send(Msg::Note(e.message)).await;
                    }
                }
            }
        };
        refresh(tx.clone()).await;
        let filters =
            std::collections::HashMap::from([("type".to_string(), vec!["container".to_string()])]);
        let mut events = docker.events(Some(
            bollard::query_parameters::EventsOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ));
        while let Some(ev) = events.next().await {
            let Ok(ev) = ev else { break };
            // Health checks flood the stream with exec_* events.
            if ev.action.as_deref().is_some_and(|a| a.starts_with("exec_")) {
                continue;
            }
            // Throttle: gather the burst, then one refresh.
            tokio::time::sleep(Duration::from_millis(150)).await;
            refresh(tx.clone()).await;
        }
    });
}

/// `up` in the background; the panes follow from the events stream.
fn spawn_up(ws: std::sync::Arc<Workspace>, project: Project, tx: mpsc::Sender<Msg>) {
    tokio::spawn(async move {
        let msg = match crate::deploy::up(&ws, &project, None, Duration::from_secs(300)).await {
            Ok(r) => {
                let changed = r
                    .iter()
                    .filter(|s| s.action != crate::deploy::Action::Unchanged)
                    .count();
                format!(
                    "up: {} services, {changed} created or recreated, all healthy",
                    r.len()
                )
            }
            Err(e) => format!(
                "up failed: {}",
                e.message.lines().next().unwrap_or_default()
            ),
        };
        let _ = tx.send(Msg::Note(msg)).await;
    });
}

fn spawn_logs(container: String, tx: mpsc::Sender<Msg>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let docker = match crate::docker::connect_local().await {
            Ok(d) => d,
            Err(e) => {
                let _ = tx.send(Msg::Note(e.message)).await;
                return;
            }
        };
        let tx2 = tx.clone();
        let r = crate::docker::follow_logs(&docker, &container, 300, move |err, l| {
            // Dropped when the UI is behind: memory stays bounded.
            let _ = tx2.try_send(Msg::Log(err, l.to_string()));
        })
        .await;
        if let Err(e) = r {
            let _ = tx.send(Msg::Note(e.message)).await;
        }
    })
}
