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
