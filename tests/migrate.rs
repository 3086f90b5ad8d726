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
