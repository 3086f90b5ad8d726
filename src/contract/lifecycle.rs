//! The contract in an addon's life: after `up` finds a container-kind
//! instance healthy, its script's `install` then `configure` run inside
//! it (config as JSON on stdin); `status` and `health` refine what Docker
//! says. Each call is recorded in the project's audit trail.

use std::time::Duration;

use bollard::Docker;
use serde_json::{Value, json};

use super::run::{Call, Place, call, record};
use super::script::{Function, Kind};
use super::status::{AddonStatus, Health, InstallStatus, with_script};
use crate::catalog::AddonType;
use crate::config::{Addon, Config};
use crate::docker::ServiceState;
use crate::engine::secrets::AddonSecrets;
use crate::engine::{Project, Workspace};
use crate::error::Result;

/// What `install` and `configure` get on stdin: the instance and its
/// credentials (masked in every record of the call).
pub fn config_json(
    t: &AddonType,
    addon: &Addon,
    creds: &indexmap::IndexMap<String, String>,
) -> Value {
    json!({
        "id": addon.id(), "name": addon.name, "type": t.name, "version": addon.version,
        "plan": addon.plan, "vm": addon.vm,
        "options": crate::engine::generate::effective_options(t, addon).into_iter().collect::<std::collections::BTreeMap<_, _>>(),
        "credentials": creds,
    })
}

/// The instance's secret values, masked wherever a call's output goes.
pub fn secret_values(t: &AddonType, creds: &indexmap::IndexMap<String, String>) -> Vec<String> {
    creds
        .iter()
        .filter(|(k, _)| t.is_secret_credential(k))
        .map(|(_, v)| v.clone())
        .collect()
}

/// A call that printed `"ok": false` fails the operation with its message.
pub fn require_ok(
    project: &Project,
    t: &AddonType,
    f: Function,
    id: &str,
    out: &Value,
) -> Result<()> {
    if out["ok"] != Value::Bool(false) {
        return Ok(());
    }
    Err(crate::error::UserError::new(format!(
        "type {}, function {}: {id} reported failure: {}",
        t.name,
        f.as_str(),
        out["message"].as_str().unwrap_or("(no message)")
    ))
    .hint(format!("see its record: sdtui -p {} history", project.name)))
}

/// One function of a container-kind instance's script in its container,
/// with the instance's configuration on stdin unless `input` is given;
/// `ok: false` is a failure.
#[allow(clippy::too_many_arguments)]
pub async fn call_in_container(
    project: &Project,
    t: &AddonType,
    addon: &Addon,
    creds: &indexmap::IndexMap<String, String>,
    (docker, container): (&Docker, &str),
    f: Function,
    args: Vec<String>,
    input: Option<String>,
) -> Result<Value> {
    let input = input.unwrap_or_else(|| config_json(t, addon, creds).to_string());
    let out = run_in_container(
        project,
        t,
        docker,
        container,
        f,
        args,
        Some(input),
        secret_values(t, creds),
    )
    .await?;
    require_ok(project, t, f, &addon.id(), &out)?;
    Ok(out)
}

/// Runs one function of `addon`'s script in `container`, recorded.
#[allow(clippy::too_many_arguments)]
pub async fn run_in_container(
    project: &Project,
    t: &AddonType,
    docker: &Docker,
    container: &str,
    function: Function,
    args: Vec<String>,
    input: Option<String>,
    secrets: Vec<String>,
) -> Result<Value> {
    let (Some(spec), Some(dir)) = (&t.contract, &t.script_dir) else {
        return Ok(Value::Null);
    };
    let (rec, out) = call(
        &Place::Container { docker, container },
        &Call {
            type_name: &t.name,
            dir,
            function,
            args,
            input,
            timeout: Duration::from_secs(spec.timeout),
            secrets,
            cwd: None,
        },
    )
    .await;
    record(&project.audit_path(), &rec, out.is_ok())?;
    out
}

/// `install` then `configure` for each container-kind instance on `vm`,
/// once it is healthy. The first failure stops `up` with the script's
/// output.
#[allow(clippy::too_many_arguments)]
pub async fn install_on_vm(
    ws: &Workspace,
    project: &Project,
    config: &Config,
    secrets: &AddonSecrets,
    vm: &str,
    docker: &Docker,
    states: &[ServiceState],
    report: &(dyn Fn(String) + Sync),
) -> Result<()> {
    for addon in config.addons.iter().filter(|a| a.vm == vm) {
        let t = ws.catalog.require(&addon.type_name)?;
        if t.contract.as_ref().map(|c| c.kind) != Some(Kind::Container) {
            continue;
        }
        let Some(container) = states.iter().find(|s| s.service == addon.service()) else {
            continue;
        };
        let creds = &secrets[&addon.type_name][&addon.name];
        for f in [Function::Install, Function::Configure] {
            report(format!("{}: contract {}", addon.id(), f.as_str()));
            call_in_container(
                project,
                t,
                addon,
                creds,
                (docker, &container.container_id),
                f,
                vec![],
                None,
            )
            .await?;
        }
    }
    Ok(())
}

/// `uninstall false` inside a container-kind instance's container, before
/// `addons remove --purge` deletes it; `ok: false` fails with its message.
pub async fn uninstall_in_container(
    project: &Project,
    t: &AddonType,
    addon: &Addon,
    creds: &indexmap::IndexMap<String, String>,
    docker: &Docker,
    container: &str,
) -> Result<()> {
    call_in_container(
        project,
        t,
        addon,
        creds,
        (docker, container),
        Function::Uninstall,
        vec!["false".into()],
        None,
    )
    .await
    .map(|_| ())
}

/// Refines a running script-backed instance's values with its `status`
/// (and `health`, when it has one). A script that fails says so in the
/// detail and leaves Docker's verdict, degraded.
pub async fn refine(
    project: &Project,
    t: &AddonType,
    docker: &Docker,
    container: &ServiceState,
    from_docker: AddonStatus,
) -> AddonStatus {
    if t.contract.is_none() || from_docker.status != Some(InstallStatus::Installed) {
        return from_docker;
    }
    let run = |f: Function| {
        run_in_container(
            project,
            t,
            docker,
            &container.container_id,
            f,
            vec![],
            None,
            vec![],
        )
    };
    let status = match run(Function::Status).await {
        Ok(v) => v,
        Err(e) => {
            return AddonStatus {
                status: Some(InstallStatus::Degraded),
                health: Health::Unknown,
                detail: format!("status script failed: {}", e.message),
            };
        }
    };
    let mut health = Health::parse(status["health"].as_str().unwrap_or_default());
    let mut message = status["message"].as_str().map(str::to_string);
    if t.contract.as_ref().is_some_and(|c| c.has(Function::Health))
        && let Ok(h) = run(Function::Health).await
    {
        health = Health::parse(h["health"].as_str().unwrap_or_default()).or(health);
        message = h["message"].as_str().map(str::to_string).or(message);
    }
    with_script(
        from_docker,
        InstallStatus::parse(status["status"].as_str().unwrap_or_default()),
        health,
        message.filter(|m| !m.is_empty()),
    )
}
