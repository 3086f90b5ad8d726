//! The addon catalog: `addons/<type>/addon.yml`, embedded in the binary, with
//! a user folder on top that can add types or override shipped ones.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use include_dir::{Dir, include_dir};
use indexmap::IndexMap;
use serde::Deserialize;

use crate::error::{Result, SourceSpot, UserError, choices};
use crate::template;

static EMBEDDED: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/addons");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddonType {
    pub name: String,
    pub description: String,
    /// Category a new instance goes under when none is given (`databases`).
    pub category: String,
    /// Other names users type for this type (`mysql` for mariadb).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Image reference with `{version}`; an instance's `image:` overrides it.
    /// Empty for a system type (no container).
    #[serde(default)]
    pub image: String,
    pub default_version: String,
    /// Versions known to work; others are accepted with the image's own tag.
    #[serde(default)]
    pub versions: Vec<String>,
    pub default_plan: String,
    pub plans: IndexMap<String, Plan>,
    /// Options an instance may set; each renders into command arguments.
    #[serde(default)]
    pub options: IndexMap<String, OptionSpec>,
    /// The first port is the main one (`{PORT}`); others are `{NAME_PORT}`.
    /// None for a system type.
    #[serde(default)]
    pub ports: Vec<PortSpec>,
    /// Where ports are published: `private` (the VM's private address) or
    /// `public` (all interfaces, for a proxy).
    #[serde(default)]
    pub publish: Publish,
    /// Credentials kept in secrets.yml, in this order after HOST and PORT.
    #[serde(default)]
    pub credentials: IndexMap<String, CredentialSpec>,
    /// The container's environment (templates over credentials); written to
    /// a 0600 env file, never into the compose file.
    #[serde(default)]
    pub container_env: IndexMap<String, String>,
    /// `container_env` names the image also reads from a file named by
    /// `NAME_FILE` (the official images' `_FILE` forms): in a swarm stack
    /// those come from Docker secrets instead of the service's environment.
    #[serde(default)]
    pub file_env: Vec<String>,
    /// `container_env` names the image has no `_FILE` form for, which the
    /// command's shell script (`sh -c`) and a `CMD-SHELL` health check read
    /// as `$$NAME`: in a swarm stack each comes from a Docker secret file
    /// that the script reads into the variable before it runs.
    #[serde(default)]
    pub shell_file_env: Vec<String>,
    /// Container command; an element `{options}` splices option arguments,
    /// `{options}` inside an element inserts them shell-quoted.
    #[serde(default)]
    pub command: Vec<String>,
    pub healthcheck: Option<Healthcheck>,
    #[serde(default)]
    pub volumes: Vec<VolumeSpec>,
    /// Set the container hostname (RabbitMQ keeps node data per hostname).
    #[serde(default)]
    pub hostname: bool,
    /// Variables each attachment injects, as `{PREFIX}_<name>`.
    #[serde(default)]
    pub env: Vec<EnvSpec>,
    /// Present when the type supports readonly attachments.
    pub readonly: Option<ReadonlySpec>,
    /// Steps that make attachments real after the container is healthy.
    #[serde(default)]
    pub provision: IndexMap<String, Vec<String>>,
    /// How the steps run inside the container.
    pub provision_with: Option<ProvisionClient>,
    /// How an instance is dumped, restored and drill-checked (`db backup`).
    pub backup: Option<crate::backup::spec::BackupSpec>,
    /// How a password is changed inside the running server (`addons
    /// credentials rotate`); absent: the type cannot rotate.
    pub rotate: Option<RotateSpec>,
    /// The client `connect` opens on the laptop.
    pub connect: Option<ConnectSpec>,
    /// How `doctor` proves an attachment from beside its app.
    pub doctor: Option<crate::contract::doctor::DoctorSpec>,
    /// Types (or names they `provide`) an instance needs in its project;
    /// those on its VM start first.
    #[serde(default)]
    pub depends: Vec<String>,
    /// Other names this type answers to in `depends`/`conflicts` (mariadb
    /// provides `mysql`).
    #[serde(default)]
    pub provides: Vec<String>,
    /// Types (or provided names) that may not share a VM with it.
    #[serde(default)]
    pub conflicts: Vec<String>,
    /// A user type that replaces a built-in one of the same name must say
    /// so, so a folder cannot shadow one by accident.
    #[serde(default)]
    pub overrides: bool,
    /// How the type's contract script (`addon.sh` beside addon.yml) runs;
    /// absent without a script.
    pub contract: Option<crate::contract::script::ContractSpec>,
    /// The folder holding its `addon.sh`, for a type with a `contract:`.
    #[serde(skip)]
    pub script_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// A container's limits; a system type's plans name option sets only.
    #[serde(default)]
    pub memory: String,
    #[serde(default)]
    pub cpu: String,
    #[serde(default)]
    pub disk: String,
    #[serde(default)]
    pub description: String,
    /// Option values the plan sets unless the instance overrides them.
    #[serde(default)]
    pub options: IndexMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionSpec {
    #[serde(default)]
    pub description: String,
    /// Command arguments, with `{value}` (none for a system type, whose
    /// script reads its options from its configuration).
    #[serde(default)]
    pub args: Vec<String>,
    /// Values must match this (anchored) pattern; keeps them shell-safe.
    #[serde(default = "default_option_pattern")]
    pub pattern: String,
}

fn default_option_pattern() -> String {
    "[A-Za-z0-9._:/-]+".to_string()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortSpec {
    pub name: String,
    pub container: u16,
    pub base: u16,
    #[serde(default = "one")]
    pub increment: u16,
}

fn one() -> u16 {
    1
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Publish {
    #[default]
    Private,
    Public,
    None,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialSpec {
    /// A fixed value or template (`{project_ident}_{name_ident}_user`).
    pub value: Option<String>,
    /// Generate a random URL-safe secret of this many characters.
    pub generate: Option<usize>,
    /// Take the value from this instance option when it is set.
    pub from_option: Option<String>,
    /// Masked wherever it could be shown (plans, `info`, errors, the
    /// console) unless revealed. A generated credential is secret unless
    /// this says `false`.
    pub secret: Option<bool>,
}

impl CredentialSpec {
    pub fn is_secret(&self) -> bool {
        self.secret.unwrap_or(self.generate.is_some())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Healthcheck {
    pub test: Vec<String>,
    #[serde(default = "default_interval")]
    pub interval: String,
    #[serde(default = "default_timeout")]
    pub timeout: String,
    #[serde(default = "default_retries")]
    pub retries: u32,
    #[serde(default = "default_start_period")]
    pub start_period: String,
}

fn default_interval() -> String {
    "10s".into()
}
fn default_timeout() -> String {
    "5s".into()
}
fn default_retries() -> u32 {
    5
}
fn default_start_period() -> String {
    "30s".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeSpec {
    pub name: String,
    pub path: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvSpec {
    pub name: String,
    pub value: String,
    /// Forces masking of a value the rule would not mask by itself; a value
    /// that uses a secret credential is secret whatever this says.
    #[serde(default)]
    pub secret: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvisionClient {
    /// argv templates over the credentials; never a shell line.
    pub command: Vec<String>,
    #[serde(default)]
    pub env: IndexMap<String, String>,
    /// `stdin`: all steps, one per line, on the client's input;
    /// `args`: one run per step, its words appended to the command.
    pub input: ProvisionInput,
}

/// Rotation, run with `provision_with` inside the addon's container. In
/// `steps`, `finish` and `check`, `{USER}`/`{PASSWORD}` are the rotated
/// login's (the readonly one's with `--readonly`); steps also get `{NEW}`
/// and `{OLD}`. The client itself runs with the owner's current credentials.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateSpec {
    /// The client for the steps when not `provision_with`.
    pub with: Option<ProvisionClient>,
    /// Make `{NEW}` the login's password in the server.
    pub steps: Vec<String>,
    /// After the apps restarted: end `{OLD}`, where the steps let both work
    /// meanwhile (Redis ACL). Skipped when the addon's container was
    /// recreated, as it then starts from its files with `{NEW}` alone.
    #[serde(default)]
    pub finish: Vec<String>,
    /// Proves a password: run in the container with `{PASSWORD}` the one to
    /// try; accepted when it exits 0 (and prints `expect`, if set).
    pub check: RotateCheck,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateCheck {
    pub command: Vec<String>,
    #[serde(default)]
    pub env: IndexMap<String, String>,
    pub expect: Option<String>,
}

/// `connect`: argv and environment templates over the credentials, `{HOST}`
/// and `{PORT}` (the laptop's end of the forward). Keep passwords in `env`,
/// where `ps` does not show them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectSpec {
    pub client: Vec<String>,
    #[serde(default)]
    pub env: IndexMap<String, String>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ProvisionInput {
    Stdin,
    Args,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadonlySpec {
    /// Which credential stands in for which on a readonly attachment
    /// (`USER: READONLY_USER`).
    pub credentials: IndexMap<String, String>,
}

impl AddonType {
    /// A system type: its contract script runs on the VM itself; it has no
    /// container, ports or attachments.
    pub fn is_system(&self) -> bool {
        self.contract
            .as_ref()
            .is_some_and(|c| c.kind == crate::contract::script::Kind::System)
    }
    pub fn image_for(&self, version: &str) -> String {
        self.image.replace("{version}", version)
    }
    pub fn main_port(&self) -> &PortSpec {
        &self.ports[0]
    }
    pub fn supports_readonly(&self) -> bool {
        self.readonly.is_some()
    }
    /// The one rule for what is secret: a credential the catalog marks
    /// `secret` (see [`CredentialSpec::is_secret`]).
    pub fn is_secret_credential(&self, name: &str) -> bool {
        match self.credentials.get(name) {
            Some(c) => c.is_secret(),
            // A credential the engine adds itself (a follower's
            // REPLICATION_PASSWORD): a password is secret.
            None => name.ends_with("PASSWORD"),
        }
    }
    /// A value rendered from `template` is secret when the template uses a
    /// secret credential (`{PASSWORD}`, a URL that embeds it).
    pub fn template_is_secret(&self, template: &str) -> bool {
        crate::template::variables(template)
            .iter()
            .any(|v| self.is_secret_credential(v))
    }
    /// Names of template variables an attachment can use.
    fn attachment_vars(&self) -> Vec<String> {
        let mut vars = vec!["HOST".to_string(), "PORT".to_string(), "READONLY".into()];
        vars.extend(self.ports.iter().skip(1).map(|p| port_var(&p.name)));
        vars.extend(self.credentials.keys().cloned());
        vars
    }
}

/// `management` → `MANAGEMENT_PORT`.
pub fn port_var(port_name: &str) -> String {
    format!("{}_PORT", port_name.to_ascii_uppercase())
}

#[derive(Debug, Clone)]
pub struct Catalog {
    types: BTreeMap<String, (AddonType, PathBuf)>,
}

impl Catalog {
    /// The shipped catalog, with `user_dir` (if any) on top.
    pub fn load(user_dir: Option<&Path>) -> Result<Catalog> {
        Catalog::load_layers(&[user_dir])
    }

    /// The shipped catalog with each folder on top of the one before (the
    /// user's addons folder, then a project's own `addons/`).
    pub fn load_layers(folders: &[Option<&Path>]) -> Result<Catalog> {
        let mut types = BTreeMap::new();
        for dir in EMBEDDED.dirs() {
            let Some(file) = dir.get_file(dir.path().join("addon.yml")) else {
                continue;
            };
            let text = file.contents_utf8().unwrap_or_default();
            let path = PathBuf::from("<builtin>/addons").join(file.path());
            let t = parse_addon(&path, text)?;
            types.insert(t.name.clone(), (t, path));
        }
        for user_dir in folders.iter().flatten().filter(|d| d.is_dir()) {
            let mut entries: Vec<_> = std::fs::read_dir(user_dir)
                .map_err(|e| crate::error::io_error(user_dir, "read", e))?
                .filter_map(|e| e.ok())
                .map(|e| e.path().join("addon.yml"))
                .filter(|p| p.is_file())
                .collect();
            entries.sort();
            for path in entries {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| crate::error::io_error(&path, "read", e))?;
                let t = parse_addon(&path, &text)?;
                check_user_type(&t, &path, &types)?;
                let t = with_script(t, &path)?;
                types.insert(t.name.clone(), (t, path));
            }
        }
        if let Some(cycle) = crate::contract::deps::find_cycle(types.values().map(|(t, _)| t)) {
            return Err(
                UserError::new(format!("addon types depend on each other: {cycle}"))
                    .hint("remove one of these from the other's `depends:` in its addon.yml"),
            );
        }
        Ok(Catalog { types })
    }

    pub fn get(&self, name: &str) -> Option<&AddonType> {
        self.types.get(name).map(|(t, _)| t).or_else(|| {
            self.types
                .values()
                .map(|(t, _)| t)
                .find(|t| t.aliases.iter().any(|a| a == name))
        })
    }

    pub fn source_of(&self, name: &str) -> Option<&Path> {
        self.types.get(name).map(|(_, p)| p.as_path())
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.types.keys().map(String::as_str)
    }

    pub fn types(&self) -> impl Iterator<Item = &AddonType> {
        self.types.values().map(|(t, _)| t)
    }

    /// The type or an error listing every known type.
    pub fn require(&self, name: &str) -> Result<&AddonType> {
        self.get(name).ok_or_else(|| {
            UserError::new(format!("unknown addon type \"{name}\""))
                .hint(format!("known types: {}", choices(self.names())))
        })
    }

    /// Category → default env prefix (databases → DATABASE).
    pub fn default_prefix(category: &str) -> String {
        match category {
            "databases" => "DATABASE".into(),
            "caches" => "CACHE".into(),
            "queues" => "QUEUE".into(),
            "search" => "SEARCH".into(),
            "proxy" | "proxies" => "PROXY".into(),
            "storage" => "STORAGE".into(),
            other => {
                let upper = other.to_ascii_uppercase().replace('-', "_");
                upper.strip_suffix('S').map(str::to_string).unwrap_or(upper)
            }
        }
    }
}

/// A type with `contract:` gets its folder's `addon.sh`, which must be
/// there and executable; one without `contract:` may not have one.
pub fn with_script(mut t: AddonType, addon_yml: &Path) -> Result<AddonType> {
    use crate::contract::script::SCRIPT;
    use std::os::unix::fs::PermissionsExt;
    let dir = addon_yml.parent().unwrap_or(Path::new("."));
    let script = dir.join(SCRIPT);
    match (&t.contract, std::fs::metadata(&script)) {
        (None, Ok(_)) => Err(UserError::new(format!(
            "type {}: {} is there but addon.yml has no `contract:`",
            t.name,
            script.display()
        ))
        .hint("add `contract: {kind: container}` (or `kind: system`) to its addon.yml")),
        (None, Err(_)) => Ok(t),
        (Some(_), Err(_)) => Err(UserError::new(format!(
            "type {}, function metadata: {} is missing",
            t.name,
            script.display()
        ))
        .hint("write the contract's functions in addon.sh beside addon.yml (see README.md)")),
        (Some(_), Ok(m)) if m.permissions().mode() & 0o111 == 0 => Err(UserError::new(format!(
            "type {}, function metadata: {} is not executable",
            t.name,
            script.display()
        ))
        .hint(format!("chmod +x {}", script.display()))),
        (Some(_), Ok(_)) => {
            t.script_dir = Some(dir.to_path_buf());
            Ok(t)
        }
    }
}

/// A user folder's type: named as its folder, and replacing a built-in
/// one only when it says `overrides: true`.
pub fn check_user_type(
    t: &AddonType,
    path: &Path,
    types: &BTreeMap<String, (AddonType, PathBuf)>,
) -> Result<()> {
    let folder = path
        .parent()
        .and_then(|d| d.file_name())
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    if t.name != folder {
        return Err(UserError::new(format!(
            "{}: type name \"{}\" differs from its folder \"{folder}\"",
            path.display(),
            t.name
        ))
        .hint(format!(
            "rename the folder to {} or set `name: {folder}`",
            t.name
        )));
    }
    if let Some((_, builtin)) = types.get(&t.name)
        && builtin.starts_with("<builtin>")
        && !t.overrides
    {
        return Err(UserError::new(format!(
            "{}: type {} shadows the built-in {}",
            path.display(),
            t.name,
            t.name
        ))
        .hint(
            "add `overrides: true` to replace the built-in type, or rename the folder and `name:`",
        ));
    }
    Ok(())
}

pub fn parse_addon(path: &Path, text: &str) -> Result<AddonType> {
    let t: AddonType = crate::config::parse_yaml(path, text)?;
    let err = |msg: String, hint: String| {
        Err(UserError::new(format!("{}: {msg}", path.display())).hint(hint))
    };
    if !crate::config::is_dns_label(&t.name) {
        return err(
            format!("addon type name \"{}\" is not a DNS label", t.name),
            "use lowercase letters, digits and '-'".into(),
        );
    }
    if !t.plans.contains_key(&t.default_plan) {
        return err(
            format!("default_plan \"{}\" is not a plan", t.default_plan),
            format!("plans: {}", choices(t.plans.keys())),
        );
    }
    if t.is_system() {
        // What only a container means: refused rather than ignored.
        let container_fields = [
            ("image", !t.image.is_empty()),
            ("ports", !t.ports.is_empty()),
            ("command", !t.command.is_empty()),
            ("healthcheck", t.healthcheck.is_some()),
            ("volumes", !t.volumes.is_empty()),
            ("container_env", !t.container_env.is_empty()),
            ("env", !t.env.is_empty()),
            ("readonly", t.readonly.is_some()),
            ("provision", !t.provision.is_empty()),
            ("backup", t.backup.is_some()),
            ("rotate", t.rotate.is_some()),
            ("connect", t.connect.is_some()),
            ("doctor", t.doctor.is_some()),
        ];
        if let Some((field, _)) = container_fields.iter().find(|(_, set)| *set) {
            return err(
                format!(
                    "type {} is `kind: system` (no container) but sets `{field}:`",
                    t.name
                ),
                format!(
                    "remove `{field}:`, or make it `contract: {{kind: container}}` with an image"
                ),
            );
        }
    } else {
        if t.image.is_empty() {
            return err(
                format!("type {} has no `image:`", t.name),
                "add `image: \"name:{version}\"`, or `contract: {kind: system}` for a type that runs on the VM itself".into(),
            );
        }
        if t.ports.is_empty() {
            return err("a type needs at least one port".into(), "add ports:".into());
        }
        for (plan_name, plan) in &t.plans {
            for (field, value) in [
                ("memory", &plan.memory),
                ("cpu", &plan.cpu),
                ("disk", &plan.disk),
            ] {
                if value.is_empty() {
                    return err(
                        format!("plan {plan_name} has no `{field}:`"),
                        "a container type's plans set memory, cpu and disk (e.g. memory: 256M, cpu: \"0.25\", disk: 1G)".into(),
                    );
                }
            }
        }
    }
    for (plan_name, plan) in &t.plans {
        for opt in plan.options.keys() {
            if !t.options.contains_key(opt) {
                return err(
                    format!("plan {plan_name} sets unknown option \"{opt}\""),
                    format!("options: {}", choices(t.options.keys())),
                );
            }
        }
    }
    let mut known = t.attachment_vars();
    known.push("PREFIX".into());
    for spec in &t.env {
        for var in template::variables(&spec.value) {
            if !known.contains(&var) {
                return err(
                    format!("env {} uses unknown variable {{{var}}}", spec.name),
                    format!("variables: {}", choices(&known)),
                );
            }
        }
    }
    if let Some(ro) = &t.readonly {
        for (from, to) in &ro.credentials {
            if !t.credentials.contains_key(from) || !t.credentials.contains_key(to) {
                return err(
                    format!("readonly maps {from} → {to}, but both must be credentials"),
                    format!("credentials: {}", choices(t.credentials.keys())),
                );
            }
        }
    }
    if let Err(msg) = check_shell_file_env(&t) {
        return err(msg, "see the catalog's shell_file_env in README.md".into());
    }
    if let Some(b) = &t.backup
        && let Err(msg) = b.check(&t.name)
    {
        return err(msg, "see the catalog's backup: fields in README.md".into());
    }
    if let Some(d) = &t.doctor
        && let Err(msg) = d.check(
            &t.name,
            &t.env.iter().map(|e| e.name.clone()).collect::<Vec<_>>(),
        )
    {
        return err(msg, "see the catalog's doctor: fields in README.md".into());
    }
    Ok(t)
}

/// The script of a `sh -c SCRIPT …` command, as an index into it.
pub fn shell_script_index(command: &[String]) -> Option<usize> {
    let shell = command.first()?;
    (matches!(shell.as_str(), "sh" | "/bin/sh" | "bash" | "/bin/bash")
        && command.get(1).is_some_and(|c| c == "-c")
        && command.len() > 2)
        .then_some(2)
}

/// `shell_file_env` is read by a shell: the command must be one, and the
/// health check too when it has one; each name a `container_env` without a
/// `_FILE` form.
fn check_shell_file_env(t: &AddonType) -> std::result::Result<(), String> {
    for name in &t.shell_file_env {
        if !t.container_env.contains_key(name) {
            return Err(format!(
                "shell_file_env names {name}, which is not in container_env ({})",
                choices(t.container_env.keys())
            ));
        }
        if t.file_env.contains(name) {
            return Err(format!(
                "{name} is in both file_env and shell_file_env; the image reads {name}_FILE itself"
            ));
        }
    }
    if t.shell_file_env.is_empty() {
        return Ok(());
    }
    if shell_script_index(&t.command).is_none() {
        return Err(format!(
            "shell_file_env needs a shell command ([\"sh\", \"-c\", SCRIPT, …]) to read {} from its file; the command is {:?}",
            t.shell_file_env.join(", "),
            t.command
        ));
    }
    if let Some(h) = &t.healthcheck
        && h.test.first().map(String::as_str) != Some("CMD-SHELL")
    {
        return Err(format!(
            "shell_file_env needs a CMD-SHELL health check to read {} from its file",
            t.shell_file_env.join(", ")
        ));
    }
    Ok(())
}

/// For errors that point into an addon.yml.
pub fn spot(path: &Path, text: &str, line: u64, col: u64) -> SourceSpot {
    SourceSpot::new(path, Some(text), line, col)
}
