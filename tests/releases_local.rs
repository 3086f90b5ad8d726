//! App releases on the real engine: `deploy APP --tag` recreates that app
//! alone after its attachments are healthy and runs its hooks inside it; a
//! failing hook fails the release with its output and puts the old tag
//! back; `releases` lists them; `rollback` redeploys the previous one.

mod common;

use common::compose::Compose;
use common::docker::{Cleanup, container, docker, require_images};
use common::{fails, ok};
use std::path::Path;
use std::process::Output;

#[test]
fn deploy_hooks_releases_and_rollback_v1() {
    deploy_hooks_releases_and_rollback(Compose::V1, "127.0.3.31");
}

#[test]
fn deploy_hooks_releases_and_rollback_v2() {
    deploy_hooks_releases_and_rollback(Compose::V2, "127.0.3.32");
}

fn deploy_hooks_releases_and_rollback(compose: Compose, ip: &str) {
    require_images(&["postgres:15", "sdtui-testapp:latest"]);
    let env = compose.sdtui_env();
    let sdtui = |root: &Path, args: &[&str]| -> Output { common::sdtui_env(root, args, &env) };
    for tag in ["rel-a", "rel-b"] {
        assert!(
            docker(&[
                "tag",
                "sdtui-testapp:latest",
                &format!("sdtui-testapp:{tag}")
            ])
            .0
        );
    }
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = format!("rl{}{}", std::process::id(), compose.tag());
    let cp = format!("{name}-local");
    let _cleanup = Cleanup(cp.clone());
    let dir = r.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    let config = &format!(
        "vms:\n  local:\n    host: local\n    private_ip: {ip}\naddons:\n  databases:\n    main:\n      type: postgres\n      plan: small\napps:\n  web:\n    image: sdtui-testapp\n    tag: rel-a\n    addons:\n      - databases.main\n    hooks:\n      after_deploy:\n        - check\n"
    );
    std::fs::write(dir.join("config.yml"), config).unwrap();
    ok(&sdtui(r, &["-p", &name, "up", "--timeout", "120"]));
    let pg = container(&cp, "postgres-main");

    // A release recreates the app alone and runs its hook (the test app's
    // check, which connects with the injected DATABASE_* variables).
    // What `up` started is the first release: a rollback reaches it.
    let out = ok(&sdtui(r, &["-p", &name, "deploy", "web", "--tag", "rel-b"]));
    assert!(out.contains("web: release v2 (rel-b) deployed"), "{out}");
    let out = ok(&sdtui(r, &["-p", &name, "rollback", "web"]));
    assert!(
        out.contains("release v3 (rel-a) deployed, rollback from v2 (rel-b)"),
        "{out}"
    );
    let (_, image) = docker(&["inspect", "-f", "{{.Config.Image}}", &container(&cp, "web")]);
    assert_eq!(image.trim(), "sdtui-testapp:rel-a");
    let out = ok(&sdtui(r, &["-p", &name, "deploy", "web", "--tag", "rel-b"]));
    assert!(out.contains("web: release v4 (rel-b) deployed"), "{out}");
    assert_eq!(
        container(&cp, "postgres-main"),
        pg,
        "the database was not touched"
    );
    let (_, image) = docker(&["inspect", "-f", "{{.Config.Image}}", &container(&cp, "web")]);
    assert_eq!(image.trim(), "sdtui-testapp:rel-b");
    assert!(
        std::fs::read_to_string(dir.join("config.yml"))
            .unwrap()
            .contains("    tag: rel-b\n")
    );

    // A failing hook fails the release with its output; rel-b stays.
    let failing = config.replace(
        "        - check\n",
        "        - check\n        - echo migration exploded >&2; exit 3\n",
    );
    std::fs::write(
        dir.join("config.yml"),
        failing.replace("tag: rel-a", "tag: rel-b"),
    )
    .unwrap();
    let err = fails(&sdtui(
        r,
        &[
            "-p",
            &name,
            "deploy",
            "web",
            "--tag",
            "rel-a",
            "--timeout",
            "60",
        ],
    ));
    assert!(
        err.contains(
            "after_deploy hook `echo migration exploded >&2; exit 3` failed in web (exit 3)"
        ),
        "{err}"
    );
    assert!(
        err.contains("migration exploded") && err.contains("web is back on rel-b"),
        "{err}"
    );
    let (_, image) = docker(&["inspect", "-f", "{{.Config.Image}}", &container(&cp, "web")]);
    assert_eq!(image.trim(), "sdtui-testapp:rel-b");
    assert!(
        std::fs::read_to_string(dir.join("config.yml"))
            .unwrap()
            .contains("    tag: rel-b\n")
    );

    // Hooks fixed: rel-a goes out, then a rollback brings rel-b back.
    std::fs::write(
        dir.join("config.yml"),
        config.replace("tag: rel-a", "tag: rel-b"),
    )
    .unwrap();
    ok(&sdtui(r, &["-p", &name, "deploy", "web", "--tag", "rel-a"]));
    let out = ok(&sdtui(r, &["-p", &name, "rollback", "web"]));
    assert!(
        out.contains("release v7 (rel-b) deployed, rollback from v6 (rel-a)"),
        "{out}"
    );
    let (_, image) = docker(&["inspect", "-f", "{{.Config.Image}}", &container(&cp, "web")]);
    assert_eq!(image.trim(), "sdtui-testapp:rel-b");

    let list: serde_json::Value =
        serde_json::from_str(&ok(&sdtui(r, &["-p", &name, "releases", "web", "--json"]))).unwrap();
    for rel in list.as_array().unwrap() {
        let user = rel["user"].as_str().unwrap();
        assert!(user.starts_with("tester@"), "who, with the host: {user}");
    }
    let summary: Vec<(u64, &str, &str)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["version"].as_u64().unwrap(),
                x["tag"].as_str().unwrap(),
                x["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(summary[0], (1, "rel-a", "deployed"));
    assert_eq!(summary[1], (2, "rel-b", "deployed"));
    assert_eq!(summary[2], (3, "rel-a", "deployed"));
    assert_eq!(summary[3], (4, "rel-b", "deployed"));
    assert_eq!((summary[4].0, summary[4].1), (5, "rel-a"));
    assert!(summary[4].2.starts_with("failed: after_deploy hook"));
    assert_eq!(summary[5], (6, "rel-a", "deployed"));
    assert_eq!(summary[6], (7, "rel-b", "deployed"));
    assert_eq!(summary.len(), 7);
    let hist = ok(&sdtui(r, &["-p", &name, "history"]));
    assert!(
        hist.contains("deploy web --tag rel-b") && hist.contains("up"),
        "{hist}"
    );
    // With the database left where it was all along.
    assert_eq!(container(&cp, "postgres-main"), pg);

    // A deploy that cannot start (its database is down) is a failure in
    // the audit trail, not a release number.
    assert!(docker(&["stop", &pg]).0);
    let err = fails(&sdtui(r, &["-p", &name, "deploy", "web", "--tag", "rel-a"]));
    assert!(err.contains("is not running healthy"), "{err}");
    let list: serde_json::Value =
        serde_json::from_str(&ok(&sdtui(r, &["-p", &name, "releases", "web", "--json"]))).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 7, "{list}");
    let hist: serde_json::Value =
        serde_json::from_str(&ok(&sdtui(r, &["-p", &name, "history", "--json"]))).unwrap();
    let last = hist.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["operation"], "deploy web --tag rel-a");
    assert!(
        last["outcome"]
            .as_str()
            .unwrap()
            .starts_with("failed before starting:"),
        "{last}"
    );
    assert!(
        std::fs::read_to_string(dir.join("config.yml"))
            .unwrap()
            .contains("    tag: rel-b\n"),
        "config.yml untouched"
    );
}
