//! Console figures that need no terminal: reading a project and drawing the
//! first full frame, and one frame with 1,000 addon instances, into
//! ratatui's TestBackend; then log ingest from a container flooding its
//! output, through the console's own stream task, ring and frames, against
//! `docker logs -f` on the same container, with peak memory.
//! Run: `cargo bench --bench console` (BENCH_PARTS=frames,ingest picks).

use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use sdtui::engine::{Operation, Workspace};
use sdtui::tui::{App, ProjectView, draw, theme::Theme};

fn part(name: &str) -> bool {
    std::env::var("BENCH_PARTS")
        .map(|p| p.split(',').any(|x| x == name))
        .unwrap_or(true)
}

fn main() {
    // First, while the process is small: its peak memory is the console's.
    if part("ingest") {
        ingest();
    }
    if part("frames") {
        frames();
    }
}

fn frames() {
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

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Removes the flood container even when the bench panics.
struct Flood(String);

impl Drop for Flood {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["rm", "-f", &self.0])
            .output();
    }
}

fn ingest() {
    let secs: u64 = std::env::var("INGEST_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let name = format!("sdtui-flood-{}", std::process::id());
    // Any local image with a shell: `yes` writes as fast as the engine's
    // log driver takes it; the json-file logs are capped on disk.
    let image = "memcached:1.6";
    let out = std::process::Command::new("docker")
        .args([
            "run", "-d", "--name", &name, "--log-opt", "max-size=20m", "--log-opt", "max-file=2",
            "--entrypoint", "sh", image, "-c",
            "yes '2026-11-25 10:00:00.000 UTC [42] LOG:  duration: 0.042 ms  statement: SELECT 1 FROM flood'",
        ])
        .output()
        .expect("docker must be installed");
    assert!(
        out.status.success(),
        "cannot start the flood container from {image} (tests/images/build.sh builds it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _flood = Flood(name.clone());
    std::thread::sleep(Duration::from_secs(1));

    // `docker logs -f`: lines counted from its stdout.
    let mut child = std::process::Command::new("docker")
        .args(["logs", "-f", "--tail", "0", &name])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let counted = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        let mut lines = 0u64;
        while let Ok(n) = std::io::Read::read(&mut stdout, &mut buf) {
            if n == 0 {
                break;
            }
            lines += buf[..n].iter().filter(|b| **b == b'\n').count() as u64;
        }
        lines
    });
    std::thread::sleep(Duration::from_secs(secs));
    let _ = child.kill();
    let _ = child.wait();
    let docker_lines = counted.join().unwrap();

    // The console's path: its log task (batches, bounded), the App's ring,
    // and a 200x50 frame every 33 ms as the event loop draws them.
    let rss_before = status_kb("VmRSS:");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (lines, frames, frame_max, frame_median) = rt.block_on(async {
        let docker = sdtui::docker::connect_local().await.unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::channel(256);
        let view = ProjectView::default();
        let mut app = App::new(Theme::dark(), vec!["flood".into()], view);
        app.pane = sdtui::tui::Pane::Logs;
        app.logs.restart(name.clone());
        let task = sdtui::tui::spawn_logs(docker, name.clone(), app.logs.cap, tx);
        let mut term = Terminal::new(TestBackend::new(200, 50)).unwrap();
        let start = Instant::now();
        let mut next_frame = Instant::now();
        let mut frame_times = Vec::new();
        // Lines of the 300-line tail, which `docker logs --tail 0` skipped.
        let mut skipped = None;
        while start.elapsed() < Duration::from_secs(secs) {
            tokio::select! {
                Some(m) = rx.recv() => {
                    app.apply(m);
                    if skipped.is_none() {
                        skipped = Some(app.logs.received().min(300));
                    }
                }
                _ = tokio::time::sleep_until(next_frame.into()) => {
                    let s = Instant::now();
                    term.draw(|f| draw(f, &app)).unwrap();
                    frame_times.push(s.elapsed());
                    next_frame = Instant::now() + Duration::from_millis(33);
                }
            }
        }
        task.abort();
        frame_times.sort();
        (
            app.logs.received() - skipped.unwrap_or(0),
            frame_times.len(),
            *frame_times.last().unwrap(),
            frame_times[frame_times.len() / 2],
        )
    });
    let peak = status_kb("VmHWM:");
    let rate = |n: u64| n as f64 / secs as f64;
    println!(
        "log ingest from a container flooding its output ({secs} s each, one after the other):"
    );
    println!(
        "  docker logs -f          {:>10.0} lines/s",
        rate(docker_lines)
    );
    println!(
        "  sdtui (stream, ring, 30 fps frames) {:>10.0} lines/s = {:.0}% of docker logs -f",
        rate(lines),
        100.0 * lines as f64 / docker_lines.max(1) as f64
    );
    println!(
        "  {frames} frames drawn meanwhile: median {:.2} ms, max {:.2} ms",
        frame_median.as_secs_f64() * 1000.0,
        frame_max.as_secs_f64() * 1000.0
    );
    println!(
        "  memory: RSS {:.1} MB before the stream, peak {:.1} MB (ring of {} lines)",
        rss_before as f64 / 1024.0,
        peak as f64 / 1024.0,
        sdtui::tui::LOG_LINES
    );
}
