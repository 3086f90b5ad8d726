//! Every wizard step, the palette, the env view with its reveal key, the
//! log search, the SSH host-key prompt, the mouse and the keymap from
//! settings: the console's state machine driven by keys, its plans made
//! by the real engine on the cheapa project, each screen an insta snapshot.

mod common;

use common::tui::{buffer, key, render, row_with};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use sdtui::engine::{Operation, Project, Workspace};
use sdtui::tui::{App, Msg, Pane, PlanView, ProjectView, Request, theme::Theme};

struct Fixture {
    _root: tempfile::TempDir,
    ws: Workspace,
    project: Project,
    app: App,
}

fn fixture() -> Fixture {
    let root = common::root_with("cheapa");
    let mut ws = Workspace::open(root.path().to_path_buf(), None).unwrap();
    ws.test_seed = Some(7);
    let project = ws.project(Some("cheapa")).unwrap();
    ws.run(&project, &Operation::Sync, false).unwrap();
    let view = ProjectView::read(&ws, &project).unwrap();
    let app = App::new(Theme::dark(), vec!["cheapa".into()], view);
    Fixture {
        _root: root,
        ws,
        project,
        app,
    }
}

fn typed(app: &mut App, s: &str) -> Option<Request> {
    let mut last = None;
    for c in s.chars() {
        last = app.key(key(KeyCode::Char(c)));
    }
    last
}

/// What the event loop does with a Plan request: the engine plans.
fn planned(f: &Fixture, op: &Operation) -> Msg {
    let plan = f.ws.plan(&f.project, op).map(|p| PlanView {
        diff: p.diff(false),
        files: p
            .summary()
            .into_iter()
            .map(|c| format!("{} {}", c.action, c.path))
            .collect(),
        notes: p.notes.clone(),
    });
    Msg::Planned(plan.map_err(|e| e.message))
}

#[test]
fn attach_wizard_every_step() {
    let mut f = fixture();
    // On the Addons pane, the cursor on databases.reports preselects it.
    f.app.key(key(KeyCode::Char('2')));
    let row = f
        .app
        .visible_addons()
        .iter()
        .position(|a| a.id == "databases.reports")
        .unwrap();
    for _ in 0..row {
        f.app.key(key(KeyCode::Char('j')));
    }
    f.app.key(key(KeyCode::Char('a')));
    insta::assert_snapshot!("attach_1_form", render(&f.app, 80, 24));
    let w = f.app.wizard.as_ref().unwrap();
    assert_eq!(w.value("addon"), "databases.reports");

    // app: `s` jumps to services; as: a lowercase prefix is refused inline.
    f.app.key(key(KeyCode::Tab));
    typed(&mut f.app, "s");
    assert_eq!(f.app.wizard.as_ref().unwrap().value("app"), "services");
    f.app.key(key(KeyCode::Tab));
    typed(&mut f.app, "reports");
    insta::assert_snapshot!("attach_2_bad_prefix", render(&f.app, 80, 24));
    assert!(
        f.app
            .wizard
            .as_ref()
            .unwrap()
            .problems()
            .iter()
            .any(|(l, _)| *l == "as")
    );
    for _ in 0..7 {
        f.app.key(key(KeyCode::Backspace));
    }
    typed(&mut f.app, "REPORTS");
    f.app.key(key(KeyCode::Tab));
    f.app.key(key(KeyCode::Right));
    assert_eq!(f.app.wizard.as_ref().unwrap().value("access"), "readonly");
    insta::assert_snapshot!("attach_3_filled", render(&f.app, 80, 24));

    // Enter on the last field asks the engine for a plan.
    let op = match f.app.key(key(KeyCode::Enter)) {
        Some(Request::Plan(op)) => op,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        op.describe(),
        "addons attach databases.reports --app services --as REPORTS --access readonly"
    );
    insta::assert_snapshot!("attach_4_planning", render(&f.app, 80, 24));
    let msg = planned(&f, &op);
    f.app.apply(msg);
    let screen = render(&f.app, 120, 40);
    assert!(screen.contains("+        as: REPORTS"), "{screen}");
    assert!(screen.contains("REPORTS_URL"), "{screen}");
    assert!(screen.contains("••••"), "secrets masked: {screen}");
    insta::assert_snapshot!("attach_5_review", screen);
    // Nothing is written before apply.
    let config = std::fs::read_to_string(f.project.config_path()).unwrap();
    assert!(!config.contains("REPORTS"));
    assert!(matches!(
        f.app.key(key(KeyCode::Enter)),
        Some(Request::Apply(..))
    ));
    insta::assert_snapshot!("attach_6_applying", render(&f.app, 80, 24));
    f.app.apply(Msg::Applied(Ok(
        "applied `addons attach ...`: 4 file(s) written".into(),
    )));
    insta::assert_snapshot!("attach_7_done", render(&f.app, 80, 24));
    f.app.key(key(KeyCode::Char('x')));
    assert!(f.app.wizard.is_none());
}

#[test]
fn an_engine_refusal_returns_to_the_form_with_the_reason() {
    let mut f = fixture();
    f.app.key(key(KeyCode::Char('2')));
    f.app.key(key(KeyCode::Char('a')));
    // databases.primary is attached to api as DATABASE already.
    f.app.key(key(KeyCode::Tab));
    f.app.key(key(KeyCode::Tab));
    typed(&mut f.app, "DATABASE");
    f.app.key(key(KeyCode::Tab));
    let op = match f.app.key(key(KeyCode::Enter)) {
        Some(Request::Plan(op)) => op,
        other => panic!("{other:?}"),
    };
    let msg = planned(&f, &op);
    assert!(matches!(msg, Msg::Planned(Err(_))));
    f.app.apply(msg);
    let screen = render(&f.app, 100, 30);
    assert!(screen.contains("DATABASE"), "{screen}");
    insta::assert_snapshot!("attach_refused", screen);
}

#[test]
fn add_upgrade_detach_remove_forms() {
    let mut f = fixture();
    f.app.key(key(KeyCode::Char('2')));
    f.app.key(key(KeyCode::Char('n')));
    insta::assert_snapshot!("add_1_form", render(&f.app, 80, 24));
    // type: `r` jumps to rabbitmq, then redis; plans follow the type.
    typed(&mut f.app, "rr");
    assert_eq!(f.app.wizard.as_ref().unwrap().value("type"), "redis");
    f.app.key(key(KeyCode::Tab));
    typed(&mut f.app, "Bad");
    insta::assert_snapshot!("add_2_bad_name", render(&f.app, 80, 24));
    for _ in 0..3 {
        f.app.key(key(KeyCode::Backspace));
    }
    typed(&mut f.app, "jobs");
    f.app.key(key(KeyCode::Tab));
    f.app.key(key(KeyCode::Right));
    insta::assert_snapshot!("add_3_filled", render(&f.app, 80, 24));
    for _ in 0..3 {
        f.app.key(key(KeyCode::Enter));
    }
    // Options: names from the catalog, values checked against its patterns.
    typed(&mut f.app, "maxmemory=lots");
    assert!(f.app.key(key(KeyCode::Enter)).is_none());
    let screen = render(&f.app, 100, 30);
    assert!(
        screen.contains("maxmemory: \"lots\" does not match"),
        "{screen}"
    );
    insta::assert_snapshot!("add_4_bad_option", screen);
    for _ in 0..4 {
        f.app.key(key(KeyCode::Backspace));
    }
    typed(&mut f.app, "64mb");
    let op = match f.app.key(key(KeyCode::Enter)) {
        Some(Request::Plan(op)) => op,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        op.describe(),
        "addons add redis jobs --plan large --version 7 --vm core --option maxmemory=64mb"
    );
    f.app.key(key(KeyCode::Esc));
    assert!(f.app.wizard.is_none(), "Esc while planning cancels");

    // Upgrade: the current plan and version are preselected.
    f.app.key(key(KeyCode::Char('g')));
    f.app.key(key(KeyCode::Char('U')));
    let w = f.app.wizard.as_ref().unwrap();
    assert_eq!(w.value("addon"), "databases.primary");
    assert_eq!(w.value("plan"), "standard");
    assert_eq!(w.value("version"), "15");
    insta::assert_snapshot!("upgrade_1_form", render(&f.app, 80, 24));
    f.app.key(key(KeyCode::Tab));
    f.app.key(key(KeyCode::Right));
    f.app.key(key(KeyCode::Enter));
    let op = match f.app.key(key(KeyCode::Enter)) {
        Some(Request::Plan(op)) => op,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        op.describe(),
        "addons upgrade databases.primary --plan large"
    );
    f.app.key(key(KeyCode::Esc));

    // Detach, from the Attachments pane's row.
    f.app.key(key(KeyCode::Char('3')));
    f.app.key(key(KeyCode::Char('j')));
    f.app.key(key(KeyCode::Char('d')));
    insta::assert_snapshot!("detach_1_form", render(&f.app, 80, 24));
    let op = match f.app.key(key(KeyCode::Enter)) {
        Some(Request::Plan(op)) => op,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        op.describe(),
        "addons detach databases.analytics --app api --as ANALYTICS"
    );
    f.app.key(key(KeyCode::Esc));

    // Remove: refused until the name is typed back.
    f.app.key(key(KeyCode::Char('2')));
    f.app.key(key(KeyCode::Char('x')));
    f.app.key(key(KeyCode::Tab));
    f.app.key(key(KeyCode::Tab));
    typed(&mut f.app, "databases.prim");
    assert!(f.app.key(key(KeyCode::Enter)).is_none());
    insta::assert_snapshot!("remove_1_unconfirmed", render(&f.app, 80, 24));
    typed(&mut f.app, "ary");
    let op = match f.app.key(key(KeyCode::Enter)) {
        Some(Request::Plan(op)) => op,
        other => panic!("{other:?}"),
    };
    assert_eq!(op.describe(), "addons remove databases.primary");
    // The engine refuses: it is attached.
    let msg = planned(&f, &op);
    f.app.apply(msg);
    let screen = render(&f.app, 100, 30);
    assert!(screen.contains("attached"), "{screen}");
    insta::assert_snapshot!("remove_2_refused_attached", screen);

    // Remove with its data: the review says so, and apply asks for both.
    f.app.key(key(KeyCode::Esc));
    f.app.key(key(KeyCode::Char('j')));
    f.app.key(key(KeyCode::Char('j')));
    f.app.key(key(KeyCode::Char('x')));
    assert_eq!(
        f.app.wizard.as_ref().unwrap().value("addon"),
        "databases.reports"
    );
    f.app.key(key(KeyCode::Tab));
    f.app.key(key(KeyCode::Right));
    assert!(f.app.wizard.as_ref().unwrap().purges());
    f.app.key(key(KeyCode::Tab));
    typed(&mut f.app, "databases.reports");
    insta::assert_snapshot!("remove_3_delete_data", render(&f.app, 80, 24));
    let op = match f.app.key(key(KeyCode::Enter)) {
        Some(Request::Plan(op)) => op,
        other => panic!("{other:?}"),
    };
    let msg = planned(&f, &op);
    f.app.apply(msg);
    let screen = render(&f.app, 100, 30);
    assert!(
        screen.contains("databases.reports container and volumes are DELETED for good"),
        "{screen}"
    );
    insta::assert_snapshot!("remove_4_review_delete_data", screen);
    match f.app.key(key(KeyCode::Enter)) {
        Some(Request::RemoveAndPurge(id, reviewed)) => {
            assert_eq!(id, "databases.reports");
            // The diff the user saw travels with the request.
            assert!(
                reviewed
                    .lines()
                    .any(|l| l.starts_with('-') && l.trim_start_matches('-').trim() == "reports:"),
                "{reviewed}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn palette_completes_and_runs_the_issue_example() {
    let mut f = fixture();
    f.app.key(key(KeyCode::Char(':')));
    typed(&mut f.app, "at");
    f.app.key(key(KeyCode::Tab));
    assert_eq!(f.app.prompt.as_ref().unwrap().text(), "attach ");
    typed(&mut f.app, "databases.");
    insta::assert_snapshot!("palette_candidates", render(&f.app, 80, 24));
    typed(&mut f.app, "an");
    f.app.key(key(KeyCode::Tab));
    assert_eq!(
        f.app.prompt.as_ref().unwrap().text(),
        "attach databases.analytics "
    );
    typed(&mut f.app, "api as ANALYTICS2 reado");
    f.app.key(key(KeyCode::Tab));
    let op = match f.app.key(key(KeyCode::Enter)) {
        Some(Request::Plan(op)) => op,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        op.describe(),
        "addons attach databases.analytics --app api --as ANALYTICS2 --access readonly"
    );
    let msg = planned(&f, &op);
    f.app.apply(msg);
    insta::assert_snapshot!("palette_review", render(&f.app, 100, 30));

    // A bad line keeps the palette open with the usage.
    f.app.key(key(KeyCode::Esc));
    f.app.key(key(KeyCode::Char(':')));
    typed(&mut f.app, "upgrade databases.primary plan");
    f.app.key(key(KeyCode::Enter));
    let p = f.app.prompt.as_ref().unwrap();
    assert!(p.error.as_ref().unwrap().contains("plan needs a value"));
}

#[test]
fn palette_rename_goes_through_the_plan_review() {
    let mut f = fixture();
    f.app.key(key(KeyCode::Char(':')));
    typed(&mut f.app, "ren");
    f.app.key(key(KeyCode::Tab));
    assert_eq!(f.app.prompt.as_ref().unwrap().text(), "rename ");
    typed(&mut f.app, "databases.an");
    f.app.key(key(KeyCode::Tab));
    assert_eq!(
        f.app.prompt.as_ref().unwrap().text(),
        "rename databases.analytics "
    );
    typed(&mut f.app, "warehouse");
    let op = match f.app.key(key(KeyCode::Enter)) {
        Some(Request::Plan(op)) => op,
        other => panic!("{other:?}"),
    };
    assert_eq!(op.describe(), "addons rename databases.analytics warehouse");
    f.app.apply(planned(&f, &op));
    let screen = render(&f.app, 120, 40);
    assert!(
        screen.contains("-    analytics:") && screen.contains("+    warehouse:"),
        "{screen}"
    );
    // Nothing is written before the user applies what was reviewed.
    let config = std::fs::read_to_string(f.project.config_path()).unwrap();
    assert!(!config.contains("warehouse"));
    let (op, reviewed) = match f.app.key(key(KeyCode::Enter)) {
        Some(Request::Apply(op, reviewed)) => (op, reviewed),
        other => panic!("{other:?}"),
    };
    // What the event loop does with it: the engine applies the reviewed plan.
    f.ws.run_reviewed(&f.project, &op, false, Some(&reviewed))
        .unwrap();
    let config = std::fs::read_to_string(f.project.config_path()).unwrap();
    assert!(
        config.contains("    warehouse:\n") && config.contains("addon: databases.warehouse"),
        "{config}"
    );
}

#[test]
fn env_view_masks_secrets_and_reveals_one() {
    let mut f = fixture();
    f.app.key(key(KeyCode::Char('3')));
    f.app.key(key(KeyCode::Enter));
    let vars = &f.app.view.env["api"];
    let i = vars
        .iter()
        .position(|v| v.name == "DATABASE_PASSWORD")
        .unwrap();
    let password = vars[i].value.clone();
    let screen = render(&f.app, 120, 40);
    assert!(!screen.contains(&password), "{screen}");
    assert!(screen.contains("DATABASE_PASSWORD"));
    insta::assert_snapshot!("env_masked", screen);
    for _ in 0..i {
        f.app.key(key(KeyCode::Char('j')));
    }
    f.app.key(key(KeyCode::Char('r')));
    let screen = render(&f.app, 120, 40);
    assert!(screen.contains(&password), "r reveals the selected one");
    // Only that one: the URL holding the same password stays masked.
    assert_eq!(screen.matches(&password).count(), 1, "{screen}");
    f.app.key(key(KeyCode::Char('r')));
    assert!(!render(&f.app, 120, 40).contains(&password));
    f.app.key(key(KeyCode::Esc));
    assert!(f.app.env.is_none());
}

#[test]
fn log_search_highlights_and_n_jumps() {
    let mut f = fixture();
    f.app.key(key(KeyCode::Char('6')));
    f.app.logs.restart("postgres-primary".into());
    for i in 0..400 {
        f.app.logs.push(
            i % 7 == 0,
            format!("2026-11-25T10:{:02}:{:02}.250000000Z", i / 60, i % 60),
            if i % 50 == 0 {
                format!("checkpoint {i} complete")
            } else {
                format!("LOG: statement {i}")
            },
        );
    }
    f.app.key(key(KeyCode::Char('/')));
    typed(&mut f.app, r"checkpoint \d+");
    f.app.key(key(KeyCode::Enter));
    assert!(
        f.app.logs.paused_at.is_some(),
        "a search holds the view still"
    );
    let screen = render(&f.app, 80, 24);
    assert!(screen.contains("checkpoint 350 complete"), "{screen}");
    assert!(screen.contains("PAUSED"), "{screen}");
    insta::assert_snapshot!("logs_search", screen);
    // The current match is drawn in the accent colour.
    let buf = buffer(&f.app, 80, 24);
    assert_eq!(
        buf[(1, row_with(&buf, "checkpoint 350"))].bg,
        f.app.theme.accent
    );
    // n: older; the view moves to checkpoint 100 after three.
    for _ in 0..5 {
        f.app.key(key(KeyCode::Char('n')));
    }
    let screen = render(&f.app, 80, 24);
    assert!(screen.contains("checkpoint 100 complete"), "{screen}");
    assert!(!screen.contains("statement 399"), "{screen}");
    // t shows timestamps, w turns wrap off, p follows again.
    f.app.key(key(KeyCode::Char('t')));
    f.app.key(key(KeyCode::Char('w')));
    f.app.key(key(KeyCode::Char('p')));
    let screen = render(&f.app, 80, 24);
    assert!(
        screen.contains("10:06:39.250 LOG: statement 399"),
        "{screen}"
    );
    insta::assert_snapshot!("logs_timestamps_following", screen);
    // & keeps lines; a bad regex is refused in the prompt.
    f.app.key(key(KeyCode::Char('&')));
    typed(&mut f.app, "(");
    f.app.key(key(KeyCode::Enter));
    assert!(
        f.app
            .prompt
            .as_ref()
            .unwrap()
            .error
            .as_ref()
            .unwrap()
            .contains("not a regex")
    );
    f.app.key(key(KeyCode::Backspace));
    typed(&mut f.app, "checkpoint");
    f.app.key(key(KeyCode::Enter));
    assert_eq!(f.app.logs.visible().len(), 8);
    // s proposes a file; Enter asks the loop to save.
    f.app.key(key(KeyCode::Char('s')));
    assert!(
        f.app
            .prompt
            .as_ref()
            .unwrap()
            .text()
            .starts_with("./postgres-primary-")
    );
    assert!(matches!(
        f.app.key(key(KeyCode::Enter)),
        Some(Request::SaveLogs(_))
    ));
    assert_eq!(f.app.logs.export().lines().count(), 8);
}

#[test]
fn unknown_host_key_prompt() {
    let mut f = fixture();
    let key_blob = "AAAAC3NzaC1lZDI1NTE5AAAAIK2tDtoHcVp0RgPlJqWbXqsLHpoFn22KTs+S6Dgn6FnF";
    let pk = russh::keys::parse_public_key_base64(key_blob).unwrap();
    f.app.apply(Msg::HostKey(Box::new(sdtui::tui::HostPrompt {
        vm: "core".into(),
        label: "root@127.0.2.3:2222".into(),
        host: "127.0.2.3".into(),
        port: 2222,
        fingerprint: sdtui::ssh::fingerprint(&pk),
        algorithm: "ssh-ed25519".into(),
        key: pk,
        known_hosts: "/root/.ssh/known_hosts".into(),
    })));
    let screen = render(&f.app, 80, 24);
    assert!(screen.contains("SHA256:"), "{screen}");
    insta::assert_snapshot!("host_key_prompt", screen);
    // Other keys wait for the answer.
    assert!(f.app.key(key(KeyCode::Char('q'))).is_none());
    assert!(!f.app.quit);
    assert!(matches!(
        f.app.key(key(KeyCode::Char('y'))),
        Some(Request::TrustHost(_))
    ));
    assert!(f.app.host_prompt.is_none());
}

#[test]
fn mouse_selects_panes_and_rows_and_can_be_off() {
    let mut f = fixture();
    f.app.mouse = true;
    render(&f.app, 100, 30);
    let click = |col, row| MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: col,
        row,
        modifiers: KeyModifiers::NONE,
    };
    // The tab bar is row 1: " 1 Projects │ 2 Addons │ 3 Attachments".
    f.app.mouse_event(click(27, 1));
    assert_eq!(f.app.pane, Pane::Attachments);
    render(&f.app, 100, 30);
    // Body: border (row 2), header (row 3), rows from 4.
    f.app.mouse_event(click(10, 6));
    assert_eq!(f.app.selected[2], 2);
    f.app.mouse_event(MouseEvent {
        kind: MouseEventKind::ScrollDown,
        column: 10,
        row: 6,
        modifiers: KeyModifiers::NONE,
    });
    assert_eq!(f.app.selected[2], 3);
    // m turns it off: clicks do nothing.
    assert!(matches!(
        f.app.key(key(KeyCode::Char('m'))),
        Some(Request::Mouse(false))
    ));
    f.app.mouse_event(click(3, 1));
    assert_eq!(f.app.pane, Pane::Attachments);
}

#[test]
fn keymap_and_mouse_from_settings_and_help_from_the_live_map() {
    let mut f = fixture();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("settings.yml"),
        "theme: light\nmouse: false\nlog_lines: 100\nkeys:\n  attach: A\n  quit: [Q, ctrl-c]\n",
    )
    .unwrap();
    let s = sdtui::tui::Settings::load(Some(dir.path())).unwrap();
    s.apply(&mut f.app, Some(dir.path())).unwrap();
    assert!(!f.app.mouse);
    assert_eq!(f.app.theme.name, "light");
    assert_eq!(f.app.logs.cap, 100);
    f.app.key(key(KeyCode::Char('q')));
    assert!(!f.app.quit, "q is no longer quit");
    f.app.key(KeyCode::Char('?').into());
    let screen = render(&f.app, 100, 40);
    assert!(screen.contains("Q, Ctrl-c"), "{screen}");
    insta::assert_snapshot!("help_custom_keys", screen);
    f.app.key(key(KeyCode::Esc));
    f.app
        .key(KeyEvent::new(KeyCode::Char('A'), KeyModifiers::SHIFT));
    assert!(f.app.wizard.is_some(), "A opens the attach wizard");

    // A key bound twice, or an unknown action: the file and names said.
    std::fs::write(dir.path().join("settings.yml"), "keys:\n  attach: q\n").unwrap();
    let s = sdtui::tui::Settings::load(Some(dir.path())).unwrap();
    let e = s.apply(&mut f.app, Some(dir.path())).unwrap_err();
    assert!(e.message.contains("settings.yml"), "{}", e.message);
    assert!(e.message.contains("q is bound to both"), "{}", e.message);
    std::fs::write(dir.path().join("settings.yml"), "mouse: maybe\n").unwrap();
    let e = sdtui::tui::Settings::load(Some(dir.path())).unwrap_err();
    assert!(e.to_string().contains("settings.yml:1:"), "{e}");
}

#[test]
fn container_keys_stop_start_and_restart_the_selected_row() {
    let mut f = fixture();
    let row = |state: &str| sdtui::deploy::StatusRow {
        vm: "core".into(),
        state: sdtui::docker::ServiceState {
            service: "postgres-primary".into(),
            container_id: "c0ffee".into(),
            container: "cheapa-core-postgres-primary-1".into(),
            state: state.into(),
            health: None,
            image: "postgres:15".into(),
            started_at: "2026-11-25T10:00:00Z".into(),
            ports: vec![],
            exit_code: None,
        },
        addon: None,
    };
    f.app
        .apply(Msg::VmStatus("core".into(), vec![row("running")]));
    f.app.key(key(KeyCode::Char('5')));
    let action = |r: Option<Request>| match r {
        Some(Request::Container {
            action, container, ..
        }) => {
            assert_eq!(container, "c0ffee");
            action
        }
        other => panic!("{other:?}"),
    };
    use sdtui::tui::ContainerAction;
    assert_eq!(
        action(
            f.app
                .key(KeyEvent::new(KeyCode::Char('S'), KeyModifiers::SHIFT))
        ),
        ContainerAction::Stop
    );
    assert_eq!(
        action(
            f.app
                .key(KeyEvent::new(KeyCode::Char('R'), KeyModifiers::SHIFT))
        ),
        ContainerAction::Restart
    );
    f.app
        .apply(Msg::VmStatus("core".into(), vec![row("exited")]));
    assert_eq!(
        action(
            f.app
                .key(KeyEvent::new(KeyCode::Char('S'), KeyModifiers::SHIFT))
        ),
        ContainerAction::Start
    );
    // Nothing on a row without a container.
    f.app.key(key(KeyCode::Char('3')));
    assert!(
        f.app
            .key(KeyEvent::new(KeyCode::Char('R'), KeyModifiers::SHIFT))
            .is_none()
    );
}

/// What the user reviewed is what gets written: a change to the project
/// between the review and Enter makes apply refuse, writing nothing.
#[test]
fn apply_refuses_when_the_project_changed_after_the_review() {
    let f = fixture();
    let attach = |prefix: &str| Operation::Attach {
        id: "databases.reports".into(),
        app: "services".into(),
        prefix: Some(prefix.into()),
        access: sdtui::config::Access::Readonly,
    };
    let reviewed =
        f.ws.plan(&f.project, &attach("REPORTS"))
            .unwrap()
            .diff(false);
    // Someone else, meanwhile.
    f.ws.run(&f.project, &attach("OTHER"), false).unwrap();
    let before = std::fs::read_to_string(f.project.config_path()).unwrap();
    let e =
        f.ws.run_reviewed(&f.project, &attach("REPORTS"), false, Some(&reviewed))
            .unwrap_err();
    assert!(
        e.message.contains("changed after the plan was shown"),
        "{}",
        e.message
    );
    assert_eq!(
        std::fs::read_to_string(f.project.config_path()).unwrap(),
        before
    );
    // Reviewed again, it applies.
    let reviewed =
        f.ws.plan(&f.project, &attach("REPORTS"))
            .unwrap()
            .diff(false);
    f.ws.run_reviewed(&f.project, &attach("REPORTS"), false, Some(&reviewed))
        .unwrap();
    let after = std::fs::read_to_string(f.project.config_path()).unwrap();
    assert!(
        after.contains("as: REPORTS") && after.contains("as: OTHER"),
        "{after}"
    );
}

#[test]
fn passphrase_dialog_is_masked_and_answers_once() {
    let mut f = fixture();
    let (reply, answer) = std::sync::mpsc::channel();
    f.app.apply(Msg::Passphrase {
        key: "/home/ops/.ssh/id_deploy".into(),
        retry: false,
        reply,
    });
    typed(&mut f.app, "hunter2");
    let screen = render(&f.app, 80, 24);
    assert!(!screen.contains("hunter2"), "{screen}");
    assert!(screen.contains("•••••••"), "{screen}");
    insta::assert_snapshot!("passphrase_dialog", screen);
    // q is a letter of the passphrase here, not quit.
    typed(&mut f.app, "q");
    assert!(!f.app.quit);
    f.app.key(key(KeyCode::Enter));
    assert_eq!(answer.recv().unwrap().as_deref(), Some("hunter2q"));
    assert!(f.app.passphrase.is_none());
}
