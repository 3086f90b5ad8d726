//! Postgres followers on the real local engine: `pg follow` (plan, dry run,
//! audit), `up` makes the leader's role and slot and the follower's base
//! backup; a row written on the leader is read on the follower, a write on
//! the follower is refused (hot standby), its lag is reported by `pg lag`,
//! `status --json` and `addons info --json`; no replication password in the
//! compose file, the container's command line or the data folder;
//! `pg unfollow` promotes it (writes accepted), drops the slot and role on
//! the leader and removes `follows:`; a later `up` keeps it a primary.
//! Run under `flock /tmp/sdtui-docker-tests.lock`.

mod common;

use std::time::{Duration, Instant};

use common::docker::{Cleanup, container, docker, psql, require_images, try_psql};
use common::{fails, ok, revealed_credential, sdtui};

const CONFIG: &str = "vms:\n  local:\n    host: local\n    private_ip: 127.0.88.1\naddons:\n  databases:\n    primary:\n      type: postgres\n      plan: small\napps:\n  web:\n    image: sdtui-testapp\n    addons:\n      - databases.primary as DATABASE\n";

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn wait_for(what: &str, within: Duration, mut check: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < within, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    start.elapsed()
}

#[test]
fn follow_read_on_the_follower_then_unfollow_and_write() {
    require_images(&["postgres:15", "sdtui-testapp:latest"]);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = format!("pgf{}", std::process::id());
    let compose_project = format!("{name}-local");
    let _cleanup = Cleanup(compose_project.clone());
    std::fs::create_dir_all(r.join(&name)).unwrap();
    std::fs::write(r.join(&name).join("config.yml"), CONFIG).unwrap();
    ok(&sdtui(r, &["-p", &name, "up", "--timeout", "180"]));

    // The plan: a dry run writes nothing and says what the follower is.
    let config_before = std::fs::read_to_string(r.join(&name).join("config.yml")).unwrap();
    let dry = ok(&sdtui(
        r,
        &[
            "-p",
            &name,
            "pg",
            "follow",
            "databases.primary",
            "--name",
            "replica",
            "--dry-run",
        ],
    ));
    assert!(dry.contains("+      follows: databases.primary"), "{dry}");
    assert!(dry.contains("readonly whatever it asks"), "{dry}");
    assert!(dry.contains("nothing was written"), "{dry}");
    assert_eq!(
        std::fs::read_to_string(r.join(&name).join("config.yml")).unwrap(),
        config_before
    );
    let applied = ok(&sdtui(
        r,
        &[
            "-p",
            &name,
            "pg",
            "follow",
            "databases.primary",
            "--name",
            "replica",
        ],
    ));
    assert!(applied.contains("file(s) changed"), "{applied}");
    let history = ok(&sdtui(r, &["-p", &name, "history", "--json"]));
    assert!(
        history.contains("pg follow databases.primary --name replica"),
        "{history}"
    );

    // An attachment to the follower is readonly whatever it asks.
    ok(&sdtui(
        r,
        &[
            "-p",
            &name,
            "addons",
            "attach",
            "databases.replica",
            "--app",
            "web",
            "--as",
            "REPLICA",
            "--access",
            "readwrite",
        ],
    ));
    let env = ok(&sdtui(r, &["-p", &name, "config", "web"]));
    assert!(env.contains("REPLICA_READONLY=true"), "{env}");
    assert!(
        env.contains(&format!("REPLICA_USER={name}_primary_readonly")),
        "{env}"
    );

    let started = Instant::now();
    let up = ok(&sdtui(r, &["-p", &name, "up", "--timeout", "180"]));
    eprintln!("up with the follower: {:?}", started.elapsed());
    assert!(up.contains("postgres-replica"), "{up}");

    let leader = container(&compose_project, "postgres-primary");
    let follower = container(&compose_project, "postgres-replica");
    let (user, db) = (format!("{name}_primary_user"), format!("{name}_primary"));

    // Written on the leader, read on the follower.
    psql(
        &leader,
        &user,
        &db,
        "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 1000) g",
    );
    let caught_up = wait_for("the row on the follower", Duration::from_secs(20), || {
        try_psql(&follower, &user, &db, "SELECT count(*) FROM t")
            .1
            .trim()
            == "1000"
    });
    eprintln!("1000 rows visible on the follower after {caught_up:?}");

    // A write on the follower is refused: it is a hot standby.
    let (wrote, said) = try_psql(&follower, &user, &db, "INSERT INTO t VALUES (5000, 'x')");
    assert!(!wrote, "{said}");
    assert!(said.contains("read-only transaction"), "{said}");

    // Lag in bytes and seconds: pg lag, status --json, addons info --json.
    let lag = json(&ok(&sdtui(r, &["-p", &name, "pg", "lag", "--json"])));
    assert_eq!(lag[0]["follower"], "databases.replica", "{lag}");
    assert_eq!(lag[0]["streaming"], true, "{lag}");
    assert!(lag[0]["lag_bytes"].as_i64().unwrap() >= 0, "{lag}");
    assert!(lag[0]["lag_seconds"].as_f64().unwrap() >= 0.0, "{lag}");
    let status = json(&ok(&sdtui(r, &["-p", &name, "status", "--json"])));
    let row = status
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "postgres-replica")
        .unwrap_or_else(|| panic!("{status}"));
    assert_eq!(row["replication"]["streaming"], true, "{status}");
    assert!(row["replication"]["lag_bytes"].is_i64(), "{status}");
    let text = ok(&sdtui(r, &["-p", &name, "status"]));
    assert!(text.contains("follower databases.replica: "), "{text}");
    assert!(text.contains(" s behind databases.primary"), "{text}");
    let info = json(&ok(&sdtui(
        r,
        &["-p", &name, "addons", "info", "databases.replica", "--json"],
    )));
    assert_eq!(info["follows"], "databases.primary", "{info}");
    assert_eq!(info["replication"]["streaming"], true, "{info}");

    // The replication password: in the 0600 env file only, masked in info.
    let password = revealed_credential(r, &name, "databases.replica", "REPLICATION_PASSWORD");
    assert!(password.len() >= 32);
    assert!(
        info["credentials"]["REPLICATION_PASSWORD"].is_string(),
        "{info}"
    );
    assert!(!info.to_string().contains(&password), "masked: {info}");
    let compose =
        std::fs::read_to_string(r.join(&name).join("compose/local/docker-compose.yml")).unwrap();
    assert!(!compose.contains(&password));
    let (_, inspect) = docker(&[
        "inspect",
        "--format",
        "{{json .Config.Entrypoint}} {{json .Config.Cmd}} {{json .Args}}",
        &follower,
    ]);
    assert!(!inspect.contains(&password), "{inspect}");
    let (_, cmdlines) = docker(&[
        "exec",
        &follower,
        "sh",
        "-c",
        "cat /proc/[0-9]*/cmdline | tr '\\0' ' '",
    ]);
    assert!(!cmdlines.contains(&password));
    let (_, conf) = docker(&[
        "exec",
        &follower,
        "sh",
        "-c",
        "cat \"$PGDATA/postgresql.auto.conf\"",
    ]);
    assert!(conf.contains("passfile="), "{conf}");
    assert!(!conf.contains(&password));
    for out in [&dry, &applied, &up] {
        assert!(!out.contains(&password));
    }
    let slot = "sdtui_follower_replica";
    assert_eq!(
        psql(
            &leader,
            &user,
            &db,
            &format!("SELECT active FROM pg_replication_slots WHERE slot_name = '{slot}'")
        ),
        "t"
    );

    // Unfollow: refused for the leader, then the follower promoted.
    let err = fails(&sdtui(
        r,
        &["-p", &name, "pg", "unfollow", "databases.primary"],
    ));
    assert!(err.contains("databases.primary is not a follower"), "{err}");
    let dry = ok(&sdtui(
        r,
        &[
            "-p",
            &name,
            "pg",
            "unfollow",
            "databases.replica",
            "--dry-run",
        ],
    ));
    assert!(dry.contains("-      follows: databases.primary"), "{dry}");
    let (wrote, _) = try_psql(&follower, &user, &db, "INSERT INTO t VALUES (5000, 'x')");
    assert!(!wrote, "a dry run promotes nothing");
    let started = Instant::now();
    let out = ok(&sdtui(
        r,
        &["-p", &name, "pg", "unfollow", "databases.replica"],
    ));
    eprintln!("unfollow: {:?}", started.elapsed());
    assert!(
        out.contains("promoted to an independent writable primary"),
        "{out}"
    );
    psql(&follower, &user, &db, "INSERT INTO t VALUES (5000, 'x')");
    assert_eq!(
        psql(&follower, &user, &db, "SELECT count(*) FROM t"),
        "1001"
    );
    assert_eq!(
        psql(
            &leader,
            &user,
            &db,
            &format!("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}'")
        ),
        "0"
    );
    assert_eq!(
        psql(
            &leader,
            &user,
            &db,
            &format!("SELECT count(*) FROM pg_roles WHERE rolname = '{name}_replica_replication'")
        ),
        "0"
    );
    assert_eq!(psql(&leader, &user, &db, "SELECT count(*) FROM t"), "1000");
    let config = std::fs::read_to_string(r.join(&name).join("config.yml")).unwrap();
    assert!(!config.contains("follows:"), "{config}");
    let history = ok(&sdtui(r, &["-p", &name, "history", "--json"]));
    assert!(
        history.contains("pg unfollow databases.replica"),
        "{history}"
    );
    let env = ok(&sdtui(r, &["-p", &name, "config", "web"]));
    assert!(env.contains("REPLICA_READONLY=false"), "{env}");

    // The next `up` recreates it without the follower's entrypoint: still a
    // primary, its data kept.
    ok(&sdtui(r, &["-p", &name, "up", "--timeout", "180"]));
    let promoted = container(&compose_project, "postgres-replica");
    assert_eq!(
        psql(&promoted, &user, &db, "SELECT pg_is_in_recovery()"),
        "f"
    );
    psql(&promoted, &user, &db, "INSERT INTO t VALUES (5001, 'y')");
    assert_eq!(
        psql(&promoted, &user, &db, "SELECT count(*) FROM t"),
        "1002"
    );

    // A follower removed from config.yml: the next `up` drops its slot, which
    // would otherwise keep the leader's WAL forever. Its logins are the
    // leader's: rotating them on it is refused.
    ok(&sdtui(
        r,
        &[
            "-p",
            &name,
            "pg",
            "follow",
            "databases.primary",
            "--name",
            "spare",
        ],
    ));
    let err = fails(&sdtui(
        r,
        &[
            "-p",
            &name,
            "addons",
            "credentials",
            "rotate",
            "databases.spare",
        ],
    ));
    assert!(err.contains("rotate them on the leader"), "{err}");
    ok(&sdtui(r, &["-p", &name, "up", "--timeout", "180"]));
    let spare_slot =
        "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'sdtui_follower_spare'";
    assert_eq!(psql(&leader, &user, &db, spare_slot), "1");
    ok(&sdtui(
        r,
        &["-p", &name, "addons", "remove", "databases.spare"],
    ));
    ok(&sdtui(r, &["-p", &name, "up", "--timeout", "180"]));
    assert_eq!(psql(&leader, &user, &db, spare_slot), "0");
    ok(&sdtui(r, &["-p", &name, "down"]));
}

/// A Docker network for the test, removed when dropped: its gateway is the
/// leader VM's private address, which containers can reach (a 127.x
/// address is not reachable from inside a container).
struct Network(String);

impl Drop for Network {
    fn drop(&mut self) {
        let _ = docker(&["network", "rm", &self.0]);
    }
}

#[test]
fn follower_on_another_vm_streams_from_a_leader_over_ssh() {
    require_images(&["postgres:15"]);
    let vm = common::sshd::TestVm::start("127.0.88.2", 2288);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let known_hosts = r.join("known_hosts");
    let name = format!("pgr{}", std::process::id());
    let _remote = common::sshd::RemoteDir::of_project(&name);
    let _cleanup = (
        Cleanup(format!("{name}-core")),
        Cleanup(format!("{name}-local")),
    );
    let net = Network(format!("sdtui-{name}"));
    let _ = docker(&["network", "rm", &net.0]);
    let (made, said) = docker(&[
        "network",
        "create",
        "--subnet",
        "172.31.88.0/24",
        "--gateway",
        "172.31.88.1",
        &net.0,
    ]);
    assert!(made, "{said}");
    let dir = r.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        format!(
            "vms:\n  core:\n    host: {}\n    port: {}\n    user: root\n    identity: {}\n    private_ip: 172.31.88.1\n  local:\n    host: local\n    private_ip: 127.0.88.3\naddons:\n  databases:\n    primary:\n      type: postgres\n      plan: small\n      vm: core\n",
            vm.addr,
            vm.port,
            vm.client_key().display()
        ),
    )
    .unwrap();
    let sdtui = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_sdtui"))
            .args(args)
            .env("SDTUI_ROOT", r)
            .env("SDTUI_ADDONS", r.join(".none"))
            .env("SDTUI_KNOWN_HOSTS", &known_hosts)
            .env("SDTUI_USER", "tester")
            .env_remove("SSH_AUTH_SOCK")
            .output()
            .unwrap()
    };
    ok(&sdtui(&[
        "-p",
        &name,
        "--accept-new-host",
        "pg",
        "follow",
        "databases.primary",
        "--name",
        "replica",
        "--vm",
        "local",
    ]));
    let env = std::fs::read_to_string(dir.join("compose/local/env/postgres-replica.env")).unwrap();
    assert!(env.contains("SDTUI_LEADER_HOST='172.31.88.1'"), "{env}");
    let started = Instant::now();
    ok(&sdtui(&[
        "-p",
        &name,
        "--accept-new-host",
        "up",
        "--timeout",
        "240",
    ]));
    eprintln!(
        "up of leader (over SSH) and follower: {:?}",
        started.elapsed()
    );

    let leader = container(&format!("{name}-core"), "postgres-primary");
    let follower = container(&format!("{name}-local"), "postgres-replica");
    let (user, db) = (format!("{name}_primary_user"), format!("{name}_primary"));
    psql(
        &leader,
        &user,
        &db,
        "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 100)",
    );
    wait_for("rows on the follower", Duration::from_secs(20), || {
        try_psql(&follower, &user, &db, "SELECT count(*) FROM t")
            .1
            .trim()
            == "100"
    });
    let (wrote, said) = try_psql(&follower, &user, &db, "INSERT INTO t VALUES (1000)");
    assert!(!wrote && said.contains("read-only"), "{said}");
    let lag = json(&ok(&sdtui(&["-p", &name, "pg", "lag", "--json"])));
    assert_eq!(lag[0]["streaming"], true, "{lag}");

    ok(&sdtui(&[
        "-p",
        &name,
        "pg",
        "unfollow",
        "databases.replica",
    ]));
    psql(&follower, &user, &db, "INSERT INTO t VALUES (1000)");
    assert_eq!(
        psql(
            &leader,
            &user,
            &db,
            "SELECT count(*) FROM pg_replication_slots"
        ),
        "0"
    );
    ok(&sdtui(&["-p", &name, "down"]));
}
