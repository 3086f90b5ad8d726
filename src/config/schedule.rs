//! `backup: {every, keep}` on an addon: when its backup service fires (a
//! 5-field cron expression, UTC) and how many good scheduled backups stay.
//! Parsing is croner's; the expression is also expanded into one value
//! list per field, which is what the generated script on the VM checks
//! against `date -u` once a minute (the addon's image has no cron).

use std::str::FromStr;

use serde::Serialize;

/// `daily`: 03:00 UTC, a quiet hour in most of Europe and the Americas.
pub const DAILY: &str = "0 3 * * *";
/// `hourly`: on the hour.
pub const HOURLY: &str = "0 * * * *";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupSchedule {
    /// As written: `daily`, `hourly` or a cron expression.
    pub every: String,
    /// The 5-field cron expression it means.
    pub cron: String,
    /// How many good scheduled backups are kept.
    pub keep: u32,
}

/// Each field's allowed values, and whether day-of-month and day-of-week
/// were both restricted (then a day matching either fires, as in cron).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields {
    pub minutes: Vec<u16>,
    pub hours: Vec<u16>,
    pub days: Vec<u16>,
    pub months: Vec<u16>,
    /// 0 = Sunday, as `date +%w` prints it.
    pub weekdays: Vec<u16>,
    pub days_any: bool,
    pub weekdays_any: bool,
}

const FIELD_NAMES: [&str; 5] = ["minute", "hour", "day-of-month", "month", "day-of-week"];
const FIELD_RANGES: [&str; 5] = ["0-59", "0-23", "1-31", "1-12", "0-7, 0 and 7 are Sunday"];

fn parser() -> croner::parser::CronParser {
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Disallowed)
        .year(croner::parser::Year::Disallowed)
        .build()
}

/// The cron expression `every` means, or why it means none (naming the
/// field at fault).
pub fn expression(every: &str) -> Result<String, String> {
    let every = every.trim();
    match every {
        "daily" => return Ok(DAILY.into()),
        "hourly" => return Ok(HOURLY.into()),
        _ => {}
    }
    let fields: Vec<&str> = every.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "\"{every}\" has {} field{}; a schedule is `daily`, `hourly` or 5 cron fields (minute hour day-of-month month day-of-week, UTC)",
            fields.len(),
            if fields.len() == 1 { "" } else { "s" }
        ));
    }
    if every.starts_with('@') {
        return Err(format!(
            "\"{every}\": write `daily`, `hourly` or 5 cron fields"
        ));
    }
    if let Err(e) = parser().parse(every) {
        // croner's message does not say which field: parse each alone
        // (the others as `*`) to find it.
        for (i, f) in fields.iter().enumerate() {
            let mut alone = ["*"; 5];
            alone[i] = f;
            if let Err(fe) = parser().parse(&alone.join(" ")) {
                return Err(format!(
                    "the {} field \"{f}\" is not valid ({}): {}",
                    FIELD_NAMES[i],
                    FIELD_RANGES[i],
                    plain(&fe.to_string())
                ));
            }
        }
        return Err(format!(
            "\"{every}\" is not a cron expression: {}",
            plain(&e.to_string())
        ));
    }
    let cron = parser().parse(every).map_err(|e| e.to_string())?;
    if cron.pattern.days.has_modifiers() || cron.pattern.days_of_week.has_modifiers() {
        return Err(format!(
            "\"{every}\" uses L, W or #, which schedules do not support"
        ));
    }
    Ok(fields.join(" "))
}

fn plain(croner_message: &str) -> String {
    croner_message
        .trim_end_matches('.')
        .replace("Component error: ", "")
        .replace("Invalid pattern: ", "")
}

impl BackupSchedule {
    fn parsed(&self) -> croner::Cron {
        // Checked when config.yml was read.
        parser()
            .parse(&self.cron)
            .unwrap_or_else(|_| parser().parse("* * * * *").expect("a valid expression"))
    }

    pub fn fields(&self) -> Fields {
        let c = self.parsed();
        let p = &c.pattern;
        let mut weekdays = p.days_of_week.values();
        weekdays.retain(|d| *d <= 6);
        Fields {
            minutes: p.minutes.values(),
            hours: p.hours.values(),
            days: p.days.values(),
            months: p.months.values(),
            weekdays,
            days_any: p.is_dom_wildcard(),
            weekdays_any: p.is_dow_wildcard(),
        }
    }

    /// The latest time at or before `now` the schedule fired.
    pub fn previous_fire(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        self.parsed().find_previous_occurrence(&now, true).ok()
    }

    /// The first time after `now` it fires.
    pub fn next_fire(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        self.parsed().find_next_occurrence(&now, false).ok()
    }
}

impl FromStr for BackupSchedule {
    type Err = String;
    /// `every` with the default keep (7), for tests and the CLI.
    fn from_str(every: &str) -> Result<Self, String> {
        Ok(BackupSchedule {
            every: every.to_string(),
            cron: expression(every)?,
            keep: 7,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .with_timezone(&chrono::Utc)
    }

    #[test]
    fn names_expand() {
        assert_eq!(expression("daily").unwrap(), DAILY);
        assert_eq!(expression("hourly").unwrap(), HOURLY);
        assert_eq!(expression(" */5  * * * * ").unwrap(), "*/5 * * * *");
    }

    #[test]
    fn errors_name_the_field() {
        let e = expression("61 * * * *").unwrap_err();
        assert!(
            e.starts_with("the minute field \"61\" is not valid (0-59)"),
            "{e}"
        );
        let e = expression("0 3 * 13 *").unwrap_err();
        assert!(e.starts_with("the month field \"13\""), "{e}");
        let e = expression("0 3 * * 9").unwrap_err();
        assert!(e.starts_with("the day-of-week field \"9\""), "{e}");
        let e = expression("0 3 * *").unwrap_err();
        assert!(e.contains("has 4 fields"), "{e}");
        let e = expression("0 3 L * *").unwrap_err();
        assert!(e.contains("L, W or #"), "{e}");
        assert!(expression("often").unwrap_err().contains("has 1 field;"));
    }

    #[test]
    fn fields_and_fire_times() {
        let s: BackupSchedule = "*/20 1-2 * * 0,7".parse().unwrap();
        let f = s.fields();
        assert_eq!(f.minutes, [0, 20, 40]);
        assert_eq!(f.hours, [1, 2]);
        assert_eq!(f.weekdays, [0]);
        assert!(f.days_any && !f.weekdays_any);
        let d: BackupSchedule = "daily".parse().unwrap();
        assert_eq!(
            d.previous_fire(at("2026-11-30T19:10:00Z")),
            Some(at("2026-11-30T03:00:00Z"))
        );
        assert_eq!(
            d.previous_fire(at("2026-11-30T02:59:00Z")),
            Some(at("2026-11-29T03:00:00Z"))
        );
        assert_eq!(
            d.next_fire(at("2026-11-30T03:00:00Z")),
            Some(at("2026-12-01T03:00:00Z"))
        );
    }
}

/// `backup:` as written in config.yml, with positions.
#[derive(serde::Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBackup {
    every: serde_saphyr::Spanned<String>,
    keep: Option<serde_saphyr::Spanned<i64>>,
}

/// Checks an addon's `backup:` against its type; `at` turns a position
/// into the file:line:col the error shows.
pub(super) fn validate(
    raw: &RawBackup,
    id: &str,
    t: &crate::catalog::AddonType,
    at: impl Fn(&serde_saphyr::Location) -> Option<crate::error::SourceSpot>,
) -> crate::error::Result<BackupSchedule> {
    use crate::error::UserError;
    let Some(spec) = &t.backup else {
        return Err(UserError::new(format!(
            "addon {id} has a backup schedule, but its type {} has no backup: section",
            t.name
        ))
        .at(at(&raw.every.referenced))
        .hint(format!(
            "remove `backup:` from {id}, or add backup: (dump, restore, drill_server) to addons/{}/addon.yml; see README.md, \"Backups\"",
            t.name
        )));
    };
    if spec.drill_server.is_none() {
        return Err(UserError::new(format!(
            "addon {id} has a backup schedule, but its type {} has no backup.drill_server, so a scheduled backup could not be proven",
            t.name
        ))
        .at(at(&raw.every.referenced))
        .hint(format!(
            "add backup.drill_server (start, ready, stop) to addons/{}/addon.yml, or take backups by hand: sdtui db backup {id}",
            t.name
        )));
    }
    let cron = expression(&raw.every.value).map_err(|why| {
        UserError::new(format!("backup.every of addon {id}: {why}"))
            .at(at(&raw.every.referenced))
            .hint("write `every: daily` (03:00 UTC), `every: hourly`, or 5 cron fields such as \"*/30 * * * *\" (UTC), quoted")
    })?;
    let keep = match &raw.keep {
        None => 7,
        Some(k) if (1..=10_000).contains(&k.value) => k.value as u32,
        Some(k) => {
            return Err(UserError::new(format!(
                "backup.keep of addon {id} is {}; it must be at least 1",
                k.value
            ))
            .at(at(&k.referenced))
            .hint(
                "keep: how many good scheduled backups stay (1 to 10000); older ones are deleted",
            ));
        }
    };
    Ok(BackupSchedule {
        every: raw.every.value.clone(),
        cron,
        keep,
    })
}
