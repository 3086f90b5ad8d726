//! What sdtui writes reads the same under Compose v1 (1.29.2, the system's
//! `docker-compose`) and v2 (Debian's 2.26.1, extracted by
//! tests/compose/install-v2.sh): every awkward env value, and names that a
//! YAML 1.1 reader would take for numbers or bools, through each version's
//! own `config`.

mod common;

use common::compose::Compose;
use common::{fails, ok, sdtui};
use std::path::Path;

/// Values an env file must carry byte for byte.
const AWKWARD_VALUES: &[&str] = &[
    "a$b",
    "a$$b",
    "$X",
    "$$",
    "${a:b}",
    "it's",
    "'quoted'",
    "say \"hi\"",
    "\"",
    "'",
    "x #y",
    "x#y",
    "#",
    " lead",
    "trail ",
    "  ",
    "k=v",
    "=",
    "back\\slash",
    "two\\\\backslashes",
    "ends\\",
    "\\",
    "a\\'b",
    "\\n",
    "tab\there",
    "ünïcødé € 😀",
    "",
    "`cmd` $(cmd)",
    // Backslashes that single quotes cannot carry, with what else forces
    // double quotes or no quotes.
    " two\\\\ spaced ",
    "'\\\\'",
    "#a\\\\b",
    "x #a\\\\b",
];

/// Runs `config` of one version over a generated VM folder and returns the
/// document it resolved. v2 prints JSON; v1 prints only YAML 1.1, read with
/// its own PyYAML so that what it means by `1e3` or `on` is what we see.
fn config(compose: Compose, dir: &Path) -> serde_json::Value {
    let mut cmd = compose.command();
    cmd.current_dir(dir).env_remove("USER").args([
        "-p",
        "cv",
        "-f",
        "docker-compose.yml",
        "config",
    ]);
    if compose == Compose::V2 {
        cmd.args(["--format", "json"]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{compose:?} config in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let json = match compose {
        Compose::V2 => out.stdout,
        Compose::V1 => {
            let mut py = std::process::Command::new("/usr/bin/python3")
                .args([
                    "-c",
                    "import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)",
                ])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .expect("python3 with PyYAML (docker-compose's own)");
            use std::io::Write;
            py.stdin.take().unwrap().write_all(&out.stdout).unwrap();
            let read = py.wait_with_output().unwrap();
            assert!(read.status.success());
            read.stdout
        }
    };
    serde_json::from_slice(&json).unwrap()
}

fn environment(doc: &serde_json::Value, service: &str) -> Vec<(String, String)> {
    doc["services"][service]["environment"]
        .as_object()
        .unwrap_or_else(|| panic!("no environment for {service}: {doc}"))
        .iter()
        .map(|(k, v)| {
            let v = match v {
                serde_json::Value::String(s) => s.replace("$$", "$"),
                serde_json::Value::Null => String::new(),
                other => panic!("{k} read as {other}, not a string"),
            };
            (k.clone(), v)
        })
        .collect()
}

fn write_project(root: &Path, config: &str) {
    std::fs::create_dir_all(root.join("cv")).unwrap();
    std::fs::write(root.join("cv/config.yml"), config).unwrap();
}

#[test]
fn every_awkward_env_value_reads_the_same_in_v1_and_v2() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let mut yaml = String::from("apps:\n  web:\n    image: sdtui-testapp\n    env:\n");
    for (i, v) in AWKWARD_VALUES.iter().enumerate() {
        // JSON strings are YAML double-quoted strings.
        yaml.push_str(&format!(
            "      V{i}: {}\n",
            serde_json::to_string(v).unwrap()
        ));
    }
    write_project(r, &yaml);
    ok(&sdtui(r, &["-p", "cv", "sync"]));
    let dir = r.join("cv/compose/local");
    for compose in Compose::BOTH {
        let env = environment(&config(compose, &dir), "web");
        for (i, want) in AWKWARD_VALUES.iter().enumerate() {
            let got = env
                .iter()
                .find(|(k, _)| *k == format!("V{i}"))
                .map(|(_, v)| v.as_str());
            assert_eq!(got, Some(*want), "{compose:?} read V{i} differently");
        }
    }
}

#[test]
fn a_value_compose_v1_would_expand_is_refused_and_nothing_written() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    write_project(
        r,
        "apps:\n  web:\n    image: sdtui-testapp\n    env:\n      GREETING: \"hello ${USER}\"\n",
    );
    let before = common::snapshot(&r.join("cv"));
    let err = fails(&sdtui(r, &["-p", "cv", "sync"]));
    assert!(
        err.contains("app web: the value of GREETING holds `${USER}`")
            && err.contains("Compose v1 replaces"),
        "{err}"
    );
    assert!(err.contains("hint:"), "{err}");
    assert_eq!(common::snapshot(&r.join("cv")), before, "nothing written");
}

#[test]
fn names_yaml_11_reads_as_numbers_or_bools_stay_strings_in_v1_and_v2() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    // An instance `0b101` (5 in YAML 1.1), `1e3`, and an app named `on`
    // (quoted in config.yml, as sdtui asks)
    // (true in YAML 1.1), whose name is a service key.
    write_project(
        r,
        "addons:\n  caches:\n    \"0b101\":\n      type: redis\n    \"1e3\":\n      type: memcached\napps:\n  \"on\":\n    image: sdtui-testapp\n    addons:\n      - caches.0b101\n",
    );
    ok(&sdtui(r, &["-p", "cv", "sync"]));
    let dir = r.join("cv/compose/local");
    for compose in Compose::BOTH {
        let doc = config(compose, &dir);
        let services = doc["services"].as_object().unwrap();
        assert!(
            services.contains_key("on") && services.contains_key("redis-0b101"),
            "{compose:?}: {doc}"
        );
        assert_eq!(
            doc["services"]["redis-0b101"]["labels"]["com.superdeploy.instance"],
            serde_json::json!("0b101"),
            "{compose:?}"
        );
        assert_eq!(
            doc["services"]["memcached-1e3"]["labels"]["com.superdeploy.instance"],
            serde_json::json!("1e3"),
            "{compose:?}"
        );
        assert_eq!(
            doc["services"]["on"]["labels"]["com.superdeploy.app"],
            serde_json::json!("on"),
            "{compose:?}"
        );
    }
}
