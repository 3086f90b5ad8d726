//! Drawing: a pure function of [`App`] (geometry the mouse needs is noted
//! in the app's cells), tested with ratatui's TestBackend.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Borders, Cell, Clear, Paragraph, Row, Table, TableState, Tabs, Wrap,
};

use super::app::{App, PANES, Pane};
use super::keymap::Action;
use super::logs::short_time;
use super::palette;
use super::prompt::PromptKind;
use super::wizard::{FieldKind, Step};

const MASK: &str = "••••••••";

pub fn draw(f: &mut Frame, app: &App) {
    let t = &app.theme;
    let [header, tabs, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(f.area());
    app.body.set(body);
    let project = app
        .projects
        .get(app.project)
        .cloned()
        .unwrap_or_else(|| "(no project)".into());
    let running = app
        .status
        .iter()
        .filter(|s| s.state.state == "running")
        .count();
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(
                " sdtui ",
                Style::default()
                    .fg(t.selected_fg)
                    .bg(t.accent)
                    .add_modifier(Modifier::BOLD),
            ),
            Span::styled(
                format!(" project {project} "),
                Style::default().fg(t.title).add_modifier(Modifier::BOLD),
            ),
            Span::styled(
                format!(
                    " {} addons · {} containers ({running} running)",
                    app.view.addons.len(),
                    app.status
                        .iter()
                        .filter(|s| s.state.state != "system")
                        .count()
                ),
                Style::default().fg(t.dim),
            ),
        ])),
        header,
    );
    let titles: Vec<Line> = PANES
        .iter()
        .enumerate()
        .map(|(i, p)| Line::from(format!("{} {}", i + 1, p.title())))
        .collect();
    f.render_widget(
        Tabs::new(titles)
            .select(app.pane.index())
            .style(Style::default().fg(t.dim))
            .highlight_style(Style::default().fg(t.accent).add_modifier(Modifier::BOLD)),
        tabs,
    );
    let pane_title = match (app.pane, &app.logs.of) {
        (Pane::Logs, Some(c)) => {
            let mut s = format!(" Logs · {c} ");
            if app.logs.paused_at.is_some() {
                s.push_str("· PAUSED ");
            }
            if app.logs.filter.is_some() {
                s.push_str(&format!("· &{} ", app.logs.filter_text));
            }
            if app.logs.search.is_some() {
                s.push_str(&format!(
                    "· /{} ({} matches) ",
                    app.logs.search_text,
                    app.logs.match_count()
                ));
            }
            s
        }
        (Pane::Logs, None) => " Logs (Enter on an addon or container) ".to_string(),
        (p, _) => format!(" {} ", p.title()),
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(Style::default().fg(t.border))
        .title(Span::styled(pane_title, Style::default().fg(t.title)));
    let selected = Style::default().bg(t.selected_bg).fg(t.selected_fg);
    let header_style = Style::default().fg(t.accent).add_modifier(Modifier::BOLD);
    let mut state = TableState::default().with_selected(Some(app.selected[app.pane.index()]));
    let health = |service: &str| -> (String, Style) {
        match app.status.iter().find(|s| s.state.service == service) {
            None => ("-".into(), Style::default().fg(t.dim)),
            Some(s) => {
                // Short enough for 80 columns: the health when there is one.
                let label = match (s.state.state.as_str(), &s.state.health, s.state.exit_code) {
                    ("running", Some(h), _) => h.clone(),
                    ("exited", _, Some(code)) => format!("exited ({code})"),
                    (state, _, _) => state.to_string(),
                };
                use crate::contract::status::Health as Seed;
                let color = match (s.state.state.as_str(), s.state.health.as_deref()) {
                    ("running", Some("healthy") | None) => t.ok,
                    ("running", Some("starting")) => t.warn,
                    // A system type's row: its script's health.
                    ("system", _) => match s.addon.as_ref().map(|a| a.health) {
                        Some(Seed::Healthy) => t.ok,
                        Some(Seed::Degraded) => t.warn,
                        _ => t.error,
                    },
                    _ => t.error,
                };
                (label, Style::default().fg(color))
            }
        }
    };
    // An addon's row: the contract's values (health once installed, else
    // the installation status), coloured as the container's state.
    let addon_health = |service: &str, vm: &str| -> (String, Style) {
        let (docker_label, style) = health(service);
        // Not read yet: nothing to say.
        if !app.vm_status.contains_key(vm) {
            return (docker_label, style);
        }
        let found = app.status.iter().find(|s| s.state.service == service);
        // A swarm's task: its own state, and the node (VM) it runs on.
        if app.view.swarm {
            return match found {
                Some(s) => (format!("{docker_label} @{}", s.vm), style),
                None => (docker_label, style),
            };
        }
        // A system type's row carries its script's values already.
        let label = match found.and_then(|s| s.addon.as_ref()) {
            Some(values) => values.label(),
            None => crate::contract::status::from_container(found.map(|s| &s.state)).label(),
        };
        (label, style)
    };
    // The selected row's figures on a line of their own under its table.
    let (body, metrics_line) = match app.pane {
        Pane::Addons | Pane::Containers if app.metrics.is_some() => {
            let [table, line] =
                Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(body);
            (table, Some(line))
        }
        _ => (body, None),
    };
    if let Some(area) = metrics_line {
        super::metrics::draw_line(f, app, area);
    }
    // Every list pane is one table: its header, the pane's border and the
    // selection.
    let mut list =
        |f: &mut Frame, rows: Vec<Row<'static>>, widths: &[Constraint], head: &[&'static str]| {
            let mut table = Table::new(rows, widths.to_vec())
                .block(block.clone())
                .row_highlight_style(selected);
            if !head.is_empty() {
                table = table.header(Row::new(head.to_vec()).style(header_style));
            }
            f.render_stateful_widget(table, body, &mut state);
            app.table_offset.set(state.offset());
        };
    match app.pane {
        Pane::Projects => {
            let current = app.projects.get(app.project);
            let rows = app
                .visible_projects()
                .into_iter()
                .map(|p| {
                    Row::new(vec![
                        Cell::from(if Some(p) == current { "●" } else { " " }),
                        Cell::from(p.clone()),
                    ])
                })
                .collect();
            list(f, rows, &[Constraint::Length(2), Constraint::Min(10)], &[]);
        }
        Pane::Addons => {
            let rows = app
                .visible_addons()
                .into_iter()
                .map(|a| {
                    let (h, style) = match addon_health(&a.service, &a.vm) {
                        // No state because its VM cannot be reached: say so.
                        _ if app.vm_unreachable(&a.vm)
                            && !app.status.iter().any(|s| s.state.service == a.service) =>
                        {
                            ("unreachable".to_string(), Style::default().fg(t.error))
                        }
                        other => other,
                    };
                    // An overdue or failed backup, in the warning colour,
                    // ahead of the attached apps.
                    let attached = match app.backup_health.get(&a.service) {
                        Some(b) if b.verdict.is_warning() => Cell::from(Line::from(vec![
                            Span::styled(
                                format!("⚠ backup {} ", b.verdict.as_str()),
                                Style::default().fg(t.warn),
                            ),
                            Span::raw(a.attached.clone()),
                        ])),
                        _ => Cell::from(a.attached.clone()),
                    };
                    Row::new(vec![
                        Cell::from(a.id.clone()),
                        Cell::from(a.type_name.clone()),
                        Cell::from(a.version.clone()),
                        Cell::from(a.plan.clone()),
                        Cell::from(a.vm.clone()),
                        Cell::from(a.port.clone()),
                        Cell::from(Span::styled(h, style)),
                        attached,
                    ])
                })
                .collect();
            let widths = [
                Constraint::Min(19),
                Constraint::Length(8),
                Constraint::Length(7),
                Constraint::Length(8),
                Constraint::Length(5),
                Constraint::Length(5),
                Constraint::Length(16),
                Constraint::Min(8),
            ];
            list(
                f,
                rows,
                &widths,
                &[
                    "ADDON", "TYPE", "VERSION", "PLAN", "VM", "PORT", "STATE", "ATTACHED",
                ],
            );
        }
        Pane::Attachments => {
            let visible = app.visible_attachments();
            // Each column as wide as its longest cell: DOCTOR gets the rest.
            let width = |i: usize, header: &str| {
                let w = visible
                    .iter()
                    .map(|r| r[i].chars().count())
                    .chain([header.len()])
                    .max()
                    .unwrap_or(0);
                Constraint::Length(w as u16)
            };
            let widths = [
                width(0, "APP"),
                width(1, "ADDON"),
                width(2, "AS"),
                width(3, "ACCESS"),
                Constraint::Min(10),
            ];
            let rows = visible
                .into_iter()
                .map(|r| {
                    let mut cells: Vec<Cell> = r.iter().cloned().map(Cell::from).collect();
                    cells.push(Cell::from(app.doctor_cell(r)));
                    Row::new(cells)
                })
                .collect();
            list(
                f,
                rows,
                &widths,
                &["APP", "ADDON", "AS", "ACCESS", "DOCTOR"],
            );
        }
        Pane::Environments if app.view.env_rows.is_empty() => {
            let text = Line::from(Span::styled(
                "no environments in config.yml (declare them under `environments:`)",
                Style::default().fg(t.dim),
            ));
            f.render_widget(Paragraph::new(text).block(block.clone()), body);
        }
        Pane::Environments => {
            use super::envs::draw as envs;
            list(f, envs::pane_rows(app), &envs::widths(), &envs::HEADER);
        }
        Pane::Containers => {
            let now = chrono::Utc::now();
            let rows = app
                .visible_status()
                .into_iter()
                .map(|s| {
                    let (h, style) = health(&s.state.service);
                    let uptime = s.state.uptime(now);
                    Row::new(vec![
                        Cell::from(s.vm.clone()),
                        Cell::from(s.state.service.clone()),
                        Cell::from(Span::styled(h, style)),
                        Cell::from(uptime),
                        Cell::from(s.state.image.clone()),
                        Cell::from(s.state.ports.join(" ")),
                    ])
                })
                .collect();
            let widths = [
                Constraint::Length(8),
                Constraint::Min(14),
                Constraint::Length(16),
                Constraint::Length(7),
                Constraint::Min(12),
                Constraint::Min(10),
            ];
            list(
                f,
                rows,
                &widths,
                &["VM", "SERVICE", "STATE", "UP", "IMAGE", "PORTS"],
            );
        }
        Pane::Logs => draw_logs(f, app, body, block),
    }
    draw_footer(f, app, footer);
    if let Some(env) = &app.env {
        draw_env(f, app, env);
    }
    if app.vms_open {
        super::vms::draw(f, app);
    }
    if app.wizard.is_some() {
        draw_wizard(f, app);
    }
    if let Some(d) = &app.env_dialog {
        super::envs::draw::dialog(f, app, d);
    }
    if let Some(d) = &app.data {
        super::data::draw::draw(f, app, d);
    }
    if let Some(d) = &app.pg {
        super::pg::draw::draw(f, app, d);
    }
    if let Some(p) = &app.host_prompt {
        let area = centered(f.area(), 76, 10);
        f.render_widget(Clear, area);
        let lines = vec![
            Line::from(format!("VM {} ({}) is not in known_hosts.", p.vm, p.label)),
            Line::from(""),
            Line::from(vec![
                Span::raw(format!("{} key fingerprint ", p.algorithm)),
                Span::styled(
                    p.fingerprint.clone(),
                    Style::default().fg(t.accent).add_modifier(Modifier::BOLD),
                ),
            ]),
            Line::from(""),
            Line::from(Span::styled(
                "Check it on the VM (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub).",
                Style::default().fg(t.dim),
            )),
            Line::from(format!(
                "Trust it and add it to {}?",
                p.known_hosts.display()
            )),
            Line::from(""),
            Line::from(Span::styled(
                "y trust · n do not connect",
                Style::default().fg(t.accent),
            )),
        ];
        f.render_widget(
            Paragraph::new(lines).wrap(Wrap { trim: false }).block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(" Unknown SSH host key ")
                    .border_style(Style::default().fg(t.warn)),
            ),
            area,
        );
    }
    if let Some(p) = &app.passphrase {
        let area = centered(f.area(), 76, 8);
        f.render_widget(Clear, area);
        let block = Block::default()
            .borders(Borders::ALL)
            .title(" Passphrase ")
            .border_style(Style::default().fg(t.warn));
        let inner = block.inner(area);
        f.render_widget(block, area);
        let [what, _, input, _, keys] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(1),
        ])
        .areas(inner);
        f.render_widget(
            Paragraph::new(format!(
                "{}the key {} is encrypted:",
                if p.retry { "Wrong passphrase. " } else { "" },
                p.key.display()
            )),
            what,
        );
        f.render_widget(&p.input, input);
        f.render_widget(
            Paragraph::new(Span::styled(
                "Enter unlocks it for this session · Esc: do not connect",
                Style::default().fg(t.dim),
            )),
            keys,
        );
    }
    if app.help {
        draw_help(f, app);
    }
}

fn draw_logs(f: &mut Frame, app: &App, body: Rect, block: Block) {
    let t = &app.theme;
    let logs = &app.logs;
    let height = body.height.saturating_sub(2) as usize;
    let width = body.width.saturating_sub(2).max(1) as usize;
    app.log_height.set(height);
    let visible = logs.visible();
    let end = visible.len().saturating_sub(logs.scroll);
    let line_width = |text: &str| {
        let ts = if logs.timestamps { 13 } else { 0 };
        ts + text.chars().count()
    };
    // From the bottom up, as many lines as fill the pane (wrapped ones
    // take several rows).
    let mut rows = 0;
    let mut start = end;
    while start > 0 && rows < height {
        let w = line_width(&visible[start - 1].text);
        rows += if logs.wrap {
            w.div_ceil(width).max(1)
        } else {
            1
        };
        start -= 1;
    }
    let mut lines: Vec<Line> = Vec::new();
    for l in &visible[start..end] {
        let base = Style::default().fg(if l.stderr { t.warn } else { t.text });
        let mut spans = Vec::new();
        if logs.timestamps {
            spans.push(Span::styled(
                format!("{:<12} ", short_time(&l.time)),
                Style::default().fg(t.dim),
            ));
        }
        match &logs.search {
            Some(re) => {
                let current = logs.current == Some(l.seq);
                let hit = if current {
                    Style::default()
                        .bg(t.accent)
                        .fg(t.selected_fg)
                        .add_modifier(Modifier::BOLD)
                } else {
                    Style::default().bg(t.selected_bg).fg(t.selected_fg)
                };
                let mut at = 0;
                for m in re.find_iter(&l.text) {
                    if m.start() > at {
                        spans.push(Span::styled(l.text[at..m.start()].to_string(), base));
                    }
                    spans.push(Span::styled(m.as_str().to_string(), hit));
                    at = m.end();
                }
                if at < l.text.len() {
                    spans.push(Span::styled(l.text[at..].to_string(), base));
                }
            }
            None => spans.push(Span::styled(l.text.clone(), base)),
        }
        lines.push(Line::from(spans));
    }
    // A line taller than the pane is shown from its end.
    let overflow = rows.saturating_sub(height) as u16;
    let mut p = Paragraph::new(lines).block(block);
    if logs.wrap {
        p = p.wrap(Wrap { trim: false }).scroll((overflow, 0));
    }
    f.render_widget(p, body);
}

fn draw_footer(f: &mut Frame, app: &App, footer: Rect) {
    let t = &app.theme;
    if let Some(prompt) = &app.prompt {
        let sigil = prompt.sigil();
        let [label, input, err] = Layout::horizontal([
            Constraint::Length(sigil.chars().count() as u16),
            Constraint::Min(10),
            Constraint::Length(
                prompt
                    .error
                    .as_ref()
                    .map(|e| e.chars().count() as u16 + 2)
                    .unwrap_or(0)
                    .min(footer.width / 2),
            ),
        ])
        .areas(footer);
        f.render_widget(
            Paragraph::new(Span::styled(sigil, Style::default().fg(t.accent))),
            label,
        );
        f.render_widget(&prompt.input, input);
        if let Some(e) = &prompt.error {
            f.render_widget(
                Paragraph::new(Span::styled(format!(" {e}"), Style::default().fg(t.error))),
                err,
            );
        }
        if prompt.kind == PromptKind::Palette {
            let text = prompt.text();
            let cands = palette::candidates(&text, &app.view, &app.projects, &app.known_backups);
            let word = text.split_whitespace().next().unwrap_or("");
            let usage = palette::COMMANDS
                .iter()
                .find(|(c, _)| *c == word)
                .map(|(_, u)| *u);
            let mut lines: Vec<Line> = Vec::new();
            if let Some(u) = usage {
                lines.push(Line::from(Span::styled(
                    u.to_string(),
                    Style::default().fg(t.dim),
                )));
            }
            for c in cands.iter().take(8) {
                let what = palette::COMMANDS
                    .iter()
                    .find(|(n, _)| n == c && usage.is_none())
                    .map(|(_, u)| format!("  {u}"))
                    .unwrap_or_default();
                lines.push(Line::from(vec![
                    Span::styled(c.clone(), Style::default().fg(t.accent)),
                    Span::styled(what, Style::default().fg(t.dim)),
                ]));
            }
            if cands.len() > 8 {
                lines.push(Line::from(Span::styled(
                    format!("… {} more", cands.len() - 8),
                    Style::default().fg(t.dim),
                )));
            }
            let h = lines.len() as u16 + 2;
            let w = footer.width.min(72);
            let area = Rect {
                x: footer.x,
                y: footer.y.saturating_sub(h),
                width: w,
                height: h.min(footer.y),
            };
            f.render_widget(Clear, area);
            f.render_widget(
                Paragraph::new(lines).block(
                    Block::default()
                        .borders(Borders::ALL)
                        .title(" Tab completes · Enter runs · Esc closes ")
                        .border_style(Style::default().fg(t.accent)),
                ),
                area,
            );
        }
        return;
    }
    let filter = &app.filter[app.pane.index()];
    let km = &app.keymap;
    let hint = if let Some(m) = &app.message {
        match app.deploying {
            // The footer's note may be another task's: the deploy still shows.
            Some(_) if !m.starts_with("up") => format!("[deploying] {m}"),
            _ => m.clone(),
        }
    } else if app.deploying.is_some() {
        "[deploying] up is running".to_string()
    } else if !filter.is_empty() && app.pane != Pane::Logs {
        format!("/{filter} · {} clears", km.first(Action::Back))
    } else if let Some(verdict) = app.selected_doctor_line() {
        // The whole verdict of the selected row: the pane's cell may cut it.
        verdict
    } else if app.pane == Pane::Logs {
        format!(
            "{} search · n/N next · {} keep · {} pause · {} time · {} wrap · {} save · {} back",
            km.first(Action::Search),
            km.first(Action::LogFilter),
            km.first(Action::Pause),
            km.first(Action::Timestamps),
            km.first(Action::Wrap),
            km.first(Action::Save),
            km.first(Action::Back)
        )
    } else if app.pane == Pane::Environments {
        // Each row of the env action table, with its key.
        // As many as the width takes (help lists them all).
        let mut keys: Vec<String> = super::envs::ENV_ACTIONS
            .iter()
            .map(|a| format!("{} {}", km.first(a.key), a.verb))
            .collect();
        keys.push(format!("{} filter", km.first(Action::Filter)));
        let help = format!("{} help", km.first(Action::Help));
        while keys.len() > 1
            && (keys.join(" · ").chars().count() + 3 + help.chars().count()) > footer.width as usize
        {
            keys.pop();
        }
        keys.push(help);
        keys.join(" · ")
    } else {
        format!(
            "{} help · {} commands · {} add · {} attach · {} deploy · {} filter · {} logs · {} quit",
            km.first(Action::Help),
            km.first(Action::Palette),
            km.first(Action::AddAddon),
            km.first(Action::Attach),
            km.first(Action::Deploy),
            km.first(Action::Filter),
            km.first(Action::Open),
            km.first(Action::Quit)
        )
    };
    f.render_widget(
        Paragraph::new(Span::styled(hint, Style::default().fg(t.dim))),
        footer,
    );
}

fn draw_env(f: &mut Frame, app: &App, env: &super::env_view::EnvView) {
    let t = &app.theme;
    let vars = app.view.env.get(&env.app).cloned().unwrap_or_default();
    let area = centered(f.area(), 100, vars.len() as u16 + 4);
    f.render_widget(Clear, area);
    let rows: Vec<Row> = vars
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let value = if v.secret && !env.revealed.contains(&i) {
                Span::styled(MASK, Style::default().fg(t.dim))
            } else {
                Span::raw(v.value.clone())
            };
            Row::new(vec![
                Cell::from(v.name.clone()),
                Cell::from(value),
                Cell::from(Span::styled(v.source.clone(), Style::default().fg(t.dim))),
            ])
        })
        .collect();
    let mut state = TableState::default().with_selected(Some(env.selected));
    f.render_stateful_widget(
        Table::new(
            rows,
            [
                Constraint::Min(18),
                Constraint::Percentage(55),
                Constraint::Min(16),
            ],
        )
        .row_highlight_style(Style::default().bg(t.selected_bg).fg(t.selected_fg))
        .block(
            Block::default()
                .borders(Borders::ALL)
                .title(format!(
                    " env of {} · {} reveals the selected secret · Esc closes ",
                    env.app,
                    app.keymap.first(Action::Reveal)
                ))
                .border_style(Style::default().fg(t.accent)),
        ),
        area,
        &mut state,
    );
}

fn draw_wizard(f: &mut Frame, app: &App) {
    let Some(w) = &app.wizard else {
        return;
    };
    let t = &app.theme;
    let full = f.area();
    let tall = matches!(w.step, Step::Review { .. });
    let height = if tall {
        full.height.saturating_sub(2)
    } else {
        (w.fields.len() as u16 * 2 + 7).min(full.height)
    };
    let area = centered(full, 96, height);
    f.render_widget(Clear, area);
    let outer = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(
            format!(" {} ", w.title),
            Style::default().fg(t.title).add_modifier(Modifier::BOLD),
        ))
        .border_style(Style::default().fg(t.accent));
    let inner = outer.inner(area);
    f.render_widget(outer, area);
    let [content, keys] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
    let dim = Style::default().fg(t.dim);
    let keys_hint = match &w.step {
        Step::Form => {
            "Tab/↑↓ field · ←→ or a letter chooses · Enter next, on the last: plan · Esc cancel"
        }
        Step::Planning => "planning ... (Esc cancels)",
        Step::Review { .. } => "Enter/y apply · j/k, PgDn/PgUp scroll · b/Esc back to the form",
        Step::Applying => "applying: writing every file at once ...",
        Step::Done(_) => "any key closes",
    };
    f.render_widget(Paragraph::new(Span::styled(keys_hint, dim)), keys);
    match &w.step {
        Step::Form | Step::Planning | Step::Applying => {
            let problems = w.problems();
            let mut y = content.y;
            for (i, field) in w.fields.iter().enumerate() {
                if y >= content.y + content.height {
                    break;
                }
                let focused = i == w.focus && matches!(w.step, Step::Form);
                let label_style = if focused {
                    Style::default().fg(t.accent).add_modifier(Modifier::BOLD)
                } else {
                    Style::default().fg(t.text)
                };
                let row = Rect {
                    x: content.x,
                    y,
                    width: content.width,
                    height: 1,
                };
                let [l, v] =
                    Layout::horizontal([Constraint::Length(13), Constraint::Min(10)]).areas(row);
                f.render_widget(
                    Paragraph::new(Span::styled(
                        format!("{}{:>10} ", if focused { "▶" } else { " " }, field.label),
                        label_style,
                    )),
                    l,
                );
                match &field.kind {
                    FieldKind::Choice { options, index } => {
                        let value = options
                            .get(*index)
                            .cloned()
                            .unwrap_or_else(|| "(none)".into());
                        let mut spans = vec![
                            Span::styled(if focused { "‹ " } else { "  " }, dim),
                            Span::styled(
                                value,
                                if focused {
                                    Style::default().bg(t.selected_bg).fg(t.selected_fg)
                                } else {
                                    Style::default().fg(t.text)
                                },
                            ),
                            Span::styled(if focused { " ›" } else { "  " }, dim),
                            Span::styled(format!("  {}/{}", index + 1, options.len()), dim),
                        ];
                        if !field.help.is_empty() {
                            spans.push(Span::styled(format!("  {}", field.help), dim));
                        }
                        f.render_widget(Paragraph::new(Line::from(spans)), v);
                    }
                    FieldKind::Text(input) => {
                        if focused {
                            f.render_widget(&**input, v);
                        } else {
                            let text = field.value();
                            let shown = if text.is_empty() {
                                Span::styled(input.placeholder_text().to_string(), dim)
                            } else {
                                Span::raw(text)
                            };
                            f.render_widget(
                                Paragraph::new(Line::from(vec![Span::raw("  "), shown])),
                                v,
                            );
                        }
                    }
                }
                y += 1;
                let is_text = matches!(field.kind, FieldKind::Text(_));
                let line = Rect {
                    x: content.x,
                    y,
                    width: content.width,
                    height: 1,
                };
                // A typed value's problem shows at once; a choice's when it
                // has the focus; all of them once Enter was pressed.
                let problem = problems
                    .iter()
                    .find(|(l, _)| *l == field.label)
                    .filter(|_| w.tried || (!field.value().is_empty() && (is_text || focused)));
                if y < content.y + content.height {
                    if let Some((_, p)) = problem {
                        f.render_widget(
                            Paragraph::new(Span::styled(
                                format!("{:13}✗ {p}", ""),
                                Style::default().fg(t.error),
                            )),
                            line,
                        );
                    } else if is_text && focused && !field.help.is_empty() {
                        f.render_widget(
                            Paragraph::new(Span::styled(format!("{:13}{}", "", field.help), dim)),
                            line,
                        );
                    }
                }
                y += 1;
            }
            if let Some(e) = &w.error
                && y < content.y + content.height
            {
                f.render_widget(
                    Paragraph::new(Span::styled(e.clone(), Style::default().fg(t.error)))
                        .wrap(Wrap { trim: false }),
                    Rect {
                        x: content.x,
                        y,
                        width: content.width,
                        height: content.y + content.height - y,
                    },
                );
            }
        }
        Step::Review {
            diff,
            files,
            notes,
            scroll,
        } => {
            let mut lines = vec![
                Line::from(Span::styled(
                    format!(
                        "sdtui {}",
                        w.op.as_ref().map(|o| o.describe()).unwrap_or_default()
                    ),
                    Style::default().fg(t.title).add_modifier(Modifier::BOLD),
                )),
                Line::from(Span::styled(
                    format!(
                        "{} file(s) change; nothing is written until you apply:",
                        files.len()
                    ),
                    Style::default().fg(t.title),
                )),
            ];
            for file in files {
                lines.push(Line::from(Span::styled(format!("  {file}"), dim)));
            }
            for n in notes {
                lines.push(Line::from(Span::styled(
                    format!("note: {n}"),
                    Style::default().fg(t.warn),
                )));
            }
            lines.push(Line::from(""));
            for l in diff.lines() {
                let style = if l.starts_with("+++") || l.starts_with("---") {
                    Style::default().fg(t.title).add_modifier(Modifier::BOLD)
                } else if l.starts_with('+') {
                    Style::default().fg(t.ok)
                } else if l.starts_with('-') {
                    Style::default().fg(t.error)
                } else if l.starts_with("@@") {
                    Style::default().fg(t.accent)
                } else {
                    Style::default().fg(t.text)
                };
                lines.push(Line::from(Span::styled(l.to_string(), style)));
            }
            f.render_widget(Paragraph::new(lines).scroll((*scroll, 0)), content);
        }
        Step::Done(s) => {
            f.render_widget(
                Paragraph::new(vec![
                    Line::from(Span::styled(s.clone(), Style::default().fg(t.text))),
                    Line::from(""),
                    Line::from(Span::styled(
                        format!("{} deploys the change.", app.keymap.first(Action::Deploy)),
                        dim,
                    )),
                ])
                .wrap(Wrap { trim: false }),
                content,
            );
        }
    }
}

fn draw_help(f: &mut Frame, app: &App) {
    let t = &app.theme;
    let km = &app.keymap;
    let width = super::keymap::Action::ALL
        .iter()
        .map(|a| km.label(*a).chars().count())
        .max()
        .unwrap_or(8)
        + 1;
    let mut lines: Vec<Line> = vec![Line::from(vec![
        Span::styled(format!("{:<width$}", "1-6"), Style::default().fg(t.accent)),
        Span::raw("jump to a pane"),
    ])];
    let mut context = super::keymap::Context::Global;
    for a in super::keymap::Action::ALL {
        if a.context() != context {
            context = a.context();
            if let Some(h) = context.heading() {
                lines.push(Line::from(Span::styled(
                    h,
                    Style::default().fg(t.title).add_modifier(Modifier::BOLD),
                )));
            }
        }
        lines.push(Line::from(vec![
            Span::styled(
                format!("{:<width$}", km.label(*a)),
                Style::default().fg(t.accent),
            ),
            Span::raw(a.describe()),
        ]));
    }
    let area = centered(f.area(), 84, lines.len() as u16 + 2);
    f.render_widget(Clear, area);
    // Two columns when the screen is too short for one.
    let rows = area.height.saturating_sub(2) as usize;
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" Keys (settings.yml `keys:` changes them) · any key closes ")
        .border_style(Style::default().fg(t.accent));
    if lines.len() <= rows || rows == 0 {
        f.render_widget(Paragraph::new(lines).block(block), area);
    } else {
        // Columns of the screen's height: as many as the keys need and the
        // width takes (36 cells each, two at least); what still does not
        // fit is counted on the last row.
        let fit = (f.area().width.saturating_sub(2) / 36).max(2) as usize;
        let rows = f.area().height.saturating_sub(2).max(1) as usize;
        let cols = lines.len().div_ceil(rows).clamp(2, fit);
        let per = lines.len().div_ceil(cols).min(rows);
        let area = centered(
            f.area(),
            f.area().width.min(80 * cols as u16),
            (per as u16 + 2).min(f.area().height),
        );
        f.render_widget(Clear, area);
        let inner = block.inner(area);
        f.render_widget(block, area);
        if lines.len() > per * cols {
            let hidden = lines.len() - (per * cols - 1);
            lines.truncate(per * cols - 1);
            lines.push(Line::from(Span::styled(
                format!("… {hidden} more: a taller terminal shows them"),
                Style::default().fg(t.dim),
            )));
        }
        let areas = Layout::horizontal(vec![Constraint::Ratio(1, cols as u32); cols])
            .spacing(1)
            .split(inner);
        let mut rest = lines;
        for column in areas.iter() {
            let tail = rest.split_off(per.min(rest.len()));
            f.render_widget(Paragraph::new(std::mem::replace(&mut rest, tail)), *column);
        }
    }
}

pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}
