//! `addons ...`: list, info, add, remove, rename, upgrade, attach, detach,
//! attachments, credentials.

use super::*;

pub(super) fn parse_access(s: &str) -> Result<Access> {
    Access::parse(s).ok_or_else(|| {
        UserError::new(format!("access \"{s}\" is not valid"))
            .hint("--access readwrite or --access readonly")
    })
}

pub(super) fn addons(ws: &Workspace, p: &Project, cmd: AddonsCmd) -> Result<()> {
    match cmd {
        AddonsCmd::List { json } => addons_list(ws, p, json),
        AddonsCmd::Info {
            addon,
            reveal,
            json,
        } => addons_info(ws, p, &addon, reveal, json),
        AddonsCmd::Credentials(args) => super::credentials::run(ws, p, args),
        AddonsCmd::Attachments { app, json } => attachments(ws, p, app.as_deref(), json),
        AddonsCmd::Add {
            type_name,
            name,
            name_flag,
            category,
            plan,
            version,
            vm,
            options,
            with_deps,
            apply,
        } => {
            let options = options
                .iter()
                .map(|o| {
                    crate::config::parse_option(o)
                        .map_err(|e| UserError::new(format!("--option {e}")))
                })
                .collect::<Result<Vec<_>>>()?;
            let Some(name) = name_flag.or(name) else {
                return Err(UserError::new(format!("addons add {type_name}: which name?")).hint(
                    format!("give the instance a name: `sdtui addons add {type_name} --name NAME` (or NAME after the type), e.g. primary or analytics"),
                ));
            };
            mutate(
                ws,
                p,
                &Operation::Add {
                    type_name,
                    name,
                    category,
                    plan,
                    version,
                    vm,
                    options,
                    with_deps,
                },
                &apply,
            )
        }
        AddonsCmd::Remove {
            addon,
            purge,
            confirm,
            apply,
        } => {
            if !purge {
                return mutate(ws, p, &Operation::Remove { id: addon }, &apply);
            }
            // Refusals that hold without --purge (still attached ...) first.
            ws.plan(p, &Operation::Remove { id: addon.clone() })?;
            if confirm.as_deref() != Some(addon.as_str()) {
                return Err(UserError::new(format!(
                    "--purge deletes the data of {addon} for good"
                ))
                .hint(format!("type the name back to confirm: --confirm {addon}")));
            }
            if apply.dry_run {
                mutate(ws, p, &Operation::Remove { id: addon.clone() }, &apply)?;
                let vm = crate::engine::require_addon(&ws.load(p)?.config, &addon)?
                    .vm
                    .clone();
                println!(
                    "dry run: would also delete the container and volumes of {addon} on VM {vm}"
                );
                return Ok(());
            }
            print_plan(
                &ws.plan(p, &Operation::Remove { id: addon.clone() })?,
                &apply,
            );
            let removed = runtime()?
                .block_on(crate::deploy::remove_and_purge(
                    ws, p, &addon, None, &progress,
                ))
                .map_err(|e| match e {
                    crate::deploy::RemoveError::Refused(e) => e,
                    crate::deploy::RemoveError::PurgeFailed(e) => e,
                })?;
            println!("addons remove {addon}: removed from config.yml");
            for v in removed {
                println!("deleted volume {v}");
            }
            Ok(())
        }
        AddonsCmd::Rename { old, new, apply } => {
            mutate(ws, p, &Operation::Rename { id: old, new }, &apply)
        }
        AddonsCmd::Upgrade {
            addon,
            plan,
            version,
            apply,
        } => mutate(
            ws,
            p,
            &Operation::Upgrade {
                id: addon,
                plan,
                version,
            },
            &apply,
        ),
        AddonsCmd::Attach {
            addon,
            app,
            prefix,
            access,
            apply,
        } => {
            let access = parse_access(&access)?;
            mutate(
                ws,
                p,
                &Operation::Attach {
                    id: addon,
                    app,
                    prefix,
                    access,
                },
                &apply,
            )
        }
        AddonsCmd::Detach {
            addon,
            app,
            prefix,
            apply,
        } => mutate(
            ws,
            p,
            &Operation::Detach {
                id: addon,
                app,
                prefix,
            },
            &apply,
        ),
    }
}

pub(super) fn addons_list(ws: &Workspace, p: &Project, json: bool) -> Result<()> {
    let l = ws.load(p)?;
    warn_out_of_sync(&l);
    let items = l.addon_summaries();
    if json {
        print_json(&items);
        return Ok(());
    }
    if items.is_empty() {
        println!(
            "no addons in {}; add one with `sdtui addons add TYPE NAME`",
            p.name
        );
        return Ok(());
    }
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|i| {
            vec![
                i.id.clone(),
                i.type_name.clone(),
                i.version.clone(),
                i.plan.clone(),
                i.vm.clone(),
                format!(
                    "{}:{}",
                    i.host.as_deref().unwrap_or("null"),
                    i.port
                        .map(|p| p.to_string())
                        .unwrap_or_else(|| "null".into())
                ),
                if i.attached.is_empty() {
                    "-".into()
                } else {
                    i.attached.join(", ")
                },
            ]
        })
        .collect();
    table(
        &[
            "ADDON",
            "TYPE",
            "VERSION",
            "PLAN",
            "VM",
            "ADDRESS",
            "ATTACHED AS",
        ],
        &rows,
    );
    Ok(())
}

pub(super) fn addons_info(
    ws: &Workspace,
    p: &Project,
    id: &str,
    reveal: bool,
    json: bool,
) -> Result<()> {
    let l = ws.load(p)?;
    warn_out_of_sync(&l);
    let a = crate::engine::require_addon(&l.config, id)?;
    let t = ws.catalog.require(&a.type_name)?;
    let creds = &l.generated.secrets[&a.type_name][&a.name];
    let mut masker = crate::engine::plan::Masker::default();
    let shown: Vec<(String, String)> = creds
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                if !reveal && t.is_secret_credential(k) {
                    masker.label(v)
                } else {
                    v.clone()
                },
            )
        })
        .collect();
    let atts: Vec<serde_json::Value> = l
        .config
        .attachments_of(id)
        .map(|(app, att)| json!({"app": app.name, "as": att.prefix, "access": att.access}))
        .collect();
    let plan = &t.plans[&a.plan];
    // A follower's replay lag, read live on its leader.
    let lag = match &a.follows {
        Some(_) => Some(
            super::runtime()?
                .block_on(crate::pg::ops::lags(ws, p, &l.config))
                .into_iter()
                .find(|x| x.follower == a.id()),
        )
        .flatten(),
        None => None,
    };
    // Installation status and health, live from the VM's engine.
    let live = super::runtime()?.block_on(crate::contract::status::of_addon(ws, p, &l.config, a));
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "id": a.id(), "status": live.status, "health": live.health, "status_detail": live.detail, "type": a.type_name, "version": a.version, "plan": a.plan, "vm": a.vm,
                "follows": a.follows, "replication": lag,
                "image": a.image.clone().unwrap_or_else(|| t.image_for(&a.version)), "service": a.service(),
                "resources": {"memory": plan.memory, "cpu": plan.cpu, "disk": plan.disk},
                "options": crate::engine::generate::effective_options(t, a).into_iter().collect::<std::collections::BTreeMap<_,_>>(),
                "credentials": shown.iter().cloned().collect::<indexmap::IndexMap<_,_>>(), "attachments": atts,
            }))
            .unwrap_or_default()
        );
        return Ok(());
    }
    println!("=== {} ({} {})", a.id(), t.name, a.version);
    if a.system {
        println!(
            "Plan:      {} (a system type: its script runs on the VM)",
            a.plan
        );
    } else {
        println!(
            "Plan:      {} ({} memory, {} cpu, {} disk)",
            a.plan, plan.memory, plan.cpu, plan.disk
        );
    }
    println!("VM:        {}", a.vm);
    println!("Service:   {}", a.service());
    println!(
        "Status:    {} ({})",
        live.status.map(|s| s.as_str()).unwrap_or("unknown"),
        live.detail
    );
    println!("Health:    {}", live.health.as_str());
    if let Some(leader) = &a.follows {
        println!("Follows:   {leader} (read-only hot standby; attachments are readonly)");
        if let Some(lag) = &lag {
            println!("Lag:       {}", lag.describe());
        }
    }
    if !a.system {
        println!(
            "Image:     {}",
            a.image.clone().unwrap_or_else(|| t.image_for(&a.version))
        );
    }
    for (k, v) in crate::engine::generate::effective_options(t, a) {
        println!("Option:    {k} = {v}");
    }
    println!("\nConnection");
    for (k, v) in &shown {
        println!("  {k:<18} {v}");
    }
    println!("\nAttached to");
    if a.system {
        println!("  (nothing: a system type configures its VM)");
    } else if atts.is_empty() {
        println!(
            "  (no apps) attach with: sdtui addons attach {} --app APP",
            a.id()
        );
    }
    for (app, att) in l.config.attachments_of(id) {
        println!("  {}::{} ({})", app.name, att.prefix, att.access.as_str());
    }
    Ok(())
}

pub(super) fn attachments(
    ws: &Workspace,
    p: &Project,
    only_app: Option<&str>,
    json: bool,
) -> Result<()> {
    let l = ws.load(p)?;
    if let Some(app) = only_app {
        crate::engine::require_app(&l.config, app)?;
    }
    let mut rows = Vec::new();
    for app in l
        .config
        .apps
        .values()
        .filter(|a| only_app.is_none_or(|o| o == a.name))
    {
        for att in &app.attachments {
            let a = l.config.addon(&att.addon).expect("validated");
            rows.push(json!({"app": app.name, "addon": att.addon, "type": a.type_name, "as": att.prefix, "access": att.access}));
        }
    }
    if json {
        print_json(&rows);
        return Ok(());
    }
    let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let table_rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                s(&r["app"]),
                format!("{} ({})", s(&r["addon"]), s(&r["type"])),
                s(&r["as"]),
                s(&r["access"]),
            ]
        })
        .collect();
    table(&["APP", "ADDON", "AS", "ACCESS"], &table_rows);
    Ok(())
}
