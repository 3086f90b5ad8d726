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
    /// Per addon of each environment (or of ENV), then its deployment's containers (text only): state, health, ports.
    Status {
        /// One environment (default: all).
        env: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Validate, generate, addons up and healthy, init phase, deployment.
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
    /// The init phase alone: each init file run to completion, a table of exits.
    Init {
        /// The environment, as under `environments:` in config.yml.
        env: String,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The deployment alone: the user's file substituted, `up -d`, health waited.
    Deploy {
        /// The environment, as under `environments:` in config.yml.
        env: String,
        /// Seconds to wait for health checks.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// Restart the deployment's containers (or one service's).
    Restart {
        /// The environment, as under `environments:` in config.yml.
        env: String,
        /// One service of the deployment (default: all).
        service: Option<String>,
    },
    /// Logs of the environment's containers (addons and deployment), or one service's.
    Logs {
        /// The environment, as under `environments:` in config.yml.
        env: String,
        /// One service (default: all).
        service: Option<String>,
        /// Keep following.
        #[arg(short, long)]
        follow: bool,
        /// Lines from the end of each log.
        #[arg(long, default_value_t = 100)]
        tail: usize,
    },
    /// Every variable the environment's files use, its value (secrets masked) and where it lands.
    DryRun {
        /// The environment, as under `environments:` in config.yml.
        env: String,
        /// Show secret values.
        #[arg(long)]
        reveal: bool,
    },
    /// Files with every variable resolved that run without sdtui.
    Export {
        /// The environment, as under `environments:` in config.yml.
        env: String,
        /// compose (addons + init + deployment), pod (the Pod deployment), env (.env).
        #[arg(long, value_enum)]
        format: crate::env::ops::ExportFormat,
        /// Folder to write into (default: export-ENV in the current folder).
        #[arg(short, long)]
        output: Option<std::path::PathBuf>,
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
            // Then the deployment's containers, in the same table (text only:
            // the JSON stays one row per addon).
            let deployed = runtime()?.block_on(ops::deployment_status(ws, p, env.as_deref()))?;
            let rows: Vec<Vec<String>> = rows
                .iter()
                .chain(&deployed)
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
            print_init(&r.init);
            print_deployment(&r.deployment);
            Ok(())
        }
        EnvCmd::Init { env, json } => {
            let r = runtime()?.block_on(ops::init(ws, p, &env, &progress))?;
            if json {
                print_json(&r);
                return Ok(());
            }
            print_init(&r);
            Ok(())
        }
        EnvCmd::Deploy { env, timeout } => {
            let r = runtime()?.block_on(ops::deploy(
                ws,
                p,
                &env,
                std::time::Duration::from_secs(timeout),
                &progress,
            ))?;
            print_deployment(&r);
            Ok(())
        }
        EnvCmd::Restart { env, service } => {
            runtime()?.block_on(ops::restart(ws, p, &env, service.as_deref(), &progress))?;
            println!("env {env}: restarted");
            Ok(())
        }
        EnvCmd::Logs {
            env,
            service,
            follow,
            tail,
        } => {
            let rt = runtime()?;
            let sources = rt.block_on(ops::log_sources(ws, p, &env, service.as_deref()))?;
            let colour = std::io::IsTerminal::is_terminal(&std::io::stdout());
            rt.block_on(super::logs::all(sources, tail, follow, colour))
        }
        EnvCmd::DryRun { env, reveal } => {
            print!("{}", ops::dry_run(ws, p, &env, reveal)?);
            Ok(())
        }
        EnvCmd::Export {
            env,
            format,
            output,
        } => {
            let out = output.unwrap_or_else(|| std::path::PathBuf::from(format!("export-{env}")));
            let files = ops::export(ws, p, &env, format, &out)?;
            for f in &files {
                println!(
                    "wrote {} ({:o}){}",
                    f.path.display(),
                    f.mode,
                    if f.secrets {
                        ": holds secrets in the clear, as asked; mode 0600"
                    } else {
                        ""
                    }
                );
            }
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

fn print_init(r: &crate::env::ops::InitReport) {
    if r.rows.is_empty() {
        println!("init: none configured (skipped)");
    } else {
        println!("init:");
        print!("{}", crate::env::ops::render_init(&r.rows));
    }
}

fn print_deployment(r: &crate::env::ops::DeployReport) {
    if r.services.is_empty() {
        println!("deployment: {}", r.file);
        return;
    }
    println!(
        "deployment: {} (compose project {})",
        r.file, r.compose_project
    );
    let rows: Vec<Vec<String>> = r
        .services
        .iter()
        .map(|s| {
            vec![
                s.service.clone(),
                s.state.clone(),
                s.health.clone().unwrap_or_else(|| "-".into()),
                s.ports.join(" "),
            ]
        })
        .collect();
    table(&["SERVICE", "STATE", "HEALTH", "PORTS"], &rows);
}
