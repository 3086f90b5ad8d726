//! App releases: `deploy APP --tag`, `releases`, `rollback`; the first
//! state is a release too.

use super::*;

/// One app release, as `releases APP` lists them.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Release {
    pub version: u32,
    pub app: String,
    pub tag: String,
    pub time: String,
    pub user: String,
    /// `deployed`, `failed: ...`, `rolled back`.
    pub status: String,
    /// The release this one replaced (a rollback names its target).
    pub description: String,
}

pub(super) fn releases_path(project: &Project, app: &str) -> PathBuf {
    project
        .state_dir()
        .join("releases")
        .join(format!("{app}.jsonl"))
}

pub fn releases(project: &Project, app: &str) -> Result<Vec<Release>> {
    let path = releases_path(project, app);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(io_error(&path, "read", e)),
    };
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

pub(super) fn record_release(
    project: &Project,
    app: &str,
    tag: &str,
    status: &str,
    description: &str,
) -> Result<Release> {
    let version = releases(project, app)?
        .last()
        .map(|r| r.version)
        .unwrap_or(0)
        + 1;
    let r = Release {
        version,
        app: app.into(),
        tag: tag.into(),
        time: audit::now(),
        user: audit::current_user(),
        status: status.into(),
        description: description.into(),
    };
    let path = releases_path(project, app);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, "create", e))?;
    }
    let mut line = serde_json::to_string(&r).unwrap_or_default();
    line.push('\n');
    use std::io::Write;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .map_err(|e| io_error(&path, "append to", e))?;
    Ok(r)
}

/// `deploy APP --tag T`: the new tag into config.yml, regenerate, recreate
/// only that app once its attachments are healthy, run its after_deploy
/// hooks inside it, record the release. A failing start or hook puts the
/// previous tag back.
pub async fn deploy_app(
    ws: &Workspace,
    project: &Project,
    app: &str,
    tag: &str,
    timeout: Duration,
    report: &(dyn Fn(String) + Sync),
) -> Result<Release> {
    let vm = app_vm(ws, project, app)?;
    let _lock = lock::acquire(project, &vm, &format!("deploy {app}"), report).await?;
    deploy_release(ws, project, app, tag, timeout, "").await
}

pub(super) fn app_vm(ws: &Workspace, project: &Project, app: &str) -> Result<String> {
    let loaded = ws.load(project)?;
    Ok(crate::engine::require_app(&loaded.config, app)?.vm.clone())
}

pub(super) async fn deploy_release(
    ws: &Workspace,
    project: &Project,
    app: &str,
    tag: &str,
    timeout: Duration,
    description: &str,
) -> Result<Release> {
    let started = audit::now();
    let operation = format!("deploy {app} --tag {tag}");
    let before = ws.load(project)?;
    let a = crate::engine::require_app(&before.config, app)?.clone();
    let previous_tag = a.tag.clone();
    // Nothing is started, and no release number taken, unless the app's
    // VM answers and its attachments there are healthy.
    let ready = match Connected::open(ws, project, &before.config.vms[&a.vm]).await {
        Ok(conn) => attachments_ready(project, &before.config, &a, &conn)
            .await
            .map(|()| conn),
        Err(e) => Err(e),
    };
    let conn = match ready {
        Ok(conn) => conn,
        Err(e) => {
            let first = e.message.lines().next().unwrap_or_default().to_string();
            audit::append(
                &project.audit_path(),
                &audit::Entry::since(
                    started,
                    &operation,
                    format!("failed before starting: {first}"),
                    vec![],
                ),
            )?;
            return Err(e);
        }
    };
    // What ran before the first deploy is a release too, so `rollback`
    // can reach it (projects deployed before `up` recorded releases).
    if !releases(project, app)?
        .iter()
        .any(|r| r.status == "deployed")
    {
        record_release(
            project,
            app,
            &previous_tag,
            "deployed",
            "what ran before the first deploy",
        )?;
    }
    ws.run(
        project,
        &Operation::SetTag {
            app: app.into(),
            tag: tag.into(),
        },
        false,
    )?;
    match release_app(ws, project, &conn, app, timeout, true).await {
        Ok(()) => {
            let desc = if description.is_empty() {
                format!("from {previous_tag}")
            } else {
                description.to_string()
            };
            let r = record_release(project, app, tag, "deployed", &desc)?;
            audit::append(
                &project.audit_path(),
                &audit::Entry::since(
                    started,
                    &operation,
                    "applied",
                    vec![format!("release v{}", r.version)],
                ),
            )?;
            Ok(r)
        }
        Err(e) => {
            let first = e.message.lines().next().unwrap_or_default().to_string();
            record_release(project, app, tag, &format!("failed: {first}"), description)?;
            // Back to what ran: the old tag in config.yml and in the container.
            let restored = ws.run(project, &Operation::SetTag { app: app.into(), tag: previous_tag.clone() }, false).is_ok()
                // Its hooks already ran when it was released.
                && release_app(ws, project, &conn, app, timeout, false).await.is_ok();
            audit::append(
                &project.audit_path(),
                &audit::Entry::since(started, &operation, format!("failed: {first}"), vec![]),
            )?;
            let tail = if restored {
                format!("; {app} is back on {previous_tag}")
            } else {
                format!("; putting {app} back on {previous_tag} failed too")
            };
            Err(UserError {
                message: format!("{}{tail}", e.message),
                ..e
            })
        }
    }
}

/// An app's attachments on its own VM must be up and healthy before it is
/// (re)started.
pub(super) async fn attachments_ready(
    project: &Project,
    config: &Config,
    app: &crate::config::App,
    conn: &Connected,
) -> Result<()> {
    let name = compose_project(&project.name, &app.vm);
    let states = docker::project_containers(&conn.docker, &name).await?;
    for att in &app.attachments {
        let addon = config.addon(&att.addon).expect("validated");
        if addon.vm == app.vm
            && !states
                .iter()
                .any(|s| s.service == addon.service() && s.health.as_deref() == Some("healthy"))
        {
            return Err(UserError::new(format!(
                "{} ({}) is not running healthy on VM {}",
                att.addon,
                addon.service(),
                app.vm
            ))
            .hint(format!(
                "bring the addons up first: sdtui -p {} up --vm {}",
                project.name, app.vm
            )));
        }
    }
    Ok(())
}

/// Records, after a healthy `up`, a release for each app on the VM whose
/// tag is not the one its last release deployed: the first state is a
/// release (as on Heroku), and so is a tag changed by hand in config.yml.
pub(super) fn record_up_releases(project: &Project, config: &Config, vm: &str) -> Result<()> {
    for a in config.apps.values().filter(|a| a.vm == vm) {
        let history = releases(project, &a.name)?;
        let last = history.iter().rev().find(|r| r.status == "deployed");
        match last {
            Some(r) if r.tag == a.tag => {}
            Some(r) => {
                let from = format!("by up, from {}", r.tag);
                record_release(project, &a.name, &a.tag, "deployed", &from)?;
            }
            None => {
                record_release(project, &a.name, &a.tag, "deployed", "first release, by up")?;
            }
        }
    }
    Ok(())
}

/// Recreates one app from the generated files and waits for it; then runs
/// its hooks.
pub(super) async fn release_app(
    ws: &Workspace,
    project: &Project,
    conn: &Connected,
    app: &str,
    timeout: Duration,
    run_hooks: bool,
) -> Result<()> {
    let loaded = ws.load(project)?;
    let a = crate::engine::require_app(&loaded.config, app)?.clone();
    let docker = &conn.docker;
    let name = compose_project(&project.name, &a.vm);
    let generated = crate::engine::apply::generated_vm_dir(&project.dir, &a.vm)?;
    conn.target.stage(project, &a.vm, &generated).await?;
    conn.target
        .compose(&name, &["up", "-d", "--no-deps", app])
        .await?;
    let start = Instant::now();
    let state = loop {
        let s = docker::project_containers(docker, &name)
            .await?
            .into_iter()
            .find(|s| s.service == app);
        match s {
            Some(s)
                if matches!(s.state.as_str(), "exited" | "dead" | "restarting")
                    || s.health.as_deref() == Some("unhealthy") =>
            {
                let logs = docker::tail_logs(docker, &s.container_id, 20)
                    .await
                    .unwrap_or_default();
                let text: Vec<String> = logs.into_iter().map(|(_, l)| l).collect();
                return Err(UserError::new(format!(
                    "{app} did not start ({}); last log lines:\n{}",
                    s.health.clone().unwrap_or(s.state.clone()),
                    text.join("\n")
                ))
                .hint("check the image and tag"));
            }
            Some(s)
                if s.state == "running" && s.health.as_deref().is_none_or(|h| h == "healthy") =>
            {
                break s;
            }
            _ if start.elapsed() > timeout => {
                return Err(UserError::new(format!(
                    "{app} was not healthy within {} s",
                    timeout.as_secs()
                ))
                .hint("raise --timeout or check its health check"));
            }
            _ => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    };
    for hook in a.after_deploy.iter().filter(|_| run_hooks) {
        // The user's own command line, run by a shell inside the app's
        // container, as Heroku's release phase does.
        let (code, out) = docker::exec(
            docker,
            &state.container_id,
            vec!["sh".into(), "-c".into(), hook.clone()],
            vec![],
            None,
        )
        .await?;
        if code != 0 {
            return Err(UserError::new(format!(
                "after_deploy hook `{hook}` failed in {app} (exit {code}):\n{}",
                out.trim_end()
            ))
            .hint("fix the hook or the release, then deploy again"));
        }
    }
    Ok(())
}

/// `rollback APP [--to TAG]`: redeploys the release before the current one
/// (or the given tag) as a new release.
pub async fn rollback_app(
    ws: &Workspace,
    project: &Project,
    app: &str,
    to: Option<&str>,
    timeout: Duration,
    report: &(dyn Fn(String) + Sync),
) -> Result<Release> {
    let vm = app_vm(ws, project, app)?;
    let _lock = lock::acquire(project, &vm, &format!("rollback {app}"), report).await?;
    let history = releases(project, app)?;
    let deployed: Vec<&Release> = history.iter().filter(|r| r.status == "deployed").collect();
    let target = match to {
        Some(t) => t.to_string(),
        None => {
            let [.., before, _current] = deployed.as_slice() else {
                return Err(UserError::new(format!(
                    "{app} has no earlier release to roll back to"
                ))
                .hint(format!("see `sdtui -p {} releases {app}`", project.name)));
            };
            before.tag.clone()
        }
    };
    let current = deployed
        .last()
        .map(|r| format!("v{} ({})", r.version, r.tag))
        .unwrap_or_default();
    deploy_release(
        ws,
        project,
        app,
        &target,
        timeout,
        &format!("rollback from {current}"),
    )
    .await
}
