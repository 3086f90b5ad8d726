//! `db migrate --env ENV`: the user's migrate command (`migrate:` under the
//! environment in config.yml) run once, to completion, as an init step in
//! the image of the deployment's service — with that service's settings
//! (environment, volumes, networks) from the substituted deployment file,
//! without its ports, health check, restart policy or dependencies, under
//! a compose project of its own so the running deployment is not touched.
//! The outcome is the init table's row: exit code, time, last log lines.

use std::str::FromStr;

use yaml_edit::{Document, Sequence};

use crate::config::UserFile;
use crate::engine::{Project, Workspace};
use crate::env::files::{self, Prepared};
use crate::env::phases::{InitReport, run_init};
use crate::env::vars::resolve;
use crate::error::{Result, UserError};

/// What a one-off run must not carry over from the deployment's service.
const DROPPED: &[&str] = &[
    "ports",
    "healthcheck",
    "restart",
    "depends_on",
    "container_name",
    "deploy",
    "profiles",
    "scale",
    "links",
];

/// The deployment's compose text cut down to `service` running `command`
/// once. Top-level volumes and networks stay, so the service's own keep
/// resolving.
pub fn one_off(compose: &str, service: &str, command: &[String]) -> Result<String> {
    let broken = |what: &str| UserError::new(format!("the deployment file {what}"));
    let doc = Document::from_str(compose).map_err(|e| broken(&format!("cannot be read: {e}")))?;
    let root = doc.as_mapping().ok_or_else(|| broken("is not a mapping"))?;
    let services = root
        .get_mapping("services")
        .ok_or_else(|| broken("has no services"))?;
    let others: Vec<String> = services
        .keys()
        .filter_map(|k| k.as_scalar().map(|s| s.as_string()))
        .filter(|k| k != service)
        .collect();
    for k in others {
        services.remove(k.as_str());
    }
    let svc = services
        .get_mapping(service)
        .ok_or_else(|| broken(&format!("has no service {service}")))?;
    for k in DROPPED {
        svc.remove(*k);
    }
    let argv = Sequence::new();
    for word in command {
        // Literal to the container: compose would expand `$` itself.
        argv.push(word.replace('$', "$$").as_str());
    }
    svc.set("command", &argv);
    svc.set("restart", "no");
    Ok(doc.to_string())
}

/// Runs the environment's migrate command; the init table's row, or an
/// error with the table and how to retry.
pub async fn migrate(
    ws: &Workspace,
    project: &Project,
    env: &str,
    report: &(dyn Fn(String) + Sync),
) -> Result<InitReport> {
    let r = resolve(ws, project, env)?;
    let spec = r.environment.migrate.clone().ok_or_else(|| {
        UserError::new(format!("environment {env} has no migrate command"))
            .hint(format!(
                "add one under environments.{env} in config.yml: migrate: {{command: \"npm run migrate\", service: web}}"
            ))
    })?;
    let deployment_file = r.environment.deployment.clone().ok_or_else(|| {
        UserError::new(format!(
            "environment {env} has no deployment to take the image from"
        ))
    })?;
    let deployment = files::prepare(&r, &project.dir, &deployment_file, "deployment")?;
    let service = match (&spec.service, deployment.services.as_slice()) {
        (Some(s), all) if all.contains(s) => s.clone(),
        (None, [only]) => only.clone(),
        (named, all) => {
            return Err(UserError::new(match named {
                Some(s) => format!(
                    "the migrate service \"{s}\" of environment {env} is not in {}",
                    deployment_file.path.display()
                ),
                None => format!(
                    "{} has {} services: the migrate command of environment {env} must say which one's image it runs in",
                    deployment_file.path.display(),
                    all.len()
                ),
            })
            .hint(crate::config::hint_choices("services", all.iter())));
        }
    };
    let compose = one_off(&deployment.compose, &service, &spec.command)?;
    let step = Prepared {
        name: "migrate".into(),
        source: UserFile {
            path: std::path::PathBuf::from("config.yml"),
            line: spec.line,
        },
        compose,
        pod: None,
        occurrences: Vec::new(),
        networked: deployment
            .networked
            .iter()
            .filter(|s| **s == service)
            .cloned()
            .collect(),
        services: vec![service],
    };
    report(format!(
        "env {env}: migrate: {} in {}'s image",
        spec.command.join(" "),
        step.services[0]
    ));
    run_init(ws, &r, project, std::slice::from_ref(&step), report)
        .await
        .map_err(|mut e| {
            e.message = e.message.replace("init container", "the migrate container");
            e.message = e.message.replace(
                "the init phase stopped, the deployment was not touched",
                "the deployment was not touched",
            );
            e.hint = Some(format!(
                "fix it, then retry: sdtui db migrate --env {env} (nothing else was changed)"
            ));
            e
        })
}
