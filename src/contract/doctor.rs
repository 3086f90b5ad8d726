//! `sdtui doctor [APP]`: every attachment proven from where the app runs.
//!
//! For each attachment, a short-lived probe container of the addon's own
//! image (it has the client: psql, redis-cli ...) joins the app container's
//! network namespace (`network_mode: container:<app>`), gets exactly the
//! `{PREFIX}_*` variables the running app got (read from the app
//! container, not from the generated files: a hand-edited env file shows),
//! and runs the type's `doctor:` checks from the catalog: connect and
//! authenticate, and for a readonly attachment a write that must be
//! refused. A failure is classified from the client's own output by the
//! catalog's patterns (DNS, refused, auth, wrong database ...), secrets
//! masked. The same probe runs on the local engine and on an SSH VM (the
//! Docker API over the session).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptions, InspectContainerOptions, RemoveContainerOptionsBuilder,
};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::catalog::AddonType;
use crate::config::{Access, App, Config};
use crate::deploy::compose_project;
use crate::deploy::target::Connected;
use crate::engine::{Project, Workspace};
use crate::error::{Result, UserError};
use crate::template;

/// The catalog's `doctor:` section of a type.
///
/// Templates (`{URL}`, `{HOST}`, `{PASSWORD}` ...) are over the attachment's
/// variables as the app got them, prefix stripped. Keep secrets in `env`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoctorSpec {
    /// The client's environment in the probe, besides the app's own
    /// `{PREFIX}_*` variables.
    #[serde(default)]
    pub env: IndexMap<String, String>,
    /// Connect and authenticate: passes when it exits 0 and its output
    /// holds `expect` (a template) when set.
    pub connect: DoctorCommand,
    /// Readonly attachments: a write that must be refused. Proven refused
    /// when it fails with output matching `refused` (a regex); succeeding
    /// means the attachment is writable.
    pub write: Option<DoctorWrite>,
    /// Regexes over the client's output per failure: `dns`, `refused`,
    /// `auth`, `database`, `timeout`. The first kind that matches wins.
    #[serde(default)]
    pub failures: IndexMap<Failure, Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoctorCommand {
    pub command: Vec<String>,
    pub expect: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoctorWrite {
    pub command: Vec<String>,
    pub refused: String,
}

impl DoctorSpec {
    /// Catalog-load check: commands are there, templates use only the
    /// attachment's variables (`vars`: the names under `env:`), regexes
    /// compile.
    pub fn check(&self, type_name: &str, vars: &[String]) -> std::result::Result<(), String> {
        if self.connect.command.is_empty() {
            return Err(format!("{type_name}: doctor.connect.command is empty"));
        }
        let mut templates: Vec<(String, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (format!("env.{k}"), v.as_str()))
            .collect();
        templates.extend(
            self.connect
                .command
                .iter()
                .map(|a| ("connect.command".to_string(), a.as_str())),
        );
        templates.extend(
            self.connect
                .expect
                .iter()
                .map(|a| ("connect.expect".to_string(), a.as_str())),
        );
        if let Some(w) = &self.write {
            templates.extend(
                w.command
                    .iter()
                    .map(|a| ("write.command".to_string(), a.as_str())),
            );
        }
        for (field, t) in templates {
            for var in template::variables(t) {
                if !vars.contains(&var) {
                    return Err(format!(
                        "{type_name}: doctor.{field} uses {{{var}}}, which is not one of the attachment's variables ({})",
                        vars.join(", ")
                    ));
                }
            }
        }
        let mut patterns: Vec<(String, &str)> = self
            .failures
            .iter()
            .flat_map(|(k, v)| {
                v.iter()
                    .map(move |p| (format!("failures.{}", k.as_str()), p.as_str()))
            })
            .collect();
        if let Some(w) = &self.write {
            if w.command.is_empty() {
                return Err(format!("{type_name}: doctor.write.command is empty"));
            }
            patterns.push(("write.refused".into(), w.refused.as_str()));
        }
        for (field, p) in patterns {
            regex::Regex::new(p)
                .map_err(|e| format!("{type_name}: doctor.{field}: bad pattern {p:?}: {e}"))?;
        }
        Ok(())
    }
}

/// Why an attachment is not ok.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    /// The addon's host name does not resolve from the app.
    Dns,
    /// Nothing listens at the address the app got.
    Refused,
    /// The server refused the credentials.
    Auth,
    /// Connected and authenticated, but to a database that is not there.
    Database,
    /// No answer in time.
    Timeout,
    /// A readonly attachment whose login can write.
    Writable,
    /// The app's container is not running (or not there).
    AppNotRunning,
    /// The app's environment lacks a variable the attachment injects.
    MissingVariable,
    /// Anything else: the client's line says what.
    Other,
}

impl Failure {
    pub fn as_str(self) -> &'static str {
        match self {
            Failure::Dns => "dns",
            Failure::Refused => "refused",
            Failure::Auth => "auth",
            Failure::Database => "database",
            Failure::Timeout => "timeout",
            Failure::Writable => "writable",
            Failure::AppNotRunning => "app_not_running",
            Failure::MissingVariable => "missing_variable",
            Failure::Other => "other",
        }
    }
    /// For people: `DNS`, `wrong database` ...
    pub fn label(self) -> &'static str {
        match self {
            Failure::Dns => "DNS",
            Failure::Refused => "refused",
            Failure::Auth => "auth",
            Failure::Database => "wrong database",
            Failure::Timeout => "timeout",
            Failure::Writable => "writable when it should be readonly",
            Failure::AppNotRunning => "app not running",
            Failure::MissingVariable => "missing variable",
            Failure::Other => "failed",
        }
    }
}

/// The verdict on one attachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Verdict {
    Ok,
    /// The type has no `doctor:` checks: nothing was proven.
    Unchecked {
        why: String,
    },
    Failed {
        failure: Failure,
        detail: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttachmentReport {
    pub app: String,
    /// `databases.primary`.
    pub addon: String,
    pub prefix: String,
    pub access: String,
    pub vm: String,
    #[serde(flatten)]
    pub verdict: Verdict,
    /// What was proven: `connected as app_user to app_db; write refused`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub proven: Vec<String>,
}

impl AttachmentReport {
    pub fn ok(&self) -> bool {
        !matches!(self.verdict, Verdict::Failed { .. })
    }
    /// One line: `ok`, `unchecked: ...`, `auth: <client's line>`.
    pub fn summary(&self) -> String {
        match &self.verdict {
            Verdict::Ok => "ok".into(),
            Verdict::Unchecked { why } => format!("unchecked: {why}"),
            Verdict::Failed { failure, detail } => format!("{}: {detail}", failure.label()),
        }
    }
}

/// How long one probe may take, pulling nothing.
const PROBE_TIMEOUT: Duration = Duration::from_secs(40);

/// Doctor of every attachment of `app` (or of every app), apps in config
/// order, attachments in theirs. Apps on different VMs are checked over
/// their own VM's engine.
pub async fn doctor(
    ws: &Workspace,
    project: &Project,
    app: Option<&str>,
) -> Result<Vec<AttachmentReport>> {
    let loaded = ws.load(project)?;
    let config = &loaded.config;
    let apps: Vec<&App> = match app {
        Some(name) => vec![crate::engine::require_app(config, name)?],
        None => config.apps.values().collect(),
    };
    if apps.iter().all(|a| a.attachments.is_empty()) {
        return Err(UserError::new(match app {
            Some(a) => format!("app {a} has no attachments: nothing to prove"),
            None => format!("{} has no attachments: nothing to prove", project.name),
        })
        .hint("attach an addon first: sdtui attach ADDON APP"));
    }
    let mut vms: Vec<&str> = apps.iter().map(|a| a.vm.as_str()).collect();
    vms.sort();
    vms.dedup();
    let mut conns: HashMap<&str, Connected> = HashMap::new();
    for vm in vms {
        let conn = Connected::open(ws, project, &config.vms[vm]).await?;
        conns.insert(vm, conn);
    }
    let mut out = Vec::new();
    for app in apps {
        let docker = &conns[app.vm.as_str()].docker;
        out.extend(doctor_app(ws, project, config, docker, app).await?);
    }
    Ok(out)
}

async fn doctor_app(
    ws: &Workspace,
    project: &Project,
    config: &Config,
    docker: &Docker,
    app: &App,
) -> Result<Vec<AttachmentReport>> {
    let report =
        |att: &crate::config::Attachment, verdict: Verdict, proven: Vec<String>| AttachmentReport {
            app: app.name.clone(),
            addon: att.addon.clone(),
            prefix: att.prefix.clone(),
            access: att.access.as_str().to_string(),
            vm: app.vm.clone(),
            verdict,
            proven,
        };
    let states =
        crate::docker::project_containers(docker, &compose_project(&project.name, &app.vm)).await?;
    let state = states.iter().find(|s| s.service == app.name);
    let running = state.filter(|s| s.state == "running");
    let Some(running) = running else {
        let detail = match state {
            Some(s) => format!(
                "app {} is {} on VM {}; start it: sdtui -p {} up --vm {}",
                app.name, s.state, app.vm, project.name, app.vm
            ),
            None => format!(
                "app {} has no container on VM {}; deploy it: sdtui -p {} up --vm {}",
                app.name, app.vm, project.name, app.vm
            ),
        };
        return Ok(app
            .attachments
            .iter()
            .map(|att| {
                report(
                    att,
                    Verdict::Failed {
                        failure: Failure::AppNotRunning,
                        detail: detail.clone(),
                    },
                    vec![],
                )
            })
            .collect());
    };
    let inspect = docker
        .inspect_container(&running.container_id, None::<InspectContainerOptions>)
        .await
        .map_err(|e| UserError::new(format!("Docker: inspect {}: {e}", app.name)))?;
    let app_env: BTreeMap<String, String> = inspect
        .config
        .and_then(|c| c.env)
        .unwrap_or_default()
        .iter()
        .filter_map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    let mut out = Vec::new();
    for att in &app.attachments {
        let addon = config.addon(&att.addon).expect("validated attachment");
        let t = ws.catalog.require(&addon.type_name)?;
        let image = addon
            .image
            .clone()
            .unwrap_or_else(|| t.image_for(&addon.version));
        let (verdict, proven) = match &t.doctor {
            None => (
                Verdict::Unchecked {
                    why: format!("type {} has no doctor: checks in its addon.yml", t.name),
                },
                vec![],
            ),
            Some(spec) => {
                let probe = Probe {
                    docker,
                    app_container: &running.container_id,
                    image: &image,
                    t,
                    spec,
                    prefix: &att.prefix,
                    access: att.access,
                    app_env: &app_env,
                };
                match tokio::time::timeout(PROBE_TIMEOUT, probe.run()).await {
                    Ok(r) => r,
                    Err(_) => (
                        Verdict::Failed {
                            failure: Failure::Timeout,
                            detail: format!(
                                "the probe did not finish in {}s",
                                PROBE_TIMEOUT.as_secs()
                            ),
                        },
                        vec![],
                    ),
                }
            }
        };
        out.push(report(att, verdict, proven));
    }
    Ok(out)
}

struct Probe<'a> {
    docker: &'a Docker,
    app_container: &'a str,
    image: &'a str,
    t: &'a AddonType,
    spec: &'a DoctorSpec,
    prefix: &'a str,
    access: Access,
    app_env: &'a BTreeMap<String, String>,
}

impl Probe<'_> {
    async fn run(&self) -> (Verdict, Vec<String>) {
        // The attachment's variables exactly as the app got them.
        let head = format!("{}_", self.prefix);
        let mut vars: BTreeMap<String, String> = BTreeMap::new();
        let mut env: Vec<String> = Vec::new();
        for spec in &self.t.env {
            let name = format!("{head}{}", spec.name);
            match self.app_env.get(&name) {
                Some(v) => {
                    vars.insert(spec.name.clone(), v.clone());
                    env.push(format!("{name}={v}"));
                }
                None => {
                    return failed(
                        Failure::MissingVariable,
                        format!(
                            "the app's environment has no {name}; run `sdtui up` to recreate it"
                        ),
                    );
                }
            }
        }
        // Values to mask in anything shown: every secret the app got.
        let secrets: Vec<String> = self
            .t
            .env
            .iter()
            .filter(|s| s.secret || self.t.template_is_secret(&s.value))
            .filter_map(|s| vars.get(&s.name).cloned())
            .chain(
                ["PASSWORD", "URL"]
                    .iter()
                    .filter_map(|k| vars.get(*k).cloned()),
            )
            .filter(|v| !v.is_empty())
            .collect();
        let mask = |text: &str| -> String {
            let mut t = text.to_string();
            for s in &secrets {
                t = t.replace(s.as_str(), "••••••••");
            }
            t
        };
        for (k, v) in &self.spec.env {
            match template::render(v, &vars) {
                Ok(v) => env.push(format!("{k}={v}")),
                Err(m) => return failed(Failure::Other, format!("doctor.env {k}: {m}")),
            }
        }
        let render_all = |argv: &[String]| -> std::result::Result<Vec<String>, String> {
            argv.iter().map(|a| template::render(a, &vars)).collect()
        };
        let connect = match render_all(&self.spec.connect.command) {
            Ok(c) => c,
            Err(m) => return failed(Failure::Other, format!("doctor.connect: {m}")),
        };
        let container = match self.start(env).await {
            Ok(id) => id,
            Err(e) => return failed(Failure::Other, mask(&e)),
        };
        let result = self.checks(&container, connect, &vars, &mask).await;
        // Gone whatever happened, with the anonymous volumes of the image's
        // VOLUMEs; a failure to remove changes no verdict.
        let _ = self
            .docker
            .remove_container(
                &container,
                Some(
                    RemoveContainerOptionsBuilder::default()
                        .force(true)
                        .v(true)
                        .build(),
                ),
            )
            .await;
        result
    }

    async fn checks(
        &self,
        container: &str,
        connect: Vec<String>,
        vars: &BTreeMap<String, String>,
        mask: &(dyn Fn(&str) -> String + Sync),
    ) -> (Verdict, Vec<String>) {
        let mut proven = Vec::new();
        let (code, output) =
            match crate::docker::exec(self.docker, container, connect, vec![], None).await {
                Ok(r) => r,
                Err(e) => return failed(Failure::Other, mask(&e.message)),
            };
        let expect = self
            .spec
            .connect
            .expect
            .as_ref()
            .map(|e| template::render(e, vars).unwrap_or_else(|_| e.clone()));
        let expected = expect
            .as_ref()
            .is_none_or(|e| output.lines().any(|l| l.trim() == e.as_str()));
        if code != 0 || !expected {
            let failure = self.classify(&output);
            let line = client_line(&output);
            let detail = match (&expect, code) {
                (Some(e), 0) => format!("connected, but the client printed {line:?}, not {e:?}"),
                _ => line,
            };
            return failed(failure, mask(&detail));
        }
        let whom = [vars.get("USER"), vars.get("DATABASE")];
        proven.push(match whom {
            [Some(u), Some(d)] => format!("connected as {u} to {d}"),
            [Some(u), None] => format!("connected as {u}"),
            // A type that injects no credentials (memcached) has no login.
            _ if !vars.contains_key("PASSWORD") => "connected (no login)".to_string(),
            _ => "connected and authenticated".to_string(),
        });
        if self.access == Access::Readonly {
            let Some(write) = &self.spec.write else {
                return (
                    Verdict::Unchecked {
                        why: format!(
                            "connected, but type {} has no doctor.write to prove readonly",
                            self.t.name
                        ),
                    },
                    proven,
                );
            };
            let cmd = match write
                .command
                .iter()
                .map(|a| template::render(a, vars))
                .collect::<std::result::Result<Vec<_>, _>>()
            {
                Ok(c) => c,
                Err(m) => return failed(Failure::Other, format!("doctor.write: {m}")),
            };
            let (code, output) =
                match crate::docker::exec(self.docker, container, cmd, vec![], None).await {
                    Ok(r) => r,
                    Err(e) => return failed(Failure::Other, mask(&e.message)),
                };
            let refused = regex::Regex::new(&write.refused)
                .map(|re| re.is_match(&output))
                .unwrap_or(false);
            if code == 0 && !refused {
                return (
                    Verdict::Failed {
                        failure: Failure::Writable,
                        detail: match vars.get("USER") {
                            Some(u) => format!("{u} could write"),
                            None => "a write as the readonly login succeeded".into(),
                        },
                    },
                    proven,
                );
            }
            if !refused {
                let failure = self.classify(&output);
                return (
                    Verdict::Failed {
                        failure,
                        detail: mask(&format!(
                            "the write failed, but not as refused: {}",
                            client_line(&output)
                        )),
                    },
                    proven,
                );
            }
            proven.push("write refused".into());
        }
        (Verdict::Ok, proven)
    }

    fn classify(&self, output: &str) -> Failure {
        for (kind, patterns) in &self.spec.failures {
            if patterns
                .iter()
                .filter_map(|p| regex::Regex::new(p).ok())
                .any(|re| re.is_match(output))
            {
                return *kind;
            }
        }
        Failure::Other
    }

    /// A probe container of the addon's image in the app's network
    /// namespace, idling until the checks are exec'd in it. Unnamed: two
    /// runs at once (the console and the CLI) never meet.
    async fn start(&self, env: Vec<String>) -> std::result::Result<String, String> {
        let body = ContainerCreateBody {
            image: Some(self.image.to_string()),
            entrypoint: Some(vec!["sleep".into()]),
            cmd: Some(vec![(PROBE_TIMEOUT.as_secs() + 20).to_string()]),
            env: Some(env),
            labels: Some(HashMap::from([(
                "io.sdtui.doctor".to_string(),
                self.app_container.to_string(),
            )])),
            host_config: Some(HostConfig {
                network_mode: Some(format!("container:{}", self.app_container)),
                // An interrupted run's probe goes by itself when its sleep ends.
                auto_remove: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        };
        let created = self
            .docker
            .create_container(None::<CreateContainerOptions>, body)
            .await
            .map_err(|e| match e {
                bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                } => {
                    format!(
                        "the addon's image {} is not on the app's VM: the probe needs its client",
                        self.image
                    )
                }
                e => format!("could not create the probe container: {e}"),
            })?;
        if let Err(e) = self.docker.start_container(&created.id, None).await {
            let _ = self
                .docker
                .remove_container(
                    &created.id,
                    Some(
                        RemoveContainerOptionsBuilder::default()
                            .force(true)
                            .v(true)
                            .build(),
                    ),
                )
                .await;
            return Err(format!("could not start the probe container: {e}"));
        }
        Ok(created.id)
    }
}

fn failed(failure: Failure, detail: String) -> (Verdict, Vec<String>) {
    (Verdict::Failed { failure, detail }, vec![])
}

/// The client's most telling line: the last one that says error/fatal,
/// else the last non-empty one.
fn client_line(output: &str) -> String {
    let lines: Vec<&str> = output
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines
        .iter()
        .rev()
        .find(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("error")
                || l.contains("fatal")
                || l.contains("could not")
                || l.contains("failed")
        })
        .or(lines.last())
        .map(|l| l.to_string())
        .unwrap_or_else(|| "no output".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_telling_line_is_the_error() {
        assert_eq!(
            client_line("psql: error: connection to server failed\n\n"),
            "psql: error: connection to server failed"
        );
        assert_eq!(client_line("a\nb\n"), "b");
        assert_eq!(client_line(""), "no output");
    }
}
