//! A script-backed type's own figures: its contract `metrics` function,
//! read on demand (the console, while the addon is selected) and shown as
//! compact `key=value` pairs. A read every few seconds is not kept in the
//! audit trail (it changes nothing, and would bury every other record);
//! a failure is, once per run of failures.

use std::time::Duration;

use bollard::Docker;
use serde_json::Value;

use super::run::{Call, Place, call, record};
use super::script::{Function, Kind};
use crate::catalog::AddonType;
use crate::engine::Project;
use crate::error::{Result, UserError};

/// Whether the console can read `t`'s metrics from its container. System
/// kinds (no container, run over SSH) are the place to extend.
pub fn readable(t: &AddonType) -> bool {
    t.script_dir.is_some()
        && t.contract
            .as_ref()
            .is_some_and(|c| c.kind == Kind::Container && c.has(Function::Metrics))
}

/// `{"metrics": {"keys": 3, "role": "primary"}}` as `keys=3 role=primary`;
/// a nested value stays compact JSON.
pub fn compact(v: &Value) -> String {
    let Some(m) = v["metrics"].as_object() else {
        return String::new();
    };
    m.iter()
        .map(|(k, v)| match v {
            Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads one addon's metrics again and again, remembering whether the
/// last read failed (so a failing script is recorded once, not per read).
#[derive(Debug, Default)]
pub struct Reader {
    failing: bool,
}

impl Reader {
    /// One read in `container`: the compact pairs, or why not.
    pub async fn read(
        &mut self,
        project: &Project,
        t: &AddonType,
        docker: &Docker,
        container: &str,
    ) -> Result<String> {
        let (Some(spec), Some(dir)) = (&t.contract, &t.script_dir) else {
            return Err(UserError::new(format!("type {} has no contract", t.name)));
        };
        let (rec, out) = call(
            &Place::Container { docker, container },
            &Call {
                type_name: &t.name,
                dir,
                function: Function::Metrics,
                args: vec![],
                input: None,
                timeout: Duration::from_secs(spec.timeout),
                secrets: vec![],
                cwd: None,
            },
        )
        .await;
        if out.is_err() && !self.failing {
            // The trail failing to write must not hide the figures' error.
            let _ = record(&project.audit_path(), &rec, false);
        }
        self.failing = out.is_err();
        out.map(|v| compact(&v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pairs_are_compact_and_strings_unquoted() {
        assert_eq!(
            compact(
                &json!({"metrics": {"keys": 3, "role": "primary", "ratio": 0.5, "db": {"a": 1}}})
            ),
            "db={\"a\":1} keys=3 ratio=0.5 role=primary"
        );
        assert_eq!(compact(&json!({"metrics": {}})), "");
    }
}
