//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod compose;
pub mod docker;
pub mod sshd;
pub mod tmux;
pub mod tui;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A fresh projects root holding a copy of the fixture project `name`.
pub fn root_with(name: &str) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    copy_dir(&fixture(name), &root.path().join(name));
    root
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        let kind = e.file_type().unwrap();
        if kind.is_symlink() {
            // `compose` points at the current generation, relatively.
            std::os::unix::fs::symlink(std::fs::read_link(e.path()).unwrap(), &target).unwrap();
        } else if kind.is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// The real binary against `root`, never the user's own folders.
pub fn sdtui_cmd(root: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sdtui"));
    cmd.args(args)
        .env("SDTUI_ROOT", root)
        .env("SDTUI_ADDONS", root.join(".no-user-addons"))
        .env("SDTUI_USER", "tester");
    cmd
}

/// [`sdtui_cmd`], run to completion.
pub fn sdtui(root: &Path, args: &[&str]) -> Output {
    sdtui_cmd(root, args).output().unwrap()
}

/// Runs `cmd`, reading its progress (stderr) line by line; at the first
/// line that starts with `at`, calls `act` with the child (a fault: kill
/// it, kill what it talks to). Reads on to the end; returns everything it
/// printed on stderr and whether it succeeded. Fails the test if `at`
/// never came.
pub fn run_acting_at(
    mut cmd: Command,
    at: &str,
    act: impl FnOnce(&mut std::process::Child),
) -> (String, bool) {
    use std::io::BufRead;
    let mut child = cmd
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut act = Some(act);
    let mut said = String::new();
    for line in std::io::BufReader::new(stderr).lines() {
        let Ok(line) = line else { break };
        said.push_str(&line);
        said.push('\n');
        if line.starts_with(at)
            && let Some(act) = act.take()
        {
            act(&mut child);
        }
    }
    let status = child.wait().unwrap();
    assert!(
        act.is_none(),
        "never printed a line starting {at:?}:\n{said}"
    );
    (said, status.success())
}

pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "command failed:\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

pub fn fails(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "command should have failed:\nstdout:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// Every file under `dir` but sdtui's own state folder (.sdtui: lock,
/// audit, generations), read through symlinks as any reader would:
/// relative path → (content, mode).
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (String, u32)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            // Follows symlinks: `compose` points at the current generation.
            if p.is_dir() {
                if e.file_name() != ".sdtui" {
                    stack.push(p);
                }
            } else {
                let mode = e.metadata().unwrap().permissions().mode() & 0o777;
                out.insert(
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    (
                        String::from_utf8_lossy(&std::fs::read(&p).unwrap()).to_string(),
                        mode,
                    ),
                );
            }
        }
    }
    out
}

/// Lines removed and added between two texts (a crude line diff).
pub fn changed_lines(old: &str, new: &str) -> (Vec<String>, Vec<String>) {
    let diff = similar::TextDiff::from_lines(old, new);
    let mut removed = Vec::new();
    let mut added = Vec::new();
    for c in diff.iter_all_changes() {
        match c.tag() {
            similar::ChangeTag::Delete => removed.push(c.value().trim_end().to_string()),
            similar::ChangeTag::Insert => added.push(c.value().trim_end().to_string()),
            similar::ChangeTag::Equal => {}
        }
    }
    (removed, added)
}

/// An env file's text with each value as Compose reads it (the quotes sdtui
/// writes taken off), so tests can look for `NAME=value` lines.
pub fn read_env(path: &Path) -> String {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .map(|line| match line.split_once('=') {
            Some((k, v)) if !line.starts_with('#') => {
                let value = if let Some(inner) =
                    v.strip_prefix('\'').and_then(|v| v.strip_suffix('\''))
                {
                    inner.replace("\\'", "'")
                } else if let Some(inner) = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                    inner.replace("\\\"", "\"").replace("\\\\", "\\")
                } else {
                    v.to_string()
                };
                format!("{k}={value}\n")
            }
            _ => format!("{line}\n"),
        })
        .collect()
}

/// [`sdtui`] with extra environment (a Compose version's, for instance).
pub fn sdtui_env(root: &Path, args: &[&str], env: &[(&str, String)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sdtui"))
        .args(args)
        .env("SDTUI_ROOT", root)
        .env("SDTUI_ADDONS", root.join(".no-user-addons"))
        .env("SDTUI_USER", "tester")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap()
}

/// One credential of ADDON, revealed through `addons credentials --reveal
/// KEY --json`.
pub fn revealed_credential(root: &Path, project: &str, addon: &str, key: &str) -> String {
    let out = ok(&sdtui(
        root,
        &[
            "-p",
            project,
            "addons",
            "credentials",
            addon,
            "--reveal",
            key,
            "--json",
        ],
    ));
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == key)
        .unwrap_or_else(|| panic!("no {key} in {out}"))["value"]
        .as_str()
        .unwrap()
        .to_string()
}

/// psql from this machine to a published port with a password: (accepted,
/// what it said).
pub fn psql_login(addr: &str, port: &str, user: &str, db: &str, password: &str) -> (bool, String) {
    let out = Command::new("psql")
        .args([
            "-w", "-X", "-h", addr, "-p", port, "-U", user, "-d", db, "-tAc", "select 1",
        ])
        .env("PGPASSWORD", password)
        .env("PGCONNECT_TIMEOUT", "5")
        .output()
        .expect("psql must be installed");
    (
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "1",
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Every generated value of a secrets.yml as (instance name, key, value),
/// read by the engine's own parser: the YAML writer quotes a value that
/// starts with `-` or is all digits, so splitting lines by hand is flaky.
pub fn secrets_in(file: &Path) -> Vec<(String, String, String)> {
    let secrets = sdtui::engine::secrets::Secrets::load(file).unwrap();
    let mut all = Vec::new();
    for instances in secrets.addons.values() {
        for (name, values) in instances {
            for (key, value) in values {
                all.push((name.clone(), key.clone(), value.clone()));
            }
        }
    }
    all
}

/// One generated value: `instance`'s `key` in the secrets.yml at `file`.
pub fn secret(file: &Path, instance: &str, key: &str) -> String {
    secrets_in(file)
        .into_iter()
        .find(|(name, k, _)| name == instance && k == key)
        .map(|(_, _, value)| value)
        .unwrap_or_else(|| panic!("no {instance}.{key} in {}", file.display()))
}

/// Every value whose key ends with one of `suffixes` (`PASSWORD` ...).
pub fn secret_values(file: &Path, suffixes: &[&str]) -> Vec<String> {
    secrets_in(file)
        .into_iter()
        .filter(|(_, key, _)| suffixes.iter().any(|s| key.ends_with(s)))
        .map(|(_, _, value)| value)
        .collect()
}

/// One value of an environment's secrets.yml (`USER`, `PASSWORD` ...), read
/// from the file the engine wrote for it; the first instance that has it.
pub fn env_secret(root: &Path, project: &str, env: &str, key: &str) -> String {
    let file = root
        .join(project)
        .join("environments")
        .join(env)
        .join("secrets.yml");
    secrets_in(&file)
        .into_iter()
        .find(|(_, k, _)| k == key)
        .map(|(_, _, value)| value)
        .unwrap_or_else(|| panic!("no {key} in {}", file.display()))
}

/// Reads a child's stdout and stderr into one shared text as it arrives.
pub fn collect(child: &mut std::process::Child) -> std::sync::Arc<std::sync::Mutex<String>> {
    let text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let readers: Vec<Box<dyn std::io::Read + Send>> = vec![
        Box::new(child.stdout.take().unwrap()),
        Box::new(child.stderr.take().unwrap()),
    ];
    for mut r in readers {
        let text = text.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = r.read(&mut buf) {
                if n == 0 {
                    break;
                }
                text.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
    }
    text
}
