//! Every pane and the help overlay, drawn into ratatui's TestBackend from
//! the cheapa project (as the engine reads it) and compared with insta
//! snapshots, at 80×24 and at a large size.

mod common;

use common::tui::{buffer, key, render, row_with};

use crossterm::event::KeyCode;
use sdtui::engine::{Operation, Workspace};
use sdtui::tui::{App, PANES, ProjectView, theme::Theme};

fn app() -> (tempfile::TempDir, App) {
    let root = common::root_with("cheapa");
    let mut ws = Workspace::open(root.path().to_path_buf(), None).unwrap();
    ws.test_seed = Some(7);
    let p = ws.project(Some("cheapa")).unwrap();
    ws.run(&p, &Operation::Sync, false).unwrap();
    let view = ProjectView::read(&ws, &p).unwrap();
    (root, App::new(Theme::dark(), vec!["cheapa".into()], view))
}

#[test]
fn every_pane_at_80x24() {
    let (_root, mut app) = app();
    for (i, pane) in PANES.iter().enumerate() {
        app.key(key(KeyCode::Char(char::from(b'1' + i as u8))));
        assert_eq!(app.pane, *pane);
        insta::assert_snapshot!(format!("pane_{i}_{pane:?}_80x24"), render(&app, 80, 24));
    }
}

#[test]
fn addons_on_a_large_screen_with_selection_and_help() {
    let (_root, mut app) = app();
    app.key(key(KeyCode::Char('2')));
    app.key(key(KeyCode::Char('j')));
    app.key(key(KeyCode::Char('j')));
    assert_eq!(app.selected[1], 2);
    insta::assert_snapshot!("addons_200x50", render(&app, 200, 50));
    app.key(key(KeyCode::Char('?')));
    insta::assert_snapshot!("help_80x24", render(&app, 80, 24));
    // u asks the loop for an up, run as a task.
    app.key(key(KeyCode::Esc));
    assert!(matches!(
        app.key(key(KeyCode::Char('u'))),
        Some(sdtui::tui::Request::Up)
    ));
    app.key(key(KeyCode::Char('?')));
    // Any key closes help; q quits.
    app.key(key(KeyCode::Char('x')));
    assert!(!app.help);
    app.key(key(KeyCode::Char('q')));
    assert!(app.quit);
}

#[test]
fn logs_are_a_bounded_ring() {
    let (_root, mut app) = app();
    for i in 0..(sdtui::tui::LOG_LINES + 1234) {
        app.push_log(i % 2 == 0, format!("line {i}"));
    }
    assert_eq!(app.logs.lines.len(), sdtui::tui::LOG_LINES);
    assert_eq!(app.logs.lines.front().unwrap().text, "line 1234");
}

#[test]
fn slash_filters_a_list_and_bang_inverts_it() {
    let (_root, mut app) = app();
    app.key(key(KeyCode::Char('2')));
    for c in "/postgres".chars() {
        app.key(key(KeyCode::Char(c)));
    }
    assert!(app.prompt.is_some());
    app.key(key(KeyCode::Enter));
    assert!(app.prompt.is_none());
    let ids: Vec<&str> = app.visible_addons().iter().map(|a| a.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "databases.primary",
            "databases.analytics",
            "databases.reports"
        ]
    );
    insta::assert_snapshot!("addons_filtered_80x24", render(&app, 80, 24));
    // `!` inverts; j/k move within what is shown.
    app.key(key(KeyCode::Char('/')));
    app.key(key(KeyCode::Esc));
    assert_eq!(app.visible_addons().len(), 9, "Esc clears the filter");
    for c in "/!postgres".chars() {
        app.key(key(KeyCode::Char(c)));
    }
    app.key(key(KeyCode::Enter));
    assert_eq!(app.visible_addons().len(), 6);
    assert!(
        app.visible_addons()
            .iter()
            .all(|a| a.type_name != "postgres")
    );
    for _ in 0..10 {
        app.key(key(KeyCode::Char('j')));
    }
    assert_eq!(
        app.selected[1], 5,
        "selection stays within the filtered rows"
    );
}

#[test]
fn the_logs_pane_filters_lines_and_tells_stderr_apart() {
    let (_root, mut app) = app();
    for i in 0..50 {
        app.push_log(
            i % 10 == 0,
            if i % 10 == 0 {
                format!("ERROR at step {i}")
            } else {
                format!("ok step {i}")
            },
        );
    }
    app.key(key(KeyCode::Char('6')));
    // `&` keeps matching lines (a regex, as in less); `/` searches.
    for c in "&ERROR".chars() {
        app.key(key(KeyCode::Char(c)));
    }
    app.key(key(KeyCode::Enter));
    let screen = render(&app, 80, 24);
    assert_eq!(screen.matches("ERROR at step").count(), 5, "{screen}");
    assert!(!screen.contains("ok step"), "{screen}");
    // stderr lines carry the theme's warn colour, stdout the text colour.
    let buf = buffer(&app, 80, 24);
    assert_eq!(
        buf[(1, row_with(&buf, "ERROR at step 0"))].fg,
        app.theme.warn
    );
}

/// The Environments pane of tests/fixtures/envs: each environment's VMs and
/// instances, its live state still being read (tests/tui_envs.rs has it
/// read).
#[test]
fn environments_pane_lists_vms_and_instances() {
    let root = common::root_with("envs");
    let ws = Workspace::open(root.path().to_path_buf(), None).unwrap();
    let p = ws.project(Some("envs")).unwrap();
    let view = ProjectView::read(&ws, &p).unwrap();
    let mut app = App::new(Theme::dark(), vec!["envs".into()], view);
    app.key(key(KeyCode::Char('4')));
    let screen = render(&app, 100, 12);
    let staging = screen.lines().find(|l| l.contains("│staging ")).unwrap();
    for text in [
        "reading ...",
        "local",
        "databases.primary ?",
        "caches.session ?",
    ] {
        assert!(staging.contains(text), "{screen}");
    }
    insta::assert_snapshot!("environments_pane_100x12", screen);
}

/// An addon whose last scheduled backup failed (or is overdue) is marked
/// on its row in the warning colour; a good one is not.
#[test]
fn a_failed_or_overdue_backup_warns_on_the_addon_row() {
    use sdtui::backup::health::{Health, Verdict};
    let (_root, mut app) = app();
    app.key(key(KeyCode::Char('2')));
    let health = |addon: &str, service: &str, verdict| Health {
        addon: addon.into(),
        service: service.into(),
        vm: "core".into(),
        schedule: Some("hourly".into()),
        last: None,
        last_good: None,
        verdict,
        detail: Some("the drill failed".into()),
    };
    app.apply(sdtui::tui::msg::Msg::BackupHealth(vec![
        health("databases.primary", "postgres-primary", Verdict::Failed),
        health(
            "databases.analytics",
            "postgres-analytics",
            Verdict::Overdue,
        ),
        health("databases.reports", "postgres-reports", Verdict::Ok),
    ]));
    let buf = buffer(&app, 200, 50);
    let line = |y: u16| (0..200).map(|x| buf[(x, y)].symbol()).collect::<String>();
    let primary = row_with(&buf, "databases.primary");
    assert!(
        line(primary).contains("⚠ backup failed"),
        "{}",
        line(primary)
    );
    // (The selected row takes the highlight's colours: check another.)
    let analytics = row_with(&buf, "databases.analytics");
    assert!(
        line(analytics).contains("⚠ backup overdue"),
        "{}",
        line(analytics)
    );
    let x = line(analytics)
        .find('⚠')
        .map(|b| line(analytics)[..b].chars().count())
        .unwrap();
    assert_eq!(buf[(x as u16, analytics)].fg, Theme::dark().warn);
    let reports = row_with(&buf, "databases.reports");
    assert!(!line(reports).contains("backup"), "{}", line(reports));
}

/// A swarm project's rows show their task's state and the node it runs on
/// (the manager's watcher reads every task, so one VM's report holds the
/// rows of all nodes): running with its health, failed in the error
/// colour, an app's plain running; a service with no task row still `-`.
#[test]
fn a_swarm_projects_rows_show_their_tasks_and_nodes() {
    use sdtui::deploy::StatusRow;
    use sdtui::docker::ServiceState;
    let root = common::root_with("cheapa-swarm");
    let mut ws = Workspace::open(root.path().to_path_buf(), None).unwrap();
    ws.test_seed = Some(7);
    let p = ws.project(Some("cheapa-swarm")).unwrap();
    ws.run(&p, &Operation::Sync, false).unwrap();
    let view = ProjectView::read(&ws, &p).unwrap();
    assert!(view.swarm);
    let mut app = App::new(Theme::dark(), vec!["cheapa-swarm".into()], view);
    let task =
        |vm: &str, service: &str, image: &str, state: &str, health: Option<&str>| StatusRow {
            vm: vm.into(),
            state: ServiceState {
                service: service.into(),
                container_id: String::new(),
                container: format!("cheapa-swarm_{service}.1"),
                state: state.into(),
                health: health.map(Into::into),
                image: image.into(),
                started_at: String::new(),
                ports: vec![],
                exit_code: (state == "failed").then_some(1),
            },
            addon: None,
        };
    app.apply(sdtui::tui::msg::Msg::VmStatus(
        "core".into(),
        vec![
            task(
                "core",
                "postgres-primary",
                "postgres:15",
                "running",
                Some("healthy"),
            ),
            task(
                "core",
                "postgres-analytics",
                "postgres:15",
                "starting",
                Some("starting"),
            ),
            task("app", "redis-session", "redis:7", "failed", None),
            task("app", "api", "c100394/api:latest", "running", None),
        ],
    ));
    // The app VM's watcher reports nothing of its own in a swarm.
    app.apply(sdtui::tui::msg::Msg::VmStatus("app".into(), vec![]));
    app.key(key(KeyCode::Char('2')));
    let addons = render(&app, 120, 20);
    insta::assert_snapshot!("swarm_addons_120x20", addons);
    let buf = buffer(&app, 120, 20);
    let line = |y: u16| (0..120).map(|x| buf[(x, y)].symbol()).collect::<String>();
    assert!(line(row_with(&buf, "databases.primary")).contains("healthy @core"));
    assert!(line(row_with(&buf, "databases.analytics")).contains("starting @core"));
    let session = row_with(&buf, "caches.session");
    assert!(line(session).contains("failed @app"), "{}", line(session));
    let x = line(session).find("failed").unwrap();
    let x = line(session)[..x].chars().count() as u16;
    assert_eq!(buf[(x, session)].fg, Theme::dark().error);
    // No task read for it: nothing to say.
    assert!(line(row_with(&buf, "caches.products")).contains(" - "));
    app.key(key(KeyCode::Char('5')));
    // The Containers pane's VM column is the node already.
    let containers = render(&app, 120, 12);
    let buf = buffer(&app, 120, 12);
    let line = |y: u16| (0..120).map(|x| buf[(x, y)].symbol()).collect::<String>();
    let api = line(row_with(&buf, " api "));
    assert!(api.starts_with("│app ") && api.contains("running"), "{api}");
    insta::assert_snapshot!("swarm_containers_120x12", containers);
}
