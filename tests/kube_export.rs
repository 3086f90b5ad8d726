//! `export --format kubernetes` (src/cluster/kubernetes.rs): every manifest
//! is valid Kubernetes per `kubernetes-validate` (PyPI, strict, 1.30), the
//! kustomization lists exactly what was written, nothing but a Secret holds
//! a credential (and Secrets are written, 0600, only with
//! --include-secrets), apps reach addons by Service name and container port
//! whatever VM the addon has under sdtui, plans become requests, limits and
//! claim sizes, health checks become probes, and the same project gives the
//! same bytes. No cluster is needed (none is reachable here).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{fails, ok, sdtui};
use serde_json::Value;

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

fn validate(file: &Path) {
    let out = Command::new(validator())
        .args(["--strict", "-k", "1.30.0"])
        .arg(file)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && !text.contains("ERROR"),
        "kubernetes-validate refused {}:\n{text}\n{}",
        file.display(),
        std::fs::read_to_string(file).unwrap()
    );
}

/// Every document of a multi-document YAML file.
fn docs(file: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(file).unwrap();
    text.split("\n---\n")
        .map(|d| serde_saphyr::from_str::<Value>(d).unwrap())
        .collect()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

const CONFIG: &str = "# kubernetes export
vms:
  local:
    host: local
    private_ip: 127.0.87.1
  db:
    host: 127.0.87.2
    private_ip: 127.0.87.2
addons:
  databases:
    primary:
      type: postgres
      plan: standard
      vm: db
  caches:
    session:
      type: redis
      plan: small
      vm: local
  queues:
    jobs:
      type: rabbitmq
      plan: small
      vm: local
apps:
  web:
    image: shop/web
    tag: \"1.4\"
    vm: local
    port: 8000
    addons:
      - databases.primary
      - {addon: databases.primary, as: REPORTING, access: readonly}
      - caches.session
      - queues.jobs
    env:
      LOG_LEVEL: info
environments:
  staging:
    vm: local
    addons:
      databases:
        primary:
          plan: small
";

#[test]
fn kubernetes_manifests_validate_and_keep_secrets_in_secrets() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let dir = r.join("kx");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.yml"), CONFIG).unwrap();
    ok(&sdtui(r, &["-p", "kx", "sync"]));
    let passwords: Vec<String> =
        common::secret_values(&dir.join("secrets.yml"), &["PASSWORD", "ERLANG_COOKIE"])
            .into_iter()
            .filter(|v| v.len() >= 16)
            .collect();
    assert!(passwords.len() >= 4, "{passwords:?}");

    // Without --include-secrets: no Secret written, each one named.
    let out_dir = r.join("plain");
    let text = ok(&sdtui(
        r,
        &[
            "-p",
            "kx",
            "export",
            "--format",
            "kubernetes",
            "-o",
            out_dir.to_str().unwrap(),
        ],
    ));
    assert!(
        text.contains("not written: Secret web-env")
            && text.contains("not written: Secret postgres-primary-credentials"),
        "{text}"
    );
    let written = files_under(&out_dir);
    let rel: Vec<String> = written
        .iter()
        .map(|p| p.strip_prefix(&out_dir).unwrap().display().to_string())
        .collect();
    assert_eq!(
        rel,
        [
            "addons/postgres-primary.yaml",
            "addons/rabbitmq-jobs.yaml",
            "addons/redis-session.yaml",
            "apps/web.yaml",
            "kustomization.yaml"
        ]
    );
    for f in &written {
        let content = std::fs::read_to_string(f).unwrap();
        for p in &passwords {
            assert!(
                !content.contains(p.as_str()),
                "a credential in {}",
                f.display()
            );
        }
        if !f.ends_with("kustomization.yaml") {
            validate(f);
        }
    }
    // The kustomization lists exactly the workloads, and names the Secrets.
    let kustomization = docs(&out_dir.join("kustomization.yaml")).remove(0);
    let resources: Vec<&str> = kustomization["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        resources,
        [
            "addons/postgres-primary.yaml",
            "addons/redis-session.yaml",
            "addons/rabbitmq-jobs.yaml",
            "apps/web.yaml"
        ]
    );
    let k_text = std::fs::read_to_string(out_dir.join("kustomization.yaml")).unwrap();
    assert!(k_text.contains("#   web-env: "), "{k_text}");

    // postgres: plan standard (512M, 0.5 cpu, 10G disk), probes, a claim.
    let pg = docs(&out_dir.join("addons/postgres-primary.yaml"));
    let (sts, svc) = (&pg[0], &pg[1]);
    assert_eq!(sts["kind"], "StatefulSet");
    let c = &sts["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["image"], "postgres:15");
    assert_eq!(c["resources"]["limits"]["memory"], "512Mi");
    assert_eq!(c["resources"]["requests"]["cpu"], "0.5");
    assert_eq!(
        sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"],
        "10Gi"
    );
    let probe = c["readinessProbe"]["exec"]["command"].as_array().unwrap();
    assert_eq!(probe[0], "sh");
    assert!(probe[2].as_str().unwrap().contains("pg_isready"));
    assert!(!probe[2].as_str().unwrap().contains("$$"), "{probe:?}");
    assert!(c["livenessProbe"]["initialDelaySeconds"].as_u64().unwrap() > 0);
    let password_env = c["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "POSTGRES_PASSWORD")
        .unwrap();
    assert_eq!(
        password_env["valueFrom"]["secretKeyRef"]["name"],
        "postgres-primary-credentials"
    );
    assert_eq!(svc["kind"], "Service");
    assert_eq!(svc["spec"]["ports"][0]["port"], 5432);

    // web: a Deployment with envFrom its Secret, plain env inline, a Service.
    let web = docs(&out_dir.join("apps/web.yaml"));
    let wc = &web[0]["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(wc["image"], "shop/web:1.4");
    assert_eq!(wc["envFrom"][0]["secretRef"]["name"], "web-env");
    assert_eq!(wc["env"][0]["name"], "LOG_LEVEL");
    assert_eq!(web[1]["spec"]["ports"][0]["port"], 8000);

    // The same project, the same bytes.
    let again = r.join("again");
    ok(&sdtui(
        r,
        &[
            "-p",
            "kx",
            "export",
            "--format",
            "kubernetes",
            "-o",
            again.to_str().unwrap(),
        ],
    ));
    for f in &written {
        let twin = again.join(f.strip_prefix(&out_dir).unwrap());
        assert_eq!(std::fs::read(f).unwrap(), std::fs::read(&twin).unwrap());
    }

    // With --include-secrets: Secrets written 0600, valid, listed; the app
    // reaches postgres (on VM db under sdtui) by its Service name and port.
    let full = r.join("full");
    let text = ok(&sdtui(
        r,
        &[
            "-p",
            "kx",
            "export",
            "--format",
            "kubernetes",
            "-o",
            full.to_str().unwrap(),
            "--include-secrets",
        ],
    ));
    assert!(!text.contains("not written"), "{text}");
    let web_env = full.join("secrets/web-env.yaml");
    assert_eq!(
        std::fs::metadata(&web_env).unwrap().permissions().mode() & 0o777,
        0o600
    );
    for f in files_under(&full.join("secrets")) {
        validate(&f);
    }
    let secret = docs(&web_env).remove(0);
    let url = secret["stringData"]["DATABASE_URL"].as_str().unwrap();
    assert!(url.contains("@postgres-primary:5432/"), "{url}");
    assert_eq!(secret["stringData"]["REPORTING_READONLY"], "true");
    assert!(
        secret["stringData"]["CACHE_URL"]
            .as_str()
            .unwrap()
            .contains("@redis-session:6379")
    );
    let kustomization = std::fs::read_to_string(full.join("kustomization.yaml")).unwrap();
    assert!(
        kustomization.contains("secrets/web-env.yaml"),
        "{kustomization}"
    );

    // An environment: its own instances (staging's small postgres).
    let staging = r.join("staging");
    ok(&sdtui(r, &["-p", "kx", "sync"]));
    ok(&sdtui(
        r,
        &[
            "-p",
            "kx",
            "-e",
            "staging",
            "export",
            "--format",
            "kubernetes",
            "-o",
            staging.to_str().unwrap(),
        ],
    ));
    let spg = docs(&staging.join("addons/postgres-primary.yaml"));
    assert_eq!(
        spg[0]["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"],
        "256Mi"
    );
    assert!(!staging.join("apps").exists());
    validate(&staging.join("addons/postgres-primary.yaml"));

    // Bad input: an unknown format is clap's, with the choices.
    let bad = fails(&sdtui(r, &["-p", "kx", "export", "--format", "helm"]));
    assert!(bad.contains("kubernetes"), "{bad}");
}
