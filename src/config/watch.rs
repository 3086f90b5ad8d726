//! `watch: {alert, interval}` in config.yml: what `sdtui watch` runs when an
//! addon or app changes to unhealthy, degraded or stopped (and back), and
//! how often it looks again between Docker events.

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use crate::error::{Result, SourceSpot, UserError};

/// Between two health looks when no Docker event arrives.
pub const DEFAULT_INTERVAL_S: u64 = 30;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WatchSettings {
    /// A shell command line, run by `sh -c` on the machine running `watch`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
    pub interval_s: u64,
}

impl Default for WatchSettings {
    fn default() -> Self {
        WatchSettings {
            alert: None,
            interval_s: DEFAULT_INTERVAL_S,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWatch {
    alert: Option<Spanned<String>>,
    interval: Option<Spanned<String>>,
}

pub(super) fn validate(
    raw: &RawWatch,
    at: impl Fn(&serde_saphyr::Location) -> Option<SourceSpot>,
) -> Result<WatchSettings> {
    let alert = match &raw.alert {
        None => None,
        Some(a) if a.value.trim().is_empty() => {
            return Err(UserError::new("watch.alert is empty")
                .at(at(&a.referenced))
                .hint("write the command to run, e.g. `alert: \"notify-send sdtui $SDTUI_ADDON\"`, or remove the line"));
        }
        Some(a) => {
            if shlex::split(&a.value).is_none() {
                return Err(UserError::new(format!(
                    "watch.alert \"{}\" is not a command line (an unclosed quote?)",
                    a.value
                ))
                .at(at(&a.referenced))
                .hint("it runs through `sh -c`; close every quote"));
            }
            Some(a.value.clone())
        }
    };
    let interval_s = match &raw.interval {
        None => DEFAULT_INTERVAL_S,
        Some(i) => super::environments::parse_seconds(&i.value).ok_or_else(|| {
            UserError::new(format!("watch.interval \"{}\" is not a duration", i.value))
                .at(at(&i.referenced))
                .hint("write seconds, minutes or hours: 30s, 5m, 1h")
        })?,
    };
    Ok(WatchSettings { alert, interval_s })
}
