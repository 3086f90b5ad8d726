//! Two projects on one machine, on the real engine: both come up on
//! different ports (the local engine's socket, and an sshd "VM" on a
//! loopback address, which is the same machine), and `up` refuses a port a
//! running container already holds (another project's, or one started by
//! hand) before it touches anything, naming the port, the holder and the
//! fix.

mod common;

use common::docker::{Cleanup, container, docker, require_images, results};
use common::sshd::TestVm;
use common::{fails, ok, sdtui};
use std::path::Path;
use std::process::Output;

/// A project with a memcached `caches.cache` on VM `vm`, which is
/// the local engine publishing on `ip`; `pin` sets its port.
fn project(root: &Path, name: &str, vm: &str, ip: &str, pin: Option<u16>) {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let pin = pin
        .map(|p| format!("      port: {p}\n"))
        .unwrap_or_default();
    std::fs::write(
        dir.join("config.yml"),
        format!(
            "# two projects, one machine\nvms:\n  {vm}:\n    host: local\n    private_ip: {ip}\naddons:\n  caches:\n    cache:\n      type: memcached\n      plan: small\n{pin}"
        ),
    )
    .unwrap();
}

/// The host bindings of a running container, as `docker port` prints them.
fn bindings(container_id: &str) -> String {
    let (found, out) = docker(&["port", container_id]);
    assert!(found, "{out}");
    out
}

#[test]
fn two_projects_on_one_machine_come_up_on_different_ports() {
    require_images(&["memcached:1.6"]);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let pid = std::process::id();
    let (shop, blog) = (format!("pshop{pid}"), format!("pblog{pid}"));
    // Two VMs named differently, both the local engine, one address.
    let _c1 = Cleanup(format!("{shop}-core"));
    let _c2 = Cleanup(format!("{blog}-edge"));
    project(r, &shop, "core", "127.0.61.1", None);
    project(r, &blog, "edge", "127.0.61.1", None);

    for (name, vm) in [(&shop, "core"), (&blog, "edge")] {
        let out = ok(&sdtui(r, &["-p", name, "up", "--timeout", "90"]));
        assert_eq!(
            results(&out),
            [("memcached-cache".to_string(), "created".to_string())],
            "{name}: {out}"
        );
        let id = container(&format!("{name}-{vm}"), "memcached-cache");
        assert!(!id.is_empty(), "{name} has no running memcached");
    }
    let shop_ports = bindings(&container(&format!("{shop}-core"), "memcached-cache"));
    let blog_ports = bindings(&container(&format!("{blog}-edge"), "memcached-cache"));
    assert!(shop_ports.contains("127.0.61.1:11211"), "{shop_ports}");
    assert!(blog_ports.contains("127.0.61.1:11212"), "{blog_ports}");
    // Both healthy, and a second `up` of each passes the check (its own
    // containers never count against it) and changes nothing.
    for (name, vm) in [(&shop, "core"), (&blog, "edge")] {
        let status: serde_json::Value =
            serde_json::from_str(&ok(&sdtui(r, &["-p", name, "status", "--json"]))).unwrap();
        assert_eq!(status[0]["health"], "healthy", "{name}/{vm}: {status}");
        let out = ok(&sdtui(r, &["-p", name, "up", "--timeout", "90"]));
        assert_eq!(
            results(&out),
            [("memcached-cache".to_string(), "unchanged".to_string())],
            "{out}"
        );
    }
}

/// The compose containers of a compose project, running or not.
fn containers_of(compose_project: &str) -> String {
    let (_, out) = docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=com.docker.compose.project={compose_project}"),
    ]);
    out.trim().to_string()
}

/// Removes a container started by hand, even when the test fails.
struct RemoveContainer(String);

impl Drop for RemoveContainer {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", "-v", &self.0]);
    }
}

#[test]
fn up_refuses_a_port_another_container_holds_before_touching_anything() {
    require_images(&["memcached:1.6"]);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let pid = std::process::id();
    let (shop, blog, wiki) = (
        format!("rshop{pid}"),
        format!("rblog{pid}"),
        format!("rwiki{pid}"),
    );
    let _c1 = Cleanup(format!("{shop}-core"));
    let _c2 = Cleanup(format!("{blog}-core"));
    let _c3 = Cleanup(format!("{wiki}-core"));

    // Another project holds 11211 on 127.0.61.2; this one pins the same.
    project(r, &shop, "core", "127.0.61.2", None);
    ok(&sdtui(r, &["-p", &shop, "up", "--timeout", "90"]));
    project(r, &blog, "core", "127.0.61.2", Some(11211));
    let config_before = std::fs::read_to_string(r.join(&blog).join("config.yml")).unwrap();
    // Compose v1 and v2 name containers differently: ask the engine.
    let (_, holder) = docker(&[
        "inspect",
        "-f",
        "{{.Name}}",
        &container(&format!("{shop}-core"), "memcached-cache"),
    ]);
    let holder = holder.trim().trim_start_matches('/');
    let err = fails(&sdtui(r, &["-p", &blog, "up", "--timeout", "90"]));
    assert!(
        err.contains(&format!(
            "port 11211 on VM core (127.0.61.2) is held by project {shop}, service memcached-cache (container {holder})"
        )),
        "{err}"
    );
    assert!(
        err.contains(
            "pin another port with `port:` in config.yml (addons.caches.cache.port: 11212 is free), or put it on another VM"
        ),
        "{err}"
    );
    // Nothing of blog's was created or staged; config.yml is as it was.
    assert_eq!(containers_of(&format!("{blog}-core")), "");
    assert!(!r.join(&blog).join(".sdtui/deploy/core/current").exists());
    assert_eq!(
        std::fs::read_to_string(r.join(&blog).join("config.yml")).unwrap(),
        config_before
    );
    // The holder is untouched and still answers on its port.
    let held = bindings(&container(&format!("{shop}-core"), "memcached-cache"));
    assert!(held.contains("127.0.61.2:11211"), "{held}");

    // A container started by hand (no compose labels) is named as such; a
    // port on another address of the same machine is no clash.
    let by_hand = format!("sdtui-h5-holder-{pid}");
    let _rm = RemoveContainer(by_hand.clone());
    let (started, o) = docker(&[
        "run",
        "-d",
        "--name",
        &by_hand,
        "-p",
        "127.0.61.3:11299:11211",
        "memcached:1.6",
    ]);
    assert!(started, "{o}");
    project(r, &wiki, "core", "127.0.61.3", Some(11299));
    let err = fails(&sdtui(r, &["-p", &wiki, "up", "--timeout", "90"]));
    assert!(
        err.contains(&format!(
            "port 11299 on VM core (127.0.61.3) is held by container {by_hand}"
        )),
        "{err}"
    );
    assert_eq!(containers_of(&format!("{wiki}-core")), "");
    project(r, &wiki, "core", "127.0.61.4", Some(11299));
    ok(&sdtui(r, &["-p", &wiki, "up", "--timeout", "90"]));
    let wiki_ports = bindings(&container(&format!("{wiki}-core"), "memcached-cache"));
    assert!(wiki_ports.contains("127.0.61.4:11299"), "{wiki_ports}");
}

/// The binary with an SSH VM's known_hosts and no agent.
fn sdtui_ssh(root: &Path, vm: &TestVm, args: &[&str]) -> Output {
    common::sshd::sdtui_ssh(root, &vm.trusted_known_hosts(), args)
}

#[test]
fn a_vm_over_ssh_to_a_loopback_address_shares_the_local_machine() {
    require_images(&["memcached:1.6"]);
    let vm = TestVm::start("127.0.61.11", 2271);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let pid = std::process::id();
    let (shop, blog) = (format!("sshop{pid}"), format!("sblog{pid}"));
    let _remotes = [&shop, &blog].map(|p| common::sshd::RemoteDir::of_project(p));
    let _c1 = Cleanup(format!("{shop}-local"));
    let _c2 = Cleanup(format!("{blog}-core"));
    // shop on the local socket, blog over SSH to 127.0.61.11 (whose
    // private_ip defaults to that address): the same machine and address.
    project(r, &shop, "local", "127.0.61.11", None);
    let blog_config = |pin: &str| {
        format!(
            "vms:\n  core:\n    host: {}\n    port: {}\n    user: root\n    identity: {}\naddons:\n  caches:\n    cache:\n      type: memcached\n      plan: small\n{pin}",
            vm.addr,
            vm.port,
            vm.client_key().display()
        )
    };
    std::fs::create_dir_all(r.join(&blog)).unwrap();
    std::fs::write(r.join(&blog).join("config.yml"), blog_config("")).unwrap();

    ok(&sdtui(r, &["-p", &shop, "up", "--timeout", "90"]));
    let out = ok(&sdtui_ssh(r, &vm, &["-p", &blog, "up", "--timeout", "90"]));
    assert_eq!(
        results(&out),
        [("memcached-cache".to_string(), "created".to_string())],
        "{out}"
    );
    let ports = bindings(&container(&format!("{blog}-core"), "memcached-cache"));
    assert!(ports.contains("127.0.61.11:11212"), "{ports}");

    // Pinned onto shop's port, blog is refused through its SSH connection.
    let pinned = blog_config("      port: 11211\n");
    std::fs::write(r.join(&blog).join("config.yml"), &pinned).unwrap();
    let blog_id = container(&format!("{blog}-core"), "memcached-cache");
    let err = fails(&sdtui_ssh(r, &vm, &["-p", &blog, "up", "--timeout", "90"]));
    assert!(
        err.contains(&format!(
            "port 11211 on VM core (127.0.61.11) is held by project {shop}, service memcached-cache"
        )),
        "{err}"
    );
    // blog's running container was left as it was.
    assert_eq!(
        container(&format!("{blog}-core"), "memcached-cache"),
        blog_id
    );
    assert_eq!(
        std::fs::read_to_string(r.join(&blog).join("config.yml")).unwrap(),
        pinned
    );
}
