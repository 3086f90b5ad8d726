//! A system type (tests/fixtures/addons/hostnote: no container, its
//! addon.sh run on the VM) on an sshd VM: `up` validates, installs and
//! configures it in its data folder; a second `up` calls nothing but
//! `status`; a changed option configures it again; `status` shows the
//! script's values; a VM that says no fails `up` with the script's words;
//! `db backup` and `db restore` go through its script; removed from
//! config.yml it is uninstalled by the next `up` with its data kept, and
//! `--purge` deletes the data. Every call is in the audit trail, over SSH,
//! its token masked.

mod common;

use std::path::Path;

use common::ok;
use common::sshd::{RemoteDir, TestVm, sdtui_ssh_cmd};

fn run(root: &Path, known_hosts: &Path, addons: &Path, args: &[&str]) -> std::process::Output {
    sdtui_ssh_cmd(root, known_hosts, args)
        .env("SDTUI_ADDONS", addons)
        .output()
        .unwrap()
}

/// Every contract call the audit trail holds: (function, place).
fn executions(project: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(project.join(".sdtui/audit.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|e| {
            let x = e.get("execution")?;
            Some((
                x["function"].as_str()?.to_string(),
                x["place"].as_str()?.to_string(),
            ))
        })
        .collect()
}

fn count(calls: &[(String, String)], function: &str) -> usize {
    calls.iter().filter(|(f, _)| f == function).count()
}

fn addon_status(out: &str, service: &str) -> serde_json::Value {
    let rows: Vec<serde_json::Value> = serde_json::from_str(out).unwrap();
    rows.iter()
        .find(|r| r["service"] == service)
        .unwrap_or_else(|| panic!("{service} in {out}"))["addon"]
        .clone()
}

#[test]
fn a_system_type_on_an_ssh_vm_through_its_whole_life() {
    let vm = TestVm::start("127.0.101.1", 2301);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let known_hosts = r.join("known_hosts");
    let addons = r.join("addons");
    std::fs::create_dir_all(addons.join("hostnote")).unwrap();
    common::copy_dir(
        &common::fixture("addons/hostnote"),
        &addons.join("hostnote"),
    );
    let name = format!("sys{}", std::process::id());
    let remote = std::path::PathBuf::from(std::env::var("HOME").unwrap())
        .join(".sdtui")
        .join(&name);
    let _remote = RemoteDir(remote.clone());
    let dir = r.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    let vm_yml = format!(
        "vms:\n  edge:\n    host: {}\n    port: {}\n    user: root\n    identity: {}\n",
        vm.addr,
        vm.port,
        vm.client_key().display()
    );
    let config = |greeting: Option<&str>| {
        let options = greeting
            .map(|g| format!("      options: {{greeting: {g}}}\n"))
            .unwrap_or_default();
        format!(
            "{vm_yml}addons:\n  system:\n    note:\n      type: hostnote\n      vm: edge\n{options}"
        )
    };
    std::fs::write(dir.join("config.yml"), config(None)).unwrap();
    let up = || {
        run(
            r,
            &known_hosts,
            &addons,
            &["-p", &name, "--accept-new-host", "up"],
        )
    };

    // A VM that says no: validate fails, nothing is installed.
    let data = remote.join("edge/system/note");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("no-install"), "").unwrap();
    let refused = up();
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{err}");
    assert!(
        err.contains("type hostnote, function validate: system.note cannot be installed on VM edge: the VM says no"),
        "{err}"
    );
    assert!(!data.join("installed").exists());
    std::fs::remove_file(data.join("no-install")).unwrap();

    // Installed and configured in its data folder, over SSH.
    let out = up();
    let progress = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{progress}");
    assert!(
        progress.contains("system.note: contract install"),
        "{progress}"
    );
    assert!(data.join("installed").exists());
    assert_eq!(
        std::fs::read_to_string(data.join("note")).unwrap(),
        "hello from note\n"
    );
    let config_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("config.json")).unwrap()).unwrap();
    assert_eq!(config_json["id"], "system.note");
    assert_eq!(config_json["vm"], "edge");
    assert_eq!(
        Path::new(config_json["data_dir"].as_str().unwrap()),
        std::fs::canonicalize(&data).unwrap()
    );
    let token = config_json["credentials"]["TOKEN"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        token,
        common::secret(&dir.join("secrets.yml"), "note", "TOKEN")
    );
    // No container: no compose file for a VM that holds only it.
    assert!(!dir.join("compose/edge/docker-compose.yml").exists());

    // A second up asks its status and configures nothing.
    let calls = executions(&dir);
    assert_eq!(
        (count(&calls, "install"), count(&calls, "configure")),
        (1, 1)
    );
    ok(&up());
    let calls = executions(&dir);
    assert_eq!(
        (count(&calls, "install"), count(&calls, "configure")),
        (1, 1),
        "{calls:?}"
    );

    // A changed option: configured again, not installed again.
    std::fs::write(dir.join("config.yml"), config(Some("salut"))).unwrap();
    ok(&up());
    let calls = executions(&dir);
    assert_eq!(
        (count(&calls, "install"), count(&calls, "configure")),
        (1, 2)
    );
    assert_eq!(
        std::fs::read_to_string(data.join("note")).unwrap(),
        "salut from note\n"
    );

    // status: the script's values; degraded when it says so.
    let status = |r: &Path| {
        ok(&run(
            r,
            &known_hosts,
            &addons,
            &["-p", &name, "status", "--json"],
        ))
    };
    let values = addon_status(&status(r), "hostnote-note");
    assert_eq!(values["status"], "installed", "{values}");
    assert_eq!(values["health"], "healthy", "{values}");
    assert_eq!(values["detail"], "salut from note", "{values}");
    std::fs::write(data.join("degraded"), "").unwrap();
    let values = addon_status(&status(r), "hostnote-note");
    assert_eq!(values["status"], "degraded", "{values}");
    assert_eq!(values["health"], "degraded", "{values}");
    let info: serde_json::Value = serde_json::from_str(&ok(&run(
        r,
        &known_hosts,
        &addons,
        &["-p", &name, "addons", "info", "system.note", "--json"],
    )))
    .unwrap();
    assert_eq!(info["status"], "degraded", "{info}");
    assert_eq!(info["status_detail"], "marked degraded by hand", "{info}");
    // watch asks the same script on the VM (and exits non-zero).
    let watched = run(r, &known_hosts, &addons, &["-p", &name, "watch", "--once"]);
    assert!(!watched.status.success());
    let watched = String::from_utf8_lossy(&watched.stdout);
    assert!(
        watched.contains("system.note on edge: degraded"),
        "{watched}"
    );
    std::fs::remove_file(data.join("degraded")).unwrap();
    let watched = ok(&run(
        r,
        &known_hosts,
        &addons,
        &["-p", &name, "watch", "--once"],
    ));
    assert!(
        watched.contains("system.note on edge: healthy"),
        "{watched}"
    );

    // Backup through its script, a change, then restore: the change gone.
    std::fs::write(data.join("note"), "salut from note\nkept line\n").unwrap();
    let backup: serde_json::Value = serde_json::from_str(&ok(&run(
        r,
        &known_hosts,
        &addons,
        &["-p", &name, "db", "backup", "system.note", "--json"],
    )))
    .unwrap();
    assert_eq!(backup["drill"]["status"], "not run", "{backup}");
    let id = backup["id"].as_str().unwrap();
    // Kept in the VM's backup store like every other backup.
    assert!(
        remote
            .join("backups/system.note")
            .join(format!("{id}.data"))
            .exists()
    );
    std::fs::write(data.join("note"), "overwritten\n").unwrap();
    let refused = run(
        r,
        &known_hosts,
        &addons,
        &[
            "-p",
            &name,
            "db",
            "restore",
            "system.note",
            id,
            "--confirm",
            "note",
        ],
    );
    assert!(!refused.status.success());
    assert_eq!(
        std::fs::read_to_string(data.join("note")).unwrap(),
        "overwritten\n"
    );
    let restored = run(
        r,
        &known_hosts,
        &addons,
        &[
            "-p",
            &name,
            "db",
            "restore",
            "system.note",
            id,
            "--confirm",
            "system.note",
        ],
    );
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(data.join("note")).unwrap(),
        "salut from note\nkept line\n"
    );

    // Removed from config.yml: the next up uninstalls it, its data kept.
    ok(&run(
        r,
        &known_hosts,
        &addons,
        &["-p", &name, "addons", "remove", "system.note"],
    ));
    let out = up();
    let progress = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{progress}");
    assert!(
        progress.contains("system.note: contract uninstall (data kept)"),
        "{progress}"
    );
    assert!(!data.join("installed").exists());
    assert!(data.join("note").exists());
    let calls = executions(&dir);
    assert_eq!(count(&calls, "uninstall"), 1);

    // Back, then removed with --purge: its data deleted by its script.
    std::fs::write(dir.join("config.yml"), config(Some("salut"))).unwrap();
    ok(&up());
    assert!(data.join("installed").exists());
    ok(&run(
        r,
        &known_hosts,
        &addons,
        &[
            "-p",
            &name,
            "addons",
            "remove",
            "system.note",
            "--purge",
            "--confirm",
            "system.note",
        ],
    ));
    assert!(!data.join("installed").exists() && !data.join("note").exists());

    let calls = executions(&dir);
    assert!(
        calls.iter().all(|(_, place)| place.starts_with("ssh ")),
        "{calls:?}"
    );
    for f in [
        "validate",
        "install",
        "configure",
        "status",
        "health",
        "backup",
        "restore",
        "uninstall",
    ] {
        assert!(count(&calls, f) >= 1, "no {f} in {calls:?}");
    }
    let audit = std::fs::read_to_string(dir.join(".sdtui/audit.jsonl")).unwrap();
    assert!(!audit.contains(&token), "the token in the audit trail");
}

#[test]
fn a_system_type_refuses_container_fields_and_attachments() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let addons = r.join("addons");
    std::fs::create_dir_all(addons.join("hostnote")).unwrap();
    common::copy_dir(
        &common::fixture("addons/hostnote"),
        &addons.join("hostnote"),
    );
    let yml = addons.join("hostnote/addon.yml");
    let original = std::fs::read_to_string(&yml).unwrap();
    std::fs::write(&yml, format!("{original}image: \"alpine:{{version}}\"\n")).unwrap();
    let out = common::sdtui_env(
        r,
        &["catalog"],
        &[("SDTUI_ADDONS", addons.to_string_lossy().into_owned())],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("type hostnote is `kind: system` (no container) but sets `image:`"),
        "{err}"
    );
    std::fs::write(&yml, &original).unwrap();

    let dir = r.join("sa");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        "vms:\n  local:\n    host: local\n    private_ip: 127.0.101.5\naddons:\n  system:\n    note:\n      type: hostnote\napps:\n  web:\n    image: nginx\n    addons:\n      - system.note\n",
    )
    .unwrap();
    let out = common::sdtui_env(
        r,
        &["-p", "sa", "sync"],
        &[("SDTUI_ADDONS", addons.to_string_lossy().into_owned())],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("a system type configures its VM and has nothing to attach"),
        "{err}"
    );
    assert!(!dir.join("secrets.yml").exists(), "nothing written");
}

#[test]
fn a_projects_own_addons_folder_adds_types_for_it_alone() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let none = r.join("no-user-addons");
    let env = [("SDTUI_ADDONS", none.to_string_lossy().into_owned())];
    for project in ["own", "other"] {
        std::fs::create_dir_all(r.join(project)).unwrap();
        std::fs::write(
            r.join(project).join("config.yml"),
            "vms:\n  local:\n    host: local\n    private_ip: 127.0.101.6\naddons: {}\n",
        )
        .unwrap();
    }
    let types = r.join("own/addons/hostnote");
    std::fs::create_dir_all(&types).unwrap();
    common::copy_dir(&common::fixture("addons/hostnote"), &types);

    let listed = |project: &str| -> serde_json::Value {
        serde_json::from_str(&ok(&common::sdtui_env(
            r,
            &["-p", project, "catalog", "--json"],
            &env,
        )))
        .unwrap()
    };
    let own = listed("own");
    let hostnote = own
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["type"] == "hostnote")
        .unwrap_or_else(|| panic!("hostnote in {own}"));
    assert!(
        hostnote.to_string().contains("own/addons/hostnote"),
        "{hostnote}"
    );
    let other = listed("other");
    assert!(
        !other
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["type"] == "hostnote"),
        "{other}"
    );
    // Usable by its project, unknown to the other.
    ok(&common::sdtui_env(
        r,
        &["-p", "own", "addons", "add", "hostnote", "--name", "note"],
        &env,
    ));
    let out = common::sdtui_env(
        r,
        &["-p", "other", "addons", "add", "hostnote", "--name", "note"],
        &env,
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown addon type \"hostnote\""),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
