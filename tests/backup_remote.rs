//! Backups over SSH, on an sshd "VM" (tests/sshd): the dump is written on
//! the VM under ~/.sdtui/<project>/backups/<addon>/ (never on this side),
//! drilled there through the remote docker.sock, listed, and restored.

mod common;

use std::process::Command;

use common::docker::{Cleanup, container, docker, psql, require_images};
use common::sshd::{RemoteDir, TestVm, sdtui_ssh as sdtui};
use common::{fails, ok};

#[test]
fn backup_drill_and_restore_over_ssh() {
    require_images(&["postgres:15"]);
    let vm = TestVm::start("127.0.4.91", 2291);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let known_hosts = r.join("known_hosts");
    let name = format!("bks{}", std::process::id());
    let _cleanup = Cleanup(format!("{name}-core"));
    let remote = std::path::PathBuf::from(std::env::var("HOME").unwrap())
        .join(".sdtui")
        .join(&name);
    let _remote = RemoteDir(remote.clone());
    let dir = r.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        format!(
            "vms:\n  core:\n    host: {}\n    port: {}\n    user: root\n    identity: {}\naddons:\n  databases:\n    main:\n      type: postgres\n      plan: small\n      vm: core\n",
            vm.addr,
            vm.port,
            vm.client_key().display()
        ),
    )
    .unwrap();
    ok(&sdtui(
        r,
        &known_hosts,
        &["-p", &name, "--accept-new-host", "up", "--timeout", "180"],
    ));
    let pg = container(&format!("{name}-core"), "postgres-main");
    let (user, db) = (format!("{name}_main_user"), format!("{name}_main"));
    psql(
        &pg,
        &user,
        &db,
        "CREATE TABLE t (id serial PRIMARY KEY, v text); INSERT INTO t (v) SELECT md5(g::text) FROM generate_series(1, 3000) g;",
    );
    let digest = "SELECT count(*) || ':' || md5(string_agg(id || v, ',' ORDER BY id)) FROM t";
    let original = psql(&pg, &user, &db, digest);

    let out = ok(&sdtui(
        r,
        &known_hosts,
        &["-p", &name, "db", "backup", "databases.main"],
    ));
    assert!(out.contains("passed"), "{out}");
    let listed = ok(&sdtui(
        r,
        &known_hosts,
        &["-p", &name, "db", "backups", "--json"],
    ));
    let list: Vec<serde_json::Value> = serde_json::from_str(&listed).unwrap();
    assert_eq!(list.len(), 1, "{listed}");
    let m = &list[0];
    assert_eq!(m["vm"], "core");
    assert_eq!(m["drill"]["status"], "passed", "{m}");
    assert_eq!(m["inventory"]["table public.t"], "3000", "{m}");
    // On the VM, not on this side.
    let file = remote
        .join("backups/databases.main")
        .join(m["file"].as_str().unwrap());
    assert_eq!(
        std::fs::metadata(&file).unwrap().len(),
        m["size"].as_u64().unwrap()
    );
    assert!(!dir.join(".sdtui/backups/databases.main").exists());
    // This project's drill containers (other tests drill at the same time).
    let (_, left) = docker(&[
        "ps",
        "-aq",
        "--filter",
        "label=sdtui.drill",
        "--filter",
        &format!("label=sdtui.project={name}"),
    ]);
    assert_eq!(left.trim(), "");

    // Pulled to this machine: the same bytes, checked against the manifest.
    let here = tempfile::tempdir().unwrap();
    let id = m["id"].as_str().unwrap();
    let pulled = ok(&sdtui(
        r,
        &known_hosts,
        &[
            "-p",
            &name,
            "db",
            "backups",
            "pull",
            "databases.main",
            id,
            "--to",
            here.path().to_str().unwrap(),
        ],
    ));
    let pulled = std::path::PathBuf::from(pulled.trim());
    assert_eq!(
        std::fs::read(&pulled).unwrap(),
        std::fs::read(&file).unwrap()
    );
    let err = fails(&sdtui(
        r,
        &known_hosts,
        &[
            "-p",
            &name,
            "db",
            "backups",
            "pull",
            "databases.main",
            id,
            "--to",
            here.path().to_str().unwrap(),
        ],
    ));
    assert!(err.contains("exists"), "{err}");

    psql(&pg, &user, &db, "DELETE FROM t WHERE id % 2 = 0");
    let id = m["id"].as_str().unwrap();
    let err = fails(&sdtui(
        r,
        &known_hosts,
        &["-p", &name, "db", "restore", "databases.main", id],
    ));
    assert!(err.contains("--confirm"), "{err}");
    ok(&sdtui(
        r,
        &known_hosts,
        &[
            "-p",
            &name,
            "db",
            "restore",
            "databases.main",
            id,
            "--confirm",
            "databases.main",
        ],
    ));
    assert_eq!(psql(&pg, &user, &db, digest), original);

    // A bigger backup (32 MB that does not compress), pulled while sshd is
    // killed: an error, and no file under the final name nor a partial one.
    psql(
        &pg,
        &user,
        &db,
        "CREATE TABLE blob AS SELECT g, decode(string_agg(lpad(to_hex((random() * 2147483647)::int), 8, '0'), ''), 'hex') AS b FROM generate_series(1, 32000) g, generate_series(1, 256) h GROUP BY g",
    );
    std::thread::sleep(std::time::Duration::from_millis(1100));
    ok(&sdtui(
        r,
        &known_hosts,
        &["-p", &name, "db", "backup", "databases.main"],
    ));
    let list: Vec<serde_json::Value> = serde_json::from_str(&ok(&sdtui(
        r,
        &known_hosts,
        &["-p", &name, "db", "backups", "databases.main", "--json"],
    )))
    .unwrap();
    let big = list[1]["id"].as_str().unwrap().to_string();
    assert!(
        list[1]["size"].as_u64().unwrap() > 30_000_000,
        "{:?}",
        list[1]
    );
    let dest = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sdtui"))
        .args([
            "-p",
            &name,
            "db",
            "backups",
            "pull",
            "databases.main",
            &big,
            "--to",
        ])
        .arg(dest.path())
        .env("SDTUI_ROOT", r)
        .env("SDTUI_ADDONS", r.join(".none"))
        .env("SDTUI_KNOWN_HOSTS", &known_hosts)
        .env_remove("SSH_AUTH_SOCK")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut progress = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut progress, &mut first).unwrap();
    assert!(first.contains(" of "), "{first}");
    vm.stop();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut progress, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "the pull cannot finish without its VM: {rest}"
    );
    let left: Vec<_> = std::fs::read_dir(dest.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}; {rest}");
    assert!(rest.contains("error:"), "{rest}");
    eprintln!("error shown when sshd died mid-pull:\n{rest}");

    // Back up, and the file on the VM altered: refused, nothing kept.
    vm.start_again();
    let big_file = remote
        .join("backups/databases.main")
        .join(list[1]["file"].as_str().unwrap());
    let mut bytes = std::fs::read(&big_file).unwrap();
    bytes.truncate(bytes.len() - 1000);
    std::fs::write(&big_file, &bytes).unwrap();
    let err = fails(&sdtui(
        r,
        &known_hosts,
        &[
            "-p",
            &name,
            "db",
            "backups",
            "pull",
            "databases.main",
            &big,
            "--to",
            dest.path().to_str().unwrap(),
        ],
    ));
    assert!(err.contains("does not match its manifest"), "{err}");
    assert_eq!(std::fs::read_dir(dest.path()).unwrap().count(), 0);
}
