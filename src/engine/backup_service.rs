//! The scheduled backup service of an addon with `backup: {every, keep}`:
//! one more compose service on the addon's VM, from the addon's own image
//! (so it needs no sdtui, survives reboots and runs the same on a swarm),
//! running a POSIX sh script made here from the catalog's `backup:`
//! section. Each time the schedule fires it takes the inventory and the
//! dump, drills the dump on a throwaway server inside its own container,
//! writes the manifest in `store::Manifest`'s format into the folder
//! `store::folder` names, and prunes old good scheduled backups.
//!
//! Pure: the script, its 0600 env file (every credential the commands use)
//! and the service are data; nothing here touches the disk.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use indexmap::IndexMap;

use super::compose_yaml::{Deploy, Limits, Resources, Service};
use super::generate::{ENV_DIR, FileKind, GenFile};
use crate::catalog::AddonType;
use crate::config::Addon;
use crate::config::schedule::BackupSchedule;
use crate::error::{Result, UserError};

/// Where the backups folder is mounted in the service.
pub const MOUNT: &str = "/backups";
/// Where its script is mounted.
const SCRIPT_PATH: &str = "/sdtui/backup.sh";
/// The drill server's folder inside the service container, `{DIR}`.
pub const DRILL_DIR: &str = "/tmp/sdtui-drill";
/// The folder (beside the compose file) that holds the scripts.
pub const SCRIPT_DIR: &str = "backup";
/// A label holding the script's digest: compose hashes the service's
/// definition, not the files it mounts, so a changed script must change
/// the definition to recreate the service.
pub const DIGEST_LABEL: &str = "com.superdeploy.backup-script-sha256";
/// Names the addon a backup service belongs to.
pub const OF_LABEL: &str = "com.superdeploy.backup-of";
/// The scheduled service's status file in the backups folder (hidden, so
/// the manifest listing does not read it).
pub const STATUS_FILE: &str = ".schedule-status";

/// `postgres-main_backup`: `_` is in no instance name, so no addon or app
/// service can be called that.
pub fn service_name(addon: &Addon) -> String {
    format!("{}_backup", addon.service())
}

/// The backups folder as the compose file on that VM reaches it: the
/// local engine's release is `.sdtui/deploy/<vm>/current` and its backups
/// `.sdtui/backups/<addon>`; over SSH `~/.sdtui/<project>/<vm>/current`
/// and `~/.sdtui/<project>/backups/<addon>`. Relative paths, resolved from
/// the compose file's folder by Compose v1 and v2 alike.
pub fn folder_from_compose(local: bool, addon_id: &str) -> String {
    if local {
        format!("../../../backups/{addon_id}")
    } else {
        format!("../../backups/{addon_id}")
    }
}

/// What one scheduled addon adds to its VM's files and compose file.
pub struct BackupService {
    pub name: String,
    pub service: Service,
    pub files: Vec<GenFile>,
}

/// Text that is replaced by a shell variable's value at run time.
const SNAPSHOT_MARK: &str = "\u{1}SNAPSHOT\u{1}";

#[allow(clippy::too_many_arguments)]
pub fn service(
    project: &str,
    vm_name: &str,
    local: bool,
    network: &str,
    t: &AddonType,
    addon: &Addon,
    schedule: &BackupSchedule,
    image: &str,
    creds: &IndexMap<String, String>,
    memory: &str,
    cpus: &str,
    dir: &Path,
) -> Result<BackupService> {
    let spec = t.backup.as_ref().ok_or_else(|| {
        UserError::new(format!(
            "addon {} has a backup schedule but {} has no backup: section",
            addon.id(),
            t.name
        ))
    })?;
    let drill = spec.drill_server.as_ref().ok_or_else(|| {
        UserError::new(format!(
            "addon {} has a backup schedule but {} has no backup.drill_server",
            addon.id(),
            t.name
        ))
    })?;
    let name = service_name(addon);
    let mut vars: BTreeMap<String, String> =
        creds.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    vars.insert("SERVICE".into(), addon.service());
    vars.insert("DIR".into(), DRILL_DIR.into());
    vars.insert("SNAPSHOT".into(), SNAPSHOT_MARK.into());
    let secrets: Vec<String> = creds
        .iter()
        .filter(|(k, v)| t.is_secret_credential(k) && !v.is_empty())
        .map(|(_, v)| v.clone())
        .collect();
    let render = |what: &str, tpl: &str| -> Result<String> {
        crate::template::render(tpl, &vars).map_err(|m| {
            UserError::new(format!(
                "addon type {}: backup {what} uses unknown {{{m}}}",
                t.name
            ))
            .hint("the variables are the instance's credentials, {SERVICE} and {DIR}")
        })
    };

    // The env file: the commands' own variables, then service_env over them.
    let mut env: IndexMap<String, String> = IndexMap::new();
    let mut secret_keys = BTreeSet::new();
    let command_envs = [("dump", &spec.dump.env), ("restore", &spec.restore.env)]
        .into_iter()
        .chain(spec.inventory.iter().map(|i| ("inventory", &i.env)));
    for (what, e) in command_envs {
        for (k, tpl) in e {
            let v = render(what, tpl)?;
            if let Some(old) = env.get(k)
                && *old != v
            {
                return Err(UserError::new(format!(
                    "addon type {}: backup commands give {k} two different values",
                    t.name
                ))
                .hint("the scheduled service sets each variable once: use one value, or set it in backup.service_env"));
            }
            if t.template_is_secret(tpl) {
                secret_keys.insert(k.clone());
            }
            env.insert(k.clone(), v);
        }
    }
    for (k, tpl) in &spec.service_env {
        if t.template_is_secret(tpl) {
            secret_keys.insert(k.clone());
        }
        env.insert(k.clone(), render("service_env", tpl)?);
    }
    let env_vars: Vec<(String, String)> = env.into_iter().collect();

    // Every rendered word goes into the script, which is not secret.
    let word = |what: &str, tpl: &str| -> Result<String> {
        let v = render(what, tpl)?;
        if secrets.iter().any(|s| v.contains(s.as_str())) {
            return Err(UserError::new(format!(
                "addon type {}: backup {what} puts a secret on a command line",
                t.name
            ))
            .hint("pass secrets through the command's env: (a variable), never in its argv"));
        }
        Ok(shell_word(&v))
    };
    let argv = |what: &str, a: &[String]| -> Result<String> {
        Ok(a.iter()
            .map(|w| word(what, w))
            .collect::<Result<Vec<_>>>()?
            .join(" "))
    };
    let exports = |what: &str, e: &IndexMap<String, String>| -> Result<String> {
        let mut out = String::new();
        for (k, tpl) in e {
            out.push_str(&format!("export {k}={}; ", word(what, tpl)?));
        }
        Ok(out)
    };

    let fields = schedule.fields();
    let list = |v: &[u16]| {
        v.iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let head = serde_json::json!({
        "addon": addon.id(),
        "type": t.name,
        "image": image,
        "vm": vm_name,
    })
    .to_string();
    let head = head.trim_end_matches('}');
    let mut s = String::new();
    s.push_str(&format!(
        "#!/bin/sh\n# Generated by sdtui for project {project}: scheduled backups of {} ({}), every {} (cron \"{}\", UTC), keeping {} good ones.\n# Do not edit: change config.yml and run `sdtui sync`.\n",
        addon.id(),
        t.name,
        schedule.every,
        schedule.cron,
        schedule.keep
    ));
    let consts = [
        ("ADDON", addon.id()),
        ("INSTANCE", addon.name.clone()),
        ("EXT", spec.extension.clone()),
        ("KEEP", schedule.keep.to_string()),
        ("CRON", schedule.cron.clone()),
        ("MINUTES", list(&fields.minutes)),
        ("HOURS", list(&fields.hours)),
        ("DAYS", list(&fields.days)),
        ("MONTHS", list(&fields.months)),
        ("WEEKDAYS", list(&fields.weekdays)),
        ("DAYS_ANY", (fields.days_any as u8).to_string()),
        ("WEEKDAYS_ANY", (fields.weekdays_any as u8).to_string()),
        ("DIR", MOUNT.to_string()),
        ("DRILL_DIR", DRILL_DIR.to_string()),
        ("MANIFEST_HEAD", head.to_string()),
        (
            "HOLD",
            (spec.inventory.as_ref().is_some_and(|i| i.hold) as u8).to_string(),
        ),
        (
            "HAS_INVENTORY",
            (spec.inventory.is_some() as u8).to_string(),
        ),
        (
            "RESTORE_BY_COMMAND",
            (spec.restore.command.is_some() as u8).to_string(),
        ),
        ("FAULT", fault(addon)),
    ];
    for (k, v) in consts {
        s.push_str(&format!("{k}={}\n", shell_word(&v)));
    }
    s.push_str(&format!(
        "dump_cmd() {{ {}; }}\n",
        argv("dump", &spec.dump.command)?
    ));
    match &spec.inventory {
        Some(inv) => {
            s.push_str(&format!(
                "inventory_cmd() {{ {}; }}\n",
                argv("inventory", &inv.command)?
            ));
            let input = match &inv.input {
                Some(i) => render("inventory input", i)?,
                None => String::new(),
            };
            if input.contains("\nSDTUI_INPUT\n")
                || secrets.iter().any(|x| input.contains(x.as_str()))
            {
                return Err(UserError::new(format!(
                    "addon type {}: backup.inventory.input cannot go into the backup script",
                    t.name
                )));
            }
            s.push_str(&format!(
                "inventory_input() {{ cat <<'SDTUI_INPUT'\n{}{}SDTUI_INPUT\n}}\n",
                input,
                if input.is_empty() || input.ends_with('\n') {
                    ""
                } else {
                    "\n"
                }
            ));
        }
        None => s.push_str("inventory_cmd() { :; }\ninventory_input() { :; }\n"),
    }
    s.push_str(&format!(
        "restore_cmd() {{ {}; }}\n",
        match &spec.restore.command {
            Some(c) => argv("restore", c)?,
            None => ":".into(),
        }
    ));
    s.push_str(&format!(
        "drill_env() {{ {}:; }}\n",
        exports("drill_server.env", &drill.env)?
    ));
    s.push_str(&format!(
        "drill_start() {{ {}; }}\ndrill_ready() {{ {}; }}\ndrill_stop() {{ {}; }}\n",
        argv("drill_server.start", &drill.start)?,
        argv("drill_server.ready", &drill.ready)?,
        argv("drill_server.stop", &drill.stop)?
    ));
    s.push_str(SCRIPT_BODY);

    let digest = {
        let d = ring::digest::digest(&ring::digest::SHA256, s.as_bytes());
        data_encoding::HEXLOWER.encode(d.as_ref())
    };
    let script_rel = dir.join(SCRIPT_DIR).join(format!("{name}.sh"));
    let env_rel = dir.join(ENV_DIR).join(format!("{name}.env"));
    let mut env_content = format!(
        "# Generated by sdtui for the scheduled backups of addon {}. Do not edit: run `sdtui sync`.\n",
        addon.id()
    );
    for (k, v) in &env_vars {
        let value = super::generate::env_value(v).map_err(|why| {
            UserError::new(format!(
                "backup service of {}: the value of {k} {why}",
                addon.id()
            ))
        })?;
        env_content.push_str(&format!("{k}={value}\n"));
    }
    let files = vec![
        GenFile {
            rel: script_rel,
            content: s,
            mode: 0o644,
            kind: FileKind::Plain,
        },
        GenFile {
            rel: env_rel,
            content: env_content,
            mode: 0o600,
            kind: FileKind::Env(secret_keys),
        },
    ];
    let labels = IndexMap::from([
        ("com.superdeploy.project".to_string(), project.to_string()),
        (OF_LABEL.to_string(), addon.id()),
        (DIGEST_LABEL.to_string(), digest),
    ]);
    let service = Service {
        image: image.to_string(),
        restart: "unless-stopped".into(),
        entrypoint: vec!["sh".into(), SCRIPT_PATH.into()],
        env_file: vec![format!("{ENV_DIR}/{name}.env")],
        volumes: vec![
            format!("{}:{MOUNT}", folder_from_compose(local, &addon.id())),
            format!("./{SCRIPT_DIR}/{name}.sh:{SCRIPT_PATH}:ro"),
        ],
        networks: vec![network.to_string()],
        // The drill restores the whole dataset: it needs what the addon's
        // plan gives the addon, no more.
        deploy: Some(Deploy {
            resources: Resources {
                limits: Limits {
                    memory: memory.to_string(),
                    cpus: cpus.to_string(),
                },
            },
        }),
        labels,
        ..Service::default()
    };
    Ok(BackupService {
        name,
        service,
        files,
    })
}

/// Debug builds only: `SDTUI_FAULT_SCHEDULED_TRUNCATE=<addon id>` makes that
/// addon's service cut each dump in half before its checksum, so tests can
/// prove the drill catches a broken dump in the scheduled path.
fn fault(addon: &Addon) -> String {
    #[cfg(debug_assertions)]
    if std::env::var("SDTUI_FAULT_SCHEDULED_TRUNCATE")
        .ok()
        .as_deref()
        == Some(&addon.id())
    {
        return "truncate".into();
    }
    let _ = addon;
    String::new()
}

/// A word the shell reads back as `v`: single-quoted, with the runtime
/// `{SNAPSHOT}` left outside the quotes as `"$SNAPSHOT"`.
fn shell_word(v: &str) -> String {
    let quote = |p: &str| format!("'{}'", p.replace('\'', "'\\''"));
    v.split(SNAPSHOT_MARK)
        .map(quote)
        .collect::<Vec<_>>()
        .join("\"$SNAPSHOT\"")
}

/// The part of the script that is the same for every type.
const SCRIPT_BODY: &str = include_str!("backup_service.sh");

#[cfg(test)]
mod tests {
    use super::shell_word;

    #[test]
    fn words_are_quoted_and_the_snapshot_is_left_to_the_shell() {
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(
            shell_word(&format!("--snapshot={}", super::SNAPSHOT_MARK)),
            "'--snapshot='\"$SNAPSHOT\"''"
        );
    }
}
