//! `D` and `:doctor` in the console: the request it hands the event loop
//! (a task, never run inside the frame), "checking …" on the rows it
//! covers meanwhile, then each attachment's verdict on its Attachments
//! row, drawn into ratatui's TestBackend and compared with insta
//! snapshots.

mod common;

use common::tui::{key, render};

use crossterm::event::KeyCode;
use sdtui::contract::doctor::{AttachmentReport, Failure, Verdict};
use sdtui::engine::{Operation, Workspace};
use sdtui::tui::{App, Msg, ProjectView, Request, theme::Theme};

fn app() -> (tempfile::TempDir, App) {
    let root = common::root_with("cheapa");
    let mut ws = Workspace::open(root.path().to_path_buf(), None).unwrap();
    ws.test_seed = Some(7);
    let project = ws.project(Some("cheapa")).unwrap();
    ws.run(&project, &Operation::Sync, false).unwrap();
    let view = ProjectView::read(&ws, &project).unwrap();
    (root, App::new(Theme::dark(), vec!["cheapa".into()], view))
}

fn report(
    app: &str,
    addon: &str,
    prefix: &str,
    access: &str,
    verdict: Verdict,
) -> AttachmentReport {
    AttachmentReport {
        app: app.into(),
        addon: addon.into(),
        prefix: prefix.into(),
        access: access.into(),
        vm: "app".into(),
        verdict,
        proven: vec![],
    }
}

fn failed(failure: Failure, detail: &str) -> Verdict {
    Verdict::Failed {
        failure,
        detail: detail.into(),
    }
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        app.key(key(KeyCode::Char(c)));
    }
}

#[test]
fn doctor_runs_as_a_task_and_shows_each_verdict_on_its_row() {
    let (_root, mut app) = app();
    // D from any pane: the Attachments pane, every app, as a task.
    match app.key(key(KeyCode::Char('D'))) {
        Some(Request::Doctor(None)) => {}
        other => panic!("{other:?}"),
    }
    let checking = render(&app, 110, 20);
    assert_eq!(checking.matches("checking …").count(), 11, "{checking}");
    insta::assert_snapshot!("doctor_checking", checking);
    // A second D meanwhile starts nothing.
    assert!(app.key(key(KeyCode::Char('D'))).is_none());
    assert!(render(&app, 110, 20).contains("doctor is already running"));

    let reports = vec![
        report(
            "api",
            "databases.primary",
            "DATABASE",
            "readwrite",
            Verdict::Ok,
        ),
        report(
            "api",
            "databases.analytics",
            "ANALYTICS",
            "readonly",
            failed(Failure::Writable, "cheapa_analytics_readonly could write"),
        ),
        report(
            "api",
            "caches.session",
            "CACHE",
            "readwrite",
            failed(
                Failure::Auth,
                "AUTH failed: WRONGPASS invalid username-password pair or user is disabled.",
            ),
        ),
        report(
            "api",
            "queues.main",
            "RABBITMQ",
            "readwrite",
            Verdict::Unchecked {
                why: "type rabbitmq has no doctor: checks in its addon.yml".into(),
            },
        ),
        report(
            "api",
            "search.products",
            "ELASTICSEARCH",
            "readwrite",
            Verdict::Unchecked {
                why: "type elasticsearch has no doctor: checks in its addon.yml".into(),
            },
        ),
        report(
            "services",
            "databases.primary",
            "DB",
            "readwrite",
            Verdict::Ok,
        ),
        report(
            "services",
            "queues.main",
            "QUEUE",
            "readwrite",
            Verdict::Unchecked {
                why: "type rabbitmq has no doctor: checks in its addon.yml".into(),
            },
        ),
        report(
            "services",
            "queues.priority",
            "PRIORITY_QUEUE",
            "readwrite",
            Verdict::Unchecked {
                why: "type rabbitmq has no doctor: checks in its addon.yml".into(),
            },
        ),
        report(
            "storefront",
            "databases.primary",
            "DATABASE",
            "readonly",
            failed(
                Failure::Dns,
                "psql: error: could not translate host name \"10.0.0.2x\" to address",
            ),
        ),
        report(
            "storefront",
            "caches.products",
            "CACHE",
            "readwrite",
            failed(
                Failure::Refused,
                "Could not connect to Redis at 10.0.0.3:6380: Connection refused",
            ),
        ),
        report(
            "storefront",
            "search.products",
            "SEARCH",
            "readwrite",
            Verdict::Unchecked {
                why: "type elasticsearch has no doctor: checks in its addon.yml".into(),
            },
        ),
    ];
    app.apply(Msg::Doctor(Ok(reports)));
    let done = render(&app, 110, 20);
    assert!(
        done.contains("doctor: 4 of 11 attachments failed"),
        "{done}"
    );
    assert!(
        done.contains("writable when it should be readonly"),
        "{done}"
    );
    assert!(!done.contains("checking"), "{done}");
    insta::assert_snapshot!("doctor_results", done);
    // The selected row's whole verdict on the footer, past what the cell shows.
    app.key(key(KeyCode::Char('j')));
    let selected = render(&app, 110, 20);
    assert!(
        selected.contains(
            "api ANALYTICS: writable when it should be readonly: cheapa_analytics_readonly could write"
        ),
        "{selected}"
    );

    // `:doctor storefront`: that app's rows alone are checked again.
    app.key(key(KeyCode::Char(':')));
    typed(&mut app, "doctor storefront");
    match app.key(key(KeyCode::Enter)) {
        Some(Request::Doctor(Some(a))) if a == "storefront" => {}
        other => panic!("{other:?}"),
    }
    let partial = render(&app, 110, 20);
    assert_eq!(partial.matches("checking …").count(), 3, "{partial}");
    assert!(
        partial.contains("writable when it should be readonly"),
        "{partial}"
    );
    app.apply(Msg::Doctor(Ok(vec![report(
        "storefront",
        "databases.primary",
        "DATABASE",
        "readonly",
        Verdict::Ok,
    )])));
    let after = render(&app, 110, 20);
    assert!(after.contains("doctor: 1 attachments ok"), "{after}");
    assert!(
        after.contains("writable when it should be readonly"),
        "{after}"
    );

    // An app that is not there: said on the footer, nothing started.
    app.key(key(KeyCode::Char(':')));
    typed(&mut app, "doctor nosuch");
    assert!(app.key(key(KeyCode::Enter)).is_none());
    let said = render(&app, 110, 20);
    assert!(
        said.contains("no app nosuch; apps: api, services, storefront"),
        "{said}"
    );

    // A run that could not start says why.
    app.key(key(KeyCode::Char('D')));
    app.apply(Msg::Doctor(Err("VM app: connection refused".into())));
    assert!(render(&app, 110, 20).contains("doctor: VM app: connection refused"));
}
