//! The variables an environment's own files (`init:`, `deployment:`) see:
//! `SDTUI_ENVIRONMENT`, every instance's attachment variables under its
//! category's default prefix (`DATABASE_URL`, `CACHE_URL` ...) as the
//! catalog's env template renders them for an app, the seed's `DB_*` set
//! for the default database, and the environment's `variables:`. Secret-ness
//! is the catalog's one rule (the same as apps' env files).
//!
//! Where the addons are reached from: the user's containers run on the
//! environment's first VM and join the addons' compose network there (see
//! files.rs), so an instance on that VM is its compose service name and
//! container port — a port published on a 127.x address is unreachable
//! from a container. An instance on another VM is its private address and
//! published port, as for an app.

use std::collections::BTreeMap;

use indexmap::IndexMap;

use crate::catalog::Catalog;
use crate::config::{Access, App, Environment};
use crate::engine::generate::attachment_env;
use crate::engine::{Loaded, Project, Workspace};
use crate::env::substitute::{Variable, Variables};
use crate::error::{Result, UserError};

/// An environment with what its files need: the scoped project, its
/// effective config, the loaded state and its variables.
pub struct Resolved {
    pub scoped: Project,
    pub environment: Environment,
    pub loaded: Loaded,
    pub variables: Variables,
    /// The VM its init and deployment run on.
    pub vm: String,
}

/// Every variable of environment `env`, from one reading of config.yml and
/// its secrets.yml (a sync's values when secrets.yml lacks some yet).
pub fn resolve(ws: &Workspace, project: &Project, env: &str) -> Result<Resolved> {
    let scoped = ws.environment(project, env)?;
    let config = crate::config::load(&project.config_path(), &ws.catalog)?;
    let environment = config.environments[env].clone();
    let loaded = ws.load(&scoped)?;
    let vm = environment.vms.first().cloned().ok_or_else(|| {
        UserError::new(format!("environment {env} runs on no VM"))
            .hint("name one under `environments.<env>.vm` or declare `vms:`")
    })?;
    let variables = variables_of(&environment, &loaded, &ws.catalog, &vm)?;
    Ok(Resolved {
        scoped,
        environment,
        loaded,
        variables,
        vm,
    })
}

fn variables_of(
    environment: &Environment,
    loaded: &Loaded,
    catalog: &Catalog,
    vm: &str,
) -> Result<Variables> {
    let mut out = Variables::new();
    let mut put = |name: String, value: String, secret: bool| {
        out.insert(name, Variable { value, secret });
    };
    put("SDTUI_ENVIRONMENT".into(), environment.name.clone(), false);
    // The deployment as an app on `vm`, attached to every instance.
    let app = App {
        name: format!("{}-deployment", environment.name),
        image: String::new(),
        tag: String::new(),
        vm: vm.to_string(),
        port: None,
        domain: None,
        after_deploy: vec![],
        env: IndexMap::new(),
        attachments: vec![],
    };
    let mut default_database: Option<BTreeMap<String, (String, bool)>> = None;
    let mut taken: std::collections::BTreeSet<String> = Default::default();
    for addon in &environment.addons {
        let t = catalog.require(&addon.type_name)?;
        let creds = loaded
            .generated
            .secrets
            .get(&addon.type_name)
            .and_then(|m| m.get(&addon.name))
            .cloned()
            .unwrap_or_default();
        // Two instances of one category: the first keeps the prefix, the
        // next is `<PREFIX>_<NAME>` (never a silent overwrite).
        let mut prefix = Catalog::default_prefix(&addon.category);
        if !taken.insert(prefix.clone()) {
            prefix = format!(
                "{prefix}_{}",
                crate::engine::generate::ident(&addon.name).to_ascii_uppercase()
            );
            taken.insert(prefix.clone());
        }
        let vars = attachment_env(
            &loaded.config,
            t,
            addon,
            &creds,
            &app,
            &prefix,
            Access::Readwrite,
        )?;
        if addon.category == "databases" && default_database.is_none() {
            default_database = Some(
                vars.iter()
                    .map(|(k, v, s)| {
                        let short = k.strip_prefix(&format!("{prefix}_")).unwrap_or(k);
                        (short.to_string(), (v.clone(), *s))
                    })
                    .collect(),
            );
        }
        for (k, v, s) in vars {
            put(k, v, s);
        }
    }
    if let Some(db) = default_database {
        for (seed, ours) in [
            ("DB_HOST", "HOST"),
            ("DB_PORT", "PORT"),
            ("DB_NAME", "NAME"),
            ("DB_USER", "USER"),
            ("DB_PASSWORD", "PASSWORD"),
        ] {
            let found = db.get(ours).or_else(|| match ours {
                "NAME" => db.get("DATABASE"),
                _ => None,
            });
            if let Some((v, s)) = found {
                put(seed.into(), v.clone(), *s || seed == "DB_PASSWORD");
            }
        }
    }
    for (k, v) in &environment.variables {
        // config.yml's checker refuses a managed name; plain values.
        out.entry(k.clone()).or_insert(Variable {
            value: v.clone(),
            secret: false,
        });
    }
    Ok(out)
}
