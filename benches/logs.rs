//! `sdtui logs SERVICE -f` against `docker logs -f` on one container
//! flooding its output, in the same run, taking turns (docker, sdtui,
//! docker, sdtui ...) so drift in the flood's rate falls on both; lines
//! per second counted from each one's stdout, and sdtui's peak RSS. Also
//! `sdtui logs -f` (every service, prefixed) on the same project.
//! Run: `cargo bench --bench logs` (LOGS_SECS=5 per turn, LOGS_ROUNDS=2).

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Removes the flood container even when the bench panics.
struct Flood(String);

impl Drop for Flood {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.0]).output();
    }
}

/// A memory figure of a running process (`VmRSS:`, `VmHWM:`), in kB.
fn status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// What one turn measured.
struct Turn {
    lines: u64,
    /// RSS 1 s in and at the end, and the peak, in kB: flat memory
    /// means the first two are close.
    rss_early: u64,
    rss_late: u64,
    peak: u64,
}

/// Runs `cmd` for `secs`, counting the lines of its stdout.
fn count_lines(mut cmd: Command, secs: u64) -> Turn {
    let mut child: Child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the command starts");
    let mut stdout = child.stdout.take().unwrap();
    let counted = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        let mut lines = 0u64;
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            lines += buf[..n].iter().filter(|b| **b == b'\n').count() as u64;
        }
        lines
    });
    let start = Instant::now();
    let (mut rss_early, mut rss_late, mut peak) = (0, 0, 0);
    while start.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_millis(200));
        rss_late = status_kb(child.id(), "VmRSS:");
        if rss_early == 0 && start.elapsed() >= Duration::from_secs(1) {
            rss_early = rss_late;
        }
        peak = peak.max(status_kb(child.id(), "VmHWM:"));
    }
    let _ = child.kill();
    let _ = child.wait();
    Turn {
        lines: counted.join().unwrap(),
        rss_early,
        rss_late,
        peak,
    }
}

fn main() {
    let secs = env_or("LOGS_SECS", 5);
    let rounds = env_or("LOGS_ROUNDS", 2);
    let root = tempfile::tempdir().unwrap();
    let name = format!("lb{}", std::process::id());
    let dir = root.path().join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    // The app is never deployed: the flood container below wears the
    // labels compose would give it, which is how sdtui finds containers.
    std::fs::write(
        dir.join("config.yml"),
        "vms:\n  local:\n    host: local\n    private_ip: 127.0.3.66\napps:\n  flood:\n    image: memcached:1.6\n    vm: local\n",
    )
    .unwrap();
    let container = format!("sdtui-logs-flood-{}", std::process::id());
    let out = Command::new("docker")
        .args([
            "run", "-d", "--name", &container,
            "--label", &format!("com.docker.compose.project={name}-local"),
            "--label", "com.docker.compose.service=flood",
            "--log-opt", "max-size=20m", "--log-opt", "max-file=2",
            "--entrypoint", "sh", "memcached:1.6", "-c",
            "yes '2026-11-25 10:00:00.000 UTC [42] LOG:  duration: 0.042 ms  statement: SELECT 1 FROM flood'",
        ])
        .output()
        .expect("docker must be installed");
    assert!(
        out.status.success(),
        "cannot start the flood container (tests/images/build.sh builds memcached:1.6): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _flood = Flood(container.clone());
    std::thread::sleep(Duration::from_secs(1));

    let sdtui = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sdtui"));
        c.env("SDTUI_ROOT", root.path())
            .env("SDTUI_ADDONS", root.path().join(".none"))
            .args(["-p", &name, "logs"])
            .args(args);
        c
    };
    let docker = || {
        let mut c = Command::new("docker");
        c.args(["logs", "-f", "--tail", "0", &container]);
        c
    };
    let (mut docker_lines, mut sdtui_lines, mut all_lines) = (0, 0, 0);
    println!("logs -f on a container flooding its output, {secs} s a turn, {rounds} rounds:");
    for round in 1..=rounds {
        let d = count_lines(docker(), secs).lines;
        let one = count_lines(sdtui(&["flood", "-f", "--tail", "0"]), secs);
        let every = count_lines(sdtui(&["-f", "--tail", "0"]), secs);
        let (s, a) = (one.lines, every.lines);
        println!(
            "  round {round}: docker logs -f {:>9.0} lines/s · sdtui logs flood -f {:>9.0} lines/s ({:.2}×) · sdtui logs -f (all, prefixed) {:>9.0} lines/s ({:.2}×)",
            d as f64 / secs as f64,
            s as f64 / secs as f64,
            s as f64 / d.max(1) as f64,
            a as f64 / secs as f64,
            a as f64 / d.max(1) as f64,
        );
        for (what, t) in [("one service", &one), ("all services", &every)] {
            println!(
                "           sdtui RSS ({what}): {:.1} MB 1 s in, {:.1} MB at the end, peak {:.1} MB",
                t.rss_early as f64 / 1024.0,
                t.rss_late as f64 / 1024.0,
                t.peak as f64 / 1024.0
            );
        }
        docker_lines += d;
        sdtui_lines += s;
        all_lines += a;
    }
    let total = (secs * rounds) as f64;
    println!(
        "  overall: docker logs -f {:.0} lines/s, sdtui logs flood -f {:.0} lines/s = {:.2}× docker's, \
         sdtui logs -f (all) {:.0} lines/s = {:.2}×",
        docker_lines as f64 / total,
        sdtui_lines as f64 / total,
        sdtui_lines as f64 / docker_lines.max(1) as f64,
        all_lines as f64 / total,
        all_lines as f64 / docker_lines.max(1) as f64,
    );
}
