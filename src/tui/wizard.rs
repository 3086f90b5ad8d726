//! Wizards: keyboard forms for the engine's operations. Choices come from
//! the catalog and config.yml, text fields are ratatui-textarea inputs
//! checked as they are typed, and the last step shows the engine's plan as
//! a diff; nothing is written before the user applies it.

use ratatui_textarea::TextArea;

use crate::config::Access;
use crate::engine::Operation;

use super::project_view::ProjectView;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WizardKind {
    Add,
    Attach,
    Detach,
    Upgrade,
    Remove,
    /// From the palette: an operation with no form (sync).
    Command,
}

pub enum FieldKind {
    Choice { options: Vec<String>, index: usize },
    Text(Box<TextArea<'static>>),
}

pub struct Field {
    pub label: &'static str,
    pub kind: FieldKind,
    /// A word on what the field takes, shown beside it.
    pub help: String,
}

impl Field {
    fn choice(label: &'static str, options: Vec<String>, selected: Option<&str>) -> Field {
        let index = selected
            .and_then(|s| options.iter().position(|o| o == s))
            .unwrap_or(0);
        Field {
            label,
            kind: FieldKind::Choice { options, index },
            help: String::new(),
        }
    }

    fn text(label: &'static str, value: &str, placeholder: &str) -> Field {
        let mut input = TextArea::new(vec![value.to_string()]);
        input.set_placeholder_text(placeholder);
        input.move_cursor(ratatui_textarea::CursorMove::End);
        Field {
            label,
            kind: FieldKind::Text(Box::new(input)),
            help: String::new(),
        }
    }

    pub fn value(&self) -> String {
        match &self.kind {
            FieldKind::Choice { options, index } => {
                options.get(*index).cloned().unwrap_or_default()
            }
            FieldKind::Text(t) => t.lines().first().cloned().unwrap_or_default(),
        }
    }
}

pub enum Step {
    Form,
    /// The engine is planning (a task).
    Planning,
    Review {
        diff: String,
        files: Vec<String>,
        notes: Vec<String>,
        scroll: u16,
    },
    Applying,
    Done(String),
}

pub struct Wizard {
    pub kind: WizardKind,
    pub title: String,
    pub fields: Vec<Field>,
    pub focus: usize,
    pub step: Step,
    /// The engine's refusal (plan or apply); the form stays as typed.
    pub error: Option<String>,
    /// The operation planned, applied as is.
    pub op: Option<Operation>,
    /// Enter was pressed on the last field: every problem is shown.
    pub tried: bool,
    /// The type or addon the plan and version choices were made for.
    choices_for: String,
    view: WizardData,
}

/// What the form's choices and checks need from the project.
#[derive(Clone)]
struct WizardData {
    addons: Vec<(String, String, String, String)>, // id, type, plan, version
    attachments: Vec<[String; 4]>,
    types: Vec<super::project_view::TypeInfo>,
}

impl Wizard {
    /// A form for `kind`, preselecting the addon, app or attachment the
    /// cursor is on.
    pub fn new(
        kind: WizardKind,
        view: &ProjectView,
        addon: Option<&str>,
        attachment: Option<usize>,
    ) -> Wizard {
        let data = WizardData {
            addons: view
                .addons
                .iter()
                .map(|a| {
                    (
                        a.id.clone(),
                        a.type_name.clone(),
                        a.plan.clone(),
                        a.version.clone(),
                    )
                })
                .collect(),
            attachments: view.attachments.clone(),
            types: view.types.clone(),
        };
        let addon_ids: Vec<String> = data.addons.iter().map(|a| a.0.clone()).collect();
        let mut fields = Vec::new();
        let title;
        match kind {
            WizardKind::Add => {
                title = "Add an addon".to_string();
                let types: Vec<String> = data.types.iter().map(|t| t.name.clone()).collect();
                fields.push(Field::choice("type", types, None));
                fields.push(Field::text("name", "", "a DNS label: reports, cache-2 ..."));
                fields.push(Field::choice("plan", vec![], None));
                fields.push(Field::choice("version", vec![], None));
                fields.push(Field::choice("vm", view.vms.clone(), None));
                fields.push(Field::text("options", "", "name=value ..., or empty"));
            }
            WizardKind::Attach => {
                title = "Attach an addon to an app".to_string();
                fields.push(Field::choice("addon", addon_ids, addon));
                fields.push(Field::choice("app", view.apps.clone(), None));
                fields.push(Field::text(
                    "as",
                    "",
                    "env prefix; empty: from the category (DATABASE ...)",
                ));
                fields.push(Field::choice(
                    "access",
                    vec!["readwrite".into(), "readonly".into()],
                    None,
                ));
            }
            WizardKind::Detach => {
                title = "Detach an addon from an app".to_string();
                let rows: Vec<String> = data
                    .attachments
                    .iter()
                    .map(|r| format!("{} ⇄ {} as {}", r[0], r[1], r[2]))
                    .collect();
                let selected = attachment.and_then(|i| rows.get(i).cloned());
                fields.push(Field::choice("attachment", rows, selected.as_deref()));
            }
            WizardKind::Upgrade => {
                title = "Upgrade an addon (plan or version)".to_string();
                fields.push(Field::choice("addon", addon_ids, addon));
                fields.push(Field::choice("plan", vec![], None));
                fields.push(Field::choice("version", vec![], None));
            }
            WizardKind::Remove => {
                title = "Remove an addon".to_string();
                fields.push(Field::choice("addon", addon_ids, addon));
                fields.push(Field::choice(
                    "data",
                    vec!["keep".into(), "delete".into()],
                    None,
                ));
                fields.push(Field::text("confirm", "", "type the addon's name back"));
            }
            WizardKind::Command => title = String::new(),
        }
        let mut w = Wizard {
            kind,
            title,
            fields,
            focus: 0,
            step: Step::Form,
            error: None,
            op: None,
            tried: false,
            choices_for: String::new(),
            view: data,
        };
        w.refresh_dependent();
        w
    }

    /// An operation from the palette, straight to planning.
    pub fn command(op: Operation, view: &ProjectView) -> Wizard {
        let mut w = Wizard::new(WizardKind::Command, view, None, None);
        w.title = format!("sdtui {}", op.describe());
        w.op = Some(op);
        w.step = Step::Planning;
        w
    }

    fn field(&self, label: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.label == label)
    }

    /// Remove with `data: delete`: the container and volumes go too.
    pub fn purges(&self) -> bool {
        self.kind == WizardKind::Remove && self.value("data") == "delete"
    }

    pub fn value(&self, label: &str) -> String {
        self.field(label).map(|f| f.value()).unwrap_or_default()
    }

    pub fn set_choice(&mut self, label: &str, value: &str) -> bool {
        let Some(f) = self.fields.iter_mut().find(|f| f.label == label) else {
            return false;
        };
        if let FieldKind::Choice { options, index } = &mut f.kind
            && let Some(i) = options.iter().position(|o| o == value)
        {
            *index = i;
            self.refresh_dependent();
            return true;
        }
        false
    }

    pub fn set_text(&mut self, label: &str, value: &str) {
        if let Some(f) = self.fields.iter_mut().find(|f| f.label == label)
            && let FieldKind::Text(t) = &mut f.kind
        {
            **t = TextArea::new(vec![value.to_string()]);
            t.move_cursor(ratatui_textarea::CursorMove::End);
        }
    }

    fn type_of(&self, name: &str) -> Option<&super::project_view::TypeInfo> {
        self.view.types.iter().find(|t| t.name == name)
    }

    /// Plans and versions follow the chosen type or addon.
    fn refresh_dependent(&mut self) {
        if self.kind == WizardKind::Remove {
            let purge = self.purges();
            if let Some(f) = self.fields.iter_mut().find(|f| f.label == "data") {
                f.help = if purge {
                    "its container and volumes are deleted for good".into()
                } else {
                    "config.yml forgets it; its volumes stay".into()
                };
            }
            return;
        }
        let (type_name, current_plan, current_version) = match self.kind {
            WizardKind::Add => (self.value("type"), None, None),
            WizardKind::Upgrade => {
                let id = self.value("addon");
                match self.view.addons.iter().find(|a| a.0 == id) {
                    Some(a) => (a.1.clone(), Some(a.2.clone()), Some(a.3.clone())),
                    None => return,
                }
            }
            _ => return,
        };
        let basis = format!("{}/{}", self.value("type"), self.value("addon"));
        let Some(t) = self.type_of(&type_name).cloned() else {
            return;
        };
        if basis != self.choices_for {
            self.choices_for = basis;
            self.rebuild_choices(&t, current_plan, current_version);
        }
        for f in &mut self.fields {
            f.help = match (self.kind, f.label) {
                (WizardKind::Add, "options") => {
                    let names: Vec<&str> = t.options.iter().map(|o| o.0.as_str()).collect();
                    if names.is_empty() {
                        format!("{} takes no options", t.name)
                    } else {
                        names.join(", ")
                    }
                }
                (WizardKind::Add, "plan") | (WizardKind::Upgrade, "plan") => t
                    .plan_summaries
                    .iter()
                    .find(|(p, _)| *p == f.value())
                    .map(|(_, s)| s.clone())
                    .unwrap_or_default(),
                _ => continue,
            };
        }
    }

    fn rebuild_choices(
        &mut self,
        t: &super::project_view::TypeInfo,
        current_plan: Option<String>,
        current_version: Option<String>,
    ) {
        for f in &mut self.fields {
            let (options, pick) = match f.label {
                "plan" => (
                    t.plans.clone(),
                    current_plan.clone().unwrap_or(t.default_plan.clone()),
                ),
                "version" => {
                    let mut v = t.versions.clone();
                    let pick = current_version.clone().unwrap_or(t.default_version.clone());
                    if !v.contains(&pick) {
                        v.insert(0, pick.clone());
                    }
                    (v, pick)
                }
                _ => continue,
            };
            let index = options.iter().position(|o| *o == pick).unwrap_or(0);
            f.kind = FieldKind::Choice { options, index };
        }
    }

    /// What is wrong with the form as typed, per field; checked on every
    /// key so the user sees it before submitting.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        match self.kind {
            WizardKind::Add => {
                let name = self.value("name");
                if name.is_empty() {
                    out.push(("name", "a name is needed".to_string()));
                } else if !crate::config::is_dns_label(&name) {
                    // The engine's own rule, so the form agrees with it.
                    out.push((
                        "name",
                        "a DNS label: lowercase letters, digits, '-' (not first or last)"
                            .to_string(),
                    ));
                } else if let Some(t) = self.type_of(&self.value("type")) {
                    let id = format!("{}.{name}", t.category);
                    if self.view.addons.iter().any(|a| a.0 == id) {
                        out.push(("name", format!("{id} exists already")));
                    }
                }
                if self.value("vm").is_empty() {
                    out.push(("vm", "config.yml has no VM".to_string()));
                }
                if let Some(t) = self.type_of(&self.value("type"))
                    && let Err(e) = parse_options(&self.value("options"), t)
                {
                    out.push(("options", e));
                }
            }
            WizardKind::Attach => {
                let prefix = self.value("as");
                if !prefix.is_empty() && !crate::config::is_env_name(&prefix) {
                    out.push((
                        "as",
                        "upper-case letters, digits and _, starting with a letter".to_string(),
                    ));
                }
                if self.value("app").is_empty() {
                    out.push(("app", "config.yml has no app".to_string()));
                }
                let id = self.value("addon");
                if self.value("access") == "readonly"
                    && let Some(a) = self.view.addons.iter().find(|a| a.0 == id)
                    && self.type_of(&a.1).is_some_and(|t| !t.readonly)
                {
                    out.push(("access", format!("{} has no readonly access", a.1)));
                }
            }
            WizardKind::Detach => {
                if self.view.attachments.is_empty() {
                    out.push(("attachment", "nothing is attached".to_string()));
                }
            }
            WizardKind::Upgrade => {
                let id = self.value("addon");
                if let Some(a) = self.view.addons.iter().find(|a| a.0 == id)
                    && a.2 == self.value("plan")
                    && a.3 == self.value("version")
                {
                    out.push(("plan", "pick another plan or version".to_string()));
                }
            }
            WizardKind::Remove => {
                let id = self.value("addon");
                let typed = self.value("confirm");
                if typed != id {
                    out.push(("confirm", format!("type {id} to confirm")));
                }
            }
            WizardKind::Command => {}
        }
        for f in &self.fields {
            if let FieldKind::Choice { options, .. } = &f.kind
                && options.is_empty()
                && !out.iter().any(|(l, _)| *l == f.label)
            {
                out.push((f.label, "nothing to choose from".to_string()));
            }
        }
        out
    }

    /// The operation the form describes, when it has no problem.
    pub fn operation(&self) -> Option<Operation> {
        if !self.problems().is_empty() {
            return None;
        }
        let some = |s: String| (!s.is_empty()).then_some(s);
        Some(match self.kind {
            WizardKind::Add => Operation::Add {
                type_name: self.value("type"),
                name: self.value("name"),
                category: None,
                plan: some(self.value("plan")),
                version: some(self.value("version")),
                vm: some(self.value("vm")),
                options: self
                    .type_of(&self.value("type"))
                    .and_then(|t| parse_options(&self.value("options"), t).ok())
                    .unwrap_or_default(),
                with_deps: false,
            },
            WizardKind::Attach => Operation::Attach {
                id: self.value("addon"),
                app: self.value("app"),
                prefix: some(self.value("as")),
                access: if self.value("access") == "readonly" {
                    Access::Readonly
                } else {
                    Access::Readwrite
                },
            },
            WizardKind::Detach => {
                let i = match &self.fields[0].kind {
                    FieldKind::Choice { index, .. } => *index,
                    FieldKind::Text(_) => 0,
                };
                let r = self.view.attachments.get(i)?;
                Operation::Detach {
                    id: r[1].clone(),
                    app: r[0].clone(),
                    prefix: Some(r[2].clone()),
                }
            }
            WizardKind::Upgrade => {
                let id = self.value("addon");
                let a = self.view.addons.iter().find(|a| a.0 == id)?;
                let plan = self.value("plan");
                let version = self.value("version");
                Operation::Upgrade {
                    id,
                    plan: (plan != a.2).then_some(plan),
                    version: (version != a.3).then_some(version),
                }
            }
            WizardKind::Remove => Operation::Remove {
                id: self.value("addon"),
            },
            WizardKind::Command => self.op.clone()?,
        })
    }

    /// A key on the form. Returns the operation when the user submits a
    /// valid one.
    pub fn form_key(&mut self, k: crossterm::event::KeyEvent) -> Option<Operation> {
        use crossterm::event::KeyCode;
        let last = self.fields.len().saturating_sub(1);
        match k.code {
            KeyCode::Tab | KeyCode::Down => self.focus = (self.focus + 1).min(last),
            KeyCode::BackTab | KeyCode::Up => self.focus = self.focus.saturating_sub(1),
            KeyCode::Enter => {
                if self.focus < last {
                    self.focus += 1;
                } else {
                    self.error = None;
                    self.tried = true;
                    return self.operation();
                }
            }
            _ => {
                let f = self.fields.get_mut(self.focus)?;
                match &mut f.kind {
                    FieldKind::Choice { options, index } => match k.code {
                        KeyCode::Left | KeyCode::Char('h') => *index = index.saturating_sub(1),
                        KeyCode::Right | KeyCode::Char('l') | KeyCode::Char(' ') => {
                            *index = (*index + 1).min(options.len().saturating_sub(1))
                        }
                        // A letter jumps to the next option starting with it.
                        KeyCode::Char(c) => {
                            let n = options.len();
                            if let Some(i) = (1..=n)
                                .map(|d| (*index + d) % n.max(1))
                                .find(|i| options[*i].starts_with(c))
                            {
                                *index = i;
                            }
                        }
                        _ => {}
                    },
                    FieldKind::Text(t) => {
                        t.input(k);
                    }
                }
                self.refresh_dependent();
            }
        }
        None
    }
}

/// `max_connections=200 shared_buffers=512MB` (commas allowed), each
/// name one of the type's options and each value matching its pattern.
pub fn parse_options(
    text: &str,
    t: &super::project_view::TypeInfo,
) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for word in text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
    {
        let (name, value) = crate::config::parse_option(word)?;
        let (name, value) = (name.as_str(), value.as_str());
        let Some((_, _, pattern)) = t.options.iter().find(|o| o.0 == name) else {
            return Err(format!(
                "{} has no option \"{name}\"{}",
                t.name,
                if t.options.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; options: {}",
                        t.options
                            .iter()
                            .map(|o| o.0.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            ));
        };
        if !crate::config::option_matches(pattern, value) {
            return Err(format!("{name}: \"{value}\" does not match {pattern}"));
        }
        out.push((name.to_string(), value.to_string()));
    }
    Ok(out)
}

impl super::app::App {
    pub(super) fn wizard_key(
        &mut self,
        k: crossterm::event::KeyEvent,
    ) -> Option<super::msg::Request> {
        let w = self.wizard.as_mut()?;
        match &mut w.step {
            Step::Form => {
                if k.code == crossterm::event::KeyCode::Esc {
                    self.wizard = None;
                    return None;
                }
                let op = w.form_key(k)?;
                w.step = Step::Planning;
                w.op = Some(op.clone());
                Some(super::msg::Request::Plan(op))
            }
            Step::Planning | Step::Applying => {
                if k.code == crossterm::event::KeyCode::Esc && matches!(w.step, Step::Planning) {
                    self.wizard = None;
                }
                None
            }
            Step::Review { scroll, diff, .. } => match k.code {
                crossterm::event::KeyCode::Char('j') | crossterm::event::KeyCode::Down => {
                    *scroll = scroll.saturating_add(1);
                    None
                }
                crossterm::event::KeyCode::Char('k') | crossterm::event::KeyCode::Up => {
                    *scroll = scroll.saturating_sub(1);
                    None
                }
                crossterm::event::KeyCode::PageDown | crossterm::event::KeyCode::Char(' ') => {
                    *scroll = scroll.saturating_add(10);
                    None
                }
                crossterm::event::KeyCode::PageUp => {
                    *scroll = scroll.saturating_sub(10);
                    None
                }
                crossterm::event::KeyCode::Enter | crossterm::event::KeyCode::Char('y') => {
                    let reviewed = std::mem::take(diff);
                    let op = w.op.clone()?;
                    let purge = w.purges();
                    w.step = Step::Applying;
                    match op {
                        Operation::Remove { id } if purge => {
                            Some(super::msg::Request::RemoveAndPurge(id, reviewed))
                        }
                        op => Some(super::msg::Request::Apply(op, reviewed)),
                    }
                }
                crossterm::event::KeyCode::Esc | crossterm::event::KeyCode::Char('b') => {
                    if w.kind == WizardKind::Command {
                        self.wizard = None;
                    } else {
                        w.step = Step::Form;
                    }
                    None
                }
                _ => None,
            },
            Step::Done(_) => {
                self.wizard = None;
                None
            }
        }
    }
}
