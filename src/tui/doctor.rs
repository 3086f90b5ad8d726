//! `D` / `:doctor [APP]` in the console: the engine's doctor run as a task
//! (the frame never waits for it), its verdict on each Attachments row.

use std::collections::BTreeMap;
use std::sync::Arc;

use ratatui::style::Style;
use ratatui::text::Span;
use tokio::sync::mpsc;

use super::app::{App, Pane};
use super::msg::{Msg, Request};
use crate::contract::doctor::{AttachmentReport, Verdict};
use crate::engine::{Project, Workspace};

#[derive(Debug, Default)]
pub struct DoctorState {
    /// The last verdict per (app, prefix).
    pub results: BTreeMap<(String, String), AttachmentReport>,
    /// While a run is on: the app it checks (None: every app).
    pub running: Option<Option<String>>,
}

impl App {
    /// Starts a doctor run unless one is on; the Attachments pane shows it.
    pub(super) fn start_doctor(&mut self, app: Option<String>) -> Option<Request> {
        if self.doctor.running.is_some() {
            self.message = Some("doctor is already running; its verdicts show here".into());
            return None;
        }
        self.pane = Pane::Attachments;
        self.doctor.running = Some(app.clone());
        self.message = Some(format!(
            "doctor {}: probing each attachment from inside its app ...",
            app.as_deref().unwrap_or("(every app)")
        ));
        Some(Request::Doctor(app))
    }

    pub(super) fn doctor_done(&mut self, result: Result<Vec<AttachmentReport>, String>) {
        let scope = self.doctor.running.take().flatten();
        match result {
            Ok(reports) => {
                // A run replaces the verdicts of what it checked, no more.
                self.doctor
                    .results
                    .retain(|(app, _), _| scope.as_ref().is_some_and(|s| s != app));
                let failed = reports.iter().filter(|r| !r.ok()).count();
                self.message = Some(if failed == 0 {
                    format!("doctor: {} attachments ok", reports.len())
                } else {
                    format!("doctor: {failed} of {} attachments failed", reports.len())
                });
                for r in reports {
                    self.doctor
                        .results
                        .insert((r.app.clone(), r.prefix.clone()), r);
                }
            }
            Err(e) => self.message = Some(format!("doctor: {e}")),
        }
    }

    /// On the Attachments pane, the selected row's whole verdict when it
    /// is not ok (`web REPORTS: writable when ...`), for the footer.
    pub fn selected_doctor_line(&self) -> Option<String> {
        if self.pane != Pane::Attachments {
            return None;
        }
        let row = *self.visible_attachments().get(self.selected_row())?;
        let r = self.doctor.results.get(&(row[0].clone(), row[2].clone()))?;
        (!matches!(r.verdict, Verdict::Ok))
            .then(|| format!("{} {}: {}", r.app, r.prefix, r.summary()))
    }

    /// The DOCTOR cell of an Attachments row (`[app, addon, as, access]`).
    pub fn doctor_cell(&self, row: &[String; 4]) -> Span<'static> {
        let t = &self.theme;
        let checking = self
            .doctor
            .running
            .as_ref()
            .is_some_and(|scope| scope.as_ref().is_none_or(|a| *a == row[0]));
        if checking {
            return Span::styled("checking …", Style::default().fg(t.dim));
        }
        match self.doctor.results.get(&(row[0].clone(), row[2].clone())) {
            None => Span::styled("-", Style::default().fg(t.dim)),
            Some(r) => {
                let color = match r.verdict {
                    Verdict::Ok => t.ok,
                    Verdict::Unchecked { .. } => t.warn,
                    Verdict::Failed { .. } => t.error,
                };
                Span::styled(r.summary(), Style::default().fg(color))
            }
        }
    }
}

/// The run, off the event loop; its end comes back as [`Msg::Doctor`].
pub fn spawn(ws: Arc<Workspace>, project: Project, app: Option<String>, tx: mpsc::Sender<Msg>) {
    tokio::spawn(async move {
        let result = crate::contract::doctor::doctor(&ws, &project, app.as_deref())
            .await
            .map_err(|e| match &e.hint {
                Some(h) if !h.is_empty() => format!("{} ({h})", e.message),
                _ => e.message.clone(),
            });
        let _ = tx.send(Msg::Doctor(result)).await;
    });
}
