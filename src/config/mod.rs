//! config.yml: the typed model, parsing with line:column errors, and
//! validation against the catalog. Edits that keep the user's file live in
//! `edit`, recognising the legacy format in `legacy`.

pub mod cluster;
pub mod dotenv;
pub mod edit;
pub mod environments;
mod instances;
pub mod legacy;
mod raw;
pub mod schedule;
pub mod watch;

pub use cluster::{Cluster, ClusterKind};
pub use environments::{Environment, Migrate, UserFile};
pub use instances::major;

pub use raw::{option_matches, parse_option, suggest_prefix};

use std::path::Path;

use indexmap::IndexMap;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::catalog::{Catalog, Publish};
use crate::error::{Result, SourceSpot, UserError, choices};

pub const LOCAL_VM: &str = "local";

#[derive(Debug, Clone, Serialize)]
pub struct Config {
    pub vms: IndexMap<String, Vm>,
    /// In file order: ports are allocated in this order.
    pub addons: Vec<Addon>,
    pub apps: IndexMap<String, App>,
    /// In file order, each with its effective instances resolved.
    pub environments: IndexMap<String, Environment>,
    /// Set when this is one environment's effective config
    /// ([`Config::for_environment`]), for what generated files say.
    pub environment: Option<String>,
    /// `cluster:`: the project deploys as a stack on a swarm of its VMs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<Cluster>,
    /// `watch:`: what `sdtui watch` alerts with, and how often it looks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watch: Option<watch::WatchSettings>,
    /// `databases.primary` → position in `addons`, for lookups at scale.
    #[serde(skip)]
    pub index: std::collections::HashMap<String, usize>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Vm {
    pub name: String,
    /// `local` means the local Docker engine, no SSH.
    pub host: String,
    pub user: String,
    pub port: u16,
    pub identity: Option<String>,
    /// Where addon ports are published and other VMs reach them.
    pub private_ip: String,
    /// The Compose command run on this VM (`docker compose`,
    /// `docker-compose`, a path), as words; `None`: `$SDTUI_COMPOSE`, else
    /// whichever the VM has.
    pub compose: Option<Vec<String>>,
}

impl Vm {
    pub fn is_local(&self) -> bool {
        self.host == LOCAL_VM
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Addon {
    pub category: String,
    pub name: String,
    /// Canonical type name (aliases resolved).
    #[serde(rename = "type")]
    pub type_name: String,
    pub version: String,
    pub plan: String,
    /// Options set on the instance itself (plan options come from the catalog).
    pub options: IndexMap<String, String>,
    pub vm: String,
    pub image: Option<String>,
    /// A user-pinned published port.
    pub port: Option<u16>,
    pub publish: Publish,
    /// `backup: {every, keep}`: a backup service on the addon's VM.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<schedule::BackupSchedule>,
    /// The leader this instance streams from (`follows:`), a postgres
    /// instance of the same major version in the same scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follows: Option<String>,
    /// `state:` what `up` does with the instance (a promoted follower's old
    /// leader is `read_only`, an upgraded one `stopped`).
    #[serde(skip_serializing_if = "InstanceState::is_running")]
    pub state: InstanceState,
    /// Its type is `kind: system`: its script runs on the VM, no container.
    #[serde(skip)]
    pub system: bool,
}

/// An instance's `state:`. `read_only`: running, refusing writes (postgres:
/// `default_transaction_read_only`, set by `up`); `stopped`: not in the
/// VM's compose file, its volume kept until it is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InstanceState {
    #[default]
    Running,
    ReadOnly,
    Stopped,
}

impl InstanceState {
    pub fn is_running(&self) -> bool {
        *self == InstanceState::Running
    }
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceState::Running => "running",
            InstanceState::ReadOnly => "read_only",
            InstanceState::Stopped => "stopped",
        }
    }
    pub fn parse(s: &str) -> Option<InstanceState> {
        match s {
            "running" => Some(InstanceState::Running),
            "read_only" => Some(InstanceState::ReadOnly),
            "stopped" => Some(InstanceState::Stopped),
            _ => None,
        }
    }
}

impl Addon {
    /// `databases.primary`.
    pub fn id(&self) -> String {
        format!("{}.{}", self.category, self.name)
    }
    /// Not `state: stopped`: it is meant to run.
    pub fn runs(&self) -> bool {
        self.state != InstanceState::Stopped
    }
    /// Running as a container (a system type's instance never is).
    pub fn has_container(&self) -> bool {
        self.runs() && !self.system
    }
    /// Compose service name, `postgres-primary`.
    pub fn service(&self) -> String {
        format!("{}-{}", self.type_name, self.name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    Readwrite,
    Readonly,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Readwrite => "readwrite",
            Access::Readonly => "readonly",
        }
    }
    pub fn parse(s: &str) -> Option<Access> {
        match s {
            "readwrite" | "rw" => Some(Access::Readwrite),
            "readonly" | "ro" => Some(Access::Readonly),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Attachment {
    /// `databases.primary`.
    pub addon: String,
    /// Env prefix (`DATABASE` gives `DATABASE_URL`, ...).
    #[serde(rename = "as")]
    pub prefix: String,
    pub access: Access,
}

#[derive(Debug, Clone, Serialize)]
pub struct App {
    pub name: String,
    pub image: String,
    pub tag: String,
    pub vm: String,
    pub port: Option<u16>,
    pub domain: Option<String>,
    pub after_deploy: Vec<String>,
    /// The user's own variables, written into the app's env file.
    pub env: IndexMap<String, String>,
    pub attachments: Vec<Attachment>,
}

impl Config {
    pub fn addon(&self, id: &str) -> Option<&Addon> {
        self.index.get(id).map(|&i| &self.addons[i])
    }
    pub fn addon_ids(&self) -> Vec<String> {
        self.addons.iter().map(Addon::id).collect()
    }
    /// Apps attached to an addon, with the attachment.
    pub fn attachments_of<'a>(
        &'a self,
        id: &'a str,
    ) -> impl Iterator<Item = (&'a App, &'a Attachment)> {
        self.apps.values().flat_map(move |app| {
            app.attachments
                .iter()
                .filter(move |a| a.addon == id)
                .map(move |a| (app, a))
        })
    }
}

/// A DNS label: what instance, app, VM and project names must be, since they
/// become service names, hostnames and folder names.
pub fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

pub const DNS_LABEL_HINT: &str = "names are DNS labels: lowercase letters, digits and '-', not starting or ending with '-', at most 63 characters";

/// An environment variable name, as prefixes and user variables must be.
pub fn is_env_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_uppercase() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_')
}

/// Parses YAML into `T`, reporting syntax errors at their true line:column.
pub fn parse_yaml<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T> {
    serde_saphyr::from_str::<T>(text).map_err(|typed| {
        // A typed parse reports an under-indented line as a missing field on
        // the line above; an untyped pass finds the real syntax error. Only
        // on failure: parsing twice would double the cost of every load.
        match serde_saphyr::from_str::<serde::de::IgnoredAny>(text) {
            Err(syntax) => yaml_error(path, text, &syntax),
            Ok(_) => yaml_error(path, text, &typed),
        }
    })
}

fn yaml_error(path: &Path, text: &str, e: &serde_saphyr::Error) -> UserError {
    let bare = e.without_snippet().to_string();
    // The crate prefixes "error: line N column M: "; the spot says that already.
    let message = strip_position(&bare);
    let spot = e
        .location()
        .map(|l| SourceSpot::new(path, Some(text), l.line(), l.column()));
    UserError::new(message)
        .at(spot)
        .hint("fix the YAML at the position shown; nothing was changed")
}

/// Drops the position the YAML crate writes into its messages.
fn strip_position(s: &str) -> String {
    let s = s.trim().strip_prefix("error: ").unwrap_or(s.trim());
    // ... and sometimes suffixes " at line N, column M".
    let s = match s.rfind(" at line ") {
        Some(i) if s[i..].contains(", column ") => &s[..i],
        _ => s,
    };
    if let Some(rest) = s.strip_prefix("line ")
        && let Some(idx) = rest.find(": ")
        && rest[..idx].contains(" column ")
    {
        return rest[idx + 2..].lines().next().unwrap_or("").to_string();
    }
    s.lines().next().unwrap_or("").to_string()
}

/// Reads and validates config.yml.
pub fn load(path: &Path, catalog: &Catalog) -> Result<Config> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        crate::error::io_error(path, "read", e).hint("create a project with `sdtui init NAME`")
    })?;
    parse(path, &text, catalog)
}

pub fn parse(path: &Path, text: &str, catalog: &Catalog) -> Result<Config> {
    parse_planned(path, text, catalog, &Planned::new())
}

/// Files a plan is about to write beside config.yml, by path relative to
/// the project folder: the checker reads them as if they were on disk
/// (`sdtui init --environments` names files it writes in the same plan).
pub type Planned = std::collections::BTreeMap<std::path::PathBuf, String>;

/// [`parse`], with the files `planned` to be written alongside.
pub fn parse_planned(
    path: &Path,
    text: &str,
    catalog: &Catalog,
    planned: &Planned,
) -> Result<Config> {
    let raw: raw::RawConfig = parse_yaml(path, text).map_err(|e| {
        // A name YAML reads as null fails the typed parse with the
        // parser's words; say it in the user's.
        if let Some(spot) = &e.spot
            && e.message.contains("null")
            && let Some(err) = non_text_key(path, text, spot.line, spot.column)
        {
            return err;
        }
        // The legacy shape fails the typed parse; say so rather than report
        // the first field that does not fit.
        match legacy::detect(path, text) {
            Some(spot) => UserError::new("config.yml is in the legacy single-instance format")
                .at(Some(spot))
                .hint(format!(
                    "convert it with `sdtui -p {} migrate` (it keeps every credential and backs up the old files)",
                    project_of(path)
                )),
            None => e,
        }
    })?;
    raw::validate(raw, path, text, catalog, planned)
}

/// What a plain (unquoted) scalar is to YAML when it is not text: null,
/// a boolean (YAML 1.1's yes/no/on/off too, as compose v1 reads them) or
/// a number.
fn plain_scalar_kind(s: &str) -> Option<&'static str> {
    match s {
        "~" | "null" | "Null" | "NULL" => return Some("null"),
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE" | "yes" | "Yes" | "YES" | "no"
        | "No" | "NO" | "on" | "On" | "ON" | "off" | "Off" | "OFF" => {
            return Some("a boolean");
        }
        _ => {}
    }
    let digits = s.trim_start_matches(['-', '+']);
    let number = !digits.is_empty()
        && (digits.parse::<f64>().is_ok()
            || [("0x", 16), ("0o", 8), ("0b", 2)].iter().any(|(p, radix)| {
                digits
                    .strip_prefix(p)
                    .is_some_and(|d| u64::from_str_radix(d, *radix).is_ok())
            }));
    number.then_some("a number")
}

/// The mapping key written at `line:column` (1-based), when it is a plain
/// scalar YAML reads as something other than text: the error to give.
pub(crate) fn non_text_key(path: &Path, text: &str, line: u64, column: u64) -> Option<UserError> {
    let source = text.lines().nth(line.checked_sub(1)? as usize)?;
    let rest: String = source
        .chars()
        .skip(column.checked_sub(1)? as usize)
        .collect();
    let key = rest.split_once(':')?.0.trim_end();
    let kind = plain_scalar_kind(key)?;
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_else(|| "config.yml".into());
    Some(
        UserError::new(format!(
            "the name `{key}` in {file} is read by YAML as {kind}, not as a name"
        ))
        .at(Some(SourceSpot::new(path, Some(text), line, column)))
        .hint(format!("quote it: \"{key}\":")),
    )
}

/// The project a config.yml belongs to: its folder's name.
pub fn project_of(path: &Path) -> String {
    path.parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "PROJECT".into())
}

/// Human list of valid choices, for hints.
pub fn hint_choices(what: &str, items: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    format!("{what}: {}", choices(items))
}
