//! Legacy migration: named instances and attachments whose prefixes
//! reproduce the apps' old variable names, every credential kept, a backup
//! of the old files, and a project that syncs cleanly afterwards.

mod common;

use common::{fails, ok, sdtui, snapshot};

#[test]
fn legacy_project_migrates_keeping_credentials_and_variable_names() {
    let root = common::root_with("legacy");
    let r = root.path();
    let old_config = std::fs::read_to_string(r.join("legacy/config.yml")).unwrap();
    let old_secrets = std::fs::read_to_string(r.join("legacy/secrets.yml")).unwrap();

    // Until migrated, commands point at `migrate`.
    let err = fails(&sdtui(r, &["-p", "legacy", "addons", "list"]));
    assert!(
        err.contains("config.yml:10:3")
            && err.contains("legacy single-instance format")
            && err.contains("sdtui -p legacy migrate"),
        "{err}"
    );

    // Dry run: the diff, nothing written, no secret shown.
    let before = snapshot(&r.join("legacy"));
    let dry = ok(&sdtui(r, &["-p", "legacy", "migrate", "--dry-run"]));
    assert!(
        dry.contains("+  databases:\n+    primary:\n+      type: postgres"),
        "{dry}"
    );
    assert!(!dry.contains("IFYy2nisQkXn8im3FhWqNXpEldhnTNhLCiYR5XVwgck"));
    assert_eq!(snapshot(&r.join("legacy")), before);

    let out = ok(&sdtui(r, &["-p", "legacy", "migrate", "-q"]));
    assert!(
        out.contains("note: app api: POSTGRES_DB is now POSTGRES_DATABASE"),
        "{out}"
    );

    // Credentials moved into the instances, unchanged.
    let secrets = std::fs::read_to_string(r.join("legacy/secrets.yml")).unwrap();
    for kept in [
        "      USER: cheapa_user\n      PASSWORD: IFYy2nisQkXn8im3FhWqNXpEldhnTNhLCiYR5XVwgck\n      DATABASE: cheapa_db\n",
        "      PASSWORD: fCZyYC5nbIRhxLNNgX7Bggy6F9QDPF1IjwlivsQNSWA\n      VHOST: /\n",
        "      PASSWORD: yyyRedisPassw0rdThatIsLongEnough1234567\n",
        "shared:\n  DOCKER_ORG: c100394\n  DOCKER_TOKEN: dckr_pat_xxx\n",
        "api:\n  API_SECRET_KEY: api_secret_xxx\n",
    ] {
        assert!(
            secrets.contains(kept),
            "secrets.yml lacks {kept:?}:\n{secrets}"
        );
    }
    assert!(!secrets.contains("env_aliases") && !secrets.contains("secrets:"));

    // Every old variable name an app used still arrives, with its old value.
    let env = |app: &str| common::read_env(&r.join(format!("legacy/compose/app/env/{app}.env")));
    let api = env("api");
    for line in [
        "DB_DATABASE=cheapa_db",
        "DB_HOST=127.0.2.3",
        "DB_PASSWORD=IFYy2nisQkXn8im3FhWqNXpEldhnTNhLCiYR5XVwgck",
        "POSTGRES_HOST=127.0.2.3",
        "POSTGRES_PORT=5432",
        "POSTGRES_USER=cheapa_user",
        "POSTGRES_PASSWORD=IFYy2nisQkXn8im3FhWqNXpEldhnTNhLCiYR5XVwgck",
        "RABBITMQ_PASSWORD=fCZyYC5nbIRhxLNNgX7Bggy6F9QDPF1IjwlivsQNSWA",
        "RABBITMQ_VHOST=/",
        "REDIS_PASSWORD=yyyRedisPassw0rdThatIsLongEnough1234567",
        "DOCKER_TOKEN=dckr_pat_xxx",
        "API_SECRET_KEY=api_secret_xxx",
    ] {
        assert!(
            api.contains(&format!("\n{line}\n")),
            "api.env lacks {line}:\n{api}"
        );
    }
    let services = env("services");
    assert!(
        services.contains("\nRABBIT_HOST=127.0.2.3\n")
            && services.contains("\nDB_DATABASE=cheapa_db\n")
    );
    assert!(!services.contains("API_SECRET_KEY"));

    // Ports held before stay held.
    let compose =
        std::fs::read_to_string(r.join("legacy/compose/core/docker-compose.yml")).unwrap();
    assert!(
        compose.contains("\n      - 127.0.2.3:5432:5432\n")
            && compose.contains("\n      - 127.0.2.3:5672:5672\n"),
        "{compose}"
    );
    // Each addon where its *_HOST said it ran, not on the apps' VM.
    let app_compose =
        std::fs::read_to_string(r.join("legacy/compose/app/docker-compose.yml")).unwrap();
    assert!(
        !app_compose.contains("postgres-primary:")
            && !app_compose.contains("rabbitmq-main:")
            && app_compose.contains("- 127.0.2.4:6379:6379\n"),
        "{app_compose}"
    );

    // The old files, byte for byte, in a backup.
    let backups: Vec<_> = std::fs::read_dir(r.join("legacy/.sdtui/backups"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(backups.len(), 1);
    assert_eq!(
        std::fs::read_to_string(backups[0].path().join("config.yml")).unwrap(),
        old_config
    );
    assert_eq!(
        std::fs::read_to_string(backups[0].path().join("secrets.yml")).unwrap(),
        old_secrets
    );

    // Comments outside the rewritten parts survive.
    let config = std::fs::read_to_string(r.join("legacy/config.yml")).unwrap();
    assert!(config.starts_with("# projects/legacy/config.yml: the seed-000"));
    assert!(config.contains("path: /srv/code/api   # where the source lives"));

    // Done once: a second migrate refuses, a sync changes nothing.
    let err = fails(&sdtui(r, &["-p", "legacy", "migrate"]));
    assert!(err.contains("not in the legacy format"), "{err}");
    assert!(ok(&sdtui(r, &["-p", "legacy", "sync"])).contains("nothing to change"));
    let hist = ok(&sdtui(r, &["-p", "legacy", "history"]));
    assert!(
        hist.contains("migrate") && hist.contains("applied"),
        "{hist}"
    );
}

/// The binary with HOME (and so `~/.ssh/config`) in a folder of the test's.
fn sdtui_home(
    root: &std::path::Path,
    home: &std::path::Path,
    args: &[&str],
) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_sdtui"))
        .args(args)
        .env("SDTUI_ROOT", root)
        .env("SDTUI_ADDONS", root.join(".no-user-addons"))
        .env("SDTUI_USER", "tester")
        .env("HOME", home)
        .output()
        .unwrap()
}

fn home_with_ssh_config(text: &str) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".ssh")).unwrap();
    std::fs::write(home.path().join(".ssh/config"), text).unwrap();
    home
}

/// Seed 000's own legacy project: three apps on a VM `app` that config.yml
/// never declares, the databases on another machine (their *_HOST), shared
/// secrets and env_aliases.
#[test]
fn seed_legacy_example_migrates_with_its_vms_and_addon_hosts() {
    let root = common::root_with("legacy-seed");
    let r = root.path();
    let home = home_with_ssh_config("Host app\n  HostName 127.0.3.4\n  User deploy\n");
    let h = home.path();

    let out = ok(&sdtui_home(r, h, &["-p", "legacy-seed", "migrate", "-q"]));
    // The summary says what was declared, from where, and how to change it.
    assert!(
        out.contains("note: VM app: named by the apps but not declared; declared with host app, which ")
            && out.contains(".ssh/config resolves (HostName 127.0.3.4, User deploy); change its host, user or port under vms.app in config.yml"),
        "{out}"
    );
    assert!(
        out.contains(
            "note: VM vm-127-0-3-3: rabbitmq ran on 127.0.3.3 (RABBITMQ_HOST); declared for it"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "note: caddy: secrets.shared has no CADDY_HOST; placed with the apps on VM app"
        ),
        "{out}"
    );

    let config = std::fs::read_to_string(r.join("legacy-seed/config.yml")).unwrap();
    assert!(
        config.contains("vms:\n  app:\n    host: app\n    private_ip: 127.0.3.4\n  vm-127-0-3-3:\n    host: 127.0.3.3\n"),
        "{config}"
    );
    // The databases stay where their data is; the proxy goes with the apps.
    for (id, vm) in [
        ("databases.primary", "vm-127-0-3-3"),
        ("queues.main", "vm-127-0-3-3"),
        ("proxy.main", "app"),
    ] {
        let info = ok(&sdtui_home(
            r,
            h,
            &["-p", "legacy-seed", "addons", "info", id, "--json"],
        ));
        assert!(info.contains(&format!("\"vm\": \"{vm}\"")), "{id}: {info}");
    }

    let compose = |vm: &str| {
        std::fs::read_to_string(r.join(format!("legacy-seed/compose/{vm}/docker-compose.yml")))
            .unwrap()
    };
    let core = compose("vm-127-0-3-3");
    assert!(
        core.contains("- 127.0.3.3:5432:5432\n") && core.contains("- 127.0.3.3:5672:5672\n"),
        "{core}"
    );
    let app = compose("app");
    assert!(!app.contains("postgres-primary:") && app.contains("caddy-main:"));
    for a in ["api:", "services:", "storefront:"] {
        assert!(app.contains(&format!("\n  {a}\n")), "{app}");
    }

    // Every credential kept, every old name still arrives in the apps.
    let env =
        |app: &str| common::read_env(&r.join(format!("legacy-seed/compose/app/env/{app}.env")));
    let api = env("api");
    for line in [
        "DB_HOST=127.0.3.3",
        "DB_DATABASE=cheapa_db",
        "DB_PASSWORD=IFYy2nisQkXn8im3FhWqNXpEldhnTNhLCiYR5XVwgck",
        "POSTGRES_HOST=127.0.3.3",
        "POSTGRES_PORT=5432",
        "RABBITMQ_PASSWORD=fCZyYC5nbIRhxLNNgX7Bggy6F9QDPF1IjwlivsQNSWA",
        "REPOSITORY_TOKEN=ghp_xxx",
        "JWT_SECRET=jwt_secret_yyy",
    ] {
        assert!(
            api.contains(&format!("\n{line}\n")),
            "api.env lacks {line}:\n{api}"
        );
    }
    let services = env("services");
    assert!(
        services.contains("\nRABBIT_HOST=127.0.3.3\n")
            && services.contains("\nDB_HOST=127.0.3.3\n"),
        "{services}"
    );
    let storefront = env("storefront");
    assert!(
        storefront.contains("\nNEXTAUTH_SECRET=nextauth_secret_zzz\n")
            && storefront
                .contains("\nPOSTGRES_PASSWORD=IFYy2nisQkXn8im3FhWqNXpEldhnTNhLCiYR5XVwgck\n")
            && !storefront.contains("JWT_SECRET"),
        "{storefront}"
    );

    // A current project from here on: sync has nothing to do.
    assert!(ok(&sdtui_home(r, h, &["-p", "legacy-seed", "sync"])).contains("nothing to change"));
}

/// Addons on a machine the user has an ssh alias for, apart from the apps:
/// the new VM takes the alias's name; what cannot be told is refused.
#[test]
fn addon_hosts_apart_from_the_apps_are_placed_or_refused_by_name() {
    // The databases' machine has an alias in ~/.ssh/config: its name is used.
    let root = common::root_with("legacy-seed");
    let r = root.path();
    let home = home_with_ssh_config(
        "Host app\n  HostName 127.0.3.4\n\nHost core\n  HostName 127.0.3.3\n  User ops\n",
    );
    let out = ok(&sdtui_home(
        r,
        home.path(),
        &["-p", "legacy-seed", "migrate", "-q"],
    ));
    assert!(
        out.contains("note: VM core: rabbitmq ran on 127.0.3.3 (RABBITMQ_HOST); declared for it ("),
        "{out}"
    );
    let config = std::fs::read_to_string(r.join("legacy-seed/config.yml")).unwrap();
    assert!(
        config.contains("\n  core:\n    host: 127.0.3.3\n"),
        "{config}"
    );
    assert!(
        config.contains(
            "      type: postgres\n      version: 15-alpine\n      plan: standard\n      vm: core\n"
        ),
        "{config}"
    );

    // No ssh entry for the apps' VM: refused, naming it and the way out.
    let root = common::root_with("legacy-seed");
    let r = root.path();
    let before = snapshot(&r.join("legacy-seed"));
    let empty = home_with_ssh_config("");
    let err = fails(&sdtui_home(
        r,
        empty.path(),
        &["-p", "legacy-seed", "migrate"],
    ));
    assert!(
        err.contains("app api runs on VM \"app\", which config.yml does not declare")
            && err.contains("has no Host entry for it")
            && err.contains("vms: {app: {host: ADDRESS}}")
            && err.contains("`Host app` with `HostName ADDRESS`"),
        "{err}"
    );
    assert_eq!(snapshot(&r.join("legacy-seed")), before);

    // A *_HOST that is no VM's address and resolves to none: refused,
    // naming the host and the VMs there are.
    let home = home_with_ssh_config("Host app\n  HostName 127.0.3.4\n");
    let secrets = r.join("legacy-seed/secrets.yml");
    let text = std::fs::read_to_string(&secrets).unwrap();
    std::fs::write(
        &secrets,
        text.replace("POSTGRES_HOST: 127.0.3.3", "POSTGRES_HOST: db.internal"),
    )
    .unwrap();
    let err = fails(&sdtui_home(
        r,
        home.path(),
        &["-p", "legacy-seed", "migrate"],
    ));
    assert!(
        err.contains("postgres ran on \"db.internal\" (POSTGRES_HOST in secrets.yml), which is no VM's address")
            && err.contains("VMs: app (127.0.3.4), vm-127-0-3-3 (127.0.3.3)"),
        "{err}"
    );

    // No *_HOST at all while there are several VMs: refused with the choices.
    std::fs::write(&secrets, text.replace("    POSTGRES_HOST: 127.0.3.3\n", "")).unwrap();
    let err = fails(&sdtui_home(
        r,
        home.path(),
        &["-p", "legacy-seed", "migrate"],
    ));
    assert!(
        err.contains("where did postgres run? secrets.shared has no POSTGRES_HOST")
            && err.contains("add `POSTGRES_HOST: ADDRESS` under secrets.shared"),
        "{err}"
    );
    assert_eq!(snapshot(&r.join("legacy-seed")).len(), before.len());
}
