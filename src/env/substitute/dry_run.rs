//! What `env dry-run` shows: every variable used, its value (a secret one
//! masked unless revealed) and each file:line:col where it lands.

use super::{Occurrence, Variables};

pub const MASK: &str = "••••••";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DryRunRow {
    pub name: String,
    /// What lands in the file, as shown: the value, `••••••`, or
    /// `(default) text` when the file's default was used.
    pub shown: String,
    /// `file:line:col` of each place, in file order.
    pub places: Vec<String>,
}

/// One row per variable and what it resolved to (a variable can resolve to
/// its value in one place and to a default in another), sorted by name.
pub fn dry_run_rows(
    occurrences: &[Occurrence],
    variables: &Variables,
    reveal: bool,
) -> Vec<DryRunRow> {
    let mut rows: Vec<DryRunRow> = Vec::new();
    for o in occurrences {
        let shown = match (&o.default_used, variables.get(&o.name)) {
            (Some(default), _) => format!("(default) {}", printable(default)),
            (None, Some(v)) if v.secret && !reveal => MASK.to_string(),
            (None, Some(v)) => printable(&v.value),
            // substitute() refuses an unresolved variable; kept total anyway.
            (None, None) => "(unset)".to_string(),
        };
        let place = format!("{}:{}:{}", o.file.display(), o.line, o.column);
        match rows
            .iter_mut()
            .find(|r| r.name == o.name && r.shown == shown)
        {
            Some(row) => row.places.push(place),
            None => rows.push(DryRunRow {
                name: o.name.clone(),
                shown,
                places: vec![place],
            }),
        }
    }
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    rows
}

/// Control characters and line breaks shown escaped, so a row stays a row.
fn printable(value: &str) -> String {
    value.escape_debug().to_string()
}

/// A plain-text table: VARIABLE, VALUE, WHERE; one line per place.
pub fn render_dry_run(rows: &[DryRunRow]) -> String {
    if rows.is_empty() {
        return "no variables are used in these files\n".to_string();
    }
    let name_w = rows
        .iter()
        .map(|r| r.name.chars().count())
        .chain(["VARIABLE".len()])
        .max()
        .unwrap_or(8);
    let value_w = rows
        .iter()
        .map(|r| r.shown.chars().count())
        .chain(["VALUE".len()])
        .max()
        .unwrap_or(5);
    let mut out = String::new();
    let mut line = |a: &str, b: &str, c: &str| {
        let pad_a = name_w - a.chars().count();
        let pad_b = value_w - b.chars().count();
        let text = format!("{a}{}  {b}{}  {c}", " ".repeat(pad_a), " ".repeat(pad_b));
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line("VARIABLE", "VALUE", "WHERE");
    for row in rows {
        for (i, place) in row.places.iter().enumerate() {
            if i == 0 {
                line(&row.name, &row.shown, place);
            } else {
                line("", "", place);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::substitute::{Target, Variable, substitute};
    use std::path::Path;

    fn vars() -> Variables {
        let mut v = Variables::new();
        let mut put = |k: &str, val: &str, secret: bool| {
            v.insert(
                k.into(),
                Variable {
                    value: val.into(),
                    secret,
                },
            );
        };
        put("DB_PASSWORD", "s3cr3t-pw", true);
        put("DB_HOST", "127.0.2.3", false);
        put("EMPTY", "", false);
        v
    }

    const FILE: &str = "services:
  api:
    image: shop/api
    environment:
      PASSWORD: ${DB_PASSWORD}
      URL: postgres://app:${DB_PASSWORD}@${DB_HOST}/shop
      MODE: ${EMPTY:-debug}
";

    #[test]
    fn rows_mask_secrets_and_list_every_place() {
        let s = substitute(Path::new("deploy/app.yml"), FILE, &vars(), Target::Compose).unwrap();
        let rows = dry_run_rows(&s.occurrences, &vars(), false);
        assert_eq!(
            rows,
            vec![
                DryRunRow {
                    name: "DB_HOST".into(),
                    shown: "127.0.2.3".into(),
                    places: vec!["deploy/app.yml:6:42".into()],
                },
                DryRunRow {
                    name: "DB_PASSWORD".into(),
                    shown: MASK.into(),
                    places: vec!["deploy/app.yml:5:17".into(), "deploy/app.yml:6:27".into()],
                },
                DryRunRow {
                    name: "EMPTY".into(),
                    shown: "(default) debug".into(),
                    places: vec!["deploy/app.yml:7:13".into()],
                },
            ]
        );
        let table = render_dry_run(&rows);
        assert!(!table.contains("s3cr3t"), "{table}");
        assert_eq!(
            table,
            "VARIABLE     VALUE            WHERE
DB_HOST      127.0.2.3        deploy/app.yml:6:42
DB_PASSWORD  ••••••           deploy/app.yml:5:17
                              deploy/app.yml:6:27
EMPTY        (default) debug  deploy/app.yml:7:13
"
        );
    }

    #[test]
    fn reveal_shows_the_secret() {
        let s = substitute(Path::new("a.yml"), FILE, &vars(), Target::Compose).unwrap();
        let table = render_dry_run(&dry_run_rows(&s.occurrences, &vars(), true));
        assert!(table.contains("DB_PASSWORD  s3cr3t-pw"), "{table}");
    }

    #[test]
    fn a_value_with_a_line_break_stays_on_its_row() {
        let mut v = vars();
        v.insert(
            "DB_HOST".into(),
            Variable {
                value: "a\nb".into(),
                secret: false,
            },
        );
        let s = substitute(Path::new("a.yml"), FILE, &v, Target::Compose).unwrap();
        let table = render_dry_run(&dry_run_rows(&s.occurrences, &v, false));
        assert!(table.contains("DB_HOST      a\\nb"), "{table}");
        assert_eq!(table.lines().count(), 5);
    }
}
