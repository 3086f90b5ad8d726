//! Runs the type's client (`connect: {client, env}` in addon.yml) on this
//! machine against the addon, through a forward when it lives on an SSH VM.

use super::{Destination, client_vars, forward};
use crate::engine::{Project, Workspace};
use crate::error::{Result, UserError};

/// `connect ADDON [-- ARGS]`: the client's exit code.
pub async fn connect(
    ws: &Workspace,
    project: &Project,
    dest: &Destination,
    extra_args: &[String],
    report: forward::Report,
) -> Result<i32> {
    let spec = dest.t.connect.clone().ok_or_else(|| {
        UserError::new(format!(
            "{} ({}) has no client to open: its type declares no connect:",
            dest.addon.id(),
            dest.t.name
        ))
        .hint("keep a forward open with --port N and use a client of your own")
    })?;
    // On the local VM the address is reachable as it is.
    let (fwd, host, port) = if dest.vm.is_local() {
        (None, dest.host.clone(), dest.port)
    } else {
        let f = forward::open(ws, project, dest, None, report).await?;
        let port = f.local.port();
        (Some(f), "127.0.0.1".to_string(), port)
    };
    let vars = client_vars(dest, &host, port);
    let render = |s: &str| {
        crate::template::render(s, &vars)
            .map_err(|m| UserError::new(format!("{}: connect uses unknown {{{m}}}", dest.t.name)))
    };
    let argv: Vec<String> = spec
        .client
        .iter()
        .map(|a| render(a))
        .collect::<Result<_>>()?;
    let Some((program, args)) = argv.split_first() else {
        return Err(UserError::new(format!(
            "{}: connect.client is empty",
            dest.t.name
        )));
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args).args(extra_args);
    for (k, v) in &spec.env {
        cmd.env(k, render(v)?);
    }
    let mut child = cmd.spawn().map_err(|e| {
        UserError::new(format!(
            "cannot run {program} (the {} client): {e}",
            dest.t.name
        ))
        .hint("install it, or keep a forward open with --port N and use another client")
    })?;
    // Ctrl-C is the client's (psql cancels a query with it), not ours.
    let ignore_interrupts = tokio::spawn(async { while tokio::signal::ctrl_c().await.is_ok() {} });
    let status = child
        .wait()
        .await
        .map_err(|e| UserError::new(format!("{program}: {e}")));
    ignore_interrupts.abort();
    drop(fwd);
    Ok(status?.code().unwrap_or(1))
}
