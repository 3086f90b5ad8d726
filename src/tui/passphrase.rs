//! The dialog that unlocks an encrypted SSH key: typed masked, answered
//! once.

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui_textarea::TextArea;

use super::app::App;

/// The passphrase dialog: typed masked, sent back once.
pub struct PassphrasePrompt {
    pub key: PathBuf,
    pub retry: bool,
    pub input: TextArea<'static>,
    pub(super) reply: std::sync::mpsc::Sender<Option<String>>,
}

impl App {
    /// Enter answers with what was typed, Esc declines.
    pub(super) fn passphrase_key(&mut self, k: KeyEvent) {
        let Some(p) = self.passphrase.as_mut() else {
            return;
        };
        match k.code {
            KeyCode::Enter => {
                let text = p.input.lines().first().cloned().unwrap_or_default();
                let _ = p.reply.send(Some(text));
                self.passphrase = None;
            }
            KeyCode::Esc => {
                let _ = p.reply.send(None);
                self.message = Some(format!("{}: no passphrase given", p.key.display()));
                self.passphrase = None;
            }
            _ => {
                p.input.input(k);
            }
        }
    }
}
