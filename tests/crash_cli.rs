//! The command line's panics take the console's fatal path: color-eyre's
//! report and the breadcrumb on stderr, the report saved in the project's
//! `.sdtui/`, exit code 101. The trigger exists only in debug builds.
#![cfg(debug_assertions)]

mod common;

use std::process::Command;

use common::sdtui;

#[test]
fn a_command_that_panics_reports_and_exits_101() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = "crashy";
    common::ok(&sdtui(r, &["init", name]));
    let out = Command::new(env!("CARGO_BIN_EXE_sdtui"))
        .args(["-p", name, "history", "--json"])
        .env("SDTUI_ROOT", r)
        .env("SDTUI_ADDONS", r.join(".none"))
        .env("SDTUI_TEST_PANIC", "cli")
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(101));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let version = env!("CARGO_PKG_VERSION");
    for text in [
        "The application panicked (crashed).",
        "Location: src/cli/mod.rs",
        &format!("sdtui {version} crashed: SDTUI_TEST_PANIC=cli"),
        "face:        command `sdtui history`",
        "project:     crashy",
        "The report was saved to",
    ] {
        assert!(stderr.contains(text), "no {text:?} in:\n{stderr}");
    }
    // Not a TTY: no colour codes.
    assert!(!stderr.contains('\u{1b}'), "{stderr}");
    let reports: Vec<_> = std::fs::read_dir(r.join(name).join(".sdtui"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("crash-")
        })
        .collect();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(
        stderr.contains(&reports[0].display().to_string()),
        "{stderr}"
    );
    let report = std::fs::read_to_string(&reports[0]).unwrap();
    assert!(
        report.contains("face:        command `sdtui history`"),
        "{report}"
    );
    assert!(report.contains("Backtrace:"), "{report}");
}

/// A user error keeps its form: no panic report, no backtrace, exit 1.
#[test]
fn a_user_error_is_not_a_crash() {
    let root = tempfile::tempdir().unwrap();
    let out = sdtui(root.path(), &["-p", "nowhere", "history"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("Backtrace"), "{stderr}");
}
