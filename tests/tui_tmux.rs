//! The real console in a real terminal (tmux) against the real engine:
//! start, see live health, stop a container by hand and watch the pane
//! follow within a couple of seconds (Docker events, no polling), open its
//! logs, quit.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::docker::{Cleanup, container, docker, require_images};
use common::tmux::{Tmux, console_cmd};
use common::{ok, sdtui};

#[test]
fn console_follows_the_engine_live() {
    require_images(&["postgres:15"]);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = format!("tt{}", std::process::id());
    let cp = format!("{name}-local");
    let _cleanup = Cleanup(cp.clone());
    std::fs::create_dir_all(r.join(&name)).unwrap();
    std::fs::write(
        r.join(&name).join("config.yml"),
        "# console test\nvms:\n  local:\n    host: local\n    private_ip: 127.0.3.61\naddons:\n  databases:\n    main:\n      type: postgres\n      plan: small\n",
    )
    .unwrap();
    ok(&sdtui(r, &["-p", &name, "up", "--timeout", "120"]));

    let tmux = Tmux::start(&name, &console_cmd(r, &name, ""));
    tmux.wait_for("databases.main", Duration::from_secs(10));
    tmux.wait_for("healthy", Duration::from_secs(10));

    // Stopped by hand, outside sdtui: the pane follows from the events stream.
    let pg = container(&cp, "postgres-main");
    stop_by_hand_shows_exited(&tmux, &pg, "local engine");
    assert!(docker(&["start", &pg]).0);
    tmux.wait_for("healthy", Duration::from_secs(20));

    // Enter on the addon follows its logs.
    tmux.keys(&["Enter"]);
    tmux.wait_for("ready to accept connections", Duration::from_secs(10));
    // Search the logs: a regex, highlighted, the view held still.
    tmux.keys(&["/"]);
    tmux.keys(&["-l", "accept conn[a-z]+"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("matches; n older, N newer", Duration::from_secs(5));
    tmux.wait_for("PAUSED", Duration::from_secs(5));
    let screen = tmux.screen();
    assert!(screen.contains("/accept conn[a-z]+ ("), "{screen}");
    // p follows again.
    tmux.keys(&["p"]);
    tmux.wait_gone("PAUSED", Duration::from_secs(5));
    // e on the addon: its client (psql) in its container, logged in.
    tmux.keys(&["2"]);
    client_round_trip(&tmux, "postgres-main");
    // Help, then quit.
    tmux.keys(&["?"]);
    tmux.wait_for("this help", Duration::from_secs(5));
    tmux.keys(&["Escape"]);
    tmux.keys(&["q"]);
    let start = Instant::now();
    while Command::new("tmux")
        .args(["has-session", "-t", &name])
        .status()
        .unwrap()
        .success()
    {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "q did not quit:\n{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The attach wizard in a real terminal against the real engine: the
/// plan's diff shown first, then config.yml changed with every comment
/// kept and the app's env file updated; then the layout survives resizes.
#[test]
fn attach_wizard_end_to_end_and_resize() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = format!("tw{}", std::process::id());
    let _cleanup = Cleanup(format!("{name}-local"));
    let dir = r.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    let original = "# wizard test: every comment must survive\nvms:\n  local:\n    host: local   # this machine\n    private_ip: 127.0.3.62\naddons:\n  databases:\n    # the main database\n    main:\n      type: postgres\n      plan: small\n  caches:\n    scratch:\n      type: redis\n      plan: small\napps:\n  web:\n    image: sdtui-testapp\n    vm: local\n    # attachments follow\n    addons:\n      - databases.main  # as DATABASE\n";
    std::fs::write(dir.join("config.yml"), original).unwrap();
    ok(&sdtui(r, &["-p", &name, "sync"]));

    let tmux = Tmux::start(&name, &console_cmd(r, &name, ""));
    tmux.wait_for("databases.main", Duration::from_secs(10));
    tmux.keys(&["a"]);
    tmux.wait_for("Attach an addon to an app", Duration::from_secs(5));
    // addon (preselected) → app (the only one) → as → access.
    tmux.keys(&["Tab", "Tab"]);
    tmux.keys(&["-l", "REPORTS"]);
    tmux.keys(&["Tab", "Right"]);
    tmux.wait_for("‹ readonly ›", Duration::from_secs(5));
    tmux.keys(&["Enter"]);
    tmux.wait_for(
        "file(s) change; nothing is written until you apply",
        Duration::from_secs(10),
    );
    let review = tmux.screen();
    assert!(review.contains("+        as: REPORTS"), "{review}");
    assert_eq!(
        std::fs::read_to_string(dir.join("config.yml")).unwrap(),
        original,
        "nothing written before apply"
    );
    tmux.keys(&["Enter"]);
    tmux.wait_for(
        "applied `addons attach databases.main --app web --as REPORTS --access readonly`",
        Duration::from_secs(10),
    );
    let config = std::fs::read_to_string(dir.join("config.yml")).unwrap();
    let (removed, added) = common::changed_lines(original, &config);
    assert!(removed.is_empty(), "lines lost: {removed:?}\n{config}");
    assert_eq!(
        added,
        [
            "      - addon: databases.main",
            "        as: REPORTS",
            "        access: readonly"
        ],
        "{config}"
    );
    let env = common::read_env(&dir.join("compose/local/env/web.env"));
    // The file holds passwords: a failure names the variables only.
    let names: Vec<&str> = env.lines().filter_map(|l| l.split('=').next()).collect();
    assert!(
        env.contains(&format!("REPORTS_USER={name}_main_readonly")),
        "{names:?}"
    );
    assert!(env.contains("REPORTS_URL=postgresql://"), "{names:?}");
    // The console re-read the project: the Attachments pane has the row.
    // (Escape then a key at once reads as Alt-key: any key closes it.)
    tmux.keys(&["x"]);
    tmux.wait_gone("deploys the change", Duration::from_secs(5));
    tmux.keys(&["3"]);
    tmux.wait_for("REPORTS", Duration::from_secs(5));
    assert!(tmux.screen().contains("readonly"));

    // Resize down to 80x24 and up to 200x50: the frame follows.
    tmux.resize(80, 24);
    // Drawn again for the new size: the pane's border closes at column 80
    // and the footer is on the last row.
    let small = tmux.wait_until(
        "an 80x24 frame",
        |s| {
            let lines: Vec<&str> = s.lines().collect();
            lines.len() == 24
                && lines[2].chars().count() == 80
                && lines[2].ends_with('┐')
                && lines[23].contains("help")
        },
        Duration::from_secs(5),
    );
    assert!(small.contains("REPORTS"), "{small}");
    tmux.resize(200, 50);
    let big = tmux.wait_until(
        "a 200x50 frame",
        |s| {
            let lines: Vec<&str> = s.lines().collect();
            lines.len() == 50 && lines[2].chars().count() == 200 && lines[2].ends_with('┐')
        },
        Duration::from_secs(5),
    );
    assert!(big.contains("readonly"), "{big}");

    // u deploys it in the background, each step on the footer.
    tmux.keys(&["2"]);
    tmux.keys(&["u"]);
    // Steps pass quickly; one of them is enough to see.
    tmux.wait_for("up: VM local: ", Duration::from_secs(30));
    tmux.wait_for("all healthy", Duration::from_secs(120));
    tmux.wait_for("(3 running)", Duration::from_secs(10));

    // b backs up the addon under the cursor and drills the backup, the
    // steps on the footer; the backup is listed like one from the CLI.
    tmux.keys(&["g", "b"]);
    tmux.wait_for("backup databases.main: ", Duration::from_secs(5));
    tmux.wait_for("restore drill passed", Duration::from_secs(120));
    let listed = ok(&sdtui(r, &["-p", &name, "db", "backups", "databases.main"]));
    assert!(listed.contains("passed"), "{listed}");

    // Remove caches.scratch with its data: config, container and volume go.
    let cp = format!("{name}-local");
    let volumes = || {
        docker(&[
            "volume",
            "ls",
            "-q",
            "--filter",
            &format!("label=com.docker.compose.project={cp}"),
        ])
        .1
    };
    assert!(volumes().contains("redis-scratch"), "{}", volumes());
    tmux.keys(&["G", "x"]);
    tmux.wait_for("Remove an addon", Duration::from_secs(5));
    tmux.keys(&["Tab", "Right", "Tab"]);
    tmux.keys(&["-l", "caches.scratch"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("DELETED for good", Duration::from_secs(10));
    tmux.keys(&["Enter"]);
    tmux.wait_for("deleted its container and volumes", Duration::from_secs(30));
    assert!(!volumes().contains("redis-scratch"), "{}", volumes());
    let (_, ps) = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=com.docker.compose.project={cp}"),
        "--format",
        "{{.Label \"com.docker.compose.service\"}}",
    ]);
    assert!(!ps.contains("redis-scratch"), "{ps}");
    assert!(ps.contains("postgres-main"), "the others stay: {ps}");
    let config = std::fs::read_to_string(dir.join("config.yml")).unwrap();
    assert!(!config.contains("scratch"), "{config}");
    assert!(config.contains("# the main database"), "{config}");
    tmux.keys(&["q"]);
}

/// A VM reached over SSH whose host key nobody trusted yet: the console
/// asks with the fingerprint, records it on `y`, then watches that VM's
/// engine over the SSH session — a container stopped there shows as
/// exited from the remote events stream.
#[test]
fn unknown_host_key_prompt_then_remote_events() {
    require_images(&["memcached:1.6"]);
    let vm = common::sshd::TestVm::start("127.0.4.61", 2261);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = format!("th{}", std::process::id());
    let cp = format!("{name}-edge");
    let _cleanup = Cleanup(cp.clone());
    let dir = r.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    // The VM's key, encrypted: the console asks for it in a dialog.
    let key = r.join("id_encrypted");
    std::fs::copy(vm.client_key(), &key).unwrap();
    common::sshd::ssh_keygen(&[
        "-p",
        "-q",
        "-P",
        "",
        "-N",
        "open sesame",
        "-f",
        key.to_str().unwrap(),
    ]);
    std::fs::write(
        dir.join("config.yml"),
        format!(
            "vms:\n  edge:\n    host: {}\n    port: {}\n    user: root\n    identity: {}\naddons:\n  caches:\n    memo:\n      type: memcached\n      plan: small\n      vm: edge\n",
            vm.addr,
            vm.port,
            key.display()
        ),
    )
    .unwrap();
    // Deployed with a known_hosts of its own, so the console's is empty.
    let deployed = std::process::Command::new(env!("CARGO_BIN_EXE_sdtui"))
        .args(["-p", &name, "up", "--timeout", "120"])
        .env("SDTUI_ROOT", r)
        .env("SDTUI_ADDONS", r.join(".none"))
        .env("SDTUI_KNOWN_HOSTS", vm.trusted_known_hosts())
        .env("SDTUI_KEY_PASSPHRASE", "open sesame")
        .env_remove("SSH_AUTH_SOCK")
        .output()
        .unwrap();
    ok(&deployed);
    let home = std::path::PathBuf::from(std::env::var("HOME").unwrap());
    let _remote_home = RemoveOnDrop(home.join(".sdtui").join(&name));

    let known_hosts = r.join("known_hosts");
    let tmux = Tmux::start(
        &name,
        &console_cmd(
            r,
            &name,
            &format!("SDTUI_KNOWN_HOSTS={} SSH_AUTH_SOCK=", known_hosts.display()),
        ),
    );
    tmux.wait_for("Unknown SSH host key", Duration::from_secs(10));
    let fingerprint = vm.host_fingerprint();
    tmux.wait_for(&fingerprint, Duration::from_secs(2));
    assert!(!known_hosts.exists(), "nothing recorded before the answer");
    tmux.keys(&["y"]);
    tmux.wait_gone("Unknown SSH host key", Duration::from_secs(5));
    let recorded = std::fs::read_to_string(&known_hosts).unwrap();
    assert!(
        recorded.starts_with(&format!("[{}]:{} ssh-ed25519 ", vm.addr, vm.port)),
        "{recorded}"
    );
    // Then the key's passphrase, in a dialog, masked; a wrong one is asked
    // again.
    tmux.wait_for("is encrypted", Duration::from_secs(10));
    tmux.keys(&["-l", "open says me"]);
    assert!(!tmux.screen().contains("open says me"), "typed masked");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Wrong passphrase", Duration::from_secs(10));
    tmux.keys(&["-l", "open sesame"]);
    tmux.keys(&["Enter"]);
    tmux.wait_gone("is encrypted", Duration::from_secs(10));
    // The remote container, live over the SSH session's events stream.
    tmux.wait_for("caches.memo", Duration::from_secs(10));
    tmux.keys(&["5"]);
    tmux.wait_for("(1 running)", Duration::from_secs(15));
    let memo = container(&cp, "memcached-memo");
    stop_by_hand_shows_exited(&tmux, &memo, "SSH VM");
    // S on the row starts it again, through the same SSH session.
    tmux.keys(&["S"]);
    tmux.wait_for("memcached-memo: start done", Duration::from_secs(10));
    tmux.wait_for("(1 running)", Duration::from_secs(10));
    let (_, state) = docker(&["inspect", "-f", "{{.State.Running}}", &memo]);
    assert_eq!(state.trim(), "true");
    // e: a shell in it, on a terminal over the SSH session; exit comes back.
    shell_round_trip(&tmux, "memcached-memo");
    tmux.keys(&["q"]);
}

struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// e opens a shell in the selected row's container: a command's output
/// shows, `exit` brings the console back, redrawn.
fn shell_round_trip(tmux: &Tmux, service: &str) {
    tmux.keys(&["e"]);
    tmux.wait_for(
        &format!("sdtui: shell in {service}"),
        Duration::from_secs(10),
    );
    std::thread::sleep(Duration::from_millis(500));
    tmux.keys(&["-l", "echo sdtui-shell-$((6*7)) $(hostname)"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("sdtui-shell-42", Duration::from_secs(10));
    // The shell's terminal follows the window's size.
    tmux.resize(90, 28);
    std::thread::sleep(Duration::from_millis(500));
    tmux.keys(&["-l", "echo size=$(stty size)"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("size=28 90", Duration::from_secs(10));
    tmux.keys(&["-l", "exit"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for(
        &format!("shell in {service} ended (0)"),
        Duration::from_secs(10),
    );
    let screen = tmux.screen();
    assert!(
        !screen.contains("sdtui-shell-42"),
        "the console redrew:\n{screen}"
    );
    assert!(screen.contains("1 Projects"), "{screen}");
}

/// e on a postgres row opens its client (`db shell`) inside the container,
/// logged in: a query answers, its terminal follows the window's size,
/// `\q` brings the console back, redrawn.
fn client_round_trip(tmux: &Tmux, service: &str) {
    tmux.keys(&["e"]);
    tmux.wait_for(
        &format!("sdtui: postgres client in {service}"),
        Duration::from_secs(10),
    );
    tmux.wait_for("Type \"help\"", Duration::from_secs(10));
    tmux.keys(&["-l", "select 'sdtui-client-' || 6*7\\;"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("sdtui-client-42", Duration::from_secs(10));
    tmux.resize(90, 28);
    std::thread::sleep(Duration::from_millis(500));
    tmux.keys(&["-l", "\\! stty size"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("28 90", Duration::from_secs(10));
    tmux.keys(&["-l", "\\q"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for(
        &format!("postgres client in {service} ended (0)"),
        Duration::from_secs(10),
    );
    let screen = tmux.screen();
    assert!(
        !screen.contains("sdtui-client-42"),
        "the console redrew:\n{screen}"
    );
    assert!(screen.contains("1 Projects"), "{screen}");
}

/// A container stopped outside sdtui shows as exited within 2 s: the
/// console follows the engine's events, it does not poll.
fn stop_by_hand_shows_exited(tmux: &Tmux, container: &str, engine: &str) {
    assert!(docker(&["stop", "-t", "1", container]).0);
    // Docker's word on the Containers pane; the contract's (`failed`, with
    // the exit code) on an addon's row.
    let start = std::time::Instant::now();
    tmux.wait_until(
        "the stop",
        |s| s.contains("exited") || s.contains("failed ("),
        Duration::from_secs(5),
    );
    let seen = start.elapsed();
    eprintln!(
        "{engine}: console showed the stop {} ms after docker stop returned",
        seen.as_millis()
    );
    assert!(seen < Duration::from_secs(2), "took {seen:?}");
}

/// One deploy at a time from the console too: `u` during its own deploy
/// says so instead of starting another, the footer shows it in progress,
/// and a CLI `up` started meanwhile waits for it, naming it, then runs.
#[test]
fn console_deploy_in_progress_and_a_cli_up_waits_for_it() {
    require_images(&["memcached:1.6"]);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = format!("td{}", std::process::id());
    let _cleanup = Cleanup(format!("{name}-local"));
    let dir = r.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        "vms:\n  local:\n    host: local\n    private_ip: 127.0.13.3\naddons:\n  caches:\n    cache:\n      type: memcached\n      plan: small\n",
    )
    .unwrap();
    // The console's deploy holds the VM's lock 6 s before it starts.
    let tmux = Tmux::start(
        &name,
        &console_cmd(r, &name, "SDTUI_FAULT_PAUSE_HOLDING_DEPLOY_LOCK=6"),
    );
    tmux.wait_for("caches.cache", Duration::from_secs(10));
    tmux.keys(&["u"]);
    tmux.wait_for("up: syncing", Duration::from_secs(5));
    tmux.keys(&["u"]);
    tmux.wait_for("up is already in progress", Duration::from_secs(5));
    // A later note keeps the deploy in sight.
    tmux.keys(&["?"]);
    tmux.keys(&["Escape"]);
    tmux.wait_for("[deploying]", Duration::from_secs(5));

    let cli = std::process::Command::new(env!("CARGO_BIN_EXE_sdtui"))
        .args(["-p", &name, "up", "--timeout", "60"])
        .env("SDTUI_ROOT", r)
        .env("SDTUI_ADDONS", r.join(".none"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tmux.wait_for("all healthy", Duration::from_secs(60));
    let out = cli.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("waiting for up by pid"), "{err}");

    // Done: `u` deploys again (nothing changed).
    tmux.keys(&["u"]);
    tmux.wait_for("0 created or recreated", Duration::from_secs(30));
    assert!(!tmux.screen().contains("already in progress"));
    let audit = std::fs::read_to_string(dir.join(".sdtui/audit.jsonl")).unwrap();
    let ups: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["operation"] == "up")
        .collect();
    assert_eq!(ups.len(), 3, "{audit}");
    for pair in ups.windows(2) {
        assert!(
            pair[0]["time"].as_str().unwrap() <= pair[1]["started"].as_str().unwrap(),
            "deploys never overlap: {audit}"
        );
    }
    tmux.keys(&["q"]);
}

/// A panic in the draw loop: the shell gets a usable terminal back, the
/// report is printed and saved, the exit code is non-zero.
#[cfg(debug_assertions)]
#[test]
fn panic_in_the_draw_loop_leaves_a_usable_terminal_and_a_report() {
    panic_leaves_a_usable_terminal("draw");
}

/// The same for a panic in a tokio task (the VM watcher, on a Docker
/// event), which the runtime would otherwise swallow.
#[cfg(debug_assertions)]
#[test]
fn panic_in_a_task_leaves_a_usable_terminal_and_a_report() {
    panic_leaves_a_usable_terminal("task");
}

/// tmux's view of the pane: alternate screen, any mouse tracking, cursor.
#[cfg(debug_assertions)]
fn pane_flags(session: &str) -> String {
    let out = Command::new("tmux")
        .args([
            "display-message",
            "-p",
            "-t",
            session,
            "#{alternate_on} #{mouse_any_flag} #{cursor_flag}",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Runs the console from an interactive shell (dash, which leaves the
/// terminal as the program left it) with the debug-only trigger, then
/// checks what the user is left with.
#[cfg(debug_assertions)]
fn panic_leaves_a_usable_terminal(site: &str) {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = format!("tp{site}{}", std::process::id());
    let cp = format!("{name}-local");
    let _cleanup = Cleanup(cp.clone());
    let dir = r.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        "vms:\n  local:\n    host: local\n    private_ip: 127.0.3.64\naddons:\n  caches:\n    main:\n      type: redis\n      plan: small\n",
    )
    .unwrap();
    ok(&sdtui(r, &["-p", &name, "sync"]));
    let secrets = std::fs::read_to_string(dir.join("secrets.yml")).unwrap();
    let password = secrets
        .lines()
        .find_map(|l| l.trim().strip_prefix("PASSWORD: "))
        .expect("sync generated the redis password")
        .trim_matches(['"', '\''])
        .to_string();

    let tmux = Tmux::start(&name, "env PS1='PROMPT$ ' sh -i");
    tmux.wait_for("PROMPT$", Duration::from_secs(5));
    let cmd = console_cmd(r, &name, &format!("SDTUI_TEST_PANIC={site}"));
    tmux.keys(&["-l", &format!("{cmd}; echo exit=$?")]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("caches.main", Duration::from_secs(10));
    // The console has the terminal: alternate screen, mouse tracking on,
    // cursor hidden.
    let start = Instant::now();
    while pane_flags(&name) != "1 1 0" {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the console never took the terminal: {}",
            pane_flags(&name)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Something the user did, for the report: pane 3.
    tmux.keys(&["3"]);
    if site == "task" {
        tmux.wait_for("┌ Attachments", Duration::from_secs(5));
        // Any event of the project's containers reaches the watcher.
        let (created, out) = docker(&[
            "create",
            "--label",
            &format!("com.docker.compose.project={cp}"),
            "memcached:1.6",
        ]);
        assert!(created, "{out}");
    }
    let screen = tmux.wait_until(
        "the shell back after the crash",
        |s| s.contains("exit=") && s.trim_end().ends_with("PROMPT$"),
        Duration::from_secs(10),
    );
    assert!(screen.contains("exit=101"), "{screen}");
    let version = env!("CARGO_PKG_VERSION");
    for text in [
        format!("sdtui {version} crashed"),
        format!("SDTUI_TEST_PANIC={site}"),
        format!("project:     {name}"),
        "pane:        Attachments".to_string(),
        "The report was saved to".to_string(),
    ] {
        assert!(screen.contains(&text), "no {text:?} in:\n{screen}");
    }
    // Main screen, no mouse tracking, cursor shown.
    assert_eq!(pane_flags(&name), "0 0 1");
    // Raw mode off: the line discipline is canonical and echoes.
    tmux.keys(&[
        "-l",
        "stty -a | tr ' ' '\\n' | grep -E '^-?(icanon|echo)$' | tr '\\n' ' '; echo :stty",
    ]);
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_until(
        "stty's answer",
        |s| {
            s.lines()
                .any(|l| l.ends_with(":stty") && !l.contains("grep"))
        },
        Duration::from_secs(5),
    );
    let modes = screen
        .lines()
        .find(|l| l.ends_with(":stty") && !l.contains("grep"))
        .unwrap();
    assert_eq!(modes.trim(), "icanon echo :stty", "{screen}");

    // The report in the project's state dir: version, breadcrumb, where
    // it panicked; never a secret.
    let reports: Vec<_> = std::fs::read_dir(dir.join(".sdtui"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("crash-")
        })
        .collect();
    assert_eq!(reports.len(), 1, "{reports:?}");
    let report = std::fs::read_to_string(&reports[0]).unwrap();
    assert!(
        screen.contains(&reports[0].display().to_string()) || {
            // A long path wraps on an 100-column screen.
            let flat: String = screen.lines().collect();
            flat.contains(&reports[0].display().to_string())
        },
        "the screen names the file:\n{screen}"
    );
    for text in [
        format!("sdtui {version} crashed"),
        "face:        console".to_string(),
        format!("project:     {name}"),
        "pane:        Attachments".to_string(),
        format!("SDTUI_TEST_PANIC={site}"),
        // The draw loop's panic, or a watcher task's.
        format!(
            "Location: src/tui/{}",
            if site == "task" { "watch.rs" } else { "mod.rs" }
        ),
        "Backtrace:".to_string(),
    ] {
        assert!(report.contains(&text), "no {text:?} in:\n{report}");
    }
    assert!(!report.contains(&password), "a secret in the report");
    assert!(!report.contains('\u{1b}'), "colour codes in the file");
}
