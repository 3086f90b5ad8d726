//! `sdtui watch`: monitoring without the console open. One task per VM
//! follows its Docker events (the same stream the console follows) and
//! looks again on an interval; a service whose settled state changes
//! (healthy, unhealthy, degraded, stopped) runs the user's `watch.alert`
//! command once, and once more when it recovers. A VM that drops is
//! reconnected with backoff. What happens goes out as [`Event`]s; the CLI
//! prints them.

pub mod alert;
pub mod contract;
pub mod metrics;
pub mod state;

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::config::watch::WatchSettings;
use crate::config::{Config, Vm};
use crate::deploy::target::Connected;
use crate::engine::{Project, Workspace};
use crate::error::Result;
pub use state::{Health, Observed, Tracker};

/// Longest wait between two attempts to reach a VM.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// One settled change of one service, or of a VM's reachability (then
/// `addon` and `service` are empty).
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub vm: String,
    /// `caches.main` for an addon, the app's name for an app.
    pub addon: String,
    /// The compose service, `redis-main`.
    pub service: String,
    pub old: Health,
    pub new: Health,
    /// Why: the contract script's message, or why the VM is unreachable.
    pub reason: Option<String>,
}

impl Change {
    /// What the change is about, for a line: the addon, or the VM.
    pub fn subject(&self) -> String {
        if self.addon.is_empty() {
            format!("VM {}", self.vm)
        } else {
            format!("{} on {}", self.addon, self.vm)
        }
    }
}

#[derive(Debug, Clone)]
pub enum Event {
    Connected {
        vm: String,
    },
    Unreachable {
        vm: String,
        reason: String,
        retry_in: Duration,
    },
    /// The event stream or a look failed: reconnecting.
    Lost {
        vm: String,
        reason: String,
    },
    /// The first settled state of a service.
    Baseline {
        vm: String,
        addon: String,
        state: Health,
    },
    Changed(Change),
    /// The alert command ran for a change: its exit code, or why not.
    Alerted {
        change: Change,
        result: std::result::Result<i32, String>,
    },
}

/// Watches every VM of the project until the receiver goes away. Returns
/// at once with an error if config.yml does not load.
pub async fn run(
    ws: Arc<Workspace>,
    project: Project,
    tx: mpsc::UnboundedSender<Event>,
) -> Result<()> {
    let config = Arc::new(ws.load(&project)?.config);
    let settings = config.watch.clone().unwrap_or_default();
    let tasks: Vec<_> = config
        .vms
        .values()
        .cloned()
        .map(|vm| {
            tokio::spawn(watch_vm(
                ws.clone(),
                project.clone(),
                config.clone(),
                settings.clone(),
                vm,
                tx.clone(),
            ))
        })
        .collect();
    drop(tx);
    futures_util::future::join_all(tasks).await;
    Ok(())
}

/// Every service of the project once, as `watch` sees it: `(vm, addon,
/// state)`, or the VM and why it could not be read (`--once`).
pub async fn look_once(
    ws: &Workspace,
    project: &Project,
) -> Result<Vec<(String, std::result::Result<Vec<(String, Health)>, String>)>> {
    let config = ws.load(project)?.config;
    let per_vm = futures_util::future::join_all(config.vms.values().map(|vm| {
        let config = &config;
        async move {
            let looked = async {
                let conn = Connected::open(ws, project, vm)
                    .await
                    .map_err(|e| e.message)?;
                let mut recorded = contract::Recorded::default();
                let states = look(ws, &conn, project, config, vm, &mut recorded).await?;
                Ok(states
                    .into_iter()
                    .map(|(_, addon, h, _)| (addon, h))
                    .collect())
            };
            (vm.name.clone(), looked.await)
        }
    }))
    .await;
    Ok(per_vm)
}

/// The state of every service config.yml puts on the VM: `(service,
/// addon, state, reason)`.
async fn look(
    ws: &Workspace,
    conn: &Connected,
    project: &Project,
    config: &Config,
    vm: &Vm,
    recorded: &mut contract::Recorded,
) -> std::result::Result<Vec<(String, String, Health, Option<String>)>, String> {
    let containers = crate::deploy::vm_status(&conn.docker, project, &vm.name)
        .await
        .map_err(|e| e.message)?;
    let mut out = Vec::new();
    for service in crate::deploy::expected_services(config, &vm.name) {
        let container = containers
            .iter()
            .map(|r| &r.state)
            .find(|s| s.service == service);
        let docker = state::of_container(container);
        let addon = config.addons.iter().find(|a| a.service() == service);
        // Docker's view wins when the container is not up at all: the
        // script is asked only about a running, healthy one.
        let verdict = match addon {
            Some(a) if docker == Health::Healthy => {
                contract::health(ws, project, conn, a, container, recorded).await
            }
            _ => None,
        };
        let (health, reason) = match verdict {
            Some(v) => (v.health, v.reason),
            None => (docker, None),
        };
        out.push((service.clone(), addon_of(config, &service), health, reason));
    }
    // System kinds: their script's word alone (no container to ask).
    for a in config
        .addons
        .iter()
        .filter(|a| a.vm == vm.name && a.system && a.runs())
    {
        if let Some(v) = contract::health(ws, project, conn, a, None, recorded).await {
            out.push((a.service(), a.id(), v.health, v.reason));
        }
    }
    Ok(out)
}

/// `caches.main` for an addon's service, the app's name otherwise.
fn addon_of(config: &Config, service: &str) -> String {
    config
        .addons
        .iter()
        .find(|a| a.service() == service)
        .map(|a| a.id())
        .unwrap_or_else(|| service.to_string())
}

async fn watch_vm(
    ws: Arc<Workspace>,
    project: Project,
    config: Arc<Config>,
    settings: WatchSettings,
    vm: Vm,
    tx: mpsc::UnboundedSender<Event>,
) {
    let mut tracker = Tracker::default();
    // The VM's own reachability, under its name: a baseline like a service's.
    let mut reach = Tracker::default();
    let mut recorded = contract::Recorded::default();
    let mut backoff = Duration::from_secs(1);
    let interval = Duration::from_secs(settings.interval_s);
    let cp = crate::deploy::compose_project(&project.name, &vm.name);
    loop {
        if tx.is_closed() {
            return;
        }
        let conn = match Connected::open(&ws, &project, &vm).await {
            Ok(c) => c,
            Err(e) => {
                let _ = tx.send(Event::Unreachable {
                    vm: vm.name.clone(),
                    reason: e.message.clone(),
                    retry_in: backoff,
                });
                // Every failed retry is the same state: one alert.
                let seen = reach.observe(&vm.name, Health::Unreachable);
                vm_changed(&project, &settings, &vm, seen, Some(e.message), &tx);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        backoff = Duration::from_secs(1);
        let _ = tx.send(Event::Connected {
            vm: vm.name.clone(),
        });
        let seen = reach.observe(&vm.name, Health::Connected);
        vm_changed(&project, &settings, &vm, seen, None, &tx);
        // Subscribed before the first look, so no change falls between.
        let mut events = std::pin::pin!(crate::docker::project_events(&conn.docker, &cp));
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let reason = loop {
            if let Err(e) = look_and_alert(
                &ws,
                &conn,
                &project,
                &config,
                &settings,
                &vm,
                &mut tracker,
                &mut recorded,
                &tx,
            )
            .await
            {
                break e;
            }
            tokio::select! {
                ev = events.next() => match ev {
                    Some(Ok(_)) => {
                        // A stop is several events (kill, die, stop): one look after the burst.
                        tokio::time::sleep(Duration::from_millis(150)).await;
                    }
                    Some(Err(e)) => break e.to_string(),
                    None => break "the event stream ended".to_string(),
                },
                _ = ticks.tick() => {}
            }
        };
        let _ = tx.send(Event::Lost {
            vm: vm.name.clone(),
            reason,
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[allow(clippy::too_many_arguments)]
async fn look_and_alert(
    ws: &Workspace,
    conn: &Connected,
    project: &Project,
    config: &Config,
    settings: &WatchSettings,
    vm: &Vm,
    tracker: &mut Tracker,
    recorded: &mut contract::Recorded,
    tx: &mpsc::UnboundedSender<Event>,
) -> std::result::Result<(), String> {
    for (service, addon, now, reason) in look(ws, conn, project, config, vm, recorded).await? {
        match tracker.observe(&service, now) {
            Observed::Same => {}
            Observed::Baseline(state) => {
                let _ = tx.send(Event::Baseline {
                    vm: vm.name.clone(),
                    addon,
                    state,
                });
            }
            Observed::Changed { old, new } => {
                let change = Change {
                    vm: vm.name.clone(),
                    addon,
                    service,
                    old,
                    new,
                    reason,
                };
                changed(project, settings, change, tx);
            }
        }
    }
    Ok(())
}

/// A change of the VM's reachability: said, and alerted like a service's.
fn vm_changed(
    project: &Project,
    settings: &WatchSettings,
    vm: &Vm,
    seen: Observed,
    reason: Option<String>,
    tx: &mpsc::UnboundedSender<Event>,
) {
    if let Observed::Changed { old, new } = seen {
        let change = Change {
            vm: vm.name.clone(),
            addon: String::new(),
            service: String::new(),
            old,
            new,
            reason,
        };
        changed(project, settings, change, tx);
    }
}

/// Says the change and runs the alert command for it.
fn changed(
    project: &Project,
    settings: &WatchSettings,
    change: Change,
    tx: &mpsc::UnboundedSender<Event>,
) {
    let _ = tx.send(Event::Changed(change.clone()));
    if let Some(command) = settings.alert.clone() {
        // Off the watching task: a slow alert must not delay the next look.
        let tx = tx.clone();
        let project = project.name.clone();
        tokio::spawn(async move {
            let result = alert::run(&command, &project, &change).await;
            let _ = tx.send(Event::Alerted { change, result });
        });
    }
}
