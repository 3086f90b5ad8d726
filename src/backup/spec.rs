//! The catalog's `backup:` section: how a type is dumped, restored and
//! checked, as argv templates over the instance's credentials (the same
//! `{USER}`/`{PASSWORD}` variables `provision_with` uses), so a user-defined
//! type can bring its own.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde::Deserialize;

use crate::error::{Result, UserError};
use crate::template;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupSpec {
    /// The backup file's suffix (`pgdump`, `rdb`, `sql`).
    pub extension: String,
    /// Run inside the addon's container; its standard output is the backup.
    pub dump: ClientCommand,
    pub restore: RestoreSpec,
    /// What a drill compares between the source at dump time and the
    /// restored copy. Absent: a drill only proves the backup restores.
    pub inventory: Option<InventorySpec>,
    /// For the scheduled backup service, a container of its own on the
    /// compose network: variables that point every command above at the
    /// addon (`PGHOST: "{SERVICE}"`, its password). They override the
    /// commands' own `env`.
    #[serde(default)]
    pub service_env: IndexMap<String, String>,
    /// A throwaway server of the same type that the backup service starts
    /// inside its own container to drill each scheduled backup.
    pub drill_server: Option<DrillServer>,
}

/// How the backup service runs a throwaway server on `{DIR}` (a fresh
/// folder in its container, removed afterwards). Each command is an argv;
/// `$SDTUI_BACKUP` holds the backup file's path while they run, for types
/// whose restore puts a file in place before the server starts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrillServer {
    /// Starts the server in the background (it must return).
    pub start: Vec<String>,
    /// Exits 0 once the server answers; retried for up to 120 s.
    pub ready: Vec<String>,
    /// Stops it.
    pub stop: Vec<String>,
    /// Variables that point the restore and inventory commands at it;
    /// they override `service_env`.
    #[serde(default)]
    pub env: IndexMap<String, String>,
}

/// An argv inside the container, never a shell line, with its environment
/// (where passwords go: never on a command line).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientCommand {
    pub command: Vec<String>,
    #[serde(default)]
    pub env: IndexMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreSpec {
    /// A client that reads the backup on its standard input, into the
    /// running server.
    pub command: Option<Vec<String>>,
    #[serde(default)]
    pub env: IndexMap<String, String>,
    /// Run before `command`: empties what the backup recreates, so objects
    /// made after the backup do not survive a restore.
    pub reset: Option<Vec<String>>,
    /// Instead of a client: the server is stopped, the backup is put at
    /// this path inside the container, and the server started again (an
    /// RDB snapshot is read only at start).
    pub file: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InventorySpec {
    pub command: Vec<String>,
    #[serde(default)]
    pub env: IndexMap<String, String>,
    /// Written to the command's standard input.
    #[serde(default)]
    pub input: Option<String>,
    /// The session stays open while the dump runs, so the inventory and the
    /// dump see one snapshot: its line `snapshot<TAB>ID` becomes
    /// `{SNAPSHOT}` in the dump command, and a line `.` ends the inventory.
    /// Without it the inventory is taken before and after the dump, and a
    /// count that changed in between may lie anywhere between the two.
    #[serde(default)]
    pub hold: bool,
}

/// One rendered command: argv and `NAME=value` environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
}

/// Renders argv and env templates over an instance's credentials (plus any
/// `extra` such as `{SNAPSHOT}`); names the type on an unknown variable.
pub fn render(
    type_name: &str,
    argv: &[String],
    env: &IndexMap<String, String>,
    vars: &BTreeMap<String, String>,
) -> Result<Rendered> {
    let one = |s: &str| {
        template::render(s, vars).map_err(|m| {
            UserError::new(format!("{type_name}: backup: uses unknown {{{m}}}"))
                .hint("the variables are the instance's credentials (addons info ADDON)")
        })
    };
    Ok(Rendered {
        argv: argv.iter().map(|a| one(a)).collect::<Result<_>>()?,
        env: env
            .iter()
            .map(|(k, v)| Ok((k.clone(), one(v)?)))
            .collect::<Result<_>>()?,
    })
}

impl BackupSpec {
    /// Checks what a type's file says beyond its shape: one way to restore,
    /// and env names that are names.
    pub fn check(&self, type_name: &str) -> std::result::Result<(), String> {
        if self.dump.command.is_empty() {
            return Err(format!("{type_name}: backup.dump.command is empty"));
        }
        match (&self.restore.command, &self.restore.file) {
            (Some(c), None) if !c.is_empty() => {}
            (None, Some(f)) if f.starts_with('/') => {}
            (None, Some(f)) => {
                return Err(format!(
                    "{type_name}: backup.restore.file \"{f}\" must be an absolute path in the container"
                ));
            }
            _ => {
                return Err(format!(
                    "{type_name}: backup.restore needs exactly one of command: or file:"
                ));
            }
        }
        if !self
            .extension
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.')
            || self.extension.is_empty()
        {
            return Err(format!(
                "{type_name}: backup.extension \"{}\" must be letters and digits",
                self.extension
            ));
        }
        if let Some(d) = &self.drill_server
            && (d.start.is_empty() || d.ready.is_empty() || d.stop.is_empty())
        {
            return Err(format!(
                "{type_name}: backup.drill_server needs start, ready and stop commands"
            ));
        }
        let envs = self
            .dump
            .env
            .keys()
            .chain(self.restore.env.keys())
            .chain(self.service_env.keys())
            .chain(self.drill_server.iter().flat_map(|d| d.env.keys()))
            .chain(self.inventory.iter().flat_map(|i| i.env.keys()));
        for name in envs {
            if !crate::config::is_env_name(name) {
                return Err(format!(
                    "{type_name}: backup env name \"{name}\" is not a variable name"
                ));
            }
        }
        Ok(())
    }
}
