//! System types (`contract: {kind: system}`): no container. The script runs
//! on the VM itself (this machine for a `local` VM, over the VM's SSH
//! session otherwise) with a data folder of its own beside the VM's
//! releases. `up` installs and configures each instance, and configures it
//! again only when its configuration changed; `status` asks its script;
//! an instance that left config.yml is uninstalled by the next `up` with
//! its data kept, or by `addons remove --purge` with its data deleted.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::run::{Call, Place, call, record};
use super::script::Function;
use super::status::{AddonStatus, Health, InstallStatus};
use crate::catalog::AddonType;
use crate::config::{Addon, Config, Vm};
use crate::deploy::target::{Connected, Target};
use crate::deploy::{Action, ServiceReport};
use crate::engine::secrets::AddonSecrets;
use crate::engine::{Project, Workspace};
use crate::error::{Result, UserError};
use crate::ssh::RemoteCommand;

/// What `up` installed on a VM, so that it is configured again only on a
/// change and uninstalled once it leaves config.yml.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Installed {
    #[serde(rename = "type")]
    pub type_name: String,
    pub name: String,
    /// SHA-256 of the configuration it was last configured with.
    pub digest: String,
}

fn records_path(project: &Project, vm: &str) -> std::path::PathBuf {
    project
        .state_dir()
        .join("system")
        .join(format!("{vm}.json"))
}

fn load_records(project: &Project, vm: &str) -> Result<BTreeMap<String, Installed>> {
    let path = records_path(project, vm);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| {
            UserError::new(format!("{}: not what sdtui wrote: {e}", path.display()))
                .hint("delete it; the next `sdtui up` installs the system addons again")
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(crate::error::io_error(&path, "read", e)),
    }
}

fn save_records(project: &Project, vm: &str, records: &BTreeMap<String, Installed>) -> Result<()> {
    let path = records_path(project, vm);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| crate::error::io_error(dir, "create", e))?;
    }
    let text = serde_json::to_string_pretty(records).unwrap_or_default();
    crate::engine::apply::write_atomic(&path, text.as_bytes(), 0o600)
}

/// Whether `vm` has system instances to converge: in config.yml, or
/// installed by an earlier `up` and not yet uninstalled.
pub fn on_vm(project: &Project, config: &Config, vm: &str) -> bool {
    config.addons.iter().any(|a| a.vm == vm && a.system)
        || load_records(project, vm).is_ok_and(|r| !r.is_empty())
}

/// Where the script runs for a connection.
pub fn place(conn: &Connected) -> Place<'_> {
    match &conn.target {
        Target::Local { .. } => Place::Local,
        Target::Remote { session, .. } => Place::Ssh(session),
    }
}

/// The instance's own folder on the VM (`<releases>/system/<name>`),
/// created 0700, as an absolute path the script can `cd` to.
pub async fn data_dir(conn: &Connected, addon: &Addon) -> Result<String> {
    match &conn.target {
        Target::Local { base, .. } => {
            let dir = base.join("system").join(&addon.name);
            std::fs::create_dir_all(&dir).map_err(|e| crate::error::io_error(&dir, "create", e))?;
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
            let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
            Ok(dir.to_string_lossy().into_owned())
        }
        Target::Remote { session, base, .. } => {
            let dir = format!("{base}/system/{}", addon.name);
            let out = crate::deploy::target::remote(
                session,
                RemoteCommand::new(
                    "sh",
                    [
                        "-c",
                        "mkdir -p -m 700 \"$1\" && cd \"$1\" && pwd",
                        "sh",
                        &dir,
                    ],
                ),
            )
            .await?;
            Ok(out.trim().to_string())
        }
    }
}

/// One instance, ready to call its script.
struct Instance<'a> {
    t: &'a AddonType,
    addon: &'a Addon,
    /// Its data folder on the VM, where its script runs.
    data_dir: String,
    input: String,
    masked: Vec<String>,
}

impl Instance<'_> {
    fn digest(&self) -> String {
        data_encoding::HEXLOWER
            .encode(ring::digest::digest(&ring::digest::SHA256, self.input.as_bytes()).as_ref())
    }
}

/// Runs one function, recorded in the audit trail. A call that printed
/// `"ok": false` fails with its message.
async fn run(
    project: &Project,
    conn: &Connected,
    i: &Instance<'_>,
    function: Function,
    args: Vec<String>,
    input: Option<String>,
) -> Result<Value> {
    let (Some(spec), Some(dir)) = (&i.t.contract, &i.t.script_dir) else {
        return Err(UserError::new(format!(
            "type {} has no contract script",
            i.t.name
        )));
    };
    let (rec, out) = call(
        &place(conn),
        &Call {
            type_name: &i.t.name,
            dir,
            function,
            args,
            input,
            timeout: Duration::from_secs(spec.timeout),
            secrets: i.masked.clone(),
            cwd: Some(i.data_dir.clone()),
        },
    )
    .await;
    record(&project.audit_path(), &rec, out.is_ok())?;
    let out = out?;
    super::lifecycle::require_ok(project, i.t, function, &i.addon.id(), &out)?;
    Ok(out)
}

async fn instance<'a>(
    ws: &'a Workspace,
    conn: &Connected,
    addon: &'a Addon,
    secrets: &AddonSecrets,
) -> Result<Instance<'a>> {
    let t = ws.catalog.require(&addon.type_name)?;
    let empty = indexmap::IndexMap::new();
    let creds = secrets
        .get(&addon.type_name)
        .and_then(|i| i.get(&addon.name))
        .unwrap_or(&empty);
    let mut input = super::lifecycle::config_json(t, addon, creds);
    let data_dir = data_dir(conn, addon).await?;
    input["data_dir"] = Value::String(data_dir.clone());
    let masked = super::lifecycle::secret_values(t, creds);
    Ok(Instance {
        t,
        addon,
        data_dir,
        input: input.to_string(),
        masked,
    })
}

/// The script's `status`, then its `health` when it has one.
async fn ask(project: &Project, conn: &Connected, i: &Instance<'_>) -> Result<AddonStatus> {
    let status = run(project, conn, i, Function::Status, vec![], None).await?;
    let mut health = Health::parse(status["health"].as_str().unwrap_or_default());
    let mut message = status["message"].as_str().unwrap_or_default().to_string();
    if i.t
        .contract
        .as_ref()
        .is_some_and(|c| c.has(Function::Health))
    {
        let h = run(project, conn, i, Function::Health, vec![], None).await?;
        health = Health::parse(h["health"].as_str().unwrap_or_default()).or(health);
        if let Some(m) = h["message"].as_str().filter(|m| !m.is_empty()) {
            message = m.to_string();
        }
    }
    Ok(AddonStatus {
        status: InstallStatus::parse(status["status"].as_str().unwrap_or_default()),
        health: health.unwrap_or(Health::Unknown),
        detail: if message.is_empty() {
            "system type, answered by its script".into()
        } else {
            message
        },
    })
}

fn report_of(vm: &str, addon: &Addon, action: Action, values: &AddonStatus) -> ServiceReport {
    ServiceReport {
        vm: vm.to_string(),
        service: addon.service(),
        action,
        health: values.label(),
        container_id: String::new(),
        detail: Some(values.detail.clone()),
        compose: None,
    }
}

/// `up` for the system instances on `vm`: install (after `validate`) what
/// is not installed, configure what changed, uninstall what left
/// config.yml (its data kept). The first failure stops with the script's
/// output; what was done before it is recorded.
#[allow(clippy::too_many_arguments)]
pub async fn converge_on_vm(
    ws: &Workspace,
    project: &Project,
    config: &Config,
    secrets: &AddonSecrets,
    vm: &Vm,
    conn: &Connected,
    report: &(dyn Fn(String) + Sync),
) -> Result<Vec<ServiceReport>> {
    let mut records = load_records(project, &vm.name)?;
    let wanted: Vec<&Addon> = config
        .addons
        .iter()
        .filter(|a| a.vm == vm.name && a.system && a.runs())
        .collect();
    if wanted.is_empty() && records.is_empty() {
        return Ok(Vec::new());
    }
    let mut reports = Vec::new();
    for addon in wanted {
        let i = instance(ws, conn, addon, secrets).await?;
        let digest = i.digest();
        let before = ask(project, conn, &i).await?;
        let installed = before.status == Some(InstallStatus::Installed)
            || before.status == Some(InstallStatus::Degraded);
        let same = records.get(&addon.id()).is_some_and(|r| r.digest == digest);
        let action = if installed && same {
            Action::Unchanged
        } else {
            if !installed {
                report(format!("{}: contract validate", addon.id()));
                let v = run(
                    project,
                    conn,
                    &i,
                    Function::Validate,
                    vec![],
                    Some(i.input.clone()),
                )
                .await?;
                if v["valid"] == Value::Bool(false) {
                    let errors: Vec<&str> = v["errors"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .collect();
                    return Err(UserError::new(format!(
                        "type {}, function validate: {} cannot be installed on VM {}: {}",
                        i.t.name,
                        addon.id(),
                        vm.name,
                        errors.join("; ")
                    ))
                    .hint("fix what it names on the VM, then run `sdtui up` again"));
                }
                report(format!("{}: contract install", addon.id()));
                run(
                    project,
                    conn,
                    &i,
                    Function::Install,
                    vec![],
                    Some(i.input.clone()),
                )
                .await?;
            }
            report(format!("{}: contract configure", addon.id()));
            run(
                project,
                conn,
                &i,
                Function::Configure,
                vec![],
                Some(i.input.clone()),
            )
            .await?;
            records.insert(
                addon.id(),
                Installed {
                    type_name: addon.type_name.clone(),
                    name: addon.name.clone(),
                    digest,
                },
            );
            save_records(project, &vm.name, &records)?;
            if installed {
                Action::Recreated
            } else {
                Action::Created
            }
        };
        let values = if action == Action::Unchanged {
            before
        } else {
            ask(project, conn, &i).await?
        };
        reports.push(report_of(&vm.name, addon, action, &values));
    }
    // Gone from config.yml (or moved to another VM): uninstalled here, its
    // data kept, as a removed container keeps its volume.
    let gone: Vec<String> = records
        .keys()
        .filter(|id| {
            !config
                .addons
                .iter()
                .any(|a| &a.id() == *id && a.vm == vm.name && a.system && a.runs())
        })
        .cloned()
        .collect();
    for id in gone {
        let r = records[&id].clone();
        let addon = gone_addon(config, &id, &r, &vm.name);
        report(format!("{id}: contract uninstall (data kept)"));
        let values = uninstall(ws, project, conn, &addon, secrets, true).await?;
        records.remove(&id);
        save_records(project, &vm.name, &records)?;
        reports.push(report_of(&vm.name, &addon, Action::Removed, &values));
    }
    Ok(reports)
}

/// An instance that is no longer in config.yml, rebuilt from its record.
fn gone_addon(config: &Config, id: &str, r: &Installed, vm: &str) -> Addon {
    if let Some(a) = config.addons.iter().find(|a| a.id() == id) {
        return Addon {
            vm: vm.to_string(),
            ..a.clone()
        };
    }
    let category = id.split_once('.').map(|(c, _)| c).unwrap_or_default();
    Addon {
        category: category.to_string(),
        name: r.name.clone(),
        type_name: r.type_name.clone(),
        version: String::new(),
        plan: String::new(),
        options: Default::default(),
        vm: vm.to_string(),
        image: None,
        port: None,
        publish: crate::catalog::Publish::None,
        backup: None,
        follows: None,
        state: Default::default(),
        system: true,
    }
}

/// `uninstall KEEP_DATA` of one instance; its status afterwards.
pub async fn uninstall(
    ws: &Workspace,
    project: &Project,
    conn: &Connected,
    addon: &Addon,
    secrets: &AddonSecrets,
    keep_data: bool,
) -> Result<AddonStatus> {
    let i = instance(ws, conn, addon, secrets).await?;
    run(
        project,
        conn,
        &i,
        Function::Uninstall,
        vec![keep_data.to_string()],
        Some(i.input.clone()),
    )
    .await?;
    Ok(AddonStatus {
        status: Some(InstallStatus::NotInstalled),
        health: Health::Unknown,
        detail: if keep_data {
            "uninstalled, its data kept".into()
        } else {
            "uninstalled, its data deleted".into()
        },
    })
}

/// `addons remove --purge` of a system instance: uninstalled with its data,
/// and forgotten.
pub async fn purge(
    ws: &Workspace,
    project: &Project,
    conn: &Connected,
    addon: &Addon,
    secrets: &AddonSecrets,
) -> Result<()> {
    uninstall(ws, project, conn, addon, secrets, false).await?;
    let mut records = load_records(project, &addon.vm)?;
    if records.remove(&addon.id()).is_some() {
        save_records(project, &addon.vm, &records)?;
    }
    Ok(())
}

/// One system instance's values, from its script on the VM.
pub async fn status_of(
    ws: &Workspace,
    project: &Project,
    conn: &Connected,
    addon: &Addon,
    secrets: &AddonSecrets,
) -> Result<AddonStatus> {
    let i = instance(ws, conn, addon, secrets).await?;
    ask(project, conn, &i).await
}

/// A row per system instance on `vm` (state `system`), its values from its
/// script: what the console shows beside the containers.
pub async fn rows(
    ws: &Workspace,
    project: &Project,
    vm: &str,
    conn: &Connected,
) -> Vec<crate::deploy::StatusRow> {
    let Ok(loaded) = ws.load(project) else {
        return Vec::new();
    };
    let mut rows: Vec<crate::deploy::StatusRow> = loaded
        .config
        .addons
        .iter()
        .filter(|a| a.vm == vm && a.system)
        .map(|a| crate::deploy::StatusRow {
            vm: vm.to_string(),
            state: crate::docker::ServiceState {
                service: a.service(),
                ..Default::default()
            },
            addon: None,
        })
        .collect();
    refine_rows(
        ws,
        project,
        &loaded.config,
        &loaded.generated.secrets,
        vm,
        conn,
        &mut rows,
    )
    .await;
    rows
}

/// `status` of the system instances on `vm`: their rows get the script's
/// values (a script that fails says so, degraded).
pub async fn refine_rows(
    ws: &Workspace,
    project: &Project,
    config: &Config,
    secrets: &AddonSecrets,
    vm: &str,
    conn: &Connected,
    rows: &mut [crate::deploy::StatusRow],
) {
    for addon in config.addons.iter().filter(|a| a.vm == vm && a.system) {
        let Some(row) = rows.iter_mut().find(|r| r.state.service == addon.service()) else {
            continue;
        };
        row.state.state = "system".into();
        let values = match instance(ws, conn, addon, secrets).await {
            Ok(i) => ask(project, conn, &i).await,
            Err(e) => Err(e),
        };
        row.addon = Some(values.unwrap_or_else(|e| AddonStatus {
            status: Some(InstallStatus::Degraded),
            health: Health::Unknown,
            detail: format!(
                "status script failed: {}",
                e.message.lines().next().unwrap_or_default()
            ),
        }));
    }
}

/// Its `backup`: the text it printed as `data`.
pub async fn backup(
    ws: &Workspace,
    project: &Project,
    conn: &Connected,
    addon: &Addon,
    secrets: &AddonSecrets,
) -> Result<String> {
    let i = instance(ws, conn, addon, secrets).await?;
    let out = run(
        project,
        conn,
        &i,
        Function::Backup,
        vec![],
        Some(i.input.clone()),
    )
    .await?;
    Ok(out["data"].as_str().unwrap_or_default().to_string())
}

/// Its `restore`, given what `backup` printed on stdin.
pub async fn restore(
    ws: &Workspace,
    project: &Project,
    conn: &Connected,
    addon: &Addon,
    secrets: &AddonSecrets,
    data: String,
) -> Result<()> {
    let i = instance(ws, conn, addon, secrets).await?;
    run(project, conn, &i, Function::Restore, vec![], Some(data)).await?;
    Ok(())
}
