//! The headless commands end to end on the real binary: edits keep the
//! user's file, dry runs write nothing, secrets and ports stay put, every
//! applied operation lands in the audit trail.

mod common;

use common::{changed_lines, fails, ok, sdtui, snapshot};

fn config(root: &std::path::Path) -> String {
    std::fs::read_to_string(root.join("cheapa/config.yml")).unwrap()
}

fn secrets(root: &std::path::Path) -> std::path::PathBuf {
    root.join("cheapa/secrets.yml")
}

fn secret_value(secrets: &std::path::Path, instance: &str, key: &str) -> String {
    common::secret(secrets, instance, key)
}

#[test]
fn attach_edits_only_its_lines_and_updates_the_env_file() {
    let root = common::root_with("cheapa");
    let r = root.path();
    ok(&sdtui(r, &["-p", "cheapa", "sync"]));
    let before = config(r);
    let out = ok(&sdtui(
        r,
        &[
            "-p",
            "cheapa",
            "addons",
            "attach",
            "databases.analytics",
            "--app",
            "services",
            "--as",
            "ANALYTICS",
            "--access",
            "readonly",
        ],
    ));
    assert!(
        out.contains("+      - addon: databases.analytics"),
        "diff shows the edit:\n{out}"
    );
    assert!(
        !out.contains(&secret_value(&secrets(r), "analytics", "READONLY_PASSWORD")),
        "diff leaks a secret"
    );
    let after = config(r);
    let (removed, added) = changed_lines(&before, &after);
    assert!(removed.is_empty(), "removed {removed:?}");
    assert_eq!(
        added,
        [
            "      - addon: databases.analytics",
            "        as: ANALYTICS",
            "        access: readonly"
        ]
    );
    // Comments and layout elsewhere untouched.
    assert!(after.contains("      version: \"14\"  # Different version!\n"));
    assert!(after.contains("        access: readonly          # Storefront only reads\n"));
    let env = common::read_env(&r.join("cheapa/compose/app/env/services.env"));
    assert!(
        env.contains("\nANALYTICS_USER=cheapa_analytics_readonly\n"),
        "{env}"
    );
    assert!(env.contains("\nANALYTICS_READONLY=true\n"));
    assert!(env.contains(&format!(
        "\nANALYTICS_PASSWORD={}\n",
        secret_value(&secrets(r), "analytics", "READONLY_PASSWORD")
    )));

    // Detach puts the file back exactly as it was.
    ok(&sdtui(
        r,
        &[
            "-p",
            "cheapa",
            "addons",
            "detach",
            "databases.analytics",
            "--app",
            "services",
        ],
    ));
    assert_eq!(config(r), before);
    let env = common::read_env(&r.join("cheapa/compose/app/env/services.env"));
    assert!(!env.contains("ANALYTICS_"));
}

#[test]
fn upgrade_add_and_remove_keep_comments_and_touch_only_edited_lines() {
    let root = common::root_with("cheapa");
    let r = root.path();
    ok(&sdtui(r, &["-p", "cheapa", "sync"]));
    let before = config(r);
    ok(&sdtui(
        r,
        &[
            "-p",
            "cheapa",
            "addons",
            "upgrade",
            "databases.reports",
            "--plan",
            "large",
            "--version",
            "15",
        ],
    ));
    let after = config(r);
    let (removed, added) = changed_lines(&before, &after);
    assert_eq!(
        removed,
        [
            "      version: \"14\"  # Different version!",
            "      plan: small"
        ]
    );
    assert_eq!(added.len(), 2, "{added:?}");
    assert!(
        added[0].starts_with("      version: ")
            && added[0].contains("15")
            && added[0].ends_with("# Different version!"),
        "{added:?}"
    );
    assert_eq!(added[1], "      plan: large");
    let compose =
        std::fs::read_to_string(r.join("cheapa/compose/core/docker-compose.yml")).unwrap();
    assert!(
        compose.contains("com.superdeploy.plan: large") && compose.contains("max_connections=200")
    );

    let before = config(r);
    ok(&sdtui(
        r,
        &[
            "-p",
            "cheapa",
            "addons",
            "add",
            "postgres",
            "billing",
            "--plan",
            "small",
            "--vm",
            "core",
            "--option",
            "max_connections=30",
        ],
    ));
    let after = config(r);
    let (removed, added) = changed_lines(&before, &after);
    assert!(removed.is_empty(), "{removed:?}");
    assert!(added.iter().any(|l| l.trim() == "billing:"), "{added:?}");
    assert!(
        added.iter().any(|l| l
            .trim()
            .trim_end_matches(['\'', '"'])
            .ends_with("max_connections: 30")
            || l.trim() == "max_connections: '30'"),
        "{added:?}"
    );
    let info = ok(&sdtui(
        r,
        &[
            "-p",
            "cheapa",
            "addons",
            "info",
            "databases.billing",
            "--json",
        ],
    ));
    let info: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert_eq!(info["credentials"]["PORT"], "5435");
    assert!(
        info["credentials"]["PASSWORD"]
            .as_str()
            .unwrap()
            .contains("secret #"),
        "masked: {info}"
    );

    let out = ok(&sdtui(
        r,
        &["-p", "cheapa", "addons", "remove", "databases.billing"],
    ));
    assert!(out.contains("addons remove databases.billing: "), "{out}");
    assert_eq!(config(r), before, "remove undoes add");
}

#[test]
fn passwords_and_ports_stay_put_as_instances_come_and_go() {
    let root = common::root_with("cheapa");
    let r = root.path();
    ok(&sdtui(r, &["-p", "cheapa", "sync"]));
    let pw = secret_value(&secrets(r), "reports", "PASSWORD");
    assert_eq!(secret_value(&secrets(r), "reports", "PORT"), "5434");
    ok(&sdtui(
        r,
        &[
            "-p", "cheapa", "addons", "add", "postgres", "extra", "--vm", "core",
        ],
    ));
    assert_eq!(secret_value(&secrets(r), "extra", "PORT"), "5435");
    // Free analytics (5433) by detaching and removing it.
    ok(&sdtui(
        r,
        &[
            "-p",
            "cheapa",
            "addons",
            "detach",
            "databases.analytics",
            "--app",
            "api",
        ],
    ));
    ok(&sdtui(
        r,
        &["-p", "cheapa", "addons", "remove", "databases.analytics"],
    ));
    assert_eq!(secret_value(&secrets(r), "reports", "PORT"), "5434");
    assert_eq!(secret_value(&secrets(r), "extra", "PORT"), "5435");
    assert_eq!(secret_value(&secrets(r), "reports", "PASSWORD"), pw);
    // The freed port goes to the next newcomer.
    ok(&sdtui(
        r,
        &[
            "-p", "cheapa", "addons", "add", "postgres", "late", "--vm", "core",
        ],
    ));
    assert_eq!(secret_value(&secrets(r), "late", "PORT"), "5433");
    for _ in 0..3 {
        ok(&sdtui(r, &["-p", "cheapa", "sync"]));
    }
    assert_eq!(secret_value(&secrets(r), "reports", "PASSWORD"), pw);
}

#[test]
fn user_sections_of_secrets_survive_and_reach_the_apps() {
    let root = common::root_with("cheapa");
    let r = root.path();
    ok(&sdtui(r, &["-p", "cheapa", "sync"]));
    let mut s = std::fs::read_to_string(secrets(r)).unwrap();
    s.push_str("# my notes\napi:\n  API_SECRET_KEY: api-secret-xyz  # rotate yearly\n");
    s = s.replace("shared: {}", "shared:\n  DOCKER_TOKEN: dckr-pat-123");
    std::fs::write(r.join("cheapa/secrets.yml"), &s).unwrap();
    let out = ok(&sdtui(r, &["-p", "cheapa", "sync"]));
    assert!(
        !out.contains("dckr-pat-123") && !out.contains("api-secret-xyz"),
        "diff must mask user secrets:\n{out}"
    );
    ok(&sdtui(
        r,
        &[
            "-p",
            "cheapa",
            "addons",
            "upgrade",
            "caches.session",
            "--plan",
            "large",
        ],
    ));
    let text = std::fs::read_to_string(secrets(r)).unwrap();
    assert!(
        text.ends_with("# my notes\napi:\n  API_SECRET_KEY: api-secret-xyz  # rotate yearly\n")
    );
    assert!(text.contains("shared:\n  DOCKER_TOKEN: dckr-pat-123\n"));
    let env = common::read_env(&r.join("cheapa/compose/app/env/api.env"));
    assert!(
        env.contains("\nAPI_SECRET_KEY=api-secret-xyz\n")
            && env.contains("\nDOCKER_TOKEN=dckr-pat-123\n")
    );
    let shown = ok(&sdtui(r, &["-p", "cheapa", "config", "api"]));
    assert!(
        !shown.contains("api-secret-xyz")
            && !shown.contains(&secret_value(&secrets(r), "primary", "PASSWORD"))
    );
    let revealed = ok(&sdtui(r, &["-p", "cheapa", "config", "api", "--reveal"]));
    assert!(revealed.contains("API_SECRET_KEY=api-secret-xyz"));
    assert!(revealed.contains(&format!(
        "DATABASE_PASSWORD={}",
        secret_value(&secrets(r), "primary", "PASSWORD")
    )));
}

#[test]
fn dry_run_writes_nothing_and_history_records_applied_operations() {
    let root = common::root_with("cheapa");
    let r = root.path();
    ok(&sdtui(r, &["-p", "cheapa", "sync"]));
    let before = snapshot(&r.join("cheapa"));
    let out = ok(&sdtui(
        r,
        &[
            "-p",
            "cheapa",
            "addons",
            "add",
            "redis",
            "jobs",
            "--vm",
            "app",
            "--dry-run",
        ],
    ));
    assert!(
        out.contains("dry run") && out.contains("+    jobs:"),
        "{out}"
    );
    assert_eq!(snapshot(&r.join("cheapa")), before);
    ok(&sdtui(
        r,
        &[
            "-p", "cheapa", "addons", "add", "redis", "jobs", "--vm", "app",
        ],
    ));
    let hist: serde_json::Value =
        serde_json::from_str(&ok(&sdtui(r, &["-p", "cheapa", "history", "--json"]))).unwrap();
    let ops: Vec<&str> = hist
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["operation"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["sync", "addons add redis jobs --vm app"]);
    let host = String::from_utf8(
        std::process::Command::new("hostname")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(hist[1]["user"], format!("tester@{}", host.trim()));
    // With no $USER (cron, CI, a root shell): the system's account name.
    let account = String::from_utf8(
        std::process::Command::new("id")
            .arg("-un")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sdtui"))
        .args([
            "-p", "cheapa", "addons", "add", "redis", "nouser", "--vm", "app",
        ])
        .env("SDTUI_ROOT", r)
        .env("SDTUI_ADDONS", r.join(".no-user-addons"))
        .env_remove("SDTUI_USER")
        .env_remove("USER")
        .env_remove("LOGNAME")
        .env("SUDO_USER", "alice")
        .output()
        .unwrap();
    ok(&out);
    let hist: serde_json::Value =
        serde_json::from_str(&ok(&sdtui(r, &["-p", "cheapa", "history", "--json"]))).unwrap();
    let last = hist.as_array().unwrap().last().unwrap();
    assert_eq!(
        last["user"],
        format!("{} (sudo by alice)@{}", account.trim(), host.trim()),
        "{last}"
    );
    assert_eq!(hist[1]["outcome"], "applied");
    let audit = std::fs::read_to_string(r.join("cheapa/.sdtui/audit.jsonl")).unwrap();
    assert!(!audit.contains(&secret_value(&secrets(r), "jobs", "PASSWORD")));
}

#[test]
fn listings_take_json() {
    let root = common::root_with("cheapa");
    let r = root.path();
    ok(&sdtui(r, &["-p", "cheapa", "sync"]));
    let list: serde_json::Value = serde_json::from_str(&ok(&sdtui(
        r,
        &["-p", "cheapa", "addons", "list", "--json"],
    )))
    .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 9);
    assert_eq!(list[1]["id"], "databases.analytics");
    assert_eq!(list[1]["port"], 5433);
    let atts: serde_json::Value = serde_json::from_str(&ok(&sdtui(
        r,
        &["-p", "cheapa", "addons", "attachments", "--json"],
    )))
    .unwrap();
    assert_eq!(atts.as_array().unwrap().len(), 11);
    let cat: serde_json::Value =
        serde_json::from_str(&ok(&sdtui(r, &["catalog", "--json"]))).unwrap();
    let types: Vec<&str> = cat
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "caddy",
            "elasticsearch",
            "mariadb",
            "memcached",
            "mongodb",
            "postgres",
            "rabbitmq",
            "redis"
        ]
    );
    for t in cat.as_array().unwrap() {
        let plans: Vec<&str> = t["plans"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            plans,
            ["small", "standard", "large", "xlarge"],
            "{}",
            t["type"]
        );
    }
    let table = ok(&sdtui(r, &["-p", "cheapa", "addons", "list"]));
    assert!(
        table.contains("databases.primary") && table.contains("api::DATABASE"),
        "{table}"
    );
}

#[test]
fn init_makes_a_working_project_and_user_types_extend_the_catalog() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    ok(&sdtui(r, &["init", "shop"]));
    let cfg = std::fs::read_to_string(r.join("shop/config.yml")).unwrap();
    assert!(cfg.contains("  local:\n    host: local\n") && cfg.contains("# Named addon instances"));
    ok(&sdtui(r, &["addons", "add", "postgres", "main"]));
    let cfg2 = std::fs::read_to_string(r.join("shop/config.yml")).unwrap();
    assert!(
        cfg2.contains("# Machines. `local` is the local Docker engine"),
        "comments kept:\n{cfg2}"
    );
    let compose = std::fs::read_to_string(r.join("shop/compose/local/docker-compose.yml")).unwrap();
    assert!(
        compose.contains("\n      - 127.0.0.1:5432:5432\n"),
        "{compose}"
    );
    fails(&sdtui(r, &["init", "shop"]));

    // A user folder adds a type without recompiling.
    let user = r.join(".no-user-addons/valkey");
    std::fs::create_dir_all(&user).unwrap();
    let redis = std::fs::read_to_string(common::fixture("../../addons/redis/addon.yml")).unwrap();
    std::fs::write(
        user.join("addon.yml"),
        redis
            .replace("name: redis", "name: valkey")
            .replace("redis:{version}", "valkey/valkey:{version}"),
    )
    .unwrap();
    let cat = ok(&sdtui(r, &["catalog"]));
    assert!(cat.contains("valkey"), "{cat}");
    ok(&sdtui(r, &["addons", "add", "valkey", "fast"]));
    let compose = std::fs::read_to_string(r.join("shop/compose/local/docker-compose.yml")).unwrap();
    assert!(compose.contains("image: valkey/valkey:7\n"), "{compose}");
}

/// One rule, from the catalog, decides what is secret: a credential marked
/// `secret: true` (a generated one unless `secret: false`) and every value
/// rendered from it are masked in `info`, an app's env and the plan's diff;
/// anything else shows.
#[test]
fn the_catalog_alone_decides_what_is_secret() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    ok(&sdtui(r, &["init", "shop"]));
    let user = r.join(".no-user-addons/tokensvc");
    std::fs::create_dir_all(&user).unwrap();
    let memcached =
        std::fs::read_to_string(common::fixture("../../addons/memcached/addon.yml")).unwrap();
    let env_at = memcached.find("env:\n").unwrap();
    std::fs::write(
        user.join("addon.yml"),
        format!(
            "{}credentials:\n  TOKEN: {{value: \"hand-set-token-4711\", secret: true}}\n  LABEL: {{value: \"plain-label-0815\"}}\n  NONCE: {{generate: 20, secret: false}}\n  KEY: {{generate: 24}}\nenv:\n  - {{name: URL, value: \"svc://{{TOKEN}}@{{HOST}}:{{PORT}}\"}}\n  - {{name: LABEL, value: \"{{LABEL}}\"}}\n  - {{name: NONCE, value: \"{{NONCE}}\"}}\n  - {{name: KEY, value: \"{{KEY}}\"}}\n",
            memcached[..env_at]
                .replace("name: memcached", "name: tokensvc")
                .replace("category: caches", "category: services")
        ),
    )
    .unwrap();
    ok(&sdtui(
        r,
        &["-p", "shop", "addons", "add", "tokensvc", "api"],
    ));
    let info = ok(&sdtui(r, &["-p", "shop", "addons", "info", "services.api"]));
    assert!(!info.contains("hand-set-token-4711"), "{info}");
    assert!(info.contains("plain-label-0815"), "{info}");
    let secrets = std::fs::read_to_string(r.join("shop/secrets.yml")).unwrap();
    let value = |k: &str| {
        secrets
            .lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{k}: ")))
            .unwrap()
            .trim_matches(|c| c == '\'' || c == '"')
            .to_string()
    };
    let (nonce, key) = (value("NONCE"), value("KEY"));
    assert!(info.contains(&nonce), "secret: false shows: {info}");
    assert!(
        !info.contains(&key),
        "generated is secret by default: {info}"
    );

    let cfg = r.join("shop/config.yml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        text.replace(
            "apps: {}",
            "apps:\n  web:\n    image: sdtui-testapp\n    addons:\n      - services.api\n",
        ),
    )
    .unwrap();
    let plan = ok(&sdtui(r, &["-p", "shop", "sync", "--dry-run"]));
    let env = ok(&sdtui(r, &["-p", "shop", "config", "web"]));
    for shown in [&plan, &env] {
        assert!(!shown.contains("hand-set-token-4711"), "{shown}");
        assert!(!shown.contains(&key), "{shown}");
        assert!(shown.contains("plain-label-0815"), "{shown}");
        assert!(shown.contains(&nonce), "{shown}");
    }
    let revealed = ok(&sdtui(r, &["-p", "shop", "config", "web", "--reveal"]));
    assert!(
        revealed.contains("SERVICE_URL=svc://hand-set-token-4711@"),
        "{revealed}"
    );
}

#[test]
fn rename_keeps_data_credentials_port_and_prefixes() {
    let root = common::root_with("cheapa");
    let r = root.path();
    ok(&sdtui(r, &["-p", "cheapa", "sync"]));
    let pw = secret_value(&secrets(r), "analytics", "PASSWORD");
    // api has it readonly: the readonly role's password.
    let ro_pw = secret_value(&secrets(r), "analytics", "READONLY_PASSWORD");
    let api_env = || common::read_env(&r.join("cheapa/compose/app/env/api.env"));
    assert!(api_env().contains(&format!("\nANALYTICS_PASSWORD={ro_pw}\n")));

    // The plan first: a diff, nothing written.
    let before = snapshot(&r.join("cheapa"));
    let dry = ok(&sdtui(
        r,
        &[
            "-p",
            "cheapa",
            "addons",
            "rename",
            "databases.analytics",
            "warehouse",
            "--dry-run",
        ],
    ));
    assert!(
        dry.contains("-    analytics:\n+    warehouse:")
            && dry.contains("+      - addon: databases.warehouse"),
        "{dry}"
    );
    assert!(
        dry.contains(
            "databases.warehouse keeps databases.analytics's data (postgres-analytics-* volumes)"
        ),
        "{dry}"
    );
    assert!(!dry.contains(&pw), "the plan leaks a password");
    assert_eq!(snapshot(&r.join("cheapa")), before);

    ok(&sdtui(
        r,
        &[
            "-p",
            "cheapa",
            "addons",
            "rename",
            "databases.analytics",
            "warehouse",
        ],
    ));
    let cfg = config(r);
    assert!(
        cfg.contains(
            "    warehouse:\n      type: postgres\n      version: \"15\"\n      plan: large\n"
        ) && !cfg.contains("databases.analytics"),
        "{cfg}"
    );
    // Same credentials and port under the new name; the volumes recorded.
    let s = secrets(r);
    assert_eq!(secret_value(&s, "warehouse", "PASSWORD"), pw);
    assert_eq!(secret_value(&s, "warehouse", "READONLY_PASSWORD"), ro_pw);
    assert_eq!(secret_value(&s, "warehouse", "PORT"), "5433");
    assert_eq!(
        secret_value(&s, "warehouse", "VOLUMES"),
        "postgres-analytics"
    );
    let compose =
        || std::fs::read_to_string(r.join("cheapa/compose/core/docker-compose.yml")).unwrap();
    let c = compose();
    assert!(
        c.contains("  postgres-warehouse:\n")
            && c.contains("- postgres-analytics-data:/var/lib/postgresql/data\n")
            && c.contains("- 127.0.2.3:5433:5432\n")
            && !c.contains("postgres-warehouse-data"),
        "{c}"
    );
    // The app keeps its prefix and the password.
    let env = api_env();
    assert!(
        env.contains(&format!("\nANALYTICS_PASSWORD={ro_pw}\n"))
            && env.contains("\nANALYTICS_PORT=5433\n"),
        "{env}"
    );
    assert!(ok(&sdtui(r, &["-p", "cheapa", "sync"])).contains("nothing to change"));

    // A new instance under the old name gets volumes of its own.
    ok(&sdtui(
        r,
        &[
            "-p",
            "cheapa",
            "addons",
            "add",
            "postgres",
            "--name",
            "analytics",
            "--vm",
            "core",
        ],
    ));
    let c = compose();
    assert!(
        c.contains("- postgres-analytics_2-data:/var/lib/postgresql/data\n"),
        "{c}"
    );
    assert_eq!(
        secret_value(&secrets(r), "warehouse", "VOLUMES"),
        "postgres-analytics"
    );

    // Taken names and non-labels are refused, naming the choices.
    let err = fails(&sdtui(
        r,
        &[
            "-p",
            "cheapa",
            "addons",
            "rename",
            "databases.warehouse",
            "primary",
        ],
    ));
    assert!(
        err.contains("addon databases.primary already exists") && err.contains("addons: "),
        "{err}"
    );
    let err = fails(&sdtui(
        r,
        &[
            "-p",
            "cheapa",
            "addons",
            "rename",
            "databases.warehouse",
            "Big_DB",
        ],
    ));
    assert!(
        err.contains("\"Big_DB\"") && err.contains("DNS label"),
        "{err}"
    );

    let hist = ok(&sdtui(r, &["-p", "cheapa", "history"]));
    assert!(
        hist.contains("addons rename databases.analytics warehouse"),
        "{hist}"
    );
}

#[test]
fn add_takes_the_name_as_a_flag_and_every_flag_has_help() {
    let root = common::root_with("cheapa");
    let r = root.path();
    ok(&sdtui(
        r,
        &[
            "-p", "cheapa", "addons", "add", "postgres", "--name", "extra", "--plan", "large",
            "--vm", "core",
        ],
    ));
    assert!(
        config(r).contains("    extra:\n      type: postgres\n"),
        "{}",
        config(r)
    );
    let err = fails(&sdtui(
        r,
        &[
            "-p", "cheapa", "addons", "add", "postgres", "one", "--name", "two", "--vm", "core",
        ],
    ));
    assert!(err.contains("--name"), "{err}");
    let err = fails(&sdtui(r, &["-p", "cheapa", "addons", "add", "postgres"]));
    assert!(err.contains("--name"), "{err}");

    // Every option and argument of every command says what it is for.
    let help = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sdtui"))
            .args(args)
            .arg("--help")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let top = help(&[]);
    let mut commands: Vec<Vec<String>> = Vec::new();
    let subcommands = |text: &str| -> Vec<String> {
        text.split("Commands:")
            .nth(1)
            .map(|s| s.split("\n\n").next().unwrap_or(""))
            .unwrap_or("")
            .lines()
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .filter(|c| c != "help")
            .collect()
    };
    for c in subcommands(&top) {
        let text = help(&[&c]);
        let subs = subcommands(&text);
        if subs.is_empty() {
            commands.push(vec![c]);
        } else {
            commands.extend(subs.into_iter().map(|s| vec![c.clone(), s]));
        }
    }
    assert!(commands.len() > 20, "{commands:?}");
    for cmd in commands {
        let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
        let text = help(&args);
        for section in ["Arguments:", "Options:"] {
            let Some(body) = text.split(section).nth(1) else {
                continue;
            };
            let body = body.split("\n\n").next().unwrap_or("");
            for line in body
                .lines()
                .filter(|l| l.trim_start().starts_with(['-', '<', '[']))
            {
                let trimmed = line.trim();
                // `  --plan <PLAN>  Resource plan ...`: a name, then two spaces and words.
                assert!(
                    trimmed.contains("  "),
                    "`sdtui {}`: {trimmed:?} has no help line",
                    cmd.join(" ")
                );
            }
        }
    }
}
