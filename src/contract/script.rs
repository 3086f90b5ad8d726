//! Script-backed addon types: the WebOps contract (seed 001) as an
//! executable `addon.sh` beside a type's addon.yml, invoked as
//! `./addon.sh FUNCTION [ARGS]`, printing one JSON object.

use serde::Deserialize;

/// Where a contract script runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Inside the addon's container (what YAML can't say: provisioning,
    /// health, backup).
    #[default]
    Container,
    /// On the VM itself, no container (kernel settings, a host agent).
    System,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Container => "container",
            Kind::System => "system",
        }
    }
}

/// addon.yml's `contract:` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractSpec {
    #[serde(default)]
    pub kind: Kind,
    /// Seconds one call may take before it is killed and fails.
    #[serde(default = "default_timeout")]
    pub timeout: u64,
}

fn default_timeout() -> u64 {
    60
}

/// The script's file name in a type's folder.
pub const SCRIPT: &str = "addon.sh";
