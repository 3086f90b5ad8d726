//! A script-backed addon's own figures (its contract `metrics`) beside
//! its container's live ones: read every few seconds off the event loop
//! while its row is selected on the Addons pane, nothing for other rows
//! or types without `metrics` (like the lag reader in metrics.rs).

use super::*;

/// How often the selected addon's `metrics` runs.
const EVERY: Duration = Duration::from_secs(3);

impl App {
    /// The selected Addons row whose container is up: `(addon id, type,
    /// vm, container)`. Whether its type has `metrics` is the reader's
    /// question (the catalog is the engine's).
    pub fn contract_metrics_target(&self) -> Option<(String, String, String, String)> {
        let id = self.selected_addon()?;
        let row = self.view.addons.iter().find(|a| a.id == id)?;
        let (vm, container, _) = self.container_of(&row.service)?;
        Some((id, row.type_name.clone(), vm, container))
    }

    pub(super) fn contract_metrics_arrived(&mut self, id: String, line: String) {
        if let Some((selected, reading)) = self.contract_metrics.as_mut()
            && *selected == id
        {
            *reading = Some(line);
        }
    }
}

#[derive(Default)]
pub(super) struct ContractReader {
    /// The container read, and its task.
    task: Option<(String, JoinHandle<()>)>,
}

impl ContractReader {
    /// Starts, moves or stops the reader after the selection; whether the
    /// frame changed.
    pub(super) fn follow_selection(
        &mut self,
        app: &mut App,
        ws: &Arc<Workspace>,
        project: &Project,
        dockers: &Dockers,
        tx: &mpsc::Sender<Msg>,
    ) -> bool {
        let want = app
            .contract_metrics_target()
            .filter(|(_, type_name, _, _)| {
                ws.catalog
                    .get(type_name)
                    .is_some_and(crate::contract::metrics::readable)
            });
        let same = match (&self.task, &want) {
            (Some((c, _)), Some((_, _, _, w))) => c == w,
            (None, None) => true,
            _ => false,
        };
        if same {
            return false;
        }
        self.stop();
        let shown = app.contract_metrics.take().is_some();
        let Some((id, type_name, vm, container)) = want else {
            return shown;
        };
        // Not connected yet: tried again after the next report.
        let Some(docker) = dockers.lock().ok().and_then(|d| d.get(&vm).cloned()) else {
            return shown;
        };
        app.contract_metrics = Some((id.clone(), None));
        let (ws, project, tx, c) = (ws.clone(), project.clone(), tx.clone(), container.clone());
        let task = tokio::spawn(async move {
            let Some(t) = ws.catalog.get(&type_name) else {
                return;
            };
            let mut reader = crate::contract::metrics::Reader::default();
            loop {
                let line = match reader.read(&project, t, &docker, &c).await {
                    Ok(l) if l.is_empty() => "no metrics".to_string(),
                    Ok(l) => l,
                    Err(e) => format!("metrics failed: {}", first_line(&e.message)),
                };
                if tx
                    .send(Msg::ContractMetrics(id.clone(), line))
                    .await
                    .is_err()
                {
                    return;
                }
                tokio::time::sleep(EVERY).await;
            }
        });
        self.task = Some((container, task));
        true
    }

    pub(super) fn stop(&mut self) {
        if let Some((_, t)) = self.task.take() {
            t.abort();
        }
    }
}

/// A script's error is several lines; the metrics line has room for one.
fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}
