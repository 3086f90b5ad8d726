//! Backups on their VM: `<folder>/<id>.<ext>` and its manifest
//! `<folder>/<id>.json` (one line of JSON: size, sha256, inventory, drill),
//! and what a drill compares.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::run;
use crate::deploy::target::Target;
use crate::engine::Project;
use crate::error::{Result, UserError, io_error};

/// `kind name` (`table public.orders`) → value (`1000`, or empty for
/// things that only have to exist).
pub type Inventory = BTreeMap<String, String>;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Drill {
    /// `passed`, `failed`, or `not run`.
    pub status: String,
    /// A failure's first difference or error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// How many inventory entries were compared.
    pub checked: usize,
    pub seconds: f64,
}

impl Drill {
    pub fn not_run() -> Drill {
        Drill {
            status: "not run".into(),
            detail: None,
            checked: 0,
            seconds: 0.0,
        }
    }
    pub fn passed(&self) -> bool {
        self.status == "passed"
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// `main-20261130T180501Z`: the instance and the UTC time.
    pub id: String,
    /// `databases.main`.
    pub addon: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub image: String,
    pub vm: String,
    /// The backup's file name, beside this manifest.
    pub file: String,
    /// RFC 3339, UTC.
    pub created: String,
    pub size: u64,
    pub sha256: String,
    pub dump_seconds: f64,
    /// What the source held at dump time.
    pub inventory: Inventory,
    /// Taken after the dump when the inventory could not share its
    /// snapshot and something changed meanwhile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory_after: Option<Inventory>,
    pub drill: Drill,
    /// `manual` (`db backup`, the console) or `schedule` (the backup
    /// service on the VM); only scheduled ones are pruned.
    #[serde(default = "manual")]
    pub trigger: String,
}

fn manual() -> String {
    "manual".into()
}

impl Manifest {
    pub fn scheduled(&self) -> bool {
        self.trigger == "schedule"
    }
}

/// The backups folder of an addon on its VM: under the project's `.sdtui`
/// on the local engine, `~/.sdtui/<project>/backups/<addon>` over SSH.
pub fn folder(target: &Target, project: &Project, addon_id: &str) -> String {
    match target {
        Target::Local { .. } => project
            .state_dir()
            .join("backups")
            .join(addon_id)
            .display()
            .to_string(),
        Target::Remote { .. } => format!(".sdtui/{}/backups/{addon_id}", project.name),
    }
}

/// Writes a manifest atomically beside its backup.
pub async fn write_manifest(target: &Target, dir: &str, m: &Manifest) -> Result<()> {
    let mut text = serde_json::to_string(m)
        .map_err(|e| UserError::new(format!("cannot encode the manifest: {e}")))?;
    text.push('\n');
    let path = format!("{dir}/{}.json", m.id);
    match target {
        Target::Local { .. } => {
            let dir_path = std::path::Path::new(dir);
            let mut tmp = tempfile::NamedTempFile::new_in(dir_path)
                .map_err(|e| io_error(dir_path, "write in", e))?;
            std::io::Write::write_all(&mut tmp, text.as_bytes())
                .map_err(|e| io_error(tmp.path(), "write", e))?;
            tmp.as_file()
                .sync_all()
                .map_err(|e| io_error(tmp.path(), "flush", e))?;
            tmp.persist(&path)
                .map_err(|e| io_error(std::path::Path::new(&path), "write", e.error))?;
            Ok(())
        }
        Target::Remote { session, .. } => session.upload(&path, text.as_bytes(), 0o600).await,
    }
}

/// Every backup of an addon, oldest first; a manifest that does not read is
/// skipped (a half-written one cannot exist: they are renamed into place).
pub async fn list(target: &Target, dir: &str) -> Result<Vec<Manifest>> {
    let out = run::vm_sh(target, run::LIST_SCRIPT, &[dir.to_string()], &[]).await?;
    if !out.success() {
        return Err(UserError::new(format!(
            "cannot list the backups in {dir}: {}",
            out.stderr.trim()
        )));
    }
    let mut all: Vec<Manifest> = out
        .stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    all.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
    Ok(all)
}

/// Parses inventory lines `kind<TAB>name<TAB>value`; returns the inventory
/// and the `snapshot` line's value.
pub fn parse_inventory(lines: &[String]) -> (Inventory, Option<String>) {
    let mut inv = Inventory::new();
    let mut snapshot = None;
    for line in lines {
        let mut cols = line.splitn(3, '\t');
        let (Some(kind), Some(name)) = (cols.next(), cols.next()) else {
            continue;
        };
        let value = cols.next().unwrap_or("").trim().to_string();
        if kind == "snapshot" {
            snapshot = Some(name.to_string());
            continue;
        }
        inv.insert(format!("{kind} {name}"), value);
    }
    (inv, snapshot)
}

/// The first difference between what the source held at dump time (`before`,
/// and `after` when it was taken twice) and the restored copy; None when the
/// copy matches. A value that changed during the dump may lie between the
/// two readings.
pub fn first_difference(
    before: &Inventory,
    after: Option<&Inventory>,
    restored: &Inventory,
) -> Option<String> {
    let after = after.unwrap_or(before);
    let keys: BTreeSet<&String> = before
        .keys()
        .chain(after.keys())
        .chain(restored.keys())
        .collect();
    for key in keys {
        let (b, a, r) = (before.get(key), after.get(key), restored.get(key));
        let show = |v: Option<&String>| match v {
            None => "absent".to_string(),
            Some(v) if v.is_empty() => "present".to_string(),
            Some(v) => v.clone(),
        };
        let ok = if b == a {
            r == b
        } else {
            let num = |v: Option<&String>| v.map_or(Some(0), |s| s.parse::<i64>().ok());
            match (num(b), num(a), num(r)) {
                (Some(x), Some(y), Some(z)) => x.min(y) <= z && z <= x.max(y),
                _ => r == b || r == a,
            }
        };
        if !ok {
            let source = if b == a {
                show(b)
            } else {
                format!("{} to {}", show(b), show(a))
            };
            return Some(format!(
                "{key}: {source} in the source at dump time, {} in the restored copy",
                show(r)
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv(items: &[(&str, &str)]) -> Inventory {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_lines_and_the_snapshot() {
        let lines: Vec<String> = [
            "snapshot\t00000003-00000002-1\t",
            "schema\tpublic\t",
            "table\tpublic.t\t42",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let (i, snap) = parse_inventory(&lines);
        assert_eq!(snap.as_deref(), Some("00000003-00000002-1"));
        assert_eq!(i, inv(&[("schema public", ""), ("table public.t", "42")]));
    }

    #[test]
    fn names_the_first_difference() {
        let src = inv(&[("table public.a", "10"), ("table public.b", "5")]);
        assert_eq!(first_difference(&src, None, &src), None);
        let fewer = inv(&[("table public.a", "9"), ("table public.b", "5")]);
        assert_eq!(
            first_difference(&src, None, &fewer).unwrap(),
            "table public.a: 10 in the source at dump time, 9 in the restored copy"
        );
        let missing = inv(&[("table public.a", "10")]);
        assert_eq!(
            first_difference(&src, None, &missing).unwrap(),
            "table public.b: 5 in the source at dump time, absent in the restored copy"
        );
        let extra = inv(&[
            ("schema x", ""),
            ("table public.a", "10"),
            ("table public.b", "5"),
        ]);
        assert!(
            first_difference(&src, None, &extra)
                .unwrap()
                .starts_with("schema x: absent")
        );
    }

    #[test]
    fn a_count_that_moved_during_the_dump_may_lie_between() {
        let before = inv(&[("keys db0", "10")]);
        let after = inv(&[("keys db0", "14")]);
        assert_eq!(
            first_difference(&before, Some(&after), &inv(&[("keys db0", "12")])),
            None
        );
        assert!(first_difference(&before, Some(&after), &inv(&[("keys db0", "15")])).is_some());
        // db1 appeared during the dump: absent or a count up to 3 both fit.
        let after = inv(&[("keys db0", "10"), ("keys db1", "3")]);
        assert_eq!(first_difference(&before, Some(&after), &before), None);
    }
}
