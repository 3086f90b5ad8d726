//! Project-wide commands: init, sync, migrate (through `mutate`), an
//! app's environment, the audit trail, the catalog.

use super::*;

pub(super) fn mutate(
    ws: &Workspace,
    p: &Project,
    op: &Operation,
    flags: &ApplyFlags,
) -> Result<()> {
    let plan = ws.run(p, op, flags.dry_run)?;
    print_plan(&plan, flags);
    if plan.is_empty() {
        println!("{}: nothing to change", op.describe());
    } else if flags.dry_run {
        println!(
            "dry run: {} file(s) would change; nothing was written",
            plan.changes.len()
        );
    } else {
        println!("{}: {} file(s) changed", op.describe(), plan.changes.len());
    }
    Ok(())
}

pub(super) fn print_plan(plan: &Plan, flags: &ApplyFlags) {
    if !flags.quiet {
        print!("{}", plan.diff(flags.reveal));
    }
    for c in plan.summary() {
        println!("{:>6} {}", c.action, c.path);
    }
    for n in &plan.notes {
        println!("note: {n}");
    }
}

pub(super) fn warn_out_of_sync(l: &Loaded) {
    if l.out_of_sync {
        eprintln!(
            "warning: secrets.yml is behind config.yml; run `sdtui sync` (values below that are not yet in secrets.yml would change)"
        );
    }
}

pub(super) fn app_config(
    ws: &Workspace,
    p: &Project,
    app: &str,
    reveal: bool,
    json: bool,
) -> Result<()> {
    let l = ws.load(p)?;
    warn_out_of_sync(&l);
    crate::engine::require_app(&l.config, app)?;
    let mut masker = crate::engine::plan::Masker::default();
    let vars: Vec<(String, String, String)> = l.generated.app_env[app]
        .iter()
        .map(|e| {
            (
                e.name.clone(),
                if e.secret && !reveal {
                    masker.label(&e.value)
                } else {
                    e.value.clone()
                },
                e.source.clone(),
            )
        })
        .collect();
    if json {
        let m: indexmap::IndexMap<String, String> = vars
            .iter()
            .map(|(k, v, _)| (k.clone(), v.clone()))
            .collect();
        print_json(&m);
        return Ok(());
    }
    let mut source = String::new();
    for (k, v, s) in vars {
        if s != source {
            println!("# {s}");
            source = s;
        }
        println!("{k}={v}");
    }
    Ok(())
}

pub(super) fn history(p: &Project, json: bool, last: Option<usize>) -> Result<()> {
    let mut entries = audit::read(&p.audit_path())?;
    if let Some(n) = last {
        let skip = entries.len().saturating_sub(n);
        entries.drain(..skip);
    }
    if json {
        print_json(&entries);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                e.time.clone(),
                e.user.clone(),
                e.operation.clone(),
                e.outcome.clone(),
                e.files.len().to_string(),
            ]
        })
        .collect();
    table(&["TIME", "USER", "OPERATION", "OUTCOME", "FILES"], &rows);
    Ok(())
}

pub(super) fn catalog_validate(ws: &Workspace, dir: &std::path::Path) -> Result<()> {
    let passed = runtime()?.block_on(crate::contract::validate::validate_dir(dir, &ws.catalog))?;
    for p in &passed {
        println!("ok  {:<10} {}", p.check, p.detail);
    }
    Ok(())
}

/// Where a type comes from, its kind and its contract's functions.
fn source_kind_functions(
    ws: &Workspace,
    t: &crate::catalog::AddonType,
) -> (String, String, String) {
    let source = match ws.catalog.source_of(&t.name) {
        Some(p) if p.starts_with("<builtin>") => "built-in".to_string(),
        Some(p) => p.parent().unwrap_or(p).display().to_string(),
        None => "-".into(),
    };
    match &t.contract {
        Some(c) => (source, c.kind.as_str().into(), c.function_names().join(",")),
        None => (source, "container".into(), "-".into()),
    }
}

pub(super) fn catalog(ws: &Workspace, json: bool) -> Result<()> {
    if json {
        let types: Vec<serde_json::Value> = ws
            .catalog
            .types()
            .map(|t| {
                json!({
                    "type": t.name, "description": t.description, "category": t.category, "aliases": t.aliases,
                    "image": t.image, "default_version": t.default_version, "versions": t.versions,
                    "default_plan": t.default_plan, "readonly": t.supports_readonly(),
                    "ports": t.ports.iter().map(|p| json!({"name": p.name, "container": p.container, "base": p.base})).collect::<Vec<_>>(),
                    "plans": t.plans.iter().map(|(n, p)| json!({"name": n, "memory": p.memory, "cpu": p.cpu, "disk": p.disk, "description": p.description, "options": p.options})).collect::<Vec<_>>(),
                    "options": t.options.keys().collect::<Vec<_>>(),
                    "env": t.env.iter().map(|e| format!("{{PREFIX}}_{}", e.name)).collect::<Vec<_>>(),
                    "source": source_kind_functions(ws, t).0, "kind": source_kind_functions(ws, t).1,
                    "functions": t.contract.as_ref().map(|c| c.function_names()).unwrap_or_default(),
                    "depends": t.depends, "provides": t.provides, "conflicts": t.conflicts,
                })
            })
            .collect();
        print_json(&types);
        return Ok(());
    }
    for t in ws.catalog.types() {
        let ro = if t.supports_readonly() {
            ", readonly access"
        } else {
            ""
        };
        println!(
            "{} — {} [{}; default {} {}; port {}{ro}]",
            t.name,
            t.description,
            t.category,
            t.default_version,
            t.default_plan,
            t.main_port().base
        );
        let (source, kind, functions) = source_kind_functions(ws, t);
        println!("    source {source}; kind {kind}; contract {functions}");
        for (name, p) in &t.plans {
            println!(
                "    {name:<9} {:>6} mem  {:>5} cpu  {:>5} disk  {}",
                p.memory, p.cpu, p.disk, p.description
            );
        }
    }
    Ok(())
}
