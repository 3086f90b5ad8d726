//! An app's environment over the Attachments pane, secrets masked until
//! revealed one by one, and its keys.

use std::collections::HashSet;

use crossterm::event::KeyEvent;

use super::app::App;
use super::keymap::Action;

/// An app's environment, secrets masked until revealed one by one.
pub struct EnvView {
    pub app: String,
    pub selected: usize,
    pub revealed: HashSet<usize>,
}

impl App {
    pub(super) fn env_key(&mut self, k: KeyEvent) {
        let Some(env) = self.env.as_mut() else {
            return;
        };
        let n = self.view.env.get(&env.app).map(|v| v.len()).unwrap_or(0);
        match self.keymap.action(&k, None) {
            Some(Action::Down) => env.selected = (env.selected + 1).min(n.saturating_sub(1)),
            Some(Action::Up) => env.selected = env.selected.saturating_sub(1),
            Some(Action::Reveal) if !env.revealed.remove(&env.selected) => {
                env.revealed.insert(env.selected);
            }
            Some(Action::Back) | Some(Action::Quit) | Some(Action::Open) => self.env = None,
            _ => {}
        }
    }
}
