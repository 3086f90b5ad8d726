//! Backups through a type's contract script, for a system type and for a
//! container type whose addon.yml has no `backup:` section: its `backup`
//! prints the data (on the VM, or inside the container), kept as a file
//! with a manifest in the same store as every other backup; `restore` gets
//! that data back on stdin. The script has no drill function, so the
//! manifest says the drill was not run, and why.

use super::store::{self, Drill, Manifest};
use super::{Report, backup_id};
use crate::deploy::target::{Connected, Target};
use crate::engine::{Project, Workspace, audit};
use crate::error::{Result, UserError, io_error};

/// Whether `addon_id` is backed up by its script rather than by a
/// `backup:` section.
pub fn applies(ws: &Workspace, project: &Project, addon_id: &str) -> Result<bool> {
    let loaded = ws.load(project)?;
    let addon = crate::engine::require_addon(&loaded.config, addon_id)?;
    let t = ws.catalog.require(&addon.type_name)?;
    let scripted = t
        .contract
        .as_ref()
        .is_some_and(|c| c.has(crate::contract::script::Function::Backup));
    Ok(addon.system || (t.backup.is_none() && scripted))
}

/// One of the script's functions, where its kind says: on the VM for a
/// system type, inside the running container otherwise.
async fn call_script(
    ws: &Workspace,
    project: &Project,
    conn: &Connected,
    addon: &crate::config::Addon,
    secrets: &crate::engine::secrets::AddonSecrets,
    function: crate::contract::script::Function,
    data: Option<String>,
) -> Result<serde_json::Value> {
    use crate::contract::script::Function;
    if addon.system {
        return match (function, data) {
            (Function::Backup, _) => {
                crate::contract::system::backup(ws, project, conn, addon, secrets)
                    .await
                    .map(|d| serde_json::json!({"ok": true, "data": d}))
            }
            (_, data) => crate::contract::system::restore(
                ws,
                project,
                conn,
                addon,
                secrets,
                data.unwrap_or_default(),
            )
            .await
            .map(|_| serde_json::json!({"ok": true})),
        };
    }
    let t = ws.catalog.require(&addon.type_name)?;
    let doing = match function {
        Function::Backup => "nothing was backed up",
        _ => "nothing was restored",
    };
    let container = super::running_container(&conn.docker, project, addon, doing).await?;
    let empty = indexmap::IndexMap::new();
    let creds = secrets
        .get(&addon.type_name)
        .and_then(|i| i.get(&addon.name))
        .unwrap_or(&empty);
    crate::contract::lifecycle::call_in_container(
        project,
        t,
        addon,
        creds,
        (&conn.docker, &container.container_id),
        function,
        vec![],
        data,
    )
    .await
}

async fn write_file(target: &Target, dir: &str, file: &str, bytes: &[u8]) -> Result<()> {
    let path = format!("{dir}/{file}");
    match target {
        Target::Local { .. } => {
            std::fs::create_dir_all(dir)
                .map_err(|e| io_error(std::path::Path::new(dir), "create", e))?;
            crate::engine::apply::write_atomic(std::path::Path::new(&path), bytes, 0o600)
        }
        Target::Remote { session, .. } => {
            crate::deploy::target::remote(
                session,
                crate::ssh::RemoteCommand::new("mkdir", ["-p", "-m", "700", dir]),
            )
            .await?;
            session.upload(&path, bytes, 0o600).await
        }
    }
}

async fn read_file(target: &Target, dir: &str, file: &str) -> Result<String> {
    let path = format!("{dir}/{file}");
    match target {
        Target::Local { .. } => std::fs::read_to_string(&path)
            .map_err(|e| io_error(std::path::Path::new(&path), "read", e)),
        Target::Remote { session, .. } => {
            crate::deploy::target::remote(
                session,
                crate::ssh::RemoteCommand::new("cat", [path.as_str()]),
            )
            .await
        }
    }
}

/// `db backup` through the script.
pub async fn backup(
    ws: &Workspace,
    project: &Project,
    addon_id: &str,
    report: Report<'_>,
) -> Result<Manifest> {
    let loaded = ws.load(project)?;
    let addon = crate::engine::require_addon(&loaded.config, addon_id)?;
    let t = ws.catalog.require(&addon.type_name)?;
    if !t
        .contract
        .as_ref()
        .is_some_and(|c| c.has(crate::contract::script::Function::Backup))
    {
        return Err(UserError::new(format!(
            "{addon_id} is a {}, whose script has no `backup` function",
            t.name
        ))
        .hint("add backup and restore to its addon.sh and to `contract: functions:`"));
    }
    let vm = &loaded.config.vms[&addon.vm];
    let started = audit::now();
    let conn = Connected::open(ws, project, vm).await?;
    report(format!("{addon_id}: contract backup on VM {}", vm.name));
    let t0 = std::time::Instant::now();
    let out = call_script(
        ws,
        project,
        &conn,
        addon,
        &loaded.generated.secrets,
        crate::contract::script::Function::Backup,
        None,
    )
    .await?;
    let data = out["data"].as_str().unwrap_or_default().to_string();
    let dump_seconds = t0.elapsed().as_secs_f64();
    let now = chrono::Utc::now();
    let id = backup_id(&addon.name, now);
    let file = format!("{id}.data");
    let dir = store::folder(&conn.target, project, addon_id);
    write_file(&conn.target, &dir, &file, data.as_bytes()).await?;
    let manifest = Manifest {
        id,
        addon: addon_id.to_string(),
        type_name: t.name.clone(),
        image: String::new(),
        vm: vm.name.clone(),
        file,
        created: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        size: data.len() as u64,
        sha256: data_encoding::HEXLOWER
            .encode(ring::digest::digest(&ring::digest::SHA256, data.as_bytes()).as_ref()),
        dump_seconds,
        inventory: Default::default(),
        inventory_after: None,
        drill: Drill {
            detail: Some("a backup by the type's script, which has no drill".into()),
            ..Drill::not_run()
        },
        trigger: "manual".into(),
    };
    store::write_manifest(&conn.target, &dir, &manifest).await?;
    audit::append(
        &project.audit_path(),
        &audit::Entry {
            started: Some(started),
            ..audit::Entry::new(
                format!("db backup {addon_id}"),
                "applied",
                vec![format!("{dir}/{}", manifest.file)],
            )
        },
    )?;
    Ok(manifest)
}

/// `db restore` through the script: its `restore` with the backup's data,
/// after the name was typed back.
pub async fn restore(
    ws: &Workspace,
    project: &Project,
    addon_id: &str,
    backup: &str,
    confirm: &str,
    report: Report<'_>,
) -> Result<()> {
    if confirm != addon_id {
        return Err(UserError::new(format!(
            "not confirmed: \"{confirm}\" is not {addon_id}; nothing was touched"
        ))
        .hint(format!("type the addon's name: --confirm {addon_id}")));
    }
    let loaded = ws.load(project)?;
    let addon = crate::engine::require_addon(&loaded.config, addon_id)?;
    let started = audit::now();
    let (conn, dir, manifest) = super::find(ws, project, &loaded.config, addon_id, backup).await?;
    let data = read_file(&conn.target, &dir, &manifest.file).await?;
    let sum = data_encoding::HEXLOWER
        .encode(ring::digest::digest(&ring::digest::SHA256, data.as_bytes()).as_ref());
    if sum != manifest.sha256 {
        return Err(UserError::new(format!(
            "backup {backup} of {addon_id} does not match its checksum; nothing was restored"
        ))
        .hint("pick another backup: sdtui db backups"));
    }
    report(format!("{addon_id}: contract restore of {backup}"));
    call_script(
        ws,
        project,
        &conn,
        addon,
        &loaded.generated.secrets,
        crate::contract::script::Function::Restore,
        Some(data),
    )
    .await?;
    audit::append(
        &project.audit_path(),
        &audit::Entry {
            started: Some(started),
            ..audit::Entry::new(format!("db restore {addon_id} {backup}"), "applied", vec![])
        },
    )
}
