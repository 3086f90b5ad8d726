//! Each addon's last backup and a verdict on it, for `status` and the
//! console: read from the manifests and the backup service's status file
//! in the addon's backups folder on its VM (over SSH for a remote VM).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::store::{self, Manifest};
use crate::config::Addon;
use crate::config::schedule::BackupSchedule;
use crate::deploy::target::{Connected, Target};
use crate::engine::backup_service::STATUS_FILE;
use crate::engine::{Project, Workspace};
use crate::error::Result;

/// How late a scheduled backup may be before it is overdue: a dump and its
/// drill take minutes on a big database, and the service checks the clock
/// once a minute.
pub const GRACE: chrono::Duration = chrono::Duration::minutes(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The last attempt made a good backup, and it is not overdue.
    Ok,
    /// No good backup since the schedule last fired (plus `GRACE`).
    Overdue,
    /// The last attempt failed: the dump, or its drill.
    Failed,
    /// No backup yet.
    None,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Overdue => "overdue",
            Verdict::Failed => "failed",
            Verdict::None => "none",
        }
    }
    /// Whether `status` and the console show it as a warning.
    pub fn is_warning(self) -> bool {
        matches!(self, Verdict::Overdue | Verdict::Failed)
    }
}

/// What the backup service writes after each attempt.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScheduleStatus {
    pub at: String,
    /// `ok` or `failed`.
    pub outcome: String,
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LastBackup {
    pub id: String,
    pub created: String,
    pub age_seconds: i64,
    /// `passed`, `failed`, `not run`.
    pub drill: String,
    pub trigger: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Health {
    pub addon: String,
    /// The addon's compose service, as `status` lists it.
    pub service: String,
    pub vm: String,
    /// `every` as written, when the addon has a schedule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<LastBackup>,
    /// When the last good (drill passed) backup was made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_good: Option<String>,
    pub verdict: Verdict,
    /// Why it failed, or since when it is overdue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

fn parse_time(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// The verdict on one addon from its manifests (oldest first) and the
/// service's last status, at `now`. Pure, so every case is tested.
pub fn judge(
    addon: &Addon,
    manifests: &[Manifest],
    status: Option<&ScheduleStatus>,
    now: chrono::DateTime<chrono::Utc>,
) -> Health {
    let last = manifests.last();
    let last_good = manifests.iter().rev().find(|m| m.drill.passed());
    let good_at = last_good.and_then(|m| parse_time(&m.created));
    let mut health = Health {
        addon: addon.id(),
        service: addon.service(),
        vm: addon.vm.clone(),
        schedule: addon.backup.as_ref().map(|b| b.every.clone()),
        last: last.map(|m| LastBackup {
            id: m.id.clone(),
            created: m.created.clone(),
            age_seconds: parse_time(&m.created).map_or(0, |t| (now - t).num_seconds()),
            drill: m.drill.status.clone(),
            trigger: m.trigger.clone(),
        }),
        last_good: last_good.map(|m| m.created.clone()),
        verdict: Verdict::None,
        detail: None,
    };
    // The newest attempt decides "failed": a failed dump leaves only the
    // status file, a failed drill a manifest too.
    let failed_status = status.filter(|s| {
        s.outcome == "failed" && parse_time(&s.at).is_some_and(|at| good_at.is_none_or(|g| at >= g))
    });
    let failed_manifest = last.filter(|m| m.drill.status == "failed");
    if let Some(s) = failed_status {
        health.verdict = Verdict::Failed;
        health.detail = Some(format!("{}: {}", s.at, s.detail));
        return health;
    }
    if let Some(m) = failed_manifest {
        health.verdict = Verdict::Failed;
        health.detail = Some(format!(
            "the drill of {} failed: {}",
            m.id,
            m.drill.detail.clone().unwrap_or_default()
        ));
        return health;
    }
    if last.is_none() && status.is_none() {
        return health;
    }
    if let Some(due) = addon
        .backup
        .as_ref()
        .and_then(|b| overdue_since(b, good_at, now))
    {
        health.verdict = Verdict::Overdue;
        health.detail = Some(format!(
            "no good backup since the schedule fired at {}",
            due.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ));
        return health;
    }
    health.verdict = if good_at.is_some() {
        Verdict::Ok
    } else {
        Verdict::None
    };
    health
}

/// The fire time a good backup is missing for, if any: the latest one at
/// least `GRACE` ago, when the last good backup is older than it.
fn overdue_since(
    schedule: &BackupSchedule,
    good_at: Option<chrono::DateTime<chrono::Utc>>,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let due = schedule.previous_fire(now - GRACE)?;
    match good_at {
        Some(g) if g >= due => None,
        _ => Some(due),
    }
}

/// The service's status file in an addon's backups folder, if any.
pub async fn read_status(target: &Target, dir: &str) -> Result<Option<ScheduleStatus>> {
    let out = super::run::vm_sh(
        target,
        "f=\"$1/$2\"; [ -f \"$f\" ] || exit 0; cat \"$f\"",
        &[dir.to_string(), STATUS_FILE.to_string()],
        &[],
    )
    .await?;
    Ok(serde_json::from_str(out.stdout.trim()).ok())
}

/// The health of every addon with a backup section (or one VM's), one
/// connection per VM.
pub async fn project_health(
    ws: &Workspace,
    project: &Project,
    vm_filter: Option<&str>,
) -> Result<Vec<Health>> {
    let loaded = ws.load(project)?;
    let mut by_vm: BTreeMap<&str, Vec<&Addon>> = BTreeMap::new();
    for a in &loaded.config.addons {
        let backs_up = ws
            .catalog
            .get(&a.type_name)
            .is_some_and(|t| t.backup.is_some());
        if backs_up && vm_filter.is_none_or(|v| v == a.vm) {
            by_vm.entry(a.vm.as_str()).or_default().push(a);
        }
    }
    let now = chrono::Utc::now();
    let mut out = Vec::new();
    for (vm, addons) in by_vm {
        let conn = Connected::open(ws, project, &loaded.config.vms[vm]).await?;
        for a in addons {
            let dir = store::folder(&conn.target, project, &a.id());
            let manifests = store::list(&conn.target, &dir).await?;
            let status = read_status(&conn.target, &dir).await?;
            out.push(judge(a, &manifests, status.as_ref(), now));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::store::Drill;

    fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
        parse_time(s).unwrap()
    }

    fn addon(every: Option<&str>) -> Addon {
        Addon {
            category: "databases".into(),
            name: "main".into(),
            type_name: "postgres".into(),
            version: "15".into(),
            plan: "small".into(),
            options: Default::default(),
            vm: "local".into(),
            image: None,
            port: None,
            publish: crate::catalog::Publish::Private,
            backup: every.map(|e| e.parse().unwrap()),
            follows: None,
            state: Default::default(),
            system: false,
        }
    }

    fn manifest(created: &str, drill: &str) -> Manifest {
        Manifest {
            id: format!("main-{created}"),
            addon: "databases.main".into(),
            type_name: "postgres".into(),
            image: "postgres:15".into(),
            vm: "local".into(),
            file: "x.pgdump".into(),
            created: created.into(),
            size: 1,
            sha256: String::new(),
            dump_seconds: 0.0,
            inventory: Default::default(),
            inventory_after: None,
            drill: Drill {
                status: drill.into(),
                detail: (drill == "failed").then(|| "table public.t: 5 ... 4".into()),
                checked: 1,
                seconds: 1.0,
            },
            trigger: "schedule".into(),
        }
    }

    #[test]
    fn verdicts() {
        let now = at("2026-11-30T12:30:00Z");
        let hourly = addon(Some("hourly"));
        // Nothing yet.
        assert_eq!(judge(&hourly, &[], None, now).verdict, Verdict::None);
        // A good one since the last fire (12:00, more than GRACE ago).
        let good = [manifest("2026-11-30T12:00:05Z", "passed")];
        let h = judge(&hourly, &good, None, now);
        assert_eq!(h.verdict, Verdict::Ok, "{h:?}");
        assert_eq!(h.last.unwrap().age_seconds, 1795);
        // The last good one is from 11:00: the 12:00 one is missing.
        let old = [manifest("2026-11-30T11:00:05Z", "passed")];
        let h = judge(&hourly, &old, None, now);
        assert_eq!(h.verdict, Verdict::Overdue);
        assert!(h.detail.unwrap().contains("12:00:00Z"));
        // ... but at 12:05 it is still within the grace period.
        assert_eq!(
            judge(&hourly, &old, None, at("2026-11-30T12:05:00Z")).verdict,
            Verdict::Ok
        );
        // The newest drill failed: failed, even with a good one before.
        let failed = [
            manifest("2026-11-30T11:00:05Z", "passed"),
            manifest("2026-11-30T12:00:05Z", "failed"),
        ];
        let h = judge(&hourly, &failed, None, now);
        assert_eq!(h.verdict, Verdict::Failed);
        assert!(h.detail.unwrap().contains("table public.t"));
        // A failed dump leaves only the status file.
        let down = ScheduleStatus {
            at: "2026-11-30T12:00:01Z".into(),
            outcome: "failed".into(),
            id: "main-20261130T120001Z".into(),
            detail: "the dump failed (exit 1)".into(),
        };
        let h = judge(&hourly, &old, Some(&down), now);
        assert_eq!(h.verdict, Verdict::Failed);
        assert!(h.detail.unwrap().contains("exit 1"));
        // A good backup after that failure clears it.
        assert_eq!(judge(&hourly, &good, Some(&down), now).verdict, Verdict::Ok);
        // Manual backups only: never overdue.
        assert_eq!(judge(&addon(None), &old, None, now).verdict, Verdict::Ok);
    }
}
