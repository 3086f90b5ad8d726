//! Environments (`environments:` in config.yml): each runs as a project of
//! its own — its own folder of generated files and secrets.yml under
//! `<project>/environments/<env>/`, its own compose projects
//! (`<project>-<env>-<vm>`), credentials, volumes and deploy locks — so the
//! engine's generate, ports, secrets, up, status and down work on it
//! unchanged. Ports are shared out across the project and all its
//! environments (each one's allocation is a neighbour of the others').
//! `ops` holds what `sdtui env ...` does.

pub mod export;
pub mod files;
pub mod live;
pub mod migrate;
pub mod ops;
mod phases;
pub mod pod;
pub mod run;
pub mod substitute;
pub mod vars;

use crate::engine::{CONFIG_FILE, EnvScope, Project, Workspace};
use crate::error::{Result, UserError};

/// Where environments' generated files and state live, in the project.
pub const ENVIRONMENTS_DIR: &str = "environments";

impl Project {
    /// The environment `env` of this project (or of the project this
    /// environment belongs to), unchecked.
    pub fn environment(&self, env: &str) -> Project {
        let (project, project_dir) = match &self.env {
            Some(e) => (e.project.clone(), e.project_dir.clone()),
            None => (self.name.clone(), self.dir.clone()),
        };
        Project {
            name: format!("{project}-{env}"),
            dir: project_dir.join(ENVIRONMENTS_DIR).join(env),
            env: Some(EnvScope {
                project,
                env: env.to_string(),
                project_dir,
            }),
        }
    }

    /// The project itself, when this is one of its environments.
    pub fn base(&self) -> Project {
        match &self.env {
            Some(e) => Project::plain(e.project.clone(), e.project_dir.clone()),
            None => self.clone(),
        }
    }

    /// The environment's name, when this is one.
    pub fn env_name(&self) -> Option<&str> {
        self.env.as_ref().map(|e| e.env.as_str())
    }
}

/// The compose project one of an environment's files (`deployment`, an
/// init file's name) runs as on `vm`; `scoped` is the environment's
/// project name (`<project>-<env>`).
pub fn file_project(scoped: &str, vm: &str, file: &str) -> String {
    format!("{}-{file}", crate::deploy::compose_project(scoped, vm))
}

impl Workspace {
    /// The environment `env` of `project`, as config.yml declares it.
    pub fn environment(&self, project: &Project, env: &str) -> Result<Project> {
        let config = crate::config::load(&project.config_path(), &self.catalog)?;
        if !config.environments.contains_key(env) {
            return Err(UserError::new(format!(
                "project {} has no environment \"{env}\"",
                project.name
            ))
            .hint(if config.environments.is_empty() {
                "declare it under `environments:` in config.yml".to_string()
            } else {
                crate::config::hint_choices("environments", config.environments.keys())
            }));
        }
        let scoped = project.environment(env);
        // Its compose projects are `<project>-<env>-<vm>`: a project named
        // `<project>-<env>` would share them.
        if self.root.join(&scoped.name).join(CONFIG_FILE).is_file() {
            return Err(UserError::new(format!(
                "environment {env} of project {} and the project {} would share containers (both are named {})",
                project.name, scoped.name, scoped.name
            ))
            .hint("rename the environment in config.yml, or the other project's folder"));
        }
        Ok(scoped)
    }
}
