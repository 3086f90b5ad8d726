//! `sdtui pg ...`: postgres followers and forks. Each is one engine call (`pg/`);
//! this file only parses and prints.

use clap::Subcommand;

use super::{ApplyFlags, mutate, print_json, print_plan, runtime};
use crate::engine::{Operation, Project, Workspace};
use crate::error::Result;

#[derive(Subcommand, Debug)]
pub enum PgCmd {
    /// A new postgres instance streaming from LEADER (a read-only hot
    /// standby; attachments to it are readonly). `sdtui up` starts it.
    Follow {
        /// The leader, `databases.primary`.
        leader: String,
        /// The follower's name (in the leader's category).
        #[arg(long)]
        name: String,
        /// Its plan (default: the leader's).
        #[arg(long)]
        plan: Option<String>,
        /// Its VM (default: the leader's).
        #[arg(long)]
        vm: Option<String>,
        #[command(flatten)]
        apply: ApplyFlags,
    },
    /// Promote a follower to an independent writable primary; its slot is
    /// dropped on the leader and `follows:` removed from config.yml.
    Unfollow {
        /// The follower, `databases.replica`.
        follower: String,
        #[command(flatten)]
        apply: ApplyFlags,
    },
    /// Make a follower the primary: writes stop on its leader, it replays
    /// everything, is promoted, and every attachment of the leader moves to
    /// it (apps restarted). The old leader stays, read-only.
    Promote {
        /// The follower, `databases.replica`.
        follower: String,
        /// Promote even if it has not replayed everything (or its leader is
        /// gone): what the leader committed last is lost. Asks for the
        /// leader's name typed back.
        #[arg(long)]
        force: bool,
        /// The leader's name, instead of the prompt `--force` asks.
        #[arg(long)]
        confirm: Option<String>,
        /// Seconds the follower may take to replay what its leader wrote.
        #[arg(long, default_value_t = 30)]
        wait: u64,
        /// Seconds to wait for each health check.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        apply: ApplyFlags,
    },
    /// A new major version by changeover: a new instance beside SOURCE,
    /// filled by logical replication while the apps keep writing, then a
    /// cut-over of seconds (writes stopped, last rows and sequences copied,
    /// attachments moved, apps restarted). SOURCE is kept stopped with its
    /// volume until --purge. Run again to resume an interrupted upgrade.
    Upgrade {
        /// The postgres instance, `databases.primary`.
        source: String,
        /// The new major version (default: the newest the catalog has).
        #[arg(long)]
        version: Option<String>,
        /// The new instance's name (default: SOURCE's name and the major,
        /// `primary-17`).
        #[arg(long)]
        name: Option<String>,
        /// Where logical replication cannot carry everything (large
        /// objects, tables without a primary key): dump and restore with
        /// writes stopped for the whole copy.
        #[arg(long)]
        allow_dump: bool,
        /// Show every step and what cannot be carried; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Give up an upgrade in progress: SOURCE serving, writable, every
        /// attachment on it; the new instance removed.
        #[arg(long, conflicts_with_all = ["purge", "dry_run", "allow_dump", "version", "name"])]
        abort: bool,
        /// After an upgrade: delete the old, stopped SOURCE and its volume
        /// (asks for its name typed back).
        #[arg(long, conflicts_with_all = ["dry_run", "allow_dump", "version", "name"])]
        purge: bool,
        /// SOURCE's name, instead of the prompt `--purge` asks.
        #[arg(long)]
        confirm: Option<String>,
        /// Seconds to wait for each health check and for the copy.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// An independent writable copy of SOURCE from a base backup of it (not
    /// a dump), with passwords of its own: for trying migrations on real data.
    Fork {
        /// The instance to copy, `databases.primary`.
        source: String,
        /// The copy's name (in the source's category).
        #[arg(long)]
        name: String,
        /// Its plan (default: the source's).
        #[arg(long)]
        plan: Option<String>,
        /// Its VM (default: the source's).
        #[arg(long)]
        vm: Option<String>,
        /// Seconds to wait for each health check.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// A follower's replay lag (bytes and seconds), read on its leader.
    Lag {
        /// The follower (default: every follower).
        follower: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(ws: &Workspace, p: &Project, cmd: PgCmd) -> Result<()> {
    match cmd {
        PgCmd::Follow {
            leader,
            name,
            plan,
            vm,
            apply,
        } => mutate(
            ws,
            p,
            &Operation::Follow {
                leader,
                name,
                plan,
                vm,
            },
            &apply,
        ),
        PgCmd::Unfollow { follower, apply } => {
            let (plan, done) =
                runtime()?.block_on(crate::pg::ops::unfollow(ws, p, &follower, apply.dry_run))?;
            print_plan(&plan, &apply);
            match done {
                None => println!(
                    "dry run: {} file(s) would change; nothing was written",
                    plan.changes.len()
                ),
                Some(u) => println!(
                    "pg unfollow {}: {}; slot dropped on {}; {} file(s) changed (`sdtui up` recreates its container as a plain primary)",
                    u.follower,
                    if u.promoted {
                        "promoted to an independent writable primary"
                    } else {
                        "already writable"
                    },
                    u.leader,
                    plan.changes.len()
                ),
            }
            Ok(())
        }
        PgCmd::Promote {
            follower,
            force,
            confirm,
            wait,
            timeout,
            json,
            apply,
        } => {
            let typed = if force && !apply.dry_run {
                let loaded = ws.load(p)?;
                let (_, leader) = crate::pg::ops::require_follower(&loaded.config, &follower)?;
                Some(super::output::typed_back(
                    confirm,
                    &leader.id(),
                    &format!(
                        "promoting {follower} with --force (losing {}'s last writes)",
                        leader.id()
                    ),
                )?)
            } else {
                None
            };
            let (plan, done) = runtime()?.block_on(crate::pg::promote::promote(
                ws,
                p,
                crate::pg::promote::PromoteRequest {
                    id: &follower,
                    force: typed.as_deref(),
                    dry_run: apply.dry_run,
                    catch_up: std::time::Duration::from_secs(wait),
                },
                std::time::Duration::from_secs(timeout),
                &super::progress,
            ))?;
            if json {
                print_json(&serde_json::json!({"plan": plan.notes, "promoted": done}));
                return Ok(());
            }
            print_plan(&plan, &apply);
            match done {
                None => println!(
                    "dry run: {} file(s) would change; nothing was written",
                    plan.changes.len()
                ),
                Some(d) => println!(
                    "{} promoted in {:.1} s: writes were unavailable for {:.1} s; {} lost; {} read-only{}",
                    d.follower,
                    d.seconds,
                    d.window_seconds,
                    match d.lost_bytes {
                        Some(0) => "nothing".to_string(),
                        Some(b) => format!("{b} B of WAL"),
                        None => "an unknown amount (the leader was unreachable)".to_string(),
                    },
                    d.old_leader,
                    if d.apps.is_empty() {
                        String::new()
                    } else {
                        format!("; {} now on {}", d.apps.join(", "), d.follower)
                    }
                ),
            }
            Ok(())
        }
        PgCmd::Upgrade {
            source,
            version,
            name,
            allow_dump,
            dry_run,
            abort,
            purge,
            confirm,
            timeout,
            json,
        } => {
            let rt = runtime()?;
            if abort {
                let a = rt.block_on(crate::pg::upgrade::abort(ws, p, &source, &super::progress))?;
                if json {
                    print_json(&a);
                } else {
                    println!(
                        "upgrade of {} aborted (it had reached: {}): {} serving and writable with every attachment; {} removed{}",
                        a.source,
                        a.stopped_after,
                        a.source,
                        a.target,
                        if a.removed_volumes.is_empty() {
                            String::new()
                        } else {
                            format!(" with its volume {}", a.removed_volumes.join(", "))
                        }
                    );
                }
                return Ok(());
            }
            if purge {
                let loaded = ws.load(p)?;
                let addon = crate::engine::require_addon(&loaded.config, &source)?;
                if addon.state != crate::config::InstanceState::Stopped {
                    return Err(crate::error::UserError::new(format!(
                        "{source} is not an upgraded (stopped) instance"
                    ))
                    .hint(format!(
                        "to delete a running instance: sdtui addons remove {source} --purge"
                    )));
                }
                let typed = super::output::typed_back(
                    confirm,
                    &source,
                    &format!("deleting {source} and its volume"),
                )?;
                if typed != source {
                    return Err(crate::error::UserError::new(format!(
                        "\"{typed}\" is not {source}; nothing was deleted"
                    ))
                    .hint(format!("type {source} to delete it")));
                }
                let volumes = rt
                    .block_on(crate::deploy::remove_and_purge(
                        ws,
                        p,
                        &source,
                        None,
                        &super::progress,
                    ))
                    .map_err(|e| match e {
                        crate::deploy::RemoveError::Refused(e)
                        | crate::deploy::RemoveError::PurgeFailed(e) => e,
                    })?;
                println!("{source} deleted with its volume(s) {}", volumes.join(", "));
                return Ok(());
            }
            let req = crate::pg::upgrade::UpgradeRequest {
                source,
                version,
                name,
                allow_dump,
                dry_run,
            };
            if dry_run {
                let plan = rt.block_on(crate::pg::upgrade::plan(ws, p, &req))?;
                if json {
                    print_json(&plan);
                    return Ok(());
                }
                print!("{}", plan.diff);
                println!(
                    "pg upgrade {} to postgres {} as {}, by {}:",
                    plan.source, plan.version, plan.target, plan.method
                );
                for (i, s) in plan.steps.iter().enumerate() {
                    println!("  {}. {s}", i + 1);
                }
                for u in &plan.unsupported {
                    println!("cannot be carried by logical replication: {u}");
                }
                for n in &plan.notes {
                    println!("note: {n}");
                }
                println!("dry run: nothing was changed");
                return Ok(());
            }
            let u = rt.block_on(crate::pg::upgrade::upgrade(
                ws,
                p,
                &req,
                std::time::Duration::from_secs(timeout),
                &super::progress,
            ))?;
            if json {
                print_json(&u);
            } else {
                println!(
                    "{} upgraded to postgres {} as {} by {} in {:.1} s; writes were unavailable for {:.1} s; {} kept stopped with its volume (sdtui pg upgrade {} --purge deletes it)",
                    u.source,
                    u.version,
                    u.target,
                    u.method,
                    u.seconds,
                    u.window_seconds,
                    u.source,
                    u.source
                );
            }
            Ok(())
        }
        PgCmd::Fork {
            source,
            name,
            plan,
            vm,
            timeout,
            json,
        } => {
            let f = runtime()?.block_on(crate::pg::fork::fork(
                ws,
                p,
                crate::pg::fork::ForkRequest {
                    source,
                    name,
                    plan,
                    vm,
                },
                std::time::Duration::from_secs(timeout),
                &super::progress,
            ))?;
            if json {
                print_json(&f);
            } else {
                println!(
                    "{} forked from {} on VM {} in {:.1} s: writable, its own passwords for {}",
                    f.copy,
                    f.source,
                    f.vm,
                    f.seconds,
                    f.rotated.join(", ")
                );
            }
            Ok(())
        }
        PgCmd::Lag { follower, json } => {
            let lags = runtime()?.block_on(async {
                match follower {
                    Some(f) => crate::pg::ops::lag(ws, p, &f).await.map(|l| vec![l]),
                    None => {
                        let l = ws.load(p)?;
                        Ok(crate::pg::ops::lags(ws, p, &l.config).await)
                    }
                }
            })?;
            if json {
                print_json(&lags);
            } else {
                for l in lags {
                    println!("{}: {}", l.follower, l.describe());
                }
            }
            Ok(())
        }
    }
}
