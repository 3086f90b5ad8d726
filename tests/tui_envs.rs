//! The console's Environments pane — live state per addon, the keys on an
//! environment row, `:env VERB [ENV]` with completion, the drill-down into
//! its instances (Enter on one: its logs), a start's steps on the footer
//! (and a second start refused), a stop's and a restart's y/N showing what
//! they touch, the effective configuration and the dry-run masked until
//! `r`, init's table (and its failure with the table and the retry hint),
//! export's format choice and the paths it wrote, logs on the Logs pane —
//! driven by keys and task reports, drawn into ratatui's TestBackend and
//! compared with insta snapshots.

mod common;

use common::tui::{key, render};

use crossterm::event::KeyCode;
use sdtui::engine::{Operation, Workspace};
use sdtui::env::live::EnvLive;
use sdtui::env::ops::{EnvStatusRow, ExportFormat, InitReport, InitRow};
use sdtui::tui::app::Pane;
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
                assert_eq!(
                    (action.verb, env.as_deref(), arg),
                    (verb, Some("dev"), None)
                )
            }
            other => panic!("{other:?}"),
        }
    }
    let e = palette::parse("env frobnicate dev").unwrap_err();
    assert!(
        e.contains(
            "env takes start, stop, status, config, restart, init, deploy, dry-run, export, logs"
        ),
        "{e}"
    );
    let e = palette::parse("env").unwrap_err();
    assert!(
        e.contains(
            "usage: env start|stop|status|config|restart|init|deploy|dry-run|export|logs [ENV]"
        ),
        "{e}"
    );
    // A third word only where it means something: export's format, one
    // service's logs.
    let e = palette::parse("env start dev now").unwrap_err();
    assert!(e.contains("env: unexpected \"now\""), "{e}");
    for (line, verb, env, arg) in [
        ("env start", "start", None, None),
        ("env restart dev", "restart", Some("dev"), None),
        ("env init dev", "init", Some("dev"), None),
        ("env deploy dev", "deploy", Some("dev"), None),
        ("env dry-run dev", "dry-run", Some("dev"), None),
        ("env export dev pod", "export", Some("dev"), Some("pod")),
        (
            "env logs dev redis-session",
            "logs",
            Some("dev"),
            Some("redis-session"),
        ),
    ] {
        match palette::parse(line).unwrap() {
            Command::Env {
                action,
                env: e,
                arg: a,
            } => assert_eq!(
                (action.verb, e.as_deref(), a.as_deref()),
                (verb, env, arg),
                "{line}"
            ),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        palette::candidates("env re", view, &[], &none),
        vec!["restart"]
    );
    assert_eq!(
        palette::candidates("env export dev ", view, &[], &none),
        vec!["compose", "pod", "env"]
    );
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
    // No ENV: the selected row's.
    app.key(key(KeyCode::Char('j')));
    app.key(key(KeyCode::Char(':')));
    for c in "env dry-run".chars() {
        app.key(key(KeyCode::Char(c)));
    }
    let r = env_request(app.key(key(KeyCode::Enter)));
    assert!(
        matches!(&r, EnvRequest::Text { verb: "dry-run", env } if env == "staging"),
        "{r:?}"
    );
    app.key(key(KeyCode::Esc));
    // A format the palette names writes without asking; a wrong one is named.
    let palette_line = |app: &mut App, line: &str| {
        app.key(key(KeyCode::Char(':')));
        for c in line.chars() {
            app.key(key(KeyCode::Char(c)));
        }
        app.key(key(KeyCode::Enter))
    };
    let r = env_request(palette_line(&mut app, "env export dev env"));
    assert!(
        matches!(&r, EnvRequest::Export { env, format: ExportFormat::Env } if env == "dev"),
        "{r:?}"
    );
    assert!(palette_line(&mut app, "env export dev yaml").is_none());
    assert_eq!(
        app.message.as_deref(),
        Some("env export: unknown \"yaml\"; choose compose, pod, env")
    );
    let r = env_request(palette_line(&mut app, "env logs production web"));
    assert!(
        matches!(&r, EnvRequest::Logs { env, service: Some(s) } if env == "production" && s == "web"),
        "{r:?}"
    );
    assert_eq!(app.pane, Pane::Logs);
}

#[test]
fn help_lists_the_environment_keys_and_settings_change_them() {
    let mut f = fixture();
    f.app.key(key(KeyCode::Char('?')));
    let s = render(&f.app, 110, 50);
    assert!(s.contains("on an environment (Environments pane)"), "{s}");
    assert!(s.contains("start the environment"), "{s}");
    assert!(s.contains("stop it, y/N (data kept)"), "{s}");
    for line in [
        "restart its deployment, y/N",
        "run its init files (table)",
        "deploy its deployment file",
        "its variables and where they land",
        "export compose, pod or env",
        "logs of all its containers",
    ] {
        assert!(s.contains(line), "{line}:\n{s}");
    }
    f.app.key(key(KeyCode::Esc));
    // keys: {env-start: o}: `o` starts, `s` no longer does.
    let settings: sdtui::tui::Settings = serde_saphyr::from_str("keys:\n  env-start: o\n").unwrap();
    settings.apply(&mut f.app, None).unwrap();
    assert!(f.app.key(key(KeyCode::Char('s'))).is_none());
    let r = env_request(f.app.key(key(KeyCode::Char('o'))));
    assert!(matches!(r, EnvRequest::Run { verb: "start", .. }), "{r:?}");
}

#[test]
fn restart_shows_what_restarts_and_asks_y_or_n() {
    let mut f = fixture();
    f.app.apply(Msg::Env(EnvMsg::Live(Ok(live()))));
    select(&mut f, "production");
    let r = env_request(f.app.key(key(KeyCode::Char('R'))));
    assert!(
        matches!(&r, EnvRequest::Preview { verb: "restart", env } if env == "production"),
        "{r:?}"
    );
    // What the task reads: the deployment's containers (fake here; the
    // tmux test reads real ones).
    let mut web = row(
        "production",
        "deploy/app-compose.yml",
        "web",
        "running",
        None,
    );
    web.ports = vec![];
    f.app.apply(Msg::Env(EnvMsg::Preview(
        "production".into(),
        Ok(vec![web]),
    )));
    let s = screen(&f);
    assert!(
        s.contains("These containers of production's deployment are restarted in place:"),
        "{s}"
    );
    assert!(
        s.contains("web (deploy/app-compose.yml) on VM local  running"),
        "{s}"
    );
    assert!(
        s.contains("y restarts it · n or Esc leaves it as it is"),
        "{s}"
    );
    assert!(!s.contains("volumes (the data)"), "{s}");
    insta::assert_snapshot!("envs_restart_review", s);
    let r = env_request(f.app.key(key(KeyCode::Char('y'))));
    assert!(
        matches!(&r, EnvRequest::Run { verb: "restart", env } if env == "production"),
        "{r:?}"
    );
    f.app.apply(Msg::Env(EnvMsg::Step(
        "production".into(),
        "env production: restart every service of the deployment".into(),
    )));
    let s = screen(&f);
    assert!(
        s.lines()
            .last()
            .unwrap()
            .contains("env production: restart every service of the deployment"),
        "{s}"
    );
    assert!(s.contains("│production   restart: "), "{s}");
    // No deployment: the engine's refusal, and y does nothing.
    select(&mut f, "dev");
    f.app.key(key(KeyCode::Char('R')));
    f.app.apply(Msg::Env(EnvMsg::Preview(
        "dev".into(),
        Err("environment dev has no deployment to restart\nhint: name one under `deployment:` in config.yml".into()),
    )));
    let s = screen(&f);
    assert!(
        s.contains("cannot read what runs: environment dev has no deployment to restart"),
        "{s}"
    );
    assert!(
        s.contains("hint: name one under `deployment:` in config.yml"),
        "{s}"
    );
    assert!(s.contains("Esc closes"), "{s}");
    assert!(f.app.key(key(KeyCode::Char('y'))).is_none());
}

fn init_report() -> InitReport {
    let row = |service: &str, code: Option<i64>, outcome: &str, logs: &[&str]| InitRow {
        file: "deploy/init-compose.yml".into(),
        service: service.into(),
        exit_code: code,
        seconds: 1.4,
        outcome: outcome.into(),
        last_logs: logs.iter().map(|l| l.to_string()).collect(),
    };
    InitReport {
        env: "production".into(),
        rows: vec![
            row(
                "migrate",
                Some(0),
                "exited",
                &["CREATE TABLE", "INSERT 0 1", "migrated"],
            ),
            row("seed", Some(0), "exited", &["seeded 12 rows"]),
        ],
    }
}

#[test]
fn init_runs_in_the_background_then_shows_its_table() {
    let mut f = fixture();
    f.app.apply(Msg::Env(EnvMsg::Live(Ok(live()))));
    select(&mut f, "production");
    let r = env_request(f.app.key(key(KeyCode::Char('i'))));
    assert!(
        matches!(&r, EnvRequest::Run { verb: "init", env } if env == "production"),
        "{r:?}"
    );
    assert!(f.app.env_dialog.is_none());
    f.app.apply(Msg::Env(EnvMsg::Step(
        "production".into(),
        "env production: init: migrate exited 0 (1.4s)".into(),
    )));
    let s = screen(&f);
    assert!(
        s.lines()
            .last()
            .unwrap()
            .contains("env production: init: migrate exited 0 (1.4s)"),
        "{s}"
    );
    // Its end: the table the CLI prints, as a dialog, and the footer.
    let lines = sdtui::tui::envs::tasks::init_lines("production", &init_report());
    f.app.apply(Msg::Env(EnvMsg::Report(
        "production".into(),
        "init",
        Ok(lines),
    )));
    f.app.apply(Msg::Env(EnvMsg::Done(
        "production".into(),
        Ok("env production: init: 2 containers exited 0".into()),
    )));
    let s = screen(&f);
    assert!(s.contains("env init production · Esc closes"), "{s}");
    assert!(
        s.contains("FILE                     SERVICE  EXIT  TIME  LAST LOG LINES"),
        "{s}"
    );
    assert!(
        s.contains("deploy/init-compose.yml  migrate  0     1.4s  CREATE TABLE"),
        "{s}"
    );
    assert!(s.contains("migrated"), "{s}");
    insta::assert_snapshot!("envs_init_table", s);
    f.app.key(key(KeyCode::Esc));
    assert!(f.app.env_dialog.is_none());

    // A failure: the error with its table and the retry hint.
    f.app.key(key(KeyCode::Char('i')));
    let mut failed = init_report();
    failed.rows[1].exit_code = Some(3);
    failed.rows[1].last_logs = vec!["ERROR: relation \"users\" does not exist".into()];
    let error = format!(
        "env init production failed: env production: init container seed (deploy/init-compose.yml) exited with code 3; the init phase stopped, the deployment was not touched\n\n{}\nhint: fix it, then retry: sdtui env init production (nothing else was changed)",
        sdtui::env::ops::render_init(&failed.rows).trim_end()
    );
    f.app.apply(Msg::Env(EnvMsg::Report(
        "production".into(),
        "init",
        Err(error.clone()),
    )));
    f.app
        .apply(Msg::Env(EnvMsg::Done("production".into(), Err(error))));
    let s = screen(&f);
    assert!(s.contains("exited with code 3"), "{s}");
    assert!(s.contains("seed     3     1.4s  ERROR: relation"), "{s}");
    assert!(
        s.contains("hint: fix it, then retry: sdtui env init production"),
        "{s}"
    );
    insta::assert_snapshot!("envs_init_failed", s);
    assert!(f.app.env_busy.is_empty());
}

#[test]
fn deploy_runs_in_the_background() {
    let mut f = fixture();
    select(&mut f, "production");
    let r = env_request(f.app.key(key(KeyCode::Char('d'))));
    assert!(
        matches!(&r, EnvRequest::Run { verb: "deploy", env } if env == "production"),
        "{r:?}"
    );
    // One run per environment at a time.
    assert!(f.app.key(key(KeyCode::Char('i'))).is_none());
    assert!(
        f.app
            .message
            .clone()
            .unwrap()
            .contains("env deploy production is already in progress")
    );
}

#[test]
fn migrate_runs_in_the_background_then_shows_its_row() {
    let mut f = fixture();
    select(&mut f, "production");
    let r = env_request(f.app.key(key(KeyCode::Char('M'))));
    assert!(
        matches!(&r, EnvRequest::Run { verb: "migrate", env } if env == "production"),
        "{r:?}"
    );
    // The engine's row, as `db migrate --env` prints it, in a text dialog.
    let rows = sdtui::env::ops::render_init(&init_report().rows);
    let mut lines = vec![sdtui::env::live::ConfigLine {
        text: "env production: the migrate command exited 0 (the deployment was not touched)"
            .into(),
        secret: None,
    }];
    lines.extend(rows.lines().map(|l| sdtui::env::live::ConfigLine {
        text: l.to_string(),
        secret: None,
    }));
    f.app.apply(Msg::Env(EnvMsg::Report(
        "production".into(),
        "migrate",
        Ok(lines),
    )));
    let screen = screen(&f);
    assert!(screen.contains("the migrate command exited 0"), "{screen}");
    // The palette says the same verb.
    f.app.key(key(KeyCode::Esc));
    f.app.key(key(KeyCode::Char(':')));
    for c in "env migrate staging".chars() {
        f.app.key(key(KeyCode::Char(c)));
    }
    let r = env_request(f.app.key(key(KeyCode::Enter)));
    assert!(
        matches!(&r, EnvRequest::Run { verb: "migrate", env } if env == "staging"),
        "{r:?}"
    );
}

#[test]
fn dry_run_is_masked_until_r_reveals_the_selected_line() {
    let mut f = fixture();
    select(&mut f, "production");
    let r = env_request(f.app.key(key(KeyCode::Char('D'))));
    assert!(
        matches!(&r, EnvRequest::Text { verb: "dry-run", env } if env == "production"),
        "{r:?}"
    );
    // What the task reads: the engine's dry-run, line by line.
    let lines = sdtui::env::live::dry_run_lines(&f.ws, &f.project, "production").unwrap();
    let cli = sdtui::env::ops::dry_run(&f.ws, &f.project, "production", false).unwrap();
    assert_eq!(
        lines.iter().map(|l| l.text.as_str()).collect::<Vec<_>>(),
        cli.lines().collect::<Vec<_>>(),
        "the same table as the CLI"
    );
    f.app.apply(Msg::Env(EnvMsg::Text(
        "production".into(),
        Ok(lines.clone()),
    )));
    let s = screen(&f);
    assert!(s.contains("VARIABLE"), "{s}");
    assert!(s.contains("deploy/app-compose.yml:"), "{s}");
    assert!(s.contains("LOG_LEVEL"), "{s}");
    let secret_line = lines.iter().position(|l| l.secret.is_some()).unwrap();
    let value = lines[secret_line].secret.clone().unwrap();
    let revealed = sdtui::env::ops::dry_run(&f.ws, &f.project, "production", true).unwrap();
    assert!(revealed.contains(&value), "the value is the revealed one");
    assert!(!s.contains(&value), "masked until asked:\n{s}");
    insta::assert_snapshot!("envs_dry_run_masked", s);
    f.app.key(key(KeyCode::Char('r')));
    assert_eq!(f.app.message.as_deref(), Some("no secret on this line"));
    for _ in 0..secret_line {
        f.app.key(key(KeyCode::Char('j')));
    }
    f.app.key(key(KeyCode::Char('r')));
    // The revealed URL is long: it wraps (whole on a wide screen).
    assert!(render(&f.app, 240, 26).contains(&value));
    let s = screen(&f);
    let head: String = value.chars().take(60).collect();
    assert!(s.contains(&head), "{s}");
    f.app.key(key(KeyCode::Char('r')));
    assert!(!render(&f.app, 240, 26).contains(&value));
    f.app.key(key(KeyCode::Esc));
    assert!(f.app.env_dialog.is_none());
}

#[test]
fn export_asks_the_format_then_shows_the_paths_written() {
    let mut f = fixture();
    select(&mut f, "production");
    assert!(f.app.key(key(KeyCode::Char('x'))).is_none());
    let s = screen(&f);
    assert!(s.contains("export production as:"), "{s}");
    assert!(s.contains("into ./export-production/"), "{s}");
    insta::assert_snapshot!("envs_export_choose", s);
    // Esc writes nothing.
    f.app.key(key(KeyCode::Esc));
    assert!(f.app.env_dialog.is_none());
    assert_eq!(
        f.app.message.as_deref(),
        Some("env export production: nothing was written")
    );
    // → then Enter: the second format; a first letter picks directly.
    f.app.key(key(KeyCode::Char('x')));
    f.app.key(key(KeyCode::Right));
    let r = env_request(f.app.key(key(KeyCode::Enter)));
    assert!(
        matches!(&r, EnvRequest::Export { env, format: ExportFormat::Pod } if env == "production"),
        "{r:?}"
    );
    f.app.key(key(KeyCode::Char('x')));
    let r = env_request(f.app.key(key(KeyCode::Char('c'))));
    assert!(
        matches!(
            &r,
            EnvRequest::Export {
                format: ExportFormat::Compose,
                ..
            }
        ),
        "{r:?}"
    );
    // What the task writes (the engine's export; here into the test's
    // folder) and shows.
    let out = f.root.path().join("export-production");
    let files =
        sdtui::env::ops::export(&f.ws, &f.project, "production", ExportFormat::Compose, &out)
            .unwrap();
    assert!(files.iter().all(|x| x.path.is_file()));
    let lines =
        sdtui::tui::envs::tasks::exported_lines("production", ExportFormat::Compose, &files);
    f.app.apply(Msg::Env(EnvMsg::Report(
        "production".into(),
        "export",
        Ok(lines),
    )));
    f.app.apply(Msg::Note(format!(
        "env export production: {} files written into {}",
        files.len(),
        out.display()
    )));
    let s = screen(&f);
    assert!(
        s.contains("wrote <root>/export-production/docker-compose.yml (600)"),
        "{s}"
    );
    assert!(s.contains("holds secrets in the clear, as"), "{s}");
    assert!(
        s.contains("env export production: 2 files written into <root>/export-production"),
        "{s}"
    );
    insta::assert_snapshot!("envs_export_written", s);
}

#[test]
fn logs_open_the_logs_pane_on_the_environment_or_one_instance() {
    let mut f = fixture();
    f.app.apply(Msg::Env(EnvMsg::Live(Ok(live()))));
    select(&mut f, "staging");
    let r = env_request(f.app.key(key(KeyCode::Char('l'))));
    assert!(
        matches!(&r, EnvRequest::Logs { env, service: None } if env == "staging"),
        "{r:?}"
    );
    assert_eq!(f.app.pane, Pane::Logs);
    // What the event loop does with it: the pane follows under this label.
    f.app
        .logs
        .restart(sdtui::tui::envs::logs_label("staging", None));
    f.app.apply(Msg::Logs(vec![(
        false,
        String::new(),
        "redis-session    | Ready to accept connections".into(),
    )]));
    let s = screen(&f);
    assert!(s.contains("Logs · env-staging"), "{s}");
    assert!(
        s.contains("redis-session    | Ready to accept connections"),
        "{s}"
    );
    // Esc: back to the Environments pane.
    f.app.key(key(KeyCode::Esc));
    assert_eq!(f.app.pane, Pane::Environments);
    // Enter, then Enter on an instance: that one's logs.
    f.app.key(key(KeyCode::Enter));
    f.app.key(key(KeyCode::Char('j')));
    let r = env_request(f.app.key(key(KeyCode::Enter)));
    assert!(
        matches!(&r, EnvRequest::Logs { env, service: Some(s) } if env == "staging" && s == "redis-session"),
        "{r:?}"
    );
    assert!(f.app.env_dialog.is_none());
    assert_eq!(f.app.pane, Pane::Logs);
}
