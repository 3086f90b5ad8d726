//! The generated compose, as a Docker Swarm stack file (pure, deterministic).
//!
//! What changes from the per-VM compose files: every service of the project
//! is in one file; each addon is pinned to its VM's node by a node label
//! (`node.labels.sdtui.vm == VM`, set by `up`), since its volume — its data
//! — lives there; apps likewise by their `vm`. One overlay network per
//! project: an app reaches every addon by service name and container port,
//! wherever either runs. Limits and health checks carry over; updates are
//! health-gated and roll back natively when a new task fails its check.
//!
//! Secrets: never in the stack file. A variable the image reads from
//! `NAME_FILE` (the catalog's `file_env`, the official images' `_FILE`
//! forms) comes from a Docker secret `up` creates through the API; so does
//! one the command's shell reads (`shell_file_env`: the script reads the
//! secret's file first). The others stay in 0600 env files beside the
//! stack, which `docker stack deploy` reads on the manager.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::Serialize;
use serde_saphyr::{CommentPosition, Commented};

use crate::catalog::{Catalog, Publish};
use crate::config::{Addon, Config};
use crate::engine::compose_yaml::{Healthcheck, Limits};
use crate::engine::generate::{
    self, ENV_DIR, FileKind, GenFile, app_environment, compose_dir, template_vars, volume_key,
};
use crate::engine::secrets::{AddonSecrets, Secrets};
use crate::error::{Result, UserError};

/// The stack's folder in the generated tree: not a DNS label, so never a
/// VM's folder.
pub const STACK_DIR: &str = "_stack";
pub const STACK_FILE: &str = "docker-stack.yml";
/// The same stack with its addons only: `up` deploys it first, provisions
/// the addons (readonly roles), then the whole stack, so an app starts once
/// what it attaches to is ready, as with compose.
pub const ADDONS_FILE: &str = "docker-stack.addons.yml";
/// The node label each VM's node carries: `sdtui.vm=<vm>`.
pub const NODE_LABEL: &str = "sdtui.vm";

pub fn stack_dir() -> PathBuf {
    compose_dir(STACK_DIR)
}

/// A Docker secret the stack uses: created by `up` from `value`, which is
/// never written to disk. The name carries a digest of the value, since a
/// Docker secret cannot change: a rotated password is a new secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerSecret {
    pub name: String,
    pub value: String,
}

pub struct Stack {
    pub files: Vec<GenFile>,
    pub secrets: Vec<DockerSecret>,
}

#[derive(Serialize)]
struct StackFile {
    version: &'static str,
    services: IndexMap<String, Commented<StackService>>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    volumes: IndexMap<String, Empty>,
    networks: IndexMap<String, Network>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    secrets: IndexMap<String, External>,
}

#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
struct Network {
    driver: &'static str,
    attachable: bool,
}

#[derive(Serialize)]
struct External {
    external: bool,
}

#[derive(Serialize, Default)]
struct StackService {
    image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    hostname: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    entrypoint: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    command: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    env_file: Vec<String>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    environment: IndexMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    secrets: Vec<SecretMount>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ports: Vec<Port>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    volumes: Vec<String>,
    networks: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    healthcheck: Option<Healthcheck>,
    deploy: Deploy,
    labels: IndexMap<String, String>,
}

#[derive(Serialize)]
struct SecretMount {
    source: String,
    target: String,
    mode: u32,
}

#[derive(Serialize)]
struct Port {
    target: u16,
    published: u16,
    protocol: &'static str,
    /// `host`: on the node that runs the task, the service's own VM, as
    /// compose publishes it there (the routing mesh's `ingress` needs a
    /// virtual IP, which `dnsrr` services have not).
    mode: &'static str,
}

#[derive(Serialize, Default)]
struct Deploy {
    /// `dnsrr`: a service name resolves to its task's own address on the
    /// overlay, with no virtual IP in between (one task per service; the
    /// virtual IP needs IPVS in the node's kernel, missing on some hosts).
    endpoint_mode: &'static str,
    replicas: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    resources: Option<Resources>,
    placement: Placement,
    restart_policy: RestartPolicy,
    update_config: UpdateConfig,
    rollback_config: RollbackConfig,
}

#[derive(Serialize)]
struct Resources {
    limits: Limits,
}

#[derive(Serialize, Default)]
struct Placement {
    constraints: Vec<String>,
}

#[derive(Serialize, Default)]
struct RestartPolicy {
    condition: &'static str,
}

#[derive(Serialize, Default)]
struct UpdateConfig {
    parallelism: u32,
    order: &'static str,
    failure_action: &'static str,
    /// How long a new task must stay up (its health check passing) before
    /// the update counts as done.
    monitor: String,
}

#[derive(Serialize, Default)]
struct RollbackConfig {
    parallelism: u32,
    order: &'static str,
}

/// An addon with a volume is replaced stop-first: two servers on one data
/// folder would corrupt it. Apps start the new task first, so they keep
/// serving until it is healthy.
fn deploy(vm: &str, limits: Option<Limits>, has_volume: bool, monitor: String) -> Deploy {
    let order = if has_volume {
        "stop-first"
    } else {
        "start-first"
    };
    Deploy {
        endpoint_mode: "dnsrr",
        replicas: 1,
        resources: limits.map(|limits| Resources { limits }),
        placement: Placement {
            constraints: vec![format!("node.labels.{NODE_LABEL} == {vm}")],
        },
        restart_policy: RestartPolicy { condition: "any" },
        update_config: UpdateConfig {
            parallelism: 1,
            order,
            failure_action: "rollback",
            monitor,
        },
        rollback_config: RollbackConfig {
            parallelism: 1,
            order,
        },
    }
}

/// Long enough for a new task's health check to settle: its start period
/// plus its retries' worth of intervals.
fn monitor(h: Option<&crate::catalog::Healthcheck>) -> String {
    let Some(h) = h else {
        return "10s".into();
    };
    let secs = |s: &str| -> u64 {
        let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
        let n: u64 = n.parse().unwrap_or(0);
        match unit {
            "m" => n * 60,
            "h" => n * 3600,
            _ => n,
        }
    };
    let total = secs(&h.start_period) + secs(&h.interval) * u64::from(h.retries);
    format!("{}s", total.max(10))
}

/// FNV-1a: a stable digest for secret names (not a security measure: the
/// value is a long random password).
fn digest(value: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in value.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")[..10].to_string()
}

/// `<project>_<service>_<var>_<digest>`, shortened to Docker's 64
/// characters (the digest kept: it is what tells versions apart).
fn secret_name(project: &str, service: &str, var: &str, value: &str) -> String {
    let base = format!("{project}_{service}_{}", var.to_ascii_lowercase());
    let base: String = base.chars().take(64 - 11).collect();
    format!("{base}_{}", digest(value))
}

/// A `sh -c` command or `CMD-SHELL` check whose script first reads each of
/// `vars` from its Docker secret file (`$$`: the stack file's own `$`).
fn read_in_shell(mut command: Vec<String>, vars: &[String]) -> Vec<String> {
    if vars.is_empty() {
        return command;
    }
    let at = if command.first().is_some_and(|c| c == "CMD-SHELL") {
        Some(1)
    } else {
        crate::catalog::shell_script_index(&command)
    };
    // The catalog refuses shell_file_env without a shell to read it.
    if let Some(script) = at.and_then(|i| command.get_mut(i)) {
        let reads: String = vars
            .iter()
            .map(|v| format!("{v}=\"$$(cat /run/secrets/{v})\"; "))
            .collect();
        *script = format!("{reads}{script}");
    }
    command
}

/// `KEY=value` lines as `docker stack deploy` reads an env file: the rest of
/// the line, literally (no quotes, no `$` expansion).
fn env_file(
    dir: &Path,
    name: &str,
    what: &str,
    vars: &[(String, String, bool)],
) -> Result<GenFile> {
    let mut content = format!(
        "# Generated by sdtui for {what} in the swarm stack. Do not edit: run `sdtui sync`.\n"
    );
    let mut secret_keys = BTreeSet::new();
    for (k, v, secret) in vars {
        if v.contains('\n') || v.contains('\r') {
            return Err(
                UserError::new(format!("{what}: the value of {k} spans several lines"))
                    .hint("env files hold one line per variable"),
            );
        }
        content.push_str(&format!("{k}={v}\n"));
        if *secret {
            secret_keys.insert(k.clone());
        }
    }
    Ok(GenFile {
        rel: dir.join(ENV_DIR).join(format!("{name}.env")),
        content,
        mode: 0o600,
        kind: FileKind::Env(secret_keys),
    })
}

/// The stack of a project with `cluster: {kind: swarm}`.
pub fn stack(
    project: &str,
    config: &Config,
    catalog: &Catalog,
    secrets: &AddonSecrets,
    existing: &Secrets,
) -> Result<Stack> {
    let dir = stack_dir();
    let network = format!("{project}-network");
    let mut files = Vec::new();
    let mut docker_secrets = Vec::new();
    let mut file = StackFile {
        version: "3.8",
        services: IndexMap::new(),
        volumes: IndexMap::new(),
        networks: IndexMap::from([(
            network.clone(),
            Network {
                driver: "overlay",
                attachable: true,
            },
        )]),
        secrets: IndexMap::new(),
    };
    // A system type's instance has no container to schedule.
    for addon in config.addons.iter().filter(|a| !a.system) {
        let t = catalog.require(&addon.type_name)?;
        let plan = &t.plans[&addon.plan];
        let service = addon.service();
        let creds = &secrets[&addon.type_name][&addon.name];
        let tvars = template_vars(project, addon, creds);
        let mut vars = Vec::new();
        let mut environment = IndexMap::new();
        let mut mounts = Vec::new();
        let mut shell_reads = Vec::new();
        for (k, tpl) in &t.container_env {
            let v = crate::template::render(tpl, &tvars).map_err(|m| {
                UserError::new(format!(
                    "addon type {}: {k} uses unknown variable {{{m}}}",
                    t.name
                ))
            })?;
            let by_shell = t.shell_file_env.contains(k);
            if t.file_env.contains(k) || by_shell {
                let name = secret_name(project, &service, k, &v);
                if by_shell {
                    shell_reads.push(k.clone());
                } else {
                    environment.insert(format!("{k}_FILE"), format!("/run/secrets/{k}"));
                }
                mounts.push(SecretMount {
                    source: name.clone(),
                    target: k.clone(),
                    mode: 0o400,
                });
                file.secrets
                    .insert(name.clone(), External { external: true });
                docker_secrets.push(DockerSecret { name, value: v });
            } else {
                let secret = t.template_is_secret(tpl);
                vars.push((k.clone(), v, secret));
            }
        }
        if !vars.is_empty() {
            files.push(env_file(
                &dir,
                &service,
                &format!("addon {}", addon.id()),
                &vars,
            )?);
        }
        let ports = match addon.publish {
            // Swarm publishes on every address of a node: only a public
            // addon publishes; the others are reached over the overlay.
            Publish::Public => t
                .ports
                .iter()
                .map(|p| Port {
                    target: p.container,
                    published: addon
                        .port
                        .filter(|_| p.name == t.ports[0].name)
                        .unwrap_or(p.base),
                    protocol: "tcp",
                    mode: "host",
                })
                .collect(),
            _ => vec![],
        };
        let mut volumes = Vec::new();
        for v in &t.volumes {
            let vol = volume_key(addon, creds, &v.name);
            volumes.push(format!("{vol}:{}", v.path));
            file.volumes.insert(vol, Empty {});
        }
        let body = StackService {
            image: addon
                .image
                .clone()
                .unwrap_or_else(|| t.image_for(&addon.version)),
            hostname: t.hostname.then(|| service.clone()),
            entrypoint: if addon.follows.is_some() {
                crate::pg::entrypoint()
            } else {
                vec![]
            },
            command: read_in_shell(generate::command(t, addon), &shell_reads),
            env_file: if vars.is_empty() {
                vec![]
            } else {
                vec![format!("{ENV_DIR}/{service}.env")]
            },
            environment,
            secrets: mounts,
            ports,
            volumes,
            networks: vec![network.clone()],
            healthcheck: t.healthcheck.as_ref().map(|h| Healthcheck {
                test: read_in_shell(h.test.clone(), &shell_reads),
                interval: h.interval.clone(),
                timeout: h.timeout.clone(),
                retries: h.retries,
                start_period: h.start_period.clone(),
            }),
            deploy: deploy(
                &addon.vm,
                Some(Limits {
                    memory: plan.memory.clone(),
                    cpus: plan.cpu.clone(),
                }),
                !t.volumes.is_empty(),
                monitor(t.healthcheck.as_ref()),
            ),
            labels: addon_labels(project, &t.name, addon),
        };
        let comment = format!(
            "{} ({} {}, plan {}), on VM {}",
            addon.id(),
            t.name,
            addon.version,
            addon.plan,
            addon.vm
        );
        file.services.insert(service, Commented(body, comment));
    }
    let cluster = config
        .cluster
        .as_ref()
        .map(|c| c.manager.as_str())
        .unwrap_or("-");
    if !file.services.is_empty() {
        let header = format!(
            "Generated by sdtui for project {project}: the addons of the Docker Swarm stack\n{STACK_FILE}, deployed first by `sdtui up` on the manager ({cluster}).\nDo not edit: change config.yml and run `sdtui sync`. No secret is in this file."
        );
        files.push(GenFile {
            rel: dir.join(ADDONS_FILE),
            content: render(&header, &file)?,
            mode: 0o644,
            kind: FileKind::Plain,
        });
    }
    // In the overlay every addon is the app's neighbour: its service name
    // and container port, as for an app on the addon's own VM.
    let in_cluster = crate::cluster::one_machine(config);
    for app in config.apps.values() {
        let env = app_environment(
            &in_cluster,
            catalog,
            secrets,
            existing,
            &in_cluster.apps[&app.name],
        )?;
        let vars: Vec<(String, String, bool)> = env
            .iter()
            .map(|e| (e.name.clone(), e.value.clone(), e.secret))
            .collect();
        files.push(env_file(
            &dir,
            &app.name,
            &format!("app {}", app.name),
            &vars,
        )?);
        let mut labels = IndexMap::from([
            ("com.superdeploy.project".to_string(), project.to_string()),
            ("com.superdeploy.app".to_string(), app.name.clone()),
        ]);
        if let Some(d) = &app.domain {
            labels.insert("com.superdeploy.domain".into(), d.clone());
        }
        let body = StackService {
            image: format!("{}:{}", app.image, app.tag),
            env_file: vec![format!("{ENV_DIR}/{}.env", app.name)],
            ports: app
                .port
                .map(|port| {
                    vec![Port {
                        target: port,
                        published: port,
                        protocol: "tcp",
                        mode: "host",
                    }]
                })
                .unwrap_or_default(),
            networks: vec![network.clone()],
            deploy: deploy(&app.vm, None, false, monitor(None)),
            labels,
            ..StackService::default()
        };
        file.services.insert(
            app.name.clone(),
            Commented(body, format!("app {}, on VM {}", app.name, app.vm)),
        );
    }
    let header = format!(
        "Generated by sdtui for project {project}: a Docker Swarm stack, deployed by\n`sdtui up` with `docker stack deploy` on the manager ({cluster}).\nDo not edit: change config.yml and run `sdtui sync`. No secret is in this file:\nDocker secrets (created by `up`) and env/*.env (0600) hold them."
    );
    files.push(GenFile {
        rel: dir.join(STACK_FILE),
        content: render(&header, &file)?,
        mode: 0o644,
        kind: FileKind::Plain,
    });
    Ok(Stack {
        files,
        secrets: docker_secrets,
    })
}

/// The header as comments, then the stack as YAML.
fn render(header: &str, file: &StackFile) -> Result<String> {
    let options = serde_saphyr::ser_options! {
        comment_position: CommentPosition::Above,
        prefer_block_scalars: false,
        compact_list_indent: false,
    };
    let yaml = serde_saphyr::to_string_with_options(file, options)
        .map_err(|e| UserError::new(format!("cannot write the stack file: {e}")))?;
    let mut content = String::new();
    for line in header.lines() {
        content.push_str(&format!("# {line}\n"));
    }
    content.push('\n');
    content.push_str(&yaml);
    Ok(content)
}

fn addon_labels(project: &str, type_name: &str, addon: &Addon) -> IndexMap<String, String> {
    [
        ("com.superdeploy.project", project),
        ("com.superdeploy.addon", type_name),
        ("com.superdeploy.category", &addon.category),
        ("com.superdeploy.instance", &addon.name),
        ("com.superdeploy.plan", &addon.plan),
        ("com.superdeploy.version", &addon.version),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// `512M` → bytes, as Docker reads a memory limit; `None` when unreadable.
pub fn memory_bytes(limit: &str) -> Option<i64> {
    let s = limit.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: f64 = n.parse().ok()?;
    let mult: f64 = match unit
        .trim_end_matches(['b', 'B'])
        .to_ascii_lowercase()
        .as_str()
    {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some((n * mult) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_limits_read_as_docker_reads_them() {
        assert_eq!(memory_bytes("512M"), Some(512 * 1024 * 1024));
        assert_eq!(memory_bytes("1G"), Some(1024 * 1024 * 1024));
        assert_eq!(memory_bytes("256mb"), Some(256 * 1024 * 1024));
        assert_eq!(memory_bytes("lots"), None);
    }

    #[test]
    fn secret_names_change_with_the_value_only() {
        assert_eq!(digest("a"), digest("a"));
        assert_ne!(digest("a"), digest("b"));
        assert_eq!(digest("a").len(), 10);
        let long = secret_name(&"p".repeat(63), &"s".repeat(63), "POSTGRES_PASSWORD", "x");
        assert_eq!(long.len(), 64);
        assert!(long.ends_with(&digest("x")));
    }
}
