//! The dialog for an SSH host key nobody has vouched for yet, and its
//! keys.

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent};

use super::app::App;
use super::msg::Request;

/// An SSH host key nobody has vouched for yet: the user decides.
#[derive(Debug, Clone)]
pub struct HostPrompt {
    pub vm: String,
    pub label: String,
    pub host: String,
    pub port: u16,
    pub fingerprint: String,
    pub algorithm: String,
    pub key: russh::keys::PublicKey,
    pub known_hosts: PathBuf,
}

impl App {
    /// `y` trusts the key and connects, `n` or Esc leaves the VM out.
    pub(super) fn host_prompt_key(&mut self, k: KeyEvent) -> Option<Request> {
        let p = self.host_prompt.as_ref()?;
        match k.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => {
                let p = self.host_prompt.take()?;
                self.message = Some(format!(
                    "VM {}: trusting {} and connecting ...",
                    p.vm, p.fingerprint
                ));
                Some(Request::TrustHost(Box::new(p)))
            }
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => {
                self.message = Some(format!(
                    "VM {}: host key not trusted; its containers are not shown",
                    p.vm
                ));
                self.host_prompt = None;
                None
            }
            _ => None,
        }
    }
}
