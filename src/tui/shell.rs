//! A shell in a container, k9s-style: the console steps aside, the user's
//! terminal talks to `docker exec -it` (the local engine) or to the same
//! command on a pseudo-terminal over the VM's SSH session, then the
//! console comes back.

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

fn docker_exec(container: &str) -> Vec<String> {
    ["exec", "-it", container, "sh", "-c", SHELL]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// Runs the shell until it exits; the terminal must be out of the
/// console's alternate screen, and no one else reading its input.
pub async fn run(ws: &Workspace, project: &Project, vm: &Vm, container: &str) -> Result<i32> {
    if vm.is_local() {
        let status = tokio::process::Command::new("docker")
            .args(docker_exec(container))
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
    let mut channel = session
        .exec_pty(
            &RemoteCommand::new("docker", docker_exec(container)),
            &term,
            cols,
            rows,
        )
        .await?;
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
