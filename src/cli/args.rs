//! The command line: every command, flag and argument, with its help line.

use super::*;

#[derive(Parser, Debug)]
#[command(
    name = "sdtui",
    version,
    about = "Heroku-style addons on your own machines"
)]
pub struct Cli {
    /// Projects root (default: $SDTUI_ROOT, else the platform data dir).
    #[arg(long, global = true, env = "SDTUI_ROOT")]
    pub(super) root: Option<PathBuf>,
    /// Project to work on (default: the only one).
    #[arg(short, long, global = true)]
    pub(super) project: Option<String>,
    /// Work on one of the project's environments (`dev`, `staging` ...):
    /// its own instances, credentials and backups.
    #[arg(short = 'e', long = "env", global = true, value_name = "ENV")]
    pub(super) environment: Option<String>,
    /// Extra addon types: a folder of <type>/addon.yml (default: the
    /// platform config dir's addons/).
    #[arg(long, global = true, env = "SDTUI_ADDONS")]
    pub(super) addons_dir: Option<PathBuf>,
    /// Trust a VM's SSH host key the first time it is seen (it is then
    /// written to known_hosts); a changed key is always refused.
    #[arg(long, global = true)]
    pub(super) accept_new_host: bool,
    /// VMs worked on at once by up, down and status (default 16).
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub(super) parallel: Option<u16>,
    #[command(subcommand)]
    pub(super) command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub(super) enum Command {
    /// Create a project with a `local` VM and a commented config.yml; with
    /// --environments, a postgres and environments that start as they are.
    Init {
        /// The project's name: its folder under the projects root.
        name: String,
        /// Environments to create, separated by commas (e.g. dev,staging):
        /// each with its variables file, a migration and a placeholder app.
        #[arg(long, value_name = "ENV,...")]
        environments: Option<String>,
        #[command(flatten)]
        apply: ApplyFlags,
    },
    /// List addon types and their plans (`catalog validate DIR` checks a
    /// type folder).
    Catalog {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        cmd: Option<CatalogCmd>,
    },
    /// List the projects under the root.
    Projects {
        /// Print JSON instead of a list.
        #[arg(long)]
        json: bool,
    },
    /// Addon instances: list, info, add, remove, upgrade, attach, detach.
    #[command(subcommand)]
    Addons(AddonsCmd),
    /// An app's environment (secrets masked unless --reveal).
    Config {
        /// The app's name, as under `apps:` in config.yml.
        app: String,
        /// Show secret values instead of masking them.
        #[arg(long)]
        reveal: bool,
        /// Print JSON instead of KEY=value lines.
        #[arg(long)]
        json: bool,
    },
    /// Regenerate secrets, env files and compose files from config.yml.
    Sync {
        #[command(flatten)]
        apply: ApplyFlags,
    },
    /// Convert a legacy single-instance project (backs up the old files).
    Migrate {
        #[command(flatten)]
        apply: ApplyFlags,
    },
    #[command(flatten)]
    Deploy(super::deploy::DeployCmd),
    /// Environments (dev, staging, production ...): list, status, start, stop, config.
    #[command(subcommand)]
    Env(super::env::EnvCmd),
    /// Databases: shell, backups proven by restore drills, restore.
    #[command(subcommand)]
    Db(super::db::DbCmd),
    /// Postgres followers: follow, unfollow, lag.
    #[command(subcommand)]
    Pg(super::pg::PgCmd),
    /// Open the addon's client (psql, redis-cli ...) on this machine through
    /// a forward to its private address; `--port N` keeps the forward open.
    Connect(super::connect::ConnectArgs),
    /// The project (or, with --env, an environment) as files for another
    /// engine: `--format kubernetes` writes manifests for `kubectl apply -k`.
    Export {
        /// kubernetes: a StatefulSet and Service per addon, a Deployment per
        /// app, a kustomization.yaml.
        #[arg(long, value_enum)]
        format: ExportTarget,
        /// Folder to write into (default: PROJECT-kubernetes in the current folder).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Also write the Secret objects (credentials in the clear, 0600) and
        /// list them in the kustomization.
        #[arg(long)]
        include_secrets: bool,
    },
    /// Prove every attachment from inside its app: connect, authenticate, and a readonly one refuses a write.
    Doctor(super::doctor::DoctorArgs),
    /// Follow every VM's containers and run config.yml's `watch.alert`
    /// command when an addon or app turns unhealthy, degraded or stopped,
    /// and when it recovers; `--print-systemd-unit` to keep it running.
    Watch(super::watch::WatchArgs),
    /// The audit trail of applied operations.
    History {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Only the last N entries.
        #[arg(long)]
        last: Option<usize>,
    },
}

#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub(super) enum ExportTarget {
    Kubernetes,
}

#[derive(Args, Debug, Clone)]
pub(super) struct ApplyFlags {
    /// Show the plan as a diff and change nothing.
    #[arg(long)]
    pub(super) dry_run: bool,
    /// Show secrets in the diff.
    #[arg(long)]
    pub(super) reveal: bool,
    /// Print only the summary, not the diff.
    #[arg(long, short)]
    pub(super) quiet: bool,
}

#[derive(Subcommand, Debug)]
pub(super) enum CatalogCmd {
    /// Check a type folder before use: addon.yml, and its addon.sh's
    /// metadata and validate answers against the contract.
    Validate {
        /// The type's folder (holding addon.yml and addon.sh).
        dir: std::path::PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub(super) enum AddonsCmd {
    /// Addon instances with type, version, plan, VM, port and attached apps.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One instance: connection details (masked) and attachments.
    Info {
        /// The instance: category.name, e.g. databases.primary.
        addon: String,
        /// Show secret values instead of masking them.
        #[arg(long)]
        reveal: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Add an instance: `addons add postgres analytics --plan large`, or
    /// `addons add postgres --name analytics --plan large`.
    Add {
        /// Addon type: postgres, redis, rabbitmq ... (see `sdtui catalog`).
        #[arg(value_name = "TYPE")]
        type_name: String,
        /// Instance name, e.g. primary or analytics (or give it with --name).
        #[arg(value_name = "NAME", conflicts_with = "name_flag")]
        name: Option<String>,
        /// Instance name, e.g. primary or analytics (the same as NAME).
        #[arg(long = "name", short = 'n', value_name = "NAME")]
        name_flag: Option<String>,
        /// Category to file it under (default: the type's, e.g. databases).
        #[arg(long)]
        category: Option<String>,
        /// Resource plan: small, standard, large, xlarge (default: the type's).
        #[arg(long)]
        plan: Option<String>,
        /// Image version (default: the type's; see `sdtui catalog`).
        #[arg(long)]
        version: Option<String>,
        /// VM to run it on (needed when the project has several).
        #[arg(long)]
        vm: Option<String>,
        /// KEY=VALUE, repeatable.
        #[arg(long = "option", value_name = "KEY=VALUE")]
        options: Vec<String>,
        /// Also add an instance of each type it depends on that the
        /// project lacks (same VM, same name), in the same plan.
        #[arg(long)]
        with_deps: bool,
        #[command(flatten)]
        apply: ApplyFlags,
    },
    /// Remove an instance (refused while attached).
    Remove {
        /// The instance: category.name, e.g. databases.analytics.
        addon: String,
        /// Also stop its container and delete its volumes (its data) on
        /// the VM; needs --confirm with the instance name typed back.
        #[arg(long)]
        purge: bool,
        /// The instance name again, for --purge.
        #[arg(long, value_name = "ADDON")]
        confirm: Option<String>,
        #[command(flatten)]
        apply: ApplyFlags,
    },
    /// Change an instance's plan and/or version.
    Upgrade {
        /// The instance: category.name, e.g. databases.primary.
        addon: String,
        /// The new resource plan: small, standard, large, xlarge.
        #[arg(long)]
        plan: Option<String>,
        /// The new image version.
        #[arg(long)]
        version: Option<String>,
        #[command(flatten)]
        apply: ApplyFlags,
    },
    /// Rename an instance, keeping its data (the same volume), its
    /// credentials and port, and every attachment's prefix.
    Rename {
        /// The instance now: category.name, e.g. databases.analytics.
        old: String,
        /// Its new name: `reports`, or category.name to move it to another
        /// category too.
        new: String,
        #[command(flatten)]
        apply: ApplyFlags,
    },
    /// Attach an instance to an app.
    Attach {
        /// The instance: category.name, e.g. databases.primary.
        addon: String,
        /// The app to give the variables to.
        #[arg(long)]
        app: String,
        /// Env prefix (default from the category: DATABASE, CACHE, QUEUE ...).
        #[arg(long = "as")]
        prefix: Option<String>,
        /// readwrite or readonly.
        #[arg(long, default_value = "readwrite")]
        access: String,
        #[command(flatten)]
        apply: ApplyFlags,
    },
    /// Detach an instance from an app.
    Detach {
        /// The instance: category.name, e.g. databases.primary.
        addon: String,
        /// The app to take the variables from.
        #[arg(long)]
        app: String,
        /// Which attachment, when the app has the instance under several prefixes.
        #[arg(long = "as")]
        prefix: Option<String>,
        #[command(flatten)]
        apply: ApplyFlags,
    },
    /// An instance's credentials, secrets masked; `rotate` changes a password.
    Credentials(super::credentials::CredentialsArgs),
    /// Every attachment: app, addon, prefix, access.
    Attachments {
        /// Only this app's attachments.
        #[arg(long)]
        app: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}
