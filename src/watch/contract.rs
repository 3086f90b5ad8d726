//! The contract's own verdict in `watch`: for a script-backed type, its
//! `health` function (or `status`, when it has no `health`) on every look,
//! mapped to watch's states. Each answer is kept in the audit trail only
//! when it differs from the last one kept for that service: a check every
//! few seconds for months would otherwise bury every other record under
//! identical lines, while a change (or a failure starting, or ending) is
//! exactly what someone reading the trail after an alert looks for.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;

use super::Health;
use crate::config::Addon;
use crate::contract::run::{Call, Place, call, record};
use crate::contract::script::{Function, Kind};
use crate::contract::status::Health as Seed;
use crate::deploy::target::Connected;
use crate::docker::ServiceState;
use crate::engine::{Project, Workspace};

/// What the script said, for one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub health: Health,
    /// The script's message, or why the call failed.
    pub reason: Option<String>,
}

/// The last answer recorded per service (see the module's comment).
#[derive(Debug, Default)]
pub struct Recorded {
    last: HashMap<String, String>,
}

impl Recorded {
    /// Whether `answer` differs from the last one kept for `service`
    /// (remembering it).
    fn is_new(&mut self, service: &str, answer: String) -> bool {
        self.last.insert(service.to_string(), answer.clone()) != Some(answer)
    }
}

/// The seed's health value as a watch state: `unknown` (or a value the
/// seed does not define) leaves Docker's verdict.
pub fn map(seed: Option<Seed>) -> Option<Health> {
    match seed? {
        Seed::Healthy => Some(Health::Healthy),
        Seed::Unhealthy => Some(Health::Unhealthy),
        Seed::Degraded => Some(Health::Degraded),
        Seed::Unknown => None,
    }
}

/// The contract's verdict on `addon`, `None` when its type has no contract
/// (or says `unknown`). `container` is its running container; a system
/// kind has none and runs over `conn`'s SSH session — the place to add it.
pub async fn health(
    ws: &Workspace,
    project: &Project,
    conn: &Connected,
    addon: &Addon,
    container: Option<&ServiceState>,
    recorded: &mut Recorded,
) -> Option<Verdict> {
    let t = ws.catalog.require(&addon.type_name).ok()?;
    let spec = t.contract.as_ref()?;
    let dir = t.script_dir.as_ref()?;
    let function = if spec.has(Function::Health) {
        Function::Health
    } else {
        Function::Status
    };
    // A system kind has no container: on the VM, in its data folder.
    let (place, cwd) = match spec.kind {
        Kind::Container => (
            Place::Container {
                docker: &conn.docker,
                container: &container?.container_id,
            },
            None,
        ),
        Kind::System => (
            crate::contract::system::place(conn),
            crate::contract::system::data_dir(conn, addon).await.ok(),
        ),
    };
    let (rec, out) = call(
        &place,
        &Call {
            type_name: &t.name,
            dir,
            function,
            args: vec![],
            input: None,
            timeout: Duration::from_secs(spec.timeout),
            secrets: vec![],
            cwd,
        },
    )
    .await;
    // The health value alone: a message carrying a count or a time
    // would make every answer new.
    let answer = match &out {
        Ok(v) => v["health"].to_string(),
        Err(e) => format!("failed: {}", e.message),
    };
    if recorded.is_new(&addon.service(), answer) {
        // The audit trail failing to write must not stop watching.
        let _ = record(&project.audit_path(), &rec, out.is_ok());
    }
    verdict(out)
}

fn verdict(out: crate::error::Result<Value>) -> Option<Verdict> {
    match out {
        // A check that cannot run is not a healthy one.
        Err(e) => Some(Verdict {
            health: Health::Degraded,
            // One line: it goes into watch's one line per event.
            reason: Some(format!("health script failed: {}", one_line(&e.message))),
        }),
        Ok(v) => {
            let health = map(Seed::parse(v["health"].as_str().unwrap_or_default()))?;
            Some(Verdict {
                health,
                reason: v["message"]
                    .as_str()
                    .filter(|m| !m.is_empty())
                    .map(str::to_string),
            })
        }
    }
}

/// `exited 3:\n  its words` as `exited 3: its words`.
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_values_map_to_watch_states_and_unknown_leaves_docker() {
        assert_eq!(map(Some(Seed::Healthy)), Some(Health::Healthy));
        assert_eq!(map(Some(Seed::Unhealthy)), Some(Health::Unhealthy));
        assert_eq!(map(Some(Seed::Degraded)), Some(Health::Degraded));
        assert_eq!(map(Some(Seed::Unknown)), None);
        assert_eq!(map(None), None);
    }

    #[test]
    fn only_a_changed_answer_is_recorded_again() {
        let mut r = Recorded::default();
        assert!(r.is_new("kv", "healthy".into()));
        assert!(!r.is_new("kv", "healthy".into()));
        assert!(r.is_new("kv", "degraded".into()));
        assert!(r.is_new("other", "healthy".into()));
        assert!(r.is_new("kv", "healthy".into()));
    }
}
