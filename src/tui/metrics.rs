//! Metrics on demand: CPU, memory, network and block I/O of the selected
//! addon's or container's container, from one stats stream opened while it
//! is selected and dropped when the selection moves (never a poll of every
//! container). The figures show on a line under the Addons and Containers
//! tables.

use futures_util::StreamExt;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::*;
use crate::watch::metrics::Metrics;

/// The container whose figures the console shows, and its last figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Selected {
    pub vm: String,
    pub container: String,
    pub label: String,
    /// None until the first sample (the engine's first one has no CPU
    /// delta: the second is shown).
    pub figures: Option<Metrics>,
}

impl App {
    /// The container the stats stream should follow: the selected row's on
    /// the Addons or Containers pane, none elsewhere.
    pub fn metrics_target(&self) -> Option<(String, String, String)> {
        matches!(self.pane, Pane::Addons | Pane::Containers)
            .then(|| self.selected_container())
            .flatten()
    }

    pub(super) fn metrics_arrived(&mut self, container: String, m: Metrics) {
        if let Some(s) = self.metrics.as_mut().filter(|s| s.container == container) {
            s.figures = Some(m);
        }
    }
}

/// The stream for the selection, replaced when the selection moves: the
/// event loop calls this after every key and report (cheap when nothing
/// changed).
#[derive(Default)]
pub(super) struct StatsStream {
    task: Option<(String, JoinHandle<()>)>,
}

impl StatsStream {
    /// Whether the selection's container changed (the frame is then redrawn).
    pub(super) fn follow_selection(
        &mut self,
        app: &mut App,
        dockers: &Dockers,
        tx: &mpsc::Sender<Msg>,
    ) -> bool {
        let want = app.metrics_target();
        let same = match (&self.task, &want) {
            (Some((id, _)), Some((_, c, _))) => id == c,
            (None, None) => true,
            _ => false,
        };
        if same {
            return false;
        }
        self.stop();
        let shown = app.metrics.take().is_some();
        let Some((vm, container, label)) = want else {
            return shown;
        };
        // Not connected yet: tried again after the next report.
        let Some(docker) = dockers.lock().ok().and_then(|d| d.get(&vm).cloned()) else {
            return shown;
        };
        app.metrics = Some(Selected {
            vm,
            container: container.clone(),
            label,
            figures: None,
        });
        let tx = tx.clone();
        let id = container.clone();
        let task = tokio::spawn(async move {
            let mut stream = std::pin::pin!(crate::watch::metrics::follow(&docker, &id));
            // The engine's first sample has no previous one to take CPU from.
            let mut first = true;
            while let Some(sample) = stream.next().await {
                match sample {
                    Ok(_) if first => first = false,
                    Ok(m) => {
                        if tx.send(Msg::Metrics(id.clone(), m)).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Msg::Note(format!("stats: {e}"))).await;
                        return;
                    }
                }
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

impl App {
    /// The follower whose lag the console reads: the selected Addons row's,
    /// if it is one.
    pub fn lag_target(&self) -> Option<String> {
        if self.pane != Pane::Addons {
            return None;
        }
        let id = self.selected_addon()?;
        self.view
            .addons
            .iter()
            .any(|a| a.id == id && a.follows.is_some())
            .then_some(id)
    }
}

/// How often a selected follower's lag is read on its leader.
const LAG_EVERY: Duration = Duration::from_secs(2);

/// Reads the selected follower's lag on its leader every [`LAG_EVERY`]
/// while it is selected (one psql on the leader; nothing for other rows).
#[derive(Default)]
pub(super) struct LagReader {
    task: Option<(String, JoinHandle<()>)>,
}

impl LagReader {
    pub(super) fn follow_selection(
        &mut self,
        app: &mut App,
        ws: &Arc<Workspace>,
        project: &Project,
        tx: &mpsc::Sender<Msg>,
    ) -> bool {
        let want = app.lag_target();
        if self.task.as_ref().map(|(id, _)| id) == want.as_ref() {
            return false;
        }
        if let Some((_, t)) = self.task.take() {
            t.abort();
        }
        let shown = app.lag.take().is_some();
        let Some(id) = want else {
            return shown;
        };
        app.lag = Some((id.clone(), None));
        let (ws, project, tx, follower) = (ws.clone(), project.clone(), tx.clone(), id.clone());
        let task = tokio::spawn(async move {
            loop {
                let line = match crate::pg::ops::lag(&ws, &project, &follower).await {
                    Ok(l) => l.describe(),
                    Err(e) => format!("lag unknown: {}", e.message),
                };
                if tx.send(Msg::Lag(follower.clone(), line)).await.is_err() {
                    return;
                }
                tokio::time::sleep(LAG_EVERY).await;
            }
        });
        self.task = Some((id, task));
        true
    }
}

/// The metrics line under a table, when a row's container is followed.
pub(super) fn draw_line(f: &mut Frame, app: &App, area: Rect) {
    let Some(s) = &app.metrics else {
        return;
    };
    let t = &app.theme;
    let mut figures = match &s.figures {
        Some(m) => m.line(),
        None => "reading stats…".to_string(),
    };
    // A follower's lag beside its figures.
    if let Some((_, lag)) = &app.lag {
        figures.push_str(&format!(" · lag {}", lag.as_deref().unwrap_or("reading…")));
    }
    // A script-backed type's own figures (contract_metrics.rs).
    if let Some((_, m)) = &app.contract_metrics {
        figures.push_str(&format!(" · {}", m.as_deref().unwrap_or("metrics…")));
    }
    let figures = if s.figures.is_some() {
        Span::raw(figures)
    } else {
        Span::styled(figures, Style::default().fg(t.dim))
    };
    // The figures first: on a narrow terminal the name is what is cut.
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::raw(" "),
            figures,
            Span::styled(
                format!(" · {} on {}", s.label, s.vm),
                Style::default().fg(t.accent),
            ),
        ])),
        area,
    );
}
