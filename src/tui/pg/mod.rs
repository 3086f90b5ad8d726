//! The console's Postgres operations on an instance: follow, unfollow,
//! promote, fork, upgrade (and abort an upgrade). `P` on a postgres row, or
//! `:pg VERB ADDON [ARG]`. Each reads the engine's plan first (the same as
//! the CLI's `--dry-run`), shows it for review, and runs only on `y`; the
//! run's steps stream into the dialog and the footer. The work runs in
//! tasks (tasks.rs); drawing is draw.rs.

pub mod draw;
pub mod tasks;

use crossterm::event::{KeyCode, KeyEvent};

use super::app::App;
use super::msg::Request;

/// One Postgres operation, as the palette names it.
#[derive(Debug, Clone, PartialEq)]
pub enum PgOp {
    Follow {
        leader: String,
        name: String,
    },
    Unfollow {
        follower: String,
    },
    Promote {
        follower: String,
    },
    Fork {
        source: String,
        name: String,
    },
    Upgrade {
        source: String,
        version: Option<String>,
    },
    AbortUpgrade {
        source: String,
    },
}

/// The palette's verbs, in the order help lists them.
pub const VERBS: &[&str] = &[
    "follow",
    "unfollow",
    "promote",
    "fork",
    "upgrade",
    "abort-upgrade",
];

impl PgOp {
    /// `:pg VERB [ADDON] [ARG]` → the operation, or what is wrong with
    /// it. Without ADDON (an id has a dot, a name or version has none) the
    /// addon is `selected`, the console's selected row.
    pub fn parse(words: &[String], selected: Option<&str>) -> Result<PgOp, String> {
        let usage = "usage: pg follow|fork [ADDON] NAME · pg unfollow|promote [FOLLOWER] · pg upgrade [ADDON] [VERSION] · pg abort-upgrade [ADDON]";
        let (verb, rest) = words.split_first().ok_or(usage)?;
        let (addon, rest) = match rest.split_first() {
            Some((a, tail)) if a.contains('.') => (a.clone(), tail),
            _ => (
                selected
                    .map(String::from)
                    .ok_or("pg: select a postgres row, or name the instance (databases.main)")?,
                rest,
            ),
        };
        let (verb, arg) = match rest {
            [] => (verb.as_str(), None),
            [x] => (verb.as_str(), Some(x.clone())),
            _ => return Err(usage.into()),
        };
        Ok(match (verb, arg) {
            ("follow", Some(name)) => PgOp::Follow {
                leader: addon,
                name,
            },
            ("fork", Some(name)) => PgOp::Fork {
                source: addon,
                name,
            },
            ("unfollow", None) => PgOp::Unfollow { follower: addon },
            ("promote", None) => PgOp::Promote { follower: addon },
            ("upgrade", version) => PgOp::Upgrade {
                source: addon,
                version,
            },
            ("abort-upgrade", None) => PgOp::AbortUpgrade { source: addon },
            _ => return Err(usage.into()),
        })
    }

    /// The CLI line that does the same: the dialog's title.
    pub fn describe(&self) -> String {
        match self {
            PgOp::Follow { leader, name } => format!("pg follow {leader} --name {name}"),
            PgOp::Unfollow { follower } => format!("pg unfollow {follower}"),
            PgOp::Promote { follower } => format!("pg promote {follower}"),
            PgOp::Fork { source, name } => format!("pg fork {source} --name {name}"),
            PgOp::Upgrade {
                source,
                version: Some(v),
            } => format!("pg upgrade {source} --version {v}"),
            PgOp::Upgrade { source, .. } => format!("pg upgrade {source}"),
            PgOp::AbortUpgrade { source } => format!("pg upgrade {source} --abort"),
        }
    }
}

/// The dialog: the plan, then the run.
pub struct PgDialog {
    pub op: PgOp,
    pub stage: PgStage,
}

pub enum PgStage {
    Planning,
    /// The plan's lines; `runnable` is false when the engine refused it
    /// (the lines say why).
    Review {
        lines: Vec<String>,
        runnable: bool,
        scroll: u16,
    },
    Running {
        steps: Vec<String>,
    },
    Done {
        steps: Vec<String>,
        result: Result<String, String>,
    },
}

/// Work the dialog asks of a task.
#[derive(Debug, Clone)]
pub enum PgRequest {
    Plan(PgOp),
    Run(PgOp),
}

impl PgRequest {
    pub fn describe(&self) -> String {
        match self {
            PgRequest::Plan(op) => format!("plan {}", op.describe()),
            PgRequest::Run(op) => op.describe(),
        }
    }
}

/// Reports of the dialog's tasks.
#[derive(Debug)]
pub enum PgMsg {
    /// The plan's lines, and whether it may run.
    Planned(Result<(Vec<String>, bool), String>),
    Step(String),
    Done(Result<String, String>),
}

impl App {
    /// `:pg VERB ADDON [ARG]` (and `P`'s palette line).
    pub(super) fn open_pg(&mut self, op: PgOp) -> Option<Request> {
        self.pg = Some(PgDialog {
            op: op.clone(),
            stage: PgStage::Planning,
        });
        Some(Request::Pg(PgRequest::Plan(op)))
    }

    pub(super) fn pg_key(&mut self, k: KeyEvent) -> Option<Request> {
        let d = self.pg.as_mut()?;
        match &mut d.stage {
            PgStage::Review {
                runnable, scroll, ..
            } => match k.code {
                KeyCode::Char('y') | KeyCode::Enter if *runnable => {
                    let op = d.op.clone();
                    d.stage = PgStage::Running { steps: vec![] };
                    Some(Request::Pg(PgRequest::Run(op)))
                }
                KeyCode::Down | KeyCode::Char('j') => {
                    *scroll = scroll.saturating_add(1);
                    None
                }
                KeyCode::Up | KeyCode::Char('k') => {
                    *scroll = scroll.saturating_sub(1);
                    None
                }
                KeyCode::Esc | KeyCode::Char('n') | KeyCode::Char('q') => {
                    self.pg = None;
                    None
                }
                _ => None,
            },
            PgStage::Planning => {
                if k.code == KeyCode::Esc {
                    self.pg = None;
                }
                None
            }
            // The run goes on without the dialog; its steps stay on the footer.
            PgStage::Running { .. } => {
                if k.code == KeyCode::Esc {
                    self.message = Some(format!(
                        "{}: still running; its steps show here",
                        d.op.describe()
                    ));
                    self.pg = None;
                }
                None
            }
            PgStage::Done { .. } => {
                self.pg = None;
                None
            }
        }
    }

    pub(super) fn apply_pg(&mut self, msg: PgMsg) -> Option<Request> {
        match msg {
            PgMsg::Planned(result) => {
                let d = self.pg.as_mut()?;
                if !matches!(d.stage, PgStage::Planning) {
                    return None;
                }
                d.stage = match result {
                    Ok((lines, runnable)) => PgStage::Review {
                        lines,
                        runnable,
                        scroll: 0,
                    },
                    Err(e) => PgStage::Done {
                        steps: vec![],
                        result: Err(format!("nothing was changed: {e}")),
                    },
                };
            }
            PgMsg::Step(line) => {
                if let Some(PgDialog {
                    stage: PgStage::Running { steps },
                    ..
                }) = &mut self.pg
                {
                    steps.push(line.clone());
                }
                self.message = Some(line);
            }
            PgMsg::Done(result) => {
                self.message = Some(match &result {
                    Ok(s) => s.clone(),
                    Err(e) => e.lines().next().unwrap_or_default().to_string(),
                });
                if let Some(d) = self.pg.as_mut()
                    && let PgStage::Running { steps } = &mut d.stage
                {
                    d.stage = PgStage::Done {
                        steps: std::mem::take(steps),
                        result,
                    };
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn the_palette_words_name_one_operation() {
        assert_eq!(
            PgOp::parse(&words("follow databases.main replica"), None),
            Ok(PgOp::Follow {
                leader: "databases.main".into(),
                name: "replica".into()
            })
        );
        assert_eq!(
            PgOp::parse(&words("upgrade databases.main"), None),
            Ok(PgOp::Upgrade {
                source: "databases.main".into(),
                version: None
            })
        );
        // Without an id: the selected row.
        assert_eq!(
            PgOp::parse(&words("upgrade 17"), Some("databases.main")),
            Ok(PgOp::Upgrade {
                source: "databases.main".into(),
                version: Some("17".into())
            })
        );
        assert!(PgOp::parse(&words("promote"), None).is_err());
        assert!(PgOp::parse(&words("follow databases.main"), None).is_err());
        assert!(PgOp::parse(&words("promote databases.a b"), None).is_err());
        assert!(PgOp::parse(&words("explode databases.main"), None).is_err());
    }
}
