//! Pod files (src/env/pod.rs): the substituted Pod is valid Kubernetes per
//! `kubernetes-validate` (PyPI; tests/kubernetes/install-validate.sh, which
//! tests/run calls), its compose twin is accepted by Compose v1 and v2 and
//! carries the same containers, env, ports and volumes, and a file that is
//! not a Pod, or uses a field the twin cannot carry, is refused by name.

mod common;

use common::compose::{Compose, v2_docker_config};
use sdtui::env::pod::read_pod;
use sdtui::env::substitute::{Variable, Variables};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Command;

fn validator() -> PathBuf {
    let dir = std::env::var_os("SDTUI_K8S_VALIDATE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/sdtui-kubernetes-validate"));
    let bin = dir.join("bin/kubernetes-validate");
    assert!(
        bin.exists(),
        "kubernetes-validate is not installed in {}: run tests/kubernetes/install-validate.sh (tests/run does)",
        dir.display()
    );
    bin
}

/// Runs the validator in strict mode (unknown fields are errors).
fn validate(yaml: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pod.yml");
    std::fs::write(&file, yaml).unwrap();
    let out = Command::new(validator())
        .args(["--strict", "-k", "1.30.0"])
        .arg(&file)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success() && !text.contains("ERROR"), text)
}

fn variables() -> Variables {
    let mut v = Variables::new();
    for (k, val, secret) in [
        ("SDTUI_ENVIRONMENT", "staging", false),
        ("IMAGE", "busybox", false),
        ("TAG", "1.36", false),
        ("PORT", "8080", false),
        ("METRICS_PORT", "9191", false),
        ("WORKERS", "4", false),
        ("DOLLAR", "a$b", false),
        (
            "DATABASE_URL",
            "postgres://app:pw@127.0.2.3:5433/shop?sslmode=disable",
            true,
        ),
        ("DB_PASSWORD", "yes", true),
    ] {
        v.insert(
            k.into(),
            Variable {
                value: val.into(),
                secret,
            },
        );
    }
    v
}

fn fixture(name: &str) -> (PathBuf, String) {
    let path = common::fixture("pods").join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    (PathBuf::from(format!("deploy/{name}")), text)
}

#[test]
fn the_substituted_pod_is_valid_kubernetes() {
    let (path, text) = fixture("web-pod.yml");
    let files = read_pod(&path, &text, &variables(), "127.0.0.1").unwrap();
    let (ok, report) = validate(&files.pod);
    assert!(
        ok,
        "kubernetes-validate refused our Pod:\n{report}\n{}",
        files.pod
    );
    // The validator can fail: the same Pod with a port written as a string
    // (what a naive substitution into a quoted scalar gives) is refused.
    let broken = files
        .pod
        .replace("containerPort: 8080", "containerPort: \"8080\"");
    assert_ne!(broken, files.pod);
    let (ok, report) = validate(&broken);
    assert!(!ok, "the validator accepted a string port:\n{report}");
    // Typed where the user wrote a plain `${PORT}`, strings where quoted.
    let pod: Value = serde_saphyr::from_str(&files.pod).unwrap();
    let web = &pod["spec"]["containers"][0];
    assert_eq!(web["ports"][0]["containerPort"], json!(8080));
    assert_eq!(web["env"][1]["value"], json!("yes"));
    assert_eq!(web["env"][2]["value"], json!("4"));
    assert_eq!(web["env"][3]["value"], json!("costs $5 a$b"));
    assert_eq!(
        web["args"][0],
        json!("echo \"serving staging on 8080\"\nexec httpd -f -p 8080\n")
    );
    // The occurrences name the user's file and line.
    let port_lines: Vec<u64> = files
        .occurrences
        .iter()
        .filter(|o| o.name == "PORT")
        .map(|o| o.line)
        .collect();
    assert_eq!(port_lines, vec![18, 19, 31, 47]);
    assert!(files.occurrences.iter().all(|o| o.file == path));
}

/// `config` of one version over the twin: Ok(JSON of v2's reading) or the error.
fn twin_config(compose: Compose, twin: &str) -> Result<Value, String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("docker-compose.yml"), twin).unwrap();
    let mut cmd = compose.command();
    cmd.current_dir(dir.path()).env_remove("USER").args([
        "-p",
        "twin",
        "-f",
        "docker-compose.yml",
        "config",
    ]);
    if compose == Compose::V2 {
        cmd.env("DOCKER_CONFIG", v2_docker_config())
            .args(["--format", "json"]);
    } else {
        cmd.arg("-q");
    }
    let out = cmd.output().unwrap();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(if compose == Compose::V2 {
        serde_json::from_slice(&out.stdout).unwrap()
    } else {
        Value::Null
    })
}

#[test]
fn the_compose_twin_is_accepted_by_v1_and_v2_and_carries_the_pod() {
    let (path, text) = fixture("web-pod.yml");
    let files = read_pod(&path, &text, &variables(), "127.0.0.1").unwrap();
    twin_config(Compose::V1, &files.compose)
        .unwrap_or_else(|e| panic!("v1 refused the twin: {e}\n{}", files.compose));
    let doc = twin_config(Compose::V2, &files.compose)
        .unwrap_or_else(|e| panic!("v2 refused the twin: {e}\n{}", files.compose));
    let web = &doc["services"]["web"];
    assert_eq!(web["image"], "busybox:1.36");
    assert_eq!(web["hostname"], "web-staging");
    assert_eq!(web["entrypoint"], json!(["/bin/sh", "-c"]));
    assert_eq!(
        web["command"],
        json!(["echo \"serving staging on 8080\"\nexec httpd -f -p 8080\n"])
    );
    assert_eq!(web["working_dir"], "/srv");
    assert_eq!(web["restart"], "on-failure");
    // v2 prints a literal `$` as `$$`: the values are the Pod's, unchanged.
    assert_eq!(
        web["environment"],
        json!({
            "DATABASE_URL": "postgres://app:pw@127.0.2.3:5433/shop?sslmode=disable",
            "DB_PASSWORD": "yes",
            "WORKERS": "4",
            "PRICE": "costs $$5 a$$b",
        })
    );
    let ports: Vec<(String, String, String, String)> = web["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["host_ip"].as_str().unwrap().to_string(),
                p["published"].as_str().unwrap().to_string(),
                p["target"].to_string(),
                p["protocol"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        ports,
        vec![
            (
                "127.0.0.1".into(),
                "8080".into(),
                "8080".into(),
                "tcp".into()
            ),
            (
                "127.0.0.1".into(),
                "9191".into(),
                "9090".into(),
                "udp".into()
            ),
        ]
    );
    let mounts: Vec<(String, String, bool)> = web["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            assert_eq!(v["type"], "volume");
            (
                v["source"].as_str().unwrap().to_string(),
                v["target"].as_str().unwrap().to_string(),
                v["read_only"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    assert_eq!(
        mounts,
        vec![
            ("shop-data-staging".into(), "/srv/data".into(), false),
            ("scratch".into(), "/tmp/scratch".into(), true),
        ]
    );
    assert_eq!(web["labels"]["environment"], "staging");
    assert_eq!(web["labels"]["sdtui.pod"], "shop-web");
    // The sidecar shares the Pod's network, as containers of a Pod do.
    let sidecar = &doc["services"]["sidecar"];
    assert_eq!(sidecar["network_mode"], "service:web");
    assert_eq!(sidecar["command"], json!(["sleep", "3600"]));
    assert_eq!(sidecar["environment"]["UPSTREAM"], "http://localhost:8080");
    assert!(doc["volumes"]["shop-data-staging"].is_object());
    assert!(doc["volumes"]["scratch"].is_object());
}

fn refused(name: &str) -> String {
    let (path, text) = fixture(name);
    read_pod(&path, &text, &variables(), "127.0.0.1")
        .unwrap_err()
        .to_string()
}

#[test]
fn a_kind_other_than_pod_is_refused_with_its_line() {
    let e = refused("deployment.yml");
    assert!(
        e.starts_with("deploy/deployment.yml:2:7: kind `Deployment` is not supported"),
        "{e}"
    );
    assert!(e.contains("hint: "), "{e}");
}

#[test]
fn fields_the_twin_cannot_carry_are_refused_by_name() {
    let e = refused("init-containers.yml");
    assert!(
        e.starts_with("deploy/init-containers.yml:6:3: `spec.initContainers` is not supported"),
        "{e}"
    );
    let e = refused("security-context.yml");
    assert!(
        e.starts_with(
            "deploy/security-context.yml:9:7: `spec.containers[].securityContext` is not supported"
        ),
        "{e}"
    );
    assert!(e.contains("carries only: name, image, command"), "{e}");
}

#[test]
fn an_unresolved_variable_in_a_pod_names_the_users_file() {
    let (path, text) = fixture("web-pod.yml");
    let mut vars = variables();
    vars.remove("METRICS_PORT");
    let e = read_pod(&path, &text, &vars, "127.0.0.1")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("deploy/web-pod.yml:33:21: variable `METRICS_PORT` is not defined"),
        "{e}"
    );
    assert!(!e.contains("sslmode"), "a secret reached the error: {e}");
}

#[test]
fn a_value_kubernetes_would_expand_is_refused_without_showing_it() {
    let (path, text) = fixture("web-pod.yml");
    let mut vars = variables();
    vars.insert(
        "DB_PASSWORD".into(),
        Variable {
            value: "pw$(HOME)x".into(),
            secret: true,
        },
    );
    let e = read_pod(&path, &text, &vars, "127.0.0.1")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("deploy/web-pod.yml:25:19: variable `DB_PASSWORD`: a value holding `$(`"),
        "{e}"
    );
    assert!(!e.contains("HOME"), "the value reached the error: {e}");
}
