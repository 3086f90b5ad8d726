//! The console's data-safety actions in a real terminal (tmux) against the
//! real engine: backup, backups list, restore with the name typed back,
//! credentials rotation with an app running, and connect (psql).

mod common;

use std::time::Duration;

use common::docker::{Cleanup, container, docker, require_images};
use common::tmux::{Tmux, console_cmd};
use common::{ok, sdtui};

/// One credential of `databases.main`, revealed through the CLI.
fn revealed(root: &std::path::Path, project: &str, key: &str) -> String {
    common::revealed_credential(root, project, "databases.main", key)
}

/// The console's data-safety actions on a deployed postgres with an app
/// attached: `b` backs up, `B` lists it, a restore after the data was
/// altered (plan, then the name typed back) brings the rows back; `C`
/// rotates the password (plan, confirm) with the app running: its env file
/// has the new one and the server refuses the old; `c` opens psql in the
/// terminal and the console comes back after `\q`.
#[test]
fn data_safety_backup_restore_rotate_connect_in_the_console() {
    const ADDR: &str = "127.0.72.1";
    require_images(&["postgres:15", "sdtui-testapp:latest"]);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = format!("td{}", std::process::id());
    let cp = format!("{name}-local");
    let _cleanup = Cleanup(cp.clone());
    let dir = r.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        format!(
            "# console data safety\nvms:\n  local:\n    host: local\n    private_ip: {ADDR}\naddons:\n  databases:\n    main:\n      type: postgres\n      plan: small\napps:\n  web:\n    image: sdtui-testapp\n    addons:\n      - databases.main as DATABASE\n    env:\n      CHECK_PREFIXES: DATABASE\n"
        ),
    )
    .unwrap();
    ok(&sdtui(r, &["-p", &name, "up", "--timeout", "180"]));
    let pg = container(&cp, "postgres-main");
    let (user, db) = (format!("{name}_main_user"), format!("{name}_main"));
    common::docker::psql(
        &pg,
        &user,
        &db,
        "CREATE TABLE t (id bigserial PRIMARY KEY, v text); \
         INSERT INTO t (v) SELECT md5(g::text) FROM generate_series(1, 3000) g;",
    );
    let digest = "SELECT count(*) || ':' || md5(string_agg(v, ',' ORDER BY id)) FROM t";
    let original = common::docker::psql(&pg, &user, &db, digest);

    let tmux = Tmux::start_sized(&name, &console_cmd(r, &name, ""), 120, 32);
    tmux.wait_for("databases.main", Duration::from_secs(10));
    tmux.wait_for("(2 running)", Duration::from_secs(20));

    // b: a backup and its drill, steps on the footer.
    tmux.keys(&["b"]);
    tmux.wait_for("restore drill passed", Duration::from_secs(120));

    // The data is altered after the backup.
    common::docker::psql(
        &pg,
        &user,
        &db,
        "DELETE FROM t WHERE id % 3 = 0; UPDATE t SET v = 'x' WHERE id < 10;",
    );
    assert_ne!(common::docker::psql(&pg, &user, &db, digest), original);

    // B: the list, read in the background; the backup with its drill.
    tmux.keys(&["B"]);
    tmux.wait_for("Backups of databases.main", Duration::from_secs(5));
    let list = tmux.wait_until(
        "the backup listed",
        |s| s.contains("passed (") && s.contains("restore drill passed:"),
        Duration::from_secs(30),
    );
    assert!(list.contains("main-20"), "{list}");
    // Enter: the plan first; a wrong name does nothing.
    tmux.keys(&["Enter"]);
    tmux.wait_for(
        "Type databases.main to restore it:",
        Duration::from_secs(30),
    );
    let review = tmux.screen();
    for text in [
        "size checked first",
        "databases.main on VM local",
        "data written since the backup is lost",
        "web (VM local): stopped before, started after",
    ] {
        assert!(review.contains(text), "no {text:?} in:\n{review}");
    }
    tmux.keys(&["-l", "databases.mai"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("type databases.main exactly", Duration::from_secs(5));
    assert_ne!(common::docker::psql(&pg, &user, &db, digest), original);
    tmux.keys(&["-l", "n"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("restore databases.main: ", Duration::from_secs(10));
    tmux.wait_for("restored (checksum verified)", Duration::from_secs(120));
    // The rows are back, read through psql.
    let pg = container(&cp, "postgres-main");
    assert_eq!(common::docker::psql(&pg, &user, &db, digest), original);
    tmux.keys(&["x"]);
    tmux.wait_gone("any key closes", Duration::from_secs(5));
    tmux.wait_for("(2 running)", Duration::from_secs(60));

    // C: rotate with web running; the plan names the login, files, app.
    let port = revealed(r, &name, "PORT");
    let old = revealed(r, &name, "PASSWORD");
    assert!(common::psql_login(ADDR, &port, &user, &db, &old).0);
    let web_before = container(&cp, "web");
    tmux.keys(&["C"]);
    tmux.wait_for(
        "Rotate credentials of databases.main",
        Duration::from_secs(5),
    );
    let review = tmux.wait_until(
        "the rotation's plan",
        |s| s.contains("Enter/y rotate"),
        Duration::from_secs(20),
    );
    let login = format!("PASSWORD of {user}");
    for text in [
        login.as_str(),
        "update secrets.yml",
        "env/web.env",
        "web (VM local): recreated onto the new password",
    ] {
        assert!(review.contains(text), "no {text:?} in:\n{review}");
    }
    assert!(!review.contains(&old), "a password on the screen");
    tmux.keys(&["y"]);
    tmux.wait_for("rotate databases.main: ", Duration::from_secs(10));
    let done = tmux.wait_until(
        "the rotation's end",
        // (An addon row's label may say `failed (0)`: a one-off container.)
        |s| s.contains("the old one is refused") || s.contains("rotate databases.main failed"),
        Duration::from_secs(180),
    );
    assert!(done.contains("restarted web"), "{done}");
    let new = revealed(r, &name, "PASSWORD");
    assert_ne!(new, old);
    assert!(
        !done.contains(&new) && !done.contains(&old),
        "a password on the screen"
    );
    let env = std::fs::read_to_string(dir.join("compose/local/env/web.env")).unwrap();
    assert!(
        env.contains(&new) && !env.contains(&old),
        "web.env did not follow"
    );
    let (refused, why) = common::psql_login(ADDR, &port, &user, &db, &old);
    assert!(
        !refused && why.contains("password authentication failed"),
        "{why}"
    );
    assert!(common::psql_login(ADDR, &port, &user, &db, &new).0);
    assert_ne!(container(&cp, "web"), web_before, "web was recreated");
    let (checked, report) = docker(&["exec", &container(&cp, "web"), "check"]);
    assert!(checked, "web works on the new password:\n{report}");
    tmux.keys(&["x"]);
    tmux.wait_gone("any key closes", Duration::from_secs(5));

    // c: psql in this terminal, then the console again.
    tmux.keys(&["c"]);
    tmux.wait_for(&format!("{db}=#"), Duration::from_secs(20));
    tmux.keys(&["-l", "select 42 as answer"]);
    // A trailing `;` ends a tmux command: `\;` is the character.
    tmux.keys(&["\\;", "Enter"]);
    let answer = tmux.wait_until(
        "psql's answer",
        |s| s.contains("(1 row)"),
        Duration::from_secs(10),
    );
    assert!(
        answer.contains("answer") && answer.contains("42"),
        "{answer}"
    );
    tmux.keys(&["-l", "\\q"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for(
        "connect databases.main: the client ended (0)",
        Duration::from_secs(10),
    );
    let back = tmux.screen();
    assert!(back.contains("┌ Addons"), "the console is back:\n{back}");
    tmux.keys(&["q"]);
}
