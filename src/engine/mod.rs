//! The engine: every operation, from the CLI or the console, computes a
//! [`Plan`] here, shows it, and applies it atomically with an audit entry.

pub mod apply;
pub mod audit;
pub mod backup_service;
pub mod compose_yaml;
mod edits;
pub mod generate;
pub mod init;
pub mod migrate;
pub mod plan;
pub mod ports;
mod project;
mod rename;
pub mod secrets;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::catalog::Catalog;
use crate::config::{self, Access, Config, edit};
use crate::error::{Result, UserError, choices, io_error};
use generate::{FileKind, GenFile, Generated};
use plan::{FileChange, Plan};
pub use project::{EnvScope, Project};
use secrets::Secrets;

pub const CONFIG_FILE: &str = "config.yml";
pub const SECRETS_FILE: &str = "secrets.yml";
pub const STATE_DIR: &str = ".sdtui";

/// The projects root and the catalog every project uses.
pub struct Workspace {
    pub root: PathBuf,
    pub catalog: Catalog,
    /// Only for golden tests and benchmarks: a seeded generator instead of
    /// the OS-seeded CSPRNG. Never set from the CLI or the environment.
    pub test_seed: Option<u64>,
    /// Trust a VM's SSH host key on first sight (`--accept-new-host`); a
    /// changed key is refused regardless.
    pub accept_new_host: bool,
    /// VMs worked on at once by up, down and status (`--parallel`).
    pub parallel: usize,
}

/// VMs worked on at once unless `--parallel` says otherwise: enough to hide
/// SSH and health-check waits, few enough not to swamp this machine.
pub const DEFAULT_PARALLEL: usize = 16;

/// A mutating operation. Its `describe()` goes into the audit trail, so no
/// variant carries a secret.
#[derive(Debug, Clone)]
pub enum Operation {
    /// A new project; with environments, their files too (`init --environments`).
    Init {
        environments: Vec<String>,
    },
    Sync,
    Add {
        type_name: String,
        name: String,
        category: Option<String>,
        plan: Option<String>,
        version: Option<String>,
        vm: Option<String>,
        options: Vec<(String, String)>,
        /// Also add, in the same plan, an instance of each dependency the
        /// project lacks.
        with_deps: bool,
    },
    Remove {
        id: String,
    },
    Upgrade {
        id: String,
        plan: Option<String>,
        version: Option<String>,
    },
    /// `new` is a name (same category) or `category.name`.
    Rename {
        id: String,
        new: String,
    },
    Attach {
        id: String,
        app: String,
        prefix: Option<String>,
        access: Access,
    },
    Detach {
        id: String,
        app: String,
        prefix: Option<String>,
    },
    Migrate,
    /// An app release: its image tag.
    SetTag {
        app: String,
        tag: String,
    },
    /// `pg follow LEADER --name NAME`: a new postgres instance streaming
    /// from LEADER (`follows:`).
    Follow {
        leader: String,
        name: String,
        plan: Option<String>,
        vm: Option<String>,
    },
    /// `pg unfollow ID`: `follows:` removed (the promotion is `pg::ops`).
    Unfollow {
        id: String,
    },
    /// `pg promote ID`: `follows:` removed, every attachment of its leader
    /// moved to it, the leader `state: read_only`.
    Promote {
        id: String,
    },
    /// `pg upgrade SOURCE --version V`, its first step: a new instance
    /// NAME of that version beside SOURCE (same category, plan, options, VM).
    UpgradeTarget {
        source: String,
        name: String,
        version: String,
    },
    /// `pg upgrade`'s cut-over opens (`stopped`: SOURCE `state:
    /// read_only`, so any `up` meanwhile keeps it read-only) or an abort
    /// closes it (the field removed: running, writable).
    UpgradeWrites {
        source: String,
        stopped: bool,
    },
    /// `pg upgrade`'s switch: every attachment of `from` moved to `to`,
    /// `from` `state: stopped` (its volume kept until `--purge`).
    Changeover {
        from: String,
        to: String,
    },
    /// A rotated credential's new value (kept out of `describe()` and Debug).
    SetCredential {
        id: String,
        key: String,
        value: crate::credentials::SecretValue,
    },
}

impl Operation {
    pub fn describe(&self) -> String {
        match self {
            Operation::Init { environments } if environments.is_empty() => "init".into(),
            Operation::Init { environments } => {
                format!("init --environments {}", environments.join(","))
            }
            Operation::Sync => "sync".into(),
            Operation::Add {
                type_name,
                name,
                category,
                plan,
                version,
                vm,
                options,
                with_deps,
            } => {
                let mut s = format!("addons add {type_name} {name}");
                if *with_deps {
                    s.push_str(" --with-deps");
                }
                for (flag, v) in [
                    ("--category", category),
                    ("--plan", plan),
                    ("--version", version),
                    ("--vm", vm),
                ] {
                    if let Some(v) = v {
                        s.push_str(&format!(" {flag} {v}"));
                    }
                }
                for (k, v) in options {
                    s.push_str(&format!(" --option {k}={v}"));
                }
                s
            }
            Operation::Remove { id } => format!("addons remove {id}"),
            Operation::Upgrade { id, plan, version } => {
                let mut s = format!("addons upgrade {id}");
                if let Some(p) = plan {
                    s.push_str(&format!(" --plan {p}"));
                }
                if let Some(v) = version {
                    s.push_str(&format!(" --version {v}"));
                }
                s
            }
            Operation::Rename { id, new } => format!("addons rename {id} {new}"),
            Operation::Attach {
                id,
                app,
                prefix,
                access,
            } => {
                let mut s = format!("addons attach {id} --app {app}");
                if let Some(p) = prefix {
                    s.push_str(&format!(" --as {p}"));
                }
                s.push_str(&format!(" --access {}", access.as_str()));
                s
            }
            Operation::Detach { id, app, prefix } => {
                let mut s = format!("addons detach {id} --app {app}");
                if let Some(p) = prefix {
                    s.push_str(&format!(" --as {p}"));
                }
                s
            }
            Operation::Migrate => "migrate".into(),
            Operation::SetTag { app, tag } => format!("deploy {app} --tag {tag}"),
            Operation::SetCredential { id, key, .. } => {
                format!("addons credentials rotate {id} ({key})")
            }
            Operation::Follow {
                leader,
                name,
                plan,
                vm,
            } => {
                let mut s = format!("pg follow {leader} --name {name}");
                if let Some(p) = plan {
                    s.push_str(&format!(" --plan {p}"));
                }
                if let Some(v) = vm {
                    s.push_str(&format!(" --vm {v}"));
                }
                s
            }
            Operation::Unfollow { id } => format!("pg unfollow {id}"),
            Operation::Promote { id } => format!("pg promote {id}"),
            Operation::UpgradeTarget {
                source,
                name,
                version,
            } => format!("pg upgrade {source} --version {version} (new instance {name})"),
            Operation::UpgradeWrites {
                source,
                stopped: true,
            } => format!("pg upgrade {source}: writes stopped (read-only)"),
            Operation::UpgradeWrites {
                source,
                stopped: false,
            } => format!("pg upgrade {source} --abort: writable again"),
            Operation::Changeover { from, to } => {
                format!("pg upgrade {from}: attachments moved to {to}, {from} stopped")
            }
        }
    }
}

/// A project's current state, read but not changed.
pub struct Loaded {
    pub config: Config,
    pub secrets: Secrets,
    pub generated: Generated,
    /// secrets.yml lacks credentials that a sync would create.
    pub out_of_sync: bool,
}

/// One addon instance as `addons list` and the console's Addons pane show
/// it: one reading of config.yml and secrets.yml for both faces.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AddonSummary {
    pub id: String,
    pub category: String,
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub version: String,
    pub plan: String,
    pub vm: String,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub service: String,
    /// `app::PREFIX` of every attachment.
    pub attached: Vec<String>,
    /// The leader it streams from, for a follower.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follows: Option<String>,
    /// `read_only` or `stopped` when not the default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

impl Loaded {
    pub fn addon_summaries(&self) -> Vec<AddonSummary> {
        self.config
            .addons
            .iter()
            .map(|a| {
                let creds = self
                    .generated
                    .secrets
                    .get(&a.type_name)
                    .and_then(|t| t.get(&a.name));
                let cred = |k: &str| creds.and_then(|c| c.get(k)).cloned();
                AddonSummary {
                    id: a.id(),
                    category: a.category.clone(),
                    name: a.name.clone(),
                    type_name: a.type_name.clone(),
                    version: a.version.clone(),
                    plan: a.plan.clone(),
                    vm: a.vm.clone(),
                    host: cred("HOST"),
                    port: cred("PORT").and_then(|p| p.parse().ok()),
                    service: a.service(),
                    attached: self
                        .config
                        .attachments_of(&a.id())
                        .map(|(app, att)| format!("{}::{}", app.name, att.prefix))
                        .collect(),
                    follows: a.follows.clone(),
                    state: (!a.state.is_running()).then(|| a.state.as_str().to_string()),
                }
            })
            .collect()
    }
}

/// A project's own addon types: `<project>/addons/<type>/addon.yml`.
pub const PROJECT_ADDONS: &str = "addons";

pub const INIT_TEMPLATE: &str = include_str!("init_template.yml");

impl Workspace {
    pub fn open(root: PathBuf, user_addons: Option<&Path>) -> Result<Workspace> {
        Ok(Workspace {
            catalog: Catalog::load(user_addons)?,
            root,
            test_seed: None,
            accept_new_host: false,
            parallel: DEFAULT_PARALLEL,
        })
    }

    /// Puts `project`'s own `addons/` folder (types only it uses) on top of
    /// the catalog, when it has one.
    pub fn with_project_addons(
        &mut self,
        project: &Project,
        user_addons: Option<&Path>,
    ) -> Result<()> {
        let own = project.dir.join(PROJECT_ADDONS);
        if own.is_dir() {
            self.catalog = Catalog::load_layers(&[user_addons, Some(&own)])?;
        }
        Ok(())
    }

    fn rng(&self) -> Box<dyn rand::Rng> {
        use rand::SeedableRng;
        match self.test_seed {
            Some(seed) => Box::new(rand::rngs::StdRng::seed_from_u64(seed)),
            None => Box::new(rand::rng()),
        }
    }

    pub fn projects(&self) -> Vec<String> {
        let mut out: Vec<String> = std::fs::read_dir(&self.root)
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.path().join(CONFIG_FILE).is_file())
                    .map(|e| e.file_name().to_string_lossy().to_string())
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }

    /// The named project, or the only one when no name is given.
    pub fn project(&self, name: Option<&str>) -> Result<Project> {
        let projects = self.projects();
        let name = match name {
            Some(n) => n.to_string(),
            None if projects.len() == 1 => projects[0].clone(),
            None => {
                return Err(UserError::new(format!(
                    "which project? {} has {}",
                    self.root.display(),
                    if projects.is_empty() {
                        "none".to_string()
                    } else {
                        projects.len().to_string()
                    }
                ))
                .hint(if projects.is_empty() {
                    "create one with `sdtui init NAME`".to_string()
                } else {
                    format!("pick one with -p: {}", choices(&projects))
                }));
            }
        };
        let dir = self.root.join(&name);
        if !dir.join(CONFIG_FILE).is_file() {
            return Err(UserError::new(format!(
                "no project \"{name}\" in {}",
                self.root.display()
            ))
            .hint(if projects.is_empty() {
                "create it with `sdtui init NAME`".to_string()
            } else {
                format!("projects: {}", choices(&projects))
            }));
        }
        Ok(Project::plain(name, dir))
    }

    pub fn new_project(&self, name: &str) -> Result<Project> {
        if !config::is_dns_label(name) {
            return Err(
                UserError::new(format!("project name \"{name}\" is not a DNS label"))
                    .hint(config::DNS_LABEL_HINT),
            );
        }
        let dir = self.root.join(name);
        if dir.join(CONFIG_FILE).exists() {
            return Err(UserError::new(format!(
                "project {name} already exists in {}",
                self.root.display()
            ))
            .hint("pick another name"));
        }
        Ok(Project::plain(name, dir))
    }

    /// What every other project under the root publishes, for port
    /// allocation on machines they share with `project`. A project that
    /// cannot be read is left out with a note, never blocking this one.
    pub fn neighbours(&self, project: &Project) -> ports::Neighbours {
        let mut out = ports::Neighbours::default();
        for name in self.projects() {
            let dir = self.root.join(&name);
            let config = match config::load(&dir.join(CONFIG_FILE), &self.catalog) {
                Ok(c) => c,
                Err(e) => {
                    // Our own project's config.yml is read (and its error
                    // reported) by the caller.
                    if project.config_path() != dir.join(CONFIG_FILE) {
                        out.skipped.push(unreadable(&name, &e));
                    }
                    continue;
                }
            };
            // The project itself and each of its environments: each holds
            // ports of its own on the machines it shares with the others.
            let base = Project::plain(name.clone(), dir);
            let mut scopes = vec![(base.clone(), config.clone())];
            for env in config.environments.keys() {
                if let Ok(scoped) = base.environment(env).scoped(config.clone()) {
                    scopes.push((base.environment(env), scoped));
                }
            }
            for (scope, scoped) in scopes {
                if scope.dir == project.dir {
                    continue;
                }
                match Secrets::load(&scope.secrets_path()) {
                    Ok(secrets) => {
                        out.held
                            .extend(ports::published(&scoped, &self.catalog, &secrets))
                    }
                    Err(e) => out.skipped.push(unreadable(&name, &e)),
                }
            }
        }
        out
    }

    pub fn load(&self, project: &Project) -> Result<Loaded> {
        // A transaction cut short by a crash: finish it before reading, so
        // readers never see half of it.
        if apply::pending(&project.state_dir()) {
            drop(apply::lock(&project.state_dir(), &project.name, "recover")?);
        }
        let config = project.scoped(config::load(&project.config_path(), &self.catalog)?)?;
        let secrets = Secrets::load(&project.secrets_path())?;
        let generated = generate::generate(
            &project.name,
            &config,
            &self.catalog,
            &secrets,
            &self.neighbours(project),
            &mut *self.rng(),
        )?;
        let out_of_sync = generated.secrets != secrets.addons;
        Ok(Loaded {
            config,
            secrets,
            generated,
            out_of_sync,
        })
    }

    /// Plans, prints nothing, applies unless `dry_run`; returns the plan.
    pub fn run(&self, project: &Project, op: &Operation, dry_run: bool) -> Result<Plan> {
        self.run_reviewed(project, op, dry_run, None)
    }

    /// [`Workspace::run`], applying only if the plan's masked diff is still
    /// `reviewed`: what the user approved is what gets written, even when
    /// someone changed the project in between.
    pub fn run_reviewed(
        &self,
        project: &Project,
        op: &Operation,
        dry_run: bool,
        reviewed: Option<&str>,
    ) -> Result<Plan> {
        let _lock = apply::lock(&project.state_dir(), &project.name, &op.describe())?;
        let plan = self.plan(project, op)?;
        if let Some(seen) = reviewed
            && plan.diff(false) != seen
        {
            return Err(UserError::new(format!(
                "{}: the project changed after the plan was shown; nothing was written",
                op.describe()
            ))
            .hint("look at the new plan and apply it again"));
        }
        if dry_run || plan.is_empty() {
            return Ok(plan);
        }
        let files: Vec<String> = plan
            .summary()
            .into_iter()
            .map(|c| format!("{} {}", c.action, c.path))
            .collect();
        let result = apply::apply(&project.dir, &project.state_dir(), &plan);
        let entry = audit::Entry::new(
            project.audit_label(&op.describe()),
            match &result {
                Ok(()) => "applied".into(),
                Err(e) => format!("failed: {}", e.message),
            },
            files,
        );
        audit::append(&project.audit_path(), &entry)?;
        result.map(|()| plan)
    }

    /// The plan for an operation: the new config.yml text, then everything
    /// generated from it.
    pub fn plan(&self, project: &Project, op: &Operation) -> Result<Plan> {
        let config_path = project.config_path();
        if project.env.is_some() && !matches!(op, Operation::Sync) {
            return Err(UserError::new(format!(
                "{} works on the project, not on one of its environments",
                op.describe()
            ))
            .hint("edit the environment under `environments:` in config.yml"));
        }
        match op {
            Operation::Migrate => return migrate::plan(self, project),
            Operation::Rename { id, new } => return self.plan_rename(project, id, new),
            _ => {}
        }
        let old_text = match op {
            Operation::Init { .. } => None,
            _ => Some(
                std::fs::read_to_string(&config_path)
                    .map_err(|e| io_error(&config_path, "read", e))?,
            ),
        };
        // The user's files `init --environments` writes with config.yml.
        let mut user_files = Vec::new();
        let new_text = match (op, &old_text) {
            (Operation::Init { environments }, _) if !environments.is_empty() => {
                let (text, files) = init::render(&self.catalog, &project.name, environments)?;
                for f in &files {
                    let path = project.dir.join(&f.rel);
                    if path.exists() {
                        return Err(UserError::new(format!(
                            "{} already exists; init would overwrite it",
                            path.display()
                        ))
                        .hint("move it away, or run `sdtui init NAME` without --environments"));
                    }
                }
                user_files = files;
                text
            }
            (Operation::Init { .. }, _) => INIT_TEMPLATE.replace("{project}", &project.name),
            (_, Some(text)) => self.edit(project, text, op)?,
            (_, None) => unreachable!("only init has no config"),
        };
        let planned: config::Planned = user_files
            .iter()
            .map(|f| (f.rel.clone(), f.content.clone()))
            .collect();
        let config = config::parse_planned(&config_path, &new_text, &self.catalog, &planned)
            .map_err(|e| match op {
                Operation::Sync | Operation::Init { .. } => e,
                // The edit is valid on its own; say what it ran into.
                _ => UserError::new(format!(
                    "{} would make config.yml invalid: {}",
                    op.describe(),
                    e.message
                ))
                .hint(e.hint.unwrap_or_default()),
            })?;
        let config = project.scoped(config)?;
        self.check_deps(project, &config, op)?;
        let mut secrets = Secrets::load(&project.secrets_path())?;
        if let Operation::SetCredential { id, key, value } = op {
            crate::credentials::set_in(&mut secrets, &config, id, key, value)?;
        }
        let mut plan = self.plan_generated(project, &config, &secrets, None)?;
        if let Operation::Follow { leader, name, .. } = op
            && let Some(f) = config
                .addons
                .iter()
                .find(|a| a.follows.as_deref() == Some(leader.as_str()) && &a.name == name)
        {
            plan.notes.push(format!(
                "{} streams from {leader} (replication role and slot {} made on {leader} by `sdtui up`); an attachment to {} is readonly whatever it asks",
                f.id(),
                crate::pg::slot_name(f),
                f.id()
            ));
            if let Some(l) = config.addon(leader)
                && l.vm != f.vm
                && config.vms[&l.vm].private_ip.starts_with("127.")
            {
                plan.notes.push(format!(
                    "{} reaches {leader} at VM {}'s private_ip {}, which a container cannot reach (loopback): give that VM an address containers can reach",
                    f.id(),
                    l.vm,
                    config.vms[&l.vm].private_ip
                ));
            }
        }
        // After config.yml, in the order init names them.
        for (i, f) in user_files.into_iter().enumerate() {
            plan.changes.insert(
                i,
                FileChange {
                    rel: f.rel,
                    old: None,
                    new: Some(f.content),
                    mode: f.mode,
                    kind: FileKind::Plain,
                },
            );
        }
        if old_text.as_deref() != Some(new_text.as_str()) {
            plan.changes.insert(
                0,
                FileChange {
                    rel: CONFIG_FILE.into(),
                    old: old_text,
                    new: Some(new_text),
                    mode: 0o644,
                    kind: FileKind::Plain,
                },
            );
        }
        Ok(plan)
    }

    /// The instance an add or attach touches must have its dependencies in
    /// the project and no conflict on its VM.
    fn check_deps(&self, project: &Project, config: &Config, op: &Operation) -> Result<()> {
        let id = match op {
            Operation::Add {
                type_name,
                name,
                category,
                ..
            } => {
                let t = self.catalog.require(type_name)?;
                format!("{}.{name}", category.as_deref().unwrap_or(&t.category))
            }
            Operation::Attach { id, .. } => id.clone(),
            _ => return Ok(()),
        };
        match config.addon(&id) {
            Some(a) => {
                crate::contract::deps::check_instance(config, &self.catalog, &project.name, a)
            }
            None => Ok(()),
        }
    }

    /// secrets.yml and every generated file, against what is on disk.
    /// `old_secrets_text` overrides what secrets.yml holds now (migration).
    pub fn plan_generated(
        &self,
        project: &Project,
        config: &Config,
        secrets: &Secrets,
        old_secrets_text: Option<String>,
    ) -> Result<Plan> {
        let neighbours = self.neighbours(project);
        let generated = generate::generate(
            &project.name,
            config,
            &self.catalog,
            secrets,
            &neighbours,
            &mut *self.rng(),
        )?;
        let mut plan = Plan {
            notes: neighbours.skipped,
            ..Plan::default()
        };
        let secrets_text = Secrets::render(&generated.secrets, &secrets.user_text);
        let mut desired = vec![GenFile {
            rel: SECRETS_FILE.into(),
            content: secrets_text,
            mode: 0o600,
            kind: FileKind::Secrets,
        }];
        desired.extend(generated.files);
        let mut wanted = BTreeSet::new();
        for f in desired {
            let path = project.dir.join(&f.rel);
            let old = match (&old_secrets_text, f.rel == Path::new(SECRETS_FILE)) {
                (Some(t), true) => Some(t.clone()),
                _ => std::fs::read_to_string(&path).ok(),
            };
            let mode_ok = mode_of(&path).is_none_or(|m| m == f.mode);
            wanted.insert(f.rel.clone());
            if old.as_deref() != Some(f.content.as_str()) || !mode_ok {
                plan.changes.push(FileChange {
                    rel: f.rel,
                    old,
                    new: Some(f.content),
                    mode: f.mode,
                    kind: f.kind,
                });
            }
        }
        // Generated files no longer wanted (a VM or app that went away).
        for rel in generated_files_on_disk(&project.dir) {
            if !wanted.contains(&rel) {
                let old = std::fs::read_to_string(project.dir.join(&rel)).ok();
                let kind = if rel.extension().is_some_and(|e| e == "env") {
                    FileKind::Env(all_keys(old.as_deref()))
                } else {
                    FileKind::Plain
                };
                plan.changes.push(FileChange {
                    rel,
                    old,
                    new: None,
                    mode: 0o600,
                    kind,
                });
            }
        }
        Ok(plan)
    }
}

/// Where, not what: a broken secrets.yml's message could quote a value.
fn unreadable(name: &str, e: &UserError) -> String {
    format!(
        "project {name} was left out of port allocation: {} cannot be read (`sdtui -p {name} sync` says why)",
        e.spot
            .as_ref()
            .map(|s| format!("{}:{}:{}", s.file.display(), s.line, s.column))
            .unwrap_or_else(|| format!("{name}/{CONFIG_FILE} or {SECRETS_FILE}"))
    )
}

pub fn require_addon<'a>(config: &'a Config, id: &str) -> Result<&'a config::Addon> {
    config.addon(id).ok_or_else(|| {
        let hint = if id.contains('.') {
            config::hint_choices("addons", config.addon_ids())
        } else {
            format!(
                "name addons as category.name; {}",
                config::hint_choices("addons", config.addon_ids())
            )
        };
        UserError::new(format!("no addon \"{id}\"")).hint(hint)
    })
}

/// The addon a command names, or, when it names none, the project's (or
/// environment's) only database — else its only addon. Anything else is
/// ambiguous and asks for a name (the seed's `db backup staging`).
pub fn addon_or_only_database<'a>(
    config: &'a Config,
    id: Option<&str>,
) -> Result<&'a config::Addon> {
    if let Some(id) = id {
        return require_addon(config, id);
    }
    let databases: Vec<&config::Addon> = config
        .addons
        .iter()
        .filter(|a| a.category == "databases")
        .collect();
    match (databases.as_slice(), config.addons.as_slice()) {
        ([only], _) => Ok(only),
        ([], [only]) => Ok(only),
        ([], []) => Err(UserError::new(format!("{} has no addon", scope_of(config)))
            .hint("add one: sdtui addons add postgres primary")),
        _ => {
            let choices: Vec<String> = if databases.is_empty() {
                config.addon_ids()
            } else {
                databases.iter().map(|a| a.id()).collect()
            };
            Err(UserError::new(format!(
                "{} has {} {}: name the one you mean",
                scope_of(config),
                choices.len(),
                if databases.is_empty() {
                    "addons"
                } else {
                    "databases"
                }
            ))
            .hint(config::hint_choices("addons", choices)))
        }
    }
}

/// "the project", or "environment dev".
fn scope_of(config: &Config) -> String {
    match &config.environment {
        Some(env) => format!("environment {env}"),
        None => "the project".into(),
    }
}

pub fn require_app<'a>(config: &'a Config, app: &str) -> Result<&'a config::App> {
    config.apps.get(app).ok_or_else(|| {
        UserError::new(format!("no app \"{app}\""))
            .hint(config::hint_choices("apps", config.apps.keys()))
    })
}

fn mode_of(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o777)
}

fn all_keys(text: Option<&str>) -> BTreeSet<String> {
    text.unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.to_string()))
        .collect()
}

/// Every file under `compose/`, which sdtui owns entirely.
fn generated_files_on_disk(project_dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![project_dir.join("compose")];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(p);
            } else if !e.file_name().to_string_lossy().ends_with(".sdtui-new")
                && let Ok(rel) = p.strip_prefix(project_dir)
            {
                out.push(rel.to_path_buf());
            }
        }
    }
    out.sort();
    out
}
