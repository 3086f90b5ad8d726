//! What each operation does to config.yml: the edited text, made with
//! yaml-edit so comments, order and blank lines survive. The plan then
//! regenerates everything else from it (mod.rs).

use super::*;

impl Workspace {
    pub(super) fn edit(&self, project: &Project, text: &str, op: &Operation) -> Result<String> {
        let config = config::parse(&project.config_path(), text, &self.catalog)?;
        let cat = &self.catalog;
        match op {
            Operation::Init { .. } | Operation::Migrate | Operation::Rename { .. } => {
                unreachable!()
            }
            Operation::Sync => Ok(text.to_string()),
            Operation::SetCredential { id, .. } => require_addon(&config, id).map(|_| text.into()),
            Operation::SetTag { app, tag } => {
                require_app(&config, app)?;
                if tag.is_empty()
                    || !tag
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
                    || tag.len() > 128
                {
                    return Err(UserError::new(format!("\"{tag}\" is not an image tag"))
                        .hint("tags are letters, digits, '.', '_' and '-', at most 128"));
                }
                edit::set_app_field(text, app, "tag", tag)
            }
            Operation::Add {
                type_name,
                name,
                category,
                plan,
                version,
                vm,
                options,
                with_deps,
            } => {
                let t = cat.require(type_name)?;
                if !config::is_dns_label(name) {
                    return Err(UserError::new(format!(
                        "addon name \"{name}\" is not a DNS label"
                    ))
                    .hint(config::DNS_LABEL_HINT));
                }
                let category = category.clone().unwrap_or_else(|| t.category.clone());
                let id = format!("{category}.{name}");
                if config.addon(&id).is_some() {
                    return Err(UserError::new(format!("addon {id} already exists"))
                        .hint("pick another name, or change it with `addons upgrade`"));
                }
                if let Some(p) = plan
                    && !t.plans.contains_key(p)
                {
                    return Err(
                        UserError::new(format!("unknown plan \"{p}\" for {}", t.name)).hint(
                            config::hint_choices(&format!("{} plans", t.name), t.plans.keys()),
                        ),
                    );
                }
                if let Some(v) = vm
                    && !config.vms.contains_key(v)
                {
                    return Err(UserError::new(format!("unknown VM \"{v}\""))
                        .hint(config::hint_choices("VMs", config.vms.keys())));
                }
                let mut fields = vec![
                    ("type", t.name.clone()),
                    (
                        "version",
                        version.clone().unwrap_or_else(|| t.default_version.clone()),
                    ),
                    (
                        "plan",
                        plan.clone().unwrap_or_else(|| t.default_plan.clone()),
                    ),
                ];
                match vm {
                    Some(v) => fields.push(("vm", v.clone())),
                    None if config.vms.len() > 1 => {
                        return Err(
                            UserError::new(format!("which VM should {id} run on?")).hint(format!(
                                "pass --vm; {}",
                                config::hint_choices("VMs", config.vms.keys())
                            )),
                        );
                    }
                    None => {}
                }
                // Dependencies first, so they sit above it in config.yml.
                let mut text = text.to_string();
                if *with_deps {
                    let on_vm = vm.clone().or_else(|| config.vms.keys().next().cloned());
                    let on_vm = on_vm.unwrap_or_default();
                    for need in &t.depends {
                        if !crate::contract::deps::providers(&config, cat, need, &on_vm).is_empty()
                        {
                            continue;
                        }
                        let Some(dep) = crate::contract::deps::type_for(cat, need) else {
                            continue; // refused by the plan's check, naming it
                        };
                        let dep_name =
                            if config.addon(&format!("{}.{name}", dep.category)).is_some() {
                                format!("{name}-{}", dep.name)
                            } else {
                                name.clone()
                            };
                        let add_dep = Operation::Add {
                            type_name: dep.name.clone(),
                            name: dep_name,
                            category: None,
                            plan: None,
                            version: None,
                            vm: vm.clone(),
                            options: vec![],
                            with_deps: true,
                        };
                        text = self.edit(project, &text, &add_dep)?;
                    }
                }
                edit::add_addon(&text, &category, name, &fields, options)
            }
            Operation::Follow {
                leader,
                name,
                plan,
                vm,
            } => {
                let l = require_addon(&config, leader)?;
                if l.type_name != "postgres" {
                    let postgres: Vec<String> = config
                        .addons
                        .iter()
                        .filter(|a| a.type_name == "postgres" && a.follows.is_none())
                        .map(|a| a.id())
                        .collect();
                    return Err(UserError::new(format!(
                        "{leader} is {}: only postgres instances can be followed",
                        l.type_name
                    ))
                    .hint(config::hint_choices("postgres instances", &postgres)));
                }
                if let Some(of) = &l.follows {
                    return Err(
                        UserError::new(format!("{leader} is itself a follower of {of}")).hint(
                            format!("follow its leader: sdtui pg follow {of} --name {name}"),
                        ),
                    );
                }
                let t = cat.require(&l.type_name)?;
                if !config::is_dns_label(name) {
                    return Err(UserError::new(format!(
                        "addon name \"{name}\" is not a DNS label"
                    ))
                    .hint(config::DNS_LABEL_HINT));
                }
                let id = format!("{}.{name}", l.category);
                if config.addon(&id).is_some() {
                    return Err(UserError::new(format!("addon {id} already exists"))
                        .hint("pick another name for the follower"));
                }
                if let Some(p) = plan
                    && !t.plans.contains_key(p)
                {
                    return Err(
                        UserError::new(format!("unknown plan \"{p}\" for {}", t.name)).hint(
                            config::hint_choices(&format!("{} plans", t.name), t.plans.keys()),
                        ),
                    );
                }
                let vm = vm.clone().unwrap_or_else(|| l.vm.clone());
                if !config.vms.contains_key(&vm) {
                    return Err(UserError::new(format!("unknown VM \"{vm}\""))
                        .hint(config::hint_choices("VMs", config.vms.keys())));
                }
                let fields = vec![
                    ("type", t.name.clone()),
                    ("version", l.version.clone()),
                    ("plan", plan.clone().unwrap_or_else(|| l.plan.clone())),
                    ("vm", vm),
                    ("follows", leader.clone()),
                ];
                edit::add_addon(text, &l.category, name, &fields, &[])
            }
            Operation::Unfollow { id } => {
                let (f, _) = crate::pg::ops::require_follower(&config, id)?;
                edit::remove_addon_field(text, &f.category, &f.name, "follows")
            }
            Operation::Promote { id } => {
                let (f, leader) = crate::pg::ops::require_follower(&config, id)?;
                let text = edit::remove_addon_field(text, &f.category, &f.name, "follows")?;
                let text = edit::retarget_attachments(&text, &leader.id(), &f.id(), None)?;
                edit::set_addon_field(
                    &text,
                    &leader.category,
                    &leader.name,
                    "state",
                    config::InstanceState::ReadOnly.as_str(),
                )
            }
            Operation::UpgradeTarget {
                source,
                name,
                version,
            } => {
                let s = require_addon(&config, source)?;
                let t = cat.require(&s.type_name)?;
                if !config::is_dns_label(name) {
                    return Err(UserError::new(format!(
                        "addon name \"{name}\" is not a DNS label"
                    ))
                    .hint(config::DNS_LABEL_HINT));
                }
                let id = format!("{}.{name}", s.category);
                if config.addon(&id).is_some() {
                    return Err(UserError::new(format!("addon {id} already exists"))
                        .hint("name the upgraded instance with --name"));
                }
                if !t.versions.contains(version) {
                    return Err(
                        UserError::new(format!("{} has no version \"{version}\"", t.name)).hint(
                            config::hint_choices(&format!("{} versions", t.name), &t.versions),
                        ),
                    );
                }
                let fields = vec![
                    ("type", t.name.clone()),
                    ("version", version.clone()),
                    ("plan", s.plan.clone()),
                    ("vm", s.vm.clone()),
                ];
                let options: Vec<(String, String)> = s
                    .options
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                edit::add_addon(text, &s.category, name, &fields, &options)
            }
            Operation::UpgradeWrites { source, stopped } => {
                let s = require_addon(&config, source)?;
                if *stopped {
                    edit::set_addon_field(
                        text,
                        &s.category,
                        &s.name,
                        "state",
                        config::InstanceState::ReadOnly.as_str(),
                    )
                } else {
                    edit::remove_addon_field(text, &s.category, &s.name, "state")
                }
            }
            Operation::Changeover { from, to } => {
                let old = require_addon(&config, from)?;
                require_addon(&config, to)?;
                let text = edit::retarget_attachments(text, from, to, None)?;
                edit::set_addon_field(
                    &text,
                    &old.category,
                    &old.name,
                    "state",
                    config::InstanceState::Stopped.as_str(),
                )
            }
            Operation::Remove { id } => {
                let a = require_addon(&config, id)?;
                let followers: Vec<String> =
                    crate::pg::followers(&config, a).map(|f| f.id()).collect();
                if let Some(first) = followers.first() {
                    return Err(UserError::new(format!(
                        "addon {id} has followers: {}",
                        followers.join(", ")
                    ))
                    .hint(format!(
                        "make each independent first (sdtui pg unfollow {first}) or remove it"
                    )));
                }
                let users: Vec<String> = config
                    .attachments_of(id)
                    .map(|(app, att)| format!("{} (as {})", app.name, att.prefix))
                    .collect();
                if !users.is_empty() {
                    return Err(UserError::new(format!(
                        "addon {id} is attached to {}",
                        users.join(", ")
                    ))
                    .hint(format!(
                        "detach it first: sdtui addons detach {id} --app APP"
                    )));
                }
                edit::remove_addon(text, &a.category, &a.name)
            }
            Operation::Upgrade { id, plan, version } => {
                let a = require_addon(&config, id)?;
                let t = cat.require(&a.type_name)?;
                if plan.is_none() && version.is_none() {
                    return Err(
                        UserError::new(format!("upgrade {id} to what?")).hint(format!(
                            "give --plan ({}) and/or --version",
                            choices(t.plans.keys())
                        )),
                    );
                }
                let mut out = text.to_string();
                if let Some(p) = plan {
                    if !t.plans.contains_key(p) {
                        return Err(UserError::new(format!(
                            "unknown plan \"{p}\" for {id} ({})",
                            t.name
                        ))
                        .hint(config::hint_choices(
                            &format!("{} plans", t.name),
                            t.plans.keys(),
                        )));
                    }
                    out = edit::set_addon_field(&out, &a.category, &a.name, "plan", p)?;
                }
                if let Some(v) = version {
                    out = edit::set_addon_field(&out, &a.category, &a.name, "version", v)?;
                }
                Ok(out)
            }
            Operation::Attach {
                id,
                app,
                prefix,
                access,
            } => {
                let a = require_addon(&config, id)?;
                let the_app = require_app(&config, app)?;
                let t = cat.require(&a.type_name)?;
                if *access == Access::Readonly && !t.supports_readonly() {
                    let ro: Vec<&str> = cat
                        .types()
                        .filter(|t| t.supports_readonly())
                        .map(|t| t.name.as_str())
                        .collect();
                    return Err(UserError::new(format!(
                        "{id} ({}) has no readonly access",
                        t.name
                    ))
                    .hint(format!(
                        "use --access readwrite; types with readonly access: {}",
                        choices(ro)
                    )));
                }
                let prefix = prefix
                    .clone()
                    .unwrap_or_else(|| Catalog::default_prefix(&a.category));
                if !config::is_env_name(&prefix) {
                    return Err(UserError::new(format!(
                        "prefix \"{prefix}\" is not an environment variable name"
                    ))
                    .hint("use upper-case letters, digits and '_', starting with a letter"));
                }
                if let Some(other) = the_app.attachments.iter().find(|x| x.prefix == prefix) {
                    let taken = the_app
                        .attachments
                        .iter()
                        .map(|x| (x.prefix.clone(), x.addon.clone()))
                        .collect();
                    return Err(UserError::new(format!(
                        "app {app} already has {prefix}_* from {}",
                        other.addon
                    ))
                    .hint(format!(
                        "attach with another prefix: --as {}",
                        suggest(&a.name, &taken)
                    )));
                }
                edit::attach(text, app, id, &prefix, *access == Access::Readonly)
            }
            Operation::Detach { id, app, prefix } => {
                require_addon(&config, id)?;
                let the_app = require_app(&config, app)?;
                let positions: Vec<usize> = the_app
                    .attachments
                    .iter()
                    .enumerate()
                    .filter(|(_, x)| {
                        &x.addon == id && prefix.as_ref().is_none_or(|p| &x.prefix == p)
                    })
                    .map(|(i, _)| i)
                    .collect();
                match positions.len() {
                    0 => Err(UserError::new(format!(
                        "app {app} is not attached to {id}{}",
                        prefix
                            .as_ref()
                            .map(|p| format!(" as {p}"))
                            .unwrap_or_default()
                    ))
                    .hint(format!(
                        "{app}'s attachments: {}",
                        choices(
                            the_app
                                .attachments
                                .iter()
                                .map(|x| format!("{} as {}", x.addon, x.prefix))
                        )
                    ))),
                    n if n > 1 && prefix.is_none() => Err(UserError::new(format!(
                        "app {app} has {id} attached {n} times"
                    ))
                    .hint(format!(
                        "say which with --as: {}",
                        choices(
                            the_app
                                .attachments
                                .iter()
                                .filter(|x| &x.addon == id)
                                .map(|x| x.prefix.clone())
                        )
                    ))),
                    _ => edit::detach(text, app, &positions),
                }
            }
        }
    }
}

fn suggest(name: &str, taken: &std::collections::BTreeMap<String, String>) -> String {
    config::suggest_prefix(name, taken)
}
