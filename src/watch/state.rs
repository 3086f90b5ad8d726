//! What `watch` calls a service's state, from Docker's state and health
//! (and, once a type has one, its contract's `health`), and which changes
//! are worth an alert: a settled state that differs from the last one.

use serde::Serialize;

use crate::docker::ServiceState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Healthy,
    /// Docker's health check has not passed yet: not a change on its own.
    Starting,
    Unhealthy,
    /// Restarting in a loop, or paused.
    Degraded,
    /// Exited, dead, created but never started, or its container is gone.
    Stopped,
    /// A VM's own states: sdtui cannot reach it (SSH or its engine), or
    /// can again.
    Unreachable,
    Connected,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Starting => "starting",
            Health::Unhealthy => "unhealthy",
            Health::Degraded => "degraded",
            Health::Stopped => "stopped",
            Health::Unreachable => "unreachable",
            Health::Connected => "connected",
        }
    }
    /// Whether it is a state an alert is about (the bad ones).
    pub fn is_bad(self) -> bool {
        matches!(
            self,
            Health::Unhealthy | Health::Degraded | Health::Stopped | Health::Unreachable
        )
    }
    /// Transitional states never fire an alert nor end one.
    fn settled(self) -> bool {
        self != Health::Starting
    }
}

/// A container's state as Docker reports it; `None`: no container.
pub fn of_container(c: Option<&ServiceState>) -> Health {
    let Some(c) = c else {
        return Health::Stopped;
    };
    match c.state.as_str() {
        "running" => match c.health.as_deref() {
            Some("unhealthy") => Health::Unhealthy,
            Some("starting") => Health::Starting,
            _ => Health::Healthy,
        },
        "restarting" | "paused" => Health::Degraded,
        _ => Health::Stopped,
    }
}

/// What one look at a service meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    /// The first settled state seen since watch started: no alert (a
    /// restarted watch would otherwise repeat every alert).
    Baseline(Health),
    /// Nothing settled changed.
    Same,
    Changed {
        old: Health,
        new: Health,
    },
}

/// The last settled state of each service of one VM.
#[derive(Debug, Default)]
pub struct Tracker {
    last: std::collections::HashMap<String, Health>,
}

impl Tracker {
    pub fn observe(&mut self, service: &str, now: Health) -> Observed {
        if !now.settled() {
            return Observed::Same;
        }
        match self.last.insert(service.to_string(), now) {
            None => Observed::Baseline(now),
            Some(old) if old == now => Observed::Same,
            Some(old) => Observed::Changed { old, new: now },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(state: &str, health: Option<&str>) -> ServiceState {
        ServiceState {
            state: state.into(),
            health: health.map(Into::into),
            ..ServiceState::default()
        }
    }

    #[test]
    fn docker_states_map_to_watch_states() {
        assert_eq!(
            of_container(Some(&container("running", None))),
            Health::Healthy
        );
        assert_eq!(
            of_container(Some(&container("running", Some("healthy")))),
            Health::Healthy
        );
        assert_eq!(
            of_container(Some(&container("running", Some("unhealthy")))),
            Health::Unhealthy
        );
        assert_eq!(
            of_container(Some(&container("running", Some("starting")))),
            Health::Starting
        );
        assert_eq!(
            of_container(Some(&container("restarting", None))),
            Health::Degraded
        );
        assert_eq!(
            of_container(Some(&container("exited", None))),
            Health::Stopped
        );
        assert_eq!(of_container(None), Health::Stopped);
    }

    #[test]
    fn one_change_per_settled_transition_and_one_on_recovery() {
        let mut t = Tracker::default();
        assert_eq!(
            t.observe("redis-main", Health::Healthy),
            Observed::Baseline(Health::Healthy)
        );
        assert_eq!(t.observe("redis-main", Health::Healthy), Observed::Same);
        assert_eq!(
            t.observe("redis-main", Health::Stopped),
            Observed::Changed {
                old: Health::Healthy,
                new: Health::Stopped
            }
        );
        // Every later check of the same state is quiet.
        assert_eq!(t.observe("redis-main", Health::Stopped), Observed::Same);
        // Starting again passes through `starting`: not a change.
        assert_eq!(t.observe("redis-main", Health::Starting), Observed::Same);
        assert_eq!(
            t.observe("redis-main", Health::Healthy),
            Observed::Changed {
                old: Health::Stopped,
                new: Health::Healthy
            }
        );
        // A service first seen stopped is a baseline, not an alert.
        assert_eq!(
            t.observe("app", Health::Stopped),
            Observed::Baseline(Health::Stopped)
        );
    }
}
