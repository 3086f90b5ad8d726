//! Every kind of bad input gets a clear message (file:line:column or the
//! offending name), a hint, a non-zero exit, and changes no file.

mod common;

use common::{fails, ok, sdtui, snapshot};

/// Applies `edit` to cheapa's config.yml, runs `args`, and checks the error
/// names `expect` (every fragment) and that nothing changed.
fn rejects(edit: impl Fn(&str) -> String, args: &[&str], expect: &[&str]) {
    let root = common::root_with("cheapa");
    let r = root.path();
    ok(&sdtui(r, &["-p", "cheapa", "sync"]));
    let cfg_path = r.join("cheapa/config.yml");
    let cfg = std::fs::read_to_string(&cfg_path).unwrap();
    let edited = edit(&cfg);
    std::fs::write(&cfg_path, &edited).unwrap();
    let before = snapshot(&r.join("cheapa"));
    let mut full = vec!["-p", "cheapa"];
    full.extend_from_slice(args);
    let err = fails(&sdtui(r, &full));
    for e in expect {
        assert!(err.contains(e), "error should mention {e:?}:\n{err}");
    }
    assert!(err.contains("hint: "), "error should carry a hint:\n{err}");
    assert_eq!(
        snapshot(&r.join("cheapa")),
        before,
        "nothing may change on bad input"
    );
}

const SYNC: &[&str] = &["sync"];

#[test]
fn malformed_yaml_points_at_the_line() {
    rejects(
        |c| {
            c.replace(
                "      plan: large\n      vm: core\n      options:\n        max_connections: 200",
                "      plan: large\n     vm: core\n      options:\n        max_connections: 200",
            )
        },
        SYNC,
        &["config.yml:36:6", "did not find expected key\n", "^"],
    );
}

#[test]
fn unknown_type_and_plan() {
    rejects(
        |c| c.replacen("type: postgres", "type: postgress", 1),
        SYNC,
        &[
            "config.yml:24:13",
            "unknown addon type \"postgress\"",
            "known types: caddy, elasticsearch, mariadb",
        ],
    );
    rejects(
        |c| c.replacen("plan: standard", "plan: huge", 1),
        SYNC,
        &[
            "config.yml:26:13",
            "unknown plan \"huge\"",
            "small, standard, large, xlarge",
        ],
    );
    rejects(
        |c| c.to_string(),
        &["addons", "add", "postgress", "x"],
        &["unknown addon type \"postgress\"", "known types"],
    );
    rejects(
        |c| c.to_string(),
        &[
            "addons",
            "upgrade",
            "databases.primary",
            "--plan",
            "gigantic",
        ],
        &[
            "unknown plan \"gigantic\"",
            "postgres plans: small, standard",
        ],
    );
    rejects(
        |c| c.replacen("max_connections: 100", "max_conections: 100", 1),
        SYNC,
        &[
            "config.yml:29:9",
            "unknown option \"max_conections\"",
            "max_connections",
        ],
    );
}

#[test]
fn names_must_be_dns_labels() {
    rejects(
        |c| c.replacen("    analytics:\n", "    Analytics_DB:\n", 1),
        SYNC,
        &[
            "config.yml:32:5",
            "\"databases.Analytics_DB\" is not a DNS label",
            "lowercase",
        ],
    );
    rejects(
        |c| c.replacen("  services:\n    image", "  queue_worker:\n    image", 1),
        SYNC,
        &["app name \"queue_worker\" is not a DNS label"],
    );
    rejects(
        |c| c.to_string(),
        &["addons", "add", "redis", "Big_Cache"],
        &["\"Big_Cache\" is not a DNS label"],
    );
}

#[test]
fn attachments_to_missing_addons_or_apps() {
    rejects(
        |c| c.replacen("addon: caches.session", "addon: caches.sesion", 1),
        SYNC,
        &[
            "config.yml:",
            "unknown addon \"caches.sesion\"",
            "databases.primary, databases.analytics",
        ],
    );
    rejects(
        |c| {
            c.replacen(
                "- queues.priority as PRIORITY_QUEUE",
                "- queues.urgent as PRIORITY_QUEUE",
                1,
            )
        },
        SYNC,
        &["config.yml:144:9", "queues.urgent"],
    );
    rejects(
        |c| c.to_string(),
        &["addons", "attach", "databases.primary", "--app", "mobile"],
        &["no app \"mobile\"", "apps: api, services, storefront"],
    );
    rejects(
        |c| c.to_string(),
        &["addons", "attach", "databases.nope", "--app", "api"],
        &["no addon \"databases.nope\"", "databases.primary"],
    );
    rejects(
        |c| c.to_string(),
        &["addons", "detach", "caches.products", "--app", "api"],
        &[
            "app api is not attached to caches.products",
            "databases.primary as DATABASE",
        ],
    );
}

#[test]
fn readonly_needs_a_type_that_has_it() {
    rejects(
        |c| {
            c.replacen(
                "        as: QUEUE\n",
                "        as: QUEUE\n        access: readonly\n",
                1,
            )
        },
        SYNC,
        &[
            "config.yml:143:17",
            "queues.main (rabbitmq) has no readonly access",
            "mariadb, mongodb, postgres, redis",
        ],
    );
    rejects(
        |c| c.to_string(),
        &[
            "addons",
            "attach",
            "queues.main",
            "--app",
            "storefront",
            "--access",
            "readonly",
        ],
        &["queues.main (rabbitmq) has no readonly access"],
    );
}

#[test]
fn duplicate_prefixes_name_both_attachments() {
    rejects(
        |c| c.replacen("        as: QUEUE\n", "        as: DB\n", 1),
        SYNC,
        &[
            "config.yml:142:13",
            "app services attaches databases.primary and queues.main both as DB",
        ],
    );
    rejects(
        |c| c.to_string(),
        &[
            "addons",
            "attach",
            "databases.reports",
            "--app",
            "api",
            "--as",
            "CACHE",
        ],
        &[
            "app api already has CACHE_* from caches.session",
            "--as REPORTS",
        ],
    );
}

#[test]
fn port_clashes_name_both_holders() {
    // Two pins on one VM.
    rejects(
        |c| {
            c.replacen(
                "      plan: small\n      vm: core\n",
                "      plan: small\n      vm: core\n      port: 6000\n",
                1,
            )
            .replacen(
                "      plan: large\n      vm: core\n",
                "      plan: large\n      vm: core\n      port: 6000\n",
                1,
            )
        },
        SYNC,
        &[
            "port 6000 on VM core",
            "databases.reports",
            "databases.analytics",
        ],
    );
    // A pin onto a port an existing instance already holds.
    rejects(
        |c| {
            c.replacen(
                "      plan: small\n      vm: core\n",
                "      plan: small\n      vm: core\n      port: 5432\n",
                1,
            )
        },
        SYNC,
        &[
            "port 5432 on VM core",
            "databases.reports (pinned)",
            "databases.primary",
        ],
    );
    // An app's port against an addon's.
    rejects(
        |c| c.replacen("port: 8000", "port: 6379", 1),
        SYNC,
        &["port 6379 on VM app", "app api", "caches.session"],
    );
}

#[test]
fn unknown_vm() {
    rejects(
        |c| c.replacen("      vm: core\n", "      vm: db1\n", 1),
        SYNC,
        &["config.yml:27:11", "unknown VM \"db1\"", "VMs: core, app"],
    );
    rejects(
        |c| c.to_string(),
        &["addons", "add", "redis", "jobs", "--vm", "db1"],
        &["unknown VM \"db1\"", "core, app"],
    );
}

#[test]
fn user_variables_cannot_shadow_managed_ones() {
    rejects(
        |c| {
            c.replacen(
                "    domain: api.cheapa.io\n",
                "    domain: api.cheapa.io\n    env:\n      DATABASE_URL: postgres://elsewhere\n",
                1,
            )
        },
        SYNC,
        &[
            "app api: DATABASE_URL from config.yml env would shadow the variable databases.primary as DATABASE manages",
        ],
    );
}

#[test]
fn removing_an_attached_addon_is_refused() {
    rejects(
        |c| c.to_string(),
        &["addons", "remove", "caches.session"],
        &[
            "addon caches.session is attached to api (as CACHE)",
            "detach it first",
        ],
    );
}

#[test]
fn unknown_project_lists_the_known_ones() {
    let root = common::root_with("cheapa");
    let err = fails(&sdtui(root.path(), &["-p", "cheap", "addons", "list"]));
    assert!(
        err.contains("no project \"cheap\"") && err.contains("projects: cheapa"),
        "{err}"
    );
}

#[test]
fn adding_to_a_project_of_several_vms_needs_a_vm() {
    rejects(
        |c| c.to_string(),
        &["addons", "add", "redis", "jobs"],
        &["which VM should caches.jobs run on?", "VMs: core, app"],
    );
}

#[test]
fn a_vm_compose_command_that_is_not_a_command() {
    for bad in ["\"\"", "\"docker 'compose\""] {
        rejects(
            |c| {
                c.replacen(
                    "    port: 2222\n",
                    &format!("    port: 2222\n    compose: {bad}\n"),
                    1,
                )
            },
            SYNC,
            &[
                "config.yml:12:14",
                "of VM core is not a command",
                "compose: docker compose",
            ],
        );
    }
}

#[test]
fn names_yaml_reads_as_null_bool_or_number_say_quote_it() {
    // `reports:` is line 41, column 5, in cheapa's config.yml.
    for (key, kind) in [
        ("null", "null"),
        ("~", "null"),
        ("yes", "a boolean"),
        ("off", "a boolean"),
        ("1.10", "a number"),
    ] {
        rejects(
            |c| c.replacen("    reports:\n", &format!("    {key}:\n"), 1),
            SYNC,
            &[
                "config.yml:41:5",
                &format!("the name `{key}` in config.yml is read by YAML as {kind}"),
                &format!("hint: quote it: \"{key}\":"),
            ],
        );
    }
    // The parser's own words never reach the user.
    let root = common::root_with("cheapa");
    let r = root.path();
    let cfg = r.join("cheapa/config.yml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, text.replacen("  api:\n", "  null:\n", 1)).unwrap();
    let err = fails(&sdtui(r, &["-p", "cheapa", "sync"]));
    assert!(
        err.contains("the name `null`") && !err.contains("deserialize") && !err.contains("Option<"),
        "{err}"
    );
    // Quoted, `yes` is a name like any other.
    std::fs::write(&cfg, text.replacen("    reports:\n", "    \"yes\":\n", 1)).unwrap();
    ok(&sdtui(r, &["-p", "cheapa", "sync"]));
    assert!(ok(&sdtui(r, &["-p", "cheapa", "addons", "list"])).contains("databases.yes"));
}

/// cheapa's config.yml with an `environments:` block appended: the block's
/// key is on line 162, `body`'s first line on 163.
fn with_envs(body: &'static str) -> impl Fn(&str) -> String {
    move |c| {
        assert_eq!(c.lines().count(), 161, "cheapa's config.yml changed length");
        format!("{c}environments:\n{body}")
    }
}

#[test]
fn environment_names_vms_and_files() {
    rejects(
        with_envs("  Dev_1:\n    vm: core\n"),
        SYNC,
        &[
            "config.yml:163:3",
            "environment name \"Dev_1\" is not a DNS label",
            "dev, staging, production",
        ],
    );
    rejects(
        with_envs("  dev:\n    vm: db9\n"),
        SYNC,
        &[
            "config.yml:164:9",
            "environment dev runs on unknown VM \"db9\"",
            "VMs: core, app",
        ],
    );
    rejects(
        with_envs("  dev:\n    vm: core\n    vms: [app]\n"),
        SYNC,
        &[
            "config.yml:164:9",
            "environment dev has both `vm` and `vms`",
        ],
    );
    rejects(
        with_envs("  dev:\n    init:\n      - deploy/nope.yml\n"),
        SYNC,
        &[
            "config.yml:165:9",
            "init file \"deploy/nope.yml\" of environment dev does not exist",
            "relative to the project folder",
        ],
    );
    rejects(
        with_envs("  dev:\n    deployment: deploy/app.yml\n"),
        SYNC,
        &[
            "config.yml:164:17",
            "deployment file \"deploy/app.yml\" of environment dev does not exist",
        ],
    );
    rejects(
        with_envs("  dev:\n    init_timeout: soon\n"),
        SYNC,
        &[
            "config.yml:164:19",
            "init_timeout \"soon\" of environment dev is not a duration",
            "5m",
        ],
    );
    rejects(
        with_envs("  dev:\n    deploy: x\n"),
        SYNC,
        &["config.yml:164:", "unknown field `deploy`"],
    );
    // Commands name an environment that must exist.
    rejects(
        with_envs("  dev: {}\n  staging: {}\n"),
        &["env", "config", "nope"],
        &["no environment \"nope\"", "environments: dev, staging"],
    );
}

#[test]
fn environment_variables_never_shadow_managed_ones() {
    rejects(
        with_envs("  dev:\n    variables:\n      DATABASE_URL: postgres://elsewhere\n"),
        SYNC,
        &[
            "config.yml:165:7",
            "variable DATABASE_URL of environment dev is managed by",
            "rename it",
        ],
    );
    // An attachment variable: cheapa's api attaches databases.analytics as ANALYTICS.
    rejects(
        with_envs("  dev:\n    variables:\n      ANALYTICS_PASSWORD: x\n"),
        SYNC,
        &[
            "config.yml:165:7",
            "ANALYTICS_PASSWORD",
            "managed by addon databases.analytics as ANALYTICS",
        ],
    );
    for fixed in ["SDTUI_ENVIRONMENT", "DB_HOST", "DB_PASSWORD"] {
        let body: &'static str =
            Box::leak(format!("  dev:\n    variables:\n      {fixed}: x\n").into_boxed_str());
        rejects(
            with_envs(body),
            SYNC,
            &["config.yml:165:7", fixed, "managed by sdtui"],
        );
    }
    rejects(
        with_envs("  dev:\n    variables:\n      log-level: x\n"),
        SYNC,
        &[
            "config.yml:165:7",
            "\"log-level\" of environment dev is not an environment variable name",
        ],
    );
}

#[test]
fn environment_addons_override_within_the_rules() {
    rejects(
        with_envs(
            "  dev:\n    addons:\n      databases:\n        primary:\n          type: redis\n",
        ),
        SYNC,
        &[
            "config.yml:167:17",
            "environment dev changes the type of addon databases.primary (postgres in the project, redis here)",
        ],
    );
    rejects(
        with_envs("  dev:\n    addons:\n      databases:\n        extra:\n          plan: small\n"),
        SYNC,
        &[
            "config.yml:166:9",
            "addon databases.extra of environment dev is not one of the project's and has no type",
            "type: NAME",
        ],
    );
    rejects(
        with_envs(
            "  dev:\n    addons:\n      databases:\n        primary:\n          plan: huge\n",
        ),
        SYNC,
        &[
            "config.yml:167:17",
            "unknown plan \"huge\" for addon databases.primary of environment dev",
            "small, standard",
        ],
    );
    rejects(
        with_envs(
            "  dev:\n    addons:\n      databases:\n        primary:\n          options:\n            max_connections: lots\n",
        ),
        SYNC,
        &[
            "config.yml:168:30",
            "max_connections",
            "of environment dev is not valid",
        ],
    );
    // Two environments publishing one pinned port on one VM: both named.
    rejects(
        with_envs(
            "  dev:\n    addons:\n      databases:\n        primary:\n          port: 15432\n  staging:\n    addons:\n      databases:\n        primary:\n          port: 15432\n",
        ),
        SYNC,
        &[
            "config.yml:172:17",
            "environment dev (databases.primary) and environment staging (databases.primary) would both publish port 15432 on VM core",
        ],
    );
}

/// `backup: {every, keep}`: a schedule that does not parse names the field
/// and why, `keep` below 1, a type without a backup section, unknown keys.
#[test]
fn backup_schedules_that_do_not_parse() {
    let on_primary = |backup: &'static str| {
        move |c: &str| {
            c.replacen(
                "      plan: standard\n      vm: core\n",
                &format!("      plan: standard\n      vm: core\n      backup: {backup}\n"),
                1,
            )
        }
    };
    rejects(
        on_primary("{every: \"61 * * * *\", keep: 3}"),
        SYNC,
        &[
            "config.yml:28:",
            "backup.every of addon databases.primary: the minute field \"61\" is not valid (0-59)",
            "every: daily",
        ],
    );
    rejects(
        on_primary("{every: \"0 3 * * mon-sun-x\"}"),
        SYNC,
        &["config.yml:28:", "the day-of-week field"],
    );
    rejects(
        on_primary("{every: \"0 3 * *\"}"),
        SYNC,
        &[
            "config.yml:28:",
            "has 4 fields",
            "minute hour day-of-month month day-of-week",
        ],
    );
    rejects(
        on_primary("{every: daily, keep: 0}"),
        SYNC,
        &[
            "config.yml:28:",
            "backup.keep of addon databases.primary is 0; it must be at least 1",
        ],
    );
    rejects(
        on_primary("{every: daily, kept: 3}"),
        SYNC,
        &["config.yml:28:", "unknown field `kept`"],
    );
    // Elasticsearch has no backup: section in its addon.yml.
    rejects(
        |c| {
            c.replacen(
                "      type: elasticsearch\n",
                "      type: elasticsearch\n      backup: {every: hourly, keep: 2}\n",
                1,
            )
        },
        SYNC,
        &[
            "config.yml:86:23",
            "addon search.products has a backup schedule, but its type elasticsearch has no backup: section",
            "remove `backup:`",
        ],
    );
}

/// An environment's own file, written beside cheapa's config.yml: a bad
/// variable or a Pod of another kind stops `env dry-run` and `env start`
/// at validation, naming file:line:col, and nothing is written or run.
fn rejects_user_file(file: &str, text: &str, expect: &[&str]) {
    let root = common::root_with("cheapa");
    let r = root.path();
    ok(&sdtui(r, &["-p", "cheapa", "sync"]));
    let dir = r.join("cheapa");
    std::fs::create_dir_all(dir.join("deploy")).unwrap();
    std::fs::write(dir.join(file), text).unwrap();
    let cfg = std::fs::read_to_string(dir.join("config.yml")).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        format!("{cfg}environments:\n  dev:\n    deployment: {file}\n"),
    )
    .unwrap();
    let before = snapshot(&dir);
    for args in [
        &["-p", "cheapa", "env", "dry-run", "dev"][..],
        &["-p", "cheapa", "env", "start", "dev"][..],
    ] {
        let err = fails(&sdtui(r, args));
        for e in expect {
            assert!(err.contains(e), "error should mention {e:?}:\n{err}");
        }
        assert!(err.contains("hint: "), "error should carry a hint:\n{err}");
        assert_eq!(snapshot(&dir), before, "nothing may change on bad input");
    }
}

#[test]
fn environment_files_with_an_unresolved_variable_or_another_kind() {
    rejects_user_file(
        "deploy/app.yml",
        "services:\n  web:\n    image: shop/web\n    environment:\n      URL: ${DATABSE_URL}\n",
        &[
            "deploy/app.yml:5:12",
            "variable `DATABSE_URL` is not defined",
            "defined here: DATABASE_URL",
        ],
    );
    rejects_user_file(
        "deploy/pod.yml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n",
        &["deploy/pod.yml:2:7", "kind `Deployment` is not supported"],
    );
}

/// `init --environments` with a name that is not a DNS label (or empty, or
/// twice) names it, hints, and writes nothing: not even the project folder.
#[test]
fn init_environments_with_a_bad_name() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    for (list, expect) in [
        (
            "dev,Stag_ing",
            "environment name \"Stag_ing\" in --environments is not a DNS label",
        ),
        (
            "dev,,staging",
            "the second environment name in --environments is empty",
        ),
        ("dev,staging,dev", "environment dev is named twice"),
        ("", "the first environment name in --environments is empty"),
    ] {
        for dry in [false, true] {
            let mut args = vec!["init", "demo", "--environments", list];
            if dry {
                args.push("--dry-run");
            }
            let err = fails(&sdtui(r, &args));
            assert!(err.contains(expect), "{list}: {err}");
            assert!(err.contains("hint: "), "{list}: {err}");
            assert_eq!(
                std::fs::read_dir(r).unwrap().count(),
                0,
                "{list}: nothing may be written"
            );
        }
    }
}

/// An environment's `env_file:`: a line that is not NAME=value, a bad
/// name, a managed name, or a name also under `variables:` is refused with
/// the file's line:column, and nothing changes.
#[test]
fn environment_env_files_that_do_not_read() {
    let cases: [(&str, &str, &[&str]); 4] = [
        (
            "# dev\nLOG_LEVEL=debug\nnot a line\n",
            "",
            &["dev.env:3:1", "line 3 of", "is not NAME=value"],
        ),
        (
            "log_level=debug\n",
            "",
            &[
                "dev.env:1:1",
                "\"log_level\"",
                "not an environment variable name",
            ],
        ),
        (
            "APP=1\nDATABASE_URL=postgres://elsewhere\n",
            "",
            &[
                "dev.env:2:1",
                "variable DATABASE_URL of environment dev",
                "managed by sdtui",
            ],
        ),
        (
            "LOG_LEVEL=debug\n",
            "    variables:\n      LOG_LEVEL: info\n",
            &[
                "dev.env:1:1",
                "set both in deploy/dev.env and under `variables:`",
            ],
        ),
    ];
    for (env_text, variables, expect) in cases {
        let root = common::root_with("cheapa");
        let r = root.path();
        ok(&sdtui(r, &["-p", "cheapa", "sync"]));
        let dir = r.join("cheapa");
        std::fs::create_dir_all(dir.join("deploy")).unwrap();
        std::fs::write(dir.join("deploy/dev.env"), env_text).unwrap();
        let cfg = std::fs::read_to_string(dir.join("config.yml")).unwrap();
        std::fs::write(
            dir.join("config.yml"),
            format!("{cfg}environments:\n  dev:\n    env_file: deploy/dev.env\n{variables}"),
        )
        .unwrap();
        let before = snapshot(&dir);
        for args in [
            &["-p", "cheapa", "sync"][..],
            &["-p", "cheapa", "env", "dry-run", "dev"][..],
        ] {
            let err = fails(&sdtui(r, args));
            for e in expect {
                assert!(err.contains(e), "error should mention {e:?}:\n{err}");
            }
            assert!(err.contains("hint: "), "error should carry a hint:\n{err}");
            assert_eq!(snapshot(&dir), before, "nothing may change on bad input");
        }
    }
    // A missing env file is named like a missing init file.
    rejects(
        with_envs("  dev:\n    env_file: deploy/none.env\n"),
        SYNC,
        &[
            "config.yml:164:15",
            "variables file \"deploy/none.env\" of environment dev does not exist",
        ],
    );
}

/// A type's `doctor:` section that cannot work is refused when the catalog
/// loads, naming the type, the field and what is wrong; nothing runs.
#[test]
fn a_broken_doctor_section_names_the_type_and_the_field() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    ok(&sdtui(r, &["init", "shop"]));
    let redis = std::fs::read_to_string(common::fixture("../../addons/redis/addon.yml")).unwrap();
    let user = r.join(".no-user-addons/keydb");
    std::fs::create_dir_all(&user).unwrap();
    let keydb = redis
        .replace("name: redis", "name: keydb")
        .replace("redis:{version}", "keydb:{version}");
    for (broken, said) in [
        (
            keydb.replace("refused: \"NOPERM\"", "refused: \"NOPERM(\""),
            "keydb: doctor.write.refused: bad pattern \"NOPERM(\"",
        ),
        (
            keydb.replace("DOCTOR_PORT: \"{PORT}\"", "DOCTOR_PORT: \"{PROT}\""),
            "keydb: doctor.env.DOCTOR_PORT uses {PROT}, which is not one of the attachment's variables (URL, HOST, PORT, PASSWORD, READONLY)",
        ),
    ] {
        std::fs::write(user.join("addon.yml"), broken).unwrap();
        let err = fails(&sdtui(r, &["catalog"]));
        assert!(err.contains(said), "{err}");
        assert!(err.contains("keydb/addon.yml"), "{err}");
    }
}

/// `shell_file_env` (a credential a swarm task's shell reads from its
/// Docker secret file) is refused when nothing could read it that way.
#[test]
fn a_shell_file_env_without_a_shell_names_the_type_and_why() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    ok(&sdtui(r, &["init", "shop"]));
    let redis = std::fs::read_to_string(common::fixture("../../addons/redis/addon.yml")).unwrap();
    let user = r.join(".no-user-addons/keydb");
    std::fs::create_dir_all(&user).unwrap();
    let keydb = redis
        .replace("name: redis", "name: keydb")
        .replace("redis:{version}", "keydb:{version}");
    for (broken, said) in [
        (
            keydb.replace("shell_file_env: [REDIS_PASSWORD]", "shell_file_env: [KEYDB_PASSWORD]"),
            "shell_file_env names KEYDB_PASSWORD, which is not in container_env (REDIS_PASSWORD)",
        ),
        (
            keydb.replace(
                "command: [\"sh\", \"-c\", \"exec redis-server --requirepass \\\"$$REDIS_PASSWORD\\\" {options}\"]",
                "command: [\"redis-server\", \"{options}\"]",
            ),
            "shell_file_env needs a shell command",
        ),
        (
            keydb.replace(
                "test: [\"CMD-SHELL\", \"redis-cli",
                "test: [\"CMD\", \"redis-cli",
            ),
            "shell_file_env needs a CMD-SHELL health check to read REDIS_PASSWORD",
        ),
    ] {
        assert_ne!(broken, keydb, "the fixture's text moved: {said}");
        std::fs::write(user.join("addon.yml"), broken).unwrap();
        let err = fails(&sdtui(r, &["catalog"]));
        assert!(err.contains(said), "{err}");
        assert!(err.contains("keydb/addon.yml"), "{err}");
    }
}

#[test]
fn followers_that_cannot_be() {
    // Not postgres: refused, naming the postgres instances.
    rejects(
        |c| c.to_string(),
        &["pg", "follow", "caches.session", "--name", "copy"],
        &[
            "caches.session is redis: only postgres instances can be followed",
            "postgres instances: databases.primary, databases.analytics",
        ],
    );
    // Across major versions (written in config.yml): at the line, pointing
    // at `pg upgrade`.
    rejects(
        |c| {
            c.replacen(
                "      version: \"14\"  # Different version!\n      plan: small\n",
                "      version: \"14\"  # Different version!\n      plan: small\n      follows: databases.primary\n",
                1,
            )
        },
        SYNC,
        &[
            "config.yml:45:16",
            "addon databases.reports is postgres 14 but follows databases.primary (postgres 15)",
            "cannot cross major versions",
            "sdtui pg upgrade",
        ],
    );
    // An unknown leader; a follower of a follower; a redis following.
    rejects(
        |c| {
            c.replacen(
                "    primary:\n      type: postgres\n",
                "    primary:\n      type: postgres\n      follows: databases.nope\n",
                1,
            )
        },
        SYNC,
        &[
            "databases.primary follows unknown addon \"databases.nope\"",
            "postgres instances the project has",
        ],
    );
    rejects(
        |c| {
            c.replacen(
                "    primary:\n      type: postgres\n",
                "    primary:\n      type: postgres\n      follows: databases.analytics\n",
                1,
            )
            .replacen(
                "      plan: large\n      vm: core\n",
                "      plan: large\n      vm: core\n      follows: databases.primary\n",
                1,
            )
        },
        SYNC,
        &["follows databases.analytics, which is itself a follower"],
    );
    rejects(
        |c| {
            c.replacen(
                "      plan: small\n      vm: app\n",
                "      plan: small\n      vm: app\n      follows: databases.primary\n",
                1,
            )
        },
        SYNC,
        &["addon caches.session is redis, which cannot follow another instance"],
    );
    // A standby with fewer connections than its leader would not start.
    rejects(
        |c| c.to_string(),
        &[
            "pg",
            "follow",
            "databases.analytics",
            "--name",
            "tiny",
            "--plan",
            "small",
        ],
        &[
            "databases.tiny allows 50 connections but its leader databases.analytics allows 200",
            "max_connections",
        ],
    );
    // A leader with followers cannot be removed.
    rejects(
        |c| {
            c.replacen(
                "      plan: large\n      vm: core\n",
                "      plan: large\n      vm: core\n      follows: databases.primary\n",
                1,
            )
        },
        &["addons", "remove", "databases.primary"],
        &[
            "addon databases.primary has followers: databases.analytics",
            "sdtui pg unfollow databases.analytics",
        ],
    );
    // Unfollow something that follows nothing.
    rejects(
        |c| c.to_string(),
        &["pg", "unfollow", "databases.primary"],
        &[
            "addon databases.primary is not a follower",
            "sdtui pg follow databases.primary --name NAME",
        ],
    );
    rejects(
        |c| c.to_string(),
        &["pg", "follow", "databases.nope", "--name", "copy"],
        &["databases.nope"],
    );
}

#[test]
fn instance_states_promote_and_upgrade_refusals() {
    // `state:` must be one of three, at its line.
    rejects(
        |c| {
            c.replacen(
                "    primary:\n      type: postgres\n",
                "    primary:\n      type: postgres\n      state: paused\n",
                1,
            )
        },
        SYNC,
        &[
            "config.yml:",
            "state \"paused\" of addon databases.primary is not valid",
            "read_only",
        ],
    );
    // Only postgres can be made read-only.
    rejects(
        |c| {
            c.replacen(
                "    session:\n      type: redis\n",
                "    session:\n      type: redis\n      state: read_only\n",
                1,
            )
        },
        SYNC,
        &["caches.session is redis, which sdtui cannot make read-only"],
    );
    // An app attached to a stopped instance.
    rejects(
        |c| {
            c.replacen(
                "    primary:\n      type: postgres\n",
                "    primary:\n      type: postgres\n      state: stopped\n",
                1,
            )
        },
        SYNC,
        &["is attached to databases.primary, which is `state: stopped`"],
    );
    // Promote something that follows nothing; upgrade what is not postgres,
    // to an older major, or with followers.
    rejects(
        |c| c.to_string(),
        &["pg", "promote", "databases.primary"],
        &["addon databases.primary is not a follower"],
    );
    rejects(
        |c| c.to_string(),
        &["pg", "upgrade", "caches.session", "--dry-run"],
        &["caches.session is redis: only postgres instances are upgraded this way"],
    );
    rejects(
        |c| c.to_string(),
        &[
            "pg",
            "upgrade",
            "databases.primary",
            "--version",
            "14",
            "--dry-run",
        ],
        &[
            "databases.primary is postgres 15: 14 is not a newer major version",
            "newer versions",
        ],
    );
    rejects(
        |c| {
            c.replacen(
                "      plan: large\n      vm: core\n",
                "      plan: large\n      vm: core\n      follows: databases.primary\n",
                1,
            )
        },
        &["pg", "upgrade", "databases.primary", "--dry-run"],
        &[
            "databases.primary has followers (databases.analytics)",
            "sdtui pg unfollow databases.analytics",
        ],
    );
    rejects(
        |c| c.to_string(),
        &["pg", "upgrade", "databases.primary", "--abort"],
        &["no upgrade of databases.primary is in progress"],
    );
}
