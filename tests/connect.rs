//! `connect` over a real sshd VM (tests/sshd) to a real postgres: the
//! forward on 127.0.0.1 carries psql sessions through `direct-tcpip`
//! channels to the addon's private address on the VM, the printed URL
//! masks the password, and the type's client runs non-interactively with
//! passthrough arguments, as the main login and the readonly one; `db
//! shell` opens psql inside the VM's container on a real terminal.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::docker::{Cleanup, require_images};
use common::sshd::{TestVm, sdtui_ssh as sdtui, sdtui_ssh_cmd as sdtui_cmd};
use common::{fails, ok};

/// Stops the background forward even when the test fails.
struct Background(std::process::Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn connect_forwards_psql_through_the_ssh_session() {
    require_images(&["postgres:15"]);
    let vm = TestVm::start("127.0.4.71", 2281);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let known_hosts = vm.trusted_known_hosts();
    let name = format!("cn{}", std::process::id());
    let _remote = common::sshd::RemoteDir::of_project(&name);
    let _cleanup = Cleanup(format!("{name}-core"));
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
        &["-p", &name, "up", "--timeout", "180"],
    ));
    let creds: serde_json::Value = serde_json::from_str(&ok(&sdtui(
        r,
        &known_hosts,
        &[
            "-p",
            &name,
            "addons",
            "credentials",
            "databases.main",
            "--reveal",
            "PASSWORD",
            "--json",
        ],
    )))
    .unwrap();
    let get = |k: &str| {
        creds
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == k)
            .unwrap()["value"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (password, user, db) = (get("PASSWORD"), get("USER"), get("DATABASE"));
    assert_eq!(
        get("HOST"),
        vm.addr,
        "published on the VM's private address"
    );

    // A URL through the VM's address is refused without a forward.
    let err = fails(&sdtui(
        r,
        &known_hosts,
        &["-p", &name, "connect", "databases.main", "--print-url"],
    ));
    assert!(err.contains("--port"), "{err}");

    // `--port 0`: a forward on a free local port until Ctrl-C.
    let mut child = Background(
        sdtui_cmd(
            r,
            &known_hosts,
            &[
                "-p",
                &name,
                "connect",
                "databases.main",
                "--port",
                "0",
                "--print-url",
            ],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap(),
    );
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let first = lines.next().expect("the forward's first line").unwrap();
    let url = lines.next().expect("the URL").unwrap();
    let port: u16 = first
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no local port in {first:?}"));
    assert_eq!(
        url,
        format!("postgresql://{user}:••••••••@127.0.0.1:{port}/{db}")
    );
    // Two sessions, one after the other, each on its own channel.
    for query in [
        "select 40 + 2",
        "select count(*) from pg_stat_activity where usename = current_user",
    ] {
        let out = Command::new("psql")
            .args([
                "-w",
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                &user,
                "-d",
                &db,
                "-tAc",
                query,
            ])
            .env("PGPASSWORD", &password)
            .env("PGCONNECT_TIMEOUT", "10")
            .output()
            .expect("psql must be installed");
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(
            out.status.success(),
            "psql through the forward failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !text.is_empty() && text.parse::<i64>().unwrap() >= 1,
            "{query}: {text}"
        );
        if query.starts_with("select 40") {
            assert_eq!(text, "42");
        }
    }
    // Ctrl-C (SIGINT) ends it cleanly and frees the port.
    let pid = child.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.0.wait().unwrap();
    assert!(
        status.success(),
        "the forward should end cleanly on Ctrl-C: {status}"
    );
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());

    // The type's client (psql), run here with passthrough arguments.
    let out = sdtui(
        r,
        &known_hosts,
        &[
            "-p",
            &name,
            "connect",
            "databases.main",
            "--",
            "-tAc",
            "select 6 * 7",
        ],
    );
    assert_eq!(ok(&out).trim(), "42");
    let out = sdtui(
        r,
        &known_hosts,
        &[
            "-p",
            &name,
            "connect",
            "databases.main",
            "--readonly",
            "--",
            "-tAc",
            "select current_user",
        ],
    );
    assert_eq!(ok(&out).trim(), get("READONLY_USER"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains(&password), "{stderr}");
    // `db shell` over SSH: psql inside the VM's container on a real
    // terminal (tmux), the login's password sent only after the VM's
    // terminal stopped echoing: never on the screen or a command line.
    for (flag, who) in [("", user.clone()), ("--readonly", get("READONLY_USER"))] {
        let session = format!("cn{}{}", std::process::id(), flag.len());
        let tmux = common::tmux::Tmux::start(
            &session,
            &format!(
                "env -u SSH_AUTH_SOCK SDTUI_ROOT={} SDTUI_ADDONS={} SDTUI_KNOWN_HOSTS={} {} -p {name} db shell {flag}; echo shell-exited-$?; sleep 30",
                r.display(),
                r.join(".none").display(),
                known_hosts.display(),
                env!("CARGO_BIN_EXE_sdtui")
            ),
        );
        tmux.wait_for("Type \"help\"", std::time::Duration::from_secs(30));
        tmux.keys(&["select 'me:' || current_user\\;", "Enter"]);
        tmux.wait_for(&format!("me:{who}"), std::time::Duration::from_secs(10));
        tmux.keys(&["\\q", "Enter"]);
        let screen = tmux.wait_until(
            "the shell to end",
            |s| s.contains("shell-exited-0"),
            std::time::Duration::from_secs(10),
        );
        assert!(!screen.contains(&password), "{screen}");
        let ro_password =
            common::revealed_credential(r, &name, "databases.main", "READONLY_PASSWORD");
        assert!(!screen.contains(&ro_password), "{screen}");
    }

    // A failing query is the client's exit status, not a success.
    let err = fails(&sdtui(
        r,
        &known_hosts,
        &[
            "-p",
            &name,
            "connect",
            "databases.main",
            "--",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            "select nope",
        ],
    ));
    assert!(
        err.contains("nope") && err.contains("exited with status"),
        "{err}"
    );

    // Rotation over SSH: the server changes through the remote engine, and
    // connect follows the new password while the old one is refused.
    ok(&sdtui(
        r,
        &known_hosts,
        &[
            "-p",
            &name,
            "addons",
            "credentials",
            "rotate",
            "databases.main",
        ],
    ));
    let out = sdtui(
        r,
        &known_hosts,
        &[
            "-p",
            &name,
            "connect",
            "databases.main",
            "--",
            "-tAc",
            "select 1",
        ],
    );
    assert_eq!(ok(&out).trim(), "1");
    let old = Command::new("psql")
        .args([
            "-w",
            "-h",
            &vm.addr,
            "-p",
            &get("PORT"),
            "-U",
            &user,
            "-d",
            &db,
            "-tAc",
            "select 1",
        ])
        .env("PGPASSWORD", &password)
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&old.stderr).contains("password authentication failed"),
        "{}",
        String::from_utf8_lossy(&old.stderr)
    );
}
