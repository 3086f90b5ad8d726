//! A program on the user's terminal inside a container: the console's
//! shell (k9s-style, the console steps aside) and `db shell` (the type's
//! client). The terminal talks to `docker exec -it` (the local engine) or
//! to the same command on a pseudo-terminal over the VM's SSH session.
//! Credentials reach the program as environment variables: never on a
//! command line (where `ps` would show them).

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use russh::ChannelMsg;

use crate::config::Vm;
use crate::engine::{Project, Workspace};
use crate::error::{Result, UserError};
use crate::ssh::RemoteCommand;

/// bash when the image has it, else sh.
const SHELL: &str = "if command -v bash >/dev/null 2>&1; then exec bash; else exec sh; fi";

/// What runs in the container.
#[derive(Debug, Clone)]
pub struct InContainer {
    pub argv: Vec<String>,
    /// Given to the program as its environment (secrets among them).
    pub env: Vec<(String, String)>,
}

impl InContainer {
    /// A login shell: bash when the image has it, else sh.
    pub fn shell() -> InContainer {
        InContainer {
            argv: ["sh", "-c", SHELL].map(String::from).to_vec(),
            env: Vec::new(),
        }
    }
}

/// On the VM: turns the terminal's echo off, says it is ready, reads one
/// value per name from its input (the SSH channel: never echoed, never on
/// a command line), then `docker exec -it -e NAME ...`.
const REMOTE: &str = r#"c=$1; shift; names=; while [ "$1" != -- ]; do names="$names $1"; shift; done; shift
stty -echo 2>/dev/null; echo sdtui-ready
pass=; for n in $names; do IFS= read -r v; export "$n=$v"; pass="$pass -e $n"; done
stty echo 2>/dev/null
exec docker exec -it $pass "$c" "$@""#;
const READY: &[u8] = b"sdtui-ready";

/// Runs `what` in `container` on the user's terminal until it exits; the
/// terminal must be out of the console's alternate screen, and no one else
/// reading its input. Its exit code.
pub async fn run(
    ws: &Workspace,
    project: &Project,
    vm: &Vm,
    container: &str,
    what: &InContainer,
) -> Result<i32> {
    for (name, value) in &what.env {
        // Names go through the VM's shell; values one per line.
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(UserError::new(format!("{name:?} is not a variable name")));
        }
        if value.contains('\n') {
            return Err(UserError::new(format!("the value of {name} spans lines")));
        }
    }
    if vm.is_local() {
        let mut cmd = tokio::process::Command::new("docker");
        cmd.args(["exec", "-it"]);
        for (name, value) in &what.env {
            cmd.arg("-e").arg(name).env(name, value);
        }
        let status = cmd
            .arg(container)
            .args(&what.argv)
            .status()
            .await
            .map_err(|e| UserError::new(format!("cannot run docker exec: {e}")))?;
        return Ok(status.code().unwrap_or(-1));
    }
    let conn = crate::deploy::target::Connected::open(ws, project, vm).await?;
    let crate::deploy::target::Target::Remote { session, .. } = &conn.target else {
        return Err(UserError::new("not an SSH VM"));
    };
    let (cols, rows) = crossterm::terminal::size().unwrap_or((80, 24));
    let term = std::env::var("TERM").unwrap_or_else(|_| "xterm-256color".into());
    let mut args: Vec<String> = vec!["-c".into(), REMOTE.into(), "sdtui".into(), container.into()];
    args.extend(what.env.iter().map(|(n, _)| n.clone()));
    args.push("--".into());
    args.extend(what.argv.iter().cloned());
    let mut channel = session
        .exec_pty(&RemoteCommand::new("sh", args), &term, cols, rows)
        .await?;
    // The values go only once the VM's terminal no longer echoes.
    let mut seen = Vec::new();
    while !seen.windows(READY.len()).any(|w| w == READY) {
        match channel.wait().await {
            Some(ChannelMsg::Data { data }) => seen.extend_from_slice(&data),
            Some(ChannelMsg::ExitStatus { exit_status }) => return Ok(exit_status as i32),
            Some(_) => {}
            None => {
                return Err(UserError::new(format!(
                    "VM {}: the terminal closed before the program started",
                    vm.name
                )));
            }
        }
    }
    let mut values = String::new();
    for (_, value) in &what.env {
        values.push_str(value);
        values.push('\n');
    }
    if !values.is_empty() {
        channel
            .data(values.as_bytes())
            .await
            .map_err(|e| UserError::new(format!("VM {}: {e}", vm.name)))?;
    }
    crossterm::terminal::enable_raw_mode().map_err(|e| UserError::new(format!("terminal: {e}")))?;
    // Standard input from a thread that looks at a stop flag between polls,
    // so no read is left pending to steal a key from the console after.
    let (keys_tx, mut keys) = tokio::sync::mpsc::channel::<Vec<u8>>(64);
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while !stop.load(Ordering::Relaxed) {
                let mut fds = libc::pollfd {
                    fd: 0,
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd, and a buffer of the size given.
                let ready = unsafe { libc::poll(&mut fds, 1, 100) };
                if ready <= 0 {
                    continue;
                }
                let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
                if n <= 0 || keys_tx.blocking_send(buf[..n as usize].to_vec()).is_err() {
                    break;
                }
            }
        })
    };
    let mut out = std::io::stdout();
    let mut code = -1;
    // The terminal's size follows the user's window.
    let mut resized =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change()).ok();
    loop {
        tokio::select! {
            Some(()) = async { resized.as_mut()?.recv().await } => {
                if let Ok((cols, rows)) = crossterm::terminal::size() {
                    let _ = channel.window_change(cols.into(), rows.into(), 0, 0).await;
                }
            }
            Some(bytes) = keys.recv() => {
                if channel.data(&bytes[..]).await.is_err() {
                    break;
                }
            }
            msg = channel.wait() => match msg {
                Some(ChannelMsg::Data { data }) | Some(ChannelMsg::ExtendedData { data, .. }) => {
                    let _ = out.write_all(&data);
                    let _ = out.flush();
                }
                Some(ChannelMsg::ExitStatus { exit_status }) => code = exit_status as i32,
                Some(_) => {}
                None => break,
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = reader.join();
    let _ = crossterm::terminal::disable_raw_mode();
    Ok(code)
}
