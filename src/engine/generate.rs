//! The pure core: config + catalog + existing secrets → secrets, ports, env
//! files and compose files. Deterministic: the same input gives the same
//! bytes, and nothing here touches the disk.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use indexmap::IndexMap;
use serde::Serialize;

use super::ports;
use super::secrets::{AddonSecrets, Secrets};
use crate::catalog::{AddonType, Catalog, Publish, port_var};
use crate::config::{Access, Addon, App, Config, Vm};
use crate::error::{Result, UserError};
use crate::template;
use crate::yamlout::{flow_list, quoted, scalar};

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
    rng: &mut dyn rand::Rng,
) -> Result<Generated> {
    let allocation = ports::allocate(config, catalog, existing)?;
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
        let addons: Vec<&Addon> = config.addons.iter().filter(|a| a.vm == vm.name).collect();
        let apps: Vec<&App> = config.apps.values().filter(|a| a.vm == vm.name).collect();
        if addons.is_empty() && apps.is_empty() {
            continue;
        }
        let dir = compose_dir(&vm.name);
        for addon in &addons {
            let t = catalog.require(&addon.type_name)?;
            let creds = &secrets[&addon.type_name][&addon.name];
            let mut vars = Vec::new();
            let tvars = template_vars(project, addon, creds);
            for (k, tpl) in &t.container_env {
                let v = template::render(tpl, &tvars).map_err(|m| unknown_var(&t.name, k, &m))?;
                vars.push((k.clone(), v));
            }
            if vars.is_empty() {
                continue;
            }
            let secret_keys = vars.iter().map(|(k, _)| k.clone()).collect();
            files.push(env_file(
                &dir,
                &addon.service(),
                &format!("addon {} ({})", addon.id(), t.name),
                &vars,
                secret_keys,
            ));
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
            ));
        }
        files.push(GenFile {
            rel: dir.join(COMPOSE_FILE),
            content: compose_file(project, vm, config, catalog, &allocation, &addons, &apps)?,
            mode: 0o644,
            kind: FileKind::Plain,
        });
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

fn template_vars(
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
    for addon in &config.addons {
        let t = catalog.require(&addon.type_name)?;
        let vm = &config.vms[&addon.vm];
        let old = existing.instance(&addon.type_name, &addon.name);
        let mut kv = IndexMap::new();
        kv.insert("HOST".to_string(), vm.private_ip.clone());
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
            let value = if let Some(v) = from_option {
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
        out.entry(addon.type_name.clone())
            .or_default()
            .insert(addon.name.clone(), kv);
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
            Ok((format!("{prefix}_{}", spec.name), value, spec.secret))
        })
        .collect()
}

fn app_environment(
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
) -> GenFile {
    let mut content = format!("# Generated by sdtui for {what}. Do not edit: run `sdtui sync`.\n");
    for (k, v) in vars {
        content.push_str(&format!("{k}={v}\n"));
    }
    GenFile {
        rel: dir.join(ENV_DIR).join(format!("{service}.env")),
        content,
        mode: 0o600,
        kind: FileKind::Env(secret_keys),
    }
}

/// Option values: the plan's, overridden by the instance's, in the order the
/// type declares them.
pub fn effective_options(t: &AddonType, addon: &Addon) -> Vec<(String, String)> {
    let plan = &t.plans[&addon.plan];
    t.options
        .keys()
        .filter_map(|k| {
            addon
                .options
                .get(k)
                .or_else(|| plan.options.get(k))
                .map(|v| (k.clone(), v.clone()))
        })
        .collect()
}

fn command(t: &AddonType, addon: &Addon) -> Vec<String> {
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

fn compose_file(
    project: &str,
    vm: &Vm,
    config: &Config,
    catalog: &Catalog,
    allocation: &ports::Allocation,
    addons: &[&Addon],
    apps: &[&App],
) -> Result<String> {
    let network = format!("{project}-network");
    let mut out = format!(
        "# Generated by sdtui for project {project}, VM {} ({}).\n# Do not edit: change config.yml and run `sdtui sync`. Secrets live in env/*.env.\n\nservices:\n",
        vm.name, vm.private_ip
    );
    let mut volumes = Vec::new();
    for addon in addons {
        let t = catalog.require(&addon.type_name)?;
        let plan = &t.plans[&addon.plan];
        let service = addon.service();
        let image = addon
            .image
            .clone()
            .unwrap_or_else(|| t.image_for(&addon.version));
        out.push_str(&format!(
            "  # {} ({} {}, plan {})\n",
            addon.id(),
            t.name,
            addon.version,
            addon.plan
        ));
        out.push_str(&format!(
            "  {service}:\n    image: {}\n    restart: unless-stopped\n",
            quoted(&image)
        ));
        if t.hostname {
            out.push_str(&format!("    hostname: {service}\n"));
        }
        let cmd = command(t, addon);
        if !cmd.is_empty() {
            out.push_str(&format!("    command: {}\n", flow_list(&cmd)));
        }
        if !t.container_env.is_empty() {
            out.push_str(&format!("    env_file:\n      - {ENV_DIR}/{service}.env\n"));
        }
        if addon.publish != Publish::None {
            out.push_str("    ports:\n");
            for p in &t.ports {
                let host_port = allocation.port(&addon.id(), &p.name);
                let bind = match addon.publish {
                    Publish::Public => String::new(),
                    _ => format!("{}:", vm.private_ip),
                };
                out.push_str(&format!(
                    "      - {}\n",
                    quoted(&format!("{bind}{host_port}:{}", p.container))
                ));
            }
        }
        if !t.volumes.is_empty() {
            out.push_str("    volumes:\n");
            for v in &t.volumes {
                let vol = format!("{service}-{}", v.name);
                out.push_str(&format!(
                    "      - {}\n",
                    quoted(&format!("{vol}:{}", v.path))
                ));
                volumes.push(vol);
            }
        }
        out.push_str(&format!("    networks:\n      - {network}\n"));
        if let Some(h) = &t.healthcheck {
            out.push_str(&format!(
                "    healthcheck:\n      test: {}\n      interval: {}\n      timeout: {}\n      retries: {}\n      start_period: {}\n",
                flow_list(&h.test),
                h.interval,
                h.timeout,
                h.retries,
                h.start_period
            ));
        }
        out.push_str(&format!(
            "    deploy:\n      resources:\n        limits:\n          memory: {}\n          cpus: {}\n",
            plan.memory,
            quoted(&plan.cpu)
        ));
        let labels = [
            ("com.superdeploy.project", project.to_string()),
            ("com.superdeploy.addon", t.name.clone()),
            ("com.superdeploy.category", addon.category.clone()),
            ("com.superdeploy.instance", addon.name.clone()),
            ("com.superdeploy.plan", addon.plan.clone()),
            ("com.superdeploy.version", addon.version.clone()),
        ];
        push_labels(&mut out, &labels);
    }
    for app in apps {
        out.push_str(&format!("  # app {}\n", app.name));
        out.push_str(&format!(
            "  {}:\n    image: {}\n    restart: unless-stopped\n    env_file:\n      - {ENV_DIR}/{}.env\n",
            app.name,
            quoted(&format!("{}:{}", app.image, app.tag)),
            app.name
        ));
        if let Some(port) = app.port {
            out.push_str(&format!(
                "    ports:\n      - {}\n",
                quoted(&format!("{port}:{port}"))
            ));
        }
        out.push_str(&format!("    networks:\n      - {network}\n"));
        let mut deps: Vec<String> = Vec::new();
        for att in &app.attachments {
            let addon = config.addon(&att.addon).expect("validated attachment");
            if addon.vm == app.vm && !deps.contains(&addon.service()) {
                deps.push(addon.service());
            }
        }
        if !deps.is_empty() {
            out.push_str("    depends_on:\n");
            for d in &deps {
                out.push_str(&format!("      {d}:\n        condition: service_healthy\n"));
            }
        }
        let mut labels = vec![
            ("com.superdeploy.project", project.to_string()),
            ("com.superdeploy.app", app.name.clone()),
        ];
        if let Some(d) = &app.domain {
            labels.push(("com.superdeploy.domain", d.clone()));
        }
        push_labels(&mut out, &labels);
    }
    if !volumes.is_empty() {
        out.push_str("\nvolumes:\n");
        for v in &volumes {
            out.push_str(&format!("  {v}:\n"));
        }
    }
    out.push_str(&format!("\nnetworks:\n  {network}:\n"));
    Ok(out)
}

fn push_labels(out: &mut String, labels: &[(&str, String)]) {
    out.push_str("    labels:\n");
    for (k, v) in labels {
        out.push_str(&format!("      {k}: {}\n", scalar(v)));
    }
}
