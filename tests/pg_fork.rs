//! `pg fork` on the real local engine: a copy of a running postgres made
//! from a base backup of it (its rows, not a dump's), then promoted,
//! restarted as a plain primary and given passwords of its own; the copy
//! and its source diverge (a row written in one is absent in the other),
//! the source's password no longer opens the copy, the source keeps no
//! replication slot, and config.yml has no `follows:` left. A fork of
//! something that is not a postgres is refused with nothing written.
//! Run under `flock /tmp/sdtui-docker-tests.lock`.

mod common;

use common::docker::{Cleanup, container, psql, require_images};
use common::{fails, ok, psql_login, revealed_credential, sdtui};

const ADDR: &str = "127.0.93.1";

#[test]
fn fork_copies_the_data_then_lives_apart() {
    require_images(&["postgres:15", "redis:7", "sdtui-testapp:latest"]);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = format!("pgk{}", std::process::id());
    let _cleanup = Cleanup(format!("{name}-local"));
    let dir = r.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        format!(
            "vms:\n  local:\n    host: local\n    private_ip: {ADDR}\naddons:\n  databases:\n    primary:\n      type: postgres\n      plan: small\n  caches:\n    session:\n      type: redis\n      plan: small\napps:\n  web:\n    image: sdtui-testapp\n    addons:\n      - databases.primary as DATABASE\n"
        ),
    )
    .unwrap();
    ok(&sdtui(r, &["-p", &name, "up", "--timeout", "180"]));
    let cred = |addon: &str, key: &str| revealed_credential(r, &name, addon, key);
    let sql = |service: &str, addon: &str, q: &str| {
        psql(
            &container(&format!("{name}-local"), service),
            &cred(addon, "USER"),
            &cred(addon, "DATABASE"),
            q,
        )
    };
    sql(
        "postgres-primary",
        "databases.primary",
        "create table notes(n int primary key); insert into notes select generate_series(1, 100)",
    );

    // Refused, nothing written: not a postgres; an unknown source.
    let before = std::fs::read_to_string(dir.join("config.yml")).unwrap();
    let err = fails(&sdtui(
        r,
        &[
            "-p",
            &name,
            "pg",
            "fork",
            "caches.session",
            "--name",
            "copy",
        ],
    ));
    assert!(err.contains("only postgres"), "{err}");
    let err = fails(&sdtui(
        r,
        &[
            "-p",
            &name,
            "pg",
            "fork",
            "databases.nope",
            "--name",
            "copy",
        ],
    ));
    assert!(err.contains("databases.nope"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.join("config.yml")).unwrap(),
        before
    );

    let out = ok(&sdtui(
        r,
        &[
            "-p",
            &name,
            "pg",
            "fork",
            "databases.primary",
            "--name",
            "trial",
            "--json",
        ],
    ));
    let forked: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(forked["copy"], "databases.trial", "{out}");
    eprintln!(
        "figure: pg fork of a small database in {:.1} s",
        forked["seconds"].as_f64().unwrap()
    );

    // The source's rows, from its base backup.
    assert_eq!(
        sql(
            "postgres-trial",
            "databases.trial",
            "select count(*) from notes"
        ),
        "100"
    );
    // Writable, and apart from now on.
    sql(
        "postgres-trial",
        "databases.trial",
        "insert into notes select generate_series(101, 105)",
    );
    sql(
        "postgres-primary",
        "databases.primary",
        "insert into notes values (1000)",
    );
    assert_eq!(
        sql(
            "postgres-trial",
            "databases.trial",
            "select count(*) from notes"
        ),
        "105"
    );
    assert_eq!(
        sql(
            "postgres-primary",
            "databases.primary",
            "select count(*) from notes"
        ),
        "101"
    );
    assert_eq!(
        sql(
            "postgres-trial",
            "databases.trial",
            "select count(*) from notes where n = 1000"
        ),
        "0"
    );

    // Its own passwords: the source's no longer open it.
    let (user, db) = (
        cred("databases.trial", "USER"),
        cred("databases.trial", "DATABASE"),
    );
    let port = cred("databases.trial", "PORT");
    let (old, new) = (
        cred("databases.primary", "PASSWORD"),
        cred("databases.trial", "PASSWORD"),
    );
    assert_ne!(old, new);
    let (accepted, said) = psql_login(ADDR, &port, &user, &db, &new);
    assert!(accepted, "{said}");
    let (accepted, said) = psql_login(ADDR, &port, &user, &db, &old);
    assert!(
        !accepted,
        "the source's password still opens the fork: {said}"
    );
    assert_ne!(
        cred("databases.primary", "READONLY_PASSWORD"),
        cred("databases.trial", "READONLY_PASSWORD")
    );
    // The source is as it was: no slot left, still writable, its app fine.
    assert_eq!(
        sql(
            "postgres-primary",
            "databases.primary",
            "select count(*) from pg_replication_slots"
        ),
        "0"
    );
    assert_eq!(
        sql(
            "postgres-primary",
            "databases.primary",
            "select pg_is_in_recovery()"
        ),
        "f"
    );
    let config = std::fs::read_to_string(dir.join("config.yml")).unwrap();
    assert!(
        config.contains("    trial:") && !config.contains("follows:"),
        "{config}"
    );
    let history = ok(&sdtui(r, &["-p", &name, "history"]));
    assert!(
        history.contains("pg follow databases.primary --name trial"),
        "{history}"
    );
}
