//! Console figures that need no terminal: reading a project and drawing the
//! first full frame, and one frame with 1,000 addon instances, into
//! ratatui's TestBackend. Run: `cargo bench --bench console`.

use std::time::Instant;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use sdtui::engine::{Operation, Workspace};
use sdtui::tui::{App, ProjectView, draw, theme::Theme};

fn main() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("big");
    std::fs::create_dir_all(&dir).unwrap();
    let mut cfg = String::from("vms:\n");
    for v in 0..20 {
        cfg.push_str(&format!("  vm{v}:\n    host: 127.0.6.{}\n", v + 1));
    }
    cfg.push_str("addons:\n  databases:\n");
    for i in 0..1000 {
        cfg.push_str(&format!(
            "    db-{i}:\n      type: postgres\n      plan: small\n      vm: vm{}\n",
            i / 50
        ));
    }
    cfg.push_str("apps:\n");
    for a in 0..500 {
        cfg.push_str(&format!(
            "  app-{a}:\n    vm: vm{}\n    addons:\n      - databases.db-{} as DB\n",
            (a * 2) / 50,
            a * 2
        ));
    }
    std::fs::write(dir.join("config.yml"), cfg).unwrap();
    let mut ws = Workspace::open(root.path().to_path_buf(), None).unwrap();
    ws.test_seed = Some(1);
    let p = ws.project(Some("big")).unwrap();
    ws.run(&p, &Operation::Sync, false).unwrap();

    let start = Instant::now();
    let view = ProjectView::read(&ws, &p).unwrap();
    let app = App::new(Theme::dark(), ws.projects(), view);
    let mut term = Terminal::new(TestBackend::new(200, 50)).unwrap();
    term.draw(|f| draw(f, &app)).unwrap();
    println!(
        "read 1,000-instance project + first full frame (200x50): {:.1} ms",
        start.elapsed().as_secs_f64() * 1000.0
    );

    let mut times = Vec::new();
    for _ in 0..50 {
        let s = Instant::now();
        term.draw(|f| draw(f, &app)).unwrap();
        times.push(s.elapsed());
    }
    times.sort();
    println!(
        "one frame with 1,000 addon instances (200x50): median {:.2} ms, max {:.2} ms",
        times[25].as_secs_f64() * 1000.0,
        times[49].as_secs_f64() * 1000.0
    );
}
