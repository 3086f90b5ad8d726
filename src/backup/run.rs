//! Commands as data, and where they run. The dump and the restore stream
//! between the addon's container and a file on the addon's VM with the
//! VM's own `docker` CLI (never through this process: a GB stays on the
//! VM); small commands (inventory, reset) go through the Docker API.
//!
//! Every shell snippet here is a fixed `-c` script; paths, names and argv
//! are its positional parameters, and passwords arrive as `NAME=value`
//! lines on its standard input, exported, and handed to `docker exec -e
//! NAME` so they never appear in a process list.

use bollard::Docker;
use bollard::exec::{CreateExecOptions, StartExecResults};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::spec::Rendered;
use crate::deploy::target::Target;
use crate::error::{Result, UserError};
use crate::ssh::{ExecOutput, RemoteCommand};

/// Reads `NAME=value` lines up to an empty one and exports them; leaves
/// `-e NAME ...` in `$names`.
const READ_ENV: &str = "names=; while IFS= read -r line && [ -n \"$line\" ]; do export \"$line\"; names=\"$names -e ${line%%=*}\"; done; ";

/// `$1` folder, `$2` file name, `$3` container, the rest the dump's argv.
/// Writes under a hidden partial name, removed on any failure; prints
/// `SIZE SHA256` of the finished file.
pub const DUMP_SCRIPT: &str = "set -u; dir=$1 name=$2 container=$3; shift 3; umask 077; \
mkdir -p \"$dir\" || exit 1; \
if [ -e \"$dir/$name\" ]; then echo \"sdtui: $dir/$name exists\" >&2; exit 5; fi; \
tmp=\"$dir/.$name.partial\"; trap 'rm -f \"$tmp\"' EXIT; trap 'exit 129' HUP INT TERM; \
docker exec $names \"$container\" \"$@\" > \"$tmp\" || { rc=$?; echo \"sdtui: the dump failed (exit $rc)\" >&2; exit 3; }; \
set -- $(wc -c < \"$tmp\") $(sha256sum < \"$tmp\"); \
mv \"$tmp\" \"$dir/$name\" || exit 1; echo \"$1 $2\"";

/// `$1` the backup file, `$2` container, the rest the restore's argv; the
/// file goes to the client's standard input.
pub const RESTORE_SCRIPT: &str = "set -u; file=$1 container=$2; shift 2; \
docker exec -i $names \"$container\" \"$@\" < \"$file\"";

/// `$1` a file: prints `SIZE SHA256`, or fails when it is missing.
pub const CHECK_SCRIPT: &str = "[ -f \"$1\" ] || { echo \"sdtui: $1 is missing\" >&2; exit 4; }; \
set -- $(wc -c < \"$1\") $(sha256sum < \"$1\"); echo \"$1 $2\"";

/// `$1` the backup file, `$2` container, `$3` path inside it.
pub const COPY_IN_SCRIPT: &str = "docker cp \"$1\" \"$2:$3\"";

/// `$1` folder: every manifest in it, one per line.
pub const LIST_SCRIPT: &str = "[ -d \"$1\" ] || exit 0; for f in \"$1\"/*.json; do [ -f \"$f\" ] && cat \"$f\" && echo; done; exit 0";

/// Runs a fixed script on the VM (locally with `sh`, else over the SSH
/// session) with `env` fed first on its standard input.
pub async fn vm_sh(
    target: &Target,
    script: &str,
    args: &[String],
    env: &[(String, String)],
) -> Result<ExecOutput> {
    let mut input = String::new();
    for (k, v) in env {
        if v.contains('\n') {
            return Err(UserError::new(format!(
                "the value of {k} holds a line break"
            )));
        }
        input.push_str(&format!("{k}={v}\n"));
    }
    input.push('\n');
    let full = format!("{READ_ENV}{script}");
    match target {
        Target::Local { .. } => {
            let mut child = tokio::process::Command::new("sh")
                .arg("-c")
                .arg(&full)
                .arg("sh")
                .args(args)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| UserError::new(format!("cannot run sh: {e}")))?;
            if let Some(mut stdin) = child.stdin.take() {
                // A script that exits early does not read it: ignore EPIPE.
                let _ = stdin.write_all(input.as_bytes()).await;
            }
            let out = child
                .wait_with_output()
                .await
                .map_err(|e| UserError::new(format!("cannot run sh: {e}")))?;
            Ok(ExecOutput {
                code: out.status.code().map(|c| c as u32).unwrap_or(255),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            })
        }
        Target::Remote { session, .. } => {
            let mut all = vec!["-c".to_string(), full, "sh".to_string()];
            all.extend(args.iter().cloned());
            session
                .exec_with_input(&RemoteCommand::new("sh", all), input.as_bytes())
                .await
        }
    }
}

/// `SIZE SHA256` as a script prints it.
pub fn parse_size_sum(out: &str) -> Option<(u64, String)> {
    let mut words = out.split_whitespace();
    let size = words.next()?.parse().ok()?;
    let sum = words.next()?.to_string();
    (sum.len() == 64 && sum.chars().all(|c| c.is_ascii_hexdigit())).then_some((size, sum))
}

fn env_list(env: &[(String, String)]) -> Vec<String> {
    env.iter().map(|(k, v)| format!("{k}={v}")).collect()
}

/// Runs a small command in a container through the API.
pub async fn exec(
    docker: &Docker,
    container: &str,
    cmd: &Rendered,
    input: Option<String>,
) -> Result<(i64, String)> {
    crate::docker::exec(
        docker,
        container,
        cmd.argv.clone(),
        env_list(&cmd.env),
        input,
    )
    .await
}

/// An inventory session held open while the dump runs (postgres: its
/// transaction's exported snapshot is what the dump reads).
pub struct HeldSession {
    stdin: std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
    output: std::pin::Pin<
        Box<
            dyn futures_util::Stream<
                    Item = std::result::Result<
                        bollard::container::LogOutput,
                        bollard::errors::Error,
                    >,
                > + Send,
        >,
    >,
}

/// Starts the session, writes `input`, and reads lines up to a line `.`.
pub async fn hold(
    docker: &Docker,
    container: &str,
    cmd: &Rendered,
    input: &str,
) -> Result<(HeldSession, Vec<String>)> {
    let fail = |what: String| UserError::new(format!("inventory session: {what}"));
    let created = docker
        .create_exec(
            container,
            CreateExecOptions {
                cmd: Some(cmd.argv.clone()),
                env: Some(env_list(&cmd.env)),
                attach_stdin: Some(true),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| fail(e.to_string()))?;
    let StartExecResults::Attached {
        output,
        input: mut stdin,
    } = docker
        .start_exec(&created.id, None)
        .await
        .map_err(|e| fail(e.to_string()))?
    else {
        return Err(fail("the engine did not attach to it".into()));
    };
    stdin
        .write_all(input.as_bytes())
        .await
        .map_err(|e| fail(e.to_string()))?;
    stdin.flush().await.map_err(|e| fail(e.to_string()))?;
    let mut session = HeldSession { stdin, output };
    let mut lines = Vec::new();
    let mut pending = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(600);
    loop {
        let chunk = tokio::time::timeout_at(deadline, session.output.next())
            .await
            .map_err(|_| fail("no answer within 600 s".into()))?;
        match chunk {
            Some(Ok(out)) => {
                pending.push_str(&String::from_utf8_lossy(&out.into_bytes()));
                while let Some(i) = pending.find('\n') {
                    let line: String = pending.drain(..=i).collect();
                    let line = line.trim_end_matches(['\n', '\r']).to_string();
                    if line == "." {
                        return Ok((session, lines));
                    }
                    lines.push(line);
                }
            }
            Some(Err(e)) => return Err(fail(e.to_string())),
            None => {
                lines.push(pending);
                return Err(fail(format!(
                    "it ended before its last line: {}",
                    lines.join(" | ").trim()
                )));
            }
        }
    }
}

impl HeldSession {
    /// Ends the session (its transaction ends with it).
    pub async fn close(mut self) {
        let _ = self.stdin.shutdown().await;
        while let Ok(Some(_)) =
            tokio::time::timeout(std::time::Duration::from_secs(30), self.output.next()).await
        {
        }
    }
}

/// Lines of a command's output up to a line `.` (or the end).
pub fn lines_until_end(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.trim_end_matches('\r').to_string())
        .take_while(|l| l != ".")
        .collect()
}
