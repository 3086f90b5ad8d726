//! The provisioning that makes attachments real (readonly roles, ACL
//! users), run inside each addon after it is healthy.

use super::*;

/// Runs each addon type's provisioning (readonly roles, ACL users) inside
/// its container, after it is healthy.
pub(crate) async fn provision(
    ws: &Workspace,
    config: &Config,
    secrets: &crate::engine::secrets::AddonSecrets,
    vm: &str,
    docker: &Docker,
    states: &[ServiceState],
) -> Result<()> {
    // A follower is a hot standby: its roles come from its leader.
    for addon in config
        .addons
        .iter()
        .filter(|a| a.vm == vm && a.follows.is_none())
    {
        let t = ws.catalog.require(&addon.type_name)?;
        let (Some(client), Some(steps)) = (&t.provision_with, t.provision.get("readonly")) else {
            continue;
        };
        let Some(container) = states.iter().find(|s| s.service == addon.service()) else {
            continue;
        };
        let vars: BTreeMap<String, String> = secrets[&addon.type_name][&addon.name]
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut steps = steps.clone();
        if addon.state == crate::config::InstanceState::ReadOnly {
            steps.insert(0, crate::pg::WRITABLE_SESSION.into());
        }
        steps::run(
            docker,
            &container.container_id,
            t,
            client,
            &vars,
            &steps,
            &vars,
            &format!("provisioning {}", addon.id()),
            &steps::secret_values(t, &vars),
        )
        .await?;
    }
    crate::pg::ops::provision_leaders(ws, config, secrets, vm, docker, states).await
}
