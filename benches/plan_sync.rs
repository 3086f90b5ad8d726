//! Plan + sync time for projects of 500, 2,000 and 8,000 addon instances
//! (with an app per two instances, three attachments each, fifty instances
//! per VM). Prints figures; the goal is under 100 ms at 500, growing
//! linearly. Run: `cargo bench --bench plan_sync`.

use std::fmt::Write;
use std::time::{Duration, Instant};

use sdtui::engine::{Operation, Workspace};

const TYPES: &[(&str, &str)] = &[
    ("postgres", "databases"),
    ("postgres", "databases"),
    ("redis", "caches"),
    ("rabbitmq", "queues"),
    ("memcached", "caches"),
    ("mariadb", "databases"),
];

fn project_config(instances: usize) -> String {
    let vms = instances.div_ceil(50);
    let mut s = String::from("vms:\n");
    for v in 0..vms {
        let _ = writeln!(
            s,
            "  vm{v}:\n    host: 127.0.{}.{}",
            3 + v / 250,
            1 + v % 250
        );
    }
    s.push_str("addons:\n");
    let mut ids = Vec::new();
    for (cat_index, category) in ["databases", "caches", "queues"].iter().enumerate() {
        let _ = writeln!(s, "  {category}:");
        for i in 0..instances {
            let (t, c) = TYPES[i % TYPES.len()];
            if c != *category {
                continue;
            }
            let name = format!("{t}-{i}");
            let _ = writeln!(
                s,
                "    {name}:\n      type: {t}\n      plan: small\n      vm: vm{}",
                i / 50
            );
            ids.push((format!("{c}.{name}"), i / 50, cat_index));
        }
    }
    s.push_str("apps:\n");
    for a in 0..instances / 2 {
        let vm = (a * 2) / 50;
        let _ = writeln!(
            s,
            "  app-{a}:\n    image: example/app-{a}\n    vm: vm{vm}\n    addons:"
        );
        for k in 0..3 {
            let (id, _, _) = &ids[(a * 7 + k * 13) % ids.len()];
            let _ = writeln!(s, "      - addon: {id}\n        as: ATT{k}");
        }
    }
    s
}

fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

fn main() {
    println!(
        "{:>9} {:>6} {:>7} {:>12} {:>12} {:>12} {:>12} {:>8}",
        "instances",
        "apps",
        "files",
        "first sync",
        "plan only",
        "no-op sync",
        "one change",
        "ms/1000"
    );
    let mut baseline: Option<f64> = None;
    let sizes: Vec<usize> = std::env::var("BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or(vec![500, 2000, 8000]);
    for n in sizes {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("bench");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.yml"), project_config(n)).unwrap();
        let mut ws = Workspace::open(root.path().to_path_buf(), None).unwrap();
        ws.test_seed = Some(1);
        let p = ws.project(Some("bench")).unwrap();
        let (plan, first) = time(|| ws.run(&p, &Operation::Sync, false).unwrap());
        let files = plan.changes.len();
        let (again, plan_only) = time(|| ws.plan(&p, &Operation::Sync).unwrap());
        assert!(again.is_empty(), "a second plan must be empty");
        let (_, noop) = time(|| ws.run(&p, &Operation::Sync, false).unwrap());
        // One app's tag: one compose file changes, yet the whole generated
        // tree switches (unchanged files hard-linked into the new generation).
        let retag = Operation::SetTag {
            app: "app-0".into(),
            tag: "v2".into(),
        };
        let (_, one_change) = time(|| ws.run(&p, &retag, false).unwrap());
        let per_k = plan_only.as_secs_f64() * 1000.0 / (n as f64 / 1000.0);
        baseline.get_or_insert(per_k);
        println!(
            "{n:>9} {:>6} {files:>7} {:>9.1} ms {:>9.1} ms {:>9.1} ms {:>9.1} ms {per_k:>8.1}",
            n / 2,
            first.as_secs_f64() * 1000.0,
            plan_only.as_secs_f64() * 1000.0,
            noop.as_secs_f64() * 1000.0,
            one_change.as_secs_f64() * 1000.0,
        );
    }
    println!(
        "(plan only = read config + secrets, validate, generate, diff against disk; ms/1000 flat means linear)"
    );
}
