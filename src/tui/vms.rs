//! The VMs overlay (`V`, `:vms`): every VM of the project with its
//! connection state as the console's watchers see it (connecting,
//! connected, unreachable with why and when it is tried again, host key
//! unknown), and, once connected, its engine and Compose versions, the
//! free space where Docker keeps its data and its container count.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::app::App;
use crate::deploy::vm_info::VmInfo;
use crate::watch::metrics::bytes;

#[derive(Debug, Clone, PartialEq)]
pub enum VmConn {
    Connecting,
    /// The info is read right after connecting: None until it arrives,
    /// or why it could not be read.
    Connected(Option<Result<VmInfo, String>>),
    Unreachable {
        reason: String,
        retry_at: chrono::DateTime<chrono::Utc>,
    },
    /// Waiting for the user to trust (or not) its host key.
    HostKeyUnknown,
}

/// One VM's row: where it is, and its state.
#[derive(Debug, Clone, PartialEq)]
pub struct VmRow {
    pub host: String,
    pub conn: VmConn,
}

impl App {
    /// Whether an addon on this VM should say `unreachable` for want of a
    /// container state.
    pub(super) fn vm_unreachable(&self, vm: &str) -> bool {
        matches!(
            self.vms.get(vm).map(|r| &r.conn),
            Some(VmConn::Unreachable { .. })
        )
    }
}

/// `127.0.95.2:2502` for a VM over SSH, `local` for the local engine.
pub fn host_label(vm: &crate::config::Vm) -> String {
    if vm.is_local() {
        "local".into()
    } else {
        format!("{}:{}", vm.host, vm.port)
    }
}

/// `s` in a column of `width`, cut with `…` so a space always follows.
fn cut(s: &str, width: usize) -> String {
    if s.chars().count() < width {
        format!("{s:<width$}")
    } else {
        let mut t: String = s.chars().take(width.saturating_sub(2)).collect();
        t.push_str("… ");
        t
    }
}

pub(super) fn draw(f: &mut Frame, app: &App) {
    let t = &app.theme;
    let width = f.area().width.saturating_sub(4).min(120);
    let area = super::view::centered(f.area(), width, app.vms.len() as u16 + 5);
    f.render_widget(Clear, area);
    let head = format!(
        "{}{}{}{}{}{}{}",
        cut("VM", 10),
        cut("HOST", 18),
        cut("STATE", 13),
        cut("ENGINE", 11),
        cut("COMPOSE", 30),
        cut("DISK FREE", 11),
        "CONTAINERS"
    );
    let mut lines = vec![Line::from(Span::styled(
        head,
        Style::default().fg(t.accent).add_modifier(Modifier::BOLD),
    ))];
    if app.vms.is_empty() {
        lines.push(Line::from(Span::styled(
            "no VM read yet",
            Style::default().fg(t.dim),
        )));
    }
    for (name, row) in &app.vms {
        let lead = format!("{}{}", cut(name, 10), cut(&row.host, 18));
        let (state, color, rest) = match &row.conn {
            VmConn::Connecting => ("connecting", t.warn, String::new()),
            VmConn::HostKeyUnknown => (
                "host key?",
                t.warn,
                "its host key is not in known_hosts: answer the prompt".to_string(),
            ),
            VmConn::Unreachable { reason, retry_at } => (
                "unreachable",
                t.error,
                // The retry first: a long reason is what gets cut.
                format!("retry at {} · {reason}", retry_at.format("%H:%M:%S")),
            ),
            VmConn::Connected(None) => ("connected", t.ok, "reading…".to_string()),
            VmConn::Connected(Some(Err(e))) => ("connected", t.ok, format!("info: {e}")),
            VmConn::Connected(Some(Ok(i))) => (
                "connected",
                t.ok,
                format!(
                    "{}{}{}{} ({} running)",
                    cut(&i.engine, 11),
                    cut(&i.compose, 30),
                    cut(&i.disk_free.map(bytes).unwrap_or_else(|| "?".into()), 11),
                    i.containers,
                    i.running
                ),
            ),
        };
        lines.push(Line::from(vec![
            Span::raw(lead),
            Span::styled(cut(state, 13), Style::default().fg(color)),
            Span::raw(rest),
        ]));
    }
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(Style::default().fg(t.border))
                .title(Span::styled(
                    " VMs · Esc closes ",
                    Style::default().fg(t.title),
                )),
        ),
        Rect { ..area },
    );
}
