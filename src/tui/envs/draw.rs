//! Drawing the Environments pane's rows and its dialogs: pure functions of
//! the app (snapshots in tests/tui_envs.rs).

use ratatui::Frame;
use ratatui::layout::Constraint;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table, TableState, Wrap};

use super::{ENV_ACTIONS, EnvDialog, EnvStage};
use crate::env::ops::EnvStatusRow;
use crate::tui::app::App;
use crate::tui::keymap::Action;
use crate::tui::theme::Theme;
use crate::tui::view::centered;

pub const HEADER: [&str; 4] = ["ENV", "STATE", "VMS", "ADDONS (health)"];

pub fn widths() -> [Constraint; 4] {
    [
        Constraint::Length(12),
        Constraint::Length(24),
        Constraint::Length(10),
        Constraint::Min(20),
    ]
}

/// One instance's word: its health when it has one, else its state.
fn instance_word(r: &EnvStatusRow) -> String {
    match (r.state.as_str(), &r.health) {
        ("running", Some(h)) => h.clone(),
        (s, _) => s.to_string(),
    }
}

fn instance_style(t: &Theme, word: &str) -> Style {
    Style::default().fg(match word {
        "healthy" | "running" => t.ok,
        "starting" | "created" | "restarting" => t.warn,
        "absent" => t.dim,
        _ => t.error,
    })
}

/// The pane's rows: each environment's state (or the step this console is
/// running on it), VMs, and every addon with its health.
pub fn pane_rows(app: &App) -> Vec<Row<'static>> {
    let t = &app.theme;
    app.visible_envs()
        .into_iter()
        .map(|e| {
            let live = app.env_live.get(&e.name);
            let (state, style) = match (app.env_busy.get(&e.name), live) {
                (Some(b), _) => (
                    format!(
                        "{}: {}",
                        b.verb,
                        if b.last_step.is_empty() {
                            "..."
                        } else {
                            &b.last_step
                        }
                    ),
                    Style::default().fg(t.warn),
                ),
                (None, None) => ("reading ...".into(), Style::default().fg(t.dim)),
                (None, Some(l)) => {
                    let s = l.state();
                    let color = match s.as_str() {
                        "up" => t.ok,
                        "down" | "no addons" => t.dim,
                        s if s.starts_with("unknown") => t.error,
                        _ => t.warn,
                    };
                    (s, Style::default().fg(color))
                }
            };
            let rows = live.and_then(|l| l.rows.as_ref().ok());
            let mut addons: Vec<Span<'static>> = Vec::new();
            for (i, a) in e.addons.iter().enumerate() {
                if i > 0 {
                    addons.push(Span::raw("  "));
                }
                // The id alone: where it comes from shows in `config`.
                let id = a.split(' ').next().unwrap_or(a);
                addons.push(Span::raw(format!("{id} ")));
                let word = rows
                    .and_then(|r| r.iter().find(|r| r.addon == id))
                    .map(instance_word)
                    .unwrap_or_else(|| "?".into());
                addons.push(Span::styled(word.clone(), instance_style(t, &word)));
            }
            Row::new(vec![
                Cell::from(e.name.clone()),
                Cell::from(Span::styled(state, style)),
                Cell::from(e.vms.clone()),
                Cell::from(Line::from(addons)),
            ])
        })
        .collect()
}

/// The keys an environment row takes, for the dialogs' titles.
fn keys_line(app: &App) -> String {
    ENV_ACTIONS
        .iter()
        .filter(|a| a.key != Action::Open)
        .map(|a| format!("{} {}", app.keymap.first(a.key), a.verb))
        .collect::<Vec<_>>()
        .join(" · ")
}

pub fn dialog(f: &mut Frame, app: &App, d: &EnvDialog) {
    let t = &app.theme;
    let border = |title: String, warn: bool| {
        Block::default()
            .borders(Borders::ALL)
            .title(title)
            .border_style(Style::default().fg(if warn { t.warn } else { t.accent }))
    };
    let dim = Style::default().fg(t.dim);
    match &d.stage {
        EnvStage::Instances { selected } => {
            let live = app.env_live.get(&d.env);
            let title = format!(
                " env {} · {} · Enter its logs · Esc back ",
                d.env,
                live.map_or("reading ...".into(), |l| l.state()),
            );
            let keys = Line::from(format!(" {} ", keys_line(app)));
            match live.map(|l| &l.rows) {
                Some(Ok(rows)) => {
                    let area = centered(f.area(), 110, rows.len() as u16 + 4);
                    f.render_widget(Clear, area);
                    let body: Vec<Row> = rows
                        .iter()
                        .map(|r| {
                            let word = instance_word(r);
                            Row::new(vec![
                                Cell::from(r.addon.clone()),
                                Cell::from(r.vm.clone()),
                                Cell::from(r.service.clone()),
                                Cell::from(Span::styled(word.clone(), instance_style(t, &word))),
                                Cell::from(r.ports.join(" ")),
                            ])
                        })
                        .collect();
                    let mut state = TableState::default().with_selected(Some(*selected));
                    f.render_stateful_widget(
                        Table::new(
                            body,
                            [
                                Constraint::Min(18),
                                Constraint::Length(10),
                                Constraint::Min(16),
                                Constraint::Length(10),
                                Constraint::Min(20),
                            ],
                        )
                        .header(
                            Row::new(vec!["ADDON", "VM", "SERVICE", "HEALTH", "PORTS"])
                                .style(Style::default().fg(t.accent).add_modifier(Modifier::BOLD)),
                        )
                        .row_highlight_style(Style::default().bg(t.selected_bg).fg(t.selected_fg))
                        .block(border(title, false).title_bottom(keys)),
                        area,
                        &mut state,
                    );
                }
                other => {
                    let text = match other {
                        Some(Err(e)) => format!("cannot read its VMs: {e}"),
                        _ => "reading its VMs ...".into(),
                    };
                    let area = centered(f.area(), 110, 5);
                    f.render_widget(Clear, area);
                    f.render_widget(
                        Paragraph::new(text)
                            .wrap(Wrap { trim: false })
                            .block(border(title, false).title_bottom(keys)),
                        area,
                    );
                }
            }
        }
        EnvStage::Confirm { verb, preview } => {
            let restart = *verb == "restart";
            let mut lines: Vec<Line> = Vec::new();
            let ok = match preview {
                None => {
                    lines.push(Line::from(Span::styled(
                        format!("reading what runs of {} ...", d.env),
                        dim,
                    )));
                    false
                }
                Some(Err(e)) => {
                    // The engine's message, then its hint on a line of its own.
                    for (i, l) in e.lines().enumerate() {
                        lines.push(Line::from(Span::styled(
                            if i == 0 {
                                format!("cannot read what runs: {l}")
                            } else {
                                l.to_string()
                            },
                            Style::default().fg(t.error),
                        )));
                    }
                    false
                }
                Some(Ok(rows)) if rows.is_empty() && restart => {
                    lines.push(Line::from(format!(
                        "nothing of {}'s deployment runs; restart starts nothing (env deploy does).",
                        d.env
                    )));
                    true
                }
                Some(Ok(rows)) if rows.is_empty() => {
                    lines.push(Line::from(format!(
                        "nothing of {} has a container; {verb} removes nothing.",
                        d.env
                    )));
                    true
                }
                Some(Ok(rows)) => {
                    lines.push(Line::from(if restart {
                        format!(
                            "These containers of {}'s deployment are restarted in place:",
                            d.env
                        )
                    } else {
                        format!("These containers of {} are stopped and removed:", d.env)
                    }));
                    for r in rows {
                        // The deployment's rows name its file as their addon.
                        let what = if restart {
                            format!("  {} ({}) on VM {}  ", r.service, r.addon, r.vm)
                        } else {
                            format!("  {} ({}) on VM {}  ", r.addon, r.service, r.vm)
                        };
                        lines.push(Line::from(vec![
                            Span::raw(what),
                            Span::styled(instance_word(r), instance_style(t, &instance_word(r))),
                        ]));
                    }
                    true
                }
            };
            lines.push(Line::from(""));
            lines.push(Line::from(Span::styled(
                if restart {
                    "Its addons, volumes and files are not touched; each step shows on the footer."
                } else {
                    "Its volumes (the data) are kept: env start brings it back."
                },
                Style::default().fg(t.ok),
            )));
            lines.push(Line::from(""));
            lines.push(Line::from(Span::styled(
                match (ok, restart) {
                    (true, true) => format!("y {verb}s it · n or Esc leaves it as it is"),
                    (true, false) => format!("y {verb}s it · n or Esc keeps it running"),
                    _ => "Esc closes".to_string(),
                },
                Style::default().fg(t.accent),
            )));
            let area = centered(f.area(), 84, lines.len() as u16 + 2);
            f.render_widget(Clear, area);
            f.render_widget(
                Paragraph::new(lines)
                    .wrap(Wrap { trim: false })
                    .block(border(format!(" env {verb} {} ? ", d.env), true)),
                area,
            );
        }
        EnvStage::Choose {
            verb,
            options,
            selected,
        } => {
            let mut spans = vec![Span::raw(" ")];
            for (i, o) in options.iter().enumerate() {
                let style = if i == *selected {
                    Style::default().bg(t.selected_bg).fg(t.selected_fg)
                } else {
                    Style::default().fg(t.accent)
                };
                spans.push(Span::styled(format!(" {o} "), style));
                spans.push(Span::raw("  "));
            }
            let lines = vec![
                Line::from(format!("{verb} {} as:", d.env)),
                Line::from(""),
                Line::from(spans),
                Line::from(""),
                Line::from(Span::styled(
                    format!(
                        "into ./export-{}/ (as `sdtui env export` without -o)",
                        d.env
                    ),
                    dim,
                )),
                Line::from(Span::styled(
                    "←/→ choose · Enter or its first letter writes · Esc closes",
                    Style::default().fg(t.accent),
                )),
            ];
            let area = centered(f.area(), 64, lines.len() as u16 + 2);
            f.render_widget(Clear, area);
            f.render_widget(
                Paragraph::new(lines)
                    .wrap(Wrap { trim: false })
                    .block(border(format!(" env {verb} {} ", d.env), false)),
                area,
            );
        }
        EnvStage::Text {
            verb,
            lines,
            selected,
            revealed,
        } => {
            let secrets = lines
                .as_ref()
                .and_then(|l| l.as_ref().ok())
                .is_some_and(|l| l.iter().any(|l| l.secret.is_some()));
            let title = if secrets {
                format!(
                    " env {verb} {} · {} reveals the selected secret · Esc closes ",
                    d.env,
                    app.keymap.first(Action::Reveal)
                )
            } else {
                format!(" env {verb} {} · Esc closes ", d.env)
            };
            // Over the pane itself: a long configuration gets every row.
            let area = app.body.get();
            f.render_widget(Clear, area);
            let body: Vec<Line> = match lines {
                None => vec![Line::from(Span::styled("reading ...", dim))],
                // The error's first line, then what it carries (a table,
                // the hint) as it was written.
                Some(Err(e)) => e
                    .lines()
                    .enumerate()
                    .map(|(i, l)| {
                        if i == 0 {
                            Line::from(Span::styled(l.to_string(), Style::default().fg(t.error)))
                        } else {
                            Line::from(l.to_string())
                        }
                    })
                    .collect(),
                Some(Ok(lines)) => lines
                    .iter()
                    .enumerate()
                    .map(|(i, l)| {
                        let text = l.shown(revealed.contains(&i));
                        let style = if i == *selected {
                            Style::default().bg(t.selected_bg).fg(t.selected_fg)
                        } else if l.secret.is_some() && !revealed.contains(&i) {
                            dim
                        } else {
                            Style::default()
                        };
                        Line::from(Span::styled(text, style))
                    })
                    .collect(),
            };
            // Long lines (a revealed URL, a path) wrap; scroll so the
            // selected line stays in view, counting the rows each takes.
            let height = area.height.saturating_sub(2) as usize;
            let width = area.width.saturating_sub(2).max(1) as usize;
            let rows = |l: &Line| l.width().max(1).div_ceil(width);
            let before: usize = body.iter().take(*selected).map(rows).sum();
            let own = body.get(*selected).map_or(1, rows);
            let top = (before + own).saturating_sub(height);
            f.render_widget(
                Paragraph::new(body)
                    .wrap(Wrap { trim: false })
                    .scroll((top as u16, 0))
                    .block(border(title, false)),
                area,
            );
        }
    }
}
