//! `depends` / `provides` / `conflicts` between addon types, enforced on
//! add and attach, with `--with-deps`, a cycle refused at catalog load, and
//! compose starting dependencies first. No Docker needed.

mod common;

use std::path::Path;

use common::{fails, ok, sdtui, snapshot};

/// A user type made from the shipped redis one: `name`, in `category`,
/// with `extra` lines (depends/provides/conflicts/overrides) appended.
fn user_type(root: &Path, name: &str, category: &str, extra: &str) {
    let redis = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("addons/redis/addon.yml"),
    )
    .unwrap();
    let text = redis
        .replace("name: redis", &format!("name: {name}"))
        .replace("category: caches", &format!("category: {category}"))
        + extra;
    let dir = root.join(".no-user-addons").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("addon.yml"), text).unwrap();
}

fn cheapa() -> tempfile::TempDir {
    let root = common::root_with("cheapa");
    ok(&sdtui(root.path(), &["-p", "cheapa", "sync"]));
    root
}

/// Runs `args` on cheapa, expects a refusal mentioning every fragment and
/// a hint, and no file changed.
fn refused(r: &Path, args: &[&str], expect: &[&str]) -> String {
    let before = snapshot(&r.join("cheapa"));
    let mut full = vec!["-p", "cheapa"];
    full.extend_from_slice(args);
    let err = fails(&sdtui(r, &full));
    for e in expect {
        assert!(err.contains(e), "error should mention {e:?}:\n{err}");
    }
    assert!(err.contains("hint: "), "{err}");
    assert_eq!(snapshot(&r.join("cheapa")), before, "nothing may change");
    err
}

#[test]
fn a_missing_dependency_is_named_with_the_command_that_adds_it() {
    let root = cheapa();
    let r = root.path();
    user_type(r, "relay", "relays", "depends: [kv]\n");
    user_type(r, "keyvault", "vaults", "provides: [kv]\n");
    let err = refused(
        r,
        &["addons", "add", "relay", "edge", "--vm", "core"],
        &[
            "relays.edge (relay) depends on kv, and project cheapa has no instance of it",
            "sdtui -p cheapa addons add keyvault NAME --vm core",
            "sdtui -p cheapa addons add relay edge --with-deps",
        ],
    );
    println!("{err}");

    // --with-deps adds the provider in the same plan, above it, on its VM.
    let out = ok(&sdtui(
        r,
        &[
            "-p",
            "cheapa",
            "addons",
            "add",
            "relay",
            "edge",
            "--vm",
            "core",
            "--with-deps",
        ],
    ));
    println!("{out}");
    let cfg = std::fs::read_to_string(r.join("cheapa/config.yml")).unwrap();
    let vault = cfg.find("type: keyvault").expect("keyvault added");
    let relay = cfg.find("type: relay").expect("relay added");
    assert!(vault < relay, "{cfg}");
    // Compose starts the dependency first, once it is healthy.
    let compose =
        std::fs::read_to_string(r.join("cheapa/compose/core/docker-compose.yml")).unwrap();
    let relay_service = &compose[compose.find("relay-edge:").unwrap()..];
    assert!(
        relay_service
            .contains("depends_on:\n      keyvault-edge:\n        condition: service_healthy"),
        "{compose}"
    );

    // Attaching an instance whose dependency went away (config edited by
    // hand) is refused too.
    let cfg_path = r.join("cheapa/config.yml");
    let cfg = std::fs::read_to_string(&cfg_path).unwrap();
    let cfg = cfg.replace("type: keyvault", "type: redis");
    std::fs::write(&cfg_path, cfg).unwrap();
    refused(
        r,
        &[
            "addons",
            "attach",
            "relays.edge",
            "--app",
            "api",
            "--as",
            "RELAY",
        ],
        &["relays.edge (relay) depends on kv"],
    );
}

#[test]
fn a_conflict_on_the_same_vm_is_refused_naming_both() {
    let root = cheapa();
    let r = root.path();
    user_type(r, "keydb", "caches", "conflicts: [redis]\n");
    refused(
        r,
        &["addons", "add", "keydb", "fast", "--vm", "app"],
        &[
            "caches.fast (keydb) conflicts with caches.session (redis) on VM app",
            "put caches.fast on another VM (--vm)",
        ],
    );
    // Another VM: fine.
    ok(&sdtui(
        r,
        &[
            "-p", "cheapa", "addons", "add", "keydb", "fast", "--vm", "core",
        ],
    ));
    // The other side: redis does not name keydb, but keydb names redis.
    refused(
        r,
        &["addons", "add", "redis", "more", "--vm", "core"],
        &["caches.more (redis) conflicts with caches.fast (keydb) on VM core"],
    );
}

#[test]
fn a_dependency_cycle_between_types_is_refused_at_catalog_load() {
    let root = cheapa();
    let r = root.path();
    user_type(r, "alpha", "alphas", "depends: [beta]\n");
    user_type(r, "beta", "betas", "depends: [gamma-api]\n");
    user_type(
        r,
        "gamma",
        "gammas",
        "provides: [gamma-api]\ndepends: [alpha]\n",
    );
    let err = fails(&sdtui(r, &["catalog"]));
    assert!(
        err.contains("addon types depend on each other: alpha → beta → gamma → alpha"),
        "{err}"
    );
    assert!(err.contains("hint: "), "{err}");
    refused(r, &["sync"], &["alpha → beta → gamma → alpha"]);
}

#[test]
fn a_user_type_must_match_its_folder_and_may_not_shadow_a_builtin_silently() {
    let root = cheapa();
    let r = root.path();
    // Shadowing redis without saying so.
    user_type(r, "redis", "caches", "");
    let err = fails(&sdtui(r, &["catalog"]));
    assert!(
        err.contains("type redis shadows the built-in redis"),
        "{err}"
    );
    assert!(err.contains("overrides: true"), "{err}");
    // Saying so: accepted.
    user_type(r, "redis", "caches", "overrides: true\n");
    ok(&sdtui(r, &["catalog"]));
    std::fs::remove_dir_all(r.join(".no-user-addons/redis")).unwrap();
    // A folder whose addon.yml names another type.
    user_type(r, "keydb", "caches", "");
    std::fs::rename(
        r.join(".no-user-addons/keydb"),
        r.join(".no-user-addons/kdb"),
    )
    .unwrap();
    let err = fails(&sdtui(r, &["catalog"]));
    assert!(
        err.contains("type name \"keydb\" differs from its folder \"kdb\""),
        "{err}"
    );
}
