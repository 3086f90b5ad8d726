//! Running one contract function of a script-backed type, where its kind
//! says (on this machine, inside the addon's container, or on the VM over
//! SSH), with a timeout; every call becomes an execution record in the
//! audit trail (seed 001's AddonExecution), secrets masked.

use std::path::Path;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use super::script::{Function, SCRIPT, check_shape};
use crate::error::{Result, UserError};
use crate::ssh::{RemoteCommand, Session};

/// Where a call runs.
pub enum Place<'a> {
    /// This machine: `catalog validate`, and a system type on `local`.
    Local,
    /// Inside a container, through its engine (local or over SSH).
    Container {
        docker: &'a Docker,
        container: &'a str,
    },
    /// On a VM, over its SSH session.
    Ssh(&'a Session),
}

impl Place<'_> {
    fn label(&self) -> String {
        match self {
            Place::Local => "local".into(),
            Place::Container { container, .. } => format!("container {container}"),
            Place::Ssh(s) => format!("ssh {}", s.label()),
        }
    }
}

/// One call: `./addon.sh FUNCTION ARGS` with `input` on stdin.
pub struct Call<'a> {
    pub type_name: &'a str,
    /// The type's folder, holding addon.sh.
    pub dir: &'a Path,
    pub function: Function,
    pub args: Vec<String>,
    pub input: Option<String>,
    pub timeout: Duration,
    /// Values masked wherever the call's output is kept or shown.
    pub secrets: Vec<String>,
    /// Where it runs (a system type: its data folder on the VM); else the
    /// type's folder on this machine, the login's home over SSH.
    pub cwd: Option<String>,
}

/// The audit trail's record of one call.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Execution {
    #[serde(rename = "type")]
    pub type_name: String,
    pub function: String,
    pub args: Vec<String>,
    pub place: String,
    /// None when it was killed at its timeout or could not start.
    pub exit: Option<i64>,
    pub duration_ms: u64,
    pub stdout: String,
    pub stderr: String,
}

/// Kept output per stream, at most this many bytes (the tail).
const KEEP: usize = 8 * 1024;

/// Wraps the script so it runs where no copy of it exists: written to a
/// temporary file, run under `timeout`, removed. Its text and arguments are
/// positional parameters, never pasted into the line.
const WRAPPER: &str = r#"f=$(mktemp) || exit 125
printf '%s' "$2" > "$f" && chmod 700 "$f" || exit 125
t=$1; d=$3; shift 3
[ -z "$d" ] || cd "$d" || exit 125
timeout -s KILL "$t" "$f" "$@"
rc=$?
rm -f "$f"
exit $rc"#;

fn mask(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(s.as_str(), "********");
    }
    out
}

fn tail(text: &str) -> String {
    if text.len() <= KEEP {
        return text.to_string();
    }
    let mut start = text.len() - KEEP;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &text[start..])
}

/// Runs the call and checks what it printed. The record is returned even
/// when the call failed, for the audit trail.
pub async fn call(place: &Place<'_>, c: &Call<'_>) -> (Execution, Result<Value>) {
    let started = Instant::now();
    let ran = tokio::time::timeout(c.timeout + Duration::from_secs(5), raw(place, c)).await;
    let duration_ms = started.elapsed().as_millis() as u64;
    let mut rec = Execution {
        type_name: c.type_name.to_string(),
        function: c.function.as_str().to_string(),
        args: c.args.clone(),
        place: place.label(),
        exit: None,
        duration_ms,
        stdout: String::new(),
        stderr: String::new(),
    };
    let who = format!("type {}, function {}", c.type_name, c.function.as_str());
    let by_hand = format!(
        "run it by hand: cd {} && ./{SCRIPT} {}",
        c.dir.display(),
        std::iter::once(c.function.as_str().to_string())
            .chain(c.args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let timed_out = || {
        UserError::new(format!(
            "{who}: no answer within {} s; it was stopped",
            c.timeout.as_secs()
        ))
        .hint("make it finish sooner, or raise `contract: timeout:` (seconds) in its addon.yml")
    };
    let (code, stdout, stderr) = match ran {
        Err(_) => return (rec, Err(timed_out())),
        Ok(Err(e)) => {
            rec.stderr = mask(&e.message, &c.secrets);
            let e = UserError::new(format!("{who}: {}", mask(&e.message, &c.secrets)));
            return (rec, Err(e));
        }
        Ok(Ok(r)) => r,
    };
    let stdout = mask(&stdout, &c.secrets);
    let stderr = mask(&stderr, &c.secrets);
    rec.exit = Some(code);
    rec.stdout = tail(&stdout);
    rec.stderr = tail(&stderr);
    // `timeout -s KILL` ends it with 137 (128 + 9).
    if code == 137 && started.elapsed() >= c.timeout {
        rec.exit = None;
        return (rec, Err(timed_out()));
    }
    if code != 0 {
        let said = if stderr.trim().is_empty() {
            stdout.trim()
        } else {
            stderr.trim()
        };
        let said: String = tail(said)
            .lines()
            .rev()
            .take(10)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n  ");
        return (
            rec,
            Err(UserError::new(format!("{who}: exited {code}:\n  {said}")).hint(by_hand)),
        );
    }
    let value: Value = match serde_json::from_str(stdout.trim()) {
        Ok(v) => v,
        Err(e) => {
            let shown: String = stdout.trim().chars().take(200).collect();
            return (
                rec,
                Err(
                    UserError::new(format!("{who}: printed invalid JSON ({e}): {shown:?}"))
                        .hint("print exactly one JSON object on stdout; send logs to stderr"),
                ),
            );
        }
    };
    if let Err(wrong) = check_shape(c.function, &value) {
        return (
            rec,
            Err(UserError::new(format!("{who}: {wrong}"))
                .hint("see \"Your own addon types\" in README.md for what each function prints")),
        );
    }
    (rec, Ok(value))
}

/// Runs it where `place` says: (exit code, stdout, stderr).
async fn raw(place: &Place<'_>, c: &Call<'_>) -> Result<(i64, String, String)> {
    let script = c.dir.join(SCRIPT);
    let mut argv = vec![c.function.as_str().to_string()];
    argv.extend(c.args.iter().cloned());
    match place {
        Place::Local => {
            check_executable(c, &script)?;
            // It runs in its folder: a relative path would not resolve.
            let script = std::fs::canonicalize(&script).unwrap_or(script);
            let mut cmd = tokio::process::Command::new(&script);
            cmd.args(&argv)
                .current_dir(c.cwd.as_deref().map(Path::new).unwrap_or(c.dir))
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .kill_on_drop(true);
            let mut child = cmd
                .spawn()
                .map_err(|e| UserError::new(format!("cannot start {}: {e}", script.display())))?;
            if let Some(mut stdin) = child.stdin.take() {
                let input = c.input.clone().unwrap_or_default();
                // A script that does not read its input is fine.
                let _ = stdin.write_all(input.as_bytes()).await;
            }
            match tokio::time::timeout(c.timeout, child.wait_with_output()).await {
                Ok(Ok(out)) => Ok((
                    out.status.code().map(i64::from).unwrap_or(137),
                    String::from_utf8_lossy(&out.stdout).into_owned(),
                    String::from_utf8_lossy(&out.stderr).into_owned(),
                )),
                Ok(Err(e)) => Err(UserError::new(format!("{}: {e}", script.display()))),
                // Dropped: killed.
                Err(_) => Ok((137, String::new(), String::new())),
            }
        }
        Place::Container { docker, container } => {
            let text = read_script(c, &script)?;
            let mut cmd = vec![
                "sh".to_string(),
                "-c".into(),
                WRAPPER.into(),
                "sdtui-addon".into(),
                c.timeout.as_secs().to_string(),
                text,
                c.cwd.clone().unwrap_or_default(),
            ];
            cmd.extend(argv);
            exec_split(docker, container, cmd, c.input.clone()).await
        }
        Place::Ssh(session) => {
            let text = read_script(c, &script)?;
            let mut args = vec![
                "-c".to_string(),
                WRAPPER.into(),
                "sdtui-addon".into(),
                c.timeout.as_secs().to_string(),
                text,
                c.cwd.clone().unwrap_or_default(),
            ];
            args.extend(argv);
            let out = session
                .exec_with_input(
                    &RemoteCommand::new("sh", args),
                    c.input.clone().unwrap_or_default().as_bytes(),
                )
                .await?;
            Ok((i64::from(out.code), out.stdout, out.stderr))
        }
    }
}

fn check_executable(c: &Call<'_>, script: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(script).map_err(|e| {
        UserError::new(format!(
            "type {}, function {}: {}: {e}",
            c.type_name,
            c.function.as_str(),
            script.display()
        ))
        .hint(format!(
            "a script-backed type keeps its contract in {SCRIPT}"
        ))
    })?;
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(UserError::new(format!(
            "type {}, function {}: {} is not executable",
            c.type_name,
            c.function.as_str(),
            script.display()
        ))
        .hint(format!("chmod +x {}", script.display())));
    }
    Ok(())
}

fn read_script(c: &Call<'_>, script: &Path) -> Result<String> {
    check_executable(c, script)?;
    std::fs::read_to_string(script).map_err(|e| crate::error::io_error(script, "read", e))
}

/// `docker exec` with stdout and stderr kept apart.
async fn exec_split(
    docker: &Docker,
    container: &str,
    cmd: Vec<String>,
    input: Option<String>,
) -> Result<(i64, String, String)> {
    let fail = |e: bollard::errors::Error| UserError::new(format!("exec in {container}: {e}"));
    let created = docker
        .create_exec(
            container,
            CreateExecOptions {
                cmd: Some(cmd),
                attach_stdin: Some(true),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await
        .map_err(fail)?;
    let (mut out, mut err) = (String::new(), String::new());
    if let StartExecResults::Attached {
        mut output,
        input: mut stdin,
    } = docker.start_exec(&created.id, None).await.map_err(fail)?
    {
        let _ = stdin.write_all(input.unwrap_or_default().as_bytes()).await;
        let _ = stdin.shutdown().await;
        drop(stdin);
        while let Some(chunk) = output.next().await {
            match chunk.map_err(fail)? {
                LogOutput::StdErr { message } => err.push_str(&String::from_utf8_lossy(&message)),
                other => out.push_str(&String::from_utf8_lossy(&other.into_bytes())),
            }
        }
    }
    let code = docker
        .inspect_exec(&created.id)
        .await
        .map_err(fail)?
        .exit_code
        .unwrap_or(-1);
    Ok((code, out, err))
}

/// Appends the call's record to a project's audit trail.
pub fn record(audit_path: &Path, rec: &Execution, ok: bool) -> Result<()> {
    let mut entry = crate::engine::audit::Entry::new(
        format!("contract {} {}", rec.type_name, rec.function),
        if ok { "ok" } else { "failed" },
        vec![],
    );
    entry.execution = Some(rec.clone());
    crate::engine::audit::append(audit_path, &entry)
}
