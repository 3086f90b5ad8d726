//! `sdtui db ...`: shell, backup, list backups, restore. Each is one engine
//! call (`backup/`, `connect/shell.rs`); this file only parses, asks and
//! prints. With `--env ENV` each works on that environment's instances; an
//! addon left out is the only database there.

use clap::Subcommand;

use crate::backup::Manifest;
use crate::cli::{progress, runtime};
use crate::engine::{Project, Workspace};
use crate::error::{Result, UserError};

#[derive(Subcommand, Debug)]
pub enum DbCmd {
    /// The type's client (psql, redis-cli, mariadb) inside the addon's
    /// container, logged in.
    Shell {
        /// `databases.primary` (default: the only database).
        addon: Option<String>,
        /// Log in with the readonly login.
        #[arg(long)]
        readonly: bool,
    },
    /// Run the environment's migrate command (`migrate:` in config.yml)
    /// once in its deployment's image; needs --env.
    Migrate {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Back up an addon on its VM, then prove the backup restores (a drill
    /// in a throwaway container).
    Backup {
        /// `databases.primary` (default: the only database).
        addon: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List backups: size, age, checksum, drill result (`pull ADDON ID`
    /// copies one here).
    #[command(args_conflicts_with_subcommands = true)]
    Backups {
        /// Only this instance's backups (`databases.primary`).
        addon: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        pull: Option<PullCmd>,
    },
    /// Restore a backup: stops the attached apps, restores, starts them.
    Restore {
        /// `[ADDON] BACKUP`: the instance the backup was taken of
        /// (default: the only database) and a backup id from `db backups`.
        #[arg(value_names = ["ADDON", "BACKUP"], num_args = 1..=2, required = true)]
        args: Vec<String>,
        /// Restore into this instance (same type, same VM) instead, or into
        /// the same instance of another environment (`--into dev`).
        #[arg(long)]
        into: Option<String>,
        /// The name of the addon being replaced, instead of the prompt.
        #[arg(long)]
        confirm: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum PullCmd {
    /// Copy a backup from its VM to this machine, verified by its sha256.
    Pull {
        /// The instance the backup was taken of (`databases.primary`).
        addon: String,
        /// A backup id from `db backups`.
        backup: String,
        /// A folder or a file name (default: the current folder).
        #[arg(long, default_value = ".")]
        to: std::path::PathBuf,
    },
}

/// The addon named, or the only database of the project (environment).
pub(super) fn addon_of(ws: &Workspace, project: &Project, addon: Option<&str>) -> Result<String> {
    let loaded = ws.load(project)?;
    Ok(crate::engine::addon_or_only_database(&loaded.config, addon)?.id())
}

pub fn run(ws: &Workspace, project: &Project, cmd: DbCmd) -> Result<()> {
    let rt = runtime()?;
    match cmd {
        DbCmd::Shell { addon, readonly } => {
            let addon = addon_of(ws, project, addon.as_deref())?;
            let code = rt.block_on(crate::connect::shell::db_shell(
                ws, project, &addon, readonly,
            ))?;
            if code == 0 {
                Ok(())
            } else {
                Err(UserError::new(format!(
                    "the client in {addon} exited with code {code}"
                )))
            }
        }
        DbCmd::Migrate { json } => {
            let Some(env) = project.env_name() else {
                let envs = crate::config::load(&project.config_path(), &ws.catalog)?.environments;
                return Err(UserError::new(
                    "db migrate runs an environment's migrate command: name the environment",
                )
                .hint(match envs.keys().next() {
                    Some(first) => format!("sdtui db migrate --env {first}"),
                    None => "declare environments (with `migrate:`) in config.yml".into(),
                }));
            };
            let r = rt.block_on(crate::env::migrate::migrate(
                ws,
                &project.base(),
                env,
                &progress,
            ))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
            } else {
                print!("{}", crate::env::ops::render_init(&r.rows));
            }
            Ok(())
        }
        DbCmd::Backup { addon, json } => {
            let addon = addon_of(ws, project, addon.as_deref())?;
            let m = rt.block_on(crate::backup::backup(ws, project, &addon, &progress))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&m).unwrap_or_default());
            } else {
                print_table(std::slice::from_ref(&m));
            }
            // A backup by a type's script has no drill: its manifest says
            // so, and that is not a failure.
            if m.drill.passed() || m.drill.status == "not run" {
                Ok(())
            } else {
                Err(UserError::new(format!(
                    "backup {} of {} FAILED its restore drill: {}",
                    m.id,
                    m.addon,
                    m.drill.detail.as_deref().unwrap_or("no detail")
                ))
                .hint("the backup is kept and marked failed; do not rely on it (sdtui db backups)"))
            }
        }
        DbCmd::Backups {
            pull: Some(PullCmd::Pull { addon, backup, to }),
            ..
        } => {
            let path = rt.block_on(crate::backup::pull::pull(
                ws, project, &addon, &backup, &to, &progress,
            ))?;
            println!("{}", path.display());
            Ok(())
        }
        DbCmd::Backups { addon, json, .. } => {
            let all = rt.block_on(crate::backup::list(ws, project, addon.as_deref()))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all).unwrap_or_default());
            } else {
                print_table(&all);
            }
            Ok(())
        }
        DbCmd::Restore {
            args,
            into,
            confirm,
        } => {
            let (addon, backup) = match args.as_slice() {
                [backup] => (addon_of(ws, project, None)?, backup.clone()),
                [addon, backup] => (addon.clone(), backup.clone()),
                _ => unreachable!("clap takes one or two"),
            };
            let plan = rt.block_on(crate::backup::restore::plan(
                ws,
                project,
                &addon,
                &backup,
                into.as_deref(),
            ))?;
            eprint!("{}", plan.describe());
            let name = plan.confirm_name();
            let typed =
                super::output::typed_back(confirm, &name, &format!("restoring into {name}"))?;
            rt.block_on(crate::backup::restore::apply(
                ws, project, &plan, &typed, &progress,
            ))?;
            println!("{} restored into {name}", plan.backup.id);
            Ok(())
        }
    }
}

fn human_bytes(n: u64) -> String {
    match n {
        n if n < 1024 => format!("{n} B"),
        n if n < 1024 * 1024 => format!("{:.1} KiB", n as f64 / 1024.0),
        n if n < 1024 * 1024 * 1024 => format!("{:.1} MiB", n as f64 / 1048576.0),
        n => format!("{:.2} GiB", n as f64 / 1073741824.0),
    }
}

fn age_of(created: &str) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(created) else {
        return "-".into();
    };
    age((chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds())
}

/// `42s`, `5m`, `3h`, `2d`.
pub(crate) fn age(seconds: i64) -> String {
    match seconds.max(0) {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

fn print_table(all: &[Manifest]) {
    let head = ["ADDON", "ID", "BY", "SIZE", "AGE", "SHA256", "DRILL"];
    let rows: Vec<[String; 7]> = all
        .iter()
        .map(|m| {
            let drill = match &m.drill.detail {
                Some(d) if !m.drill.passed() => format!("{}: {d}", m.drill.status),
                _ => format!("{} ({} checked)", m.drill.status, m.drill.checked),
            };
            [
                m.addon.clone(),
                m.id.clone(),
                m.trigger.clone(),
                human_bytes(m.size),
                age_of(&m.created),
                m.sha256.chars().take(12).collect(),
                drill,
            ]
        })
        .collect();
    let mut widths = head.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(c);
            } else {
                out.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        println!("{}", out.trim_end());
    };
    line(head.to_vec());
    for r in &rows {
        line(r.iter().map(String::as_str).collect());
    }
}
