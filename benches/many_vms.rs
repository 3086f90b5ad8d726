//! Figures for many VMs over SSH (issue 14): 20 sshd "VMs" on loopback
//! (tests/common/sshd.rs), one memcached each, all driving this machine's
//! one engine. Prints `up` of 1 VM vs 20 (first up and a no-change up, with
//! each step's time from the per-VM progress lines and the CPU spent by
//! sdtui, by the VMs' sshd and what they ran — Compose — and by the
//! engine), `status` of 20 VMs, and the console's idle CPU and RSS watching
//! the 20 VMs in a tmux pane.
//!
//! Needs memcached:1.6 (tests/images/build.sh), sshd and tmux (tests/run
//! installs them). Run: `cargo bench --bench many_vms` (`IDLE_SECS=10` for
//! a shorter console window, `PARALLEL=N` for `--parallel N`).

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "../tests/common/docker.rs"]
mod test_docker;
#[path = "../tests/common/sshd.rs"]
mod test_sshd;

use test_sshd::{RemoteDir, TestVm};

const COUNT: usize = 20;
/// The bench's own addresses and ports (tests use others).
const ADDR: &str = "127.0.102";
const PORT: u16 = 2400;
/// A tmux server of our own: never touches anyone else's sessions.
const TMUX_SOCKET: &str = "sdtui-many-vms-bench";

fn vm_name(i: usize) -> String {
    format!("web-{i:02}")
}

/// utime + stime (+ reaped children's when `children`) of a pid, in ticks.
fn ticks(pid: i32, children: bool) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    let rest = &stat[stat.rfind(')').map_or(0, |i| i + 2)..];
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    f[11] + f[12] + if children { f[13] + f[14] } else { 0 }
}

fn pids_named(pick: impl Fn(&str) -> bool) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| pick(c.trim()))
        })
        .collect()
}

fn hz() -> f64 {
    // SAFETY: sysconf has no preconditions.
    (unsafe { libc::sysconf(libc::_SC_CLK_TCK) }) as f64
}

/// CPU seconds of this process's reaped children (the sdtui runs).
fn children_cpu() -> f64 {
    // SAFETY: getrusage writes into the struct we own.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
    let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    s(u.ru_utime) + s(u.ru_stime)
}

struct Bench {
    root: PathBuf,
    known_hosts: PathBuf,
    project: String,
    sshd_pids: Vec<i32>,
    engine_pids: Vec<i32>,
}

/// One run: wall time, CPU seconds (sdtui, sshd + what it ran, engine),
/// and each progress line with when it came.
struct Run {
    wall: f64,
    cpu: (f64, f64, f64),
    lines: Vec<(f64, String)>,
    ok: bool,
    stdout: String,
}

impl Bench {
    fn run(&self, args: &[&str]) -> Run {
        let sshd = |b: &Bench| b.sshd_pids.iter().map(|p| ticks(*p, true)).sum::<u64>();
        let engine = |b: &Bench| b.engine_pids.iter().map(|p| ticks(*p, false)).sum::<u64>();
        let (s0, e0, c0) = (sshd(self), engine(self), children_cpu());
        let start = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_sdtui"))
            .arg("-p")
            .arg(&self.project)
            .args(args)
            .env("SDTUI_ROOT", &self.root)
            .env("SDTUI_ADDONS", self.root.join(".none"))
            .env("SDTUI_CONFIG", self.root.join(".config"))
            .env("SDTUI_KNOWN_HOSTS", &self.known_hosts)
            .env_remove("SSH_AUTH_SOCK")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let out = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
        let lines: Vec<(f64, String)> = std::io::BufReader::new(child.stderr.take().unwrap())
            .lines()
            .map_while(|l| l.ok())
            .map(|l| (start.elapsed().as_secs_f64(), l))
            .collect();
        let status = child.wait().unwrap();
        let wall = start.elapsed().as_secs_f64();
        Run {
            wall,
            cpu: (
                children_cpu() - c0,
                (sshd(self) - s0) as f64 / hz(),
                (engine(self) - e0) as f64 / hz(),
            ),
            lines,
            ok: status.success(),
            stdout: out.join().unwrap(),
        }
    }

    fn must(&self, args: &[&str]) -> Run {
        let r = self.run(args);
        assert!(
            r.ok,
            "sdtui {args:?} failed:\n{}\n{}",
            r.stdout,
            r.lines
                .iter()
                .map(|(_, l)| l.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        );
        r
    }
}

/// Seconds each step took per VM, from the progress lines: connect and
/// stage (until `compose up`), the Compose run (until the first state
/// line), the health wait (until `healthy`), the rest (until `done`).
fn steps(run: &Run) -> BTreeMap<&'static str, Vec<f64>> {
    let mut by_vm: BTreeMap<String, Vec<(f64, String)>> = BTreeMap::new();
    for (t, l) in &run.lines {
        if let Some(rest) = l.strip_prefix("VM ")
            && let Some((vm, what)) = rest.split_once(": ")
        {
            by_vm
                .entry(vm.to_string())
                .or_default()
                .push((*t, what.to_string()));
        }
    }
    let mut out: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
    for lines in by_vm.values() {
        let at = |pick: &dyn Fn(&str) -> bool| lines.iter().find(|(_, w)| pick(w)).map(|(t, _)| *t);
        let marks = [
            at(&|w| w == "connecting"),
            at(&|w| w.starts_with("compose up")),
            at(&|w| w.ends_with(" starting") || w.ends_with(" running")),
            at(&|w| w.ends_with(" healthy")),
            at(&|w| w.starts_with("done")),
        ];
        let names = [
            "1 connect + stage",
            "2 compose up",
            "3 health wait",
            "4 provision + rest",
        ];
        for (i, name) in names.iter().enumerate() {
            if let (Some(a), Some(b)) = (marks[i], marks[i + 1]) {
                out.entry(name).or_default().push(b - a);
            }
        }
        if let (Some(a), Some(b)) = (marks[0], marks[4]) {
            out.entry("0 whole VM").or_default().push(b - a);
        }
    }
    out
}

fn print_run(what: &str, run: &Run) {
    println!(
        "{what}: {:.1} s wall; CPU s: sdtui {:.1}, sshd + Compose {:.1}, engine {:.1}",
        run.wall, run.cpu.0, run.cpu.1, run.cpu.2
    );
    for (step, times) in steps(run) {
        let avg = times.iter().sum::<f64>() / times.len() as f64;
        let max = times.iter().cloned().fold(0f64, f64::max);
        println!(
            "    {:<20} avg {avg:>5.2} s  max {max:>5.2} s  ({} VMs)",
            &step[2..],
            times.len()
        );
    }
}

fn tmux(args: &[&str]) -> std::process::Output {
    Command::new("tmux")
        .args(["-L", TMUX_SOCKET])
        .args(args)
        .output()
        .expect("tmux must be installed (tests/run installs it)")
}

fn status_kb(pid: i32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The console on the project in a 200x50 pane until its header counts
/// 20 running containers, then `secs` of idle: (seconds to the first full
/// screen, avg CPU %, max 1-s CPU %, RSS at the end, RSS high-water mark).
fn console_idle(b: &Bench, secs: u64) -> (f64, f64, f64, u64, u64) {
    let q = |p: &Path| shlex::try_quote(p.to_str().unwrap()).unwrap().into_owned();
    let cmd = format!(
        "env -u SSH_AUTH_SOCK SDTUI_ROOT={} SDTUI_ADDONS={} SDTUI_CONFIG={} SDTUI_KNOWN_HOSTS={} {} -p {}",
        q(&b.root),
        q(&b.root.join(".none")),
        q(&b.root.join(".config")),
        q(&b.known_hosts),
        q(Path::new(env!("CARGO_BIN_EXE_sdtui"))),
        b.project
    );
    let _ = tmux(&["kill-server"]);
    let start = Instant::now();
    let out = tmux(&[
        "new-session",
        "-d",
        "-s",
        "console",
        "-x",
        "200",
        "-y",
        "50",
        &cmd,
    ]);
    assert!(out.status.success(), "tmux new-session failed");
    struct Kill;
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = tmux(&["kill-server"]);
        }
    }
    let _kill = Kill;
    let screen = || {
        String::from_utf8_lossy(&tmux(&["capture-pane", "-p", "-t", "console"]).stdout).to_string()
    };
    let want = format!("{COUNT} containers ({COUNT} running)");
    while !screen().contains(&want) {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the console never showed {want:?}:\n{}",
            screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let shown = start.elapsed().as_secs_f64();
    let pane: i32 =
        String::from_utf8_lossy(&tmux(&["display", "-p", "-t", "console", "#{pane_pid}"]).stdout)
            .trim()
            .parse()
            .expect("tmux gave no pane pid");
    let pane = sdtui_below(pane);
    // Settle: each VM's first look (engine and Compose versions) is done.
    std::thread::sleep(Duration::from_secs(5));
    let t0 = ticks(pane, false);
    let begin = Instant::now();
    let (mut prev, mut max) = (t0, 0f64);
    for i in 1..=secs {
        std::thread::sleep(
            (begin + Duration::from_secs(i)).saturating_duration_since(Instant::now()),
        );
        let t = ticks(pane, false);
        max = max.max((t - prev) as f64 / hz() * 100.0);
        prev = t;
    }
    let avg = (prev - t0) as f64 / hz() / begin.elapsed().as_secs_f64() * 100.0;
    let end = screen();
    assert!(
        end.contains(&want),
        "the console lost the containers:\n{end}"
    );
    (
        shown,
        avg,
        max,
        status_kb(pane, "VmRSS"),
        status_kb(pane, "VmHWM"),
    )
}

/// The sdtui process at or below `pid` (the pane's shell may fork it).
fn sdtui_below(pid: i32) -> i32 {
    let mut queue = vec![pid];
    while let Some(p) = queue.pop() {
        let comm = std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
        if comm.trim() == "sdtui" {
            return p;
        }
        for t in std::fs::read_dir(format!("/proc/{p}/task"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let children = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
            queue.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<i32>().ok()),
            );
        }
    }
    panic!("no sdtui process below the pane's pid {pid}");
}

fn main() {
    test_docker::require_images(&["memcached:1.6"]);
    let idle_secs: u64 = std::env::var("IDLE_SECS")
        .ok()
        .map(|s| s.parse().expect("IDLE_SECS: a number of seconds"))
        .unwrap_or(30);
    let parallel = std::env::var("PARALLEL").ok();
    let vms: Vec<TestVm> = (1..=COUNT)
        .map(|i| TestVm::start(&format!("{ADDR}.{i}"), PORT + i as u16))
        .collect();
    let root = tempfile::tempdir().unwrap();
    let project = format!("bmv{}", std::process::id());
    let _cleanup: Vec<test_docker::Cleanup> = (1..=COUNT)
        .map(|i| test_docker::Cleanup(format!("{project}-{}", vm_name(i))))
        .collect();
    // What the "VMs" keep in their home (the same machine here).
    let _remote =
        std::env::var_os("HOME").map(|h| RemoteDir(Path::new(&h).join(".sdtui").join(&project)));
    let known_hosts = root.path().join("known_hosts");
    let trusted: String = vms
        .iter()
        .map(|vm| std::fs::read_to_string(vm.trusted_known_hosts()).unwrap())
        .collect();
    std::fs::write(&known_hosts, trusted).unwrap();
    let mut config = String::from("vms:\n");
    for (i, vm) in vms.iter().enumerate() {
        config.push_str(&format!(
            "  {}:\n    host: {}\n    port: {}\n    user: root\n    identity: {}\n    private_ip: {}\n",
            vm_name(i + 1),
            vm.addr,
            vm.port,
            vm.client_key().display(),
            vm.addr
        ));
    }
    config.push_str("addons:\n  caches:\n");
    for i in 1..=COUNT {
        config.push_str(&format!(
            "    m{i:02}:\n      type: memcached\n      plan: small\n      vm: {}\n",
            vm_name(i)
        ));
    }
    std::fs::create_dir_all(root.path().join(&project)).unwrap();
    std::fs::write(root.path().join(&project).join("config.yml"), config).unwrap();
    let b = Bench {
        root: root.path().to_path_buf(),
        known_hosts,
        project,
        sshd_pids: vms
            .iter()
            .map(|vm| {
                std::fs::read_to_string(vm.state.join("sshd.pid"))
                    .unwrap()
                    .trim()
                    .parse()
                    .unwrap()
            })
            .collect(),
        engine_pids: pids_named(|c| c == "dockerd" || c == "containerd"),
    };
    let with_parallel = |args: &[&str]| -> Vec<String> {
        let mut all: Vec<String> = parallel
            .iter()
            .flat_map(|p| ["--parallel".to_string(), p.clone()])
            .collect();
        all.extend(args.iter().map(|s| s.to_string()));
        all
    };
    let run = |args: &[&str]| {
        let all = with_parallel(args);
        b.must(&all.iter().map(String::as_str).collect::<Vec<_>>())
    };

    println!(
        "{COUNT} sshd VMs on {ADDR}.1-{COUNT}, one memcached:1.6 each, one engine; {} cores; --parallel {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        parallel.as_deref().unwrap_or("default (16)")
    );
    let one = run(&["up", "--vm", "web-01"]);
    print_run("up, 1 VM, first", &one);
    let one_again = run(&["up", "--vm", "web-01"]);
    print_run("up, 1 VM, no change", &one_again);
    run(&["down", "--vm", "web-01"]);
    let all = run(&["up"]);
    print_run(&format!("up, {COUNT} VMs, first"), &all);
    let all_again = run(&["up"]);
    print_run(&format!("up, {COUNT} VMs, no change"), &all_again);
    println!(
        "ratio {COUNT} VMs / 1 VM: first up {:.2}x, no-change up {:.2}x",
        all.wall / one.wall,
        all_again.wall / one_again.wall
    );
    let mut status: Vec<f64> = (0..3)
        .map(|_| {
            let r = run(&["status"]);
            assert_eq!(
                r.stdout.lines().filter(|l| l.contains("running")).count(),
                COUNT,
                "{}",
                r.stdout
            );
            r.wall
        })
        .collect();
    status.sort_by(f64::total_cmp);
    println!(
        "status, {COUNT} VMs: median of 3 {:.2} s (min {:.2} s)",
        status[1], status[0]
    );
    let (shown, avg, max, rss, hwm) = console_idle(&b, idle_secs);
    println!(
        "console watching {COUNT} SSH VMs: all {COUNT} containers on screen after {shown:.1} s; idle over {idle_secs} s: avg CPU {avg:.2}% of one core, max 1-s {max:.1}%; RSS {:.1} MB at the end, peak (HWM) {:.1} MB",
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    run(&["down"]);
}
