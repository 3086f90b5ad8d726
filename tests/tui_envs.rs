//! The console's Environments pane — live state per addon, the keys on an
//! environment row, `:env VERB ENV` with completion, the drill-down into
//! its instances, a start's steps on the footer (and a second start
//! refused), a stop's y/N showing what stops, the effective configuration
//! masked until `r` — driven by keys and task reports, drawn into
//! ratatui's TestBackend and compared with insta snapshots.

mod common;

use common::tui::{key, render};

use crossterm::event::KeyCode;
use sdtui::engine::{Operation, Workspace};
use sdtui::env::live::EnvLive;
use sdtui::env::ops::EnvStatusRow;
use sdtui::tui::envs::{EnvMsg, EnvRequest, EnvStage};
use sdtui::tui::palette::{self, Command};
use sdtui::tui::{App, Msg, ProjectView, Request, theme::Theme};

struct Fixture {
    root: tempfile::TempDir,
    ws: Workspace,
    project: sdtui::engine::Project,
    app: App,
}

/// The envs fixture (dev, staging with a redis of its own, production),
/// each environment generated, the console on its Environments pane.
fn fixture() -> Fixture {
    let root = common::root_with("envs");
    let mut ws = Workspace::open(root.path().to_path_buf(), None).unwrap();
    ws.test_seed = Some(7);
    let project = ws.project(Some("envs")).unwrap();
    for env in ["dev", "staging", "production"] {
        let scoped = ws.environment(&project, env).unwrap();
        ws.run(&scoped, &Operation::Sync, false).unwrap();
    }
    let view = ProjectView::read(&ws, &project).unwrap();
    let mut app = App::new(Theme::dark(), vec!["envs".into()], view);
    app.key(key(KeyCode::Char('4')));
    Fixture {
        root,
        ws,
        project,
        app,
    }
}

fn row(env: &str, addon: &str, service: &str, state: &str, health: Option<&str>) -> EnvStatusRow {
    EnvStatusRow {
        env: env.into(),
        vm: "local".into(),
        addon: addon.into(),
        service: service.into(),
        state: state.into(),
        health: health.map(Into::into),
        ports: if state == "absent" {
            vec![]
        } else {
            vec!["127.0.73.1:5433->5432/tcp".into()]
        },
    }
}

/// dev up, staging partly (its redis still starting), production's VM
/// unreachable.
fn live() -> Vec<EnvLive> {
    vec![
        EnvLive {
            env: "dev".into(),
            rows: Ok(vec![row(
                "dev",
                "databases.primary",
                "postgres-primary",
                "running",
                Some("healthy"),
            )]),
        },
        EnvLive {
            env: "staging".into(),
            rows: Ok(vec![
                row(
                    "staging",
                    "databases.primary",
                    "postgres-primary",
                    "running",
                    Some("healthy"),
                ),
                row(
                    "staging",
                    "caches.session",
                    "redis-session",
                    "running",
                    Some("starting"),
                ),
            ]),
        },
        EnvLive {
            env: "production".into(),
            rows: Err("cannot connect to the Docker engine".into()),
        },
    ]
}

fn env_request(r: Option<Request>) -> EnvRequest {
    match r {
        Some(Request::Env(e)) => e,
        other => panic!("expected an environment task, got {other:?}"),
    }
}

/// The screen with the temporary root written as `<root>`.
fn screen(f: &Fixture) -> String {
    render(&f.app, 110, 26).replace(&f.root.path().display().to_string(), "<root>")
}

/// Rows are ordered as config.yml declares them: dev, staging, production.
fn select(f: &mut Fixture, env: &str) {
    let i = f
        .app
        .visible_envs()
        .iter()
        .position(|e| e.name == env)
        .unwrap();
    f.app.key(key(KeyCode::Char('g')));
    for _ in 0..i {
        f.app.key(key(KeyCode::Char('j')));
    }
}

#[test]
fn pane_shows_each_environment_live_per_addon() {
    let mut f = fixture();
    let before = screen(&f);
    assert!(before.contains("reading ..."), "{before}");
    insta::assert_snapshot!("envs_pane_reading", before);
    f.app.apply(Msg::Env(EnvMsg::Live(Ok(live()))));
    let s = screen(&f);
    let line = |env: &str| {
        s.lines()
            .find(|l| l.contains(&format!("│{env} ")))
            .unwrap_or_else(|| panic!("no row for {env}:\n{s}"))
            .to_string()
    };
    assert!(
        line("dev").contains(" up ") && line("dev").contains("healthy"),
        "{s}"
    );
    let staging = line("staging");
    assert!(staging.contains("partly up (1/2)"), "{s}");
    assert!(staging.contains("caches.session starting"), "{s}");
    assert!(
        line("production").contains("unknown: cannot connect"),
        "{s}"
    );
    insta::assert_snapshot!("envs_pane_live", s);
}

#[test]
fn enter_drills_into_an_environments_instances() {
    let mut f = fixture();
    f.app.apply(Msg::Env(EnvMsg::Live(Ok(live()))));
    select(&mut f, "staging");
    // Enter opens the instances and asks for a fresh read.
    let r = env_request(f.app.key(key(KeyCode::Enter)));
    assert!(matches!(r, EnvRequest::Refresh), "{r:?}");
    let s = screen(&f);
    assert!(s.contains("env staging · partly up (1/2)"), "{s}");
    assert!(s.contains("redis-session"), "{s}");
    insta::assert_snapshot!("envs_instances", s);
    // Its keys act from the drill-down too; Esc backs out.
    f.app.key(key(KeyCode::Esc));
    assert!(f.app.env_dialog.is_none());
}

#[test]
fn start_runs_in_the_background_with_its_steps_and_a_second_is_refused() {
    let mut f = fixture();
    f.app.apply(Msg::Env(EnvMsg::Live(Ok(live()))));
    select(&mut f, "dev");
    let r = env_request(f.app.key(key(KeyCode::Char('s'))));
    assert!(
        matches!(&r, EnvRequest::Run { verb: "start", env } if env == "dev"),
        "{r:?}"
    );
    // No dialog: the steps go to the footer and the row, like `u`.
    assert!(f.app.env_dialog.is_none());
    f.app.apply(Msg::Env(EnvMsg::Step(
        "dev".into(),
        "env dev: addons: up".into(),
    )));
    let s = screen(&f);
    assert!(s.contains("start: addons: up"), "{s}");
    assert!(
        s.lines().last().unwrap().contains("env dev: addons: up"),
        "{s}"
    );
    insta::assert_snapshot!("envs_start_step", s);
    // A second start of the same environment says so and asks nothing.
    assert!(f.app.key(key(KeyCode::Char('s'))).is_none());
    let m = f.app.message.clone().unwrap();
    assert!(m.contains("env start dev is already in progress"), "{m}");
    // The palette's start too.
    let cmd = palette::parse("env start dev").unwrap();
    f.app.key(key(KeyCode::Char(':')));
    for c in "env start dev".chars() {
        f.app.key(key(KeyCode::Char(c)));
    }
    assert!(f.app.key(key(KeyCode::Enter)).is_none(), "{cmd:?}");
    assert!(
        f.app
            .message
            .clone()
            .unwrap()
            .contains("already in progress")
    );
    // Its end: the footer says how, and the state is read again.
    let r = env_request(f.app.apply(Msg::Env(EnvMsg::Done(
        "dev".into(),
        Ok("env dev: started, 1 addon up and healthy; init: none configured (skipped); deployment: none configured (skipped)".into()),
    ))));
    assert!(matches!(r, EnvRequest::Refresh));
    assert!(f.app.env_busy.is_empty());
    insta::assert_snapshot!("envs_start_done", screen(&f));
}

#[test]
fn stop_shows_what_stops_and_asks_y_or_n() {
    let mut f = fixture();
    f.app.apply(Msg::Env(EnvMsg::Live(Ok(live()))));
    select(&mut f, "staging");
    let r = env_request(f.app.key(key(KeyCode::Char('X'))));
    assert!(
        matches!(&r, EnvRequest::Preview { verb: "stop", env } if env == "staging"),
        "{r:?}"
    );
    // y before the preview is read does nothing.
    assert!(f.app.key(key(KeyCode::Char('y'))).is_none());
    insta::assert_snapshot!("envs_stop_reading", screen(&f));
    let running = live()[1].rows.clone().unwrap();
    f.app.apply(Msg::Env(EnvMsg::Preview(
        "staging".into(),
        Ok(running.clone()),
    )));
    let s = screen(&f);
    assert!(
        s.contains("databases.primary (postgres-primary) on VM local"),
        "{s}"
    );
    assert!(s.contains("volumes (the data) are kept"), "{s}");
    insta::assert_snapshot!("envs_stop_review", s);
    // n keeps it running.
    assert!(f.app.key(key(KeyCode::Char('n'))).is_none());
    assert!(f.app.env_dialog.is_none());
    assert!(
        f.app
            .message
            .clone()
            .unwrap()
            .contains("nothing was changed")
    );
    // Again, y: the stop runs in the background.
    f.app.key(key(KeyCode::Char('X')));
    f.app
        .apply(Msg::Env(EnvMsg::Preview("staging".into(), Ok(running))));
    let r = env_request(f.app.key(key(KeyCode::Char('y'))));
    assert!(
        matches!(&r, EnvRequest::Run { verb: "stop", env } if env == "staging"),
        "{r:?}"
    );
    // While it runs, another stop or start of staging is refused.
    assert!(f.app.key(key(KeyCode::Char('X'))).is_none());
    assert!(f.app.env_dialog.is_none());
}

#[test]
fn config_is_masked_until_r_reveals_the_selected_secret() {
    let mut f = fixture();
    select(&mut f, "staging");
    let r = env_request(f.app.key(key(KeyCode::Char('y'))));
    assert!(
        matches!(&r, EnvRequest::Text { verb: "config", env } if env == "staging"),
        "{r:?}"
    );
    // What the task reads: the engine's effective configuration.
    let lines = sdtui::env::live::config_lines(&f.ws, &f.project, "staging").unwrap();
    f.app
        .apply(Msg::Env(EnvMsg::Text("staging".into(), Ok(lines.clone()))));
    let s = screen(&f);
    assert!(
        s.contains("databases.primary (override): postgres 15"),
        "{s}"
    );
    assert!(s.contains("option max_connections = 60"), "{s}");
    assert!(s.contains("caches.session (own): redis"), "{s}");
    let secrets =
        std::fs::read_to_string(f.root.path().join("envs/environments/staging/secrets.yml"))
            .unwrap();
    let secret_line = lines.iter().position(|l| l.secret.is_some()).unwrap();
    let value = lines[secret_line].secret.clone().unwrap();
    assert!(
        secrets.contains(&value),
        "the revealed value is the stored one"
    );
    assert!(!s.contains(&value), "masked until asked:\n{s}");
    insta::assert_snapshot!("envs_config_masked", s);
    // r on a line with no secret says so; on the secret, reveals it.
    f.app.key(key(KeyCode::Char('r')));
    assert_eq!(f.app.message.as_deref(), Some("no secret on this line"));
    for _ in 0..secret_line {
        f.app.key(key(KeyCode::Char('j')));
    }
    f.app.key(key(KeyCode::Char('r')));
    let s = screen(&f);
    assert!(s.contains(&value), "{s}");
    // r again masks it.
    f.app.key(key(KeyCode::Char('r')));
    assert!(!screen(&f).contains(&value));
    match &f.app.env_dialog.as_ref().unwrap().stage {
        EnvStage::Text { revealed, .. } => assert!(revealed.is_empty()),
        _ => panic!("the config view closed"),
    }
    f.app.key(key(KeyCode::Esc));
    assert!(f.app.env_dialog.is_none());
}

#[test]
fn palette_env_commands_complete_and_refuse_with_the_names() {
    let f = fixture();
    let view = &f.app.view;
    let none = Default::default();
    assert_eq!(
        palette::candidates("env st", view, &[], &none),
        vec!["start", "stop", "status"]
    );
    assert_eq!(
        palette::candidates("env stop ", view, &[], &none),
        vec!["dev", "staging", "production"]
    );
    assert_eq!(
        palette::complete("env config pro", view, &[], &none).as_deref(),
        Some("env config production ")
    );
    for (line, verb) in [
        ("env start dev", "start"),
        ("env stop dev", "stop"),
        ("env status dev", "status"),
        ("env config dev", "config"),
    ] {
        match palette::parse(line).unwrap() {
            Command::Env { action, env, arg } => {
                assert_eq!((action.verb, env.as_deref(), arg), (verb, Some("dev"), None))
            }
            other => panic!("{other:?}"),
        }
    }
    let e = palette::parse("env frobnicate dev").unwrap_err();
    assert!(e.contains("env takes start, stop, status, config"), "{e}");
    let e = palette::parse("env start").unwrap_err();
    assert!(e.contains("usage: env start|stop|status|config ENV"), "{e}");
    // An environment that does not exist: named, with the ones that do.
    let mut app = f.app;
    app.key(key(KeyCode::Char(':')));
    for c in "env start qa".chars() {
        app.key(key(KeyCode::Char(c)));
    }
    assert!(app.key(key(KeyCode::Enter)).is_none());
    assert_eq!(
        app.message.as_deref(),
        Some("no environment qa; environments: dev, staging, production")
    );
}

#[test]
fn help_lists_the_environment_keys_and_settings_change_them() {
    let mut f = fixture();
    f.app.key(key(KeyCode::Char('?')));
    let s = render(&f.app, 110, 50);
    assert!(s.contains("on an environment (Environments pane)"), "{s}");
    assert!(s.contains("start the environment"), "{s}");
    assert!(s.contains("stop it, y/N (data kept)"), "{s}");
    f.app.key(key(KeyCode::Esc));
    // keys: {env-start: o}: `o` starts, `s` no longer does.
    let settings: sdtui::tui::Settings = serde_saphyr::from_str("keys:\n  env-start: o\n").unwrap();
    settings.apply(&mut f.app, None).unwrap();
    assert!(f.app.key(key(KeyCode::Char('s'))).is_none());
    let r = env_request(f.app.key(key(KeyCode::Char('o'))));
    assert!(matches!(r, EnvRequest::Run { verb: "start", .. }), "{r:?}");
}
