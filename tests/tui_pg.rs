//! The console's Postgres dialog: `P` on a postgres row opens the palette
//! at `pg `, the verb applies to the selected instance; the engine's plan
//! is reviewed before anything runs (`y`), the run's steps stream in, and
//! Esc on the review changes nothing. Drawn into ratatui's TestBackend and
//! compared with insta snapshots.

mod common;

use common::tui::{key, render};

use crossterm::event::KeyCode;
use sdtui::engine::{Operation, Workspace};
use sdtui::tui::pg::{PgMsg, PgOp, PgRequest};
use sdtui::tui::{App, Msg, ProjectView, Request, theme::Theme};

fn fixture() -> (tempfile::TempDir, Workspace, sdtui::engine::Project, App) {
    let root = common::root_with("cheapa");
    let mut ws = Workspace::open(root.path().to_path_buf(), None).unwrap();
    ws.test_seed = Some(7);
    let project = ws.project(Some("cheapa")).unwrap();
    ws.run(&project, &Operation::Sync, false).unwrap();
    let view = ProjectView::read(&ws, &project).unwrap();
    let mut app = App::new(Theme::dark(), vec!["cheapa".into()], view);
    app.key(key(KeyCode::Char('2')));
    (root, ws, project, app)
}

fn typed(app: &mut App, text: &str) -> Option<Request> {
    let mut last = None;
    for c in text.chars() {
        last = app.key(key(KeyCode::Char(c)));
    }
    last
}

#[test]
fn p_plans_a_follower_of_the_selected_instance_then_runs_it_on_y() {
    let (_root, ws, project, mut app) = fixture();
    assert!(app.key(key(KeyCode::Char('P'))).is_none());
    insta::assert_snapshot!("pg_palette", render(&app, 100, 24));
    typed(&mut app, "follow replica");
    let r = app.key(key(KeyCode::Enter));
    let Some(Request::Pg(PgRequest::Plan(op))) = r else {
        panic!("{r:?}")
    };
    assert_eq!(
        op,
        PgOp::Follow {
            leader: "databases.primary".into(),
            name: "replica".into()
        }
    );
    insta::assert_snapshot!("pg_planning", render(&app, 100, 24));

    // The engine's own plan, as the task sends it.
    let plan = ws
        .plan(
            &project,
            &Operation::Follow {
                leader: "databases.primary".into(),
                name: "replica".into(),
                plan: None,
                vm: None,
            },
        )
        .unwrap();
    let lines: Vec<String> = plan
        .notes
        .iter()
        .map(|n| format!("note: {n}"))
        .chain(plan.diff(false).lines().map(String::from))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("+      follows: databases.primary"))
    );
    app.apply(Msg::Pg(PgMsg::Planned(Ok((lines, true)))));
    let review = render(&app, 100, 24);
    assert!(review.contains("y/Enter run"), "{review}");
    assert!(
        review.contains("pg follow databases.primary --name replica"),
        "{review}"
    );
    insta::assert_snapshot!("pg_review", review);

    // y runs it; steps stream in; the end says how it went.
    let r = app.key(key(KeyCode::Char('y')));
    assert!(
        matches!(&r, Some(Request::Pg(PgRequest::Run(PgOp::Follow { .. })))),
        "{r:?}"
    );
    app.apply(Msg::Pg(PgMsg::Step("a step of the run".into())));
    app.apply(Msg::Pg(PgMsg::Done(Ok(
        "3 file(s) written: `u` (up) starts the follower of databases.primary".into(),
    ))));
    let done = render(&app, 100, 24);
    assert!(done.contains("a step of the run"), "{done}");
    assert!(done.contains("3 file(s) written"), "{done}");
    insta::assert_snapshot!("pg_done", done);
    app.key(key(KeyCode::Char('x')));
    assert!(!render(&app, 100, 24).contains("3 file(s) written: `u`"));
}

#[test]
fn a_refused_plan_cannot_run_and_esc_changes_nothing() {
    let (_root, _ws, _project, mut app) = fixture();
    app.key(key(KeyCode::Char(':')));
    typed(&mut app, "pg upgrade databases.primary 17");
    let r = app.key(key(KeyCode::Enter));
    assert!(
        matches!(&r, Some(Request::Pg(PgRequest::Plan(PgOp::Upgrade { version: Some(v), .. }))) if v == "17"),
        "{r:?}"
    );
    app.apply(Msg::Pg(PgMsg::Planned(Ok((
        vec!["cannot be carried by logical replication: large objects: 3".into()],
        false,
    )))));
    // y does nothing on a refused plan; Esc closes.
    assert!(app.key(key(KeyCode::Char('y'))).is_none());
    assert!(render(&app, 100, 24).contains("refused"));
    assert!(app.key(key(KeyCode::Esc)).is_none());
    assert!(!render(&app, 100, 24).contains("large objects"));
    // A palette line without a follower's name: said on the footer.
    app.key(key(KeyCode::Char(':')));
    typed(&mut app, "pg follow");
    assert!(app.key(key(KeyCode::Enter)).is_none());
    assert!(render(&app, 100, 24).contains("usage: pg follow"));
}

#[test]
fn a_selected_followers_lag_shows_beside_its_figures() {
    let (_root, ws, project, _) = fixture();
    ws.run(
        &project,
        &Operation::Follow {
            leader: "databases.primary".into(),
            name: "replica".into(),
            plan: None,
            vm: None,
        },
        false,
    )
    .unwrap();
    let view = ProjectView::read(&ws, &project).unwrap();
    let row = view
        .addons
        .iter()
        .position(|a| a.id == "databases.replica")
        .unwrap();
    let mut app = App::new(Theme::dark(), vec!["cheapa".into()], view);
    app.key(key(KeyCode::Char('2')));
    // The leader's row: no lag to read.
    assert_eq!(app.lag_target(), None);
    for _ in 0..row {
        app.key(key(KeyCode::Char('j')));
    }
    assert_eq!(app.lag_target().as_deref(), Some("databases.replica"));
    // What the event loop does once the reader starts, then a reading.
    app.lag = Some(("databases.replica".into(), None));
    app.metrics = Some(sdtui::tui::metrics::Selected {
        vm: "core".into(),
        container: "c1".into(),
        label: "postgres-replica".into(),
        figures: None,
    });
    assert!(render(&app, 120, 24).contains("lag reading"));
    app.apply(Msg::Lag(
        "databases.replica".into(),
        "0 B, 0.000 s behind databases.primary".into(),
    ));
    let screen = render(&app, 120, 24);
    assert!(
        screen.contains("lag 0 B, 0.000 s behind databases.primary"),
        "{screen}"
    );
    // Another follower's reading is not this one's.
    app.apply(Msg::Lag("databases.other".into(), "9 B".into()));
    assert!(!render(&app, 120, 24).contains("lag 9 B"));
}
