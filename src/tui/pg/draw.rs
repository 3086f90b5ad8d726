//! Drawing the Postgres dialog: a pure function of the app (snapshots in
//! tests/tui_pg.rs).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::{PgDialog, PgStage};
use crate::tui::app::App;
use crate::tui::view::centered;

pub fn draw(f: &mut Frame, app: &App, d: &PgDialog) {
    let t = &app.theme;
    let dim = Style::default().fg(t.dim);
    let mut lines: Vec<Line> = Vec::new();
    let (keys, scroll) = match &d.stage {
        PgStage::Planning => {
            lines.push(Line::from(Span::styled("reading the plan ...", dim)));
            ("Esc cancels".to_string(), 0)
        }
        PgStage::Review {
            lines: plan,
            runnable,
            scroll,
        } => {
            lines.extend(plan.iter().map(|l| {
                let style = if l.starts_with('+') {
                    Style::default().fg(t.ok)
                } else if l.starts_with('-') {
                    Style::default().fg(t.error)
                } else if l.starts_with("cannot be carried") {
                    Style::default().fg(t.warn)
                } else {
                    Style::default()
                };
                Line::from(Span::styled(l.clone(), style))
            }));
            (
                if *runnable {
                    "y/Enter run · j/k scroll · Esc/n cancel, nothing changes".to_string()
                } else {
                    "refused · j/k scroll · Esc closes, nothing changes".to_string()
                },
                *scroll,
            )
        }
        PgStage::Running { steps } => {
            lines.extend(steps.iter().map(|s| Line::from(s.clone())));
            lines.push(Line::from(Span::styled("...", dim)));
            let overflow = lines.len() as u16;
            (
                "running · Esc hides this; its steps stay on the footer".to_string(),
                overflow,
            )
        }
        PgStage::Done { steps, result } => {
            lines.extend(
                steps
                    .iter()
                    .map(|s| Line::from(Span::styled(s.clone(), dim))),
            );
            lines.push(Line::from(""));
            match result {
                Ok(s) => lines.push(Line::from(Span::styled(
                    s.clone(),
                    Style::default().fg(t.ok),
                ))),
                Err(e) => lines.extend(e.lines().map(|l| {
                    Line::from(Span::styled(l.to_string(), Style::default().fg(t.error)))
                })),
            }
            let overflow = lines.len() as u16;
            ("any key closes".to_string(), overflow)
        }
    };
    let full = f.area();
    let wanted = (lines.len() as u16 + 3).min(full.height);
    let area = centered(full, 110, wanted.max(6));
    f.render_widget(Clear, area);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(Style::default().fg(t.accent))
        .title(format!(" {} ", d.op.describe()));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let [body, keys_area] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
    // Running and done: the latest lines; review: where the user scrolled.
    let top = match d.stage {
        PgStage::Review { .. } => scroll.min((lines.len() as u16).saturating_sub(1)),
        _ => scroll.saturating_sub(body.height),
    };
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((top, 0)),
        body,
    );
    f.render_widget(Paragraph::new(Span::styled(keys, dim)), keys_area);
}
