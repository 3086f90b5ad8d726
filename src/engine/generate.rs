//! The pure core: config + catalog + existing secrets → secrets, ports, env
//! files and compose files. Deterministic: the same input gives the same
//! bytes, and nothing here touches the disk.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use indexmap::IndexMap;
use serde::Serialize;

use super::compose_yaml::{
    ComposeFile, DependsOn, Deploy, Empty, Healthcheck, Limits, Resources, Service, compose_text,
};
use super::ports;
use super::secrets::{AddonSecrets, Secrets};
use crate::catalog::{AddonType, Catalog, Publish, port_var};
use crate::config::{Access, Addon, App, Config, Vm};
use crate::error::{Result, UserError};
use crate::template;
use serde_saphyr::Commented;

/// A file the engine owns, relative to the project folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenFile {
    pub rel: PathBuf,
    pub content: String,
    pub mode: u32,
    pub kind: FileKind,
}

/// What masking a file's diff needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileKind {
    Plain,
    /// `KEY=value` lines; the values of these keys are secret.
    Env(BTreeSet<String>),
    Secrets,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
    pub secret: bool,
    /// Where it comes from: `databases.primary as DATABASE`, `secrets.yml shared` ...
    pub source: String,
}

#[derive(Debug, Clone)]
pub struct Generated {
    pub secrets: AddonSecrets,
    pub files: Vec<GenFile>,
    pub app_env: IndexMap<String, Vec<EnvVar>>,
}

pub const ENV_DIR: &str = "env";

/// In secrets.yml, an instance's entry: the service name its volumes were
/// created under, when that is not its own (it was renamed). Compose names
/// volumes after their key, so keeping the key keeps the data.
pub const VOLUMES_KEY: &str = "VOLUMES";

/// The compose volume key of an instance's volume `name`.
pub fn volume_key(addon: &Addon, creds: &IndexMap<String, String>, name: &str) -> String {
    let base = creds
        .get(VOLUMES_KEY)
        .cloned()
        .unwrap_or_else(|| addon.service());
    format!("{base}-{name}")
}
pub const COMPOSE_FILE: &str = "docker-compose.yml";

/// The generated tree's stable path in a project: a symlink to the current
/// generation (see `apply`).
pub const GENERATED_DIR: &str = "compose";

pub fn compose_dir(vm: &str) -> PathBuf {
    PathBuf::from(GENERATED_DIR).join(vm)
}

/// Postgres and friends want identifiers: `my-app` → `my_app`.
pub fn ident(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A URL-safe password from the given CSPRNG.
pub fn password(rng: &mut dyn rand::Rng, len: usize) -> String {
    use rand::RngExt;
    (0..len.max(32))
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

pub fn generate(
    project: &str,
    config: &Config,
    catalog: &Catalog,
    existing: &Secrets,
    neighbours: &ports::Neighbours,
    rng: &mut dyn rand::Rng,
) -> Result<Generated> {
    let allocation = ports::allocate(config, catalog, existing, neighbours)?;
    let secrets = addon_secrets(project, config, catalog, existing, &allocation, rng)?;
    let mut files = Vec::new();
    let mut app_env = IndexMap::new();

    for (app_name, app) in &config.apps {
        app_env.insert(
            app_name.clone(),
            app_environment(config, catalog, &secrets, existing, app)?,
        );
    }

    for vm in config.vms.values() {
        // A system type's instance runs on the VM itself, not in compose.
        let addons: Vec<&Addon> = config
            .addons
            .iter()
            .filter(|a| a.vm == vm.name && !a.system)
            .collect();
        let apps: Vec<&App> = config.apps.values().filter(|a| a.vm == vm.name).collect();
        if addons.is_empty() && apps.is_empty() {
            continue;
        }
        let dir = compose_dir(&vm.name);
        for addon in &addons {
            let t = catalog.require(&addon.type_name)?;
            let creds = &secrets[&addon.type_name][&addon.name];
            let mut vars = Vec::new();
            let mut secret_keys = BTreeSet::new();
            let tvars = template_vars(project, addon, creds);
            for (k, tpl) in &t.container_env {
                let v = template::render(tpl, &tvars).map_err(|m| unknown_var(&t.name, k, &m))?;
                vars.push((k.clone(), v));
                if t.template_is_secret(tpl) {
                    secret_keys.insert(k.clone());
                }
            }
            // A follower: how its entrypoint reaches the leader.
            if let Some(leader) = addon.follows.as_deref().and_then(|l| config.addon(l)) {
                let leader_creds = &secrets[&leader.type_name][&leader.name];
                for (k, v, secret) in
                    crate::pg::follower_env(config, addon, leader, creds, leader_creds)
                {
                    if secret {
                        secret_keys.insert(k.clone());
                    }
                    vars.push((k, v));
                }
            }
            if vars.is_empty() {
                continue;
            }
            files.push(env_file(
                &dir,
                &addon.service(),
                &format!("addon {} ({})", addon.id(), t.name),
                &vars,
                secret_keys,
            )?);
        }
        for app in &apps {
            let env = &app_env[&app.name];
            let vars: Vec<(String, String)> = env
                .iter()
                .map(|e| (e.name.clone(), e.value.clone()))
                .collect();
            let secret_keys = env
                .iter()
                .filter(|e| e.secret)
                .map(|e| e.name.clone())
                .collect();
            files.push(env_file(
                &dir,
                &app.name,
                &format!("app {}", app.name),
                &vars,
                secret_keys,
            )?);
        }
        let (content, extra) = compose_file(
            project,
            vm,
            config,
            catalog,
            Derived {
                allocation: &allocation,
                secrets: &secrets,
            },
            &addons,
            &apps,
        )?;
        files.extend(extra);
        files.push(GenFile {
            rel: dir.join(COMPOSE_FILE),
            content,
            mode: 0o644,
            kind: FileKind::Plain,
        });
    }

    if config.cluster.is_some() {
        let stack = crate::cluster::stack::stack(project, config, catalog, &secrets, existing)?;
        files.extend(stack.files);
    }

    Ok(Generated {
        secrets,
        files,
        app_env,
    })
}

fn unknown_var(type_name: &str, what: &str, var: &str) -> UserError {
    UserError::new(format!(
        "addon type {type_name}: {what} uses unknown variable {{{var}}}"
    ))
    .hint("fix the type's addon.yml")
}

pub(crate) fn template_vars(
    project: &str,
    addon: &Addon,
    creds: &IndexMap<String, String>,
) -> BTreeMap<String, String> {
    let mut vars: BTreeMap<String, String> =
        creds.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    vars.insert("project".into(), project.into());
    vars.insert("project_ident".into(), ident(project));
    vars.insert("name".into(), addon.name.clone());
    vars.insert("name_ident".into(), ident(&addon.name));
    vars.insert("category".into(), addon.category.clone());
    vars.insert("type".into(), addon.type_name.clone());
    vars
}

/// Credentials per instance: existing values are kept (a new password would
/// lock apps out of their data); missing ones are generated.
fn addon_secrets(
    project: &str,
    config: &Config,
    catalog: &Catalog,
    existing: &Secrets,
    allocation: &ports::Allocation,
    rng: &mut dyn rand::Rng,
) -> Result<AddonSecrets> {
    let mut out = AddonSecrets::new();
    // Volume names a renamed instance still uses: a new instance with the
    // old name must not mount them. It gets `service_N`: '_' is in no
    // instance name, so no other instance's volumes are called that.
    let mut volumes_taken: BTreeSet<String> = config
        .addons
        .iter()
        .filter_map(|a| {
            existing
                .instance(&a.type_name, &a.name)
                .and_then(|o| o.get(VOLUMES_KEY))
                .cloned()
        })
        .collect();
    // Leaders before their followers, which copy their credentials.
    let ordered = config
        .addons
        .iter()
        .filter(|a| a.follows.is_none())
        .chain(config.addons.iter().filter(|a| a.follows.is_some()));
    for addon in ordered {
        let t = catalog.require(&addon.type_name)?;
        let vm = &config.vms[&addon.vm];
        let old = existing.instance(&addon.type_name, &addon.name);
        let leader_creds = addon
            .follows
            .as_deref()
            .and_then(|l| config.addon(l))
            .and_then(|l| out.get(&l.type_name).and_then(|i| i.get(&l.name)))
            .cloned();
        let mut kv = IndexMap::new();
        kv.insert("HOST".to_string(), vm.private_ip.clone());
        let service = addon.service();
        let volumes = match old.and_then(|o| o.get(VOLUMES_KEY)) {
            Some(v) => Some(v.clone()),
            None if volumes_taken.contains(&service) => {
                let fresh = (2..)
                    .map(|n| format!("{service}_{n}"))
                    .find(|v| !volumes_taken.contains(v))
                    .unwrap_or_default();
                volumes_taken.insert(fresh.clone());
                Some(fresh)
            }
            None => None,
        };
        for (i, p) in t.ports.iter().enumerate() {
            let key = if i == 0 {
                "PORT".to_string()
            } else {
                port_var(&p.name)
            };
            kv.insert(key, allocation.port(&addon.id(), &p.name).to_string());
        }
        let base_vars = template_vars(project, addon, &IndexMap::new());
        for (key, spec) in &t.credentials {
            let from_option = spec.from_option.as_ref().and_then(|o| addon.options.get(o));
            let copied = leader_creds
                .as_ref()
                .filter(|_| crate::pg::COPIED.contains(&key.as_str()))
                .and_then(|l| l.get(key));
            let value = if let Some(v) = copied {
                v.clone()
            } else if let Some(v) = from_option {
                v.clone()
            } else if let Some(v) = old.and_then(|o| o.get(key)) {
                v.clone()
            } else if let Some(len) = spec.generate {
                password(rng, len)
            } else {
                let tpl = spec.value.clone().unwrap_or_default();
                template::render(&tpl, &base_vars).map_err(|m| unknown_var(&t.name, key, &m))?
            };
            kv.insert(key.clone(), value);
        }
        if addon.follows.is_some() {
            kv.insert(
                crate::pg::REPLICATION_USER.to_string(),
                crate::pg::role_name(project, addon),
            );
            let pw = old
                .and_then(|o| o.get(crate::pg::REPLICATION_PASSWORD))
                .cloned()
                .unwrap_or_else(|| password(rng, crate::pg::PASSWORD_LEN));
            kv.insert(crate::pg::REPLICATION_PASSWORD.to_string(), pw);
        }
        if let Some(v) = volumes.filter(|v| *v != service) {
            kv.insert(VOLUMES_KEY.to_string(), v);
        }
        out.entry(addon.type_name.clone())
            .or_default()
            .insert(addon.name.clone(), kv);
    }
    // In the order config.yml gives, whatever order they were made in.
    for instances in out.values_mut() {
        let at = |name: &String| {
            config
                .addons
                .iter()
                .position(|a| &a.name == name)
                .unwrap_or(usize::MAX)
        };
        instances.sort_by(|a, _, b, _| at(a).cmp(&at(b)));
    }
    Ok(out)
}

/// Variables an attachment injects, with the readonly credentials swapped in
/// for a readonly attachment and the address as the app sees it.
pub fn attachment_env(
    config: &Config,
    t: &AddonType,
    addon: &Addon,
    creds: &IndexMap<String, String>,
    app: &App,
    prefix: &str,
    access: Access,
) -> Result<Vec<(String, String, bool)>> {
    // A follower is a hot standby: an attachment to it is readonly,
    // whatever it asks.
    let access = if addon.follows.is_some() {
        Access::Readonly
    } else {
        access
    };
    let same_vm = app.vm == addon.vm;
    let mut vars: BTreeMap<String, String> =
        creds.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    // Same VM: the compose service name and container port; another VM: the
    // VM's private address and the published port.
    let host = if same_vm {
        addon.service()
    } else {
        config.vms[&addon.vm].private_ip.clone()
    };
    vars.insert("HOST".into(), host);
    for (i, p) in t.ports.iter().enumerate() {
        let key = if i == 0 {
            "PORT".to_string()
        } else {
            port_var(&p.name)
        };
        if same_vm {
            vars.insert(key, p.container.to_string());
        }
    }
    vars.insert("READONLY".into(), (access == Access::Readonly).to_string());
    if access == Access::Readonly
        && let Some(ro) = &t.readonly
    {
        for (from, to) in &ro.credentials {
            if let Some(v) = creds.get(to) {
                vars.insert(from.clone(), v.clone());
            }
        }
    }
    vars.insert("PREFIX".into(), prefix.into());
    t.env
        .iter()
        .map(|spec| {
            let value = template::render(&spec.value, &vars)
                .map_err(|m| unknown_var(&t.name, &spec.name, &m))?;
            let secret = spec.secret || t.template_is_secret(&spec.value);
            Ok((format!("{prefix}_{}", spec.name), value, secret))
        })
        .collect()
}

pub(crate) fn app_environment(
    config: &Config,
    catalog: &Catalog,
    secrets: &AddonSecrets,
    existing: &Secrets,
    app: &App,
) -> Result<Vec<EnvVar>> {
    let mut env: Vec<EnvVar> = Vec::new();
    let mut managed: BTreeMap<String, String> = BTreeMap::new();
    for att in &app.attachments {
        let addon = config.addon(&att.addon).expect("validated attachment");
        let t = catalog.require(&addon.type_name)?;
        let creds = &secrets[&addon.type_name][&addon.name];
        let source = format!("{} as {}", att.addon, att.prefix);
        for (name, value, secret) in
            attachment_env(config, t, addon, creds, app, &att.prefix, att.access)?
        {
            if let Some(other) = managed.insert(name.clone(), source.clone()) {
                return Err(UserError::new(format!(
                    "app {}: {other} and {source} both set {name}",
                    app.name
                ))
                .hint("change one attachment's prefix with `as:`"));
            }
            env.push(EnvVar {
                name,
                value,
                secret,
                source: source.clone(),
            });
        }
    }
    let mut user: Vec<(String, String, bool, String)> = Vec::new();
    for (section, label) in [
        ("shared", "secrets.yml shared"),
        (app.name.as_str(), "secrets.yml"),
    ] {
        if let Some(kv) = existing.user.get(section) {
            let label = if section == "shared" {
                label.to_string()
            } else {
                format!("{label} {section}")
            };
            user.extend(
                kv.iter()
                    .map(|(k, v)| (k.clone(), v.clone(), true, label.clone())),
            );
        }
    }
    user.extend(
        app.env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone(), false, "config.yml env".to_string())),
    );
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for (name, value, secret, source) in user {
        if let Some(by) = managed.get(&name) {
            return Err(UserError::new(format!(
                "app {}: {name} from {source} would shadow the variable {by} manages",
                app.name
            ))
            .hint(format!(
                "rename {name} in {source}, or attach {by} with another prefix"
            )));
        }
        if value.contains('\n') {
            return Err(UserError::new(format!(
                "app {}: {name} from {source} spans several lines",
                app.name
            ))
            .hint("env files hold one line per variable"));
        }
        // A later section overrides an earlier one (app over shared), openly.
        if seen.insert(name.clone(), source.clone()).is_some() {
            env.retain(|e| e.name != name);
        }
        env.push(EnvVar {
            name,
            value,
            secret,
            source,
        });
    }
    Ok(env)
}

fn env_file(
    dir: &std::path::Path,
    service: &str,
    what: &str,
    vars: &[(String, String)],
    secret_keys: BTreeSet<String>,
) -> Result<GenFile> {
    let mut content = format!("# Generated by sdtui for {what}. Do not edit: run `sdtui sync`.\n");
    for (k, v) in vars {
        let value = env_value(v).map_err(|why| {
            UserError::new(format!("{what}: the value of {k} {why}")).hint(
                "change the value where it is set (config.yml env, secrets.yml or the addon type)",
            )
        })?;
        content.push_str(&format!("{k}={value}\n"));
    }
    Ok(GenFile {
        rel: dir.join(ENV_DIR).join(format!("{service}.env")),
        content,
        mode: 0o600,
        kind: FileKind::Env(secret_keys),
    })
}

/// A value as an env file must hold it for Compose v1 (python-dotenv) and
/// v2 (compose-go) to read the same bytes; measured with `config` of each:
/// - single quotes keep `$`, ` #`, spaces, `"`, `=` literal in both; both
///   read `\'` as `'`, but only v1 reads `\\` as `\`, so a value with two
///   backslashes in a row, a backslash before a quote or at the end is not
///   single-quoted;
/// - unquoted, backslashes are literal in both, but `$` (v2 expands it),
///   ` #` (a comment), edge spaces (trimmed) and a leading quote are not;
/// - double quotes (`\\`, `\"` escaped) read the same in both unless the
///   value holds `$` (v2 expands it) or ends with a backslash (v1's pattern
///   then runs on into the next line);
/// - v1 expands `${NAME}` and `${NAME:-default}` however the value is
///   quoted, and v2 does inside double quotes.
///
/// A value none of these carries is refused.
pub fn env_value(v: &str) -> std::result::Result<String, String> {
    if v.contains(['\n', '\r', '\0']) {
        return Err("spans several lines; env files hold one line per variable".into());
    }
    if let Some(m) = v1_interpolation().find(v) {
        return Err(format!(
            "holds `{}`, which Compose v1 replaces in an env file however it is quoted",
            m.as_str()
        ));
    }
    let single_quotable = !(v.contains("\\\\") || v.contains("\\'") || v.ends_with('\\'));
    if single_quotable {
        return Ok(format!("'{}'", v.replace('\'', "\\'")));
    }
    let bare = !v.contains(['$', '#']) && !v.starts_with(['\'', '"']) && v.trim() == v;
    if bare {
        return Ok(v.to_string());
    }
    if !v.contains('$') && !v.ends_with('\\') {
        return Ok(format!(
            "\"{}\"",
            v.replace('\\', "\\\\").replace('"', "\\\"")
        ));
    }
    Err("mixes backslashes with `$`, `#` or edge spaces in a way Compose v1 and v2 read differently however it is quoted".into())
}

/// python-dotenv's `${NAME}` / `${NAME:-default}` pattern (Compose v1).
fn v1_interpolation() -> &'static regex::Regex {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| regex::Regex::new(r"\$\{[^}:]*(?::-[^}]*)?\}").expect("a valid pattern"))
}

/// Option values: the plan's, overridden by the instance's, in the order the
/// type declares them.
pub fn effective_options(t: &AddonType, addon: &Addon) -> Vec<(String, String)> {
    // An instance rebuilt from a record (a system one being uninstalled
    // after it left config.yml) has no plan: the type's default.
    let plan = t
        .plans
        .get(&addon.plan)
        .or_else(|| t.plans.get(&t.default_plan));
    t.options
        .keys()
        .filter_map(|k| {
            addon
                .options
                .get(k)
                .or_else(|| plan.and_then(|p| p.options.get(k)))
                .map(|v| (k.clone(), v.clone()))
        })
        .collect()
}

pub(crate) fn command(t: &AddonType, addon: &Addon) -> Vec<String> {
    let mut args = Vec::new();
    for (k, v) in effective_options(t, addon) {
        for a in &t.options[&k].args {
            args.push(a.replace("{value}", &v));
        }
    }
    let mut out = Vec::new();
    for part in &t.command {
        if part == "{options}" {
            out.extend(args.iter().cloned());
        } else if part.contains("{options}") {
            let joined = shlex::try_join(args.iter().map(String::as_str)).unwrap_or_default();
            out.push(part.replace("{options}", &joined).trim_end().to_string());
        } else {
            out.push(part.clone());
        }
    }
    out
}

/// What generation derived before writing compose files: ports and
/// credentials (with each instance's volume name).
struct Derived<'a> {
    allocation: &'a ports::Allocation,
    secrets: &'a AddonSecrets,
}

fn compose_file(
    project: &str,
    vm: &Vm,
    config: &Config,
    catalog: &Catalog,
    Derived {
        allocation,
        secrets,
    }: Derived,
    addons: &[&Addon],
    apps: &[&App],
) -> Result<(String, Vec<GenFile>)> {
    // The backup services' scripts and env files.
    let mut extra_files = Vec::new();
    let network = format!("{project}-network");
    let mut file = ComposeFile {
        services: IndexMap::new(),
        volumes: IndexMap::new(),
        networks: IndexMap::from([(network.clone(), Empty {})]),
    };
    for addon in addons {
        let t = catalog.require(&addon.type_name)?;
        let plan = &t.plans[&addon.plan];
        let service = addon.service();
        let mut ports = Vec::new();
        if addon.publish != Publish::None {
            for p in &t.ports {
                let host_port = allocation.port(&addon.id(), &p.name);
                let bind = match addon.publish {
                    Publish::Public => String::new(),
                    _ => format!("{}:", vm.private_ip),
                };
                ports.push(format!("{bind}{host_port}:{}", p.container));
            }
        }
        let mut volumes = Vec::new();
        let creds = &secrets[&addon.type_name][&addon.name];
        for v in &t.volumes {
            let vol = volume_key(addon, creds, &v.name);
            volumes.push(format!("{vol}:{}", v.path));
            file.volumes.insert(vol, Empty {});
        }
        // Stopped: no service (`up` removes its container), the volume
        // still declared, so its data stays the project's.
        if addon.state == crate::config::InstanceState::Stopped {
            continue;
        }
        let labels = [
            ("com.superdeploy.project", project),
            ("com.superdeploy.addon", &t.name),
            ("com.superdeploy.category", &addon.category),
            ("com.superdeploy.instance", &addon.name),
            ("com.superdeploy.plan", &addon.plan),
            ("com.superdeploy.version", &addon.version),
        ];
        let body = Service {
            image: addon
                .image
                .clone()
                .unwrap_or_else(|| t.image_for(&addon.version)),
            restart: "unless-stopped".into(),
            hostname: t.hostname.then(|| service.clone()),
            entrypoint: if addon.follows.is_some() {
                crate::pg::entrypoint()
            } else {
                vec![]
            },
            command: command(t, addon),
            env_file: if t.container_env.is_empty() {
                vec![]
            } else {
                vec![format!("{ENV_DIR}/{service}.env")]
            },
            ports,
            volumes,
            networks: vec![network.clone()],
            // Its dependencies on this VM start (and pass their health
            // checks, where they have one) first.
            depends_on: crate::contract::deps::start_after(config, catalog, addon)
                .into_iter()
                .map(|dep| {
                    let checked = config
                        .addons
                        .iter()
                        .find(|a| a.service() == dep)
                        .and_then(|a| catalog.get(&a.type_name))
                        .is_some_and(|dt| dt.healthcheck.is_some());
                    let condition = if checked {
                        "service_healthy"
                    } else {
                        "service_started"
                    };
                    (
                        dep,
                        DependsOn {
                            condition: condition.into(),
                        },
                    )
                })
                .collect(),
            healthcheck: t.healthcheck.as_ref().map(|h| Healthcheck {
                test: h.test.clone(),
                interval: h.interval.clone(),
                timeout: h.timeout.clone(),
                retries: h.retries,
                start_period: h.start_period.clone(),
            }),
            deploy: Some(Deploy {
                resources: Resources {
                    limits: Limits {
                        memory: plan.memory.clone(),
                        cpus: plan.cpu.clone(),
                    },
                },
            }),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        let comment = format!(
            "{} ({} {}, plan {})",
            addon.id(),
            t.name,
            addon.version,
            addon.plan
        );
        let image = body.image.clone();
        file.services.insert(service, Commented(body, comment));
        if let Some(schedule) = &addon.backup {
            let b = super::backup_service::service(
                project,
                &vm.name,
                vm.is_local(),
                &network,
                t,
                addon,
                schedule,
                &image,
                creds,
                &plan.memory,
                &plan.cpu,
                &compose_dir(&vm.name),
            )?;
            extra_files.extend(b.files);
            let comment = format!(
                "scheduled backups of {}: {} (UTC), keep {}",
                addon.id(),
                schedule.every,
                schedule.keep
            );
            file.services.insert(b.name, Commented(b.service, comment));
        }
    }
    for app in apps {
        let mut depends_on = IndexMap::new();
        for att in &app.attachments {
            let addon = config.addon(&att.addon).expect("validated attachment");
            if addon.vm == app.vm {
                depends_on.insert(
                    addon.service(),
                    DependsOn {
                        condition: "service_healthy".into(),
                    },
                );
            }
        }
        let mut labels = IndexMap::from([
            ("com.superdeploy.project".to_string(), project.to_string()),
            ("com.superdeploy.app".to_string(), app.name.clone()),
        ]);
        if let Some(d) = &app.domain {
            labels.insert("com.superdeploy.domain".into(), d.clone());
        }
        let body = Service {
            image: format!("{}:{}", app.image, app.tag),
            restart: "unless-stopped".into(),
            env_file: vec![format!("{ENV_DIR}/{}.env", app.name)],
            ports: app
                .port
                .map(|port| vec![format!("{port}:{port}")])
                .unwrap_or_default(),
            networks: vec![network.clone()],
            depends_on,
            labels,
            ..Service::default()
        };
        file.services.insert(
            app.name.clone(),
            Commented(body, format!("app {}", app.name)),
        );
    }
    let header = match &config.environment {
        None => format!(
            "Generated by sdtui for project {project}, VM {} ({}).\nDo not edit: change config.yml and run `sdtui sync`. Secrets live in env/*.env.",
            vm.name, vm.private_ip
        ),
        Some(env) => format!(
            "Generated by sdtui for environment {env} ({project}), VM {} ({}).\nDo not edit: change config.yml and run `sdtui env start {env}`. Secrets live in env/*.env.",
            vm.name, vm.private_ip
        ),
    };
    let text = compose_text(&header, &file).map_err(|e| {
        UserError::new(format!(
            "cannot write the compose file for VM {}: {e}",
            vm.name
        ))
    })?;
    Ok((text, extra_files))
}

#[cfg(test)]
mod tests {
    use super::env_value;

    #[test]
    fn env_values_are_quoted_so_both_compose_versions_read_them_alike() {
        // The readings behind these were measured with `config` of v1 and
        // v2; tests/compose_versions.rs runs them through both again.
        for (value, written) in [
            ("plain", "'plain'"),
            ("a$b", "'a$b'"),
            ("a$$b", "'a$$b'"),
            ("$X", "'$X'"),
            ("x #y", "'x #y'"),
            (" s ", "' s '"),
            ("it's", "'it\\'s'"),
            ("say \"hi\"", "'say \"hi\"'"),
            ("back\\slash", "'back\\slash'"),
            ("", "''"),
            ("a\\\\b", "a\\\\b"),
            ("end\\", "end\\"),
            ("a\\'b", "a\\'b"),
            (" a\\\\b", "\" a\\\\\\\\b\""),
            ("'\\'", "\"'\\\\'\""),
        ] {
            assert_eq!(env_value(value).as_deref(), Ok(written), "{value}");
        }
        for refused in [
            "${X}",
            "a${X:-d}b",
            "${}",
            "$a\\\\b",
            " end\\",
            "two\nlines",
        ] {
            assert!(env_value(refused).is_err(), "{refused}");
        }
        // Not v1's pattern: written as is.
        assert_eq!(env_value("${a:b}").as_deref(), Ok("'${a:b}'"));
    }
}
