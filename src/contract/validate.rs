//! `sdtui catalog validate DIR`: a type folder checked before use. Its
//! addon.yml parses; its script runs here for `metadata` and `validate`,
//! each answer checked against the contract, the name against the folder
//! and the functions against addon.yml's `contract.functions`.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use super::run::{Call, Place, call};
use super::script::{Function, metadata_of};
use crate::catalog::{AddonType, Catalog};
use crate::error::{Result, UserError};

/// One passed check, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct Passed {
    pub check: String,
    pub detail: String,
}

/// Every check passed (in order), or the first failure.
pub async fn validate_dir(dir: &Path, shipped: &Catalog) -> Result<Vec<Passed>> {
    let yml = dir.join("addon.yml");
    let text = std::fs::read_to_string(&yml).map_err(|e| {
        UserError::new(format!("{}: {e}", yml.display()))
            .hint("a type folder holds addon.yml (and addon.sh for a script-backed type)")
    })?;
    let t = crate::catalog::parse_addon(&yml, &text)?;
    let mut passed = vec![Passed {
        check: "addon.yml".into(),
        detail: format!("type {} parses", t.name),
    }];
    let shipped_only = shipped
        .types()
        .filter(|s| s.script_dir.is_none() && s.name == t.name)
        .map(|s| {
            (
                s.name.clone(),
                (s.clone(), std::path::PathBuf::from("<builtin>")),
            )
        })
        .collect();
    crate::catalog::check_user_type(&t, &yml, &shipped_only)?;
    let t = crate::catalog::with_script(t, &yml)?;
    let Some(spec) = t.contract.clone() else {
        passed.push(Passed {
            check: "contract".into(),
            detail: "none (a declarative type)".into(),
        });
        return Ok(passed);
    };
    let metadata = run_here(&t, dir, Function::Metadata, spec.timeout).await?;
    let m = metadata_of(&metadata);
    let wrong = |msg: String, hint: String| {
        Err(UserError::new(format!("type {}, function metadata: {msg}", t.name)).hint(hint))
    };
    if m.name != t.name {
        return wrong(
            format!(
                "field \"name\" is \"{}\", not the folder's \"{}\"",
                m.name, t.name
            ),
            format!("print \"name\": \"{}\"", t.name),
        );
    }
    if let Some(kind) = m.kind
        && kind != spec.kind
    {
        return wrong(
            format!(
                "field \"kind\" is \"{}\", but addon.yml says \"{}\"",
                kind.as_str(),
                spec.kind.as_str()
            ),
            "make metadata and addon.yml's contract.kind agree".into(),
        );
    }
    let mut declared: Vec<&str> = spec.functions.iter().map(String::as_str).collect();
    declared.sort();
    let mut said: Vec<&str> = m.functions.iter().map(|f| f.as_str()).collect();
    said.sort();
    if declared != said {
        return wrong(
            format!(
                "field \"functions\" is [{}], but addon.yml's contract.functions is [{}]",
                said.join(", "),
                declared.join(", ")
            ),
            "list the same optional functions in both".into(),
        );
    }
    // The engine enforces addon.yml's lists (read without running the
    // script); metadata must say the same, or one of them is stale.
    for (field, from_script, from_yml) in [
        ("depends", &m.depends, &t.depends),
        ("provides", &m.provides, &t.provides),
        ("conflicts", &m.conflicts, &t.conflicts),
    ] {
        let mut said: Vec<&str> = from_script.iter().map(String::as_str).collect();
        let mut declared: Vec<&str> = from_yml.iter().map(String::as_str).collect();
        said.sort();
        declared.sort();
        if said != declared {
            return wrong(
                format!(
                    "field \"{field}\" is [{}], but addon.yml's {field} is [{}]",
                    said.join(", "),
                    declared.join(", ")
                ),
                format!(
                    "list the same {field} in both: addon.yml's is what add, attach and up enforce"
                ),
            );
        }
    }
    passed.push(Passed {
        check: "metadata".into(),
        detail: format!("{} {} ({})", m.name, m.version, spec.kind.as_str()),
    });
    let v = run_here(&t, dir, Function::Validate, spec.timeout).await?;
    if v["valid"] != serde_json::Value::Bool(true) {
        let errors: Vec<&str> = v["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e.as_str())
            .collect();
        return Err(UserError::new(format!(
            "type {}, function validate: not valid: {}",
            t.name,
            errors.join("; ")
        ))
        .hint("fix what it reports, then validate again"));
    }
    passed.push(Passed {
        check: "validate".into(),
        detail: "valid".into(),
    });
    passed.push(Passed {
        check: "functions".into(),
        detail: spec.function_names().join(", "),
    });
    Ok(passed)
}

async fn run_here(
    t: &AddonType,
    dir: &Path,
    function: Function,
    timeout: u64,
) -> Result<serde_json::Value> {
    let (_, out) = call(
        &Place::Local,
        &Call {
            type_name: &t.name,
            dir,
            function,
            args: vec![],
            input: None,
            timeout: Duration::from_secs(timeout),
            secrets: vec![],
            cwd: None,
        },
    )
    .await;
    out
}
