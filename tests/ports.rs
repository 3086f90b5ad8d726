//! Port allocation across the projects under one root: a new port keeps
//! clear of what another project (or another VM of this one) publishes on
//! the same machine and an overlapping address; a port already held never
//! moves; a broken neighbour is left out with a note.

mod common;

use common::{ok, sdtui};
use std::path::Path;

/// A project with one VM per `(name, host, private_ip)` and a memcached
/// `cache` on the first VM (plus `extra` YAML under `addons:`/`apps:`).
fn project(root: &Path, name: &str, vms: &[(&str, &str, &str)], extra: &str) {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let mut text = String::from("vms:\n");
    for (vm, host, ip) in vms {
        text.push_str(&format!(
            "  {vm}:\n    host: {host}\n    private_ip: {ip}\n"
        ));
    }
    text.push_str(&format!(
        "addons:\n  caches:\n    cache:\n      type: memcached\n      plan: small\n      vm: {}\n{extra}",
        vms[0].0
    ));
    std::fs::write(dir.join("config.yml"), text).unwrap();
}

/// addon id → published port, as `addons list --json` reports it.
fn ports(root: &Path, name: &str) -> Vec<(String, u16)> {
    let out = ok(&sdtui(root, &["-p", name, "addons", "list", "--json"]));
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["id"].as_str().unwrap().to_string(),
                a["port"].as_u64().unwrap() as u16,
            )
        })
        .collect()
}

fn port_of(root: &Path, name: &str, id: &str) -> u16 {
    ports(root, name)
        .into_iter()
        .find(|(i, _)| i == id)
        .unwrap_or_else(|| panic!("{name} has no {id}"))
        .1
}

fn sync(root: &Path, name: &str) -> String {
    ok(&sdtui(root, &["-p", name, "sync"]))
}

#[test]
fn a_second_project_on_the_same_machine_and_address_gets_the_next_port() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    // `local`, `host: local` under another name, and SSH to a loopback
    // address are all this machine's engine.
    project(r, "shop", &[("core", "local", "127.0.5.1")], "");
    project(r, "blog", &[("edge", "127.0.0.1", "127.0.5.1")], "");
    project(r, "wiki", &[("local", "local", "127.0.5.1")], "");
    sync(r, "shop");
    sync(r, "blog");
    sync(r, "wiki");
    assert_eq!(port_of(r, "shop", "caches.cache"), 11211);
    assert_eq!(port_of(r, "blog", "caches.cache"), 11212);
    assert_eq!(port_of(r, "wiki", "caches.cache"), 11213);
    // The generated compose file publishes exactly that.
    let compose = std::fs::read_to_string(r.join("blog/compose/edge/docker-compose.yml")).unwrap();
    assert!(compose.contains("- 127.0.5.1:11212:11211\n"), "{compose}");
    // Re-syncing any of them moves nothing (each sees the others' ports,
    // never its own, as taken).
    for name in ["shop", "blog", "wiki"] {
        let out = sync(r, name);
        assert!(!out.contains("update"), "{name}: {out}");
    }
    assert_eq!(port_of(r, "shop", "caches.cache"), 11211);
    assert_eq!(port_of(r, "blog", "caches.cache"), 11212);
}

#[test]
fn other_addresses_and_other_machines_do_not_count() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    project(r, "shop", &[("core", "local", "127.0.5.1")], "");
    // Same machine, another address: the same port is free there.
    project(r, "blog", &[("core", "local", "127.0.5.2")], "");
    // Other machines, even with the same private address.
    project(r, "ops", &[("db", "db1.example.com", "10.0.5.1")], "");
    project(r, "crm", &[("db", "db2.example.com", "10.0.5.1")], "");
    // The same host written in another case is the same machine.
    project(r, "hr", &[("db", "DB1.Example.com", "10.0.5.1")], "");
    for name in ["shop", "blog", "ops", "crm", "hr"] {
        sync(r, name);
    }
    assert_eq!(port_of(r, "shop", "caches.cache"), 11211);
    assert_eq!(port_of(r, "blog", "caches.cache"), 11211);
    assert_eq!(port_of(r, "ops", "caches.cache"), 11211);
    assert_eq!(port_of(r, "crm", "caches.cache"), 11211);
    assert_eq!(port_of(r, "hr", "caches.cache"), 11212);
}

#[test]
fn a_port_on_every_address_blocks_every_address_and_pins_count() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    // An app publishing 11211 on every address, and a pinned 11212 on the
    // same address: the newcomer takes 11213.
    project(
        r,
        "shop",
        &[("core", "local", "127.0.5.3")],
        "      port: 11212\napps:\n  web:\n    image: sdtui-testapp\n    port: 11211\n",
    );
    project(r, "blog", &[("core", "local", "127.0.5.4")], "");
    project(r, "wiki", &[("core", "local", "127.0.5.3")], "");
    sync(r, "shop");
    sync(r, "blog");
    sync(r, "wiki");
    assert_eq!(port_of(r, "shop", "caches.cache"), 11212);
    assert_eq!(port_of(r, "blog", "caches.cache"), 11212);
    assert_eq!(port_of(r, "wiki", "caches.cache"), 11213);
}

#[test]
fn two_vms_of_one_project_on_one_machine_and_address_do_not_share_a_port() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    project(
        r,
        "shop",
        &[
            ("core", "local", "127.0.5.5"),
            ("edge", "localhost", "127.0.5.5"),
        ],
        "    edge:\n      type: memcached\n      plan: small\n      vm: edge\n",
    );
    sync(r, "shop");
    assert_eq!(
        ports(r, "shop"),
        [
            ("caches.cache".to_string(), 11211),
            ("caches.edge".to_string(), 11212)
        ]
    );
}

#[test]
fn a_held_port_never_moves_when_a_neighbour_appears_later() {
    // Two projects allocated apart (as before sdtui knew of neighbours),
    // then under one root: both keep 11211; `up` is what finds the clash.
    let apart = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    project(r, "shop", &[("core", "local", "127.0.5.6")], "");
    project(apart.path(), "blog", &[("core", "local", "127.0.5.6")], "");
    sync(r, "shop");
    sync(apart.path(), "blog");
    common::copy_dir(&apart.path().join("blog"), &r.join("blog"));
    let shop_before = std::fs::read_to_string(r.join("shop/secrets.yml")).unwrap();
    let blog_before = std::fs::read_to_string(r.join("blog/secrets.yml")).unwrap();
    sync(r, "shop");
    sync(r, "blog");
    assert_eq!(
        std::fs::read_to_string(r.join("shop/secrets.yml")).unwrap(),
        shop_before
    );
    assert_eq!(
        std::fs::read_to_string(r.join("blog/secrets.yml")).unwrap(),
        blog_before
    );
    assert_eq!(port_of(r, "shop", "caches.cache"), 11211);
    assert_eq!(port_of(r, "blog", "caches.cache"), 11211);
    // A new instance in either steers clear of both.
    let mut config = std::fs::read_to_string(r.join("blog/config.yml")).unwrap();
    config.push_str("    second:\n      type: memcached\n      plan: small\n");
    std::fs::write(r.join("blog/config.yml"), config).unwrap();
    sync(r, "blog");
    assert_eq!(port_of(r, "blog", "caches.second"), 11212);
}

#[test]
fn a_broken_neighbour_is_left_out_with_a_note() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    project(r, "shop", &[("core", "local", "127.0.5.7")], "");
    std::fs::create_dir_all(r.join("bad")).unwrap();
    std::fs::write(r.join("bad/config.yml"), "vms: [oops\n").unwrap();
    // A secrets.yml that cannot be read is named by place, never quoted.
    project(r, "leaky", &[("core", "local", "127.0.5.7")], "");
    std::fs::write(
        r.join("leaky/secrets.yml"),
        "addons:\n  memcached:\n    cache: hunter2-not-for-screens\n",
    )
    .unwrap();
    let out = sync(r, "shop");
    assert!(
        out.contains("note: project bad was left out of port allocation: ")
            && out.contains("bad/config.yml:1:"),
        "{out}"
    );
    assert!(
        out.contains("note: project leaky was left out of port allocation: ")
            && out.contains("leaky/secrets.yml:3:"),
        "{out}"
    );
    assert!(!out.contains("hunter2"), "{out}");
    assert_eq!(port_of(r, "shop", "caches.cache"), 11211);
}
