//! The one-line input at the bottom — filter, log search and keep, the
//! `:` palette, a file name — and its keys.

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui_textarea::TextArea;

use super::app::App;
use super::msg::Request;
use super::palette;
use super::theme::Theme;
use super::wizard::{Wizard, WizardKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    Filter,
    Search,
    LogFilter,
    Palette,
    SavePath,
}

/// A one-line input at the bottom (filter, search, palette, file name).
pub struct Prompt {
    pub kind: PromptKind,
    pub input: TextArea<'static>,
    pub error: Option<String>,
}

impl Prompt {
    pub(super) fn new(kind: PromptKind, value: &str) -> Prompt {
        let mut input = TextArea::new(vec![value.to_string()]);
        input.move_cursor(ratatui_textarea::CursorMove::End);
        Prompt {
            kind,
            input,
            error: None,
        }
    }
    pub fn text(&self) -> String {
        self.input.lines().first().cloned().unwrap_or_default()
    }
    pub fn sigil(&self) -> &'static str {
        match self.kind {
            PromptKind::Filter => "/",
            PromptKind::Search => "search /",
            PromptKind::LogFilter => "keep &",
            PromptKind::Palette => ":",
            PromptKind::SavePath => "save to ",
        }
    }
}

impl App {
    pub(super) fn prompt_key(&mut self, k: KeyEvent) -> Option<Request> {
        let prompt = self.prompt.as_mut()?;
        let pane = self.pane.index();
        match k.code {
            KeyCode::Esc => {
                match prompt.kind {
                    PromptKind::Filter => self.filter[pane].clear(),
                    PromptKind::LogFilter => {
                        let _ = self.logs.set_filter("");
                    }
                    _ => {}
                }
                self.prompt = None;
                return None;
            }
            KeyCode::Tab if prompt.kind == PromptKind::Palette => {
                // `restore ADDON ` completes backup ids: read them first
                // (a task); the next Tab offers them.
                let text = prompt.text();
                let words: Vec<&str> = text.split_whitespace().collect();
                if let ["restore", addon] = words[..]
                    && text.ends_with(' ')
                    && !self.known_backups.contains_key(addon)
                    && self.view.addons.iter().any(|a| a.id == addon)
                {
                    self.message = Some(format!("reading the backups of {addon} ..."));
                    return Some(Request::Data(super::data::DataRequest::ListBackups(
                        addon.to_string(),
                    )));
                }
                if let Some(done) =
                    palette::complete(&text, &self.view, &self.projects, &self.known_backups)
                {
                    *prompt = Prompt::new(PromptKind::Palette, &done);
                }
                return None;
            }
            KeyCode::Enter => {
                let text = prompt.text();
                let kind = prompt.kind;
                match kind {
                    PromptKind::Filter => {}
                    PromptKind::LogFilter => {
                        if let Err(e) = self.logs.set_filter(&text) {
                            prompt.error = Some(e);
                            return None;
                        }
                    }
                    PromptKind::Search => {
                        let height = self.log_height.get().max(1);
                        match self.logs.set_search(&text, height) {
                            Ok(n) => {
                                self.message =
                                    Some(format!("/{text}: {n} matches; n older, N newer"))
                            }
                            Err(e) => {
                                prompt.error = Some(e);
                                return None;
                            }
                        }
                    }
                    PromptKind::SavePath => {
                        self.prompt = None;
                        return Some(Request::SaveLogs(PathBuf::from(text)));
                    }
                    PromptKind::Palette => match palette::parse(&text) {
                        Ok(cmd) => {
                            self.prompt = None;
                            return self.palette_command(cmd);
                        }
                        Err(e) => {
                            prompt.error = Some(e);
                            return None;
                        }
                    },
                }
                self.prompt = None;
                return None;
            }
            _ => {
                prompt.input.input(k);
                prompt.error = None;
            }
        }
        // Filters follow the typing.
        let text = prompt.text();
        match prompt.kind {
            PromptKind::Filter => {
                self.filter[pane] = text;
                self.selected[pane] = 0;
            }
            PromptKind::LogFilter => {
                if let Err(e) = self.logs.set_filter(&text) {
                    prompt.error = Some(e);
                }
            }
            _ => {}
        }
        None
    }

    pub(super) fn palette_command(&mut self, cmd: palette::Command) -> Option<Request> {
        use palette::Command as C;
        match cmd {
            C::Operation(op) => {
                self.wizard = Some(Wizard::command(op.clone(), &self.view));
                return Some(Request::Plan(op));
            }
            C::Remove(id) => {
                let mut w = Wizard::new(WizardKind::Remove, &self.view, Some(&id), None);
                if w.value("addon") != id {
                    self.message = Some(format!("no addon {id}"));
                    return None;
                }
                w.focus = 1;
                self.wizard = Some(w);
            }
            C::Up => return self.start_deploy(),
            C::Backups(id)
            | C::Restore {
                addon: id,
                backup: None,
                ..
            }
            | C::Rotate { addon: id, .. }
            | C::Connect(id)
                if !self.view.addons.iter().any(|a| a.id == id) =>
            {
                self.message = Some(format!("no addon {id}"));
            }
            C::Backups(id) => return self.open_backups(id, None),
            C::Restore {
                addon,
                backup: None,
                into,
            } => return self.open_backups(addon, into),
            C::Restore {
                addon,
                backup: Some(backup),
                into,
            } => return self.open_restore(addon, backup, into),
            C::Rotate { addon, readonly } => return self.open_rotate(addon, readonly),
            C::Connect(id) => return self.open_connect(id),
            C::Doctor(Some(app)) if !self.view.apps.contains(&app) => {
                self.message = Some(format!("no app {app}; apps: {}", self.view.apps.join(", ")));
            }
            C::Doctor(app) => return self.start_doctor(app),
            C::Env { action, env, arg } => return self.open_env_command(action, env, arg),
            C::Pg(words) => {
                match super::pg::PgOp::parse(&words, self.selected_addon().as_deref()) {
                    Ok(op) => return self.open_pg(op),
                    Err(e) => self.message = Some(e),
                }
            }
            C::Logs(name) => {
                let service = self
                    .view
                    .addons
                    .iter()
                    .find(|a| a.id == name)
                    .map(|a| a.service.clone())
                    .unwrap_or(name);
                let target = self.container_of(&service);
                return self.follow(target);
            }
            C::Theme(name) => {
                let dir = self.config_dir.as_ref().map(|d| d.join("themes"));
                match Theme::load(&name, dir.as_deref()) {
                    Ok(t) => {
                        self.theme = t;
                        self.message =
                            Some(format!("theme {name} (settings.yml `theme:` keeps it)"));
                    }
                    Err(e) => self.message = Some(format!("theme: {e}")),
                }
            }
            C::Mouse(on) => {
                self.mouse = on;
                return Some(Request::Mouse(on));
            }
            C::Project(name) => {
                if !self.projects.contains(&name) {
                    self.message = Some(format!(
                        "no project {name}; projects: {}",
                        self.projects.join(", ")
                    ));
                    return None;
                }
                return Some(Request::SwitchProject(name));
            }
            C::Help => self.help = true,
            C::Vms => self.vms_open = true,
            C::Quit => self.quit = true,
        }
        None
    }
}
