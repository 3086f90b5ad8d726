//! `env dry-run` and `env export`: what the environment's files become,
//! shown (values masked unless revealed) or written out to run without
//! sdtui. Export is the user's explicit request for the secrets: every file
//! holding one is written 0600, and the report says so.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::engine::generate::{COMPOSE_FILE, ENV_DIR, compose_dir, env_value};
use crate::engine::{Project, Workspace};
use crate::env::files::{self, Prepared};
use crate::env::substitute::{DryRunRow, dry_run_rows, render_dry_run};
use crate::env::vars::{Resolved, resolve};
use crate::error::{Result, UserError, io_error};

/// `env dry-run ENV`: every variable the files use, its value (secrets
/// masked unless `reveal`), and each file:line:col where it lands. Nothing
/// is written or run.
pub fn dry_run(ws: &Workspace, project: &Project, env: &str, reveal: bool) -> Result<String> {
    Ok(match dry_run_rows_of(ws, project, env, reveal)? {
        Some(rows) => render_dry_run(&rows),
        None => no_files(env),
    })
}

pub(crate) fn no_files(env: &str) -> String {
    format!("environment {env} names no init or deployment file: nothing to substitute\n")
}

/// The rows of `env dry-run ENV`; None when the environment names no file.
pub(crate) fn dry_run_rows_of(
    ws: &Workspace,
    project: &Project,
    env: &str,
    reveal: bool,
) -> Result<Option<Vec<DryRunRow>>> {
    let r = resolve(ws, project, env)?;
    let (init, deployment) = files::prepare_all(&r, &project.dir)?;
    if init.is_empty() && deployment.is_none() {
        return Ok(None);
    }
    let occurrences: Vec<_> = init
        .iter()
        .chain(deployment.as_ref())
        .flat_map(|p| p.occurrences.clone())
        .collect();
    Ok(Some(dry_run_rows(&occurrences, &r.variables, reveal)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Compose,
    Pod,
    Env,
}

/// A file `export` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Exported {
    pub path: PathBuf,
    pub mode: u32,
    /// It holds secret values in the clear.
    pub secrets: bool,
}

/// `env export ENV --format F -o DIR`.
pub fn export(
    ws: &Workspace,
    project: &Project,
    env: &str,
    format: ExportFormat,
    out: &Path,
) -> Result<Vec<Exported>> {
    let r = resolve(ws, project, env)?;
    let (init, deployment) = files::prepare_all(&r, &project.dir)?;
    std::fs::create_dir_all(out).map_err(|e| io_error(out, "create", e))?;
    let any_secret = r.variables.values().any(|v| v.secret);
    let mut written = Vec::new();
    let mut put = |rel: &str, text: &str, secrets: bool| -> Result<()> {
        let path = out.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io_error(dir, "create", e))?;
        }
        let mode = if secrets { 0o600 } else { 0o644 };
        crate::engine::apply::write_atomic(&path, text.as_bytes(), mode)?;
        written.push(Exported {
            path,
            mode,
            secrets,
        });
        Ok(())
    };
    match format {
        ExportFormat::Env => {
            let mut text = format!(
                "# Environment {env} of project {}, exported by sdtui with every value resolved (secrets in the clear: 0600).\n",
                project.name
            );
            for (k, v) in &r.variables {
                let value = env_value(&v.value).map_err(|why| {
                    UserError::new(format!("the value of {k} {why}"))
                        .hint("export --format compose carries it instead")
                })?;
                text.push_str(&format!("{k}={value}\n"));
            }
            put(".env", &text, any_secret)?;
        }
        ExportFormat::Pod => {
            let Some(pod) = deployment.as_ref().and_then(|p| p.pod.as_ref()) else {
                return Err(UserError::new(format!(
                    "environment {env}'s deployment is not a Pod file"
                ))
                .hint("--format pod exports a Pod deployment; use --format compose for a compose file"));
            };
            let secrets = deployment.as_ref().is_some_and(|p| uses_secret(&r, p));
            put("pod.yml", pod, secrets)?;
        }
        ExportFormat::Compose => {
            let (compose, env_files) = compose_export(&r, &init, deployment.as_ref())?;
            for (rel, text) in env_files {
                put(&rel, &text, true)?;
            }
            let secrets = init
                .iter()
                .chain(deployment.as_ref())
                .any(|p| uses_secret(&r, p));
            put(COMPOSE_FILE, &compose, secrets)?;
        }
    }
    Ok(written)
}

fn uses_secret(r: &Resolved, p: &Prepared) -> bool {
    p.occurrences
        .iter()
        .any(|o| o.default_used.is_none() && r.variables.get(&o.name).is_some_and(|v| v.secret))
}

fn parse(what: &str, text: &str) -> Result<Value> {
    serde_saphyr::from_str::<Value>(text)
        .map_err(|e| UserError::new(format!("cannot read {what} back for the export: {e}")))
}

/// One compose file: the addons' services (their env files beside it),
/// the init files' services as one-shot services, and the deployment's,
/// which wait for every init service to complete successfully and every
/// addon to be healthy. All services share the addons' network.
fn compose_export(
    r: &Resolved,
    init: &[Prepared],
    deployment: Option<&Prepared>,
) -> Result<(String, Vec<(String, String)>)> {
    let dir = compose_dir(&r.vm);
    let generated = |rel: PathBuf| r.loaded.generated.files.iter().find(|f| f.rel == rel);
    let mut root = match generated(dir.join(COMPOSE_FILE)) {
        Some(f) => parse("the addons' compose file", &f.content)?,
        None => json!({"services": {}}),
    };
    let env_files: Vec<(String, String)> = r
        .loaded
        .generated
        .files
        .iter()
        .filter(|f| f.rel.starts_with(dir.join(ENV_DIR)))
        .filter_map(|f| {
            let name = f.rel.file_name()?.to_str()?;
            Some((format!("{ENV_DIR}/{name}"), f.content.clone()))
        })
        .collect();
    let addon_network = format!("{}-network", r.scoped.name);
    let obj = root
        .as_object_mut()
        .ok_or_else(|| UserError::new("the addons' compose file is not a mapping"))?;
    let services = obj
        .entry("services")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or_else(|| UserError::new("services is not a mapping"))?;
    let healthy_addons: Vec<String> = services
        .iter()
        .filter(|(_, s)| s.get("healthcheck").is_some())
        .map(|(n, _)| n.clone())
        .collect();
    let addon_names: Vec<String> = services.keys().cloned().collect();
    let mut init_names = Vec::new();
    let mut user_volumes = Map::new();
    let mut user_networks = Map::new();
    let mut add = |p: &Prepared,
                   services: &mut Map<String, Value>,
                   is_init: bool,
                   init_names: &[String]|
     -> Result<Vec<String>> {
        let mut v = parse(&p.source.path.display().to_string(), &p.compose)?;
        if let Some(vols) = v.get_mut("volumes").and_then(Value::as_object_mut) {
            user_volumes.append(vols);
        }
        if let Some(nets) = v.get_mut("networks").and_then(Value::as_object_mut) {
            user_networks.append(nets);
        }
        let mut names = Vec::new();
        let Some(svcs) = v.get_mut("services").and_then(Value::as_object_mut) else {
            return Ok(names);
        };
        for (name, mut s) in std::mem::take(svcs) {
            if services.contains_key(&name) || addon_names.contains(&name) {
                return Err(UserError::new(format!(
                    "{}: service `{name}` is also a service of the addons or of another file; the export would merge them",
                    p.source.path.display()
                ))
                .hint("rename the service in your file"));
            }
            let so = s
                .as_object_mut()
                .ok_or_else(|| UserError::new(format!("service {name} is not a mapping")))?;
            if !so.contains_key("network_mode") {
                join_network(so, &addon_network);
                let deps = depends_map(so);
                for a in &healthy_addons {
                    deps.entry(a.clone())
                        .or_insert_with(|| json!({"condition": "service_healthy"}));
                }
                if !is_init {
                    for i in init_names {
                        deps.insert(
                            i.clone(),
                            json!({"condition": "service_completed_successfully"}),
                        );
                    }
                }
            }
            if so
                .get("depends_on")
                .and_then(Value::as_object)
                .is_some_and(Map::is_empty)
            {
                so.remove("depends_on");
            }
            if is_init {
                so.insert("restart".into(), json!("no"));
            }
            names.push(name.clone());
            services.insert(name, s);
        }
        Ok(names)
    };
    for p in init {
        let names = add(p, services, true, &[])?;
        init_names.extend(names);
    }
    if let Some(p) = deployment {
        add(p, services, false, &init_names)?;
    }
    if !user_volumes.is_empty() {
        let vols = obj.entry("volumes").or_insert_with(|| json!({}));
        if let Some(m) = vols.as_object_mut() {
            m.append(&mut user_volumes);
        }
    }
    let nets = obj.entry("networks").or_insert_with(|| json!({}));
    if let Some(m) = nets.as_object_mut() {
        m.entry(addon_network.clone()).or_insert_with(|| json!({}));
        m.append(&mut user_networks);
    }
    let yaml = serde_saphyr::to_string(&root)
        .map_err(|e| UserError::new(format!("cannot write the exported compose file: {e}")))?;
    let header = format!(
        "# Environment {} of project {}, exported by sdtui: the addons, the init\n# files as one-shot services and the deployment, every variable resolved.\n# Runs on its own: docker-compose -f {COMPOSE_FILE} up -d (v1 or v2).\n# It holds secrets in the clear, as asked: keep it 0600.\n",
        r.environment.name, r.scoped.name
    );
    Ok((format!("{header}{yaml}"), env_files))
}

/// Adds the addons' network (and `default`, which a service without
/// `networks:` was on) to a service.
fn join_network(service: &mut Map<String, Value>, network: &str) {
    match service.get_mut("networks") {
        Some(Value::Array(list)) => list.push(json!(network)),
        Some(Value::Object(map)) => {
            map.insert(network.into(), Value::Null);
        }
        _ => {
            service.insert("networks".into(), json!(["default", network]));
        }
    }
}

/// A service's depends_on as a mapping (a list becomes `service_started`).
fn depends_map(service: &mut Map<String, Value>) -> &mut Map<String, Value> {
    let current = service.remove("depends_on");
    let map = match current {
        Some(Value::Array(list)) => list
            .into_iter()
            .filter_map(|n| {
                n.as_str()
                    .map(|s| (s.to_string(), json!({"condition": "service_started"})))
            })
            .collect(),
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    service.insert("depends_on".into(), Value::Object(map));
    match service.get_mut("depends_on") {
        Some(Value::Object(m)) => m,
        _ => unreachable!("just inserted"),
    }
}
