//! The headless face: `sdtui <command>`. Each command is one engine call;
//! listings take `--json`, mutating commands `--dry-run`. One file per
//! command group; the arguments in args.rs, the output forms in output.rs.

mod addons;
mod args;
mod connect;
mod credentials;
mod db;
mod deploy;
mod doctor;
mod env;
mod logs;
mod output;
mod pg;
mod project;
mod watch;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use serde_json::json;

use crate::config::Access;
use crate::engine::plan::Plan;
use crate::engine::{Loaded, Operation, Project, Workspace, audit};
use crate::error::{Result, UserError};

use addons::*;
pub use args::Cli;
use args::*;
pub(crate) use output::*;
use project::*;

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

/// The commands that work on the project as a whole (or, for `env`, take
/// the environment as their argument): `--env` is refused for them.
fn env_free(command: &Command) -> Option<&'static str> {
    match command {
        Command::Init { .. } => Some("init"),
        Command::Catalog { .. } => Some("catalog"),
        Command::Projects { .. } => Some("projects"),
        Command::Migrate { .. } => Some("migrate"),
        Command::History { .. } => Some("history"),
        Command::Env(_) => Some("env"),
        _ => None,
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
    if let Some(n) = cli.parallel {
        ws.parallel = n.into();
    }
    // The project's own types, when the command works on one project (a
    // missing project is reported by the command itself).
    if let Ok(p) = ws.project(cli.project.as_deref()) {
        ws.with_project_addons(&p, addons_dir.as_deref())?;
    }
    let project = || {
        let mut p = ws.project(cli.project.as_deref())?;
        if let Some(env) = &cli.environment {
            p = ws.environment(&p, env)?;
        }
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
    if let Some(env) = &cli.environment
        && let Some(own) = env_free(&command)
    {
        return Err(
            UserError::new(format!("--env {env} does not apply to `{own}`")).hint(match own {
                "env" => format!("name the environment as the argument: sdtui env status {env}"),
                _ => "run it without --env".to_string(),
            }),
        );
    }
    match command {
        Command::Init {
            name,
            environments,
            apply,
        } => {
            let environments: Vec<String> = environments
                .map(|list| list.split(',').map(|e| e.trim().to_string()).collect())
                .unwrap_or_default();
            if !environments.is_empty() {
                // Before anything else: a bad name writes nothing.
                crate::engine::init::check_names(&environments)?;
            }
            let p = ws.new_project(&name)?;
            mutate(&ws, &p, &Operation::Init { environments }, &apply)
        }
        Command::Catalog {
            cmd: Some(CatalogCmd::Validate { dir }),
            ..
        } => catalog_validate(&ws, &dir),
        Command::Catalog { json, cmd: None } => catalog(&ws, json),
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
        Command::Connect(args) => connect::run(&ws, &project()?, args),
        Command::Doctor(args) => doctor::run(&ws, &project()?, args),
        Command::Watch(args) => {
            let p = project()?;
            watch::run(ws, &p, args)
        }
        Command::History { json, last } => history(&project()?, json, last),
        Command::Addons(cmd) => addons(&ws, &project()?, cmd),
        Command::Db(cmd) => db::run(&ws, &project()?, cmd),
        Command::Pg(cmd) => pg::run(&ws, &project()?, cmd),
        Command::Deploy(cmd) => deploy::run(&ws, &project()?, cmd),
        Command::Env(cmd) => env::run(&ws, &project()?, cmd),
        Command::Export {
            format: ExportTarget::Kubernetes,
            output,
            include_secrets,
        } => {
            let p = project()?;
            let out = output.unwrap_or_else(|| PathBuf::from(format!("{}-kubernetes", p.name)));
            let export = crate::cluster::kubernetes::manifests(&ws, &p, include_secrets)?;
            for f in crate::cluster::kubernetes::write(&out, &export)? {
                println!(
                    "wrote {} ({:o}){}",
                    f.path.display(),
                    f.mode,
                    if f.secrets {
                        ": a Secret, credentials in the clear, as asked"
                    } else {
                        ""
                    }
                );
            }
            if !include_secrets {
                for s in &export.secrets {
                    println!(
                        "not written: Secret {} ({}): create it, or export with --include-secrets",
                        s.name,
                        s.keys.join(", ")
                    );
                }
            }
            println!("apply with: kubectl apply -k {}", out.display());
            Ok(())
        }
    }
}
