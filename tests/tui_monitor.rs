//! The console's monitoring: the selected row's metrics line (and that a
//! late sample of a dropped stream is ignored), drawn into ratatui's
//! TestBackend from the cheapa project and compared with insta snapshots.

mod common;

use common::tui::{key, render};

use crossterm::event::KeyCode;
use sdtui::engine::{Operation, Workspace};
use sdtui::tui::metrics::Selected;
use sdtui::tui::msg::Msg;
use sdtui::tui::{App, ProjectView, theme::Theme};
use sdtui::watch::metrics::Metrics;

fn app() -> (tempfile::TempDir, App) {
    let root = common::root_with("cheapa");
    let mut ws = Workspace::open(root.path().to_path_buf(), None).unwrap();
    ws.test_seed = Some(7);
    let p = ws.project(Some("cheapa")).unwrap();
    ws.run(&p, &Operation::Sync, false).unwrap();
    let view = ProjectView::read(&ws, &p).unwrap();
    (root, App::new(Theme::dark(), vec!["cheapa".into()], view))
}

fn followed(container: &str) -> Selected {
    Selected {
        vm: "core".into(),
        container: container.into(),
        label: "postgres-primary".into(),
        figures: None,
    }
}

#[test]
fn the_selected_rows_metrics_show_under_the_addons_table() {
    let (_root, mut app) = app();
    app.key(key(KeyCode::Char('2')));
    app.metrics = Some(followed("c0ffee"));
    insta::assert_snapshot!("metrics_reading_80x24", render(&app, 80, 24));
    let m = Metrics {
        cpu_percent: 3.25,
        mem_used: 31 * 1024 * 1024 + 300 * 1024,
        mem_limit: 512 * 1024 * 1024,
        net_rx: 1536,
        net_tx: 640,
        block_read: 4096,
        block_write: 12 * 1024 * 1024,
    };
    // A sample from a stream dropped since: not this row's.
    app.apply(Msg::Metrics("deadbeef".into(), Metrics::default()));
    assert_eq!(app.metrics, Some(followed("c0ffee")));
    app.apply(Msg::Metrics("c0ffee".into(), m.clone()));
    assert_eq!(app.metrics.as_ref().unwrap().figures, Some(m));
    insta::assert_snapshot!("metrics_figures_80x24", render(&app, 80, 24));
}

#[test]
fn no_metrics_target_off_the_addons_and_containers_panes() {
    let (_root, mut app) = app();
    // Nothing deployed: no container for any row, so no stream.
    assert_eq!(app.metrics_target(), None);
    app.key(key(KeyCode::Char('3')));
    assert_eq!(app.metrics_target(), None);
}
