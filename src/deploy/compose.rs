//! Which Compose runs on a VM (v1 or v2, configured or detected), what it
//! reports itself as, and its commands as data.

use super::*;

/// How one compose command is run: the program and its arguments, as data
/// (never a shell line), so tests can read exactly what would run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub program: String,
    pub args: Vec<String>,
    pub dir: PathBuf,
}

/// The Compose command a VM's settings name: config.yml's
/// `vms.<vm>.compose`, else, for the local engine only, `$SDTUI_COMPOSE`
/// (`docker compose`, `docker-compose` or a path: this machine's setting,
/// not a remote VM's); `None` leaves the choice to [`detect`].
pub fn configured_compose(vm: &Vm) -> Option<Vec<String>> {
    vm.compose.clone().or_else(|| {
        std::env::var("SDTUI_COMPOSE")
            .ok()
            .filter(|_| vm.is_local())
            .and_then(|s| shlex::split(&s))
            .filter(|w| !w.is_empty())
    })
}

/// `docker compose` (v2) when `docker compose version` runs, else
/// `docker-compose` (v1, or v2 installed standalone).
pub fn detect(v2_runs: bool) -> Vec<String> {
    if v2_runs {
        vec!["docker".into(), "compose".into()]
    } else {
        vec!["docker-compose".into()]
    }
}

/// The local engine's Compose.
pub fn compose_program(vm: &Vm) -> Vec<String> {
    configured_compose(vm).unwrap_or_else(|| {
        detect(
            std::process::Command::new("docker")
                .args(["compose", "version"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success()),
        )
    })
}

/// How `up` names the Compose it ran: `compose v2.26.1 (docker compose)`.
pub fn compose_label(program: &[String], version_output: &str) -> String {
    let version = version_output.trim();
    let version = version.strip_prefix('v').unwrap_or(version);
    let command =
        shlex::try_join(program.iter().map(String::as_str)).unwrap_or_else(|_| program.join(" "));
    format!("compose v{version} ({command})")
}

/// The version Compose wrote on the containers of `states` it made or
/// remade in this run (`com.docker.compose.version`), when there are any:
/// the Compose that just ran, without asking it again.
pub(super) async fn ran_version(
    docker: &Docker,
    compose_project: &str,
    before: &BTreeMap<String, String>,
    states: &[docker::ServiceState],
) -> Option<String> {
    let made: Vec<&str> = states
        .iter()
        .filter(|s| before.get(&s.service) != Some(&s.container_id))
        .map(|s| s.container_id.as_str())
        .collect();
    if made.is_empty() {
        return None;
    }
    let filters = std::collections::HashMap::from([(
        "label".to_string(),
        vec![format!("{}={compose_project}", docker::COMPOSE_PROJECT)],
    )]);
    let list = docker
        .list_containers(Some(
            bollard::query_parameters::ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .ok()?;
    list.into_iter()
        .filter(|c| c.id.as_deref().is_some_and(|id| made.contains(&id)))
        .find_map(|c| c.labels?.get("com.docker.compose.version").cloned())
        .filter(|v| !v.trim().is_empty())
}

/// Compose project name for a project's VM: containers are found by it.
pub fn compose_project(project: &str, vm: &str) -> String {
    format!("{project}-{vm}")
}

pub fn compose_command(
    program: &[String],
    dir: &Path,
    compose_project: &str,
    args: &[&str],
) -> Command {
    let mut all: Vec<String> = program[1..].to_vec();
    all.extend([
        "-p".into(),
        compose_project.into(),
        "-f".into(),
        COMPOSE_FILE.into(),
    ]);
    all.extend(args.iter().map(|s| s.to_string()));
    Command {
        program: program[0].clone(),
        args: all,
        dir: dir.to_path_buf(),
    }
}

pub(crate) async fn run(cmd: &Command) -> Result<String> {
    let out = tokio::process::Command::new(&cmd.program)
        .args(&cmd.args)
        .current_dir(&cmd.dir)
        .output()
        .await
        .map_err(|e| {
            UserError::new(format!("cannot run {}: {e}", cmd.program))
                .hint("install docker-compose or the docker compose plugin")
        })?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        return Err(UserError::new(format!(
            "{} {} failed:\n{}",
            cmd.program,
            cmd.args.join(" "),
            text.trim_end()
        )));
    }
    Ok(text)
}
