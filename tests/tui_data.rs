//! The console's data-safety dialogs — backups list, restore (plan, name
//! typed back, steps, end), rotation (plan from the engine, steps, end) and
//! connect — driven by keys and task reports, drawn into ratatui's
//! TestBackend and compared with insta snapshots.

mod common;

use common::tui::{key, render};

use crossterm::event::KeyCode;
use sdtui::backup::restore::RestorePlan;
use sdtui::backup::{Drill, Manifest};
use sdtui::engine::{Operation, Workspace};
use sdtui::tui::data::{DataMsg, DataRequest, Stage};
use sdtui::tui::{App, Msg, ProjectView, Request, theme::Theme};

struct Fixture {
    _root: tempfile::TempDir,
    ws: Workspace,
    project: sdtui::engine::Project,
    app: App,
}

fn fixture() -> Fixture {
    let root = common::root_with("cheapa");
    let mut ws = Workspace::open(root.path().to_path_buf(), None).unwrap();
    ws.test_seed = Some(7);
    let project = ws.project(Some("cheapa")).unwrap();
    ws.run(&project, &Operation::Sync, false).unwrap();
    let view = ProjectView::read(&ws, &project).unwrap();
    let mut app = App::new(Theme::dark(), vec!["cheapa".into()], view);
    app.key(key(KeyCode::Char('2')));
    Fixture {
        _root: root,
        ws,
        project,
        app,
    }
}

fn manifest(id: &str, created: &str, size: u64, drill: &str, detail: Option<&str>) -> Manifest {
    Manifest {
        id: id.into(),
        addon: "databases.primary".into(),
        type_name: "postgres".into(),
        image: "postgres:15".into(),
        vm: "core".into(),
        file: format!("{id}.dump"),
        created: created.into(),
        size,
        sha256: "3fa9c01b2d4e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a".into(),
        dump_seconds: 0.4,
        inventory: Default::default(),
        inventory_after: None,
        trigger: if id.ends_with("T020000Z") {
            "schedule".into()
        } else {
            "manual".into()
        },
        drill: Drill {
            status: drill.into(),
            detail: detail.map(Into::into),
            checked: if drill == "not run" { 0 } else { 7 },
            seconds: 2.5,
        },
    }
}

/// Oldest first, as the engine lists them.
fn three_backups() -> Vec<Manifest> {
    vec![
        manifest(
            "primary-20261128T020000Z",
            "2026-11-28T02:00:00Z",
            812,
            "not run",
            None,
        ),
        manifest(
            "primary-20261129T020000Z",
            "2026-11-29T02:00:00Z",
            1_234_567,
            "failed",
            Some("table public.orders: 1000 rows at dump time, 998 restored"),
        ),
        manifest(
            "primary-20261130T180501Z",
            "2026-11-30T18:05:01Z",
            1_456_789,
            "passed",
            None,
        ),
    ]
}

fn data_request(r: Option<Request>) -> DataRequest {
    match r {
        Some(Request::Data(d)) => d,
        other => panic!("expected a dialog task, got {other:?}"),
    }
}

/// Ages in snapshots are counted from a fixed "now".
fn fix_now(app: &mut App) {
    if let Some(d) = app.data.as_mut()
        && let Stage::Backups { loaded_at, .. } = &mut d.stage
    {
        *loaded_at = chrono::DateTime::parse_from_rfc3339("2026-11-30T20:05:01Z")
            .unwrap()
            .into();
    }
}

#[test]
fn backups_list_loads_in_the_background_and_shows_each_drill() {
    let mut f = fixture();
    // B on databases.primary: the dialog opens at once, the list is a task.
    let r = data_request(f.app.key(key(KeyCode::Char('B'))));
    assert!(
        matches!(&r, DataRequest::ListBackups(a) if a == "databases.primary"),
        "{r:?}"
    );
    insta::assert_snapshot!("backups_loading", render(&f.app, 110, 24));

    f.app.apply(Msg::Data(DataMsg::Backups(
        "databases.primary".into(),
        Ok(three_backups()),
    )));
    fix_now(&mut f.app);
    let screen = render(&f.app, 110, 24);
    // Newest first: the passed one, 2 h old.
    let newest = screen
        .lines()
        .position(|l| l.contains("primary-20261130T180501Z"))
        .unwrap();
    let oldest = screen
        .lines()
        .position(|l| l.contains("primary-20261128T020000Z"))
        .unwrap();
    assert!(newest < oldest, "{screen}");
    insta::assert_snapshot!("backups_list", screen);
    // The failed one: its first difference under the table.
    f.app.key(key(KeyCode::Char('j')));
    let screen = render(&f.app, 110, 24);
    assert!(
        screen.contains("restore drill FAILED: table public.orders: 1000 rows at dump time, 998"),
        "{screen}"
    );
    insta::assert_snapshot!("backups_list_failed_drill", screen);
    // The palette now completes those ids.
    assert_eq!(f.app.known_backups["databases.primary"].len(), 3);
    // Esc closes; nothing asked of the engine.
    assert!(f.app.key(key(KeyCode::Esc)).is_none());
    assert!(f.app.data.is_none());

    // No backups yet, and an engine error, said in the dialog.
    f.app.key(key(KeyCode::Char('B')));
    f.app.apply(Msg::Data(DataMsg::Backups(
        "databases.primary".into(),
        Ok(vec![]),
    )));
    insta::assert_snapshot!("backups_empty", render(&f.app, 110, 24));
    f.app.key(key(KeyCode::Esc));
    f.app.key(key(KeyCode::Char('B')));
    f.app.apply(Msg::Data(DataMsg::Backups(
        "databases.primary".into(),
        Err("VM core: cannot connect to 127.0.2.3:2222: connection refused\nhint: is sshd running there?".into()),
    )));
    let screen = render(&f.app, 110, 24);
    assert!(screen.contains("connection refused"), "{screen}");
    assert!(screen.contains("hint: is sshd running there?"), "{screen}");
}

fn restore_plan() -> RestorePlan {
    RestorePlan {
        backup: three_backups().pop().unwrap(),
        target: "databases.primary".into(),
        target_env: None,
        target_vm: "core".into(),
        apps: vec![
            ("api".into(), "app".into()),
            ("services".into(), "app".into()),
        ],
        deployment: None,
    }
}

#[test]
fn restore_shows_the_plan_and_runs_only_with_the_name_typed_back() {
    let mut f = fixture();
    f.app.key(key(KeyCode::Char('B')));
    f.app.apply(Msg::Data(DataMsg::Backups(
        "databases.primary".into(),
        Ok(three_backups()),
    )));
    // Enter on the newest: the engine plans the restore (a task).
    let r = data_request(f.app.key(key(KeyCode::Enter)));
    match &r {
        DataRequest::PlanRestore {
            addon,
            backup,
            into,
        } => {
            assert_eq!(addon, "databases.primary");
            assert_eq!(backup, "primary-20261130T180501Z");
            assert_eq!(into, &None);
        }
        other => panic!("{other:?}"),
    }
    insta::assert_snapshot!("restore_planning", render(&f.app, 100, 24));
    f.app.apply(Msg::Data(DataMsg::RestorePlanned(Ok(Box::new(
        restore_plan(),
    )))));
    let screen = render(&f.app, 100, 24);
    for text in [
        "sha256 3fa9c01b2d4e… and size checked first; a mismatch touches nothing",
        "databases.primary on VM core",
        "data written since the backup is lost",
        "api (VM app): stopped before, started after",
        "services (VM app): stopped before, started after",
        "Type databases.primary to restore it:",
    ] {
        assert!(screen.contains(text), "no {text:?} in:\n{screen}");
    }
    insta::assert_snapshot!("restore_review", screen);

    // Enter with a wrong name: refused in the dialog, nothing asked.
    for c in "databases.prim".chars() {
        f.app.key(key(KeyCode::Char(c)));
    }
    assert!(f.app.key(key(KeyCode::Enter)).is_none());
    let screen = render(&f.app, 100, 24);
    assert!(
        screen.contains("type databases.primary exactly; nothing happens until then"),
        "{screen}"
    );
    insta::assert_snapshot!("restore_review_wrong_name", screen);
    // Esc: the dialog goes, nothing runs.
    assert!(f.app.key(key(KeyCode::Esc)).is_none());
    assert!(f.app.data.is_none());

    // From the palette, straight to the plan; the right name runs it.
    f.app.key(key(KeyCode::Char(':')));
    for c in "restore databases.primary primary-20261130T180501Z".chars() {
        f.app.key(key(KeyCode::Char(c)));
    }
    let r = data_request(f.app.key(key(KeyCode::Enter)));
    assert!(matches!(r, DataRequest::PlanRestore { .. }), "{r:?}");
    f.app.apply(Msg::Data(DataMsg::RestorePlanned(Ok(Box::new(
        restore_plan(),
    )))));
    for c in "databases.primary".chars() {
        f.app.key(key(KeyCode::Char(c)));
    }
    match data_request(f.app.key(key(KeyCode::Enter))) {
        DataRequest::Restore(plan, typed) => {
            assert_eq!(typed, "databases.primary");
            assert_eq!(plan.backup.id, "primary-20261130T180501Z");
        }
        other => panic!("{other:?}"),
    }
    // Steps in the dialog and on the footer.
    for step in [
        "restore databases.primary: checking primary-20261130T180501Z.dump against its manifest",
        "restore databases.primary: stopping api",
        "restore databases.primary: restoring primary-20261130T180501Z into databases.primary",
    ] {
        f.app.apply(Msg::Data(DataMsg::Step(step.into())));
    }
    let screen = render(&f.app, 100, 24);
    assert!(
        screen
            .lines()
            .last()
            .unwrap()
            .contains("restoring primary-"),
        "the footer has the last step:\n{screen}"
    );
    insta::assert_snapshot!("restore_running", screen);
    // The engine's error and hint at the end.
    f.app.apply(Msg::Data(DataMsg::Done(Err(
        "restore databases.primary failed: backup primary-20261130T180501Z is altered or truncated: 10 bytes, sha256 00ff; its manifest says 1456789 bytes, sha256 3fa9; nothing was touched\nhint: restore another backup: sdtui db backups ADDON".into(),
    ))));
    let screen = render(&f.app, 100, 24);
    assert!(screen.contains("hint: restore another backup"), "{screen}");
    insta::assert_snapshot!("restore_failed", screen);
    f.app.key(key(KeyCode::Char('x')));
    assert!(f.app.data.is_none());

    // `:restore ADDON into OTHER`: the list to pick from, then the plan
    // of restoring into the other instance.
    f.app.key(key(KeyCode::Char(':')));
    for c in "restore databases.primary into databases.reports".chars() {
        f.app.key(key(KeyCode::Char(c)));
    }
    let r = data_request(f.app.key(key(KeyCode::Enter)));
    assert!(
        matches!(&r, DataRequest::ListBackups(a) if a == "databases.primary"),
        "{r:?}"
    );
    f.app.apply(Msg::Data(DataMsg::Backups(
        "databases.primary".into(),
        Ok(three_backups()),
    )));
    let screen = render(&f.app, 110, 24);
    assert!(
        screen.contains("restore the selected one into databases.reports"),
        "{screen}"
    );
    match data_request(f.app.key(key(KeyCode::Enter))) {
        DataRequest::PlanRestore { into, .. } => {
            assert_eq!(into.as_deref(), Some("databases.reports"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn rotate_reviews_the_engines_plan_without_a_secret_then_runs() {
    let mut f = fixture();
    // C on databases.primary asks the engine for the plan.
    let r = data_request(f.app.key(key(KeyCode::Char('C'))));
    assert!(
        matches!(&r, DataRequest::PlanRotate { addon, readonly: false } if addon == "databases.primary"),
        "{r:?}"
    );
    insta::assert_snapshot!("rotate_planning", render(&f.app, 100, 24));
    let plan =
        sdtui::credentials::plan::plan(&f.ws, &f.project, "databases.primary", false).unwrap();
    // The engine's own plan: secrets.yml and both apps' env files.
    assert!(
        plan.files.iter().any(|c| c.ends_with("secrets.yml")),
        "{:?}",
        plan.files
    );
    assert!(
        plan.files.iter().any(|c| c.ends_with("env/api.env")),
        "{:?}",
        plan.files
    );
    assert!(
        plan.files.iter().any(|c| c.ends_with("env/services.env")),
        "{:?}",
        plan.files
    );
    assert_eq!(
        plan.apps,
        [
            ("api".to_string(), "app".to_string()),
            ("services".to_string(), "app".to_string())
        ]
    );
    f.app.apply(Msg::Data(DataMsg::RotatePlanned(Ok(plan))));
    let screen = render(&f.app, 100, 24);
    // Secrets are never drawn: not the password, not the one-off value
    // the plan was computed with.
    let secrets = std::fs::read_to_string(f.project.secrets_path()).unwrap();
    for line in secrets.lines() {
        if let Some(v) = line.trim().strip_prefix("PASSWORD: ") {
            let v = v.trim_matches(['"', '\'']);
            assert!(!screen.contains(v), "a password on screen:\n{screen}");
        }
    }
    assert!(!screen.contains("sdtui-rotation-preview"), "{screen}");
    assert!(screen.contains("PASSWORD of cheapa_primary"), "{screen}");
    assert!(
        screen.contains("api (VM app): not running; gets it when it next starts"),
        "{screen}"
    );
    insta::assert_snapshot!("rotate_review", screen);

    // n cancels: nothing asked.
    assert!(f.app.key(key(KeyCode::Char('n'))).is_none());
    assert!(f.app.data.is_none());
    // Readonly from the palette, then y runs it.
    f.app.key(key(KeyCode::Char(':')));
    for c in "rotate databases.analytics readonly".chars() {
        f.app.key(key(KeyCode::Char(c)));
    }
    let r = data_request(f.app.key(key(KeyCode::Enter)));
    assert!(
        matches!(&r, DataRequest::PlanRotate { addon, readonly: true } if addon == "databases.analytics"),
        "{r:?}"
    );
    let plan =
        sdtui::credentials::plan::plan(&f.ws, &f.project, "databases.analytics", true).unwrap();
    assert_eq!(plan.credential, "READONLY_PASSWORD");
    // Only the app that uses the readonly login restarts.
    assert_eq!(plan.apps, [("api".to_string(), "app".to_string())]);
    f.app.apply(Msg::Data(DataMsg::RotatePlanned(Ok(plan))));
    let r = data_request(f.app.key(key(KeyCode::Char('y'))));
    assert!(
        matches!(&r, DataRequest::Rotate { addon, readonly: true } if addon == "databases.analytics"),
        "{r:?}"
    );
    f.app.apply(Msg::Data(DataMsg::Step(
        "rotate databases.analytics: postgres-analytics: changing the password of cheapa_analytics_readonly in the server".into(),
    )));
    insta::assert_snapshot!("rotate_running", render(&f.app, 100, 24));
    f.app.apply(Msg::Data(DataMsg::Done(Ok(
        "rotate databases.analytics: new READONLY_PASSWORD for cheapa_analytics_readonly; the old one is refused, the new one works; restarted api on app".into(),
    ))));
    insta::assert_snapshot!("rotate_done", render(&f.app, 100, 24));

    // A type that cannot rotate: the engine's refusal, nothing changed.
    let e = sdtui::credentials::plan::plan(&f.ws, &f.project, "search.products", false)
        .expect_err("elasticsearch declares no rotate");
    f.app.key(key(KeyCode::Char('x')));
    f.app.key(key(KeyCode::Char(':')));
    for c in "rotate search.products".chars() {
        f.app.key(key(KeyCode::Char(c)));
    }
    f.app.key(key(KeyCode::Enter));
    f.app
        .apply(Msg::Data(DataMsg::RotatePlanned(Err(e.message.clone()))));
    let screen = render(&f.app, 100, 24);
    assert!(
        screen.contains("nothing was changed: search.products"),
        "{screen}"
    );
}

#[test]
fn connect_asks_for_the_destination_off_the_loop() {
    let mut f = fixture();
    let r = data_request(f.app.key(key(KeyCode::Char('c'))));
    assert!(
        matches!(&r, DataRequest::ResolveConnect(a) if a == "databases.primary"),
        "{r:?}"
    );
    // A refusal lands on the footer; the console stays.
    assert!(
        f.app
            .apply(Msg::Data(DataMsg::ConnectReady(Err(
                "caches.x publishes no port".into()
            ))))
            .is_none()
    );
    assert_eq!(
        f.app.message.as_deref(),
        Some("connect: caches.x publishes no port")
    );
    // Not on an addon row: said, nothing asked.
    f.app.key(key(KeyCode::Char('3')));
    assert!(f.app.key(key(KeyCode::Char('c'))).is_none());
    assert_eq!(
        f.app.message.as_deref(),
        Some("no addon on this row (Addons pane)")
    );
}

#[test]
fn palette_parses_and_completes_the_data_commands() {
    use sdtui::tui::palette::{Command, candidates, parse};
    let f = fixture();
    match parse("restore databases.primary into databases.reports").unwrap() {
        Command::Restore {
            addon,
            backup,
            into,
        } => {
            assert_eq!(addon, "databases.primary");
            assert_eq!(backup, None);
            assert_eq!(into.as_deref(), Some("databases.reports"));
        }
        other => panic!("{other:?}"),
    }
    match parse("restore databases.primary b1 into databases.reports").unwrap() {
        Command::Restore { backup, into, .. } => {
            assert_eq!(backup.as_deref(), Some("b1"));
            assert_eq!(into.as_deref(), Some("databases.reports"));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        parse("rotate databases.primary readwrite")
            .unwrap_err()
            .contains("usage: rotate ADDON [readonly]")
    );
    assert!(
        parse("restore databases.primary b1 onto x")
            .unwrap_err()
            .contains("unexpected \"onto\"")
    );
    assert!(
        parse("connect")
            .unwrap_err()
            .contains("usage: connect ADDON")
    );

    let mut known = std::collections::BTreeMap::new();
    known.insert(
        "databases.primary".to_string(),
        vec!["primary-1".to_string(), "primary-2".to_string()],
    );
    let c = |line: &str| candidates(line, &f.app.view, &f.app.projects, &known);
    assert!(c("").contains(&"backups".to_string()));
    assert!(c("rot").contains(&"rotate".to_string()));
    assert!(c("connect databases.p").contains(&"databases.primary".to_string()));
    assert_eq!(c("rotate databases.primary "), ["readonly"]);
    // Newest first, then `into`.
    assert_eq!(
        c("restore databases.primary "),
        ["primary-2", "primary-1", "into"]
    );
    assert_eq!(c("restore databases.primary primary-2 "), ["into"]);
    // Into another postgres only.
    let into = c("restore databases.primary into ");
    assert!(into.contains(&"databases.reports".to_string()), "{into:?}");
    assert!(!into.iter().any(|a| a.starts_with("caches.")), "{into:?}");
    // Unknown ids: Tab reads them once (a task), nothing blocks.
    let mut f = fixture();
    f.app.key(key(KeyCode::Char(':')));
    for c in "restore databases.analytics ".chars() {
        f.app.key(key(KeyCode::Char(c)));
    }
    let r = data_request(f.app.key(key(KeyCode::Tab)));
    assert!(
        matches!(&r, DataRequest::ListBackups(a) if a == "databases.analytics"),
        "{r:?}"
    );
}
