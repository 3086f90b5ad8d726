//! `export --format kubernetes`: the project (or one environment) as
//! manifests a user applies with `kubectl apply -k DIR`. Per addon a
//! StatefulSet (its volumes as PersistentVolumeClaims sized from the plan's
//! disk, requests and limits from the plan, the catalog's health check as
//! readiness and liveness probes) and a Service; per app a Deployment whose
//! attachments' variables come from a Secret (`envFrom`), and a Service
//! when it has a port; a kustomization.yaml listing them. In a cluster every
//! addon is reached by its Service name and container port, whatever VM it
//! runs on under sdtui.
//!
//! Secrets live only in Secret objects, which are written (0600) and listed
//! in the kustomization only with `include_secrets`; otherwise the export
//! names each Secret and its keys for the user to create. Deterministic:
//! the same project gives the same bytes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Value, json};

use crate::catalog::{AddonType, Catalog};
use crate::config::{Addon, App};
use crate::engine::generate::{self, EnvVar};
use crate::engine::{Loaded, Project, Workspace};
use crate::error::{Result, UserError, io_error};

/// A Secret the manifests refer to, and the keys it must hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretRef {
    pub name: String,
    pub keys: Vec<String>,
}

/// One manifest file, relative to the output folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestFile {
    pub rel: PathBuf,
    pub content: String,
    /// It holds secret values (a Secret object).
    pub secret: bool,
}

/// What the export makes.
#[derive(Debug, Clone)]
pub struct KubeExport {
    pub files: Vec<ManifestFile>,
    /// The Secrets the workloads need; written only with include_secrets.
    pub secrets: Vec<SecretRef>,
}

/// A written file.
#[derive(Debug, Clone, Serialize)]
pub struct Written {
    pub path: PathBuf,
    pub mode: u32,
    pub secrets: bool,
}

const MANAGED_BY: &str = "sdtui";

/// The manifests of `project` (or the environment it is); nothing is written.
pub fn manifests(ws: &Workspace, project: &Project, include_secrets: bool) -> Result<KubeExport> {
    let loaded = ws.load(project)?;
    build(&project.name, &loaded, &ws.catalog, include_secrets)
}

/// Writes the export into `out` (created when missing), each file
/// atomically; Secret files 0600.
pub fn write(out: &Path, export: &KubeExport) -> Result<Vec<Written>> {
    let mut written = Vec::new();
    for f in &export.files {
        let path = out.join(&f.rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io_error(dir, "create", e))?;
        }
        let mode = if f.secret { 0o600 } else { 0o644 };
        crate::engine::apply::write_atomic(&path, f.content.as_bytes(), mode)?;
        written.push(Written {
            path,
            mode,
            secrets: f.secret,
        });
    }
    Ok(written)
}

/// The pure part: manifests from a loaded project.
pub fn build(
    project: &str,
    loaded: &Loaded,
    catalog: &Catalog,
    include_secrets: bool,
) -> Result<KubeExport> {
    let config = &loaded.config;
    let part_of = dns_name(project);
    let mut files = Vec::new();
    let mut secrets = Vec::new();
    let mut resources = Vec::new();
    let header = |what: &str| {
        format!("# {what} of project {project}, exported by sdtui (export --format kubernetes).\n")
    };

    // A system type's instance configures a VM: nothing to export.
    for addon in config.addons.iter().filter(|a| !a.system) {
        let t = catalog.require(&addon.type_name)?;
        let name = dns_name(&addon.service());
        let creds = &loaded.generated.secrets[&addon.type_name][&addon.name];
        let vars = generate::template_vars(project, addon, creds);
        let mut env = Vec::new();
        let mut secret_data = BTreeMap::new();
        let secret_name = format!("{name}-credentials");
        for (k, tpl) in &t.container_env {
            let v = crate::template::render(tpl, &vars).map_err(|m| {
                UserError::new(format!(
                    "addon type {}: {k} uses unknown variable {{{m}}}",
                    t.name
                ))
            })?;
            if t.template_is_secret(tpl) {
                env.push(json!({"name": k, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": k}}}));
                secret_data.insert(k.clone(), v);
            } else {
                env.push(json!({"name": k, "value": v}));
            }
        }
        if !secret_data.is_empty() {
            push_secret(
                &mut files,
                &mut secrets,
                &mut resources,
                &secret_name,
                &part_of,
                &secret_data,
                include_secrets,
                &header(&format!("credentials of addon {}", addon.id())),
            )?;
        }
        let docs = addon_docs(project, &part_of, &name, t, addon, env)?;
        let rel = PathBuf::from("addons").join(format!("{name}.yaml"));
        files.push(ManifestFile {
            rel: rel.clone(),
            content: format!(
                "{}{}",
                header(&format!(
                    "addon {} ({} {}, plan {})",
                    addon.id(),
                    t.name,
                    addon.version,
                    addon.plan
                )),
                yaml_docs(&docs)?
            ),
            secret: false,
        });
        resources.push(rel);
    }

    // In a cluster every addon is the app's neighbour: its Service name and
    // container port, as for an app on the addon's own VM.
    let in_cluster = super::one_machine(config);
    for app in config.apps.values() {
        let name = dns_name(&app.name);
        let env: Vec<EnvVar> = generate::app_environment(
            &in_cluster,
            catalog,
            &loaded.generated.secrets,
            &loaded.secrets,
            &in_cluster.apps[&app.name],
        )?;
        let secret_name = format!("{name}-env");
        let secret_data: BTreeMap<String, String> = env
            .iter()
            .filter(|e| e.secret || is_attachment(e))
            .map(|e| (e.name.clone(), e.value.clone()))
            .collect();
        let plain: Vec<Value> = env
            .iter()
            .filter(|e| !(e.secret || is_attachment(e)))
            .map(|e| json!({"name": e.name, "value": e.value}))
            .collect();
        if !secret_data.is_empty() {
            push_secret(
                &mut files,
                &mut secrets,
                &mut resources,
                &secret_name,
                &part_of,
                &secret_data,
                include_secrets,
                &header(&format!("variables of app {}", app.name)),
            )?;
        }
        let docs = app_docs(
            &part_of,
            &name,
            app,
            plain,
            (!secret_data.is_empty()).then_some(secret_name.as_str()),
        );
        let rel = PathBuf::from("apps").join(format!("{name}.yaml"));
        files.push(ManifestFile {
            rel: rel.clone(),
            content: format!(
                "{}{}",
                header(&format!("app {}", app.name)),
                yaml_docs(&docs)?
            ),
            secret: false,
        });
        resources.push(rel);
    }

    let mut kustomization = header("kustomization");
    if !include_secrets && !secrets.is_empty() {
        kustomization.push_str(
            "# Not included: the Secrets below hold credentials. Create them yourself\n# (kubectl create secret generic NAME --from-literal=KEY=...), or export again\n# with --include-secrets to have them written (0600) and listed here.\n",
        );
        for s in &secrets {
            kustomization.push_str(&format!("#   {}: {}\n", s.name, s.keys.join(", ")));
        }
    }
    let resources: Vec<String> = resources
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    kustomization.push_str(&yaml(&json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "labels": [{"pairs": {"app.kubernetes.io/part-of": part_of, "app.kubernetes.io/managed-by": MANAGED_BY}}],
        "resources": resources,
    }))?);
    files.push(ManifestFile {
        rel: PathBuf::from("kustomization.yaml"),
        content: kustomization,
        secret: false,
    });
    Ok(KubeExport { files, secrets })
}

/// An attachment's variable (its source is `addon as PREFIX`): those go to
/// the app's Secret with the credentials, as the issue's `envFrom` says.
fn is_attachment(e: &EnvVar) -> bool {
    e.source.contains(" as ")
}

#[allow(clippy::too_many_arguments)]
fn push_secret(
    files: &mut Vec<ManifestFile>,
    secrets: &mut Vec<SecretRef>,
    resources: &mut Vec<PathBuf>,
    name: &str,
    part_of: &str,
    data: &BTreeMap<String, String>,
    include: bool,
    header: &str,
) -> Result<()> {
    secrets.push(SecretRef {
        name: name.to_string(),
        keys: data.keys().cloned().collect(),
    });
    if !include {
        return Ok(());
    }
    let rel = PathBuf::from("secrets").join(format!("{name}.yaml"));
    files.push(ManifestFile {
        rel: rel.clone(),
        content: format!(
            "{header}{}",
            yaml(&json!({
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": name,
                    "labels": labels(part_of, name),
                    "annotations": {"sdtui/holds-secrets": "true"},
                },
                "type": "Opaque",
                "stringData": data,
            }))?
        ),
        secret: true,
    });
    resources.push(rel);
    Ok(())
}

fn labels(part_of: &str, name: &str) -> Value {
    json!({
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/part-of": part_of,
        "app.kubernetes.io/managed-by": MANAGED_BY,
    })
}

fn selector(part_of: &str, name: &str) -> Value {
    json!({"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": part_of})
}

fn addon_docs(
    project: &str,
    part_of: &str,
    name: &str,
    t: &AddonType,
    addon: &Addon,
    env: Vec<Value>,
) -> Result<Vec<Value>> {
    let plan = &t.plans[&addon.plan];
    let image = addon
        .image
        .clone()
        .unwrap_or_else(|| t.image_for(&addon.version));
    let ports: Vec<Value> = t
        .ports
        .iter()
        .map(|p| json!({"name": port_name(&p.name), "containerPort": p.container}))
        .collect();
    let mut container = json!({
        "name": dns_name(&t.name),
        "image": image,
        "env": env,
        "ports": ports,
        "resources": {
            "requests": {"memory": quantity(&plan.memory), "cpu": plan.cpu},
            "limits": {"memory": quantity(&plan.memory), "cpu": plan.cpu},
        },
        "volumeMounts": t.volumes.iter().map(|v| json!({"name": dns_name(&v.name), "mountPath": v.path})).collect::<Vec<_>>(),
    });
    let args = generate::command(t, addon);
    if !args.is_empty() {
        container["args"] = json!(args.iter().map(|a| k8s_literal(a)).collect::<Vec<_>>());
    }
    if let Some(h) = &t.healthcheck {
        let exec = probe_command(&h.test).ok_or_else(|| {
            UserError::new(format!(
                "addon type {}: its health check {:?} has no command a probe can run",
                t.name, h.test
            ))
        })?;
        let period = seconds(&h.interval, 10);
        let timeout = seconds(&h.timeout, 5);
        container["readinessProbe"] = json!({
            "exec": {"command": exec},
            "periodSeconds": period,
            "timeoutSeconds": timeout,
            "failureThreshold": h.retries.max(1),
        });
        container["livenessProbe"] = json!({
            "exec": {"command": exec},
            "initialDelaySeconds": seconds(&h.start_period, 0),
            "periodSeconds": period,
            "timeoutSeconds": timeout,
            "failureThreshold": h.retries.max(1),
        });
    }
    let claims: Vec<Value> = t
        .volumes
        .iter()
        .map(|v| {
            json!({
                "metadata": {"name": dns_name(&v.name)},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": quantity(&plan.disk)}},
                },
            })
        })
        .collect();
    let mut pod_spec = json!({"containers": [container]});
    if t.hostname {
        pod_spec["hostname"] = json!(name);
    }
    let statefulset = json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {
            "name": name,
            "labels": labels(part_of, name),
            "annotations": {
                "sdtui/addon": addon.id(),
                "sdtui/project": project,
                "sdtui/plan": addon.plan,
            },
        },
        "spec": {
            "serviceName": name,
            "replicas": 1,
            "selector": {"matchLabels": selector(part_of, name)},
            "template": {
                "metadata": {"labels": labels(part_of, name)},
                "spec": pod_spec,
            },
            "volumeClaimTemplates": claims,
        },
    });
    let service = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": labels(part_of, name)},
        "spec": {
            "selector": selector(part_of, name),
            "ports": t.ports.iter().map(|p| json!({
                "name": port_name(&p.name),
                "port": p.container,
                "targetPort": p.container,
            })).collect::<Vec<_>>(),
        },
    });
    Ok(if t.ports.is_empty() {
        vec![statefulset]
    } else {
        vec![statefulset, service]
    })
}

fn app_docs(
    part_of: &str,
    name: &str,
    app: &App,
    env: Vec<Value>,
    secret: Option<&str>,
) -> Vec<Value> {
    let mut container = json!({
        "name": name,
        "image": format!("{}:{}", app.image, app.tag),
    });
    if let Some(s) = secret {
        container["envFrom"] = json!([{"secretRef": {"name": s}}]);
    }
    if !env.is_empty() {
        container["env"] = json!(env);
    }
    if let Some(p) = app.port {
        container["ports"] = json!([{"name": "http", "containerPort": p}]);
    }
    let deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels(part_of, name)},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": selector(part_of, name)},
            "template": {
                "metadata": {"labels": labels(part_of, name)},
                "spec": {"containers": [container]},
            },
        },
    });
    match app.port {
        Some(p) => vec![
            deployment,
            json!({
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name, "labels": labels(part_of, name)},
                "spec": {
                    "selector": selector(part_of, name),
                    "ports": [{"name": "http", "port": p, "targetPort": p}],
                },
            }),
        ],
        None => vec![deployment],
    }
}

/// A compose health check as a probe's command: `CMD-SHELL x` → `sh -c x`,
/// `CMD a b` → `a b`; compose's `$$` is a plain `$` here.
fn probe_command(test: &[String]) -> Option<Vec<String>> {
    let unescape = |s: &String| s.replace("$$", "$");
    match test.split_first()? {
        (first, [cmd]) if first == "CMD-SHELL" => {
            Some(vec!["sh".into(), "-c".into(), unescape(cmd)])
        }
        (first, rest) if first == "CMD" && !rest.is_empty() => {
            Some(rest.iter().map(unescape).collect())
        }
        _ => None,
    }
}

/// Kubernetes expands `$(VAR)` in args; `$$` keeps a `$` literal.
fn k8s_literal(s: &str) -> String {
    s.replace("$(", "$$(")
}

/// Compose's `10s`, `1m30s`, `500ms` in whole seconds (at least 1 unless
/// the value is zero); `default` when it does not read.
fn seconds(text: &str, default: u64) -> u64 {
    let mut total_ms: u64 = 0;
    let mut digits = String::new();
    let mut rest = text.trim();
    if rest.is_empty() {
        return default;
    }
    while !rest.is_empty() {
        let c = rest.chars().next().unwrap_or(' ');
        if c.is_ascii_digit() {
            digits.push(c);
            rest = &rest[1..];
            continue;
        }
        let (unit, len) = if rest.starts_with("ms") {
            (1u64, 2)
        } else if rest.starts_with('h') {
            (3_600_000, 1)
        } else if rest.starts_with('m') {
            (60_000, 1)
        } else if rest.starts_with('s') {
            (1000, 1)
        } else {
            return default;
        };
        let Ok(n) = digits.parse::<u64>() else {
            return default;
        };
        total_ms += n * unit;
        digits.clear();
        rest = &rest[len..];
    }
    if !digits.is_empty() {
        return default;
    }
    if total_ms == 0 {
        0
    } else {
        total_ms.div_ceil(1000)
    }
}

/// A plan's `512M` / `1G` (Docker's binary units) as a Kubernetes quantity
/// (`512Mi`, `1Gi`).
fn quantity(docker: &str) -> String {
    let s = docker.trim();
    for (unit, k8s) in [("K", "Ki"), ("M", "Mi"), ("G", "Gi"), ("T", "Ti")] {
        for spelled in [
            unit.to_string(),
            unit.to_lowercase(),
            format!("{unit}B"),
            format!("{}b", unit.to_lowercase()),
        ] {
            if let Some(n) = s.strip_suffix(spelled.as_str())
                && !n.is_empty()
                && n.chars().all(|c| c.is_ascii_digit() || c == '.')
            {
                return format!("{n}{k8s}");
            }
        }
    }
    s.to_string()
}

/// A DNS-1123 label: lower case, `-` for anything else, at most 63.
fn dns_name(s: &str) -> String {
    let mut out: String = s
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    out.truncate(63);
    out.trim_matches('-').to_string()
}

/// A port's name: at most 15 characters, lower case, with a letter.
fn port_name(s: &str) -> String {
    let mut n = dns_name(s);
    n.truncate(15);
    let n = n.trim_matches('-').to_string();
    if n.chars().any(|c| c.is_ascii_lowercase()) {
        n
    } else {
        format!("p{n}").chars().take(15).collect()
    }
}

fn yaml(v: &Value) -> Result<String> {
    serde_saphyr::to_string(v)
        .map_err(|e| UserError::new(format!("cannot write the manifest: {e}")))
}

fn yaml_docs(docs: &[Value]) -> Result<String> {
    let parts = docs.iter().map(yaml).collect::<Result<Vec<_>>>()?;
    Ok(parts.join("---\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_quantities_and_names() {
        assert_eq!(seconds("10s", 0), 10);
        assert_eq!(seconds("1m30s", 0), 90);
        assert_eq!(seconds("500ms", 0), 1);
        assert_eq!(seconds("0s", 7), 0);
        assert_eq!(seconds("soon", 7), 7);
        assert_eq!(quantity("512M"), "512Mi");
        assert_eq!(quantity("1G"), "1Gi");
        assert_eq!(quantity("10G"), "10Gi");
        assert_eq!(quantity("100Mi"), "100Mi");
        assert_eq!(dns_name("Postgres_Primary"), "postgres-primary");
        assert_eq!(port_name("management-interface"), "management-inte");
        assert_eq!(port_name("5432"), "p5432");
    }

    #[test]
    fn health_checks_become_probe_commands() {
        let shell = vec![
            "CMD-SHELL".to_string(),
            "pg_isready -U \"$$POSTGRES_USER\"".into(),
        ];
        assert_eq!(
            probe_command(&shell).unwrap(),
            vec!["sh", "-c", "pg_isready -U \"$POSTGRES_USER\""]
        );
        let exec = vec!["CMD".to_string(), "redis-cli".into(), "ping".into()];
        assert_eq!(probe_command(&exec).unwrap(), vec!["redis-cli", "ping"]);
        assert!(probe_command(&["NONE".to_string()]).is_none());
    }
}
