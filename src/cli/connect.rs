//! `sdtui connect ADDON`: the CLI face of [`crate::connect`].

use std::sync::Arc;

use clap::Args;

use crate::cli::runtime;
use crate::connect::{self, client, forward};
use crate::engine::{Project, Workspace};
use crate::error::{Result, UserError};

#[derive(Args, Debug)]
pub struct ConnectArgs {
    /// The instance (`databases.main`; default: the only database).
    addon: Option<String>,
    /// Keep a forward open on 127.0.0.1:N for other clients until Ctrl-C
    /// (0: any free port) instead of opening the type's client.
    #[arg(long)]
    port: Option<u16>,
    /// Print the URL that works through the forward (secrets masked unless
    /// --reveal).
    #[arg(long)]
    print_url: bool,
    /// Show the password in the printed URL.
    #[arg(long)]
    reveal: bool,
    /// As the readonly login.
    #[arg(long)]
    readonly: bool,
    /// Passed to the client after its own arguments (`-- -c 'select 1'`).
    #[arg(last = true)]
    args: Vec<String>,
}

fn report() -> forward::Report {
    Arc::new(|line: String| eprintln!("{line}"))
}

pub fn run(ws: &Workspace, p: &Project, a: ConnectArgs) -> Result<()> {
    let addon = super::db::addon_of(ws, p, a.addon.as_deref())?;
    let dest = connect::destination(ws, p, &addon, a.readonly)?;
    let rt = runtime()?;
    match a.port {
        None if a.print_url => {
            if !dest.vm.is_local() {
                return Err(UserError::new(format!(
                    "{} is on VM {}: its URL works only through a forward",
                    addon, dest.vm.name
                ))
                .hint(format!(
                    "keep one open: sdtui -p {} connect {} --port 0 --print-url",
                    p.name, addon
                )));
            }
            println!("{}", connect::url(&dest, &dest.host, dest.port, a.reveal)?);
            Ok(())
        }
        None => {
            let code = rt.block_on(client::connect(ws, p, &dest, &a.args, report()))?;
            if code == 0 {
                Ok(())
            } else {
                Err(UserError::new(format!(
                    "the client exited with status {code}"
                )))
            }
        }
        Some(port) => rt.block_on(async {
            let f = forward::open(ws, p, &dest, Some(port), report()).await?;
            let local = f.local;
            println!(
                "forwarding 127.0.0.1:{} to {} ({}:{} on VM {}); Ctrl-C stops it",
                local.port(),
                addon,
                dest.host,
                dest.port,
                dest.vm.name
            );
            if a.print_url {
                println!(
                    "{}",
                    connect::url(&dest, "127.0.0.1", local.port(), a.reveal)?
                );
            }
            tokio::signal::ctrl_c()
                .await
                .map_err(|e| UserError::new(format!("cannot wait for Ctrl-C: {e}")))?;
            drop(f);
            Ok(())
        }),
    }
}
