//! `environments:` in config.yml: where each environment runs, its overrides
//! of the project's addon instances and its own, its variables, and the
//! user's init and deployment files. Each environment's effective instances
//! are resolved here, once, by the same checker as the project's; the engine
//! runs an environment as a project of its own ([`Config::for_environment`]).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::instances::{self, Where};
use super::raw::{Name, RawAddon, spot};
use super::*;
use crate::catalog::Catalog;
use crate::error::UserError;

/// How long an init container may run when the environment does not say.
pub const DEFAULT_INIT_TIMEOUT_S: u64 = 300;

/// Variables sdtui sets in every environment, whatever its addons: a user
/// variable of one of these names would shadow them.
pub const FIXED_MANAGED: &[&str] = &[
    "SDTUI_ENVIRONMENT",
    "DATABASE_URL",
    "DB_HOST",
    "DB_PORT",
    "DB_NAME",
    "DB_USER",
    "DB_PASSWORD",
];

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEnvironment {
    vm: Option<Spanned<String>>,
    vms: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    addons: IndexMap<Name, IndexMap<Name, RawAddon>>,
    #[serde(default)]
    variables: IndexMap<Name, Spanned<String>>,
    #[serde(default)]
    init: Vec<Spanned<String>>,
    deployment: Option<Spanned<String>>,
    init_timeout: Option<Spanned<String>>,
    migrate: Option<RawMigrate>,
    env_file: Option<Spanned<String>>,
}

/// `migrate: {command: "npm run migrate", service: web}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMigrate {
    command: Spanned<String>,
    service: Option<Spanned<String>>,
}

/// The user's migrate command (`db migrate --env ENV`): run once, to
/// completion, in the image of a service of the environment's deployment.
#[derive(Debug, Clone, Serialize)]
pub struct Migrate {
    /// Its words, as the container's command (no shell unless it says so).
    pub command: Vec<String>,
    /// The deployment's service whose image and settings it runs with
    /// (default: the deployment's only service).
    pub service: Option<String>,
    /// The config.yml line that declares it.
    pub line: u64,
}

/// A file of the user's that an environment names, relative to the project
/// folder, with the config.yml line that names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserFile {
    pub path: PathBuf,
    pub line: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Environment {
    pub name: String,
    /// The VMs it runs on (the project's, when it names none).
    pub vms: Vec<String>,
    /// Its effective instances: the project's with its overrides laid over
    /// them, then its own, in that order.
    pub addons: Vec<Addon>,
    /// Ids of the project's instances it overrides.
    pub overridden: Vec<String>,
    /// Ids of the instances only it has.
    pub own: Vec<String>,
    pub variables: IndexMap<String, String>,
    pub init: Vec<UserFile>,
    pub deployment: Option<UserFile>,
    pub init_timeout_s: u64,
    pub migrate: Option<Migrate>,
    /// The user's file of variables (`env_file:`), already merged into
    /// `variables`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env_file: Option<UserFile>,
}

impl Config {
    /// An environment as a project of its own: its VMs, its effective
    /// instances, no apps (its deployment file is its apps), so generate,
    /// ports, secrets, up, status and down work on it unchanged.
    pub fn for_environment(&self, name: &str) -> Option<Config> {
        let env = self.environments.get(name)?;
        let vms: IndexMap<String, Vm> = env
            .vms
            .iter()
            .filter_map(|v| self.vms.get(v).map(|vm| (v.clone(), vm.clone())))
            .collect();
        let index = env
            .addons
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id(), i))
            .collect();
        Some(Config {
            vms,
            addons: env.addons.clone(),
            apps: IndexMap::new(),
            environments: IndexMap::new(),
            environment: Some(name.to_string()),
            // An environment deploys with compose onto its own VMs.
            cluster: None,
            watch: self.watch.clone(),
            index,
        })
    }
}

/// Every variable name sdtui manages in `env`, with who manages it: the
/// fixed set, each instance's attachment variables under its category's
/// default prefix (`DATABASE_URL`, `CACHE_URL` ...), and under every prefix
/// the project's apps attach it as.
pub fn managed_variables(
    env: &Environment,
    apps: &IndexMap<String, App>,
    catalog: &Catalog,
) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = FIXED_MANAGED
        .iter()
        .map(|n| (n.to_string(), "sdtui".to_string()))
        .collect();
    for addon in &env.addons {
        let Some(t) = catalog.get(&addon.type_name) else {
            continue;
        };
        let id = addon.id();
        let mut prefixes = vec![Catalog::default_prefix(&addon.category)];
        prefixes.extend(
            apps.values()
                .flat_map(|app| &app.attachments)
                .filter(|att| att.addon == id)
                .map(|att| att.prefix.clone()),
        );
        for prefix in prefixes {
            for spec in &t.env {
                out.entry(format!("{prefix}_{}", spec.name))
                    .or_insert_with(|| format!("addon {id} as {prefix}"));
            }
        }
    }
    out
}

/// Where a pinned port was written, to name both sides of a clash.
struct Pin {
    owner: String,
    addon: String,
    vm: String,
    machine: String,
    address: String,
    loc: serde_saphyr::Location,
}

pub(super) struct Project<'a> {
    pub raw_addons: &'a IndexMap<Name, IndexMap<Name, RawAddon>>,
    pub addons: &'a [Addon],
    pub apps: &'a IndexMap<String, App>,
    pub vms: &'a IndexMap<String, Vm>,
}

pub(super) fn validate(
    raw: IndexMap<Name, Option<RawEnvironment>>,
    project: &Project,
    path: &Path,
    text: &str,
    catalog: &Catalog,
    planned: &super::Planned,
) -> Result<IndexMap<String, Environment>> {
    let at = |loc: &serde_saphyr::Location| spot(path, text, loc);
    let folder = path.parent().unwrap_or(Path::new("."));
    let mut out = IndexMap::new();
    // Pinned ports, per machine and port, across the project and every
    // environment: two that would publish the same one clash.
    let mut pins: HashMap<(String, u16), Vec<Pin>> = HashMap::new();
    let mut pin = |p: Pin, port: u16| -> Result<()> {
        let holders = pins.entry((p.machine.clone(), port)).or_default();
        if let Some(other) = holders
            .iter()
            .find(|o| crate::engine::ports::addresses_overlap(&o.address, &p.address))
        {
            let vm_words = if other.vm == p.vm {
                format!("VM {}", p.vm)
            } else {
                format!("VMs {} and {} (one machine)", other.vm, p.vm)
            };
            return Err(UserError::new(format!(
                "{} ({}) and {} ({}) would both publish port {port} on {vm_words}",
                other.owner, other.addon, p.owner, p.addon
            ))
            .at(at(&p.loc).or_else(|| at(&other.loc)))
            .hint(format!(
                "pin another port for {} in {}, or leave `port:` out there and one is allocated",
                p.addon, p.owner
            )));
        }
        holders.push(p);
        Ok(())
    };
    let pins_of = |owner: &str,
                   addons: &[Addon],
                   vms: &IndexMap<String, Vm>,
                   locs: &HashMap<String, serde_saphyr::Location>|
     -> Vec<(Pin, u16)> {
        addons
            .iter()
            .filter_map(|a| {
                let port = a.port?;
                let vm = vms.get(&a.vm)?;
                let address = match a.publish {
                    Publish::None => return None,
                    Publish::Public => crate::engine::ports::ALL_ADDRESSES.to_string(),
                    Publish::Private => vm.private_ip.clone(),
                };
                Some((
                    Pin {
                        owner: owner.to_string(),
                        addon: a.id(),
                        vm: vm.name.clone(),
                        machine: crate::engine::ports::machine(vm),
                        address,
                        loc: locs
                            .get(&a.id())
                            .copied()
                            .unwrap_or(serde_saphyr::Location::UNKNOWN),
                    },
                    port,
                ))
            })
            .collect()
    };
    let project_locs = port_locations(project.raw_addons);
    for (p, port) in pins_of("the project", project.addons, project.vms, &project_locs) {
        pin(p, port)?;
    }

    for (name, env) in raw {
        let env_name = name.value.clone();
        let scope = format!("environment {env_name}");
        if !is_dns_label(&env_name) {
            return Err(UserError::new(format!(
                "environment name \"{env_name}\" is not a DNS label"
            ))
            .at(at(&name.referenced))
            .hint(format!(
                "{DNS_LABEL_HINT} (it names the environment's containers and folder), e.g. dev, staging, production"
            )));
        }
        let env = env.unwrap_or_default();

        // Where it runs.
        let named: Vec<&Spanned<String>> = match (&env.vm, &env.vms) {
            (Some(_), Some(_)) => {
                return Err(UserError::new(format!("{scope} has both `vm` and `vms`"))
                    .at(env.vm.as_ref().and_then(|v| at(&v.referenced)))
                    .hint("keep one: `vm: NAME` for one VM, `vms: [A, B]` for several"));
            }
            (Some(v), None) => vec![v],
            (None, Some(list)) => list.iter().collect(),
            (None, None) => vec![],
        };
        let mut vms: IndexMap<String, Vm> = IndexMap::new();
        for v in &named {
            let Some(vm) = project.vms.get(&v.value) else {
                return Err(
                    UserError::new(format!("{scope} runs on unknown VM \"{}\"", v.value))
                        .at(at(&v.referenced))
                        .hint(hint_choices("VMs", project.vms.keys())),
                );
            };
            vms.insert(vm.name.clone(), vm.clone());
        }
        let chose_vms = !vms.is_empty();
        if !chose_vms {
            vms = project.vms.clone();
        }

        // The project's instances with this environment's overrides over
        // them, then its own.
        let mut merged = project.raw_addons.clone();
        let (mut overridden, mut own) = (Vec::new(), Vec::new());
        for (category, instances) in env.addons {
            for (inst, over) in instances {
                let id = format!("{}.{}", category.value, inst.value);
                // Keys carry their positions: match names by value.
                let base = merged
                    .iter_mut()
                    .find(|(c, _)| c.value == category.value)
                    .and_then(|(_, m)| m.iter_mut().find(|(n, _)| n.value == inst.value))
                    .map(|(_, a)| a);
                match base {
                    Some(base) => {
                        if let (Some(t), Some(bt)) = (&over.type_name, &base.type_name)
                            && catalog.get(&t.value).map(|t| &t.name)
                                != catalog.get(&bt.value).map(|t| &t.name)
                        {
                            return Err(UserError::new(format!(
                                "{scope} changes the type of addon {id} ({} in the project, {} here)",
                                bt.value, t.value
                            ))
                            .at(at(&t.referenced))
                            .hint(format!(
                                "an override keeps the type; add a {} of its own under another name",
                                t.value
                            )));
                        }
                        overlay(base, over);
                        overridden.push(id);
                    }
                    None => {
                        if over.type_name.is_none() {
                            return Err(UserError::new(format!(
                                "addon {id} of {scope} is not one of the project's and has no type"
                            ))
                            .at(at(&inst.referenced))
                            .hint(format!(
                                "add `type: NAME` to give {env_name} an instance of its own, or override one of the project's: {}",
                                choices(project.addons.iter().map(Addon::id))
                            )));
                        }
                        match merged.iter_mut().find(|(c, _)| c.value == category.value) {
                            Some((_, m)) => {
                                m.insert(inst.clone(), over);
                            }
                            None => {
                                merged.insert(
                                    category.clone(),
                                    IndexMap::from([(inst.clone(), over)]),
                                );
                            }
                        }
                        own.push(id);
                    }
                }
            }
        }
        // An inherited instance on a VM this environment does not run on
        // moves to its only VM; with several, the user says which.
        if chose_vms {
            for (category, instances) in merged.iter_mut() {
                for (inst, a) in instances.iter_mut() {
                    let id = format!("{}.{}", category.value, inst.value);
                    if own.contains(&id) {
                        continue;
                    }
                    let on = match &a.vm {
                        Some(v) => v.value.clone(),
                        None => project.vms.keys().next().cloned().unwrap_or_default(),
                    };
                    if vms.contains_key(&on) {
                        continue;
                    }
                    if vms.len() == 1 {
                        a.vm = None;
                        continue;
                    }
                    return Err(UserError::new(format!(
                        "addon {id} runs on VM {on} in the project, which {scope} does not run on"
                    ))
                    .at(named.first().and_then(|v| at(&v.referenced)))
                    .hint(format!(
                        "say where it runs here: environments.{env_name}.addons.{id}.vm, one of {}",
                        choices(vms.keys())
                    )));
                }
            }
        }
        let locs = port_locations(&merged);
        let addons = instances::validate(
            merged,
            &Where {
                path,
                text,
                catalog,
                vms: &vms,
                scope: &scope,
            },
        )?;
        for (p, port) in pins_of(&scope, &addons, &vms, &locs) {
            pin(p, port)?;
        }

        let mut environment = Environment {
            name: env_name.clone(),
            vms: vms.keys().cloned().collect(),
            addons,
            overridden,
            own,
            variables: IndexMap::new(),
            init: Vec::new(),
            deployment: None,
            init_timeout_s: DEFAULT_INIT_TIMEOUT_S,
            migrate: None,
            env_file: None,
        };

        // Variables: plain values, never one sdtui manages.
        let managed = managed_variables(&environment, project.apps, catalog);
        for (k, v) in env.variables {
            if !is_env_name(&k.value) {
                return Err(UserError::new(format!(
                    "variable \"{}\" of {scope} is not an environment variable name",
                    k.value
                ))
                .at(at(&k.referenced))
                .hint("use upper-case letters, digits and '_', starting with a letter"));
            }
            if let Some(by) = managed.get(&k.value) {
                return Err(UserError::new(format!(
                    "variable {} of {scope} is managed by {by}; yours would shadow it",
                    k.value
                ))
                .at(at(&k.referenced))
                .hint(format!(
                    "rename it (e.g. APP_{}); sdtui sets {} itself in every environment",
                    k.value, k.value
                )));
            }
            if v.value.contains('\n') {
                return Err(UserError::new(format!(
                    "variable {} of {scope} spans several lines",
                    k.value
                ))
                .at(at(&v.referenced))
                .hint("variables are one line each"));
            }
            environment
                .variables
                .insert(k.value.clone(), v.value.clone());
        }

        // The user's files: named relative to the project folder, and there.
        let user_file = |f: &Spanned<String>, what: &str| -> Result<UserFile> {
            let rel = PathBuf::from(f.value.trim());
            let full = folder.join(&rel);
            let exists = full.is_file() || planned.contains_key(&rel);
            if f.value.trim().is_empty() || rel.is_absolute() || !exists {
                return Err(UserError::new(format!(
                    "{what} file \"{}\" of {scope} {}",
                    f.value,
                    if rel.is_absolute() {
                        "is an absolute path".to_string()
                    } else {
                        format!("does not exist (looked for {})", full.display())
                    }
                ))
                .at(at(&f.referenced))
                .hint(format!(
                    "name a file relative to the project folder {}, e.g. deploy/app-compose.yml",
                    folder.display()
                )));
            }
            Ok(UserFile {
                path: rel,
                line: f.referenced.line(),
            })
        };
        for f in &env.init {
            environment.init.push(user_file(f, "init")?);
        }
        if let Some(f) = &env.deployment {
            environment.deployment = Some(user_file(f, "deployment")?);
        }
        // Variables from the user's env file: the same rules as
        // `variables:`, and a name in both is refused (never a silent win).
        if let Some(f) = &env.env_file {
            let file = user_file(f, "variables")?;
            let full = folder.join(&file.path);
            let text = match planned.get(&file.path) {
                Some(t) => t.clone(),
                None => std::fs::read_to_string(&full)
                    .map_err(|e| crate::error::io_error(&full, "read", e))?,
            };
            for e in super::dotenv::parse(&full, &text)? {
                let spot = Some(SourceSpot::new(&full, Some(&text), e.line, e.column));
                if let Some(by) = managed.get(&e.name) {
                    return Err(UserError::new(format!(
                        "variable {} of {scope} ({}) is managed by {by}; yours would shadow it",
                        e.name,
                        file.path.display()
                    ))
                    .at(spot)
                    .hint(format!(
                        "rename it (e.g. APP_{}); sdtui sets {} itself in every environment",
                        e.name, e.name
                    )));
                }
                if environment.variables.contains_key(&e.name) {
                    return Err(UserError::new(format!(
                        "variable {} of {scope} is set both in {} and under `variables:` in config.yml",
                        e.name,
                        file.path.display()
                    ))
                    .at(spot)
                    .hint("keep one of the two: a value comes from one place"));
                }
                environment.variables.insert(e.name, e.value);
            }
            environment.env_file = Some(file);
        }
        if let Some(t) = &env.init_timeout {
            environment.init_timeout_s = parse_seconds(&t.value).ok_or_else(|| {
                UserError::new(format!(
                    "init_timeout \"{}\" of {scope} is not a duration",
                    t.value
                ))
                .at(at(&t.referenced))
                .hint("write seconds (300), or with a unit: 90s, 5m, 1h")
            })?;
        }
        if let Some(m) = &env.migrate {
            let words = shlex::split(&m.command.value)
                .filter(|w| !w.is_empty())
                .ok_or_else(|| {
                    UserError::new(format!(
                        "the migrate command of {scope} is empty or has an unclosed quote"
                    ))
                    .at(at(&m.command.referenced))
                    .hint("write it as on a shell line: npm run migrate, or sh -c 'a && b'")
                })?;
            if m.service
                .as_ref()
                .is_some_and(|s| s.value.trim().is_empty())
            {
                return Err(
                    UserError::new(format!("the migrate service of {scope} is empty"))
                        .at(m.service.as_ref().and_then(|s| at(&s.referenced)))
                        .hint("name a service of the deployment file, or leave `service:` out"),
                );
            }
            if environment.deployment.is_none() {
                return Err(UserError::new(format!(
                    "{scope} has a migrate command but no deployment: it runs in the image of a deployment's service"
                ))
                .at(at(&m.command.referenced))
                .hint(format!("add `deployment: deploy/app-compose.yml` to environments.{env_name}")));
            }
            environment.migrate = Some(Migrate {
                command: words,
                service: m.service.as_ref().map(|s| s.value.clone()),
                line: m.command.referenced.line(),
            });
        }
        out.insert(env_name, environment);
    }
    Ok(out)
}

/// `300`, `90s`, `5m`, `1h` → seconds; nothing else, and never 0.
pub(super) fn parse_seconds(s: &str) -> Option<u64> {
    let s = s.trim();
    let (digits, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: u64 = digits.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        _ => return None,
    };
    (secs > 0).then_some(secs)
}

/// The fields of `over` replace those of `base`; options merge by name.
/// Destructured whole, so a field added to [`RawAddon`] does not compile
/// until it says how an environment overrides it.
fn overlay(base: &mut RawAddon, over: RawAddon) {
    let RawAddon {
        type_name,
        version,
        plan,
        options,
        vm,
        image,
        port,
        publish,
        backup,
        follows,
        state,
    } = over;
    base.type_name = type_name.or(base.type_name.take());
    base.version = version.or(base.version.take());
    base.plan = plan.or(base.plan.take());
    for (k, v) in options {
        base.options.retain(|old, _| old.value != k.value);
        base.options.insert(k, v);
    }
    base.vm = vm.or(base.vm.take());
    base.image = image.or(base.image.take());
    base.port = port.or(base.port.take());
    base.publish = publish.or(base.publish.take());
    base.backup = backup.or(base.backup.take());
    base.follows = follows.or(base.follows.take());
    base.state = state.or(base.state.take());
}

/// Where each instance's `port:` is written, by id.
fn port_locations(
    raw: &IndexMap<Name, IndexMap<Name, RawAddon>>,
) -> HashMap<String, serde_saphyr::Location> {
    raw.iter()
        .flat_map(|(c, m)| {
            m.iter().filter_map(move |(n, a)| {
                a.port
                    .as_ref()
                    .map(|p| (format!("{}.{}", c.value, n.value), p.referenced))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::parse_seconds;

    #[test]
    fn durations() {
        assert_eq!(parse_seconds("300"), Some(300));
        assert_eq!(parse_seconds("90s"), Some(90));
        assert_eq!(parse_seconds("5m"), Some(300));
        assert_eq!(parse_seconds("1h"), Some(3600));
        assert_eq!(parse_seconds("0"), None);
        assert_eq!(parse_seconds("5 min"), None);
        assert_eq!(parse_seconds("m"), None);
    }
}
