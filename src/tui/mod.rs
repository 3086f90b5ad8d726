//! The console: a tokio event loop over crossterm's EventStream, with
//! engine, Docker and SSH work in tasks that report back over a channel, so
//! nothing blocks a frame. The state ([`App`]) and drawing ([`draw`]) are
//! plain data and a pure function, tested with ratatui's TestBackend.

pub mod app;
mod contract_metrics;
pub mod data;
pub mod doctor;
pub mod env_view;
pub mod envs;
pub mod host_prompt;
pub mod keymap;
mod keys;
pub mod logs;
pub mod metrics;
pub mod msg;
pub mod palette;
pub mod passphrase;
pub mod pg;
pub mod project_view;
pub mod prompt;
mod tasks;
pub mod terminal;
pub mod theme;
pub mod view;
pub mod vms;
mod watch;
pub mod wizard;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bollard::Docker;
use crossterm::event::{Event, EventStream};
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::Vm;
use crate::engine::{Operation, Project, Workspace};
use crate::error::{Result, UserError};
pub use app::{App, LOG_LINES, PANES, Pane};
pub use host_prompt::HostPrompt;
pub use msg::{ContainerAction, Msg, PlanView, Request};
pub use project_view::{AddonRow, ProjectView};
use tasks::*;
pub use tasks::{follow_logs, spawn_logs};
use theme::Theme;
pub use view::draw;
use watch::*;

/// Settings from the platform config dir (`settings.yml`).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub theme: Option<String>,
    /// Clicks and the wheel (on by default); `m` toggles it.
    pub mouse: Option<bool>,
    /// Lines the Logs pane keeps (a ring buffer).
    pub log_lines: Option<usize>,
    /// Action → key or keys, over the defaults (`?` lists both).
    #[serde(default)]
    pub keys: indexmap::IndexMap<String, keymap::KeysSetting>,
}

impl Settings {
    pub fn load(config_dir: Option<&Path>) -> Result<Settings> {
        match config_dir
            .map(|d| d.join("settings.yml"))
            .filter(|p| p.is_file())
        {
            Some(p) => {
                crate::config::parse_yaml(&p, &std::fs::read_to_string(&p).unwrap_or_default())
            }
            None => Ok(Settings::default()),
        }
    }

    /// The app these settings describe.
    pub fn apply(&self, app: &mut App, config_dir: Option<&Path>) -> Result<()> {
        let file = config_dir
            .map(|d| d.join("settings.yml").display().to_string())
            .unwrap_or_else(|| "settings.yml".into());
        app.theme = Theme::load(
            self.theme.as_deref().unwrap_or("dark"),
            config_dir.map(|d| d.join("themes")).as_deref(),
        )
        .map_err(|e| {
            UserError::new(format!("{file}: theme: {e}")).hint(
                "set `theme:` to dark, light or high-contrast, or a file in themes/ beside it",
            )
        })?;
        app.keymap = keymap::Keymap::new(&self.keys).map_err(|e| {
            UserError::new(format!("{file}: {e}"))
                .hint("keys look like q, G, ctrl-c, shift-tab, enter; `?` in the console lists the actions")
        })?;
        app.mouse = self.mouse.unwrap_or(true);
        if let Some(n) = self.log_lines {
            if n == 0 {
                return Err(UserError::new(format!(
                    "{file}: log_lines must be at least 1"
                )));
            }
            app.logs = logs::Logs::new(n);
        }
        app.config_dir = config_dir.map(Path::to_path_buf);
        Ok(())
    }
}

/// Opens the console on the project (or the only one, or a bundled example
/// targeting the local engine when there is none yet).
pub fn run(ws: Workspace, project: Option<String>, config_dir: Option<PathBuf>) -> Result<()> {
    let settings = Settings::load(config_dir.as_deref())?;
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
    let mut app = App::new(Theme::dark(), projects.clone(), view);
    settings.apply(&mut app, config_dir.as_deref())?;
    app.project = projects.iter().position(|n| *n == p.name).unwrap_or(0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| UserError::new(format!("runtime: {e}")))?;
    rt.block_on(event_loop(Arc::new(ws), p, app))
}

fn create_example(ws: &Workspace) -> Result<()> {
    let p = ws.new_project("example")?;
    ws.run(
        &p,
        &Operation::Init {
            environments: vec![],
        },
        false,
    )?;
    for (t, n) in [("postgres", "primary"), ("redis", "cache")] {
        ws.run(
            &p,
            &Operation::Add {
                type_name: t.into(),
                name: n.into(),
                category: None,
                plan: Some("small".into()),
                version: None,
                vm: None,
                options: vec![],
                with_deps: false,
            },
            false,
        )?;
    }
    Ok(())
}

/// The Docker client of each VM being watched, shared with the log tasks
/// so one SSH session per VM serves both.
type Dockers = Arc<Mutex<HashMap<String, Docker>>>;

/// A frame at most this often: a log flood redraws 30 times a second, not
/// once per line.
const FRAME: Duration = Duration::from_millis(33);

async fn event_loop(ws: Arc<Workspace>, mut project: Project, mut app: App) -> Result<()> {
    let (tx, mut rx) = mpsc::channel::<Msg>(256);
    crate::deploy::target::set_passphrase_provider(passphrase_dialog(tx.clone()));
    let dockers: Dockers = Arc::default();
    crate::crash::set_face("console");
    crate::crash::set_project(&project);
    crate::crash::did(format!("opened the console on project {}", project.name));
    let mut watchers = spawn_watchers(&ws, &project, vms_of(&ws, &project), &tx, &dockers);
    // The Environments pane's live state, read again when poked.
    let env_poke = Arc::new(tokio::sync::Notify::new());
    let mut env_live =
        envs::tasks::spawn_live(ws.clone(), project.clone(), tx.clone(), env_poke.clone());
    let mut tui = terminal::Tui::enter(app.mouse)
        .map_err(|e| UserError::new(format!("cannot take the terminal: {e}")))?;
    let mut events = EventStream::new();
    let mut log_task: Option<JoinHandle<()>> = None;
    let mut stats = metrics::StatsStream::default();
    let mut lag_reader = metrics::LagReader::default();
    let mut contract_reader = contract_metrics::ContractReader::default();
    let mut dirty = true;
    let mut last_draw = Instant::now() - FRAME;
    let result = loop {
        if dirty && last_draw.elapsed() >= FRAME {
            crate::crash::set_pane(app.pane);
            let drawn = tui.terminal.draw(|f| {
                draw(f, &app);
                // After a key moved off the first pane, so the report has
                // something the user did.
                #[cfg(debug_assertions)]
                if app.pane != Pane::Addons {
                    crate::crash::test_panic("draw");
                }
            });
            if let Err(e) = drawn {
                break Err(UserError::new(format!("terminal: {e}")));
            }
            last_draw = Instant::now();
            dirty = false;
        }
        let wait = FRAME.saturating_sub(last_draw.elapsed());
        let request = tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(Event::Key(k))) if k.kind == crossterm::event::KeyEventKind::Press => {
                    dirty = true;
                    app.key(k)
                }
                Some(Ok(Event::Mouse(m))) => {
                    dirty = true;
                    app.mouse_event(m)
                }
                Some(Ok(Event::Resize(..))) => {
                    dirty = true;
                    None
                }
                Some(Err(e)) => break Err(UserError::new(format!("terminal input: {e}"))),
                None => break Ok(()),
                _ => None,
            },
            Some(msg) = rx.recv() => {
                let mut follow = app.apply(msg);
                // Drain what else is queued before one redraw, but not
                // forever: keys must get their turn in a flood. A report
                // that leaves work for the loop ends the drain.
                for _ in 0..64 {
                    if follow.is_some() {
                        break;
                    }
                    match rx.try_recv() {
                        Ok(m) => follow = app.apply(m),
                        Err(_) => break,
                    }
                }
                dirty = true;
                follow
            }
            _ = tokio::time::sleep(wait), if dirty => None,
        };
        if let Some(r) = &request {
            crate::crash::did(describe(r));
        }
        match request {
            None => {}
            Some(Request::FollowLogs {
                vm,
                container,
                label,
            }) => {
                // A new selection cancels the old stream.
                if let Some(t) = log_task.take() {
                    t.abort();
                }
                app.logs.restart(label);
                let docker = dockers.lock().ok().and_then(|d| d.get(&vm).cloned());
                match docker {
                    Some(d) => log_task = Some(spawn_logs(d, container, app.logs.cap, tx.clone())),
                    None => app.message = Some(format!("VM {vm} is not connected yet")),
                }
            }
            Some(Request::Up) => spawn_up(ws.clone(), project.clone(), tx.clone()),
            Some(Request::Backup(id)) => spawn_backup(ws.clone(), project.clone(), id, tx.clone()),
            Some(Request::Doctor(app)) => {
                doctor::spawn(ws.clone(), project.clone(), app, tx.clone())
            }
            Some(Request::Data(d)) => {
                data::tasks::spawn(ws.clone(), project.clone(), d, tx.clone())
            }
            Some(Request::Pg(r)) => pg::tasks::spawn(ws.clone(), project.clone(), r, tx.clone()),
            Some(Request::Env(envs::EnvRequest::Logs { env, service })) => {
                // Like FollowLogs: a new stream replaces the old one.
                if let Some(t) = log_task.take() {
                    t.abort();
                }
                app.logs.restart(envs::logs_label(&env, service.as_deref()));
                log_task = Some(envs::tasks::spawn_logs(
                    ws.clone(),
                    project.clone(),
                    env,
                    service,
                    app.logs.cap,
                    tx.clone(),
                ));
            }
            Some(Request::Env(e)) => {
                envs::tasks::spawn(ws.clone(), project.clone(), e, tx.clone(), env_poke.clone())
            }
            Some(Request::Plan(op)) => spawn_plan(ws.clone(), project.clone(), op, tx.clone()),
            Some(Request::Apply(op, reviewed)) => {
                spawn_apply(ws.clone(), project.clone(), op, reviewed, tx.clone())
            }
            Some(Request::RemoveAndPurge(id, reviewed)) => {
                spawn_remove_and_purge(ws.clone(), project.clone(), id, reviewed, tx.clone())
            }
            Some(Request::SaveLogs(path)) => {
                let text = app.logs.export();
                let tx = tx.clone();
                tokio::task::spawn_blocking(move || {
                    let n = text.lines().count();
                    let note =
                        match crate::engine::apply::write_atomic(&path, text.as_bytes(), 0o644) {
                            Ok(()) => format!("saved {n} lines to {}", path.display()),
                            Err(e) => format!("save failed: {}", e.message),
                        };
                    let _ = tx.blocking_send(Msg::Note(note));
                });
            }
            Some(Request::Mouse(on)) => tui.set_mouse(on),
            Some(Request::TrustHost(p)) => {
                // A file write: off the loop, like every other one.
                let (ws, project, tx) = (ws.clone(), project.clone(), tx.clone());
                tokio::task::spawn_blocking(move || {
                    let written =
                        crate::ssh::add_known_host(&p.known_hosts, &p.host, p.port, &p.key)
                            .map_err(|e| e.message)
                            .map(|()| vms_of(&ws, &project));
                    let _ = tx.blocking_send(Msg::HostTrusted(p.vm.clone(), written));
                });
            }
            Some(Request::Rewatch(vms)) => {
                for w in watchers.drain(..) {
                    w.abort();
                }
                watchers = spawn_watchers(&ws, &project, vms, &tx, &dockers);
            }
            Some(Request::Container {
                vm,
                container,
                label,
                action,
            }) => {
                let docker = dockers.lock().ok().and_then(|d| d.get(&vm).cloned());
                match docker {
                    Some(d) => spawn_container_action(
                        project.clone(),
                        vm,
                        d,
                        container,
                        label,
                        action,
                        tx.clone(),
                    ),
                    None => app.message = Some(format!("VM {vm} is not connected yet")),
                }
            }
            Some(Request::Shell {
                vm,
                container,
                label,
                addon,
            }) => {
                let vm_config = ws
                    .load(&project)
                    .ok()
                    .and_then(|l| l.config.vms.get(&vm).cloned());
                let Some(vm_config) = vm_config else {
                    app.message = Some(format!("no VM {vm} in config.yml"));
                    continue;
                };
                // An addon with a client opens it (`db shell`); else a shell.
                let client = addon.and_then(|id| {
                    crate::connect::shell::client_in_container(&ws, &project, &id, false).ok()
                });
                let (kind, what) = match client {
                    Some((dest, what)) => (format!("{} client", dest.t.name), what),
                    None => (
                        "shell".to_string(),
                        crate::connect::tty::InContainer::shell(),
                    ),
                };
                let intro = format!(
                    "sdtui: {kind} in {label} on VM {vm}; {} comes back to the console",
                    if kind == "shell" {
                        "`exit`"
                    } else {
                        "quitting it"
                    }
                );
                let work = crate::connect::tty::run(&ws, &project, &vm_config, &container, &what);
                let result = match step_aside(&mut tui, events, intro, work).await {
                    Ok((again, result)) => {
                        events = again;
                        result
                    }
                    Err(e) => break Err(e),
                };
                app.message = Some(match result {
                    Ok(code) => format!("{kind} in {label} ended ({code})"),
                    Err(e) => format!("{kind} in {label}: {}", e.message),
                });
                dirty = true;
            }
            Some(Request::Connect(to)) => {
                let id = to.0.addon.id();
                let intro = format!(
                    "sdtui: {} client for {id} on VM {}; quit it to come back to the console",
                    to.0.t.name, to.0.vm.name
                );
                let work = data::tasks::connect(&ws, &project, &to);
                let result = match step_aside(&mut tui, events, intro, work).await {
                    Ok((again, result)) => {
                        events = again;
                        result
                    }
                    Err(e) => break Err(e),
                };
                app.message = Some(match result {
                    Ok(code) => format!("connect {id}: the client ended ({code})"),
                    Err(e) => format!("connect {id}: {}", error_text(&e)),
                });
                dirty = true;
            }
            Some(Request::SwitchProject(name)) => {
                // Reading a project (config, secrets, neighbours) runs off
                // the loop; the switch happens when it is read.
                let (ws, tx) = (ws.clone(), tx.clone());
                tokio::task::spawn_blocking(move || {
                    let loaded = ws
                        .project(Some(&name))
                        .and_then(|p| ProjectView::read(&ws, &p).map(|v| (p, v)))
                        .map(|(p, v)| {
                            let vms = vms_of(&ws, &p);
                            Box::new((p, v, vms))
                        })
                        .map_err(|e| e.message);
                    let _ = tx.blocking_send(Msg::ProjectLoaded(loaded));
                });
            }
            Some(Request::UseProject(loaded)) => {
                let (p, v, vms) = *loaded;
                for w in watchers.drain(..) {
                    w.abort();
                }
                if let Some(t) = log_task.take() {
                    t.abort();
                }
                let name = p.name.clone();
                project = p;
                crate::crash::set_project(&project);
                app.view = v;
                app.project = app.projects.iter().position(|n| *n == name).unwrap_or(0);
                app.clear_status();
                app.env_live.clear();
                env_live.abort();
                env_live = envs::tasks::spawn_live(
                    ws.clone(),
                    project.clone(),
                    tx.clone(),
                    env_poke.clone(),
                );
                app.logs.restart(String::new());
                app.logs.of = None;
                app.selected = [app.project, 0, 0, 0, 0, 0];
                app.pane = Pane::Addons;
                app.message = Some(format!("project {name}"));
                dockers.lock().map(|mut d| d.clear()).ok();
                watchers = spawn_watchers(&ws, &project, vms, &tx, &dockers);
            }
        }
        if app.quit {
            break Ok(());
        }
        dirty |= stats.follow_selection(&mut app, &dockers, &tx);
        dirty |= lag_reader.follow_selection(&mut app, &ws, &project, &tx);
        dirty |= contract_reader.follow_selection(&mut app, &ws, &project, &dockers, &tx);
    };
    stats.stop();
    contract_reader.stop();
    if let Some(t) = log_task {
        t.abort();
    }
    for w in watchers {
        w.abort();
    }
    drop(tui);
    result
}

/// A request as the crash report names it: what, never a secret (an
/// operation as the audit trail describes it; no reviewed diff).
fn describe(request: &Request) -> String {
    match request {
        Request::FollowLogs { label, .. } => format!("follow the logs of {label}"),
        Request::Up => "up".into(),
        Request::Plan(op) => format!("plan `{}`", op.describe()),
        Request::Apply(op, _) => format!("apply `{}`", op.describe()),
        Request::RemoveAndPurge(id, _) => format!("remove {id} with its data"),
        Request::SaveLogs(path) => format!("save the logs to {}", path.display()),
        Request::Mouse(on) => format!("mouse {}", if *on { "on" } else { "off" }),
        Request::TrustHost(p) => format!("trust the host key of VM {}", p.vm),
        Request::SwitchProject(name) => format!("switch to project {name}"),
        Request::Backup(id) => format!("back up {id}"),
        Request::Doctor(app) => format!("doctor {}", app.as_deref().unwrap_or("(every app)")),
        Request::UseProject(loaded) => format!("opened project {}", loaded.0.name),
        Request::Rewatch(_) => "watch the VMs again".into(),
        Request::Shell { label, .. } => format!("a shell or client in {label}"),
        Request::Container { label, action, .. } => format!("{} {label}", action.verb()),
        Request::Data(d) => d.describe(),
        Request::Pg(r) => r.describe(),
        Request::Connect(to) => format!("connect to {}", to.0.addon.id()),
        Request::Env(e) => e.describe(),
    }
}

/// Hands the terminal to `work` (a shell, a client): the console's input
/// stream is dropped so nothing else reads a key, the screen restored; then
/// the console takes it back with a fresh input stream.
async fn step_aside(
    tui: &mut terminal::Tui,
    events: EventStream,
    intro: String,
    work: impl std::future::Future<Output = Result<i32>>,
) -> std::result::Result<(EventStream, Result<i32>), UserError> {
    drop(events);
    tui.suspend();
    println!("{intro}");
    STEPPED_ASIDE.store(true, std::sync::atomic::Ordering::Relaxed);
    let result = work.await;
    STEPPED_ASIDE.store(false, std::sync::atomic::Ordering::Relaxed);
    tui.resume()
        .map_err(|e| UserError::new(format!("cannot take the terminal back: {e}")))?;
    Ok((EventStream::new(), result))
}

/// Set while a shell has the terminal and the event loop waits for it.
static STEPPED_ASIDE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Encrypted keys are unlocked in a dialog, not on the terminal the console
/// draws on: the connecting task waits for the answer (off the async
/// workers' hands), checks it against the key, asks again when wrong, and
/// keeps a right one for the session.
fn passphrase_dialog(tx: mpsc::Sender<Msg>) -> crate::deploy::target::PassphraseProvider {
    let known: Mutex<HashMap<PathBuf, String>> = Mutex::default();
    Box::new(move |key: &Path| {
        if let Some(p) = known.lock().ok().and_then(|k| k.get(key).cloned()) {
            return Some(p);
        }
        // While a shell has the terminal, no dialog can be answered.
        if STEPPED_ASIDE.load(std::sync::atomic::Ordering::Relaxed) {
            return None;
        }
        for attempt in 0..3 {
            let (reply, answer) = std::sync::mpsc::channel();
            let asked = tx.try_send(Msg::Passphrase {
                key: key.to_path_buf(),
                retry: attempt > 0,
                reply,
            });
            asked.ok()?;
            let wait = || answer.recv_timeout(Duration::from_secs(600)).ok().flatten();
            let given = match tokio::runtime::Handle::try_current() {
                Ok(_) => tokio::task::block_in_place(wait),
                Err(_) => wait(),
            }?;
            if russh::keys::load_secret_key(key, Some(&given)).is_ok() {
                if let Ok(mut k) = known.lock() {
                    k.insert(key.to_path_buf(), given.clone());
                }
                return Some(given);
            }
        }
        None
    })
}
