//! `up` across VMs in dependency order: an app on the local VM attached to
//! a redis on an sshd VM waits for that VM. With the addon's VM down the
//! app's VM is not deployed (no container started against a database that
//! is not there), each named in the summary; with it back, the addon's VM
//! finishes before the app's VM starts.

mod common;

use common::docker::{Cleanup, container, require_images};
use common::sshd::{RemoteDir, TestVm, sdtui_ssh};

#[test]
fn an_app_vm_waits_for_its_addon_vm_and_is_not_deployed_when_it_fails() {
    require_images(&["redis:7", "sdtui-testapp:latest"]);
    let vm = TestVm::start("127.0.103.1", 2303);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let known_hosts = r.join("known_hosts");
    let name = format!("ord{}", std::process::id());
    let _db = Cleanup(format!("{name}-db"));
    let _web = Cleanup(format!("{name}-web"));
    let _remote = RemoteDir(
        std::path::PathBuf::from(std::env::var("HOME").unwrap())
            .join(".sdtui")
            .join(&name),
    );
    let dir = r.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        format!(
            "vms:\n  web:\n    host: local\n    private_ip: 127.0.103.2\n  db:\n    host: {}\n    port: {}\n    user: root\n    identity: {}\naddons:\n  caches:\n    main:\n      type: redis\n      plan: small\n      vm: db\napps:\n  web:\n    image: sdtui-testapp\n    vm: web\n    addons:\n      - caches.main\n",
            vm.addr,
            vm.port,
            vm.client_key().display()
        ),
    )
    .unwrap();
    let up = || {
        sdtui_ssh(
            r,
            &known_hosts,
            &["-p", &name, "--accept-new-host", "up", "--timeout", "120"],
        )
    };

    // The addon's VM down: the app's VM waits, then is not deployed.
    vm.stop();
    let out = up();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("VM web: not deployed: it needs VM db, whose up failed"),
        "{err}"
    );
    assert!(err.contains("up failed on 2 of 2 VMs"), "{err}");
    assert!(!err.contains("VM web: connecting"), "{err}");
    assert!(container(&format!("{name}-web"), "web").is_empty());

    // Back: db first, then web.
    vm.start_again();
    let out = up();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let db_done = err.find("VM db: done").expect("db done");
    let web_starts = err.find("VM web: connecting").expect("web started");
    assert!(db_done < web_starts, "{err}");
    assert!(!container(&format!("{name}-web"), "web").is_empty());
    assert!(!container(&format!("{name}-db"), "redis-main").is_empty());
}
