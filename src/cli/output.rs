//! How results reach the terminal: tables, `--json`, progress on stderr.

use super::*;

pub(crate) fn print_json<T: serde::Serialize + ?Sized>(value: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// A long operation's steps, as they happen, on stderr (stdout stays the
/// result, for pipes and `--json`).
pub(crate) fn progress(line: String) {
    eprintln!("{line}");
}

/// The name of what is about to lose data, typed back: `--confirm NAME`,
/// else asked on a terminal; with neither, `doing` is refused.
pub(crate) fn typed_back(confirm: Option<String>, name: &str, doing: &str) -> Result<String> {
    use std::io::{BufRead, IsTerminal, Write};
    match confirm {
        Some(c) => Ok(c),
        None if std::io::stdin().is_terminal() => {
            eprint!("type {name} to go on: ");
            std::io::stderr().flush().ok();
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).ok();
            Ok(line.trim().to_string())
        }
        None => Err(crate::error::UserError::new(format!(
            "{doing} needs {name} typed back; nothing was touched"
        ))
        .hint(format!("add --confirm {name}"))),
    }
}

/// Steps of a command over many VMs: on a terminal, one line per VM that
/// updates in place (`VM web-07: compose up`), finished with its outcome;
/// piped, the plain lines of [`progress`].
pub(crate) struct VmProgress {
    multi: Option<indicatif::MultiProgress>,
    bars: std::sync::Mutex<indexmap::IndexMap<String, indicatif::ProgressBar>>,
}

impl VmProgress {
    pub(crate) fn new() -> VmProgress {
        VmProgress {
            multi: std::io::IsTerminal::is_terminal(&std::io::stderr())
                .then(indicatif::MultiProgress::new),
            bars: Default::default(),
        }
    }

    pub(crate) fn line(&self, line: String) {
        let Some(multi) = &self.multi else {
            return progress(line);
        };
        let Some((vm, step)) = line.strip_prefix("VM ").and_then(|l| l.split_once(": ")) else {
            let _ = multi.println(line);
            return;
        };
        let Ok(mut bars) = self.bars.lock() else {
            return progress(line);
        };
        let bar = bars.entry(vm.to_string()).or_insert_with(|| {
            let bar = multi.add(indicatif::ProgressBar::new_spinner());
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} VM {prefix}: {wide_msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            bar.set_prefix(vm.to_string());
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        if step.starts_with("done") || step.starts_with("FAILED") {
            bar.finish_with_message(step.to_string());
        } else {
            bar.set_message(step.to_string());
        }
    }
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| UserError::new(format!("cannot start the async runtime: {e}")))
}

pub(super) fn print_reports(reports: &[crate::deploy::ServiceReport], json: bool) {
    if json {
        print_json(&reports);
        return;
    }
    let rows: Vec<Vec<String>> = reports
        .iter()
        .map(|r| {
            vec![
                r.vm.clone(),
                r.service.clone(),
                format!("{:?}", r.action).to_lowercase(),
                r.health.clone(),
                r.container_id.clone(),
            ]
        })
        .collect();
    table(&["VM", "SERVICE", "RESULT", "HEALTH", "CONTAINER"], &rows);
    // Which Compose ran on each VM, once per VM, below the table.
    let mut told = std::collections::BTreeSet::new();
    for r in reports {
        if let Some(compose) = &r.compose
            && told.insert(&r.vm)
        {
            if told.len() == 1 {
                println!();
            }
            println!("VM {}: {compose}", r.vm);
        }
    }
}

pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let s: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        println!("{}", s.join("  ").trim_end());
    };
    line(headers.iter().map(|s| s.to_string()).collect());
    line(widths.iter().map(|w| "─".repeat(*w)).collect());
    for r in rows {
        line(r.clone());
    }
}
