//! Deploys over SSH to sshd "VMs" (tests/sshd) that drive the local
//! engine: files uploaded into a per-project folder there, compose run
//! there, health and provisioning through the remote docker.sock over the
//! SSH session, status and logs the same way; an unknown host key refused
//! with its fingerprint; sshd killed mid-up gives a clear error and the
//! next up completes. Once with Compose v1 on both VMs (the SSH VM's found
//! by looking: `docker compose` does not run there), once with v2 (the SSH
//! VM's named in config.yml's `vms.core.compose`, as sshd passes no
//! DOCKER_CONFIG), side by side.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::compose::{Compose, v2_binary};
use common::docker::{Cleanup, container, docker, require_images, results};
use common::sshd::TestVm;
use common::{fails, ok};

fn sdtui_cmd(
    root: &std::path::Path,
    known_hosts: &std::path::Path,
    compose: Compose,
    args: &[&str],
) -> Command {
    let mut cmd = common::sshd::sdtui_ssh_cmd(root, known_hosts, args);
    cmd.envs(compose.sdtui_env());
    cmd
}

#[test]
fn up_status_logs_over_ssh_with_host_key_policy_and_a_dying_sshd_v1() {
    up_status_logs_over_ssh(Compose::V1, "127.0.4.41", 2241, "127.0.3.41");
}

#[test]
fn up_status_logs_over_ssh_with_host_key_policy_and_a_dying_sshd_v2() {
    up_status_logs_over_ssh(Compose::V2, "127.0.4.42", 2242, "127.0.3.42");
}

fn up_status_logs_over_ssh(compose: Compose, ssh_addr: &str, ssh_port: u16, local_ip: &str) {
    let sdtui = |root: &std::path::Path, known_hosts: &std::path::Path, args: &[&str]| {
        sdtui_cmd(root, known_hosts, compose, args)
            .output()
            .unwrap()
    };
    require_images(&[
        "postgres:15",
        "redis:7",
        "rabbitmq:3-management",
        "sdtui-testapp:latest",
    ]);
    let vm = TestVm::start(ssh_addr, ssh_port);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let known_hosts = r.join("known_hosts");
    let name = format!("dr{}{}", std::process::id(), compose.tag());
    // v1: whatever the VM has; v2: the binary named, as a user would.
    let remote_compose = match compose {
        Compose::V1 => String::new(),
        Compose::V2 => format!("    compose: {}\n", v2_binary().display()),
    };
    let _cleanup = (
        Cleanup(format!("{name}-core")),
        Cleanup(format!("{name}-local")),
    );
    let remote_dir = std::path::PathBuf::from(std::env::var("HOME").unwrap())
        .join(".sdtui")
        .join(&name);
    let dir = r.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        format!(
            "vms:\n  core:\n    host: {}\n    port: {}\n    user: root\n    identity: {}\n{remote_compose}  local:\n    host: local\n    private_ip: {local_ip}\naddons:\n  databases:\n    main:\n      type: postgres\n      plan: small\n      vm: core\n  caches:\n    session:\n      type: redis\n      plan: small\n      vm: core\n    side:\n      type: redis\n      plan: small\n      vm: local\n  queues:\n    main:\n      type: rabbitmq\n      plan: small\n      vm: core\napps:\n  web:\n    image: sdtui-testapp\n    vm: core\n    addons:\n      - databases.main\n      - addon: databases.main\n        as: REPORTS\n        access: readonly\n      - caches.session\n      - queues.main\n    env:\n      CHECK_PREFIXES: DATABASE,REPORTS,CACHE,QUEUE\n",
            vm.addr,
            vm.port,
            vm.client_key().display()
        ),
    )
    .unwrap();

    // Unknown host: refused with the fingerprint and a hint; nothing trusted.
    let err = fails(&sdtui(
        r,
        &known_hosts,
        &["-p", &name, "up", "--vm", "core"],
    ));
    assert!(
        err.contains(&vm.host_fingerprint()) && err.contains("--accept-new-host"),
        "{err}"
    );
    assert!(
        !known_hosts.exists()
            || !std::fs::read_to_string(&known_hosts)
                .unwrap()
                .contains("ssh-ed25519")
    );

    // Accepted: both VMs in one up, the remote one entirely over SSH.
    let out = ok(&sdtui(
        r,
        &known_hosts,
        &["-p", &name, "--accept-new-host", "up", "--timeout", "120"],
    ));
    for vm in ["core", "local"] {
        assert!(
            out.contains(&format!("VM {vm}: {}", compose.reported())),
            "up names each VM's Compose: {out}"
        );
    }
    let res = results(&out);
    for service in [
        "postgres-main",
        "redis-session",
        "rabbitmq-main",
        "web",
        "redis-side",
    ] {
        assert!(
            res.contains(&(service.to_string(), "created".to_string())),
            "{service}: {out}"
        );
    }
    assert!(
        std::fs::read_to_string(&known_hosts)
            .unwrap()
            .contains(&format!("[{}]:{}", vm.addr, vm.port))
    );
    // The files went to the VM's per-project folder, secrets 0600.
    let env = remote_dir.join("core/current/env/postgres-main.env");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&env).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let web = container(&format!("{name}-core"), "web");
    let (passed, report) = docker(&["exec", &web, "check"]);
    assert!(passed, "{report}");
    // ... including RabbitMQ's user and vhost.
    assert_eq!(report.matches("\"ok\": true").count(), 4, "{report}");

    // Status and logs through the SSH connection.
    let status: serde_json::Value = serde_json::from_str(&ok(&sdtui(
        r,
        &known_hosts,
        &["-p", &name, "status", "--vm", "core", "--json"],
    )))
    .unwrap();
    assert_eq!(status.as_array().unwrap().len(), 4, "{status}");
    assert!(status.as_array().unwrap().iter().all(|s| s["vm"] == "core"));
    let logs = ok(&sdtui(
        r,
        &known_hosts,
        &["-p", &name, "logs", "postgres-main", "--tail", "50"],
    ));
    assert!(
        logs.contains("database system is ready to accept connections"),
        "{logs}"
    );

    // No change: nothing recreated, over SSH too.
    let out = ok(&sdtui(r, &known_hosts, &["-p", &name, "up"]));
    assert!(results(&out).iter().all(|(_, a)| a == "unchanged"), "{out}");

    // sshd dies in the middle of an up: a clear error; the next up completes.
    ok(&sdtui(
        r,
        &known_hosts,
        &[
            "-p",
            &name,
            "addons",
            "upgrade",
            "caches.session",
            "--plan",
            "standard",
        ],
    ));
    let child = sdtui_cmd(
        r,
        &known_hosts,
        compose,
        &["-p", &name, "up", "--vm", "core", "--timeout", "60"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    // Once the new release is on the VM, pull the plug.
    let compose = remote_dir.join("core/current/docker-compose.yml");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&compose)
        .unwrap_or_default()
        .contains("com.superdeploy.plan: standard")
    {
        assert!(
            Instant::now() < deadline,
            "the release never reached the VM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    vm.stop();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    // The compose run or the health wait loses the connection: a plain
    // error naming the VM, not a hang.
    assert!(
        !out.status.success(),
        "up cannot succeed without its VM:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        err.contains("VM core") || err.contains(&format!("{}:{}", vm.addr, vm.port)),
        "unclear error: {err}"
    );
    eprintln!("error shown when sshd died mid-up:\n{err}");
    let err2 = fails(&sdtui(
        r,
        &known_hosts,
        &["-p", &name, "status", "--vm", "core"],
    ));
    assert!(
        err2.contains(&format!("{}:{}", vm.addr, vm.port)),
        "a refused connection names the VM: {err2}"
    );
    vm.start_again();
    let out = ok(&sdtui(
        r,
        &known_hosts,
        &["-p", &name, "up", "--timeout", "120"],
    ));
    assert!(results(&out).iter().all(|(_, a)| a != "failed"), "{out}");
    let (_, cmd) = docker(&[
        "inspect",
        "-f",
        "{{index .Config.Labels \"com.superdeploy.plan\"}}",
        &container(&format!("{name}-core"), "redis-session"),
    ]);
    assert_eq!(cmd.trim(), "standard");
    let _ = std::fs::remove_dir_all(&remote_dir);
}
