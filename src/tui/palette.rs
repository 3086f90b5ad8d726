//! The `:` palette: one line for every engine operation and console
//! command, with completion from the catalog and config.yml.
//! `:attach databases.analytics api as ANALYTICS readonly`

use std::collections::BTreeMap;

use crate::config::Access;
use crate::engine::Operation;

use super::project_view::ProjectView;

/// What a palette line asks for.
#[derive(Debug, Clone)]
pub enum Command {
    /// A change to config.yml: planned, shown, then applied.
    Operation(Operation),
    /// Remove needs the name typed back: its wizard opens filled in.
    Remove(String),
    Up,
    /// The addon's backups list.
    Backups(String),
    /// A backup back into its addon (or `into` another): the plan, then
    /// the name typed back. Without a backup, the list to pick one from.
    Restore {
        addon: String,
        backup: Option<String>,
        into: Option<String>,
    },
    Rotate {
        addon: String,
        readonly: bool,
    },
    Connect(String),
    /// `pg VERB [ADDON] [ARG]`: a Postgres operation, planned then
    /// reviewed; without ADDON, the selected row's (the words as typed).
    Pg(Vec<String>),
    /// Every attachment (of one app) proven from inside its app.
    Doctor(Option<String>),
    /// `env VERB [ENV] [SERVICE|FORMAT]`: a row of the Environments pane's
    /// action table; ENV defaults to the selected one.
    Env {
        action: &'static super::envs::EnvAction,
        env: Option<String>,
        arg: Option<String>,
    },
    Logs(String),
    Theme(String),
    /// The VMs overlay.
    Vms,
    Mouse(bool),
    Project(String),
    Help,
    Quit,
}

pub const COMMANDS: &[(&str, &str)] = &[
    (
        "add",
        "add TYPE NAME [plan P] [version V] [vm VM] [option NAME=VALUE ...]",
    ),
    (
        "attach",
        "attach ADDON APP [as PREFIX] [readonly|readwrite]",
    ),
    ("detach", "detach ADDON APP [as PREFIX]"),
    ("upgrade", "upgrade ADDON [plan P] [version V]"),
    (
        "rename",
        "rename ADDON NEW-NAME: keeps its data, credentials and prefixes",
    ),
    ("remove", "remove ADDON"),
    ("sync", "sync: regenerate every file from config.yml"),
    ("up", "up: deploy the project"),
    (
        "backups",
        "backups ADDON: its backups, size, checksum, drill",
    ),
    (
        "restore",
        "restore ADDON [BACKUP] [into OTHER]: plan, then the name typed back",
    ),
    (
        "rotate",
        "rotate ADDON [readonly]: a new password, apps restarted",
    ),
    (
        "connect",
        "connect ADDON: its client (psql ...) in this terminal",
    ),
    (
        "doctor",
        "doctor [APP]: prove each attachment from inside its app",
    ),
    (
        "pg",
        "pg VERB [ADDON] [NAME|VERSION]: follow|fork NAME, unfollow, promote, upgrade [VERSION], abort-upgrade; ADDON defaults to the selected row",
    ),
    (
        "env",
        "env start|stop|status|config|restart|init|deploy|dry-run|export|logs [ENV] [FORMAT|SERVICE]: as its keys do",
    ),
    ("logs", "logs ADDON|SERVICE"),
    ("project", "project NAME"),
    ("theme", "theme dark|light|high-contrast"),
    ("mouse", "mouse on|off"),
    (
        "vms",
        "vms: every VM's connection, engine, disk and containers",
    ),
    ("help", "help"),
    ("quit", "quit"),
];

fn usage(cmd: &str) -> String {
    COMMANDS
        .iter()
        .find(|(c, _)| *c == cmd)
        .map(|(_, u)| format!("usage: {u}"))
        .unwrap_or_default()
}

/// `key value` pairs after the positional words (`plan small vm db`).
fn pairs<'a>(
    cmd: &str,
    words: &'a [String],
    keys: &[&str],
) -> Result<Vec<(&'a str, &'a str)>, String> {
    let mut out = Vec::new();
    let mut it = words.iter();
    while let Some(k) = it.next() {
        if !keys.contains(&k.as_str()) {
            return Err(format!("{cmd}: unexpected \"{k}\"; {}", usage(cmd)));
        }
        let v = it
            .next()
            .ok_or_else(|| format!("{cmd}: {k} needs a value; {}", usage(cmd)))?;
        out.push((k.as_str(), v.as_str()));
    }
    Ok(out)
}

pub fn parse(line: &str) -> Result<Command, String> {
    let words: Vec<String> = shlex::split(line).ok_or("unbalanced quotes")?;
    let Some((cmd, rest)) = words.split_first() else {
        return Err("type a command; Tab completes".into());
    };
    let need = |n: usize| -> Result<(), String> {
        if rest.len() < n {
            Err(usage(cmd))
        } else {
            Ok(())
        }
    };
    let get = |pairs: &[(&str, &str)], k: &str| {
        pairs
            .iter()
            .find(|(key, _)| *key == k)
            .map(|(_, v)| v.to_string())
    };
    Ok(match cmd.as_str() {
        "add" => {
            need(2)?;
            let p = pairs(cmd, &rest[2..], &["plan", "version", "vm", "option"])?;
            let mut options = Vec::new();
            for (k, v) in p.iter().filter(|(k, _)| *k == "option") {
                options.push(crate::config::parse_option(v).map_err(|e| format!("add: {k} {e}"))?);
            }
            Command::Operation(Operation::Add {
                type_name: rest[0].clone(),
                name: rest[1].clone(),
                category: None,
                plan: get(&p, "plan"),
                version: get(&p, "version"),
                vm: get(&p, "vm"),
                options,
                with_deps: false,
            })
        }
        "attach" => {
            need(2)?;
            let mut access = Access::Readwrite;
            let mut tail: Vec<String> = Vec::new();
            for w in &rest[2..] {
                match w.as_str() {
                    "readonly" => access = Access::Readonly,
                    "readwrite" => access = Access::Readwrite,
                    _ => tail.push(w.clone()),
                }
            }
            let p = pairs(cmd, &tail, &["as"])?;
            Command::Operation(Operation::Attach {
                id: rest[0].clone(),
                app: rest[1].clone(),
                prefix: get(&p, "as"),
                access,
            })
        }
        "detach" => {
            need(2)?;
            let p = pairs(cmd, &rest[2..], &["as"])?;
            Command::Operation(Operation::Detach {
                id: rest[0].clone(),
                app: rest[1].clone(),
                prefix: get(&p, "as"),
            })
        }
        "upgrade" => {
            need(1)?;
            let p = pairs(cmd, &rest[1..], &["plan", "version"])?;
            if p.is_empty() {
                return Err(format!(
                    "upgrade: say the new plan or version; {}",
                    usage(cmd)
                ));
            }
            Command::Operation(Operation::Upgrade {
                id: rest[0].clone(),
                plan: get(&p, "plan"),
                version: get(&p, "version"),
            })
        }
        "rename" => {
            need(2)?;
            if rest.len() > 2 {
                return Err(format!(
                    "rename: unexpected \"{}\"; {}",
                    rest[2],
                    usage(cmd)
                ));
            }
            Command::Operation(Operation::Rename {
                id: rest[0].clone(),
                new: rest[1].clone(),
            })
        }
        "remove" => {
            need(1)?;
            Command::Remove(rest[0].clone())
        }
        "sync" => Command::Operation(Operation::Sync),
        "up" | "deploy" => Command::Up,
        "backups" => {
            need(1)?;
            if rest.len() > 1 {
                return Err(format!(
                    "backups: unexpected \"{}\"; {}",
                    rest[1],
                    usage(cmd)
                ));
            }
            Command::Backups(rest[0].clone())
        }
        "restore" => {
            need(1)?;
            // `restore A`, `restore A B`, `restore A into O`, `restore A B into O`.
            let (backup, tail) = match rest.get(1).map(String::as_str) {
                None | Some("into") => (None, &rest[1..]),
                Some(b) => (Some(b.to_string()), &rest[2..]),
            };
            let p = pairs(cmd, tail, &["into"])?;
            Command::Restore {
                addon: rest[0].clone(),
                backup,
                into: get(&p, "into"),
            }
        }
        "rotate" => {
            need(1)?;
            let readonly = match rest.get(1).map(String::as_str) {
                None => false,
                Some("readonly") if rest.len() == 2 => true,
                Some(other) => {
                    return Err(format!("rotate: unexpected \"{other}\"; {}", usage(cmd)));
                }
            };
            Command::Rotate {
                addon: rest[0].clone(),
                readonly,
            }
        }
        "connect" => {
            need(1)?;
            if rest.len() > 1 {
                return Err(format!(
                    "connect: unexpected \"{}\"; {}",
                    rest[1],
                    usage(cmd)
                ));
            }
            Command::Connect(rest[0].clone())
        }
        "pg" => {
            need(1)?;
            Command::Pg(rest.to_vec())
        }
        "doctor" => {
            if rest.len() > 1 {
                return Err(format!(
                    "doctor: unexpected \"{}\"; {}",
                    rest[1],
                    usage(cmd)
                ));
            }
            Command::Doctor(rest.first().cloned())
        }
        "env" => {
            need(1)?;
            let action = super::envs::env_action(&rest[0]).ok_or_else(|| {
                format!(
                    "env: unknown \"{}\"; env takes {}",
                    rest[0],
                    super::envs::ENV_ACTIONS
                        .iter()
                        .map(|a| a.verb)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
            // A third word: export's format or one service's logs.
            let takes_arg = matches!(
                action.kind,
                super::envs::EnvKind::Logs | super::envs::EnvKind::Choose(_)
            );
            let max = if takes_arg { 3 } else { 2 };
            if rest.len() > max {
                return Err(format!("env: unexpected \"{}\"; {}", rest[max], usage(cmd)));
            }
            Command::Env {
                action,
                env: rest.get(1).cloned(),
                arg: rest.get(2).cloned(),
            }
        }
        "logs" => {
            need(1)?;
            Command::Logs(rest[0].clone())
        }
        "project" => {
            need(1)?;
            Command::Project(rest[0].clone())
        }
        "theme" => {
            need(1)?;
            Command::Theme(rest[0].clone())
        }
        "mouse" => match rest.first().map(|s| s.as_str()) {
            Some("on") => Command::Mouse(true),
            Some("off") => Command::Mouse(false),
            _ => return Err(usage(cmd)),
        },
        "vms" => Command::Vms,
        "help" => Command::Help,
        "quit" | "q" => Command::Quit,
        other => {
            return Err(format!(
                "unknown command \"{other}\"; commands: {}",
                COMMANDS
                    .iter()
                    .map(|(c, _)| *c)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    })
}

/// Candidates for the word being typed (the last one, possibly empty).
pub fn candidates(
    line: &str,
    view: &ProjectView,
    projects: &[String],
    backups: &BTreeMap<String, Vec<String>>,
) -> Vec<String> {
    let mut words: Vec<&str> = line.split_whitespace().collect();
    if line.is_empty() || line.ends_with(' ') {
        words.push("");
    }
    let current = words.last().copied().unwrap_or("");
    let position = words.len() - 1;
    let addons = || view.addons.iter().map(|a| a.id.clone()).collect::<Vec<_>>();
    let apps = || view.apps.clone();
    let type_of_addon = |id: &str| {
        view.addons
            .iter()
            .find(|a| a.id == id)
            .map(|a| a.type_name.clone())
    };
    let info = |t: &str| view.types.iter().find(|i| i.name == t).cloned();
    let previous = if position >= 1 {
        words[position - 1]
    } else {
        ""
    };
    let all: Vec<String> = if position == 0 {
        COMMANDS.iter().map(|(c, _)| c.to_string()).collect()
    } else {
        match (words[0], position) {
            ("add", 1) => view.types.iter().map(|t| t.name.clone()).collect(),
            ("add", 2) => vec![],
            ("add", _) => match previous {
                "plan" => info(words[1]).map(|t| t.plans).unwrap_or_default(),
                "version" => info(words[1]).map(|t| t.versions).unwrap_or_default(),
                "vm" => view.vms.clone(),
                "option" => info(words[1])
                    .map(|t| t.options.iter().map(|o| format!("{}=", o.0)).collect())
                    .unwrap_or_default(),
                _ => vec![
                    "plan".into(),
                    "version".into(),
                    "vm".into(),
                    "option".into(),
                ],
            },
            ("attach" | "detach", 1) => addons(),
            ("attach" | "detach", 2) => apps(),
            ("attach" | "detach", _) if previous == "as" => vec![],
            ("attach", _) => vec!["as".into(), "readonly".into(), "readwrite".into()],
            ("detach", _) => vec!["as".into()],
            (
                "upgrade" | "remove" | "logs" | "rename" | "backups" | "restore" | "rotate"
                | "connect",
                1,
            ) => addons(),
            ("rotate", 2) => vec!["readonly".into()],
            ("doctor", 1) => apps(),
            ("pg", 1) => super::pg::VERBS.iter().map(|v| v.to_string()).collect(),
            ("pg", 2) => view
                .addons
                .iter()
                .filter(|a| a.type_name == "postgres")
                .map(|a| a.id.clone())
                .collect(),
            ("pg", 3) if words[1] == "upgrade" => view
                .types
                .iter()
                .find(|t| t.name == "postgres")
                .map(|t| t.versions.clone())
                .unwrap_or_default(),
            // Another instance of the same type takes a restore `into`.
            ("restore", _) if previous == "into" => {
                let t = type_of_addon(words[1]);
                view.addons
                    .iter()
                    .filter(|a| Some(&a.type_name) == t.as_ref())
                    .map(|a| a.id.clone())
                    .collect()
            }
            ("restore", 2) => {
                // Newest first, as the list shows them.
                let mut ids: Vec<String> = backups
                    .get(words[1])
                    .map(|ids| ids.iter().rev().cloned().collect())
                    .unwrap_or_default();
                ids.push("into".into());
                ids
            }
            ("restore", 3) if !words[2].is_empty() && words[2] != "into" => vec!["into".into()],
            ("upgrade", _) => {
                let t = type_of_addon(words[1]).and_then(|t| info(&t));
                match previous {
                    "plan" => t.map(|t| t.plans).unwrap_or_default(),
                    "version" => t.map(|t| t.versions).unwrap_or_default(),
                    _ => vec!["plan".into(), "version".into()],
                }
            }
            ("env", 1) => super::envs::ENV_ACTIONS
                .iter()
                .map(|a| a.verb.to_string())
                .collect(),
            ("env", 2) => view.env_rows.iter().map(|e| e.name.clone()).collect(),
            ("env", 3) => match super::envs::env_action(words[1]).map(|a| a.kind) {
                Some(super::envs::EnvKind::Choose(options)) => {
                    options.iter().map(|o| o.to_string()).collect()
                }
                _ => vec![],
            },
            ("project", 1) => projects.to_vec(),
            ("theme", 1) => vec!["dark".into(), "light".into(), "high-contrast".into()],
            ("mouse", 1) => vec!["on".into(), "off".into()],
            _ => vec![],
        }
    };
    all.into_iter().filter(|c| c.starts_with(current)).collect()
}

/// Tab: the word completed as far as the candidates agree; a single
/// candidate is completed with a space after it.
pub fn complete(
    line: &str,
    view: &ProjectView,
    projects: &[String],
    backups: &BTreeMap<String, Vec<String>>,
) -> Option<String> {
    let cands = candidates(line, view, projects, backups);
    let first = cands.first()?;
    let common = cands.iter().fold(first.clone(), |acc, c| {
        acc.chars()
            .zip(c.chars())
            .take_while(|(a, b)| a == b)
            .map(|(a, _)| a)
            .collect()
    });
    let start = if line.ends_with(' ') || line.is_empty() {
        line.len()
    } else {
        line.rfind(' ').map(|i| i + 1).unwrap_or(0)
    };
    let mut out = format!("{}{}", &line[..start], common);
    if cands.len() == 1 && !common.ends_with('=') {
        out.push(' ');
    }
    (out != line).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_issue_example_and_refuses_with_usage() {
        match parse("attach databases.analytics api as ANALYTICS readonly").unwrap() {
            Command::Operation(Operation::Attach {
                id,
                app,
                prefix,
                access,
            }) => {
                assert_eq!(id, "databases.analytics");
                assert_eq!(app, "api");
                assert_eq!(prefix.as_deref(), Some("ANALYTICS"));
                assert_eq!(access, Access::Readonly);
            }
            other => panic!("{other:?}"),
        }
        let e = parse("attach databases.analytics").unwrap_err();
        assert!(e.contains("usage: attach ADDON APP"), "{e}");
        let e = parse("upgrade databases.primary plan").unwrap_err();
        assert!(e.contains("plan needs a value"), "{e}");
        assert!(parse("frobnicate").unwrap_err().contains("unknown command"));
    }

    #[test]
    fn rename_takes_the_instance_and_its_new_name() {
        match parse("rename databases.analytics warehouse").unwrap() {
            Command::Operation(Operation::Rename { id, new }) => {
                assert_eq!(
                    (id.as_str(), new.as_str()),
                    ("databases.analytics", "warehouse")
                );
            }
            other => panic!("{other:?}"),
        }
        let e = parse("rename databases.analytics").unwrap_err();
        assert!(e.contains("usage: rename ADDON NEW-NAME"), "{e}");
        let e = parse("rename databases.analytics a b").unwrap_err();
        assert!(e.contains("unexpected \"b\""), "{e}");
    }
}
