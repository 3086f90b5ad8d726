//! A first deploy that fails has no release to go back to, and says so —
//! also on the next try, when the failed release is the only one there is —
//! instead of "rolling back to the previous release did not come up
//! healthy either".

mod common;

use common::docker::{Cleanup, require_images};
use common::{fails, sdtui};

#[test]
fn a_failed_first_deploy_says_there_is_nothing_to_roll_back_to() {
    require_images(&["postgres:15"]);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = format!("ff{}", std::process::id());
    let _cleanup = Cleanup(format!("{name}-local"));
    let dir = r.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    // Postgres refuses max_connections below its reserved slots and exits.
    std::fs::write(
        dir.join("config.yml"),
        "vms:\n  local:\n    host: local\n    private_ip: 127.0.13.4\naddons:\n  databases:\n    main:\n      type: postgres\n      plan: small\n      options:\n        max_connections: 2\n",
    )
    .unwrap();
    for attempt in ["first", "second"] {
        let err = fails(&sdtui(r, &["-p", &name, "up", "--timeout", "60"]));
        assert!(
            err.contains("deploy to VM local failed: postgres-main not healthy"),
            "{attempt}: {err}"
        );
        let expected = if attempt == "first" {
            "this was the first deploy to VM local: there is no previous release to roll back to"
        } else {
            "the release before this one never came up healthy either, so there is nothing to roll back to"
        };
        assert!(err.contains(expected), "{attempt}: {err}");
        assert!(!err.contains("rolling back"), "{attempt}: {err}");
    }
}
