//! Installation status and health of an addon instance, in the WebOps
//! contract's values (seed 001), for every type: computed from Docker's
//! state and health check, and, for a script-backed type, from its own
//! `status`/`health` answers.

use serde::{Deserialize, Serialize};

use crate::docker::ServiceState;

/// Where an instance is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstallStatus {
    NotInstalled,
    Installing,
    Installed,
    Configuring,
    Failed,
    Uninstalling,
    /// Installed but not healthy.
    Degraded,
}

/// Whether an installed instance works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Healthy,
    Unhealthy,
    Degraded,
    Unknown,
}

impl InstallStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InstallStatus::NotInstalled => "not_installed",
            InstallStatus::Installing => "installing",
            InstallStatus::Installed => "installed",
            InstallStatus::Configuring => "configuring",
            InstallStatus::Failed => "failed",
            InstallStatus::Uninstalling => "uninstalling",
            InstallStatus::Degraded => "degraded",
        }
    }
    pub const ALL: [InstallStatus; 7] = [
        InstallStatus::NotInstalled,
        InstallStatus::Installing,
        InstallStatus::Installed,
        InstallStatus::Configuring,
        InstallStatus::Failed,
        InstallStatus::Uninstalling,
        InstallStatus::Degraded,
    ];
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
            Health::Degraded => "degraded",
            Health::Unknown => "unknown",
        }
    }
    pub const ALL: [Health; 4] = [
        Health::Healthy,
        Health::Unhealthy,
        Health::Degraded,
        Health::Unknown,
    ];
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// An instance's status and health, with the fact they were read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddonStatus {
    /// `None` when it could not be read (the VM is unreachable).
    pub status: Option<InstallStatus>,
    pub health: Health,
    /// Docker's words (`running, healthy`, `exited (1)`) or the script's.
    pub detail: String,
}

impl AddonStatus {
    /// What a one-column cell shows: the health once installed, else the
    /// status (`installing`, `failed (137)`, `not_installed`).
    pub fn label(&self) -> String {
        match self.status {
            None => "unknown".into(),
            Some(InstallStatus::Installed) => self.health.as_str().into(),
            Some(InstallStatus::Failed) if self.detail.starts_with("exited") => {
                format!("failed{}", self.detail.trim_start_matches("exited"))
            }
            Some(s) => s.as_str().into(),
        }
    }
}

/// The values for a container-backed instance, from its container (or its
/// absence).
pub fn from_container(state: Option<&ServiceState>) -> AddonStatus {
    use Health as H;
    use InstallStatus as S;
    let Some(c) = state else {
        return AddonStatus {
            status: Some(S::NotInstalled),
            health: H::Unknown,
            detail: "no container".into(),
        };
    };
    let health = c.health.as_deref();
    let (status, h) = match (c.state.as_str(), health) {
        ("unreachable", _) => (None, H::Unknown),
        ("created", _) => (Some(S::Installing), H::Unknown),
        ("running", Some("starting")) => (Some(S::Installing), H::Unknown),
        ("running", Some("healthy")) => (Some(S::Installed), H::Healthy),
        ("running", Some(_)) => (Some(S::Degraded), H::Unhealthy),
        // No health check to say otherwise: the process is up.
        ("running", None) => (Some(S::Installed), H::Healthy),
        ("paused", _) => (Some(S::Degraded), H::Degraded),
        ("restarting", _) => (Some(S::Degraded), H::Unhealthy),
        ("removing", _) => (Some(S::Uninstalling), H::Unknown),
        // exited, dead: it should run and does not.
        _ => (Some(S::Failed), H::Unhealthy),
    };
    let detail = match (c.state.as_str(), health, c.exit_code) {
        ("exited", _, Some(code)) => format!("exited ({code})"),
        (s, Some(h), _) => format!("{s}, {h}"),
        (s, None, _) => s.to_string(),
    };
    AddonStatus {
        status,
        health: h,
        detail,
    }
}

/// Refines the container's values with a script's `status`/`health`
/// answers: the container's verdict stands while it is not up and healthy
/// (a script cannot run in a stopped container); once it is, the script
/// knows more (a provisioning step that failed, a replica that lags).
pub fn with_script(
    container: AddonStatus,
    script_status: Option<InstallStatus>,
    script_health: Option<Health>,
    script_detail: Option<String>,
) -> AddonStatus {
    if container.status != Some(InstallStatus::Installed) {
        return container;
    }
    AddonStatus {
        status: script_status.or(container.status),
        health: script_health.unwrap_or(container.health),
        detail: script_detail.unwrap_or(container.detail),
    }
}

/// One instance's values, read live from its VM's engine. A VM that cannot
/// be reached gives `status: None` and why, not an error: `addons info`
/// still shows everything else.
pub async fn of_addon(
    ws: &crate::engine::Workspace,
    project: &crate::engine::Project,
    config: &crate::config::Config,
    addon: &crate::config::Addon,
) -> AddonStatus {
    let read = async {
        let vm = config
            .vms
            .get(&addon.vm)
            .ok_or_else(|| crate::error::UserError::new(format!("no VM \"{}\"", addon.vm)))?;
        let conn = crate::deploy::target::Connected::open(ws, project, vm).await?;
        if addon.system {
            let secrets = crate::engine::secrets::Secrets::load(&project.secrets_path())?;
            return super::system::status_of(ws, project, &conn, addon, &secrets.addons).await;
        }
        let states = crate::docker::project_containers(
            &conn.docker,
            &crate::deploy::compose_project(&project.name, &vm.name),
        )
        .await?;
        let service = addon.service();
        let found = states.iter().find(|s| s.service == service);
        let values = from_container(found);
        Ok::<_, crate::error::UserError>(match (found, ws.catalog.get(&addon.type_name)) {
            (Some(c), Some(t)) => {
                super::lifecycle::refine(project, t, &conn.docker, c, values).await
            }
            _ => values,
        })
    };
    match tokio::time::timeout(std::time::Duration::from_secs(20), read).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => unreadable(&e.message),
        Err(_) => unreadable("no answer from the VM in 20 s"),
    }
}

fn unreadable(why: &str) -> AddonStatus {
    AddonStatus {
        status: None,
        health: Health::Unknown,
        detail: format!("not read: {why}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(state: &str, health: Option<&str>, exit: Option<i64>) -> ServiceState {
        ServiceState {
            service: "redis-cache".into(),
            state: state.into(),
            health: health.map(str::to_string),
            exit_code: exit,
            ..ServiceState::default()
        }
    }

    fn pair(s: &AddonStatus) -> (Option<&'static str>, &'static str) {
        (s.status.map(InstallStatus::as_str), s.health.as_str())
    }

    #[test]
    fn docker_state_and_health_map_to_the_contract_values() {
        let cases = [
            (None, (Some("not_installed"), "unknown")),
            (
                Some(c("created", None, None)),
                (Some("installing"), "unknown"),
            ),
            (
                Some(c("running", Some("starting"), None)),
                (Some("installing"), "unknown"),
            ),
            (
                Some(c("running", Some("healthy"), None)),
                (Some("installed"), "healthy"),
            ),
            (
                Some(c("running", Some("unhealthy"), None)),
                (Some("degraded"), "unhealthy"),
            ),
            (
                Some(c("running", None, None)),
                (Some("installed"), "healthy"),
            ),
            (
                Some(c("paused", None, None)),
                (Some("degraded"), "degraded"),
            ),
            (
                Some(c("restarting", None, None)),
                (Some("degraded"), "unhealthy"),
            ),
            (
                Some(c("removing", None, None)),
                (Some("uninstalling"), "unknown"),
            ),
            (
                Some(c("exited", None, Some(137))),
                (Some("failed"), "unhealthy"),
            ),
            (Some(c("dead", None, None)), (Some("failed"), "unhealthy")),
            (Some(c("unreachable", None, None)), (None, "unknown")),
        ];
        for (state, want) in cases {
            let got = from_container(state.as_ref());
            assert_eq!(pair(&got), want, "{state:?}");
        }
    }

    #[test]
    fn the_label_is_the_health_once_installed_else_the_status() {
        assert_eq!(
            from_container(Some(&c("running", Some("healthy"), None))).label(),
            "healthy"
        );
        assert_eq!(
            from_container(Some(&c("exited", None, Some(1)))).label(),
            "failed (1)"
        );
        assert_eq!(from_container(None).label(), "not_installed");
        assert_eq!(
            from_container(Some(&c("unreachable", None, None))).label(),
            "unknown"
        );
    }

    #[test]
    fn a_script_refines_only_a_healthy_container() {
        let up = from_container(Some(&c("running", Some("healthy"), None)));
        let got = with_script(
            up,
            Some(InstallStatus::Degraded),
            Some(Health::Degraded),
            Some("replica lags".into()),
        );
        assert_eq!(pair(&got), (Some("degraded"), "degraded"));
        assert_eq!(got.detail, "replica lags");
        let down = from_container(Some(&c("exited", None, Some(1))));
        let got = with_script(
            down,
            Some(InstallStatus::Installed),
            Some(Health::Healthy),
            None,
        );
        assert_eq!(pair(&got), (Some("failed"), "unhealthy"));
    }

    #[test]
    fn every_value_parses_back() {
        for s in InstallStatus::ALL {
            assert_eq!(InstallStatus::parse(s.as_str()), Some(s));
        }
        for h in Health::ALL {
            assert_eq!(Health::parse(h.as_str()), Some(h));
        }
        assert_eq!(InstallStatus::parse("running"), None);
    }
}
