//! `sdtui addons credentials ADDON [--reveal NAME]` and `addons credentials
//! rotate ADDON [--readonly]`: the CLI face of [`crate::credentials`].

use clap::{Args, Subcommand};

use crate::cli::{print_json, progress, runtime, table};
use crate::credentials::{rotate, show};
use crate::engine::{Project, Workspace};
use crate::error::{Result, UserError};

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct CredentialsArgs {
    #[command(subcommand)]
    action: Option<CredentialsCmd>,
    /// The instance (`databases.main`).
    addon: Option<String>,
    /// Show this one credential's value (`PASSWORD`).
    #[arg(long, value_name = "NAME")]
    reveal: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum CredentialsCmd {
    /// A new password, changed inside the running server, saved, and the
    /// attached apps restarted onto it; the old one is then refused.
    Rotate {
        /// The instance (`databases.main`).
        addon: String,
        /// The readonly login's password instead of the main one.
        #[arg(long)]
        readonly: bool,
        /// Seconds to wait for each restarted service.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(ws: &Workspace, p: &Project, args: CredentialsArgs) -> Result<()> {
    match args.action {
        Some(CredentialsCmd::Rotate {
            addon,
            readonly,
            timeout,
            json,
        }) => {
            let r = runtime()?.block_on(rotate::rotate(
                ws,
                p,
                &addon,
                readonly,
                std::time::Duration::from_secs(timeout),
                &progress,
            ))?;
            if json {
                print_json(&r);
                return Ok(());
            }
            println!(
                "{}: new {} for {}; the old one is refused, the new one works",
                r.addon, r.credential, r.user
            );
            for a in &r.restarted {
                println!("  restarted {a}");
            }
            for a in &r.on_next_start {
                println!("  {a}: not running, gets it when it next starts");
            }
            if r.addon_recreated {
                println!("  {} recreated from its new files", r.addon);
            }
            Ok(())
        }
        None => {
            let id = args.addon.ok_or_else(|| {
                UserError::new("which addon?")
                    .hint("sdtui addons credentials ADDON, or addons credentials rotate ADDON")
            })?;
            let all = show::list(ws, p, &id)?;
            let shown = show::masked(&all, &id, args.reveal.as_deref())?;
            if args.json {
                print_json(&shown);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = shown
                .iter()
                .map(|c| vec![c.name.clone(), c.value.clone()])
                .collect();
            table(&["NAME", "VALUE"], &rows);
            Ok(())
        }
    }
}
