//! `sdtui watch`: the CLI face of [`crate::watch`], one line per event on
//! stdout, for a terminal, a log file or the journal.

use std::path::Path;
use std::sync::Arc;

use clap::Args;

use crate::cli::runtime;
use crate::engine::{Project, Workspace};
use crate::error::{Result, UserError};
use crate::watch::{self, Event};

#[derive(Args, Debug)]
pub struct WatchArgs {
    /// Look once at every service, print its state and exit (non-zero if
    /// any is unhealthy, degraded or stopped); no alert runs.
    #[arg(long, conflicts_with = "print_systemd_unit")]
    once: bool,
    /// Print a systemd user unit that runs this watch, and exit.
    #[arg(long)]
    print_systemd_unit: bool,
}

pub fn run(ws: Workspace, p: &Project, a: WatchArgs) -> Result<()> {
    if a.print_systemd_unit {
        print!("{}", systemd_unit(&ws.root, &p.name, ws.accept_new_host)?);
        return Ok(());
    }
    let rt = runtime()?;
    if a.once {
        let mut bad = 0;
        for (vm, looked) in rt.block_on(watch::look_once(&ws, p))? {
            match looked {
                Ok(states) => {
                    for (addon, state) in states {
                        bad += usize::from(state.is_bad());
                        println!("{addon} on {vm}: {}", state.as_str());
                    }
                }
                Err(reason) => {
                    bad += 1;
                    println!("VM {vm}: unreachable: {reason}");
                }
            }
        }
        if bad > 0 {
            return Err(UserError::new(format!("{bad} not healthy"))
                .hint(format!("see `sdtui -p {} status`", p.name)));
        }
        return Ok(());
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let ws = Arc::new(ws);
    rt.block_on(async {
        let engine = tokio::spawn(watch::run(ws, p.clone(), tx));
        while let Some(ev) = rx.recv().await {
            println!(
                "{} {}",
                chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ"),
                line(&ev)
            );
        }
        // The channel closes only when the engine returned: an error
        // loading config.yml, or nothing to watch.
        match engine.await {
            Ok(Ok(())) => Err(
                UserError::new(format!("project {} has no VMs to watch", p.name))
                    .hint("add a VM to config.yml"),
            ),
            Ok(Err(e)) => Err(e),
            Err(e) => Err(UserError::new(format!("watch stopped: {e}"))),
        }
    })
}

fn line(ev: &Event) -> String {
    match ev {
        Event::Connected { vm } => format!("VM {vm}: connected, following its events"),
        Event::Unreachable {
            vm,
            reason,
            retry_in,
        } => format!(
            "VM {vm}: unreachable ({reason}); retrying in {}s",
            retry_in.as_secs()
        ),
        Event::Lost { vm, reason } => format!("VM {vm}: lost ({reason}); reconnecting"),
        Event::Baseline { vm, addon, state } => format!("{addon} on {vm}: {}", state.as_str()),
        Event::Changed(c) => format!(
            "{}: {} -> {}{}",
            c.subject(),
            c.old.as_str(),
            c.new.as_str(),
            c.reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ),
        Event::Alerted { change, result } => match result {
            Ok(0) => format!("{}: alert ran", change.subject()),
            Ok(code) => format!("{}: alert command exited with {code}", change.subject()),
            Err(e) => format!("{}: alert command failed: {e}", change.subject()),
        },
    }
}

/// A systemd user unit running `sdtui watch` for the project with this
/// binary and projects root.
fn systemd_unit(root: &Path, project: &str, accept_new_host: bool) -> Result<String> {
    let exe = std::env::current_exe()
        .map_err(|e| UserError::new(format!("cannot find the sdtui binary's path: {e}")))?;
    let root = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
    // systemd splits ExecStart on spaces unless a word is double-quoted.
    let quote = |p: &Path| {
        let s = p.display().to_string();
        if s.contains([' ', '"', '\\']) {
            format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
        } else {
            s
        }
    };
    let unit = format!("sdtui-watch-{project}");
    let accept = if accept_new_host {
        " --accept-new-host"
    } else {
        ""
    };
    Ok(format!(
        "# Save as ~/.config/systemd/user/{unit}.service, then:
#   systemctl --user daemon-reload && systemctl --user enable --now {unit}
#   loginctl enable-linger \"$USER\"   # keep it running after you log out
# Its lines: journalctl --user -u {unit} -f
[Unit]
Description=sdtui watch: alerts on {project}'s addon health
After=network-online.target docker.service
Wants=network-online.target

[Service]
Type=simple
ExecStart={exe} --root {root} -p {project}{accept} watch
Restart=always
RestartSec=10

[Install]
WantedBy=default.target
",
        exe = quote(&exe),
        root = quote(&root),
    ))
}
