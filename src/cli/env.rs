//! `sdtui env ...`: environments, each run as a project of its own.

use super::*;

#[derive(Subcommand, Debug)]
pub enum EnvCmd {
    /// Every environment: its VMs, addons and live state.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Per addon of each environment (or of ENV): container state, health, ports.
    Status {
        /// One environment (default: all).
        env: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Validate, generate, bring the environment's addons up and healthy.
    Start {
        /// The environment, as under `environments:` in config.yml.
        env: String,
        /// Seconds to wait for health checks.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Stop and remove the environment's containers; its volumes (the data) stay.
    Stop {
        /// The environment, as under `environments:` in config.yml.
        env: String,
    },
    /// The environment's effective configuration, overrides resolved, secrets masked.
    Config {
        /// The environment, as under `environments:` in config.yml.
        env: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

pub(super) fn run(ws: &Workspace, p: &Project, cmd: EnvCmd) -> Result<()> {
    use crate::env::ops;
    match cmd {
        EnvCmd::List { json } => {
            let list = runtime()?.block_on(ops::list(ws, p))?;
            if json {
                print_json(&list);
                return Ok(());
            }
            if list.is_empty() {
                println!("no environments in config.yml (declare them under `environments:`)");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|e| {
                    vec![
                        e.name.clone(),
                        e.vms.join(","),
                        e.addons.join(","),
                        e.state.clone(),
                    ]
                })
                .collect();
            table(&["ENV", "VMS", "ADDONS", "STATE"], &rows);
            Ok(())
        }
        EnvCmd::Status { env, json } => {
            let rows = runtime()?.block_on(ops::status(ws, p, env.as_deref()))?;
            if json {
                print_json(&rows);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.env.clone(),
                        r.vm.clone(),
                        r.addon.clone(),
                        r.service.clone(),
                        r.state.clone(),
                        r.health.clone().unwrap_or_else(|| "-".into()),
                        r.ports.join(" "),
                    ]
                })
                .collect();
            table(
                &["ENV", "VM", "ADDON", "SERVICE", "STATE", "HEALTH", "PORTS"],
                &rows,
            );
            Ok(())
        }
        EnvCmd::Start { env, timeout, json } => {
            let r = runtime()?.block_on(ops::start(
                ws,
                p,
                &env,
                std::time::Duration::from_secs(timeout),
                &progress,
            ))?;
            if json {
                print_json(&r);
                return Ok(());
            }
            print_reports(&r.addons, false);
            println!();
            println!("init: {}", r.init);
            println!("deployment: {}", r.deployment);
            Ok(())
        }
        EnvCmd::Stop { env } => {
            let r = runtime()?.block_on(ops::stop(ws, p, &env, &progress))?;
            print_reports(&r, false);
            println!("\nenv {env}: stopped; its volumes (the data) are kept");
            Ok(())
        }
        EnvCmd::Config { env, json } => {
            let c = ops::effective(ws, p, &env)?;
            if json {
                print_json(&c);
                return Ok(());
            }
            print_effective(&c);
            Ok(())
        }
    }
}

fn print_effective(c: &crate::env::ops::EffectiveConfig) {
    println!("environment {} of project {}", c.environment, c.project);
    println!("folder: {}", c.folder);
    for (vm, compose) in &c.compose_projects {
        println!("VM {vm}: compose project {compose}");
    }
    println!("addons:");
    for a in &c.addons {
        println!(
            "  {} ({}): {} {} plan {} on VM {}",
            a.id, a.source, a.type_name, a.version, a.plan, a.vm
        );
        for (k, v) in &a.options {
            println!("    option {k} = {v}");
        }
        for (k, v) in &a.credentials {
            println!("    {k}: {v}");
        }
    }
    if c.variables.is_empty() {
        println!("variables: none");
    } else {
        println!("variables:");
        for (k, v) in &c.variables {
            println!("  {k}={v}");
        }
    }
    let file =
        |f: &crate::config::UserFile| format!("{} (config.yml:{})", f.path.display(), f.line);
    if c.init.is_empty() {
        println!("init: none");
    } else {
        println!("init (timeout {} s):", c.init_timeout_s);
        for f in &c.init {
            println!("  {}", file(f));
        }
    }
    match &c.deployment {
        Some(f) => println!("deployment: {}", file(f)),
        None => println!("deployment: none"),
    }
}
