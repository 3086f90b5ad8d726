//! Idle cost of a console watching 50 running containers: CPU and memory
//! over IDLE_SECS (default 60) for sdtui's console and, on the same engine,
//! oxker, each alone in a detached 200x50 tmux pane, one after the other.
//! Also the engine's own CPU in each window (and with nothing attached), as
//! a console that polls stats makes dockerd work, not only itself.
//!
//! `CONSOLE_IDLE_SCREENS=DIR` keeps each console's last screen there.
//! Needs memcached:1.6 (tests/images/build.sh), tmux, and oxker
//! (`cargo install oxker`). Run: `cargo bench --bench console_idle`
//! (`IDLE_SECS=10` for a quick trial).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The tests' own clean-up of a compose project (containers, volumes,
/// networks, found by label), shared rather than copied.
#[path = "../tests/common/docker.rs"]
mod test_docker;

const PROJECT: &str = "cidle";
const COMPOSE_PROJECT: &str = "cidle-local";
const PRIVATE_IP: &str = "127.0.7.50";
const CONTAINERS: usize = 50;
/// A tmux server of our own: never touches anyone else's sessions.
const TMUX_SOCKET: &str = "sdtui-console-idle-bench";
/// After the screen first shows the containers, before sampling starts.
const SETTLE: Duration = Duration::from_secs(2);

fn tmux(args: &[&str]) -> Output {
    Command::new("tmux")
        .args(["-L", TMUX_SOCKET])
        .args(args)
        .output()
        .expect("tmux must be installed (tests/run installs it)")
}

fn screen(session: &str) -> String {
    String::from_utf8_lossy(&tmux(&["capture-pane", "-p", "-t", session]).stdout).to_string()
}

/// Waits until `ok(screen)`; the screen is in the panic.
fn wait_for_screen(session: &str, what: &str, ok: impl Fn(&str) -> bool, within: Duration) {
    let start = Instant::now();
    loop {
        let s = screen(session);
        if ok(&s) {
            return;
        }
        assert!(
            start.elapsed() < within,
            "{session}: the screen never showed {what} within {within:?}:\n{s}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Everything this bench starts, removed on the way out, panics included.
struct Guard {
    sessions: Vec<String>,
    pids: Vec<(i32, String)>,
    root: Option<tempfile::TempDir>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        for s in &self.sessions {
            let _ = tmux(&["kill-session", "-t", s]);
        }
        // A process that outlived its pane (pid still ours: same name).
        for (pid, name) in &self.pids {
            for signal in [libc::SIGTERM, libc::SIGKILL] {
                if comm(*pid).as_deref() != Some(name.as_str()) {
                    break;
                }
                // SAFETY: a plain kill(2) of a pid we started.
                unsafe { libc::kill(*pid, signal) };
                std::thread::sleep(Duration::from_millis(500));
            }
        }
        let _ = tmux(&["kill-server"]);
        drop(test_docker::Cleanup(COMPOSE_PROJECT.to_string()));
        if let Some(root) = self.root.take() {
            let _ = root.close();
        }
    }
}

fn comm(pid: i32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim().to_string())
}

fn children(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            if let Ok(c) = std::fs::read_to_string(t.path().join("children")) {
                out.extend(c.split_whitespace().filter_map(|p| p.parse::<i32>().ok()));
            }
        }
    }
    out
}

/// The process named `name` at or below the pane's process, and how it
/// was reached ("pane pid 123 (sh) -> 124 (sdtui)").
fn find_below(pane_pid: i32, name: &str, within: Duration) -> (i32, String) {
    let start = Instant::now();
    loop {
        let mut queue = vec![(
            pane_pid,
            format!("{pane_pid} ({})", comm(pane_pid).unwrap_or_default()),
        )];
        while let Some((pid, path)) = queue.pop() {
            if comm(pid).as_deref() == Some(name) {
                return (pid, format!("pane pid {path}"));
            }
            for c in children(pid) {
                queue.push((
                    c,
                    format!("{path} -> {c} ({})", comm(c).unwrap_or_default()),
                ));
            }
        }
        assert!(
            start.elapsed() < within,
            "no {name} process below the pane's pid {pane_pid}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every pid whose comm satisfies `pick`.
fn pids_where(pick: impl Fn(&str) -> bool) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| comm(*p).is_some_and(|c| pick(&c)))
        .collect()
}

/// utime + stime of a process (all its threads), in clock ticks.
fn cpu_ticks(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after "(comm)": state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// A `kB` line of /proc/<pid>/status (VmRSS, VmHWM).
fn status_kb(pid: i32, key: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

struct Figures {
    avg_cpu: f64,
    max_cpu_1s: f64,
    rss_start_kb: u64,
    rss_end_kb: u64,
    rss_max_sampled_kb: u64,
    hwm_kb: u64,
    engine_cpu: f64,
    load: String,
}

fn engine_ticks(engine: &[i32]) -> u64 {
    engine.iter().filter_map(|p| cpu_ticks(*p)).sum()
}

/// Samples `pid` (None: the engine alone) every second for `secs`.
fn sample(pid: Option<i32>, secs: u64, what: &str) -> Figures {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let engine = pids_where(|c| c == "dockerd" || c.starts_with("containerd"));
    let alive = |t: Option<u64>| t.unwrap_or_else(|| panic!("{what} exited while being sampled"));
    let load0 = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let start = Instant::now();
    let t0 = pid.map_or(0, |p| alive(cpu_ticks(p)));
    let e0 = engine_ticks(&engine);
    let rss_start_kb = pid.and_then(|p| status_kb(p, "VmRSS")).unwrap_or(0);
    let (mut prev_t, mut prev_at) = (t0, start);
    let (mut max_cpu_1s, mut rss_max_sampled_kb, mut rss_end_kb) =
        (0f64, rss_start_kb, rss_start_kb);
    for i in 1..=secs {
        let due = start + Duration::from_secs(i);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        if let Some(p) = pid {
            let t = alive(cpu_ticks(p));
            let now = Instant::now();
            let pct = (t - prev_t) as f64 / hz / (now - prev_at).as_secs_f64() * 100.0;
            max_cpu_1s = max_cpu_1s.max(pct);
            (prev_t, prev_at) = (t, now);
            rss_end_kb = alive(status_kb(p, "VmRSS"));
            rss_max_sampled_kb = rss_max_sampled_kb.max(rss_end_kb);
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let e1 = engine_ticks(&engine);
    let load1 = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let first = |s: &str| s.split_whitespace().next().unwrap_or("?").to_string();
    Figures {
        avg_cpu: (prev_t - t0) as f64 / hz / wall * 100.0,
        max_cpu_1s,
        rss_start_kb,
        rss_end_kb,
        rss_max_sampled_kb,
        hwm_kb: pid.and_then(|p| status_kb(p, "VmHWM")).unwrap_or(0),
        engine_cpu: e1.saturating_sub(e0) as f64 / hz / wall * 100.0,
        load: format!("{} -> {}", first(&load0), first(&load1)),
    }
}

fn running(filter: Option<&str>) -> usize {
    let mut args = vec!["ps", "-q", "--filter", "status=running"];
    if let Some(f) = filter {
        args.extend(["--filter", f]);
    }
    let (ok, out) = test_docker::docker(&args);
    assert!(ok, "docker ps failed: {out}");
    out.split_whitespace().count()
}

fn quote(p: &Path) -> String {
    shlex::try_quote(p.to_str().expect("a UTF-8 path"))
        .expect("a quotable path")
        .into_owned()
}

/// Starts `cmd` in its own 200x50 session; waits for `ready` on its screen;
/// returns the pid of the process named `name` and how it was found.
fn start_console(
    guard: &mut Guard,
    session: &str,
    cmd: &str,
    name: &str,
    ready: (&str, &dyn Fn(&str) -> bool),
) -> (i32, String, Duration) {
    let start = Instant::now();
    let out = tmux(&[
        "new-session",
        "-d",
        "-s",
        session,
        "-x",
        "200",
        "-y",
        "50",
        cmd,
    ]);
    assert!(
        out.status.success(),
        "tmux new-session: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    guard.sessions.push(session.to_string());
    let pane = tmux(&["display", "-p", "-t", session, "#{pane_pid}"]);
    let pane_pid: i32 = String::from_utf8_lossy(&pane.stdout)
        .trim()
        .parse()
        .expect("tmux gave no pane_pid");
    let (pid, how) = find_below(pane_pid, name, Duration::from_secs(10));
    guard.pids.push((pid, name.to_string()));
    wait_for_screen(session, ready.0, ready.1, Duration::from_secs(60));
    (pid, how, start.elapsed())
}

/// The screen as sampling ended, kept in `$CONSOLE_IDLE_SCREENS/NAME.txt`
/// when that is set (to see what each console was showing).
fn keep_screen(name: &str, s: &str) {
    if let Some(dir) = std::env::var_os("CONSOLE_IDLE_SCREENS") {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.txt")), s).unwrap();
    }
}

fn stop_console(guard: &mut Guard, session: &str, pid: i32, name: &str) {
    let _ = tmux(&["kill-session", "-t", session]);
    guard.sessions.retain(|s| s != session);
    let start = Instant::now();
    while comm(pid).as_deref() == Some(name) && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn oxker_path() -> PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .expect("neither CARGO_HOME nor HOME is set");
    let bin = home.join("bin/oxker");
    // An install still running (its log says neither done nor failed): wait.
    let log = Path::new("/tmp/oxker-install.log");
    let start = Instant::now();
    while !bin.exists()
        && start.elapsed() < Duration::from_secs(900)
        && std::fs::read_to_string(log).is_ok_and(|l| {
            !l.contains("Installed package") && !l.lines().any(|l| l.starts_with("error"))
        })
    {
        if start.elapsed() < Duration::from_millis(100) {
            eprintln!(
                "waiting for `cargo install oxker` to finish ({})",
                log.display()
            );
        }
        std::thread::sleep(Duration::from_secs(5));
    }
    assert!(
        bin.exists(),
        "{} is missing: install it with `cargo install oxker`",
        bin.display()
    );
    bin
}

fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}

fn main() {
    let secs: u64 = std::env::var("IDLE_SECS")
        .ok()
        .map(|s| s.parse().expect("IDLE_SECS: a number of seconds"))
        .unwrap_or(60);
    let sdtui = PathBuf::from(env!("CARGO_BIN_EXE_sdtui"));
    assert!(
        sdtui.exists(),
        "{} is missing: run `cargo build --release --bin sdtui`",
        sdtui.display()
    );
    let oxker = oxker_path();
    test_docker::require_images(&["memcached:1.6"]);
    let version = |bin: &Path| {
        let out = Command::new(bin).arg("--version").output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let oxker_version = version(&oxker);
    let oxker_help =
        String::from_utf8_lossy(&Command::new(&oxker).arg("--help").output().unwrap().stdout)
            .to_string();
    let interval = oxker_help
        .lines()
        .find(|l| l.trim_start().starts_with("-d "))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "(no -d in oxker --help)".into());

    // Leftovers of an interrupted run go first (fixed names on purpose).
    let _ = tmux(&["kill-server"]);
    drop(test_docker::Cleanup(COMPOSE_PROJECT.to_string()));
    let mut guard = Guard {
        sessions: Vec::new(),
        pids: Vec::new(),
        root: Some(tempfile::tempdir().unwrap()),
    };
    let root = guard.root.as_ref().unwrap().path().to_path_buf();

    // 50 memcached on the local engine.
    let mut cfg = format!(
        "# console idle bench\nvms:\n  local:\n    host: local\n    private_ip: {PRIVATE_IP}\naddons:\n  caches:\n"
    );
    for i in 0..CONTAINERS {
        cfg.push_str(&format!(
            "    mc{i}:\n      type: memcached\n      plan: small\n"
        ));
    }
    std::fs::create_dir_all(root.join(PROJECT)).unwrap();
    std::fs::write(root.join(PROJECT).join("config.yml"), cfg).unwrap();
    let env = [
        ("SDTUI_ROOT", root.clone()),
        ("SDTUI_ADDONS", root.join(".no-user-addons")),
        ("SDTUI_CONFIG", root.join(".config")),
    ];
    let start = Instant::now();
    let up = Command::new(&sdtui)
        .args(["-p", PROJECT, "up", "--timeout", "600"])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("SDTUI_USER", "bench")
        .output()
        .unwrap();
    assert!(
        up.status.success(),
        "sdtui up failed:\n{}{}",
        String::from_utf8_lossy(&up.stdout),
        String::from_utf8_lossy(&up.stderr)
    );
    let label = format!("label=com.docker.compose.project={COMPOSE_PROJECT}");
    while running(Some(&label)) < CONTAINERS {
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "only {} of {CONTAINERS} running",
            running(Some(&label))
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    println!(
        "{CONTAINERS} memcached:1.6 running ({:.1} s from `sdtui up` to all running); {} containers on the engine in all",
        start.elapsed().as_secs_f64(),
        running(None)
    );
    println!(
        "each window: {secs} s, sampled every second, {} s after the screen first shows the containers; CPU % of one core ({} cores here)",
        SETTLE.as_secs(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let mut rows: Vec<(String, Figures)> = Vec::new();

    // The engine alone: health checks (every 10 s per container) and nothing else.
    std::thread::sleep(SETTLE);
    rows.push(("(none: engine only)".into(), sample(None, secs, "engine")));

    // sdtui's console.
    let env_words: Vec<String> = env
        .iter()
        .map(|(k, v)| format!("{k}={}", quote(v)))
        .collect();
    let cmd = format!("env {} {} -p {PROJECT}", env_words.join(" "), quote(&sdtui));
    let header = format!("{CONTAINERS} containers");
    let (pid, how, shown) = start_console(
        &mut guard,
        "sdtui",
        &cmd,
        "sdtui",
        (&format!("{header:?}"), &|s: &str| s.contains(&header)),
    );
    println!(
        "sdtui: pid {pid} found from {how}; screen showed {header:?} after {:.2} s",
        shown.as_secs_f64()
    );
    std::thread::sleep(SETTLE);
    let f = sample(Some(pid), secs, "sdtui");
    let end = screen("sdtui");
    keep_screen("sdtui", &end);
    assert!(
        end.contains(&header),
        "sdtui's screen lost the containers:\n{end}"
    );
    stop_console(&mut guard, "sdtui", pid, "sdtui");
    rows.push(("sdtui (this tree)".into(), f));

    // oxker, with its defaults; it shows every container on the engine.
    let oxker_config = root.join(".oxker-config");
    let cmd = format!(
        "env XDG_CONFIG_HOME={} {}",
        quote(&oxker_config),
        quote(&oxker)
    );
    let (pid, how, shown) = start_console(
        &mut guard,
        "oxker",
        &cmd,
        "oxker",
        ("memcached-mc rows", &|s: &str| s.contains("memcached-mc")),
    );
    println!(
        "oxker: pid {pid} found from {how}; screen showed the project's containers after {:.2} s",
        shown.as_secs_f64()
    );
    std::thread::sleep(SETTLE);
    let f = sample(Some(pid), secs, "oxker");
    let end = screen("oxker");
    keep_screen("oxker", &end);
    assert!(
        end.contains("memcached-mc"),
        "oxker's screen lost the containers:\n{end}"
    );
    stop_console(&mut guard, "oxker", pid, "oxker");
    rows.push((oxker_version.clone(), f));

    println!();
    println!(
        "{:<22} {:>9} {:>11} {:>10} {:>10} {:>10} {:>14} {:>11}  load (1 min)",
        "tool",
        "avg CPU %",
        "max 1-s CPU",
        "RSS start",
        "RSS end",
        "RSS peak",
        "RSS peak (HWM)",
        "engine CPU"
    );
    for (tool, f) in &rows {
        let dash = |v: String| {
            if tool.starts_with('(') {
                "-".to_string()
            } else {
                v
            }
        };
        println!(
            "{:<22} {:>9} {:>11} {:>10} {:>10} {:>10} {:>14} {:>10.2}%  {}",
            tool,
            dash(format!("{:.2}%", f.avg_cpu)),
            dash(format!("{:.1}%", f.max_cpu_1s)),
            dash(mb(f.rss_start_kb)),
            dash(mb(f.rss_end_kb)),
            dash(mb(f.rss_max_sampled_kb)),
            dash(mb(f.hwm_kb)),
            f.engine_cpu,
            f.load
        );
    }
    println!();
    println!(
        "RSS peak: the highest VmRSS sampled in the window; RSS peak (HWM): VmHWM, the kernel's high-water mark since the process started (startup included)"
    );
    println!(
        "engine CPU: dockerd + containerd + containerd-shims over the same window (health checks run in every window)"
    );
    println!(
        "oxker: {oxker_version}, no flags (defaults: `{interval}`; docker host /var/run/docker.sock; default config, XDG_CONFIG_HOME set to an empty temp dir); it shows all {} containers on the engine, not only this project's",
        running(None)
    );
}
