//! Edits of config.yml that keep the user's comments, key order, blank
//! lines and indentation: only the edited lines change (yaml-edit's lossless
//! tree). Each edit is re-validated by the caller before anything is written.

use std::str::FromStr;

use yaml_edit::{Document, Mapping, Sequence};

use crate::error::{Result, UserError};

fn doc(text: &str) -> Result<Document> {
    Document::from_str(text)
        .map_err(|e| UserError::new(format!("config.yml cannot be edited: {e}")))
}

fn root(doc: &Document) -> Result<Mapping> {
    doc.as_mapping().ok_or_else(|| {
        UserError::new("config.yml is not a mapping at the top").hint("start from `sdtui init`")
    })
}

/// Gets `key` as a block mapping, creating it (and replacing an empty `{}`).
fn child_mapping(parent: &Mapping, key: &str) -> Mapping {
    if let Some(m) = parent.get_mapping(key)
        && !(m.is_empty() && m.is_flow_style())
    {
        return m;
    }
    parent.set(key, Mapping::new());
    parent.get_mapping(key).unwrap_or_default()
}

/// Adds `category.name` with the given fields (and options).
pub fn add_addon(
    text: &str,
    category: &str,
    name: &str,
    fields: &[(&str, String)],
    options: &[(String, String)],
) -> Result<String> {
    let d = doc(text)?;
    let r = root(&d)?;
    let addons = child_mapping(&r, "addons");
    let cat = child_mapping(&addons, category);
    if cat.contains_key(name) {
        return Err(
            UserError::new(format!("addon {category}.{name} already exists"))
                .hint("pick another name, or `addons upgrade` it"),
        );
    }
    let m = Mapping::new();
    for (k, v) in fields {
        m.set(*k, v.as_str());
    }
    if !options.is_empty() {
        let o = Mapping::new();
        for (k, v) in options {
            o.set(k.as_str(), v.as_str());
        }
        m.set("options", &o);
    }
    cat.set(name, &m);
    Ok(d.to_string())
}

pub fn remove_addon(text: &str, category: &str, name: &str) -> Result<String> {
    let d = doc(text)?;
    let r = root(&d)?;
    let missing = || UserError::new(format!("no addon {category}.{name} in config.yml"));
    let addons = r.get_mapping("addons").ok_or_else(missing)?;
    let cat = addons.get_mapping(category).ok_or_else(missing)?;
    cat.remove(name).ok_or_else(missing)?;
    if cat.is_empty() {
        addons.remove(category);
    }
    Ok(d.to_string())
}

/// Sets one scalar field of an addon instance (plan, version ...).
pub fn set_addon_field(
    text: &str,
    category: &str,
    name: &str,
    key: &str,
    value: &str,
) -> Result<String> {
    let d = doc(text)?;
    let r = root(&d)?;
    let inst = r
        .get_mapping("addons")
        .and_then(|a| a.get_mapping(category))
        .and_then(|c| c.get_mapping(name))
        .ok_or_else(|| UserError::new(format!("no addon {category}.{name} in config.yml")))?;
    inst.set(key, value);
    Ok(d.to_string())
}

/// Sets one scalar field of an app (tag ...).
pub fn set_app_field(text: &str, app: &str, key: &str, value: &str) -> Result<String> {
    let d = doc(text)?;
    let r = root(&d)?;
    let a = r
        .get_mapping("apps")
        .and_then(|apps| apps.get_mapping(app))
        .ok_or_else(|| UserError::new(format!("no app {app} in config.yml")))?;
    a.set(key, value);
    Ok(d.to_string())
}

/// Appends an attachment to the app's `addons:` list.
pub fn attach(text: &str, app: &str, addon: &str, prefix: &str, readonly: bool) -> Result<String> {
    let d = doc(text)?;
    let r = root(&d)?;
    let a = r
        .get_mapping("apps")
        .and_then(|apps| apps.get_mapping(app))
        .ok_or_else(|| UserError::new(format!("no app {app} in config.yml")))?;
    let item = Mapping::new();
    item.set("addon", addon);
    item.set("as", prefix);
    if readonly {
        item.set("access", "readonly");
    }
    match a.get_sequence("addons") {
        Some(seq) if !(seq.is_empty() && seq.is_flow_style()) => seq.push(&item),
        _ => {
            let seq = Sequence::new();
            seq.push(&item);
            a.set("addons", &seq);
        }
    }
    Ok(d.to_string())
}

/// Removes the app's attachments at these positions of its `addons:` list
/// (the order config validation reads them in).
pub fn detach(text: &str, app: &str, positions: &[usize]) -> Result<String> {
    let d = doc(text)?;
    let r = root(&d)?;
    let a = r
        .get_mapping("apps")
        .and_then(|apps| apps.get_mapping(app))
        .ok_or_else(|| UserError::new(format!("no app {app} in config.yml")))?;
    let seq = a
        .get_sequence("addons")
        .ok_or_else(|| UserError::new(format!("app {app} has no attachments")))?;
    let mut sorted = positions.to_vec();
    sorted.sort_unstable();
    for i in sorted.iter().rev() {
        seq.remove(*i);
    }
    if seq.is_empty() {
        a.remove("addons");
    }
    Ok(d.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "# top\naddons:\n  # dbs\n  databases:\n    primary:\n      type: postgres   # main\n      plan: standard\n\napps:\n  api:\n    addons:\n      - databases.primary as DB  # short\n";

    #[test]
    fn edits_touch_only_their_lines() {
        let out = set_addon_field(SRC, "databases", "primary", "plan", "large").unwrap();
        assert_eq!(out, SRC.replace("plan: standard", "plan: large"));
        let out = attach(SRC, "api", "databases.primary", "ANALYTICS", true).unwrap();
        assert!(out.starts_with(SRC), "{out}");
        assert!(out.ends_with("      - addon: databases.primary\n        as: ANALYTICS\n        access: readonly\n"), "{out}");
        let out = detach(&out, "api", &[0]).unwrap();
        assert!(
            out.contains("as: ANALYTICS") && !out.contains("as DB"),
            "{out}"
        );
        assert!(out.contains("type: postgres   # main"));
    }
}
