//! The headless face: `sdtui <command>`. Each command is one engine call;
//! listings take `--json`, mutating commands `--dry-run`.

mod logs;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use serde_json::json;

use crate::config::Access;
use crate::engine::plan::Plan;
use crate::engine::{Loaded, Operation, Project, Workspace, audit};
use crate::error::{Result, UserError};

#[derive(Parser, Debug)]
#[command(
    name = "sdtui",
    version,
    about = "Heroku-style addons on your own machines"
)]
pub struct Cli {
    /// Projects root (default: $SDTUI_ROOT, else the platform data dir).
    #[arg(long, global = true, env = "SDTUI_ROOT")]
    root: Option<PathBuf>,
    /// Project to work on (default: the only one).
    #[arg(short, long, global = true)]
    project: Option<String>,
    /// Extra addon types: a folder of <type>/addon.yml (default: the
    /// platform config dir's addons/).
    #[arg(long, global = true, env = "SDTUI_ADDONS")]
    addons_dir: Option<PathBuf>,
    /// Trust a VM's SSH host key the first time it is seen (it is then
    /// written to known_hosts); a changed key is always refused.
    #[arg(long, global = true)]
    accept_new_host: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a project with a `local` VM and a commented config.yml.
    Init {
        /// The project's name: its folder under the projects root.
        name: String,
        #[command(flatten)]
        apply: ApplyFlags,
    },
    /// List addon types and their plans.
    Catalog {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
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
    /// Deploy: sync, compose up per VM, wait for health, provision; a failed
    /// health check rolls back to the previous release.
    Up {
        /// Only this VM (default: every VM, in parallel).
        #[arg(long)]
        vm: Option<String>,
        /// Seconds to wait for health checks.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
        /// Print the per-service report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Stop and remove the containers; volumes (the data) stay.
    Down {
        /// Only this VM (default: every VM).
        #[arg(long)]
        vm: Option<String>,
    },
    /// Live state of every service: state, health, uptime, image, ports.
    Status {
        /// Only this VM (default: every VM).
        #[arg(long)]
        vm: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// A service's logs (`postgres-primary`, `api` ...); with no service,
    /// every service of the project (or of --vm), each line prefixed.
    Logs {
        /// Compose service name (`postgres-primary`, `api` ...); none:
        /// every service, each line prefixed.
        service: Option<String>,
        /// Keep printing new lines as they come.
        #[arg(short, long)]
        follow: bool,
        /// Lines to show first, per service.
        #[arg(long, default_value_t = 100)]
        tail: usize,
        /// Only the services on this VM (with no SERVICE).
        #[arg(long, conflicts_with = "service")]
        vm: Option<String>,
        /// No colours in the prefixes (they are off anyway when stdout is
        /// not a terminal).
        #[arg(long)]
        no_color: bool,
    },
    /// Release an app: set its image tag, recreate it alone, run its hooks.
    Deploy {
        /// The app's name, as under `apps:` in config.yml.
        app: String,
        /// Image tag to release (letters, digits, '.', '_', '-').
        #[arg(long)]
        tag: String,
        /// Seconds to wait for the app's health check.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// An app's releases.
    Releases {
        /// The app's name, as under `apps:` in config.yml.
        app: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Redeploy an app's previous release (or --to TAG).
    Rollback {
        /// The app's name, as under `apps:` in config.yml.
        app: String,
        /// The release's tag to go back to (default: the previous release).
        #[arg(long)]
        to: Option<String>,
        /// Seconds to wait for the app's health check.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// Backups proven by restore drills; restore.
    #[command(subcommand)]
    Db(crate::backup::cli::DbCmd),
    /// Open the addon's client (psql, redis-cli ...) on this machine through
    /// a forward to its private address; `--port N` keeps the forward open.
    Connect(crate::cli_connect::ConnectArgs),
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

#[derive(Args, Debug, Clone)]
struct ApplyFlags {
    /// Show the plan as a diff and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Show secrets in the diff.
    #[arg(long)]
    reveal: bool,
    /// Print only the summary, not the diff.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Subcommand, Debug)]
enum AddonsCmd {
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
    Credentials(crate::cli_credentials::CredentialsArgs),
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

pub fn main() -> i32 {
    crate::crash::install();
    let matches = <Cli as clap::CommandFactory>::command().get_matches();
    // The report names the subcommand only: argument values may be secrets.
    let mut face = String::from("sdtui");
    let mut sub = matches.subcommand();
    while let Some((name, m)) = sub {
        face.push(' ');
        face.push_str(name);
        sub = m.subcommand();
    }
    crate::crash::set_face(if face == "sdtui" {
        "console".to_string()
    } else {
        format!("command `{face}`")
    });
    let cli = match <Cli as clap::FromArgMatches>::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    match run(cli) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

fn default_root() -> PathBuf {
    directories::ProjectDirs::from("", "", "sdtui")
        .map(|d| d.data_dir().join("projects"))
        .unwrap_or_else(|| PathBuf::from(".sdtui-projects"))
}

fn default_addons_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "sdtui").map(|d| d.config_dir().join("addons"))
}

pub fn run(cli: Cli) -> Result<()> {
    let root = cli.root.clone().unwrap_or_else(default_root);
    let addons_dir = cli.addons_dir.clone().or_else(default_addons_dir);
    let mut ws = Workspace::open(root, addons_dir.as_deref())?;
    ws.accept_new_host = cli.accept_new_host;
    let project = || {
        let p = ws.project(cli.project.as_deref())?;
        crate::crash::set_project(&p);
        #[cfg(debug_assertions)]
        crate::crash::test_panic("cli");
        Ok::<_, UserError>(p)
    };
    let Some(command) = cli.command else {
        let config_dir =
            directories::ProjectDirs::from("", "", "sdtui").map(|d| d.config_dir().to_path_buf());
        return crate::tui::run(
            ws,
            cli.project.clone(),
            std::env::var_os("SDTUI_CONFIG")
                .map(PathBuf::from)
                .or(config_dir),
        );
    };
    match command {
        Command::Init { name, apply } => {
            let p = ws.new_project(&name)?;
            mutate(&ws, &p, &Operation::Init, &apply)
        }
        Command::Catalog { json } => catalog(&ws, json),
        Command::Projects { json } => {
            let list = ws.projects();
            if json {
                println!("{}", json!(list));
            } else {
                for p in list {
                    println!("{p}");
                }
            }
            Ok(())
        }
        Command::Sync { apply } => mutate(&ws, &project()?, &Operation::Sync, &apply),
        Command::Migrate { apply } => mutate(&ws, &project()?, &Operation::Migrate, &apply),
        Command::Config { app, reveal, json } => app_config(&ws, &project()?, &app, reveal, json),
        Command::Connect(args) => crate::cli_connect::run(&ws, &project()?, args),
        Command::History { json, last } => history(&project()?, json, last),
        Command::Addons(cmd) => addons(&ws, &project()?, cmd),
        Command::Db(cmd) => crate::backup::cli::run(&ws, &project()?, cmd),
        Command::Up { vm, timeout, json } => {
            let p = project()?;
            let reports = runtime()?.block_on(crate::deploy::up_reporting(
                &ws,
                &p,
                vm.as_deref(),
                std::time::Duration::from_secs(timeout),
                &progress,
            ));
            match reports {
                Ok(r) => {
                    print_reports(&r, json);
                    Ok(())
                }
                Err(e) => Err(e),
            }
        }
        Command::Down { vm } => {
            let p = project()?;
            let r = runtime()?.block_on(crate::deploy::down(&ws, &p, vm.as_deref(), &progress))?;
            print_reports(&r, false);
            Ok(())
        }
        Command::Status { vm, json } => {
            let p = project()?;
            let rows = runtime()?.block_on(crate::deploy::status(&ws, &p, vm.as_deref()))?;
            if json {
                print_json(&rows);
                return Ok(());
            }
            let now = chrono::Utc::now();
            let table_rows: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    let up = r.state.uptime(now);
                    vec![
                        r.vm.clone(),
                        r.state.service.clone(),
                        r.state.state.clone(),
                        r.state.health.clone().unwrap_or_else(|| "-".into()),
                        up,
                        r.state.image.clone(),
                        r.state.ports.join(" "),
                    ]
                })
                .collect();
            table(
                &["VM", "SERVICE", "STATE", "HEALTH", "UP", "IMAGE", "PORTS"],
                &table_rows,
            );
            Ok(())
        }
        Command::Deploy { app, tag, timeout } => {
            let p = project()?;
            let r = runtime()?.block_on(crate::deploy::deploy_app(
                &ws,
                &p,
                &app,
                &tag,
                std::time::Duration::from_secs(timeout),
                &progress,
            ))?;
            println!("{app}: release v{} ({}) deployed", r.version, r.tag);
            Ok(())
        }
        Command::Rollback { app, to, timeout } => {
            let p = project()?;
            let r = runtime()?.block_on(crate::deploy::rollback_app(
                &ws,
                &p,
                &app,
                to.as_deref(),
                std::time::Duration::from_secs(timeout),
                &progress,
            ))?;
            println!(
                "{app}: release v{} ({}) deployed, {}",
                r.version, r.tag, r.description
            );
            Ok(())
        }
        Command::Releases { app, json } => {
            let p = project()?;
            let list = crate::deploy::releases(&p, &app)?;
            if json {
                print_json(&list);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = list
                .iter()
                .rev()
                .map(|r| {
                    vec![
                        format!("v{}", r.version),
                        r.tag.clone(),
                        r.time.clone(),
                        r.user.clone(),
                        r.status.clone(),
                        r.description.clone(),
                    ]
                })
                .collect();
            table(
                &["RELEASE", "TAG", "TIME", "USER", "STATUS", "DESCRIPTION"],
                &rows,
            );
            Ok(())
        }
        Command::Logs {
            service,
            follow,
            tail,
            vm,
            no_color,
        } => {
            let p = project()?;
            runtime()?.block_on(async {
                match service {
                    Some(service) => {
                        let (docker, c) =
                            crate::deploy::service_container(&ws, &p, &service).await?;
                        let source = crate::deploy::LogSource {
                            vm: String::new(),
                            service,
                            container_id: c.container_id,
                            docker,
                        };
                        logs::one(source, tail, follow).await
                    }
                    None => {
                        let sources = crate::deploy::log_sources(&ws, &p, vm.as_deref()).await?;
                        let colour =
                            !no_color && std::io::IsTerminal::is_terminal(&std::io::stdout());
                        logs::all(sources, tail, follow, colour).await
                    }
                }
            })
        }
    }
}

pub(crate) fn print_json<T: serde::Serialize + ?Sized>(value: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// A long operation's steps, as they happen, on stderr (stdout stays the
/// result, for pipes and `--json`).
pub(crate) fn progress(line: String) {
    eprintln!("{line}");
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| UserError::new(format!("cannot start the async runtime: {e}")))
}

fn print_reports(reports: &[crate::deploy::ServiceReport], json: bool) {
    if json {
        print_json(&reports);
        return;
    }
    let rows: Vec<Vec<String>> = reports
        .iter()
        .map(|r| {
            vec![
                r.vm.clone(),
                r.service.clone(),
                format!("{:?}", r.action).to_lowercase(),
                r.health.clone(),
                r.container_id.clone(),
            ]
        })
        .collect();
    table(&["VM", "SERVICE", "RESULT", "HEALTH", "CONTAINER"], &rows);
    // Which Compose ran on each VM, once per VM, below the table.
    let mut told = std::collections::BTreeSet::new();
    for r in reports {
        if let Some(compose) = &r.compose
            && told.insert(&r.vm)
        {
            if told.len() == 1 {
                println!();
            }
            println!("VM {}: {compose}", r.vm);
        }
    }
}

fn mutate(ws: &Workspace, p: &Project, op: &Operation, flags: &ApplyFlags) -> Result<()> {
    let plan = ws.run(p, op, flags.dry_run)?;
    print_plan(&plan, flags);
    if plan.is_empty() {
        println!("{}: nothing to change", op.describe());
    } else if flags.dry_run {
        println!(
            "dry run: {} file(s) would change; nothing was written",
            plan.changes.len()
        );
    } else {
        println!("{}: {} file(s) changed", op.describe(), plan.changes.len());
    }
    Ok(())
}

fn print_plan(plan: &Plan, flags: &ApplyFlags) {
    if !flags.quiet {
        print!("{}", plan.diff(flags.reveal));
    }
    for c in plan.summary() {
        println!("{:>6} {}", c.action, c.path);
    }
    for n in &plan.notes {
        println!("note: {n}");
    }
}

fn parse_access(s: &str) -> Result<Access> {
    Access::parse(s).ok_or_else(|| {
        UserError::new(format!("access \"{s}\" is not valid"))
            .hint("--access readwrite or --access readonly")
    })
}

fn addons(ws: &Workspace, p: &Project, cmd: AddonsCmd) -> Result<()> {
    match cmd {
        AddonsCmd::List { json } => addons_list(ws, p, json),
        AddonsCmd::Info {
            addon,
            reveal,
            json,
        } => addons_info(ws, p, &addon, reveal, json),
        AddonsCmd::Credentials(args) => crate::cli_credentials::run(ws, p, args),
        AddonsCmd::Attachments { app, json } => attachments(ws, p, app.as_deref(), json),
        AddonsCmd::Add {
            type_name,
            name,
            name_flag,
            category,
            plan,
            version,
            vm,
            options,
            apply,
        } => {
            let options = options
                .iter()
                .map(|o| {
                    crate::config::parse_option(o)
                        .map_err(|e| UserError::new(format!("--option {e}")))
                })
                .collect::<Result<Vec<_>>>()?;
            let Some(name) = name_flag.or(name) else {
                return Err(UserError::new(format!("addons add {type_name}: which name?")).hint(
                    format!("give the instance a name: `sdtui addons add {type_name} --name NAME` (or NAME after the type), e.g. primary or analytics"),
                ));
            };
            mutate(
                ws,
                p,
                &Operation::Add {
                    type_name,
                    name,
                    category,
                    plan,
                    version,
                    vm,
                    options,
                },
                &apply,
            )
        }
        AddonsCmd::Remove {
            addon,
            purge,
            confirm,
            apply,
        } => {
            if !purge {
                return mutate(ws, p, &Operation::Remove { id: addon }, &apply);
            }
            // Refusals that hold without --purge (still attached ...) first.
            ws.plan(p, &Operation::Remove { id: addon.clone() })?;
            if confirm.as_deref() != Some(addon.as_str()) {
                return Err(UserError::new(format!(
                    "--purge deletes the data of {addon} for good"
                ))
                .hint(format!("type the name back to confirm: --confirm {addon}")));
            }
            // Which VM and volumes, read before the config forgets them.
            let loaded = ws.load(p)?;
            let target = crate::engine::require_addon(&loaded.config, &addon)?.clone();
            mutate(ws, p, &Operation::Remove { id: addon.clone() }, &apply)?;
            if apply.dry_run {
                println!(
                    "dry run: would also delete the container and volumes of {addon} on VM {}",
                    target.vm
                );
                return Ok(());
            }
            let removed = runtime()?.block_on(crate::deploy::purge_addon(
                ws, p, &loaded, &target, &progress,
            ))?;
            for v in removed {
                println!("deleted volume {v}");
            }
            Ok(())
        }
        AddonsCmd::Rename { old, new, apply } => {
            mutate(ws, p, &Operation::Rename { id: old, new }, &apply)
        }
        AddonsCmd::Upgrade {
            addon,
            plan,
            version,
            apply,
        } => mutate(
            ws,
            p,
            &Operation::Upgrade {
                id: addon,
                plan,
                version,
            },
            &apply,
        ),
        AddonsCmd::Attach {
            addon,
            app,
            prefix,
            access,
            apply,
        } => {
            let access = parse_access(&access)?;
            mutate(
                ws,
                p,
                &Operation::Attach {
                    id: addon,
                    app,
                    prefix,
                    access,
                },
                &apply,
            )
        }
        AddonsCmd::Detach {
            addon,
            app,
            prefix,
            apply,
        } => mutate(
            ws,
            p,
            &Operation::Detach {
                id: addon,
                app,
                prefix,
            },
            &apply,
        ),
    }
}

fn warn_out_of_sync(l: &Loaded) {
    if l.out_of_sync {
        eprintln!(
            "warning: secrets.yml is behind config.yml; run `sdtui sync` (values below that are not yet in secrets.yml would change)"
        );
    }
}

pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let s: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        println!("{}", s.join("  ").trim_end());
    };
    line(headers.iter().map(|s| s.to_string()).collect());
    line(widths.iter().map(|w| "─".repeat(*w)).collect());
    for r in rows {
        line(r.clone());
    }
}

fn addons_list(ws: &Workspace, p: &Project, json: bool) -> Result<()> {
    let l = ws.load(p)?;
    warn_out_of_sync(&l);
    let mut items = Vec::new();
    for a in &l.config.addons {
        let creds = &l.generated.secrets[&a.type_name][&a.name];
        let apps: Vec<String> = l
            .config
            .attachments_of(&a.id())
            .map(|(app, att)| format!("{}::{}", app.name, att.prefix))
            .collect();
        items.push(json!({
            "id": a.id(), "category": a.category, "name": a.name, "type": a.type_name,
            "version": a.version, "plan": a.plan, "vm": a.vm,
            "host": creds.get("HOST"), "port": creds.get("PORT").and_then(|p| p.parse::<u16>().ok()),
            "service": a.service(), "attached": apps,
        }));
    }
    if json {
        print_json(&items);
        return Ok(());
    }
    if items.is_empty() {
        println!(
            "no addons in {}; add one with `sdtui addons add TYPE NAME`",
            p.name
        );
        return Ok(());
    }
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|i| {
            let s = |k: &str| {
                i[k].as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| i[k].to_string())
            };
            let att: Vec<String> = i["attached"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            vec![
                s("id"),
                s("type"),
                s("version"),
                s("plan"),
                s("vm"),
                format!("{}:{}", s("host"), s("port")),
                if att.is_empty() {
                    "-".into()
                } else {
                    att.join(", ")
                },
            ]
        })
        .collect();
    table(
        &[
            "ADDON",
            "TYPE",
            "VERSION",
            "PLAN",
            "VM",
            "ADDRESS",
            "ATTACHED AS",
        ],
        &rows,
    );
    Ok(())
}

fn addons_info(ws: &Workspace, p: &Project, id: &str, reveal: bool, json: bool) -> Result<()> {
    let l = ws.load(p)?;
    warn_out_of_sync(&l);
    let a = crate::engine::require_addon(&l.config, id)?;
    let t = ws.catalog.require(&a.type_name)?;
    let creds = &l.generated.secrets[&a.type_name][&a.name];
    let mut masker = crate::engine::plan::Masker::default();
    let shown: Vec<(String, String)> = creds
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                if !reveal && t.is_secret_credential(k) {
                    masker.label(v)
                } else {
                    v.clone()
                },
            )
        })
        .collect();
    let atts: Vec<serde_json::Value> = l
        .config
        .attachments_of(id)
        .map(|(app, att)| json!({"app": app.name, "as": att.prefix, "access": att.access}))
        .collect();
    let plan = &t.plans[&a.plan];
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "id": a.id(), "type": a.type_name, "version": a.version, "plan": a.plan, "vm": a.vm,
                "image": a.image.clone().unwrap_or_else(|| t.image_for(&a.version)), "service": a.service(),
                "resources": {"memory": plan.memory, "cpu": plan.cpu, "disk": plan.disk},
                "options": crate::engine::generate::effective_options(t, a).into_iter().collect::<std::collections::BTreeMap<_,_>>(),
                "credentials": shown.iter().cloned().collect::<indexmap::IndexMap<_,_>>(), "attachments": atts,
            }))
            .unwrap_or_default()
        );
        return Ok(());
    }
    println!("=== {} ({} {})", a.id(), t.name, a.version);
    println!(
        "Plan:      {} ({} memory, {} cpu, {} disk)",
        a.plan, plan.memory, plan.cpu, plan.disk
    );
    println!("VM:        {}", a.vm);
    println!("Service:   {}", a.service());
    println!(
        "Image:     {}",
        a.image.clone().unwrap_or_else(|| t.image_for(&a.version))
    );
    for (k, v) in crate::engine::generate::effective_options(t, a) {
        println!("Option:    {k} = {v}");
    }
    println!("\nConnection");
    for (k, v) in &shown {
        println!("  {k:<18} {v}");
    }
    println!("\nAttached to");
    if atts.is_empty() {
        println!(
            "  (no apps) attach with: sdtui addons attach {} --app APP",
            a.id()
        );
    }
    for (app, att) in l.config.attachments_of(id) {
        println!("  {}::{} ({})", app.name, att.prefix, att.access.as_str());
    }
    Ok(())
}

fn attachments(ws: &Workspace, p: &Project, only_app: Option<&str>, json: bool) -> Result<()> {
    let l = ws.load(p)?;
    if let Some(app) = only_app {
        crate::engine::require_app(&l.config, app)?;
    }
    let mut rows = Vec::new();
    for app in l
        .config
        .apps
        .values()
        .filter(|a| only_app.is_none_or(|o| o == a.name))
    {
        for att in &app.attachments {
            let a = l.config.addon(&att.addon).expect("validated");
            rows.push(json!({"app": app.name, "addon": att.addon, "type": a.type_name, "as": att.prefix, "access": att.access}));
        }
    }
    if json {
        print_json(&rows);
        return Ok(());
    }
    let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let table_rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                s(&r["app"]),
                format!("{} ({})", s(&r["addon"]), s(&r["type"])),
                s(&r["as"]),
                s(&r["access"]),
            ]
        })
        .collect();
    table(&["APP", "ADDON", "AS", "ACCESS"], &table_rows);
    Ok(())
}

fn app_config(ws: &Workspace, p: &Project, app: &str, reveal: bool, json: bool) -> Result<()> {
    let l = ws.load(p)?;
    warn_out_of_sync(&l);
    crate::engine::require_app(&l.config, app)?;
    let mut masker = crate::engine::plan::Masker::default();
    let vars: Vec<(String, String, String)> = l.generated.app_env[app]
        .iter()
        .map(|e| {
            (
                e.name.clone(),
                if e.secret && !reveal {
                    masker.label(&e.value)
                } else {
                    e.value.clone()
                },
                e.source.clone(),
            )
        })
        .collect();
    if json {
        let m: indexmap::IndexMap<String, String> = vars
            .iter()
            .map(|(k, v, _)| (k.clone(), v.clone()))
            .collect();
        print_json(&m);
        return Ok(());
    }
    let mut source = String::new();
    for (k, v, s) in vars {
        if s != source {
            println!("# {s}");
            source = s;
        }
        println!("{k}={v}");
    }
    Ok(())
}

fn history(p: &Project, json: bool, last: Option<usize>) -> Result<()> {
    let mut entries = audit::read(&p.audit_path())?;
    if let Some(n) = last {
        let skip = entries.len().saturating_sub(n);
        entries.drain(..skip);
    }
    if json {
        print_json(&entries);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                e.time.clone(),
                e.user.clone(),
                e.operation.clone(),
                e.outcome.clone(),
                e.files.len().to_string(),
            ]
        })
        .collect();
    table(&["TIME", "USER", "OPERATION", "OUTCOME", "FILES"], &rows);
    Ok(())
}

fn catalog(ws: &Workspace, json: bool) -> Result<()> {
    if json {
        let types: Vec<serde_json::Value> = ws
            .catalog
            .types()
            .map(|t| {
                json!({
                    "type": t.name, "description": t.description, "category": t.category, "aliases": t.aliases,
                    "image": t.image, "default_version": t.default_version, "versions": t.versions,
                    "default_plan": t.default_plan, "readonly": t.supports_readonly(),
                    "ports": t.ports.iter().map(|p| json!({"name": p.name, "container": p.container, "base": p.base})).collect::<Vec<_>>(),
                    "plans": t.plans.iter().map(|(n, p)| json!({"name": n, "memory": p.memory, "cpu": p.cpu, "disk": p.disk, "description": p.description, "options": p.options})).collect::<Vec<_>>(),
                    "options": t.options.keys().collect::<Vec<_>>(),
                    "env": t.env.iter().map(|e| format!("{{PREFIX}}_{}", e.name)).collect::<Vec<_>>(),
                })
            })
            .collect();
        print_json(&types);
        return Ok(());
    }
    for t in ws.catalog.types() {
        let ro = if t.supports_readonly() {
            ", readonly access"
        } else {
            ""
        };
        println!(
            "{} — {} [{}; default {} {}; port {}{ro}]",
            t.name,
            t.description,
            t.category,
            t.default_version,
            t.default_plan,
            t.main_port().base
        );
        for (name, p) in &t.plans {
            println!(
                "    {name:<9} {:>6} mem  {:>5} cpu  {:>5} disk  {}",
                p.memory, p.cpu, p.disk, p.description
            );
        }
    }
    Ok(())
}
