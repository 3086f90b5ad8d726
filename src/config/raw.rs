//! The file as written, with the position of every value that validation can
//! complain about.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};
use serde_saphyr::Spanned;

use super::environments::RawEnvironment;
use super::instances::{self, Where};
use super::*;
use crate::catalog::Catalog;
use crate::error::{SourceSpot, UserError, choices};

pub(super) type Name = Spanned<String>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default)]
    vms: IndexMap<Name, RawVm>,
    #[serde(default)]
    addons: IndexMap<Name, IndexMap<Name, RawAddon>>,
    #[serde(default)]
    apps: IndexMap<Name, RawApp>,
    #[serde(default)]
    environments: IndexMap<Name, Option<RawEnvironment>>,
    /// `cluster: {kind: swarm, manager: VM}`: deploy as a stack.
    cluster: Option<Spanned<super::cluster::RawCluster>>,
    watch: Option<super::watch::RawWatch>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVm {
    host: Option<Spanned<String>>,
    user: Option<String>,
    port: Option<u16>,
    identity: Option<String>,
    private_ip: Option<Spanned<String>>,
    compose: Option<Spanned<String>>,
}

/// An instance as written. In an environment it may be an override of the
/// project's instance of that name, where every field is optional.
#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAddon {
    #[serde(rename = "type")]
    pub type_name: Option<Spanned<String>>,
    pub version: Option<Spanned<String>>,
    pub plan: Option<Spanned<String>>,
    #[serde(default)]
    pub options: IndexMap<Name, Spanned<String>>,
    pub vm: Option<Spanned<String>>,
    pub image: Option<String>,
    pub port: Option<Spanned<u16>>,
    pub publish: Option<Spanned<String>>,
    pub backup: Option<Spanned<super::schedule::RawBackup>>,
    /// `follows: databases.primary`: a streaming replica of that instance.
    pub follows: Option<Spanned<String>>,
    /// `state: read_only | stopped` (default running).
    pub state: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApp {
    image: Option<String>,
    tag: Option<String>,
    vm: Option<Spanned<String>>,
    port: Option<Spanned<u16>>,
    domain: Option<String>,
    /// Where the source lives (seed 000 keeps it); informational here.
    #[allow(dead_code)]
    path: Option<String>,
    #[serde(default)]
    hooks: RawHooks,
    #[serde(default)]
    env: IndexMap<Name, String>,
    #[serde(default)]
    addons: Vec<Spanned<RawAttachment>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHooks {
    #[serde(default)]
    after_deploy: Vec<String>,
}

/// `- databases.primary`, `- databases.primary as DB`, or the long form.
struct RawAttachment {
    addon: Spanned<String>,
    prefix: Option<Spanned<String>>,
    access: Option<Spanned<String>>,
}

impl<'de> Deserialize<'de> for RawAttachment {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ShortOrLong)
    }
}

struct ShortOrLong;

impl<'de> Visitor<'de> for ShortOrLong {
    type Value = RawAttachment;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("`category.name`, `category.name as PREFIX`, or a mapping with addon/as/access")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<RawAttachment, E> {
        // Positions of short forms are filled in by the caller's Spanned.
        let unknown = serde_saphyr::Location::UNKNOWN;
        let mut words = v.split_whitespace();
        let addon = words.next().unwrap_or_default().to_string();
        let prefix = match (words.next(), words.next(), words.next()) {
            (None, _, _) => None,
            (Some("as"), Some(p), None) => Some(p.to_string()),
            _ => {
                return Err(E::custom(format!(
                    "\"{v}\" is not an attachment; write `category.name` or `category.name as PREFIX`"
                )));
            }
        };
        Ok(RawAttachment {
            addon: Spanned::new(addon, unknown, unknown),
            prefix: prefix.map(|p| Spanned::new(p, unknown, unknown)),
            access: None,
        })
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawAttachment, A::Error> {
        let (mut addon, mut prefix, mut access) = (None, None, None);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "addon" => addon = Some(map.next_value()?),
                "as" => prefix = Some(map.next_value()?),
                "access" => access = Some(map.next_value()?),
                other => {
                    return Err(de::Error::unknown_field(other, &["addon", "as", "access"]));
                }
            }
        }
        let addon = addon.ok_or_else(|| de::Error::missing_field("addon"))?;
        Ok(RawAttachment {
            addon,
            prefix,
            access,
        })
    }
}

pub(super) fn spot(path: &Path, text: &str, s: &serde_saphyr::Location) -> Option<SourceSpot> {
    (*s != serde_saphyr::Location::UNKNOWN)
        .then(|| SourceSpot::new(path, Some(text), s.line(), s.column()))
}

/// Where a short-form attachment field is: its own position, or the item's.
fn spot_or(
    path: &Path,
    text: &str,
    s: &serde_saphyr::Location,
    item: &serde_saphyr::Location,
) -> Option<SourceSpot> {
    spot(path, text, s).or_else(|| spot(path, text, item))
}

pub(super) fn validate(
    raw: RawConfig,
    path: &Path,
    text: &str,
    catalog: &Catalog,
    planned: &super::Planned,
) -> Result<Config> {
    let at = |loc: &serde_saphyr::Location| spot(path, text, loc);
    // Names written as `yes:` or `1.10:` parse as text here but mean
    // something else to YAML 1.1 readers (and to the user's eye).
    let plain_name = |name: &Name| -> Result<()> {
        let loc = &name.referenced;
        if *loc == serde_saphyr::Location::UNKNOWN {
            return Ok(());
        }
        match non_text_key(path, text, loc.line(), loc.column()) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    };
    for name in raw
        .vms
        .keys()
        .chain(raw.apps.keys())
        .chain(raw.environments.keys())
    {
        plain_name(name)?;
    }
    for (category, instances) in &raw.addons {
        plain_name(category)?;
        for name in instances.keys() {
            plain_name(name)?;
        }
    }

    // VMs.
    let mut vms = IndexMap::new();
    for (name, vm) in raw.vms {
        if !is_dns_label(&name.value) {
            return Err(
                UserError::new(format!("VM name \"{}\" is not a DNS label", name.value))
                    .at(at(&name.referenced))
                    .hint(DNS_LABEL_HINT),
            );
        }
        let host = match (&vm.host, name.value.as_str()) {
            (Some(h), _) => h.value.clone(),
            (None, LOCAL_VM) => LOCAL_VM.to_string(),
            (None, _) => {
                return Err(UserError::new(format!("VM {} has no host", name.value))
                    .at(at(&name.referenced))
                    .hint(
                        "give it `host: ADDRESS` (or `host: local` for the local Docker engine)",
                    ));
            }
        };
        let private_ip = match (&vm.private_ip, host.as_str()) {
            (Some(ip), _) => {
                if ip.value.parse::<std::net::IpAddr>().is_err() {
                    return Err(UserError::new(format!(
                        "private_ip \"{}\" of VM {} is not an IP address",
                        ip.value, name.value
                    ))
                    .at(at(&ip.referenced))
                    .hint("write an address such as 127.0.2.3"));
                }
                ip.value.clone()
            }
            (None, LOCAL_VM) => "127.0.0.1".to_string(),
            (None, h) if h.parse::<std::net::IpAddr>().is_ok() => h.to_string(),
            (None, _) => {
                return Err(UserError::new(format!(
                    "VM {} needs a private_ip (its host \"{host}\" is not an address)",
                    name.value
                ))
                .at(at(&name.referenced))
                .hint("add `private_ip: ADDRESS`: addon ports are published there"));
            }
        };
        let compose = match &vm.compose {
            None => None,
            Some(c) => {
                match shlex::split(&c.value) {
                    Some(words) if !words.is_empty() => Some(words),
                    _ => {
                        return Err(UserError::new(format!(
                        "compose \"{}\" of VM {} is not a command",
                        c.value, name.value
                    ))
                    .at(at(&c.referenced))
                    .hint("write `compose: docker compose` (v2) or `compose: docker-compose` (v1)"));
                    }
                }
            }
        };
        vms.insert(
            name.value.clone(),
            Vm {
                name: name.value.clone(),
                host,
                user: vm.user.unwrap_or_else(|| "root".into()),
                port: vm.port.unwrap_or(22),
                identity: vm.identity,
                private_ip,
                compose,
            },
        );
    }
    if vms.is_empty() {
        vms.insert(
            LOCAL_VM.to_string(),
            Vm {
                name: LOCAL_VM.into(),
                host: LOCAL_VM.into(),
                user: "root".into(),
                port: 22,
                identity: None,
                private_ip: "127.0.0.1".into(),
                compose: None,
            },
        );
    }
    // Kept for environments: each overlays its overrides on these.
    let project_addons = raw.addons.clone();
    let addons = instances::validate(
        raw.addons,
        &Where {
            path,
            text,
            catalog,
            vms: &vms,
            scope: "the project",
        },
    )?;
    let by_service: HashMap<String, String> =
        addons.iter().map(|a| (a.service(), a.id())).collect();
    let resolve_vm = |vm: &Option<Spanned<String>>,
                      owner: &str,
                      owner_loc: &serde_saphyr::Location|
     -> Result<String> {
        instances::resolve_vm(path, text, &vms, "the project", vm, owner, owner_loc)
    };

    let index: HashMap<String, usize> = addons
        .iter()
        .enumerate()
        .map(|(i, a)| (a.id(), i))
        .collect();

    // Apps and their attachments.
    let mut apps = IndexMap::new();
    for (name, a) in raw.apps {
        let app_name = name.value.clone();
        if !is_dns_label(&app_name) {
            return Err(
                UserError::new(format!("app name \"{app_name}\" is not a DNS label"))
                    .at(at(&name.referenced))
                    .hint(DNS_LABEL_HINT),
            );
        }
        if by_service.contains_key(&app_name) {
            return Err(UserError::new(format!(
                "app {app_name} has the same service name as addon {}",
                by_service[&app_name]
            ))
            .at(at(&name.referenced))
            .hint("rename the app"));
        }
        let vm = resolve_vm(&a.vm, &format!("app {app_name}"), &name.referenced)?;
        let mut env = IndexMap::new();
        for (k, v) in a.env {
            if !is_env_name(&k.value) {
                return Err(UserError::new(format!(
                    "variable \"{}\" of app {app_name} is not an environment variable name",
                    k.value
                ))
                .at(at(&k.referenced))
                .hint("use upper-case letters, digits and '_', starting with a letter"));
            }
            if v.contains('\n') {
                return Err(UserError::new(format!(
                    "variable {} of app {app_name} spans several lines",
                    k.value
                ))
                .at(at(&k.referenced))
                .hint("env files hold one line per variable"));
            }
            env.insert(k.value.clone(), v);
        }
        let mut attachments: Vec<Attachment> = Vec::new();
        let mut prefixes: BTreeMap<String, String> = BTreeMap::new();
        for item in a.addons {
            let item_loc = item.referenced;
            let raw = item.value;
            // Only computed on error: it copies a source line.
            let addon_spot = || spot_or(path, text, &raw.addon.referenced, &item_loc);
            let Some(target) = index.get(&raw.addon.value).map(|&i| &addons[i]) else {
                return Err(UserError::new(format!(
                    "app {app_name} is attached to unknown addon \"{}\"",
                    raw.addon.value
                ))
                .at(addon_spot())
                .hint(hint_choices("addons", addons.iter().map(Addon::id))));
            };
            if target.state == InstanceState::Stopped {
                return Err(UserError::new(format!(
                    "app {app_name} is attached to {}, which is `state: stopped`",
                    raw.addon.value
                ))
                .at(addon_spot())
                .hint(format!(
                    "attach it to a running instance, or start {} again by removing its `state:`",
                    raw.addon.value
                )));
            }
            if target.system {
                return Err(UserError::new(format!(
                    "app {app_name} is attached to {}, a {} instance: a system type configures its VM and has nothing to attach",
                    raw.addon.value, target.type_name
                ))
                .at(addon_spot())
                .hint(format!("remove {} from app {app_name}'s addons", raw.addon.value)));
            }
            let access = match &raw.access {
                None => Access::Readwrite,
                Some(s) => Access::parse(&s.value).ok_or_else(|| {
                    UserError::new(format!(
                        "access \"{}\" of {app_name} → {} is not valid",
                        s.value, raw.addon.value
                    ))
                    .at(spot_or(path, text, &s.referenced, &item_loc))
                    .hint("access: readwrite or readonly")
                })?,
            };
            let t = catalog.require(&target.type_name)?;
            if access == Access::Readonly && !t.supports_readonly() {
                let ro: Vec<&str> = catalog
                    .types()
                    .filter(|t| t.supports_readonly())
                    .map(|t| t.name.as_str())
                    .collect();
                return Err(UserError::new(format!(
                    "{} ({}) has no readonly access, asked by app {app_name}",
                    raw.addon.value, t.name
                ))
                .at(raw
                    .access
                    .as_ref()
                    .and_then(|s| spot_or(path, text, &s.referenced, &item_loc))
                    .or_else(addon_spot))
                .hint(format!(
                    "use access: readwrite; types with readonly access: {}",
                    choices(ro)
                )));
            }
            let prefix = match &raw.prefix {
                Some(p) => p.value.clone(),
                None => Catalog::default_prefix(&target.category),
            };
            if !is_env_name(&prefix) {
                return Err(UserError::new(format!(
                    "prefix \"{prefix}\" of {app_name} → {} is not an environment variable name",
                    raw.addon.value
                ))
                .at(raw
                    .prefix
                    .as_ref()
                    .and_then(|p| spot_or(path, text, &p.referenced, &item_loc))
                    .or_else(addon_spot))
                .hint("use upper-case letters, digits and '_', starting with a letter"));
            }
            if let Some(other) = prefixes.insert(prefix.clone(), raw.addon.value.clone()) {
                return Err(UserError::new(format!(
                    "app {app_name} attaches {other} and {} both as {prefix}",
                    raw.addon.value
                ))
                .at(raw
                    .prefix
                    .as_ref()
                    .and_then(|p| spot_or(path, text, &p.referenced, &item_loc))
                    .or_else(addon_spot))
                .hint(format!(
                    "give one a different prefix with `as:`, e.g. as: {}",
                    suggest_prefix(&target.name, &prefixes)
                )));
            }
            attachments.push(Attachment {
                addon: raw.addon.value.clone(),
                prefix,
                access,
            });
        }
        apps.insert(
            app_name.clone(),
            App {
                image: a.image.unwrap_or_else(|| app_name.clone()),
                tag: a.tag.unwrap_or_else(|| "latest".into()),
                name: app_name,
                vm,
                port: a.port.map(|p| p.value),
                domain: a.domain,
                after_deploy: a.hooks.after_deploy,
                env,
                attachments,
            },
        );
    }

    let environments = super::environments::validate(
        raw.environments,
        &super::environments::Project {
            raw_addons: &project_addons,
            addons: &addons,
            apps: &apps,
            vms: &vms,
        },
        path,
        text,
        catalog,
        planned,
    )?;
    let cluster = raw
        .cluster
        .map(|c| super::cluster::validate(c, path, text, &vms, &addons, &apps))
        .transpose()?;
    let watch = match &raw.watch {
        Some(w) => Some(super::watch::validate(w, at)?),
        None => None,
    };
    Ok(Config {
        cluster,
        vms,
        addons,
        apps,
        environments,
        environment: None,
        watch,
        index,
    })
}

/// A free prefix from an instance name: `ANALYTICS`, `ANALYTICS_2` ...
pub fn suggest_prefix(instance: &str, taken: &BTreeMap<String, String>) -> String {
    let base = instance.to_ascii_uppercase().replace('-', "_");
    if !taken.contains_key(&base) {
        return base;
    }
    (2..)
        .map(|n| format!("{base}_{n}"))
        .find(|p| !taken.contains_key(p))
        .unwrap_or(base)
}

/// `max_connections=200` → (`max_connections`, `200`): how every face
/// takes an option it is typed (`--option`, the palette, the wizard).
pub fn parse_option(word: &str) -> std::result::Result<(String, String), String> {
    match word.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_string(), value.to_string())),
        _ => Err(format!(
            "\"{word}\": write name=value, e.g. max_connections=200"
        )),
    }
}

pub fn option_matches(pattern: &str, value: &str) -> bool {
    regex::Regex::new(&format!("^(?:{pattern})$"))
        .map(|r| r.is_match(value))
        .unwrap_or(false)
}
