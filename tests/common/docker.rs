//! Helpers for tests that run containers on the real engine.
#![allow(dead_code)]

use std::process::Command;

/// Removes everything a test's compose project left on the engine, even
/// when the test fails.
pub struct Cleanup(pub String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let label = format!("label=com.docker.compose.project={}", self.0);
        for (list, rm) in [
            (
                vec!["ps", "-aq", "--filter", &label],
                vec!["rm", "-f", "-v"],
            ),
            (
                vec!["volume", "ls", "-q", "--filter", &label],
                vec!["volume", "rm", "-f"],
            ),
            (
                vec!["network", "ls", "-q", "--filter", &label],
                vec!["network", "rm"],
            ),
        ] {
            let out = Command::new("docker").args(&list).output().unwrap();
            let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .map(str::to_string)
                .collect();
            if rm[0] == "network" {
                // A network another test project's container still joins
                // (an environment's deployment on its addons' network)
                // would stay behind, and leaked networks use up the
                // engine's address pools: let go of it first.
                for id in &ids {
                    let out = Command::new("docker")
                        .args(["network", "inspect", "-f"])
                        .arg("{{range $id, $c := .Containers}}{{$id}} {{end}}")
                        .arg(id)
                        .output()
                        .unwrap();
                    for c in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                        let _ = Command::new("docker")
                            .args(["network", "disconnect", "-f", id, c])
                            .output();
                    }
                }
            }
            if !ids.is_empty() {
                let _ = Command::new("docker").args(&rm).args(&ids).output();
            }
        }
    }
}

/// Runs the docker CLI: (success, stdout + stderr).
pub fn docker(args: &[&str]) -> (bool, String) {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("the docker CLI must be installed");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

pub fn require_images(images: &[&str]) {
    for image in images {
        let (found, _) = docker(&["image", "inspect", image]);
        assert!(
            found,
            "image {image} is missing: run tests/images/build.sh (tests/run does)"
        );
    }
}

/// The running container of a compose service, found by labels.
pub fn container(compose_project: &str, service: &str) -> String {
    let (_, out) = docker(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=com.docker.compose.project={compose_project}"),
        "--filter",
        &format!("label=com.docker.compose.service={service}"),
    ]);
    out.trim().to_string()
}

/// (service, result) rows of an `up` report table (which ends at the
/// blank line before the Compose lines).
pub fn results(out: &str) -> Vec<(String, String)> {
    out.lines()
        .skip(2)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            (cols.len() >= 3).then(|| (cols[1].to_string(), cols[2].to_string()))
        })
        .collect()
}

/// psql that may fail: (succeeded, output). Unaligned, tuples only.
pub fn try_psql(pg: &str, user: &str, db: &str, sql: &str) -> (bool, String) {
    docker(&[
        "exec",
        pg,
        "psql",
        "-X",
        "-At",
        "-v",
        "ON_ERROR_STOP=1",
        "-U",
        user,
        "-d",
        db,
        "-c",
        sql,
    ])
}

/// One SQL statement through psql inside a postgres container, as `user`
/// on `db`; fails the test when psql does.
pub fn psql(pg: &str, user: &str, db: &str, sql: &str) -> String {
    let (done, out) = try_psql(pg, user, db, sql);
    assert!(done, "{sql}: {out}");
    out.trim().to_string()
}

/// SQL through an app's own DATABASE_URL, from inside its container (the
/// test app has psycopg2): (succeeded, the first column of the first row).
pub fn app_sql(app: &str, sql: &str) -> (bool, String) {
    docker(&[
        "exec",
        app,
        "python3",
        "-c",
        "import os, sys, psycopg2\nc = psycopg2.connect(os.environ['DATABASE_URL'], connect_timeout=3)\nc.autocommit = True\ncur = c.cursor()\ncur.execute(sys.argv[1])\nprint(cur.fetchone()[0] if cur.description else 'ok')",
        sql,
    ])
}

/// The running container of `service`, if there is one now (an app is
/// recreated at a switch; between two containers there may be none).
pub fn running(compose_project: &str, service: &str) -> Option<String> {
    let id = container(compose_project, service);
    let id = id.lines().next().unwrap_or_default().trim();
    (!id.is_empty()).then(|| id.to_string())
}

/// An app writing throughout: inserts a row into `t` through the `web`
/// app's own DATABASE_URL, again and again, whichever container `web` is
/// now; records each committed id and when it committed.
pub struct Writer {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    committed: std::sync::Arc<std::sync::Mutex<Vec<(i64, std::time::Instant)>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Writer {
    pub fn start(compose_project: &str) -> Writer {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let committed: std::sync::Arc<std::sync::Mutex<Vec<(i64, std::time::Instant)>>> =
            Default::default();
        let thread = {
            let (stop, committed, cp) =
                (stop.clone(), committed.clone(), compose_project.to_string());
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    n += 1;
                    if let Some(app) = running(&cp, "web")
                        && let (true, out) = app_sql(
                            &app,
                            &format!("INSERT INTO t (note) VALUES ('w{n}') RETURNING id"),
                        )
                        && let Ok(id) = out.trim().parse::<i64>()
                    {
                        committed
                            .lock()
                            .unwrap()
                            .push((id, std::time::Instant::now()));
                    } else {
                        std::thread::sleep(std::time::Duration::from_millis(50));
                    }
                }
            })
        };
        Writer {
            stop,
            committed,
            thread: Some(thread),
        }
    }

    pub fn count(&self) -> usize {
        self.committed.lock().unwrap().len()
    }

    /// Waits until `more` rows past what is committed now are committed.
    pub fn wait_for_more(&self, more: usize, within: std::time::Duration) {
        let target = self.count() + more;
        let started = std::time::Instant::now();
        while self.count() < target {
            assert!(
                started.elapsed() < within,
                "the writer committed {} of {target} rows within {within:?}",
                self.count()
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// Stops it; every committed (id, when).
    pub fn stop(mut self) -> Vec<(i64, std::time::Instant)> {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.committed.lock().unwrap().clone()
    }

    /// The longest time between two commits: the window as the app saw it.
    pub fn longest_gap(committed: &[(i64, std::time::Instant)]) -> std::time::Duration {
        committed
            .windows(2)
            .map(|w| w[1].1 - w[0].1)
            .max()
            .unwrap_or_default()
    }

    /// Asserts every committed row is in `t` on the postgres container `pg`,
    /// and no id was handed out twice.
    pub fn assert_all_present(
        committed: &[(i64, std::time::Instant)],
        pg: &str,
        user: &str,
        db: &str,
    ) {
        let ids: Vec<String> = committed.iter().map(|(id, _)| id.to_string()).collect();
        assert_eq!(
            psql(
                pg,
                user,
                db,
                &format!("SELECT count(*) FROM t WHERE id IN ({})", ids.join(","))
            ),
            committed.len().to_string(),
            "a committed row is missing"
        );
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len(), "an id was handed out twice");
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}
