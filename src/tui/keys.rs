//! What keys and the mouse do on the panes; each dialog's own keys live
//! with the dialog.

use std::collections::HashSet;

use crossterm::event::{KeyCode, KeyEvent, MouseButton, MouseEvent, MouseEventKind};

use super::app::{App, PANES, Pane};
use super::env_view::EnvView;
use super::keymap::{Action, Context};
use super::msg::{ContainerAction, Request};
use super::prompt::{Prompt, PromptKind};
use super::wizard::WizardKind;

impl App {
    /// Applies a key; returns the work it asks of the event loop.
    pub fn key(&mut self, k: KeyEvent) -> Option<Request> {
        if self.help {
            self.help = false;
            return None;
        }
        // A note lasts until the next key.
        self.message = None;
        if self.passphrase.is_some() {
            self.passphrase_key(k);
            return None;
        }
        if self.host_prompt.is_some() {
            return self.host_prompt_key(k);
        }
        if self.wizard.is_some() {
            return self.wizard_key(k);
        }
        if self.data.is_some() {
            return self.data_key(k);
        }
        if self.pg.is_some() {
            return self.pg_key(k);
        }
        if self.env_dialog.is_some() {
            return self.env_dialog_key(k);
        }
        if self.prompt.is_some() {
            return self.prompt_key(k);
        }
        if self.env.is_some() {
            self.env_key(k);
            return None;
        }
        if self.vms_open {
            // A read-only overlay: Esc, q or its own key closes it.
            if matches!(
                self.keymap.action(&k, None),
                Some(Action::Back | Action::Quit | Action::Vms)
            ) {
                self.vms_open = false;
            }
            return None;
        }
        if let KeyCode::Char(c @ '1'..='6') = k.code
            && k.modifiers.is_empty()
        {
            self.pane = PANES[c as usize - '1' as usize];
            return None;
        }
        let in_logs = self.pane == Pane::Logs;
        let context = match self.pane {
            Pane::Logs => Some(Context::Logs),
            Pane::Environments => Some(Context::Environments),
            _ => None,
        };
        let action = self.keymap.action(&k, context)?;
        if in_logs && let Some(r) = self.logs_action(action) {
            return r;
        }
        if self.pane == Pane::Environments
            && let Some(r) = self.envs_action(action)
        {
            return r;
        }
        let n = self.rows();
        let page = self.body.get().height.saturating_sub(3).max(1) as usize;
        let sel = &mut self.selected[self.pane.index()];
        match action {
            Action::Quit => self.quit = true,
            Action::Help => self.help = true,
            Action::Vms => self.vms_open = true,
            Action::Filter => {
                let current = self.filter[self.pane.index()].clone();
                self.prompt = Some(Prompt::new(PromptKind::Filter, &current));
            }
            Action::Palette => self.prompt = Some(Prompt::new(PromptKind::Palette, "")),
            Action::Deploy => return self.start_deploy(),
            Action::NextPane => self.pane = PANES[(self.pane.index() + 1) % PANES.len()],
            Action::PrevPane => {
                self.pane = PANES[(self.pane.index() + PANES.len() - 1) % PANES.len()]
            }
            Action::Down => *sel = (*sel + 1).min(n.saturating_sub(1)),
            Action::Up => *sel = sel.saturating_sub(1),
            Action::PageDown => *sel = (*sel + page).min(n.saturating_sub(1)),
            Action::PageUp => *sel = sel.saturating_sub(page),
            Action::Top => *sel = 0,
            Action::Bottom => *sel = n.saturating_sub(1),
            Action::Back => {
                let f = &mut self.filter[self.pane.index()];
                if !f.is_empty() {
                    f.clear();
                } else if self.pane == Pane::Logs {
                    self.pane = self.came_from;
                } else {
                    self.pane = Pane::Addons;
                }
            }
            Action::Open => match self.pane {
                Pane::Projects => {
                    let name = self
                        .visible_projects()
                        .get(self.selected_row())
                        .map(|s| s.to_string())?;
                    return Some(Request::SwitchProject(name));
                }
                Pane::Addons | Pane::Containers => {
                    let target = self.selected_container();
                    return self.follow(target);
                }
                Pane::Attachments => {
                    let app = self
                        .visible_attachments()
                        .get(self.selected_row())
                        .map(|r| r[0].clone())?;
                    self.env = Some(EnvView {
                        app,
                        selected: 0,
                        revealed: HashSet::new(),
                    });
                }
                _ => {}
            },
            Action::AddAddon => self.open_wizard(WizardKind::Add),
            Action::Attach => self.open_wizard(WizardKind::Attach),
            Action::Detach => self.open_wizard(WizardKind::Detach),
            Action::Upgrade => self.open_wizard(WizardKind::Upgrade),
            Action::Remove => self.open_wizard(WizardKind::Remove),
            Action::Backup => {
                let Some(id) = self.selected_addon() else {
                    self.message = Some("no addon on this row (Addons pane)".into());
                    return None;
                };
                // The palette reads the ids again: there is a new one.
                self.known_backups.remove(&id);
                self.message = Some(format!("backup {id}: starting ..."));
                return Some(Request::Backup(id));
            }
            Action::Doctor => return self.start_doctor(None),
            Action::Postgres => {
                let Some(id) = self.selected_addon() else {
                    self.message = Some("no addon on this row (Addons pane)".into());
                    return None;
                };
                if !self
                    .view
                    .addons
                    .iter()
                    .any(|a| a.id == id && a.type_name == "postgres")
                {
                    self.message = Some(format!("{id} is not a postgres instance"));
                    return None;
                }
                // The palette, the verb to choose (Tab lists them); the
                // selected instance is the one it applies to.
                self.prompt = Some(Prompt::new(PromptKind::Palette, "pg "));
                return None;
            }
            Action::Backups | Action::Rotate | Action::Connect => {
                let Some(id) = self.selected_addon() else {
                    self.message = Some("no addon on this row (Addons pane)".into());
                    return None;
                };
                return match action {
                    Action::Backups => self.open_backups(id, None),
                    Action::Rotate => self.open_rotate(id, false),
                    _ => self.open_connect(id),
                };
            }
            Action::Mouse => {
                self.mouse = !self.mouse;
                self.message = Some(format!("mouse {}", if self.mouse { "on" } else { "off" }));
                return Some(Request::Mouse(self.mouse));
            }
            Action::Shell | Action::Restart | Action::StopStart => {
                let Some((vm, container, label)) = self.selected_container() else {
                    self.message =
                        Some("no container on this row (Addons or Containers pane)".into());
                    return None;
                };
                if action == Action::Shell {
                    return Some(Request::Shell {
                        vm,
                        container,
                        label,
                        addon: self.selected_addon(),
                    });
                }
                let running = self
                    .status
                    .iter()
                    .any(|s| s.state.container_id == container && s.state.state == "running");
                let action = match (action, running) {
                    (Action::Restart, _) => ContainerAction::Restart,
                    (_, true) => ContainerAction::Stop,
                    (_, false) => ContainerAction::Start,
                };
                self.message = Some(format!("{} {label} ...", action.verb()));
                return Some(Request::Container {
                    vm,
                    container,
                    label,
                    action,
                });
            }
            Action::Reveal => {
                self.message = Some(
                    "Enter on an attachment shows its app's env; r reveals a secret there".into(),
                )
            }
            _ => {}
        }
        None
    }

    /// Keys of the Logs pane; `None` lets the global map have the key.
    pub(super) fn logs_action(&mut self, action: Action) -> Option<Option<Request>> {
        let height = self.log_height.get().max(1);
        match action {
            Action::Down => self.logs.scroll_by(-1),
            Action::Up => self.logs.scroll_by(1),
            Action::PageDown => self.logs.scroll_by(-(height as isize)),
            Action::PageUp => self.logs.scroll_by(height as isize),
            Action::Top => self.logs.scroll_by(isize::MAX / 2),
            Action::Bottom => self.logs.follow(),
            Action::Pause => self.logs.toggle_pause(),
            Action::Timestamps => self.logs.timestamps = !self.logs.timestamps,
            Action::Wrap => self.logs.wrap = !self.logs.wrap,
            Action::Search => {
                let t = self.logs.search_text.clone();
                self.prompt = Some(Prompt::new(PromptKind::Search, &t));
            }
            Action::LogFilter => {
                let t = self.logs.filter_text.clone();
                self.prompt = Some(Prompt::new(PromptKind::LogFilter, &t));
            }
            Action::NextMatch | Action::PrevMatch => {
                if self.logs.search.is_none() {
                    self.message = Some(format!(
                        "no search yet: {} searches",
                        self.keymap.first(Action::Search)
                    ));
                } else if !self.logs.jump(action == Action::NextMatch, height) {
                    self.message = Some(format!(
                        "no {} match for /{}",
                        if action == Action::NextMatch {
                            "older"
                        } else {
                            "newer"
                        },
                        self.logs.search_text
                    ));
                }
            }
            Action::Save => {
                let name = self.logs.of.clone().unwrap_or_else(|| "logs".into());
                let default = format!(
                    "./{}-{}.log",
                    name,
                    chrono::Local::now().format("%Y%m%d-%H%M%S")
                );
                self.prompt = Some(Prompt::new(PromptKind::SavePath, &default));
            }
            _ => return None,
        }
        Some(None)
    }

    /// Clicks select panes and rows; the wheel moves or scrolls.
    pub fn mouse_event(&mut self, m: MouseEvent) -> Option<Request> {
        if !self.mouse
            || self.wizard.is_some()
            || self.data.is_some()
            || self.pg.is_some()
            || self.env_dialog.is_some()
            || self.prompt.is_some()
            || self.help
        {
            return None;
        }
        let body = self.body.get();
        match m.kind {
            MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => {
                let down = m.kind == MouseEventKind::ScrollDown;
                if self.pane == Pane::Logs {
                    self.logs.scroll_by(if down { -3 } else { 3 });
                } else {
                    let n = self.rows();
                    let sel = &mut self.selected[self.pane.index()];
                    *sel = if down {
                        (*sel + 1).min(n.saturating_sub(1))
                    } else {
                        sel.saturating_sub(1)
                    };
                }
            }
            MouseEventKind::Down(MouseButton::Left) => {
                if m.row == body.y.saturating_sub(1) {
                    // The tab bar: " 1 Projects │ 2 Addons │ ..."
                    let mut x = 0u16;
                    for p in PANES {
                        let w =
                            format!("{} {}", p.index() + 1, p.title()).chars().count() as u16 + 2;
                        if m.column >= x && m.column < x + w {
                            self.pane = p;
                            return None;
                        }
                        x += w + 1;
                    }
                } else if self.pane != Pane::Logs {
                    // Border, then the header row (the Projects list has none).
                    let first = body.y + if self.pane == Pane::Projects { 1 } else { 2 };
                    if m.row >= first && m.row < body.y + body.height.saturating_sub(1) {
                        let i = (m.row - first) as usize + self.table_offset.get();
                        if i < self.rows() {
                            self.selected[self.pane.index()] = i;
                        }
                    }
                }
            }
            _ => {}
        }
        None
    }
}
