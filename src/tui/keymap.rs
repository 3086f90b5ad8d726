//! The keymap: every action the console knows, its default keys, and the
//! user's changes from settings.yml (`keys: {attach: A, quit: [q, ctrl-c]}`).
//! Help (`?`) is drawn from the live map, so it never disagrees with it.

use std::collections::HashMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::Deserialize;

/// Where an action applies: a pane's own keys shadow global ones there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Context {
    Global,
    Logs,
    Environments,
}

impl Context {
    /// The heading help shows above a pane's own keys.
    pub fn heading(self) -> Option<&'static str> {
        match self {
            Context::Global => None,
            Context::Logs => Some("in the Logs pane"),
            Context::Environments => Some("on an environment (Environments pane)"),
        }
    }
}

macro_rules! actions {
    ($($variant:ident $name:literal $ctx:ident [$($key:literal),*] $what:literal;)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Action { $($variant),* }

        impl Action {
            pub const ALL: &'static [Action] = &[$(Action::$variant),*];
            pub fn name(self) -> &'static str {
                match self { $(Action::$variant => $name),* }
            }
            pub fn context(self) -> Context {
                match self { $(Action::$variant => Context::$ctx),* }
            }
            fn default_keys(self) -> &'static [&'static str] {
                match self { $(Action::$variant => &[$($key),*]),* }
            }
            pub fn describe(self) -> &'static str {
                match self { $(Action::$variant => $what),* }
            }
        }
    };
}

actions! {
    NextPane "next-pane" Global ["tab"] "next pane";
    PrevPane "prev-pane" Global ["shift-tab"] "previous pane";
    Down "down" Global ["j", "down"] "down";
    Up "up" Global ["k", "up"] "up";
    Top "top" Global ["g", "home"] "first row";
    Bottom "bottom" Global ["G", "end"] "last row";
    PageDown "page-down" Global ["ctrl-d", "pagedown"] "page down";
    PageUp "page-up" Global ["ctrl-u", "pageup"] "page up";
    Open "open" Global ["enter"] "logs, env or project";
    Back "back" Global ["esc"] "back out, clear a filter";
    Filter "filter" Global ["/"] "filter the list (!inverts)";
    Palette "palette" Global [":"] "command palette";
    Deploy "deploy" Global ["u"] "deploy the project (up)";
    AddAddon "add" Global ["n"] "add an addon";
    Attach "attach" Global ["a"] "attach an addon to an app";
    Detach "detach" Global ["d"] "detach an addon";
    Upgrade "upgrade" Global ["U"] "change plan or version";
    Remove "remove" Global ["x"] "remove an addon";
    Backup "backup" Global ["b"] "back up + restore drill";
    Backups "backups" Global ["B"] "backups list, restore one";
    Rotate "rotate" Global ["C"] "rotate the credentials";
    Connect "connect" Global ["c"] "connect with its client";
    Doctor "doctor" Global ["D"] "doctor: prove attachments";
    Postgres "postgres" Global ["P"] "pg follow/promote/fork/upgrade";
    Reveal "reveal" Global ["r"] "reveal or mask a secret";
    Restart "restart" Global ["R"] "restart the container";
    StopStart "stop-start" Global ["S"] "stop or start container";
    Shell "shell" Global ["e"] "shell (addon: client)";
    Vms "vms" Global ["V"] "VMs: state, engine, disk";
    Mouse "mouse" Global ["m"] "mouse on or off";
    Help "help" Global ["?"] "this help";
    Quit "quit" Global ["q", "ctrl-c"] "quit";
    Search "search" Logs ["/"] "search (regex)";
    NextMatch "next-match" Logs ["n"] "older match";
    PrevMatch "prev-match" Logs ["N"] "newer match";
    LogFilter "log-filter" Logs ["&"] "keep matching lines";
    Pause "pause" Logs ["p", "space"] "pause or follow";
    Timestamps "timestamps" Logs ["t"] "timestamps on or off";
    Wrap "wrap" Logs ["w"] "wrap on or off";
    Save "save" Logs ["s"] "save to a file";
    EnvStart "env-start" Environments ["s"] "start the environment";
    EnvStop "env-stop" Environments ["X"] "stop it, y/N (data kept)";
    EnvConfig "env-config" Environments ["y"] "its effective config";
    EnvRestart "env-restart" Environments ["R"] "restart its deployment, y/N";
    EnvInit "env-init" Environments ["i"] "run its init files (table)";
    EnvDeploy "env-deploy" Environments ["d"] "deploy its deployment file";
    EnvDryRun "env-dry-run" Environments ["D"] "its variables and where they land";
    EnvExport "env-export" Environments ["x"] "export compose, pod or env";
    EnvLogs "env-logs" Environments ["l"] "logs of all its containers";
    EnvMigrate "env-migrate" Environments ["M"] "run its migrate command (table)";
}

/// A key as written in settings: `q`, `G`, `ctrl-c`, `shift-tab`, `enter`,
/// `f5`, `space` ...
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
    pub alt: bool,
}

impl Key {
    pub fn parse(s: &str) -> Result<Key, String> {
        let mut ctrl = false;
        let mut alt = false;
        let mut rest = s;
        loop {
            let lower = rest.to_ascii_lowercase();
            if rest.chars().count() > 1 && lower.starts_with("ctrl-") {
                ctrl = true;
                rest = &rest[5..];
            } else if rest.chars().count() > 1 && lower.starts_with("alt-") {
                alt = true;
                rest = &rest[4..];
            } else {
                break;
            }
        }
        let code = if rest.chars().count() == 1 {
            KeyCode::Char(rest.chars().next().unwrap_or(' '))
        } else {
            match rest.to_ascii_lowercase().as_str() {
                "enter" | "return" => KeyCode::Enter,
                "esc" | "escape" => KeyCode::Esc,
                "tab" => KeyCode::Tab,
                "shift-tab" | "backtab" => KeyCode::BackTab,
                "space" => KeyCode::Char(' '),
                "backspace" => KeyCode::Backspace,
                "delete" | "del" => KeyCode::Delete,
                "up" => KeyCode::Up,
                "down" => KeyCode::Down,
                "left" => KeyCode::Left,
                "right" => KeyCode::Right,
                "home" => KeyCode::Home,
                "end" => KeyCode::End,
                "pageup" | "pgup" => KeyCode::PageUp,
                "pagedown" | "pgdn" => KeyCode::PageDown,
                f if f.starts_with('f')
                    && f[1..].parse::<u8>().is_ok_and(|n| (1..=12).contains(&n)) =>
                {
                    KeyCode::F(f[1..].parse().unwrap_or(1))
                }
                _ => {
                    return Err(format!(
                        "\"{s}\" is not a key: write a character (q, G, /), or ctrl-x, alt-x, \
                         enter, esc, tab, shift-tab, space, up, down, left, right, home, end, \
                         pageup, pagedown, f1-f12"
                    ));
                }
            }
        };
        Ok(Key { code, ctrl, alt })
    }

    fn of(ev: &KeyEvent) -> Key {
        Key {
            code: ev.code,
            ctrl: ev.modifiers.contains(KeyModifiers::CONTROL),
            alt: ev.modifiers.contains(KeyModifiers::ALT),
        }
    }

    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCode::Char(' ') => "Space".to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Enter => "Enter".into(),
            KeyCode::Esc => "Esc".into(),
            KeyCode::Tab => "Tab".into(),
            KeyCode::BackTab => "Shift-Tab".into(),
            KeyCode::Backspace => "Backspace".into(),
            KeyCode::Delete => "Delete".into(),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::Left => "←".into(),
            KeyCode::Right => "→".into(),
            KeyCode::Home => "Home".into(),
            KeyCode::End => "End".into(),
            KeyCode::PageUp => "PgUp".into(),
            KeyCode::PageDown => "PgDn".into(),
            KeyCode::F(n) => format!("F{n}"),
            other => format!("{other:?}"),
        };
        match (self.ctrl, self.alt) {
            (true, _) => format!("Ctrl-{base}"),
            (_, true) => format!("Alt-{base}"),
            _ => base,
        }
    }
}

/// One action's keys in settings.yml: a key or a list of keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum KeysSetting {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct Keymap {
    keys: HashMap<Action, Vec<Key>>,
    by_key: HashMap<(Context, Key), Action>,
}

impl Default for Keymap {
    fn default() -> Self {
        Keymap::new(&indexmap::IndexMap::new()).expect("the default keymap is valid")
    }
}

impl Keymap {
    /// The defaults with the user's changes; an unknown action, a bad key or
    /// a key bound twice in one context is an error naming them.
    pub fn new(changes: &indexmap::IndexMap<String, KeysSetting>) -> Result<Keymap, String> {
        let mut keys: HashMap<Action, Vec<Key>> = Action::ALL
            .iter()
            .map(|a| {
                let k = a
                    .default_keys()
                    .iter()
                    .map(|s| Key::parse(s).expect("default keys parse"))
                    .collect();
                (*a, k)
            })
            .collect();
        for (name, setting) in changes {
            let action = Action::ALL
                .iter()
                .find(|a| a.name() == name)
                .ok_or_else(|| {
                    format!(
                        "keys: unknown action \"{name}\"; actions are {}",
                        Action::ALL
                            .iter()
                            .map(|a| a.name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })?;
            let list = match setting {
                KeysSetting::One(k) => vec![k.clone()],
                KeysSetting::Many(ks) => ks.clone(),
            };
            let parsed = list
                .iter()
                .map(|k| Key::parse(k).map_err(|e| format!("keys.{name}: {e}")))
                .collect::<Result<Vec<_>, _>>()?;
            keys.insert(*action, parsed);
        }
        let mut by_key = HashMap::new();
        for action in Action::ALL {
            for k in &keys[action] {
                if let Some(other) = by_key.insert((action.context(), *k), *action) {
                    return Err(format!(
                        "keys: {} is bound to both {} and {}; give one of them another key",
                        k.label(),
                        other.name(),
                        action.name()
                    ));
                }
            }
        }
        Ok(Keymap { keys, by_key })
    }

    /// The action of a key: a pane's own keys (`pane`) first.
    pub fn action(&self, ev: &KeyEvent, pane: Option<Context>) -> Option<Action> {
        let mut k = Key::of(ev);
        // Terminals send `G` with shift; the character already says it.
        if let KeyCode::Char(_) = k.code {
            k.alt = ev.modifiers.contains(KeyModifiers::ALT);
        }
        if let Some(p) = pane
            && let Some(a) = self.by_key.get(&(p, k))
        {
            return Some(*a);
        }
        self.by_key.get(&(Context::Global, k)).copied()
    }

    /// `j, ↓` for help and the footer.
    pub fn label(&self, action: Action) -> String {
        self.keys[&action]
            .iter()
            .map(|k| k.label())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The first key of an action, for short hints.
    pub fn first(&self, action: Action) -> String {
        self.keys[&action]
            .first()
            .map(|k| k.label())
            .unwrap_or_else(|| "(unbound)".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(c: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(c, m)
    }

    #[test]
    fn defaults_changes_and_conflicts() {
        let km = Keymap::default();
        assert_eq!(
            km.action(&press(KeyCode::Char('c'), KeyModifiers::CONTROL), None),
            Some(Action::Quit)
        );
        assert_eq!(
            km.action(&press(KeyCode::Char('G'), KeyModifiers::SHIFT), None),
            Some(Action::Bottom)
        );
        // `/` searches in the logs and filters elsewhere.
        let slash = press(KeyCode::Char('/'), KeyModifiers::NONE);
        assert_eq!(km.action(&slash, Some(Context::Logs)), Some(Action::Search));
        assert_eq!(km.action(&slash, None), Some(Action::Filter));
        // An environment's keys only on the Environments pane.
        let s = press(KeyCode::Char('s'), KeyModifiers::NONE);
        assert_eq!(
            km.action(&s, Some(Context::Environments)),
            Some(Action::EnvStart)
        );
        assert_eq!(km.action(&s, None), None);

        let mut changes = indexmap::IndexMap::new();
        changes.insert("attach".to_string(), KeysSetting::One("A".into()));
        let km = Keymap::new(&changes).unwrap();
        assert_eq!(
            km.action(&press(KeyCode::Char('A'), KeyModifiers::SHIFT), None),
            Some(Action::Attach)
        );
        assert_eq!(
            km.action(&press(KeyCode::Char('a'), KeyModifiers::NONE), None),
            None
        );

        changes.insert("quit".to_string(), KeysSetting::Many(vec!["A".into()]));
        let e = Keymap::new(&changes).unwrap_err();
        assert!(e.contains("A is bound to both"), "{e}");
        let mut bad = indexmap::IndexMap::new();
        bad.insert("atach".to_string(), KeysSetting::One("A".into()));
        assert!(
            Keymap::new(&bad)
                .unwrap_err()
                .contains("unknown action \"atach\"")
        );
        let mut bad = indexmap::IndexMap::new();
        bad.insert("quit".to_string(), KeysSetting::One("ctrl-".into()));
        assert!(Keymap::new(&bad).unwrap_err().contains("is not a key"));
    }
}
