//! The fatal path of both faces: a panic on any thread (the draw loop, a
//! tokio task, a blocking task) gives the terminal back, prints
//! color-eyre's report with the version and what the user was doing,
//! writes it to `crash-<UTC time>.txt` in the state dir, and ends the
//! process with 101. A task's panic would otherwise be swallowed by its
//! runtime while the console drew a state nobody updates, so the hook
//! itself ends the process rather than trusting every spawn site to be
//! awaited.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Mutex;

/// The exit code of a crash, as Rust's own for a panic on the main thread.
pub const CRASH_EXIT: i32 = 101;

/// What the user was doing, kept by the faces as they go and read by the
/// hook. Never holds a secret: actions are described as the audit trail
/// describes them, keys typed are never recorded.
struct Crumbs {
    face: Option<String>,
    project: Option<String>,
    state_dir: Option<PathBuf>,
    pane: Option<String>,
    action: Option<String>,
}

static CRUMBS: Mutex<Crumbs> = Mutex::new(Crumbs {
    face: None,
    project: None,
    state_dir: None,
    pane: None,
    action: None,
});

fn with_crumbs(f: impl FnOnce(&mut Crumbs)) {
    let mut c = CRUMBS.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut c);
}

/// `console`, or the command line's subcommand (no argument values).
pub fn set_face(face: impl Into<String>) {
    let face = face.into();
    with_crumbs(|c| c.face = Some(face));
}

/// The open project: named in the report, and its `.sdtui/` gets the file.
pub fn set_project(project: &crate::engine::Project) {
    with_crumbs(|c| {
        c.project = Some(project.name.clone());
        c.state_dir = Some(project.state_dir());
    });
}

pub fn set_pane(pane: impl std::fmt::Debug) {
    with_crumbs(|c| {
        let name = format!("{pane:?}");
        if c.pane.as_deref() != Some(name.as_str()) {
            c.pane = Some(name);
        }
    });
}

/// The last action or operation started (no secrets: see [`Crumbs`]).
pub fn did(action: impl Into<String>) {
    let action = action.into();
    with_crumbs(|c| c.action = Some(action));
}

/// The breadcrumb as report lines, and where the report goes.
fn read_crumbs() -> (String, PathBuf) {
    // try_lock: the panicking thread may hold the lock (its guard is
    // dropped only after the hook returns).
    let (text, dir) = match CRUMBS.try_lock() {
        Ok(c) => {
            let mut t = String::new();
            let _ = writeln!(
                t,
                "  time:        {} UTC",
                chrono::Utc::now().format("%Y-%m-%d %H:%M:%S")
            );
            let _ = writeln!(t, "  face:        {}", c.face.as_deref().unwrap_or("-"));
            let _ = writeln!(t, "  project:     {}", c.project.as_deref().unwrap_or("-"));
            if let Some(p) = &c.pane {
                let _ = writeln!(t, "  pane:        {p}");
            }
            let _ = writeln!(t, "  last action: {}", c.action.as_deref().unwrap_or("-"));
            (t, c.state_dir.clone())
        }
        Err(_) => ("  (the breadcrumb was being updated)\n".to_string(), None),
    };
    (text, dir.unwrap_or_else(platform_state_dir))
}

/// Where reports go when no project is open.
fn platform_state_dir() -> PathBuf {
    directories::ProjectDirs::from("", "", "sdtui")
        .map(|d| {
            d.state_dir()
                .unwrap_or_else(|| d.data_local_dir())
                .to_path_buf()
        })
        .unwrap_or_else(|| std::env::temp_dir().join("sdtui"))
}

/// Set while the console holds the terminal (raw mode, alternate screen,
/// maybe mouse capture), so the hook knows to give it back.
static TERMINAL_TAKEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn terminal_taken(taken: bool) {
    TERMINAL_TAKEN.store(taken, std::sync::atomic::Ordering::SeqCst);
}

/// Gives the terminal back as the shell had it: raw mode off, main screen,
/// mouse capture off, cursor shown. Every step is tried even if one fails.
pub fn restore_terminal() {
    let mut out = std::io::stdout();
    let _ = crossterm::execute!(
        out,
        crossterm::event::DisableMouseCapture,
        crossterm::terminal::LeaveAlternateScreen,
        crossterm::cursor::Show
    );
    let _ = crossterm::terminal::disable_raw_mode();
}

/// Installs color-eyre's error hook and the crash hook. Call once, first.
pub fn install() {
    let theme = if std::io::stderr().is_terminal() {
        color_eyre::config::Theme::dark()
    } else {
        color_eyre::config::Theme::new()
    };
    let (panic_hook, eyre_hook) = color_eyre::config::HookBuilder::default()
        .theme(theme)
        .display_env_section(false)
        .add_default_filters()
        .into_hooks();
    // Only fails when a hook is already installed: keep that one.
    let _ = eyre_hook.install();
    std::panic::set_hook(Box::new(move |info| {
        // Hold stdout so the draw loop cannot paint over the restored
        // screen from another thread before the process ends.
        let stdout = std::io::stdout();
        let _held = stdout.lock();
        if TERMINAL_TAKEN.swap(false, std::sync::atomic::Ordering::SeqCst) {
            restore_terminal();
        }
        let report = panic_hook.panic_report(info).to_string();
        let (crumbs, dir) = read_crumbs();
        let version = env!("CARGO_PKG_VERSION");
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| info.payload().downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(no message)");
        let at = info
            .location()
            .map(|l| format!(" at {}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_default();
        let head = format!("sdtui {version} crashed: {message}{at}\nWhat it was doing:\n{crumbs}");
        let file = dir.join(format!(
            "crash-{}-{}.txt",
            chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ"),
            std::process::id()
        ));
        let text = format!(
            "{head}\n{}\n\nBacktrace:\n{}\n",
            strip_ansi(&report),
            std::backtrace::Backtrace::force_capture()
        );
        let saved = std::fs::create_dir_all(&dir)
            .map_err(|e| e.to_string())
            .and_then(|()| {
                crate::engine::apply::write_atomic(&file, text.as_bytes(), 0o600)
                    .map_err(|e| e.message)
            });
        let whereto = match saved {
            Ok(()) => format!("The report was saved to {}", file.display()),
            Err(e) => format!("The report could not be saved: {e}"),
        };
        // The breadcrumb and the file last, where a long backtrace (with
        // RUST_BACKTRACE set) cannot scroll them away.
        eprintln!("{report}\n\n{head}{whereto}");
        std::process::exit(CRASH_EXIT);
    }));
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ params final-byte (@..~).
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Debug builds only: `SDTUI_TEST_PANIC=SITE` panics at that site, so the
/// tests can prove the fatal path from the draw loop and from a task.
#[cfg(debug_assertions)]
#[track_caller]
pub fn test_panic(site: &str) {
    if std::env::var("SDTUI_TEST_PANIC").is_ok_and(|v| v == site) {
        panic!("SDTUI_TEST_PANIC={site}: a panic the tests asked for");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn strip_ansi_keeps_the_text() {
        assert_eq!(
            super::strip_ansi("\u{1b}[31mMessage:\u{1b}[0m  boom \u{1b}[1;35mx\u{1b}[0m"),
            "Message:  boom x"
        );
    }
}
