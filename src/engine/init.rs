//! `sdtui init NAME --environments dev,staging`: a project that runs from
//! the first command. Besides config.yml (the `local` VM, a postgres
//! `databases.primary` at the catalog's default version, and each named
//! environment), the plan writes the user's files the environments name:
//! `deploy/init-compose.yml` (an idempotent migration through
//! `${DATABASE_URL}`, in the database's own image), `deploy/app-compose.yml`
//! (a placeholder app in the same image that proves the database, with a
//! health check) and `deploy/<env>.env` per environment (its variables, read
//! through `env_file:`). Pure: text in, text out; the engine plans and
//! applies them with config.yml as one set.

use std::path::PathBuf;

use crate::catalog::Catalog;
use crate::config::{self, DNS_LABEL_HINT};
use crate::error::{Result, UserError};

const CONFIG: &str = include_str!("init/config.yml");
const INIT_COMPOSE: &str = include_str!("init/init-compose.yml");
const APP_COMPOSE: &str = include_str!("init/app-compose.yml");
const ENV_FILE: &str = include_str!("init/env.env");

/// The database type the project starts with.
const DATABASE_TYPE: &str = "postgres";
/// The environment that gets the small plan (a laptop's development copy).
const DEV: &str = "dev";
const DEV_PLAN: &str = "small";

pub const INIT_FILE: &str = "deploy/init-compose.yml";
pub const DEPLOYMENT_FILE: &str = "deploy/app-compose.yml";

/// Where environment `env`'s variables are written.
pub fn env_file(env: &str) -> String {
    format!("deploy/{env}.env")
}

/// One file of the user's that init writes beside config.yml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserFile {
    pub rel: PathBuf,
    pub content: String,
    pub mode: u32,
}

/// The environment names of `--environments`, checked: each a DNS label,
/// none twice, at least one.
pub fn check_names(names: &[String]) -> Result<()> {
    if names.is_empty() {
        return Err(UserError::new("--environments names no environment")
            .hint("list them separated by commas, e.g. --environments dev,staging"));
    }
    for (i, name) in names.iter().enumerate() {
        if !config::is_dns_label(name) {
            let what = if name.is_empty() {
                format!(
                    "the {} environment name in --environments is empty",
                    ordinal(i + 1)
                )
            } else {
                format!("environment name \"{name}\" in --environments is not a DNS label")
            };
            return Err(UserError::new(what)
            .hint(format!(
                "{DNS_LABEL_HINT} (it names the environment's containers and folder), e.g. dev,staging,production"
            )));
        }
        if names[..i].contains(name) {
            return Err(UserError::new(format!(
                "environment {name} is named twice in --environments"
            ))
            .hint("name each environment once"));
        }
    }
    Ok(())
}

fn ordinal(n: usize) -> String {
    match n {
        1 => "first".into(),
        2 => "second".into(),
        3 => "third".into(),
        _ => format!("{n}th"),
    }
}

/// config.yml's text and the user files it names, for project `project`
/// with `environments` (already checked by [`check_names`]).
pub fn render(
    catalog: &Catalog,
    project: &str,
    environments: &[String],
) -> Result<(String, Vec<UserFile>)> {
    check_names(environments)?;
    let t = catalog.require(DATABASE_TYPE)?;
    let version = t.default_version.clone();
    let image = t.image_for(&version);
    let plans: Vec<&str> = t.plans.keys().map(String::as_str).collect();
    let blocks: Vec<String> = environments.iter().map(|e| block(e)).collect();
    let config_text = CONFIG
        .replace("{project}", project)
        .replace("{environments}", &environments.join(", "))
        .replace("{first}", &environments[0])
        .replace("{type}", DATABASE_TYPE)
        .replace("{version}", &version)
        .replace("{plan}", &t.default_plan)
        .replace("{plans}", &format!("   # {}", plans.join(" | ")))
        .replace("{blocks}\n", &blocks.join("\n"));
    let mut files = vec![
        UserFile {
            rel: INIT_FILE.into(),
            content: INIT_COMPOSE
                .replace("{project}", project)
                .replace("{image}", &image),
            mode: 0o644,
        },
        UserFile {
            rel: DEPLOYMENT_FILE.into(),
            content: APP_COMPOSE
                .replace("{project}", project)
                .replace("{image}", &image),
            mode: 0o644,
        },
    ];
    for env in environments {
        files.push(UserFile {
            rel: env_file(env).into(),
            content: ENV_FILE
                .replace("{env}", env)
                .replace("{log_level}", if env == DEV { "debug" } else { "info" }),
            // Yours to put secrets in: private from the start.
            mode: 0o600,
        });
    }
    Ok((config_text, files))
}

/// One environment's block under `environments:`.
fn block(env: &str) -> String {
    let addons = if env == DEV {
        format!(
            "    addons:                    # {env}'s overrides of the instances above
      databases:
        primary:
          plan: {DEV_PLAN}
"
        )
    } else {
        format!(
            "    # addons:                  # {env}'s overrides of the instances above, e.g.
    #   databases:
    #     primary:
    #       plan: large
    #       options: {{max_connections: 300}}
    #   caches:
    #     session:             # an instance of {env}'s own
    #       type: redis
    #       plan: small
"
        )
    };
    format!(
        "  {env}:
{addons}    env_file: {file}   # {env}'s variables, NAME=value a line
    # variables:               # or here (a name in one place only)
    #   FEATURE_FLAGS: beta
    init:                      # run to completion, in order, before the deployment
      - {INIT_FILE}
    deployment: {DEPLOYMENT_FILE}
    # init_timeout: 5m         # per init container (default 300 s)
    # vm: local                # where it runs (default: the project's VMs)
",
        file = env_file(env)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn names_are_dns_labels_once_each() {
        assert!(check_names(&names(&["dev", "staging"])).is_ok());
        let e = check_names(&names(&["dev", "Stag_ing"])).unwrap_err();
        assert!(e.message.contains("\"Stag_ing\""), "{}", e.message);
        let e = check_names(&names(&["dev", ""])).unwrap_err();
        assert!(
            e.message.contains("second environment name"),
            "{}",
            e.message
        );
        let e = check_names(&names(&["dev", "dev"])).unwrap_err();
        assert!(e.message.contains("twice"), "{}", e.message);
        assert!(check_names(&[]).is_err());
    }

    #[test]
    fn the_config_parses_with_its_files_planned() {
        let catalog = Catalog::load(None).unwrap();
        let (text, files) = render(&catalog, "demo", &names(&["dev", "staging"])).unwrap();
        let planned: config::Planned = files
            .iter()
            .map(|f| (f.rel.clone(), f.content.clone()))
            .collect();
        let cfg = config::parse_planned(
            std::path::Path::new("/nowhere/demo/config.yml"),
            &text,
            &catalog,
            &planned,
        )
        .unwrap();
        assert_eq!(cfg.addons[0].plan, "standard");
        let dev = &cfg.environments["dev"];
        assert_eq!(dev.addons[0].plan, "small");
        assert_eq!(cfg.environments["staging"].addons[0].plan, "standard");
        assert_eq!(dev.variables["APP_MESSAGE"], "hello from dev");
        assert_eq!(dev.init.len(), 1);
        assert!(dev.deployment.is_some());
        assert!(
            files[0].content.contains("image: postgres:15 "),
            "{}",
            files[0].content
        );
    }
}
