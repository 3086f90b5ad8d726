//! A project's files, or one of its environments' (src/env): where its
//! config, secrets, state and history are.

use std::path::PathBuf;

use super::{CONFIG_FILE, SECRETS_FILE, STATE_DIR};
use crate::config::{self, Config};
use crate::error::{Result, UserError};

/// A project, or one of its environments run as a project of its own
/// (see src/env): its own folder of generated files, secrets.yml, state,
/// deploy locks and compose projects, read from the project's config.yml.
#[derive(Debug, Clone)]
pub struct Project {
    /// For an environment, `<project>-<env>`: its compose projects and
    /// credentials are named after it.
    pub name: String,
    /// For an environment, `<project>/environments/<env>`.
    pub dir: PathBuf,
    pub env: Option<EnvScope>,
}

/// What makes a [`Project`] an environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvScope {
    pub project: String,
    pub env: String,
    /// The project's folder, where config.yml is.
    pub project_dir: PathBuf,
}

impl Project {
    /// A project (not an environment) in `dir`.
    pub fn plain(name: impl Into<String>, dir: PathBuf) -> Project {
        Project {
            name: name.into(),
            dir,
            env: None,
        }
    }
    pub fn config_path(&self) -> PathBuf {
        match &self.env {
            Some(e) => e.project_dir.join(CONFIG_FILE),
            None => self.dir.join(CONFIG_FILE),
        }
    }
    pub fn secrets_path(&self) -> PathBuf {
        self.dir.join(SECRETS_FILE)
    }
    pub fn state_dir(&self) -> PathBuf {
        self.dir.join(STATE_DIR)
    }
    /// One history per project: an environment's entries go there too.
    pub fn audit_path(&self) -> PathBuf {
        match &self.env {
            Some(e) => e.project_dir.join(STATE_DIR).join("audit.jsonl"),
            None => self.state_dir().join("audit.jsonl"),
        }
    }
    /// An operation as the audit trail names it: `up`, or `env staging: up`.
    pub fn audit_label(&self, operation: &str) -> String {
        match &self.env {
            Some(e) => format!("env {}: {operation}", e.env),
            None => operation.to_string(),
        }
    }
    /// Its config as the engine runs it: the project's, or the
    /// environment's effective one.
    pub fn scoped(&self, config: Config) -> Result<Config> {
        match &self.env {
            None => Ok(config),
            Some(e) => config.for_environment(&e.env).ok_or_else(|| {
                UserError::new(format!(
                    "project {} has no environment \"{}\" any more",
                    e.project, e.env
                ))
                .hint(config::hint_choices(
                    "environments",
                    config.environments.keys(),
                ))
            }),
        }
    }
}
