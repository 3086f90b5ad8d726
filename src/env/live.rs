//! What the console's Environments pane shows of each environment: its
//! live state per addon (read from its VMs' engines, one environment's
//! unreachable VM never hiding the others'), and its effective
//! configuration as lines a view can mask and reveal one by one.

use crate::engine::{Project, Workspace};
use crate::error::{Result, UserError};

use super::ops::{self, EnvStatusRow};

/// One environment's live state, or why it could not be read.
#[derive(Debug, Clone)]
pub struct EnvLive {
    pub env: String,
    pub rows: std::result::Result<Vec<EnvStatusRow>, String>,
}

impl EnvLive {
    /// `up`, `down`, `partly up (1/2)`, `no addons` or `unknown: why`.
    pub fn state(&self) -> String {
        match &self.rows {
            Ok(rows) => ops::state_word(rows),
            Err(e) => format!("unknown: {e}"),
        }
    }
}

/// Every environment of the project, each read from its VMs at once.
pub async fn live(ws: &Workspace, project: &Project) -> Result<Vec<EnvLive>> {
    let envs = ops::selected(ws, project, None)?;
    let read = futures_util::future::join_all(envs.iter().map(|env| async move {
        let scoped = ws.environment(project, &env.name)?;
        let rows = crate::deploy::status(ws, &scoped, None).await?;
        Ok::<_, UserError>(ops::rows_of(env, &rows))
    }))
    .await;
    Ok(envs
        .iter()
        .zip(read)
        .map(|(env, rows)| EnvLive {
            env: env.name.clone(),
            rows: rows.map_err(|e| e.message.lines().next().unwrap_or_default().to_string()),
        })
        .collect())
}

/// A line of the effective configuration; a secret carries its value
/// apart, so a view shows the mask until asked.
#[derive(Clone)]
pub struct ConfigLine {
    pub text: String,
    pub secret: Option<String>,
}

impl std::fmt::Debug for ConfigLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never a secret's value, even in a crash report.
        write!(
            f,
            "ConfigLine({:?}, secret: {})",
            self.text,
            self.secret.is_some()
        )
    }
}

impl ConfigLine {
    /// The line as shown: its secret in place of the mask when `reveal`.
    pub fn shown(&self, reveal: bool) -> String {
        match &self.secret {
            Some(value) if reveal => [ops::MASK, crate::env::substitute::DRY_RUN_MASK]
                .iter()
                .find(|m| self.text.contains(**m))
                .map(|m| self.text.replacen(m, value, 1))
                .unwrap_or_else(|| self.text.clone()),
            _ => self.text.clone(),
        }
    }
}

/// `env dry-run ENV` as lines, the same table as the CLI prints: every
/// variable, its value (a secret masked in `text`, its value beside, on
/// the variable's first line) and each file:line:col where it lands.
pub fn dry_run_lines(ws: &Workspace, project: &Project, env: &str) -> Result<Vec<ConfigLine>> {
    use crate::env::export::{dry_run_rows_of, no_files};
    use crate::env::substitute::{DRY_RUN_MASK, render_dry_run};
    let plain = |text: &str| ConfigLine {
        text: text.to_string(),
        secret: None,
    };
    let (Some(masked), Some(shown)) = (
        dry_run_rows_of(ws, project, env, false)?,
        dry_run_rows_of(ws, project, env, true)?,
    ) else {
        return Ok(no_files(env).lines().map(plain).collect());
    };
    let text = render_dry_run(&masked);
    let mut lines = text.lines();
    // The header (or the one line saying no variable is used).
    let mut out: Vec<ConfigLine> = lines.next().map(plain).into_iter().collect();
    // The same rows in the same order, revealed or not: a secret's value
    // is the revealed row's.
    for (row, open) in masked.iter().zip(&shown) {
        for i in 0..row.places.len() {
            let Some(text) = lines.next() else { break };
            out.push(ConfigLine {
                text: text.to_string(),
                secret: (i == 0 && row.shown == DRY_RUN_MASK).then(|| open.shown.clone()),
            });
        }
    }
    out.extend(lines.map(plain));
    Ok(out)
}

/// `env config ENV` as lines, the same facts as the CLI prints; secrets
/// masked in `text`, their values beside.
pub fn config_lines(ws: &Workspace, project: &Project, env: &str) -> Result<Vec<ConfigLine>> {
    let c = ops::effective(ws, project, env)?;
    let scoped = ws.environment(project, env)?;
    let secrets = ws.load(&scoped)?.generated.secrets;
    let plain = |text: String| ConfigLine { text, secret: None };
    let mut out = vec![
        plain(format!(
            "environment {} of project {}",
            c.environment, c.project
        )),
        plain(format!("folder: {}", c.folder)),
    ];
    for (vm, compose) in &c.compose_projects {
        out.push(plain(format!("VM {vm}: compose project {compose}")));
    }
    out.push(plain("addons:".into()));
    for a in &c.addons {
        out.push(plain(format!(
            "  {} ({}): {} {} plan {} on VM {}",
            a.id, a.source, a.type_name, a.version, a.plan, a.vm
        )));
        for (k, v) in &a.options {
            out.push(plain(format!("    option {k} = {v}")));
        }
        let name = a.id.rsplit('.').next().unwrap_or(&a.id);
        for (k, v) in &a.credentials {
            let secret = (v == ops::MASK)
                .then(|| {
                    secrets
                        .get(&a.type_name)
                        .and_then(|m| m.get(name))
                        .and_then(|kv| kv.get(k))
                        .cloned()
                })
                .flatten();
            out.push(ConfigLine {
                text: format!("    {k}: {v}"),
                secret,
            });
        }
    }
    if c.variables.is_empty() {
        out.push(plain("variables: none".into()));
    } else {
        out.push(plain("variables:".into()));
        for (k, v) in &c.variables {
            out.push(plain(format!("  {k}={v}")));
        }
    }
    let file =
        |f: &crate::config::UserFile| format!("{} (config.yml:{})", f.path.display(), f.line);
    if c.init.is_empty() {
        out.push(plain("init: none".into()));
    } else {
        out.push(plain(format!("init (timeout {} s):", c.init_timeout_s)));
        for f in &c.init {
            out.push(plain(format!("  {}", file(f))));
        }
    }
    out.push(plain(match &c.deployment {
        Some(f) => format!("deployment: {}", file(f)),
        None => "deployment: none".into(),
    }));
    Ok(out)
}
