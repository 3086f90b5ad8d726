//! The console's background work: deploys, backups, plans and their
//! apply, container actions and log follows, each a tokio task that
//! reports to the event loop by message, so no frame ever waits on it.

use super::*;

/// `up` in the background; the panes follow from the events stream.
pub(super) fn spawn_up(ws: Arc<Workspace>, project: Project, tx: mpsc::Sender<Msg>) {
    tokio::spawn(async move {
        // Each step on the footer as it happens; try_send: a slow screen
        // skips a step rather than holding up the deploy.
        let progress = tx.clone();
        let report = move |line: String| {
            let _ = progress.try_send(Msg::Note(format!("up: {line}")));
        };
        let msg = match crate::deploy::up_reporting(
            &ws,
            &project,
            None,
            Duration::from_secs(300),
            &report,
        )
        .await
        {
            Ok(r) => {
                let changed = r
                    .iter()
                    .filter(|s| s.action != crate::deploy::Action::Unchanged)
                    .count();
                format!(
                    "up: {} services, {changed} created or recreated, all healthy",
                    r.len()
                )
            }
            Err(e) => format!(
                "up failed: {}",
                e.message.lines().next().unwrap_or_default()
            ),
        };
        let _ = tx.send(Msg::DeployDone(msg)).await;
    });
}

/// A backup and its restore drill in the background, each step on the
/// footer; the engine records it like `sdtui db backup`.
pub(super) fn spawn_backup(
    ws: Arc<Workspace>,
    project: Project,
    id: String,
    tx: mpsc::Sender<Msg>,
) {
    tokio::spawn(async move {
        let progress = tx.clone();
        let who = id.clone();
        let report = move |line: String| {
            let _ = progress.try_send(Msg::Note(format!("backup {who}: {line}")));
        };
        let note = match crate::backup::backup(&ws, &project, &id, &report).await {
            Ok(m) if m.drill.passed() => format!(
                "backup {id}: {} good, {} bytes, restore drill passed ({} checks)",
                m.id, m.size, m.drill.checked
            ),
            Ok(m) => format!(
                "backup {id}: {} FAILED its restore drill: {}",
                m.id,
                m.drill.detail.as_deref().unwrap_or("no detail")
            ),
            Err(e) => format!("backup {id} failed: {}", error_text(&e)),
        };
        let _ = tx.send(Msg::Note(note)).await;
    });
}

pub(super) fn error_text(e: &UserError) -> String {
    match &e.hint {
        Some(h) if !h.is_empty() => format!("{}\nhint: {h}", e.message),
        _ => e.message.clone(),
    }
}

/// Start, stop or restart through the engine (deploy lock, audit); the
/// pane follows from the events this causes.
pub(super) fn spawn_container_action(
    project: Project,
    vm: String,
    docker: Docker,
    container: String,
    label: String,
    action: ContainerAction,
    tx: mpsc::Sender<Msg>,
) {
    tokio::spawn(async move {
        let (progress, who) = (tx.clone(), label.clone());
        let report = move |line: String| {
            let _ = progress.try_send(Msg::Note(format!("{who}: {line}")));
        };
        let r = crate::deploy::container::act(
            &project, &vm, &docker, &container, &label, action, &report,
        )
        .await;
        let note = match r {
            Ok(()) => format!("{label}: {} done", action.verb()),
            Err(e) => e.message,
        };
        let _ = tx.send(Msg::Note(note)).await;
    });
}

/// The engine's plan for a wizard's operation, secrets masked.
pub(super) fn spawn_plan(
    ws: Arc<Workspace>,
    project: Project,
    op: Operation,
    tx: mpsc::Sender<Msg>,
) {
    tokio::task::spawn_blocking(move || {
        let result = ws.plan(&project, &op).map(|plan| PlanView {
            diff: plan.diff(false),
            files: plan
                .summary()
                .into_iter()
                .map(|c| format!("{} {}", c.action, c.path))
                .collect(),
            notes: plan.notes.clone(),
        });
        let _ = tx.blocking_send(Msg::Planned(result.map_err(|e| error_text(&e))));
    });
}

/// An engine refusal, said with the fact that nothing was written.
pub(super) fn refused(e: &UserError) -> String {
    format!("nothing was changed: {}", error_text(e))
}

/// The project as it is now, for the panes after a change.
pub(super) fn reread(ws: &Workspace, project: &Project) -> Msg {
    match ProjectView::read(ws, project) {
        Ok(v) => Msg::View(Box::new(v)),
        Err(e) => Msg::Note(e.message),
    }
}

/// Applies under the engine's lock (planning again, and writing only if
/// the plan is still the one reviewed), then re-reads the project.
pub(super) fn spawn_apply(
    ws: Arc<Workspace>,
    project: Project,
    op: Operation,
    reviewed: String,
    tx: mpsc::Sender<Msg>,
) {
    tokio::task::spawn_blocking(move || {
        let msg = match ws.run_reviewed(&project, &op, false, Some(&reviewed)) {
            Ok(plan) => Ok(format!(
                "applied `{}`: {} file(s) written",
                op.describe(),
                plan.changes.len()
            )),
            Err(e) => Err(refused(&e)),
        };
        let applied = msg.is_ok();
        let _ = tx.blocking_send(Msg::Applied(msg));
        if applied {
            let _ = tx.blocking_send(reread(&ws, &project));
        }
    });
}

/// Remove with its data: the config first (the engine refuses while it is
/// attached), then its container and volumes, found by compose labels.
pub(super) fn spawn_remove_and_purge(
    ws: Arc<Workspace>,
    project: Project,
    id: String,
    reviewed: String,
    tx: mpsc::Sender<Msg>,
) {
    tokio::spawn(async move {
        let report = |line: String| {
            let _ = tx.try_send(Msg::Note(format!("remove {id}: {line}")));
        };
        let msg =
            match crate::deploy::remove_and_purge(&ws, &project, &id, Some(&reviewed), &report)
                .await
            {
                Ok(volumes) => Ok(format!(
                    "removed {id} from config.yml; deleted its container and volumes: {}",
                    if volumes.is_empty() {
                        "(none)".to_string()
                    } else {
                        volumes.join(", ")
                    }
                )),
                Err(crate::deploy::RemoveError::Refused(e)) => Err(refused(&e)),
                Err(crate::deploy::RemoveError::PurgeFailed(e)) => Err(error_text(&e)),
            };
        let _ = tx.send(Msg::Applied(msg)).await;
        let _ = tx.send(reread(&ws, &project)).await;
    });
}

/// Follows a container's logs: lines are batched (every 50 ms or 4,096
/// lines) and, when the screen is behind, the batch keeps only what the
/// ring would keep, so a flood neither blocks a frame nor grows memory.
pub fn spawn_logs(
    docker: Docker,
    container: String,
    cap: usize,
    tx: mpsc::Sender<Msg>,
) -> JoinHandle<()> {
    tokio::spawn(follow_logs(docker, container, cap, tx, None))
}

/// [`spawn_logs`]'s work, each line after `prefix` when one is given
/// (several containers in one view).
pub async fn follow_logs(
    docker: Docker,
    container: String,
    cap: usize,
    tx: mpsc::Sender<Msg>,
    prefix: Option<String>,
) {
    {
        let opts = bollard::query_parameters::LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .follow(true)
            .timestamps(true)
            .tail("300")
            .build();
        let mut stream = docker.logs(&container, Some(opts));
        let mut batch: Vec<(bool, String, String)> = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        let flush = |batch: &mut Vec<(bool, String, String)>| -> bool {
            if batch.is_empty() {
                return true;
            }
            match tx.try_send(Msg::Logs(std::mem::take(batch))) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(Msg::Logs(b))) => {
                    *batch = b;
                    true
                }
                Err(_) => false,
            }
        };
        loop {
            tokio::select! {
                item = stream.next() => match item {
                    Some(Ok(out)) => {
                        let stderr = matches!(out, bollard::container::LogOutput::StdErr { .. });
                        for line in String::from_utf8_lossy(&out.into_bytes()).lines() {
                            let (time, text) = match line.split_once(' ') {
                                Some((t, rest)) if t.len() >= 20 && t.as_bytes()[4] == b'-' => (t.to_string(), rest.to_string()),
                                _ => (String::new(), line.to_string()),
                            };
                            let text = match &prefix {
                                Some(p) => format!("{p}{text}"),
                                None => text,
                            };
                            batch.push((stderr, time, text));
                        }
                        if batch.len() > cap {
                            let extra = batch.len() - cap;
                            batch.drain(..extra);
                        }
                        if batch.len() >= 4096 && !flush(&mut batch) {
                            return;
                        }
                    }
                    Some(Err(e)) => {
                        flush(&mut batch);
                        let _ = tx.send(Msg::Note(format!("logs: {e}"))).await;
                        return;
                    }
                    None => {
                        flush(&mut batch);
                        return;
                    }
                },
                _ = tick.tick() => {
                    if !flush(&mut batch) {
                        return;
                    }
                }
            }
        }
    }
}
