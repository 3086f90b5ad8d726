//! `addons rename`: a plan like every other operation's, with the one
//! thing a config edit cannot do alone: move the instance's secrets.yml
//! entry and keep its volumes.

use super::generate::{self, FileKind};
use super::plan::{FileChange, Plan};
use super::secrets::Secrets;
use super::{CONFIG_FILE, Operation, Project, Workspace, require_addon};
use crate::catalog::Catalog;
use crate::config::{self, edit};
use crate::error::{Result, UserError, io_error};

impl Workspace {
    /// `addons rename`: config.yml's instance and every attachment follow
    /// the new id, prefixes kept; secrets.yml's entry (credentials, ports)
    /// moves to the new name and records the volumes it has used, so the
    /// renamed service mounts the same data.
    pub(super) fn plan_rename(&self, project: &Project, id: &str, new: &str) -> Result<Plan> {
        let config_path = project.config_path();
        let text =
            std::fs::read_to_string(&config_path).map_err(|e| io_error(&config_path, "read", e))?;
        let config = config::parse(&config_path, &text, &self.catalog)?;
        let a = require_addon(&config, id)?;
        let (new_category, new_name) = new.split_once('.').unwrap_or((a.category.as_str(), new));
        for part in [new_category, new_name] {
            if !config::is_dns_label(part) {
                return Err(UserError::new(format!(
                    "new name \"{new}\" for {id} is not a DNS label"
                ))
                .hint(format!(
                    "{}; write NAME, or CATEGORY.NAME to change the category too",
                    config::DNS_LABEL_HINT
                )));
            }
        }
        let new_id = format!("{new_category}.{new_name}");
        if new_id == id {
            return Err(UserError::new(format!("{id} is already called that"))
                .hint("give a different name"));
        }
        if config.addon(&new_id).is_some() {
            return Err(
                UserError::new(format!("addon {new_id} already exists")).hint(format!(
                    "pick a free name; {}",
                    config::hint_choices("addons", config.addon_ids())
                )),
            );
        }
        let keep_prefix =
            (new_category != a.category).then(|| Catalog::default_prefix(&a.category));
        let new_text = edit::rename_addon(
            &text,
            (&a.category, &a.name),
            (new_category, new_name),
            keep_prefix.as_deref(),
        )?;
        let op = Operation::Rename {
            id: id.to_string(),
            new: new.to_string(),
        };
        let new_config = config::parse(&config_path, &new_text, &self.catalog).map_err(|e| {
            UserError::new(format!(
                "{} would make config.yml invalid: {}",
                op.describe(),
                e.message
            ))
            .hint(e.hint.unwrap_or_default())
        })?;
        let mut secrets = Secrets::load(&project.secrets_path())?;
        let mut notes = Vec::new();
        if new_name != a.name {
            let renamed = config::Addon {
                name: new_name.to_string(),
                category: new_category.to_string(),
                ..a.clone()
            };
            let instances = secrets.addons.entry(a.type_name.clone()).or_default();
            if let Some(mut entry) = instances.shift_remove(&a.name) {
                let volumes = entry
                    .shift_remove(generate::VOLUMES_KEY)
                    .unwrap_or_else(|| a.service());
                if volumes != renamed.service() {
                    entry.insert(generate::VOLUMES_KEY.to_string(), volumes.clone());
                }
                instances.insert(new_name.to_string(), entry);
                notes.push(format!(
                    "{new_id} keeps {id}'s data ({volumes}-* volumes), credentials and port; `up` replaces the container {} with {}",
                    a.service(),
                    renamed.service()
                ));
            }
        }
        let mut plan = self.plan_generated(project, &new_config, &secrets, None)?;
        plan.changes.insert(
            0,
            FileChange {
                rel: CONFIG_FILE.into(),
                old: Some(text),
                new: Some(new_text),
                mode: 0o644,
                kind: FileKind::Plain,
            },
        );
        plan.notes = notes;
        Ok(plan)
    }
}
