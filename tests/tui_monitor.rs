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

/// A script-backed addon's contract `metrics` beside its container's
/// figures; a reading for a row selected before is ignored.
#[test]
fn the_contracts_metrics_show_beside_the_containers_figures() {
    let (_root, mut app) = app();
    app.key(key(KeyCode::Char('2')));
    app.metrics = Some(Selected {
        figures: Some(Metrics {
            cpu_percent: 0.5,
            mem_used: 3 * 1024 * 1024,
            mem_limit: 256 * 1024 * 1024,
            ..Metrics::default()
        }),
        ..followed("c0ffee")
    });
    app.contract_metrics = Some(("databases.primary".into(), None));
    let reading = render(&app, 120, 24);
    assert!(reading.contains("· metrics…"), "{reading}");
    app.apply(Msg::ContractMetrics(
        "caches.session".into(),
        "keys=99".into(),
    ));
    assert_eq!(
        app.contract_metrics,
        Some(("databases.primary".into(), None))
    );
    app.apply(Msg::ContractMetrics(
        "databases.primary".into(),
        "keys=3 role=primary".into(),
    ));
    insta::assert_snapshot!("contract_metrics_120x24", render(&app, 120, 24));
}

#[test]
fn no_metrics_target_off_the_addons_and_containers_panes() {
    let (_root, mut app) = app();
    // Nothing deployed: no container for any row, so no stream.
    assert_eq!(app.metrics_target(), None);
    app.key(key(KeyCode::Char('3')));
    assert_eq!(app.metrics_target(), None);
}

/// `V` opens the VMs overlay: a connected VM with its engine, Compose,
/// disk and containers; an unreachable one with why and the next retry;
/// one whose host key is unknown. An addon on the unreachable VM says so
/// instead of `-`. Esc closes it; `:vms` opens it too.
#[test]
fn the_vms_overlay_and_addons_on_an_unreachable_vm() {
    use sdtui::deploy::vm_info::VmInfo;
    use sdtui::tui::vms::{VmConn, VmRow};
    let (_root, mut app) = app();
    let row = |host: &str, conn| VmRow {
        host: host.into(),
        conn,
    };
    app.apply(Msg::Vm(
        "app".into(),
        row(
            "127.0.95.21:2521",
            VmConn::Connected(Some(Ok(VmInfo {
                engine: "27.5.1".into(),
                compose: "compose v2.26.1 (docker compose)".into(),
                docker_root: "/var/lib/docker".into(),
                disk_free: Some(42 * 1024 * 1024 * 1024),
                containers: 7,
                running: 5,
            }))),
        ),
    ));
    let retry_at = chrono::DateTime::parse_from_rfc3339("2026-12-01T02:55:13Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    app.apply(Msg::Vm(
        "core".into(),
        row(
            "127.0.95.22:2522",
            VmConn::Unreachable {
                reason: "cannot connect to 127.0.95.22:2522: Connection refused".into(),
                retry_at,
            },
        ),
    ));
    app.apply(Msg::Vm(
        "edge".into(),
        row("127.0.95.23:2523", VmConn::HostKeyUnknown),
    ));
    app.key(key(KeyCode::Char('2')));
    let addons = render(&app, 100, 24);
    let line = |name: &str| {
        addons
            .lines()
            .find(|l| l.contains(name))
            .unwrap()
            .to_string()
    };
    assert!(
        line("databases.primary").contains("unreachable"),
        "{addons}"
    );
    assert!(!line("caches.session").contains("unreachable"), "{addons}");
    app.key(key(KeyCode::Char('V')));
    assert!(app.vms_open);
    insta::assert_snapshot!("vms_overlay_120x16", render(&app, 120, 16));
    app.key(key(KeyCode::Esc));
    assert!(!app.vms_open);
    app.key(key(KeyCode::Char(':')));
    for c in "vms".chars() {
        app.key(key(KeyCode::Char(c)));
    }
    app.key(key(KeyCode::Enter));
    assert!(app.vms_open, ":vms opens it");
}
