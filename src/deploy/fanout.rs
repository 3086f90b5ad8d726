//! Many VMs in one command: which VMs `--vm` selects (names, globs, a
//! comma list), at most `--parallel` of them worked on at once, each
//! failing alone, and one error at the end naming every VM that failed
//! and the command that retries just those.

use std::future::Future;

use futures_util::StreamExt;

use crate::config::{Config, Vm};
use crate::error::{Result, UserError};

/// The VMs `filter` selects, in config order: `core`, `web-*`, `db,web-?`.
/// Each word must match at least one VM.
pub fn select_vms<'a>(config: &'a Config, filter: Option<&str>) -> Result<Vec<&'a Vm>> {
    let Some(filter) = filter else {
        return Ok(config.vms.values().collect());
    };
    let words: Vec<&str> = filter
        .split(',')
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .collect();
    if words.is_empty() {
        return Err(UserError::new("--vm names no VM")
            .hint(crate::config::hint_choices("VMs", config.vms.keys())));
    }
    for w in &words {
        let pattern = wildmatch::WildMatch::new(w);
        if !config.vms.keys().any(|name| pattern.matches(name)) {
            let what = if w.contains(['*', '?']) {
                format!("no VM matches \"{w}\"")
            } else {
                format!("unknown VM \"{w}\"")
            };
            return Err(
                UserError::new(what).hint(crate::config::hint_choices("VMs", config.vms.keys()))
            );
        }
    }
    let patterns: Vec<wildmatch::WildMatch> =
        words.iter().map(|w| wildmatch::WildMatch::new(w)).collect();
    Ok(config
        .vms
        .values()
        .filter(|vm| patterns.iter().any(|p| p.matches(&vm.name)))
        .collect())
}

/// Runs the futures (one per VM), at most `parallel` at once, and gives
/// their outcomes in the same order. One failing stops nothing else.
/// A VM that finishes frees its slot at once (`buffer_unordered`): with
/// `buffered`, a slot stayed taken until every VM before it in config
/// order had finished, so a slow first VM held back the rest.
/// A Vec, not an iterator: a lazy `map` closure inside the stream would
/// make the caller's future fail to be `Send` (rustc's higher-ranked
/// closure limitation), and tokio::spawn needs `Send`.
pub async fn bounded<F: Future>(runs: Vec<F>, parallel: usize) -> Vec<F::Output> {
    let indexed: Vec<_> = runs
        .into_iter()
        .enumerate()
        .map(|(i, run)| async move { (i, run.await) })
        .collect();
    let mut done: Vec<(usize, F::Output)> = futures_util::stream::iter(indexed)
        .buffer_unordered(parallel.max(1))
        .collect()
        .await;
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, out)| out).collect()
}

/// The error of a command some VMs failed in: one line per failed VM (its
/// first line of error), how many succeeded, and the retry of just those.
pub fn failed_vms(
    operation: &str,
    project: &str,
    total: usize,
    failed: Vec<(String, UserError)>,
) -> UserError {
    if failed.len() == 1 && total == 1 {
        let (_, e) = failed.into_iter().next().expect("one");
        return e;
    }
    let names: Vec<String> = failed.iter().map(|(vm, _)| vm.clone()).collect();
    let mut message = format!(
        "{operation} failed on {} of {total} VMs ({} done):",
        failed.len(),
        total - failed.len()
    );
    for (vm, e) in &failed {
        let first = e.message.lines().next().unwrap_or_default();
        let first = first.strip_prefix(&format!("VM {vm}: ")).unwrap_or(first);
        message.push_str(&format!("\n  VM {vm}: {first}"));
    }
    let mut hint = format!(
        "fix them, then: sdtui -p {project} {operation} --vm {}",
        names.join(",")
    );
    if let Some(h) = failed.iter().find_map(|(_, e)| e.hint.clone()) {
        hint = format!("{h}; {hint}");
    }
    UserError::new(message).hint(hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(names: &[&str]) -> Config {
        let mut text = String::from("vms:\n");
        for n in names {
            text.push_str(&format!("  {n}:\n    host: 127.0.0.1\n"));
        }
        crate::config::parse(
            std::path::Path::new("config.yml"),
            &text,
            &crate::catalog::Catalog::load(None).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn names_globs_and_lists_select_vms_in_config_order() {
        let c = config(&["db", "web-1", "web-2", "web-10", "cache"]);
        let names = |f: Option<&str>| -> Vec<String> {
            select_vms(&c, f)
                .unwrap()
                .iter()
                .map(|v| v.name.clone())
                .collect()
        };
        assert_eq!(names(None).len(), 5);
        assert_eq!(names(Some("web-*")), ["web-1", "web-2", "web-10"]);
        assert_eq!(names(Some("web-?")), ["web-1", "web-2"]);
        assert_eq!(names(Some("cache, db")), ["db", "cache"]);
        let e = select_vms(&c, Some("web-*,api-*")).unwrap_err();
        assert!(
            e.message.contains("no VM matches \"api-*\""),
            "{}",
            e.message
        );
        let e = select_vms(&c, Some("dbx")).unwrap_err();
        assert!(e.message.contains("unknown VM \"dbx\""));
        assert!(select_vms(&c, Some(" , ")).is_err());
    }

    /// A slow first VM does not hold a slot the others could use, and the
    /// outcomes still come back in the order given.
    #[tokio::test]
    async fn a_finished_vm_frees_its_slot_at_once() {
        use std::sync::Mutex;
        use std::time::Duration;
        let finished: Mutex<Vec<usize>> = Mutex::new(Vec::new());
        let finished = &finished;
        let runs: Vec<_> = [400u64, 10, 10, 10]
            .into_iter()
            .enumerate()
            .map(|(i, ms)| async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                finished.lock().unwrap().push(i);
                i * 10
            })
            .collect();
        assert_eq!(bounded(runs, 2).await, [0, 10, 20, 30]);
        // VMs 2 and 3 took VM 1's slot while VM 0 still ran (in order,
        // they would have waited for VM 0 to end).
        assert_eq!(*finished.lock().unwrap(), [1, 2, 3, 0]);
    }

    #[test]
    fn the_error_names_each_failed_vm_and_the_retry() {
        let e = failed_vms(
            "up",
            "shop",
            5,
            vec![
                ("b".into(), UserError::new("VM b: connection refused\nmore")),
                (
                    "d".into(),
                    UserError::new("host key unknown").hint("trust it"),
                ),
            ],
        );
        assert_eq!(
            e.message,
            "up failed on 2 of 5 VMs (3 done):\n  VM b: connection refused\n  VM d: host key unknown"
        );
        assert_eq!(
            e.hint.as_deref(),
            Some("trust it; fix them, then: sdtui -p shop up --vm b,d")
        );
    }
}
