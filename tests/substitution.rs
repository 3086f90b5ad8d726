//! `${...}` substitution (src/env/substitute.rs) proven against both Compose
//! versions: each case in tests/fixtures/substitution/ is run through the
//! real `config` of v1 (1.29.2) and v2 (2.26.1) with variables.json in the
//! environment, and our substituted text (1) means the same to each version
//! (its `config` with an empty environment prints the same document) and
//! (2) read as YAML, by a YAML 1.1 and a 1.2 reader alike, holds the values
//! both versions print. The refused/ cases check our error and the reason it
//! gives: what each version really does with the construct.

mod common;

use common::compose::{Compose, v2_docker_config};
use sdtui::env::substitute::{Target, Variable, Variables, substitute};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus() -> PathBuf {
    common::fixture("substitution")
}

fn variables() -> Variables {
    let text = std::fs::read_to_string(corpus().join("variables.json")).unwrap();
    let map: BTreeMap<String, String> = serde_json::from_str(&text).unwrap();
    map.into_iter()
        .map(|(k, value)| {
            let secret = k.contains("PASSWORD") || k == "DATABASE_URL";
            (k, Variable { value, secret })
        })
        .collect()
}

fn cases(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    files
}

/// `config` of one version over `text`, with exactly `env` as the process
/// environment (no .env file: the folder is fresh). v1's YAML is read by
/// its own PyYAML, so `1e3` or `on` mean what v1 means by them.
fn config(compose: Compose, text: &str, env: &BTreeMap<String, String>) -> Result<Value, String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("docker-compose.yml"), text).unwrap();
    let mut cmd = match compose {
        Compose::V1 => Command::new("docker-compose"),
        Compose::V2 => {
            let mut c = Command::new("docker");
            c.arg("compose");
            c
        }
    };
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env)
        .current_dir(dir.path())
        .args(["-p", "sub", "-f", "docker-compose.yml", "config"]);
    if compose == Compose::V2 {
        cmd.env("DOCKER_CONFIG", v2_docker_config())
            .args(["--format", "json"]);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{compose:?} must be installed (tests/run does): {e}"));
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(match compose {
        Compose::V2 => serde_json::from_slice(&out.stdout).unwrap(),
        Compose::V1 => yaml11(&String::from_utf8_lossy(&out.stdout)),
    })
}

/// YAML 1.1, through PyYAML (docker-compose v1's reader).
fn yaml11(text: &str) -> Value {
    use std::io::Write;
    let mut py = Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 with PyYAML (docker-compose's own)");
    py.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let read = py.wait_with_output().unwrap();
    assert!(read.status.success(), "PyYAML could not read:\n{text}");
    serde_json::from_slice(&read.stdout).unwrap()
}

fn plain_env(vars: &Variables) -> BTreeMap<String, String> {
    vars.iter()
        .map(|(k, v)| (k.clone(), v.value.clone()))
        .collect()
}

/// `K=V` list items as a map, as both versions print them.
fn as_map(section: &Value) -> BTreeMap<String, Value> {
    match section {
        Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str())
            .map(|i| match i.split_once('=') {
                Some((k, v)) => (k.to_string(), Value::String(v.to_string())),
                None => (i.to_string(), Value::Null),
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// Compares the values that matter — each service's environment, labels,
/// image, hostname, working_dir and user — between our parsed output and a
/// version's `config`; returns how many values were compared.
fn compare_values(ours: &Value, printed: &Value, what: &str) -> Result<usize, String> {
    let mut compared = 0;
    let services = ours["services"]
        .as_object()
        .ok_or(format!("{what}: no services in our output"))?;
    for (name, service) in services {
        let theirs = &printed["services"][name];
        for field in ["image", "hostname", "working_dir", "user"] {
            if let Some(v) = service.get(field) {
                if &theirs[field] != v {
                    return Err(format!(
                        "{what}: {name}.{field}: ours {v}, compose {}",
                        theirs[field]
                    ));
                }
                compared += 1;
            }
        }
        for section in ["environment", "labels"] {
            let Some(ours_section) = service.get(section) else {
                continue;
            };
            let theirs_section = as_map(&theirs[section]);
            for (key, value) in as_map(ours_section) {
                // Compose never substitutes a key and prints it escaped.
                let printed_key = key.replace('$', "$$");
                let got = theirs_section.get(&printed_key);
                if got != Some(&value) {
                    return Err(format!(
                        "{what}: {name}.{section}.{key}: ours {value}, compose {got:?}"
                    ));
                }
                compared += 1;
            }
        }
    }
    Ok(compared)
}

#[test]
fn every_case_means_the_same_to_compose_v1_and_v2() {
    let vars = variables();
    let env = plain_env(&vars);
    let files = cases(&corpus());
    assert!(files.len() >= 25, "the corpus has {} cases", files.len());
    // Two workers: v1 is a Python program, most of the time is its start.
    let (even, odd): (Vec<_>, Vec<_>) = files.iter().enumerate().partition(|(i, _)| i % 2 == 0);
    let failures: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = [even, odd]
            .into_iter()
            .map(|share| {
                let (vars, env) = (&vars, &env);
                scope.spawn(move || {
                    share
                        .into_iter()
                        .flat_map(|(_, file)| check_case(file, vars, env))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}

/// One case through both versions; returns what went wrong.
fn check_case(file: &Path, vars: &Variables, env: &BTreeMap<String, String>) -> Vec<String> {
    let mut failures = Vec::new();
    let case = file.file_name().unwrap().to_string_lossy().into_owned();
    let source = std::fs::read_to_string(file).unwrap();
    let ours = match substitute(Path::new(&case), &source, vars, Target::Compose) {
        Ok(s) => s,
        Err(e) => {
            failures.push(format!("{case}: we refused it:\n{e}"));
            return failures;
        }
    };
    assert!(!ours.occurrences.is_empty(), "{case} uses no variable");
    // Read by a YAML 1.1 and a 1.2 reader, our output holds the same
    // values: every substituted value was written unambiguously.
    let ours_11 = yaml11(&ours.text);
    let ours_12: Value = serde_saphyr::from_str(&ours.text)
        .unwrap_or_else(|e| panic!("{case}: our output is not YAML 1.2: {e}\n{}", ours.text));
    if !source.contains("<<:") && ours_11 != ours_12 {
        failures.push(format!(
            "{case}: YAML 1.1 and 1.2 read our output differently:\n{ours_11}\n{ours_12}"
        ));
    }
    for compose in Compose::BOTH {
        let what = format!("{case} ({compose:?})");
        let printed = match config(compose, &source, env) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("{what}: compose refused the case itself: {e}"));
                return failures;
            }
        };
        // Fed back to the same version with no variables at all, our
        // output must mean exactly what the original meant with them.
        match config(compose, &ours.text, &BTreeMap::new()) {
            Ok(again) if again == printed => {}
            Ok(again) => failures.push(format!(
                "{what}: our output means something else:\n  original: {printed}\n  ours:     {again}\n{}",
                ours.text
            )),
            Err(e) => failures.push(format!("{what}: compose refused our output: {e}\n{}", ours.text)),
        }
        match compare_values(&ours_11, &printed, &what) {
            Ok(0) => failures.push(format!("{what}: no value was compared")),
            Ok(_) => {}
            Err(e) => failures.push(e),
        }
    }
    failures
}

/// The header of a refused case: what our error says, and what the two
/// versions really do with it (the reason our error gives).
fn header(source: &str, key: &str) -> String {
    source
        .lines()
        .find_map(|l| l.strip_prefix(&format!("# {key}: ")))
        .unwrap_or_else(|| panic!("no `# {key}:` line"))
        .to_string()
}

#[test]
fn refused_cases_name_the_place_and_the_versions_bear_the_reason_out() {
    let vars = variables();
    let env = plain_env(&vars);
    let files = cases(&corpus().join("refused"));
    assert!(files.len() >= 10);
    let mut failures = Vec::new();
    for file in &files {
        let case = file.file_name().unwrap().to_string_lossy().into_owned();
        let source = std::fs::read_to_string(file).unwrap();
        let expect = format!("{case}:{}", header(&source, "expect"));
        match substitute(Path::new(&case), &source, &vars, Target::Compose) {
            Ok(s) => failures.push(format!("{case}: accepted, gave:\n{}", s.text)),
            Err(e) => {
                let e = e.to_string();
                if !e.starts_with(&expect) || !e.contains("\nhint: ") {
                    failures.push(format!("{case}: wanted `{expect}`..., got:\n{e}"));
                }
                assert!(!e.contains("p@ss"), "{case}: a secret reached an error");
            }
        }
        let v1 = config(Compose::V1, &source, &env);
        let v2 = config(Compose::V2, &source, &env);
        let value = |r: &Result<Value, String>| {
            r.as_ref()
                .ok()
                .map(|d| d["services"]["app"].clone())
                .unwrap_or(Value::Null)
        };
        let claim = header(&source, "compose");
        let holds = match claim.as_str() {
            "v2-only" => v1.is_err() && v2.is_ok(),
            "differ" => match (&v1, &v2) {
                (Ok(_), Ok(_)) => value(&v1) != value(&v2),
                (a, b) => a.is_ok() != b.is_ok(),
            },
            "both-fail" => v1.is_err() && v2.is_err(),
            // Both versions substitute an empty string with a warning; we
            // refuse it on purpose, so a typo never deploys.
            "both-empty" => {
                value(&v1)["environment"]["A"] == "x-" && value(&v2)["environment"]["A"] == "x-"
            }
            other => panic!("{case}: unknown claim {other}"),
        };
        if !holds {
            failures.push(format!(
                "{case}: the claim `{claim}` does not hold: v1 {v1:?}, v2 {v2:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
