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
    /// The optional functions the script implements (`health`, `metrics`,
    /// `backup`, `restore`); `metadata` must say the same.
    #[serde(default)]
    pub functions: Vec<String>,
}

impl ContractSpec {
    pub fn has(&self, f: Function) -> bool {
        Function::REQUIRED.contains(&f) || self.functions.iter().any(|x| x == f.as_str())
    }
    /// Every function it answers, required ones first.
    pub fn function_names(&self) -> Vec<&'static str> {
        Function::REQUIRED
            .into_iter()
            .chain(Function::OPTIONAL)
            .filter(|f| self.has(*f))
            .map(Function::as_str)
            .collect()
    }
}

fn default_timeout() -> u64 {
    60
}

/// The script's file name in a type's folder.
pub const SCRIPT: &str = "addon.sh";

/// The contract's functions, in the order `catalog` lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Function {
    Metadata,
    Validate,
    Install,
    Uninstall,
    Status,
    Configure,
    Health,
    Metrics,
    Backup,
    Restore,
}

impl Function {
    pub const REQUIRED: [Function; 6] = [
        Function::Metadata,
        Function::Validate,
        Function::Install,
        Function::Uninstall,
        Function::Status,
        Function::Configure,
    ];
    pub const OPTIONAL: [Function; 4] = [
        Function::Health,
        Function::Metrics,
        Function::Backup,
        Function::Restore,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Function::Metadata => "metadata",
            Function::Validate => "validate",
            Function::Install => "install",
            Function::Uninstall => "uninstall",
            Function::Status => "status",
            Function::Configure => "configure",
            Function::Health => "health",
            Function::Metrics => "metrics",
            Function::Backup => "backup",
            Function::Restore => "restore",
        }
    }
    pub fn parse(s: &str) -> Option<Function> {
        Self::REQUIRED
            .into_iter()
            .chain(Self::OPTIONAL)
            .find(|f| f.as_str() == s)
    }
}

/// What `metadata` prints.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Metadata {
    pub name: String,
    pub version: String,
    pub description: String,
    pub kind: Option<Kind>,
    pub depends: Vec<String>,
    pub provides: Vec<String>,
    pub conflicts: Vec<String>,
    /// The optional functions it implements (`health`, `backup` ...).
    pub functions: Vec<Function>,
}

use serde_json::Value;

/// Checks `out` against what `function` must print; the error names the
/// first wrong field and what it should be.
pub fn check_shape(function: Function, out: &Value) -> std::result::Result<(), String> {
    let Some(obj) = out.as_object() else {
        return Err("the output is not a JSON object".into());
    };
    let string = |k: &str, required: bool| -> std::result::Result<(), String> {
        match obj.get(k) {
            Some(Value::String(_)) => Ok(()),
            None if !required => Ok(()),
            None => Err(format!("field \"{k}\" is missing (a string)")),
            Some(v) => Err(format!("field \"{k}\" is {v}, not a string")),
        }
    };
    let strings = |k: &str| -> std::result::Result<(), String> {
        match obj.get(k) {
            None => Ok(()),
            Some(Value::Array(a)) if a.iter().all(Value::is_string) => Ok(()),
            Some(v) => Err(format!("field \"{k}\" is {v}, not a list of strings")),
        }
    };
    let boolean = |k: &str| -> std::result::Result<(), String> {
        match obj.get(k) {
            Some(Value::Bool(_)) => Ok(()),
            None => Err(format!("field \"{k}\" is missing (true or false)")),
            Some(v) => Err(format!("field \"{k}\" is {v}, not true or false")),
        }
    };
    let one_of = |k: &str, values: &[&str], required: bool| -> std::result::Result<(), String> {
        match obj.get(k) {
            Some(Value::String(s)) if values.contains(&s.as_str()) => Ok(()),
            None if !required => Ok(()),
            None => Err(format!(
                "field \"{k}\" is missing (one of {})",
                values.join(", ")
            )),
            Some(v) => Err(format!(
                "field \"{k}\" is {v}, not one of {}",
                values.join(", ")
            )),
        }
    };
    let statuses: Vec<&str> = super::status::InstallStatus::ALL
        .iter()
        .map(|s| s.as_str())
        .collect();
    let healths: Vec<&str> = super::status::Health::ALL
        .iter()
        .map(|h| h.as_str())
        .collect();
    match function {
        Function::Metadata => {
            string("name", true)?;
            string("version", true)?;
            string("description", true)?;
            one_of("kind", &["container", "system"], false)?;
            strings("depends")?;
            strings("provides")?;
            strings("conflicts")?;
            strings("functions")?;
            let optional: Vec<&str> = Function::OPTIONAL.iter().map(|f| f.as_str()).collect();
            for f in obj
                .get("functions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if !optional.contains(&f) {
                    return Err(format!(
                        "field \"functions\" names \"{f}\", not one of {}",
                        optional.join(", ")
                    ));
                }
            }
        }
        Function::Validate => {
            boolean("valid")?;
            strings("errors")?;
            strings("warnings")?;
        }
        Function::Install | Function::Uninstall | Function::Configure | Function::Restore => {
            boolean("ok")?;
            string("message", false)?;
        }
        Function::Status => {
            one_of("status", &statuses, true)?;
            one_of("health", &healths, true)?;
            string("version", false)?;
            string("message", false)?;
        }
        Function::Health => {
            one_of("health", &healths, true)?;
            string("message", false)?;
        }
        Function::Metrics => match obj.get("metrics") {
            Some(Value::Object(_)) => {}
            None => return Err("field \"metrics\" is missing (an object)".into()),
            Some(v) => return Err(format!("field \"metrics\" is {v}, not an object")),
        },
        Function::Backup => {
            boolean("ok")?;
            // The backup itself, as text the script can restore from.
            string("data", true)?;
        }
    }
    Ok(())
}

/// `metadata`'s answer, once its shape is checked.
pub fn metadata_of(out: &Value) -> Metadata {
    let s = |k: &str| out[k].as_str().unwrap_or_default().to_string();
    let list = |k: &str| -> Vec<String> {
        out[k]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    };
    Metadata {
        name: s("name"),
        version: s("version"),
        description: s("description"),
        kind: match out["kind"].as_str() {
            Some("system") => Some(Kind::System),
            Some("container") => Some(Kind::Container),
            _ => None,
        },
        depends: list("depends"),
        provides: list("provides"),
        conflicts: list("conflicts"),
        functions: list("functions")
            .iter()
            .filter_map(|f| Function::parse(f))
            .collect(),
    }
}
