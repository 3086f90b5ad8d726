//! Drawing the data-safety dialogs: a pure function of the app, like every
//! pane (snapshots in tests/tui_data.rs).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table, TableState, Wrap};

use super::{DataDialog, Stage};
use crate::backup::Manifest;
use crate::tui::app::App;
use crate::tui::view::centered;

/// `1.4 MB`, `812 B`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// `created` (RFC 3339) as `2026-11-30 18:05Z` and its age at `now`.
pub fn created_and_age(created: &str, now: chrono::DateTime<chrono::Utc>) -> (String, String) {
    let Ok(at) = chrono::DateTime::parse_from_rfc3339(created) else {
        return (created.to_string(), "?".into());
    };
    let at = at.with_timezone(&chrono::Utc);
    let secs = (now - at).num_seconds().max(0);
    let age = match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 86_400 => format!("{} h", s / 3600),
        s => format!("{} d", s / 86_400),
    };
    (at.format("%Y-%m-%d %H:%MZ").to_string(), age)
}

/// The drill column: `passed`, `FAILED`, `not run`.
fn drill_cell(m: &Manifest, app: &App) -> Cell<'static> {
    let t = &app.theme;
    match m.drill.status.as_str() {
        "passed" => Cell::from(Span::styled(
            format!("passed ({})", m.drill.checked),
            Style::default().fg(t.ok),
        )),
        "failed" => Cell::from(Span::styled(
            "FAILED",
            Style::default().fg(t.error).add_modifier(Modifier::BOLD),
        )),
        other => Cell::from(Span::styled(other.to_string(), Style::default().fg(t.warn))),
    }
}

pub fn draw(f: &mut Frame, app: &App, d: &DataDialog) {
    match &d.stage {
        Stage::Backups { .. } => draw_backups(f, app, d),
        _ => draw_step(f, app, d),
    }
}

fn frame<'a>(app: &App, title: String) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(
            title,
            Style::default()
                .fg(app.theme.title)
                .add_modifier(Modifier::BOLD),
        ))
        .border_style(Style::default().fg(app.theme.accent))
}

fn draw_backups(f: &mut Frame, app: &App, d: &DataDialog) {
    let Stage::Backups {
        list,
        selected,
        into,
        loaded_at,
    } = &d.stage
    else {
        return;
    };
    let t = &app.theme;
    let dim = Style::default().fg(t.dim);
    let full = f.area();
    // As tall as the list needs (header, detail, keys, borders), no taller.
    let rows = list
        .as_ref()
        .and_then(|l| l.as_ref().ok())
        .map_or(4, Vec::len) as u16;
    let height = (rows + 7).max(10).min(full.height.saturating_sub(2));
    let area = centered(full, 110, height);
    f.render_widget(Clear, area);
    let block = frame(app, format!(" Backups of {} ", d.addon));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let [body, detail, keys] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(2),
        Constraint::Length(1),
    ])
    .areas(inner);
    let vm = app
        .view
        .addons
        .iter()
        .find(|a| a.id == d.addon)
        .map(|a| a.vm.clone())
        .unwrap_or_default();
    let restore_into = into.as_deref().unwrap_or(&d.addon);
    f.render_widget(
        Paragraph::new(Span::styled(
            format!(
                "Enter/r restore the selected one into {restore_into} (plan first) · j/k move · Esc closes"
            ),
            dim,
        )),
        keys,
    );
    let list = match list {
        None => {
            f.render_widget(
                Paragraph::new(Span::styled(
                    format!("reading the backups on VM {vm} ..."),
                    dim,
                )),
                body,
            );
            return;
        }
        Some(Err(e)) => {
            f.render_widget(
                Paragraph::new(Span::styled(e.clone(), Style::default().fg(t.error)))
                    .wrap(Wrap { trim: false }),
                body,
            );
            return;
        }
        Some(Ok(l)) if l.is_empty() => {
            f.render_widget(
                Paragraph::new(Span::styled(
                    format!(
                        "{} has no backups on VM {vm} yet: {} backs it up and drills the backup",
                        d.addon,
                        app.keymap.first(crate::tui::keymap::Action::Backup)
                    ),
                    dim,
                )),
                body,
            );
            return;
        }
        Some(Ok(l)) => l,
    };
    let header = Row::new([
        "BACKUP",
        "CREATED (UTC)",
        "AGE",
        "BY",
        "SIZE",
        "SHA256",
        "DRILL",
    ])
    .style(Style::default().fg(t.accent).add_modifier(Modifier::BOLD));
    let rows: Vec<Row> = list
        .iter()
        .map(|m| {
            let (created, age) = created_and_age(&m.created, *loaded_at);
            Row::new(vec![
                Cell::from(m.id.clone()),
                Cell::from(created),
                Cell::from(age),
                Cell::from(m.trigger.clone()),
                Cell::from(size(m.size)),
                Cell::from(m.sha256.chars().take(12).collect::<String>()),
                drill_cell(m, app),
            ])
        })
        .collect();
    let mut state = TableState::default().with_selected(Some(*selected));
    f.render_stateful_widget(
        Table::new(
            rows,
            [
                Constraint::Min(24),
                Constraint::Length(18),
                Constraint::Length(7),
                Constraint::Length(8),
                Constraint::Length(9),
                Constraint::Length(13),
                Constraint::Length(12),
            ],
        )
        .header(header)
        .row_highlight_style(Style::default().bg(t.selected_bg).fg(t.selected_fg)),
        body,
        &mut state,
    );
    // The selected one's drill in words: a failure's first difference.
    if let Some(m) = list.get(*selected) {
        let line = match (m.drill.status.as_str(), &m.drill.detail) {
            ("passed", _) => Span::styled(
                format!(
                    "restore drill passed: {} checks against the source at dump time, {:.1} s",
                    m.drill.checked, m.drill.seconds
                ),
                Style::default().fg(t.ok),
            ),
            ("failed", detail) => Span::styled(
                format!(
                    "restore drill FAILED: {}",
                    detail.as_deref().unwrap_or("no detail recorded")
                ),
                Style::default().fg(t.error),
            ),
            (other, _) => Span::styled(
                format!("restore drill {other}"),
                Style::default().fg(t.warn),
            ),
        };
        f.render_widget(Paragraph::new(line).wrap(Wrap { trim: false }), detail);
    }
}

/// Label and value, one line each.
fn fact(label: &str, value: Vec<Span<'static>>, app: &App) -> Line<'static> {
    let mut spans = vec![Span::styled(
        format!("{label:>9}  "),
        Style::default()
            .fg(app.theme.accent)
            .add_modifier(Modifier::BOLD),
    )];
    spans.extend(value);
    Line::from(spans)
}

fn draw_step(f: &mut Frame, app: &App, d: &DataDialog) {
    let t = &app.theme;
    let dim = Style::default().fg(t.dim);
    let text = |s: String| Span::styled(s, Style::default().fg(t.text));
    let mut lines: Vec<Line> = Vec::new();
    let (title, keys, input) = match &d.stage {
        Stage::Backups { .. } => return,
        Stage::RestorePlanning { backup } => {
            lines.push(Line::from(Span::styled(
                format!("reading backup {backup} and what is attached to the instance ..."),
                dim,
            )));
            (format!(" Restore {} ", d.addon), "Esc cancels", None)
        }
        Stage::RestoreReview {
            plan,
            confirm,
            tried,
        } => {
            let b = &plan.backup;
            let (created, _) = created_and_age(&b.created, chrono::Utc::now());
            lines.push(fact(
                "backup",
                vec![text(format!(
                    "{} · {created} · {} · drill {}",
                    b.id,
                    size(b.size),
                    b.drill.status
                ))],
                app,
            ));
            lines.push(fact(
                "checksum",
                vec![text(format!(
                    "sha256 {}… and size checked first; a mismatch touches nothing",
                    &b.sha256[..12.min(b.sha256.len())]
                ))],
                app,
            ));
            lines.push(fact(
                "into",
                vec![text(format!(
                    "{} on VM {}",
                    plan.confirm_name(),
                    plan.target_vm
                ))],
                app,
            ));
            lines.push(fact(
                "replaced",
                vec![Span::styled(
                    "everything in it: data written since the backup is lost",
                    Style::default().fg(t.warn),
                )],
                app,
            ));
            if plan.apps.is_empty() {
                lines.push(fact("apps", vec![text("none attached".into())], app));
            }
            for (i, (a, vm)) in plan.apps.iter().enumerate() {
                lines.push(fact(
                    if i == 0 { "apps" } else { "" },
                    vec![text(format!(
                        "{a} (VM {vm}): stopped before, started after and waited for"
                    ))],
                    app,
                ));
            }
            lines.push(Line::from(""));
            lines.push(Line::from(format!(
                "Type {} to restore it:",
                plan.confirm_name()
            )));
            let typed = confirm.lines().first().cloned().unwrap_or_default();
            let problem = (*tried && typed != plan.confirm_name()).then(|| {
                format!(
                    "type {} exactly; nothing happens until then",
                    plan.confirm_name()
                )
            });
            (
                format!(" Restore {} from a backup ", plan.confirm_name()),
                "Enter restores once the name matches · Esc cancels, nothing changes",
                Some((&**confirm, problem)),
            )
        }
        Stage::RotatePlanning { .. } => {
            lines.push(Line::from(Span::styled(
                "reading the login, the files and the apps that use it ...",
                dim,
            )));
            (
                format!(" Rotate credentials of {} ", d.addon),
                "Esc cancels",
                None,
            )
        }
        Stage::RotateReview { plan, readonly } => {
            lines.push(fact(
                "login",
                vec![text(format!(
                    "{} of {}{}: a new one is made and set inside the running server",
                    plan.credential,
                    plan.user,
                    if *readonly { " (readonly)" } else { "" }
                ))],
                app,
            ));
            for (i, file) in plan.files.iter().enumerate() {
                lines.push(fact(
                    if i == 0 { "files" } else { "" },
                    vec![text(file.clone())],
                    app,
                ));
            }
            if plan.apps.is_empty() {
                lines.push(fact("apps", vec![text("none use this login".into())], app));
            }
            for (i, (a, vm)) in plan.apps.iter().enumerate() {
                let running = app
                    .status
                    .iter()
                    .any(|s| s.vm == *vm && s.state.service == *a && s.state.state == "running");
                lines.push(fact(
                    if i == 0 { "restart" } else { "" },
                    vec![text(if running {
                        format!("{a} (VM {vm}): recreated onto the new password, waited for")
                    } else {
                        format!("{a} (VM {vm}): not running; gets it when it next starts")
                    })],
                    app,
                ));
            }
            lines.push(fact(
                "then",
                vec![text(
                    "the old password is proved refused and the new one accepted".into(),
                )],
                app,
            ));
            lines.push(fact(
                "",
                vec![Span::styled(
                    "any failure before the apps restart puts the old password back",
                    dim,
                )],
                app,
            ));
            (
                format!(" Rotate credentials of {} ", plan.addon),
                "Enter/y rotate · Esc/n cancel, nothing changes",
                None,
            )
        }
        Stage::Running { what, steps } => {
            lines.extend(steps.iter().map(|s| Line::from(text(s.clone()))));
            lines.push(Line::from(Span::styled("...", dim)));
            (
                format!(" {what} "),
                "running · Esc hides this; its steps stay on the footer",
                None,
            )
        }
        Stage::Done {
            what,
            steps,
            result,
        } => {
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
            (format!(" {what} "), "any key closes", None)
        }
    };
    let full = f.area();
    // Rows the text takes once wrapped, then the input, the keys, borders.
    let width = full.width.min(100).saturating_sub(2).max(1) as usize;
    let rows: usize = lines.iter().map(|l| l.width().max(1).div_ceil(width)).sum();
    let wanted = rows as u16 + if input.is_some() { 3 } else { 1 } + 2;
    let area = centered(full, 100, wanted.min(full.height));
    f.render_widget(Clear, area);
    let block = frame(app, title);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let [body, field, problem, keys_area] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(if input.is_some() { 1 } else { 0 }),
        Constraint::Length(if input.is_some() { 1 } else { 0 }),
        Constraint::Length(1),
    ])
    .areas(inner);
    // The latest steps when they outgrow the dialog.
    let overflow = (lines.len() as u16).saturating_sub(body.height);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((overflow, 0)),
        body,
    );
    if let Some((confirm, error)) = input {
        let [_, input_area] =
            Layout::horizontal([Constraint::Length(2), Constraint::Min(10)]).areas(field);
        f.render_widget(confirm, input_area);
        if let Some(e) = error {
            f.render_widget(
                Paragraph::new(Span::styled(e, Style::default().fg(t.error))),
                problem,
            );
        }
    }
    f.render_widget(Paragraph::new(Span::styled(keys, dim)), keys_area);
}
