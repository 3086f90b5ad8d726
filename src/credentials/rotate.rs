//! `addons credentials rotate ADDON [--readonly]`: a new password, changed
//! inside the running server first (a recreated container keeps the old one
//! on its volume), then saved through the engine (secrets.yml and every env
//! file built from it, atomically, audited), then the attached apps are
//! recreated onto it, and finally the old password is proved refused and the
//! new one accepted. A failure before the apps restart puts the server back
//! on the old password, so no app is left holding one the server refuses.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bollard::Docker;
use serde::Serialize;

use super::SecretValue;
use crate::catalog::{AddonType, ProvisionClient, RotateSpec};
use crate::config::{Access, Addon, Config};
use crate::deploy::target::Connected;
use crate::deploy::{compose_project, deployed_marker, lock, release_digest, steps};
use crate::docker::{self, ServiceState};
use crate::engine::{Operation, Project, Workspace, audit, generate};
use crate::error::{Result, UserError, choices};
use crate::template;

/// What a rotation did, for the CLI and the console.
#[derive(Debug, Clone, Serialize)]
pub struct Rotated {
    pub addon: String,
    /// The login whose password changed.
    pub user: String,
    /// Its secrets.yml key (`PASSWORD`, `READONLY_PASSWORD`).
    pub credential: String,
    /// Apps recreated onto the new password (`web on local`).
    pub restarted: Vec<String>,
    /// Apps that were not running: they get it when they next start.
    pub on_next_start: Vec<String>,
    /// The addon's own container was recreated (its env file changed).
    pub addon_recreated: bool,
}

/// The login a rotation changes and how: checked before anything runs.
pub(super) struct Login<'a> {
    spec: &'a RotateSpec,
    client: &'a ProvisionClient,
    pub(super) user_key: String,
    pub(super) pass_key: String,
    pub(super) access: Access,
    length: usize,
}

pub(super) fn login<'a>(t: &'a AddonType, addon: &Addon, readonly: bool) -> Result<Login<'a>> {
    let id = addon.id();
    let Some(spec) = &t.rotate else {
        return Err(UserError::new(format!(
            "{id} ({}) cannot rotate its credentials: its type declares no rotate: steps",
            t.name
        ))
        .hint("types that can: postgres, redis, mariadb, rabbitmq; a type of your own adds rotate: (steps, check) to its addon.yml"));
    };
    let client = spec
        .with
        .as_ref()
        .or(t.provision_with.as_ref())
        .ok_or_else(|| {
            UserError::new(format!(
                "{}: rotate: has steps but no client to run them",
                t.name
            ))
            .hint("add rotate.with (command, input) or provision_with to the type's addon.yml")
        })?;
    let (user_key, pass_key, access) = if readonly {
        let ro = t.readonly.as_ref().ok_or_else(|| {
            UserError::new(format!("{id} ({}) has no readonly login to rotate", t.name))
                .hint("rotate its main password: drop --readonly")
        })?;
        let pick = |k: &str| ro.credentials.get(k).cloned().unwrap_or_else(|| k.into());
        (pick("USER"), pick("PASSWORD"), Access::Readonly)
    } else {
        (
            "USER".to_string(),
            "PASSWORD".to_string(),
            Access::Readwrite,
        )
    };
    let length = t
        .credentials
        .get(&pass_key)
        .and_then(|c| c.generate)
        .ok_or_else(|| {
            UserError::new(format!(
                "{id} ({}): {pass_key} is not a generated credential, so sdtui cannot make a new one",
                t.name
            ))
            .hint(format!("credentials: {}", choices(t.credentials.keys())))
        })?;
    Ok(Login {
        spec,
        client,
        user_key,
        pass_key,
        access,
        length,
    })
}

/// `{USER}`/`{PASSWORD}` become the rotated login's.
fn login_vars(
    creds: &BTreeMap<String, String>,
    login: &Login,
    password: &str,
) -> BTreeMap<String, String> {
    let mut vars = creds.clone();
    if let Some(u) = creds.get(&login.user_key) {
        vars.insert("USER".into(), u.clone());
    }
    vars.insert("PASSWORD".into(), password.into());
    vars
}

/// Runs the type's check with `password`: does the server accept it?
async fn accepts(
    docker: &Docker,
    container: &str,
    t: &AddonType,
    login: &Login<'_>,
    creds: &BTreeMap<String, String>,
    password: &str,
) -> Result<bool> {
    let vars = login_vars(creds, login, password);
    let render = |s: &str| {
        template::render(s, &vars).map_err(|m| {
            UserError::new(format!("{}: rotate.check uses unknown {{{m}}}", t.name))
                .hint("fix the type's addon.yml")
        })
    };
    let check = &login.spec.check;
    let argv: Vec<String> = check
        .command
        .iter()
        .map(|c| render(c))
        .collect::<Result<_>>()?;
    let env: Vec<String> = check
        .env
        .iter()
        .map(|(k, v)| Ok(format!("{k}={}", render(v)?)))
        .collect::<Result<_>>()?;
    let (code, out) = docker::exec(docker, container, argv, env, None).await?;
    Ok(code == 0
        && check
            .expect
            .as_ref()
            .is_none_or(|e| out.lines().any(|l| l.trim() == e)))
}

/// The rotation steps (or, with `old`/`new` swapped, their undo: the steps
/// then `finish`, which takes the other value away).
#[allow(clippy::too_many_arguments)]
async fn server_steps(
    docker: &Docker,
    container: &str,
    t: &AddonType,
    login: &Login<'_>,
    creds: &BTreeMap<String, String>,
    steps_list: &[String],
    old: &str,
    new: &str,
    what: &str,
) -> Result<()> {
    let mut vars = login_vars(creds, login, old);
    vars.insert("OLD".into(), old.into());
    vars.insert("NEW".into(), new.into());
    let mut secrets = steps::secret_values(t, creds);
    secrets.extend([old, new]);
    steps::run(
        docker,
        container,
        t,
        login.client,
        creds,
        steps_list,
        &vars,
        what,
        &secrets,
    )
    .await
}

/// Sets the server back on `old` after `new` was set.
async fn undo_server(
    docker: &Docker,
    container: &str,
    t: &AddonType,
    login: &Login<'_>,
    creds: &BTreeMap<String, String>,
    old: &str,
    new: &str,
) -> Result<()> {
    let what = "putting the old password back";
    server_steps(
        docker,
        container,
        t,
        login,
        creds,
        &login.spec.steps,
        new,
        old,
        what,
    )
    .await?;
    server_steps(
        docker,
        container,
        t,
        login,
        creds,
        &login.spec.finish,
        new,
        old,
        what,
    )
    .await
}

/// Rotates the password of `id`'s main login (or its readonly one), telling
/// `report` each step. Holds the deploy lock of every VM it touches.
pub async fn rotate(
    ws: &Workspace,
    project: &Project,
    id: &str,
    readonly: bool,
    timeout: Duration,
    report: &(dyn Fn(String) + Sync),
) -> Result<Rotated> {
    let operation = format!(
        "addons credentials rotate {id}{}",
        if readonly { " --readonly" } else { "" }
    );
    // Refusals that need no VM come first: a type without rotate: changes nothing.
    let before = ws.load(project)?;
    let addon = crate::engine::require_addon(&before.config, id)?.clone();
    if let Some(leader) = &addon.follows {
        return Err(UserError::new(format!(
            "{id} follows {leader}: its logins are its leader's, replicated (a standby cannot change them)"
        ))
        .hint(format!(
            "rotate them on the leader: sdtui addons credentials rotate {leader}"
        )));
    }
    let t = ws.catalog.require(&addon.type_name)?;
    login(t, &addon, readonly)?;
    let mut vms = vec![addon.vm.clone()];
    vms.extend(
        before
            .config
            .attachments_of(id)
            .map(|(app, _)| app.vm.clone()),
    );
    let locks = lock::acquire_all(project, &vms, &operation, report).await?;
    let started = audit::now();
    let result = rotate_locked(ws, project, id, readonly, timeout, report).await;
    let (outcome, summary) = match &result {
        Ok(r) => (
            "applied".to_string(),
            r.restarted
                .iter()
                .map(|a| format!("restarted {a}"))
                .chain(
                    r.on_next_start
                        .iter()
                        .map(|a| format!("{a}: on next start")),
                )
                .collect(),
        ),
        Err(e) => (
            format!("failed: {}", e.message.lines().next().unwrap_or_default()),
            vec![],
        ),
    };
    audit::append(
        &project.audit_path(),
        &audit::Entry::since(started, operation, outcome, summary),
    )?;
    drop(locks);
    result
}

async fn rotate_locked(
    ws: &Workspace,
    project: &Project,
    id: &str,
    readonly: bool,
    timeout: Duration,
    report: &(dyn Fn(String) + Sync),
) -> Result<Rotated> {
    // Read again under the locks: another deploy may have changed things.
    let loaded = ws.load(project)?;
    let config = &loaded.config;
    let addon = crate::engine::require_addon(config, id)?.clone();
    let t = ws.catalog.require(&addon.type_name)?;
    let login = login(t, &addon, readonly)?;
    if !ws.plan(project, &Operation::Sync)?.is_empty() {
        return Err(UserError::new(format!(
            "{} has changes that are not synced and deployed yet; rotation would deploy them half-way",
            project.name
        ))
        .hint(format!("run `sdtui -p {} up` first", project.name)));
    }
    let creds: BTreeMap<String, String> = loaded
        .secrets
        .instance(&addon.type_name, &addon.name)
        .ok_or_else(|| {
            UserError::new(format!("secrets.yml has no credentials for {id}"))
                .hint(format!("run `sdtui -p {} up` first", project.name))
        })?
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let old = creds.get(&login.pass_key).cloned().unwrap_or_default();
    let user = creds.get(&login.user_key).cloned().unwrap_or_default();

    let vm = &config.vms[&addon.vm];
    report(format!("VM {}: connecting", vm.name));
    let conn = Connected::open(ws, project, vm).await?;
    let name = compose_project(&project.name, &vm.name);
    let service = addon.service();
    let container = docker::project_containers(&conn.docker, &name)
        .await?
        .into_iter()
        .find(|s| s.service == service && s.state == "running")
        .filter(|s| s.health.as_deref().is_none_or(|h| h == "healthy"))
        .ok_or_else(|| {
            UserError::new(format!(
                "{id} ({service}) is not running healthy on VM {}: the password is changed inside the server",
                vm.name
            ))
            .hint(format!("start it first: sdtui -p {} up --vm {}", project.name, vm.name))
        })?;
    let cid = container.container_id.clone();
    let docker = &conn.docker;

    // 1. The server.
    let new = generate::password(&mut rand::rng(), login.length);
    report(format!(
        "{service}: changing the password of {user} in the server"
    ));
    server_steps(
        docker,
        &cid,
        t,
        &login,
        &creds,
        &login.spec.steps,
        &old,
        &new,
        &format!("rotating {id}"),
    )
    .await?;
    if !accepts(docker, &cid, t, &login, &creds, &new).await? {
        let undone = undo_server(docker, &cid, t, &login, &creds, &old, &new).await;
        return Err(UserError::new(format!(
            "{service} does not accept the new password of {user} after the rotation steps{}",
            back_or_not(&undone)
        ))
        .hint("check the type's rotate: steps and check"));
    }

    // 2. The files: secrets.yml and every env file built from it, at once.
    let touched_vms: Vec<String> = {
        let mut v = vec![addon.vm.clone()];
        v.extend(config.attachments_of(id).map(|(a, _)| a.vm.clone()));
        v.sort();
        v.dedup();
        v
    };
    let current_release: BTreeMap<String, bool> = touched_vms
        .iter()
        .map(|vm| {
            let deployed = std::fs::read_to_string(deployed_marker(project, vm)).ok();
            let digest = release_digest(project, vm).ok();
            (vm.clone(), deployed.is_some() && deployed == digest)
        })
        .collect();
    let set = |value: &str| Operation::SetCredential {
        id: id.to_string(),
        key: login.pass_key.clone(),
        value: SecretValue::new(value),
    };
    report(format!(
        "saving the new {} (secrets.yml, env files)",
        login.pass_key
    ));
    if let Err(e) = ws.run(project, &set(&new), false) {
        let undone = undo_server(docker, &cid, t, &login, &creds, &old, &new).await;
        return Err(UserError {
            message: format!("{}{}", e.message, back_or_not(&undone)),
            ..e
        });
    }

    // 3. The apps that use this login, VM by VM, then the addon itself.
    let users = apps_using(config, id, login.access);
    let mut out = Rotated {
        addon: id.to_string(),
        user: user.clone(),
        credential: login.pass_key.clone(),
        restarted: vec![],
        on_next_start: vec![],
        addon_recreated: false,
    };
    let restart = restart_apps(
        ws,
        project,
        config,
        &touched_vms,
        &users,
        &conn,
        timeout,
        report,
        &mut out,
    )
    .await;
    if let Err(e) = restart {
        // Back to the old password everywhere, apps included.
        report("putting the old password back".into());
        let files = ws.run(project, &set(&old), false);
        let server = undo_server(docker, &cid, t, &login, &creds, &old, &new).await;
        let mut back = Rotated {
            restarted: vec![],
            ..out.clone()
        };
        let apps = match (&files, &server) {
            (Ok(_), Ok(())) => {
                restart_apps(
                    ws,
                    project,
                    config,
                    &touched_vms,
                    &users,
                    &conn,
                    timeout,
                    report,
                    &mut back,
                )
                .await
            }
            _ => Ok(()),
        };
        let tail = match (files, server, apps) {
            (Ok(_), Ok(()), Ok(())) => "; everything is back on the old password".to_string(),
            (Err(f), _, _) => format!("; saving the old password back failed too: {}", f.message),
            (_, Err(s), _) => format!("; the server could not be set back: {}", s.message),
            (_, _, Err(a)) => format!(
                "; files and server are back on the old password, but restarting the apps failed: {}",
                a.message
            ),
        };
        return Err(UserError {
            message: format!("{}{tail}", e.message),
            ..e
        });
    }
    report(format!("{service}: recreating it if its files changed"));
    let recreated = recreate_addon(ws, project, &loaded, &addon, &conn, &cid, timeout, report)
        .await
        .map_err(|e| UserError {
            message: format!(
                "{}; the apps already use the new password, which the server accepts",
                e.message
            ),
            ..e
        })?;
    out.addon_recreated = recreated.container_id != cid;
    let cid = recreated.container_id;
    if !out.addon_recreated && !login.spec.finish.is_empty() {
        report(format!("{service}: ending the old password"));
        server_steps(
            docker,
            &cid,
            t,
            &login,
            &creds,
            &login.spec.finish,
            &old,
            &new,
            &format!("ending the old password of {id}"),
        )
        .await?;
    }
    for (vm, was_current) in &current_release {
        if *was_current && let Ok(digest) = release_digest(project, vm) {
            crate::engine::apply::write_atomic(
                &deployed_marker(project, vm),
                digest.as_bytes(),
                0o600,
            )?;
        }
    }

    // 4. The proof.
    report(format!(
        "{service}: checking the old password is refused and the new one works"
    ));
    let new_creds = {
        let mut c = creds.clone();
        c.insert(login.pass_key.clone(), new.clone());
        c
    };
    if accepts(docker, &cid, t, &login, &new_creds, &old).await? {
        return Err(UserError::new(format!(
            "{service} still accepts the old password of {user}"
        ))
        .hint("check the type's rotate: steps; the apps already use the new one"));
    }
    if !accepts(docker, &cid, t, &login, &new_creds, &new).await? {
        return Err(
            UserError::new(format!("{service} refuses the new password of {user}"))
                .hint("check the type's rotate: steps and the container's logs"),
        );
    }
    Ok(out)
}

fn back_or_not(undone: &Result<()>) -> String {
    match undone {
        Ok(()) => "; the server is back on the old password, nothing was saved".into(),
        Err(e) => format!(
            "; setting the server back failed too ({}): the saved password is the old one",
            e.message
        ),
    }
}

/// Apps with an attachment to `id` that uses the rotated login.
pub(super) fn apps_using(config: &Config, id: &str, access: Access) -> Vec<(String, String)> {
    let mut apps: Vec<(String, String)> = config
        .attachments_of(id)
        .filter(|(_, att)| att.access == access)
        .map(|(app, _)| (app.name.clone(), app.vm.clone()))
        .collect();
    apps.sort();
    apps.dedup();
    apps
}

/// Puts each VM's new files in place and recreates the apps that use the
/// login: running ones started again and waited for, stopped ones created
/// but left stopped (their next start reads the new password).
#[allow(clippy::too_many_arguments)]
async fn restart_apps(
    ws: &Workspace,
    project: &Project,
    config: &Config,
    vms: &[String],
    apps: &[(String, String)],
    addon_conn: &Connected,
    timeout: Duration,
    report: &(dyn Fn(String) + Sync),
    out: &mut Rotated,
) -> Result<()> {
    let addon_vm = &config.addon(&out.addon).expect("validated").vm;
    for vm_name in vms {
        let other;
        let conn = if vm_name == addon_vm {
            addon_conn
        } else {
            report(format!("VM {vm_name}: connecting"));
            other = Connected::open(ws, project, &config.vms[vm_name]).await?;
            &other
        };
        let generated = crate::engine::apply::generated_vm_dir(&project.dir, vm_name)?;
        conn.target.stage(project, vm_name, &generated).await?;
        let name = compose_project(&project.name, vm_name);
        let states = docker::project_containers(&conn.docker, &name).await?;
        let here: Vec<&String> = apps
            .iter()
            .filter(|(_, vm)| vm == vm_name)
            .map(|(a, _)| a)
            .collect();
        let (mut running, mut stopped) = (Vec::new(), Vec::new());
        for app in here {
            match states.iter().find(|s| &s.service == app) {
                Some(s) if s.state == "running" => running.push(app.as_str()),
                Some(_) => stopped.push(app.as_str()),
                // Never deployed: its first `up` uses the new files.
                None => out.on_next_start.push(format!("{app} on {vm_name}")),
            }
        }
        if !stopped.is_empty() {
            report(format!(
                "VM {vm_name}: recreating {} (left stopped)",
                stopped.join(", ")
            ));
            let mut args = vec!["up", "--no-deps", "--no-start"];
            args.extend(&stopped);
            conn.target.compose(&name, &args).await?;
            out.on_next_start
                .extend(stopped.iter().map(|a| format!("{a} on {vm_name}")));
        }
        if !running.is_empty() {
            report(format!("VM {vm_name}: recreating {}", running.join(", ")));
            let mut args = vec!["up", "-d", "--no-deps"];
            args.extend(&running);
            conn.target.compose(&name, &args).await?;
            for app in &running {
                wait_up(&conn.docker, &name, app, timeout).await?;
                report(format!("VM {vm_name}: {app} running"));
                out.restarted.push(format!("{app} on {vm_name}"));
            }
        }
    }
    Ok(())
}

/// `up -d --no-deps` of the addon: compose recreates it when its env file
/// changed (so a restart later never brings back the old password), then
/// the attachments' provisioning runs again on the new container.
#[allow(clippy::too_many_arguments)]
async fn recreate_addon(
    ws: &Workspace,
    project: &Project,
    before: &crate::engine::Loaded,
    addon: &Addon,
    conn: &Connected,
    old_container: &str,
    timeout: Duration,
    report: &(dyn Fn(String) + Sync),
) -> Result<ServiceState> {
    let name = compose_project(&project.name, &addon.vm);
    let service = addon.service();
    conn.target
        .compose(&name, &["up", "-d", "--no-deps", &service])
        .await?;
    let state = wait_up(&conn.docker, &name, &service, timeout).await?;
    if state.container_id != old_container {
        report(format!(
            "{service}: recreated; provisioning its attachments again"
        ));
        let loaded = ws.load(project)?;
        crate::deploy::provision(
            ws,
            &before.config,
            &loaded.secrets.addons,
            &addon.vm,
            &conn.docker,
            std::slice::from_ref(&state),
        )
        .await?;
    }
    Ok(state)
}

/// Waits for a service to run (and be healthy, if it has a check).
async fn wait_up(
    docker: &Docker,
    name: &str,
    service: &str,
    timeout: Duration,
) -> Result<ServiceState> {
    let start = Instant::now();
    loop {
        let s = docker::project_containers(docker, name)
            .await?
            .into_iter()
            .find(|s| s.service == service);
        match s {
            Some(s)
                if matches!(s.state.as_str(), "exited" | "dead")
                    || s.health.as_deref() == Some("unhealthy") =>
            {
                return Err(UserError::new(format!(
                    "{service} did not come back up ({})",
                    s.health.unwrap_or(s.state)
                ))
                .hint(format!("its logs may say why: sdtui logs {service}")));
            }
            Some(s)
                if s.state == "running" && s.health.as_deref().is_none_or(|h| h == "healthy") =>
            {
                return Ok(s);
            }
            _ if start.elapsed() > timeout => {
                return Err(UserError::new(format!(
                    "{service} was not up within {} s",
                    timeout.as_secs()
                ))
                .hint("raise --timeout or check its health check"));
            }
            _ => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    }
}
