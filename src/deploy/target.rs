//! Where a VM's files go and its commands run: the local engine directly,
//! or a remote one through one SSH session (files uploaded atomically,
//! compose run there, the Docker API over the session's streamlocal
//! channel). Every step of `up`, `status` and `logs` goes through this.

use std::path::{Path, PathBuf};

use bollard::Docker;

use super::{
    Command, compose_label, compose_program, configured_compose, detect, release_dir, run,
};
use crate::config::Vm;
use crate::engine::generate::COMPOSE_FILE;
use crate::engine::{Project, Workspace};
use crate::error::{Result, UserError, io_error};
use crate::ssh::{RemoteCommand, Session, SshTarget};

pub enum Target {
    Local {
        /// `.sdtui/deploy/<vm>` in the project.
        base: PathBuf,
        program: Vec<String>,
    },
    Remote {
        session: Session,
        /// Relative to the login's home: `.sdtui/<project>/<vm>`.
        base: String,
        program: Vec<String>,
    },
}

pub struct Connected {
    pub target: Target,
    pub docker: Docker,
}

fn expand_home(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(p),
    }
}

/// known_hosts: `$SDTUI_KNOWN_HOSTS`, else `~/.ssh/known_hosts`.
pub fn known_hosts() -> PathBuf {
    std::env::var_os("SDTUI_KNOWN_HOSTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| expand_home("~/.ssh/known_hosts"))
}

/// The SSH target of a VM, with `~/.ssh/config` Host aliases honoured
/// (config.yml's own fields win).
pub fn ssh_target(vm: &Vm, accept_new_host: bool) -> SshTarget {
    let alias =
        crate::ssh::default_ssh_config().and_then(|f| crate::ssh::resolve_alias(&vm.host, &f));
    let (host, port, user, identity) = match alias {
        Some((h, p, u, i)) => (h, p, u, i),
        None => (vm.host.clone(), None, None, None),
    };
    SshTarget {
        host,
        port: if vm.port != 22 {
            vm.port
        } else {
            port.unwrap_or(22)
        },
        user: if vm.user != "root" {
            vm.user.clone()
        } else {
            user.unwrap_or_else(|| vm.user.clone())
        },
        identity: vm.identity.as_deref().map(expand_home).or(identity),
        known_hosts: known_hosts(),
        accept_new_host,
    }
}

/// Asks for an encrypted key's passphrase some other way than the
/// terminal's own prompt (the console asks in a dialog).
pub type PassphraseProvider = Box<dyn Fn(&Path) -> Option<String> + Send + Sync>;

static PASSPHRASE_PROVIDER: std::sync::Mutex<Option<PassphraseProvider>> =
    std::sync::Mutex::new(None);

/// Set by the console: its dialog instead of a prompt on the terminal it
/// draws on.
pub fn set_passphrase_provider(provider: PassphraseProvider) {
    if let Ok(mut p) = PASSPHRASE_PROVIDER.lock() {
        *p = Some(provider);
    }
}

/// An encrypted key's passphrase: `$SDTUI_KEY_PASSPHRASE`, else the
/// provider (the console), else asked on the terminal (never echoed);
/// without a terminal, none.
fn ask_passphrase(path: &Path) -> Option<String> {
    if let Ok(p) = std::env::var("SDTUI_KEY_PASSPHRASE") {
        return Some(p);
    }
    if let Ok(p) = PASSPHRASE_PROVIDER.lock()
        && let Some(ask) = p.as_ref()
    {
        return ask(path);
    }
    rpassword::prompt_password(format!("Passphrase for {}: ", path.display())).ok()
}

impl Connected {
    pub async fn open(ws: &Workspace, project: &Project, vm: &Vm) -> Result<Connected> {
        if vm.is_local() {
            return Ok(Connected {
                target: Target::Local {
                    base: release_dir(project, &vm.name),
                    program: compose_program(vm),
                },
                docker: crate::docker::connect_local().await?,
            });
        }
        let target = ssh_target(vm, ws.accept_new_host);
        let session = Session::connect(&target, &ask_passphrase)
            .await
            .map_err(|e| UserError {
                message: format!("VM {}: {}", vm.name, e.message),
                ..e
            })?;
        let docker = session.docker().await.map_err(|e| UserError {
            message: format!("VM {}: {}", vm.name, e.message),
            ..e
        })?;
        // The VM's own Compose: its PATH and DOCKER_CONFIG, not ours.
        let program = match configured_compose(vm) {
            Some(p) => p,
            None => detect(
                session
                    .exec(&RemoteCommand::new("docker", ["compose", "version"]))
                    .await
                    .is_ok_and(|o| o.success()),
            ),
        };
        Ok(Connected {
            target: Target::Remote {
                session,
                base: format!(".sdtui/{}/{}", project.name, vm.name),
                program,
            },
            docker,
        })
    }
}

impl Target {
    /// The generated files become the new `current`; the old one stays as
    /// `previous`. Returns whether a previous release exists.
    /// `generated`: the generation folder of the VM's files, resolved once
    /// by the caller (a sync may switch `compose` meanwhile).
    pub async fn stage(&self, project: &Project, vm: &str, generated: &Path) -> Result<bool> {
        match self {
            Target::Local { .. } => super::stage(project, vm, generated),
            Target::Remote { session, base, .. } => {
                let next = format!("{base}/next");
                remote(
                    session,
                    RemoteCommand::new(
                        "sh",
                        [
                            "-c",
                            "rm -rf \"$1\" && mkdir -p -m 700 \"$1/env\"",
                            "sh",
                            &next,
                        ],
                    ),
                )
                .await?;
                let files = files_under(generated)?;
                // Other subfolders (the backup services' scripts), 0755.
                let subdirs: std::collections::BTreeSet<String> = files
                    .iter()
                    .filter_map(|(rel, _)| rel.parent())
                    .filter(|d| !d.as_os_str().is_empty() && *d != Path::new("env"))
                    .map(|d| format!("{next}/{}", d.display()))
                    .collect();
                if !subdirs.is_empty() {
                    let mut args = vec![
                        "-c".to_string(),
                        "mkdir -p \"$@\"".to_string(),
                        "sh".to_string(),
                    ];
                    args.extend(subdirs);
                    remote(session, RemoteCommand::new("sh", args)).await?;
                }
                for (rel, mode) in files {
                    let bytes = std::fs::read(generated.join(&rel))
                        .map_err(|e| io_error(&generated.join(&rel), "read", e))?;
                    session
                        .upload(&format!("{next}/{}", rel.display()), &bytes, mode)
                        .await?;
                }
                // A fixed script; the folder is its argument, never pasted.
                let out = remote(
                    session,
                    RemoteCommand::new(
                        "sh",
                        [
                            "-c",
                            "had=0; [ -d \"$1/current\" ] && had=1; rm -rf \"$1/previous\" && { [ \"$had\" = 0 ] || mv \"$1/current\" \"$1/previous\"; } && mv \"$1/next\" \"$1/current\" && echo \"$had\"",
                            "sh",
                            base,
                        ],
                    ),
                )
                .await?;
                Ok(out.trim() == "1")
            }
        }
    }

    /// Back to `previous` after a failed release.
    pub async fn unstage(&self, project: &Project, vm: &str) -> Result<()> {
        match self {
            Target::Local { .. } => super::unstage(project, vm),
            Target::Remote { session, base, .. } => {
                remote(session, RemoteCommand::new("sh", ["-c", "[ -d \"$1/previous\" ] && rm -rf \"$1/failed\" && mv \"$1/current\" \"$1/failed\" && mv \"$1/previous\" \"$1/current\"", "sh", base])).await.map(|_| ())
            }
        }
    }

    pub fn has_current(&self) -> bool {
        match self {
            Target::Local { base, .. } => base.join("current").join(COMPOSE_FILE).exists(),
            Target::Remote { .. } => true,
        }
    }

    /// `docker compose -p NAME -f current/docker-compose.yml ARGS`.
    pub async fn compose(&self, compose_project: &str, args: &[&str]) -> Result<String> {
        match self {
            Target::Local { base, program } => {
                run(&super::compose_command(
                    program,
                    &base.join("current"),
                    compose_project,
                    args,
                ))
                .await
            }
            Target::Remote {
                session,
                base,
                program,
            } => {
                let mut all: Vec<String> = program[1..].to_vec();
                all.extend([
                    "-p".into(),
                    compose_project.into(),
                    "-f".into(),
                    format!("{base}/current/{COMPOSE_FILE}"),
                ]);
                all.extend(args.iter().map(|s| s.to_string()));
                let cmd = RemoteCommand::new(program[0].clone(), all);
                remote(session, cmd).await
            }
        }
    }

    /// The Compose command run here (`docker compose`, `docker-compose`).
    pub fn program(&self) -> &[String] {
        match self {
            Target::Local { program, .. } | Target::Remote { program, .. } => program,
        }
    }

    /// `compose v2.26.1 (docker compose)`: the version the VM's Compose
    /// reports; an error that says how to choose one when it does not run.
    pub async fn compose_label(&self) -> Result<String> {
        let (program, vm) = match self {
            Target::Local { program, .. } => (program, "the local engine".to_string()),
            Target::Remote {
                program, session, ..
            } => (program, session.label().to_string()),
        };
        let output = match self {
            Target::Local { program, .. } => {
                let mut args: Vec<String> = program[1..].to_vec();
                args.extend(["version".into(), "--short".into()]);
                run(&Command {
                    program: program[0].clone(),
                    args,
                    dir: std::env::temp_dir(),
                })
                .await
            }
            Target::Remote {
                session, program, ..
            } => {
                let mut args: Vec<String> = program[1..].to_vec();
                args.extend(["version".into(), "--short".into()]);
                remote(session, RemoteCommand::new(program[0].clone(), args)).await
            }
        };
        output
            .map(|out| compose_label(program, out.lines().last().unwrap_or_default()))
            .map_err(|e| {
                UserError::new(format!(
                    "Compose does not run on {vm}: {}",
                    e.message
                ))
                .hint("install Compose v2 (`docker compose`) or v1 (`docker-compose`), or name the command in config.yml: `vms.<vm>.compose: docker compose`")
            })
    }

    /// What `compose` would run, for plans and tests.
    pub fn describe_compose(&self, compose_project: &str, args: &[&str]) -> String {
        match self {
            Target::Local { base, program } => {
                let Command { program, args, .. } =
                    super::compose_command(program, &base.join("current"), compose_project, args);
                format!("{program} {}", args.join(" "))
            }
            Target::Remote { base, program, .. } => {
                let mut all: Vec<String> = program[1..].to_vec();
                all.extend([
                    "-p".into(),
                    compose_project.into(),
                    "-f".into(),
                    format!("{base}/current/{COMPOSE_FILE}"),
                ]);
                all.extend(args.iter().map(|s| s.to_string()));
                RemoteCommand::new(program[0].clone(), all).line()
            }
        }
    }
}

pub(crate) async fn remote(session: &Session, cmd: RemoteCommand) -> Result<String> {
    let out = session.exec(&cmd).await?;
    if !out.success() {
        return Err(UserError::new(format!(
            "on {}: `{}` failed (exit {}):\n{}{}",
            session.label(),
            cmd.line(),
            out.code,
            out.stdout,
            out.stderr.trim_end()
        )));
    }
    Ok(format!("{}{}", out.stdout, out.stderr))
}

/// Files under a generated VM folder with the mode each must have.
fn files_under(dir: &Path) -> Result<Vec<(PathBuf, u32)>> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let abs = dir.join(&rel);
        for e in std::fs::read_dir(&abs)
            .map_err(|e| io_error(&abs, "read", e))?
            .flatten()
        {
            let r = rel.join(e.file_name());
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(r);
            } else {
                let mode = if r.extension().is_some_and(|x| x == "env") {
                    0o600
                } else {
                    0o644
                };
                out.push((r, mode));
            }
        }
    }
    out.sort();
    Ok(out)
}
