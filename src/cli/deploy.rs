//! Deploying: up, down, status, logs, an app's release, releases and
//! rollback.

use super::*;

#[derive(Subcommand, Debug)]
pub enum DeployCmd {
    /// Deploy: sync, compose up per VM, wait for health, provision; a failed
    /// health check rolls back to the previous release.
    Up {
        /// VMs: a name, a glob (`web-*`) or a comma list (default: every VM,
        /// --parallel at once).
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
        /// VMs: a name, a glob (`web-*`) or a comma list (default: every VM).
        #[arg(long)]
        vm: Option<String>,
    },
    /// Live state of every service: state, health, uptime, image, ports.
    Status {
        /// VMs: a name, a glob (`web-*`) or a comma list (default: every VM).
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
}

pub(super) fn run(ws: &Workspace, p: &Project, cmd: DeployCmd) -> Result<()> {
    match cmd {
        DeployCmd::Up { vm, timeout, json } => {
            let bars = VmProgress::new();
            let reports = runtime()?.block_on(crate::deploy::up_reporting(
                ws,
                p,
                vm.as_deref(),
                std::time::Duration::from_secs(timeout),
                &|line| bars.line(line),
            ));
            drop(bars);
            match reports {
                Ok(r) => {
                    print_reports(&r, json);
                    Ok(())
                }
                Err(e) => Err(e),
            }
        }
        DeployCmd::Down { vm } => {
            let bars = VmProgress::new();
            let r = runtime()?.block_on(crate::deploy::down(ws, p, vm.as_deref(), &|line| {
                bars.line(line)
            }));
            drop(bars);
            let r = r?;
            print_reports(&r, false);
            Ok(())
        }
        DeployCmd::Status { vm, json } => {
            let (rows, unreachable, health, lags) = runtime()?.block_on(async {
                let (rows, unreachable) = crate::deploy::status_by_vm(ws, p, vm.as_deref()).await?;
                // The containers' state stands on its own: backup health
                // that cannot be read is a note on stderr, not a failure.
                let health = crate::backup::health::project_health(ws, p, vm.as_deref())
                    .await
                    .unwrap_or_else(|e| {
                        progress(format!("backup health not read: {}", e.message));
                        Vec::new()
                    });
                // Followers' replay lag, read on their leaders.
                let loaded = ws.load(p)?;
                let lags = crate::pg::ops::lags(ws, p, &loaded.config).await;
                let lags: Vec<(String, crate::pg::ops::Lag)> = lags
                    .into_iter()
                    .filter_map(|lag| {
                        let service = loaded.config.addon(&lag.follower)?.service();
                        Some((service, lag))
                    })
                    .collect();
                Ok::<_, UserError>((rows, unreachable, health, lags))
            })?;
            let lag_of = |service: &str| lags.iter().find(|(s, _)| s == service).map(|(_, l)| l);
            // Shown after the table: each VM that could not be read, why,
            // and a non-zero exit.
            let vm_count = {
                let loaded = ws.load(p)?;
                crate::deploy::select_vms(&loaded.config, vm.as_deref())?.len()
            };
            let outcome = if unreachable.is_empty() {
                Ok(())
            } else {
                Err(crate::deploy::fanout::failed_vms(
                    "status",
                    &p.name,
                    vm_count,
                    unreachable,
                ))
            };
            let health_of = |service: &str| health.iter().find(|h| h.service == service);
            if json {
                // Each addon's row carries its last backup and verdict.
                let with_backup: Vec<serde_json::Value> = rows
                    .iter()
                    .map(|r| {
                        let mut v = serde_json::to_value(r).unwrap_or_default();
                        if let (Some(h), Some(obj)) =
                            (health_of(&r.state.service), v.as_object_mut())
                        {
                            obj.insert(
                                "backup".into(),
                                serde_json::to_value(h).unwrap_or_default(),
                            );
                        }
                        if let (Some(lag), Some(obj)) =
                            (lag_of(&r.state.service), v.as_object_mut())
                        {
                            obj.insert(
                                "replication".into(),
                                serde_json::to_value(lag).unwrap_or_default(),
                            );
                        }
                        v
                    })
                    .collect();
                print_json(&with_backup);
                return outcome;
            }
            let now = chrono::Utc::now();
            let colour = std::io::IsTerminal::is_terminal(&std::io::stdout());
            let table_rows: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    let up = r.state.uptime(now);
                    // An addon's health is the contract's value; an app's
                    // is Docker's.
                    let (status, health) = match &r.addon {
                        Some(a) => (
                            a.status.map(|s| s.as_str()).unwrap_or("-").to_string(),
                            a.health.as_str().to_string(),
                        ),
                        None => (
                            "-".to_string(),
                            r.state.health.clone().unwrap_or_else(|| "-".into()),
                        ),
                    };
                    vec![
                        r.vm.clone(),
                        r.state.service.clone(),
                        r.state.state.clone(),
                        status,
                        health,
                        up,
                        r.state.image.clone(),
                        r.state.ports.join(" "),
                        health_of(&r.state.service)
                            .map(backup_cell)
                            .unwrap_or_else(|| "-".into()),
                    ]
                })
                .collect();
            table(
                &[
                    "VM", "SERVICE", "STATE", "STATUS", "HEALTH", "UP", "IMAGE", "PORTS", "BACKUP",
                ],
                &table_rows,
            );
            for (_, lag) in &lags {
                println!("follower {}: {}", lag.follower, lag.describe());
            }
            // Warnings, with why, below the table (in the warning colour on
            // a terminal).
            for h in health.iter().filter(|h| h.verdict.is_warning()) {
                let line = format!(
                    "warning: {} backup {}: {}",
                    h.addon,
                    h.verdict.as_str(),
                    h.detail.clone().unwrap_or_default()
                );
                if colour {
                    println!("\x1b[33m{line}\x1b[0m");
                } else {
                    println!("{line}");
                }
            }
            outcome
        }
        DeployCmd::Deploy { app, tag, timeout } => {
            let r = runtime()?.block_on(crate::deploy::deploy_app(
                ws,
                p,
                &app,
                &tag,
                std::time::Duration::from_secs(timeout),
                &progress,
            ))?;
            println!("{app}: release v{} ({}) deployed", r.version, r.tag);
            Ok(())
        }
        DeployCmd::Rollback { app, to, timeout } => {
            let r = runtime()?.block_on(crate::deploy::rollback_app(
                ws,
                p,
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
        DeployCmd::Releases { app, json } => {
            let list = crate::deploy::releases(p, &app)?;
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
        DeployCmd::Logs {
            service,
            follow,
            tail,
            vm,
            no_color,
        } => runtime()?.block_on(async {
            match service {
                Some(service) => {
                    let (docker, c) = crate::deploy::service_container(ws, p, &service).await?;
                    let source = crate::deploy::LogSource {
                        vm: String::new(),
                        service,
                        container_id: c.container_id,
                        docker,
                    };
                    logs::one(source, tail, follow).await
                }
                None => {
                    let sources = crate::deploy::log_sources(ws, p, vm.as_deref()).await?;
                    let colour = !no_color && std::io::IsTerminal::is_terminal(&std::io::stdout());
                    logs::all(sources, tail, follow, colour).await
                }
            }
        }),
    }
}

/// `ok 3m (passed)`, `OVERDUE 2h`, `FAILED 1m`, `none`.
fn backup_cell(h: &crate::backup::health::Health) -> String {
    use crate::backup::health::Verdict;
    let age = h
        .last
        .as_ref()
        .map(|l| format!(" {}", crate::cli::db::age(l.age_seconds)))
        .unwrap_or_default();
    match h.verdict {
        Verdict::Ok => format!("ok{age}"),
        Verdict::Overdue => format!("OVERDUE{age}"),
        Verdict::Failed => format!("FAILED{age}"),
        Verdict::None => "none".into(),
    }
}
