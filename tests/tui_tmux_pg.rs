//! The console's Postgres dialog in a real terminal (tmux) against the
//! real engine: `P` on the primary's row plans a follower, `y` writes it,
//! `u` deploys it (a base backup), its row shows its replay lag; then
//! `:pg promote` on the follower's row: the plan reviewed, run on `y`, the
//! app's attachment moved to it, the old primary read-only.

mod common;

use std::time::Duration;

use common::docker::{Cleanup, app_sql, container, require_images, try_psql};
use common::tmux::{Tmux, console_cmd};
use common::{ok, revealed_credential, sdtui};

#[test]
fn follow_then_promote_from_the_console() {
    const ADDR: &str = "127.0.104.6";
    require_images(&["postgres:15", "sdtui-testapp:latest"]);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = format!("tp{}", std::process::id());
    let cp = format!("{name}-local");
    let _cleanup = Cleanup(cp.clone());
    let dir = r.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        format!(
            "vms:\n  local:\n    host: local\n    private_ip: {ADDR}\naddons:\n  databases:\n    primary:\n      type: postgres\n      plan: small\napps:\n  web:\n    image: sdtui-testapp\n    addons:\n      - databases.primary as DATABASE\n"
        ),
    )
    .unwrap();
    ok(&sdtui(r, &["-p", &name, "up", "--timeout", "180"]));
    let (made, out) = app_sql(
        &container(&cp, "web"),
        "CREATE TABLE t (id bigserial PRIMARY KEY, note text); INSERT INTO t (note) SELECT md5(g::text) FROM generate_series(1, 1000) g",
    );
    assert!(made, "{out}");

    let tmux = Tmux::start_sized(&name, &console_cmd(r, &name, ""), 130, 36);
    tmux.wait_for("databases.primary", Duration::from_secs(10));
    tmux.wait_for("(2 running)", Duration::from_secs(20));

    // P on the primary's row: a follower named replica, reviewed, run.
    tmux.keys(&["2", "P"]);
    tmux.wait_for("pg ", Duration::from_secs(5));
    tmux.keys(&["-l", "follow replica"]);
    tmux.keys(&["Enter"]);
    let review = tmux.wait_until(
        "y/Enter run",
        |s| s.contains("y/Enter run"),
        Duration::from_secs(20),
    );
    assert!(
        review.contains("pg follow databases.primary --name replica"),
        "{review}"
    );
    assert!(review.contains("follows: databases.primary"), "{review}");
    tmux.keys(&["y"]);
    tmux.wait_for("`u` (up) starts the follower", Duration::from_secs(20));
    tmux.keys(&["Escape"]);
    tmux.keys(&["u"]);
    tmux.wait_for("(3 running)", Duration::from_secs(180));

    // The follower's row: its replay lag beside its figures.
    tmux.keys(&["2", "j"]);
    tmux.wait_for("behind databases.primary", Duration::from_secs(30));

    // :pg promote on the follower's row.
    tmux.keys(&[":"]);
    tmux.keys(&["-l", "pg promote"]);
    tmux.keys(&["Enter"]);
    let review = tmux.wait_until(
        "y/Enter run",
        |s| s.contains("y/Enter run"),
        Duration::from_secs(20),
    );
    assert!(review.contains("databases.replica"), "{review}");
    tmux.keys(&["y"]);
    let done = tmux.wait_until(
        "promoted in",
        |s| s.contains("promoted in"),
        Duration::from_secs(120),
    );
    assert!(done.contains("databases.primary read-only"), "{done}");

    // The app now writes on the replica; the old primary refuses writes.
    let config = std::fs::read_to_string(dir.join("config.yml")).unwrap();
    assert!(config.contains("databases.replica as DATABASE"), "{config}");
    let (wrote, out) = app_sql(
        &container(&cp, "web"),
        "INSERT INTO t (note) VALUES ('after promote') RETURNING id",
    );
    assert!(wrote, "{out}");
    let (user, db) = (
        revealed_credential(r, &name, "databases.primary", "USER"),
        revealed_credential(r, &name, "databases.primary", "DATABASE"),
    );
    let (wrote, out) = try_psql(
        &container(&cp, "postgres-primary"),
        &user,
        &db,
        "INSERT INTO t (note) VALUES ('x')",
    );
    assert!(!wrote && out.contains("read-only"), "{out}");
    tmux.keys(&["q"]);
    ok(&sdtui(r, &["-p", &name, "down"]));
}
