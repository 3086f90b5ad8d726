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
