//! An environment whose `vm` is a remote VM (an sshd "VM", tests/sshd, that
//! drives the local engine): `env start` uploads its files into its own
//! folder there and runs compose over SSH under its own compose project,
//! `env status` reads live state through the SSH session, and `env stop`
//! removes its containers and keeps its volume; the project's own instance
//! (on the local VM) is never touched.

mod common;

use std::path::Path;
use std::process::Command;

use common::docker::{Cleanup, container, docker, require_images, results};
use common::ok;
use common::sshd::TestVm;

#[test]
fn environment_on_a_remote_vm_over_ssh() {
    require_images(&["postgres:15"]);
    let vm = TestVm::start("127.0.73.6", 2273);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let known_hosts = r.join("known_hosts");
    let sdtui = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_sdtui"))
            .args(args)
            .env("SDTUI_ROOT", r)
            .env("SDTUI_ADDONS", r.join(".none"))
            .env("SDTUI_KNOWN_HOSTS", &known_hosts)
            .env("SDTUI_COMPOSE", "docker-compose")
            .env_remove("SSH_AUTH_SOCK")
            .output()
            .unwrap()
    };
    let name = format!("er{}", std::process::id());
    let remote_project = format!("{name}-remote-core");
    let _cleanup = (
        Cleanup(remote_project.clone()),
        Cleanup(format!("{name}-local")),
    );
    let dir = r.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        format!(
            "vms:\n  local:\n    host: local\n    private_ip: 127.0.73.5\n  core:\n    host: {}\n    port: {}\n    user: root\n    identity: {}\naddons:\n  databases:\n    primary:\n      type: postgres\n      plan: small\n      vm: local\nenvironments:\n  remote:\n    vm: core\n",
            vm.addr,
            vm.port,
            vm.client_key().display()
        ),
    )
    .unwrap();

    let out = ok(&sdtui(&[
        "-p",
        &name,
        "--accept-new-host",
        "env",
        "start",
        "remote",
        "--timeout",
        "120",
    ]));
    assert_eq!(
        results(&out),
        [("postgres-primary".to_string(), "created".to_string())],
        "{out}"
    );
    // Its VM is core, reached over SSH; its files went to its own folder there.
    assert!(out.contains("VM core: compose v1."), "{out}");
    let remote_dir = Path::new(&std::env::var("HOME").unwrap())
        .join(".sdtui")
        .join(format!("{name}-remote"))
        .join("core/current");
    let compose = std::fs::read_to_string(remote_dir.join("docker-compose.yml")).unwrap();
    assert!(
        compose.contains(&format!("{}:5432:5432", vm.addr)),
        "published on core: {compose}"
    );
    let pg = container(&remote_project, "postgres-primary");
    assert!(!pg.is_empty());
    assert!(
        container(&format!("{name}-local"), "postgres-primary").is_empty(),
        "the project's own instance is not started"
    );

    let status: Vec<serde_json::Value> = serde_json::from_str(&ok(&sdtui(&[
        "-p", &name, "env", "status", "remote", "--json",
    ])))
    .unwrap();
    assert_eq!(status.len(), 1);
    assert_eq!(status[0]["vm"], "core");
    assert_eq!(status[0]["state"], "running");
    assert_eq!(status[0]["health"], "healthy");

    ok(&sdtui(&["-p", &name, "env", "stop", "remote"]));
    assert!(container(&remote_project, "postgres-primary").is_empty());
    let (_, vols) = docker(&[
        "volume",
        "ls",
        "-q",
        "--filter",
        &format!("label=com.docker.compose.project={remote_project}"),
    ]);
    assert!(!vols.trim().is_empty(), "its volume stays");
    let _ = std::fs::remove_dir_all(remote_dir.parent().unwrap().parent().unwrap());
}
