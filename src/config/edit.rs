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

/// Renames `category.name` to `new_category.new_name`, fields and comments
/// kept, and points every attachment at the new id. `keep_prefix`: the old
/// category's default prefix, written as `as:` where an attachment relied
/// on the default, so a category change keeps every app's variable names.
pub fn rename_addon(
    text: &str,
    (category, name): (&str, &str),
    (new_category, new_name): (&str, &str),
    keep_prefix: Option<&str>,
) -> Result<String> {
    let d = doc(text)?;
    let r = root(&d)?;
    let missing = || UserError::new(format!("no addon {category}.{name} in config.yml"));
    let addons = r.get_mapping("addons").ok_or_else(missing)?;
    let cat = addons.get_mapping(category).ok_or_else(missing)?;
    if category == new_category {
        if !cat.rename_key(name, new_name) {
            return Err(missing());
        }
    } else {
        let node = cat.get(name).ok_or_else(missing)?;
        let target = child_mapping(&addons, new_category);
        target.set(new_name, &node);
        cat.remove(name);
        if cat.is_empty() {
            addons.remove(category);
        }
    }
    retarget_attachments(
        &d.to_string(),
        &format!("{category}.{name}"),
        &format!("{new_category}.{new_name}"),
        keep_prefix,
    )
}

/// Points every app's attachment to `old_id` at `new_id` instead, in the
/// long and the short forms; `keep_prefix` is written where the prefix was
/// the default (the new instance's category may default to another).
pub fn retarget_attachments(
    text: &str,
    old_id: &str,
    new_id: &str,
    keep_prefix: Option<&str>,
) -> Result<String> {
    let d = doc(text)?;
    let r = root(&d)?;
    let Some(apps) = r.get_mapping("apps") else {
        return Ok(d.to_string());
    };
    for app in apps.values() {
        let Some(seq) = app.as_mapping().and_then(|a| a.get_sequence("addons")) else {
            continue;
        };
        for i in 0..seq.len() {
            let Some(item) = seq.get(i) else { continue };
            if let Some(m) = item.as_mapping() {
                let points_here = m
                    .get("addon")
                    .and_then(|v| v.as_scalar().map(|s| s.as_string()))
                    .is_some_and(|v| v == old_id);
                if points_here {
                    m.set("addon", new_id);
                    if let Some(p) = keep_prefix
                        && !m.contains_key("as")
                    {
                        m.set("as", p);
                    }
                }
            } else if let Some(s) = item.as_scalar() {
                // The short forms: `category.name` and `category.name as P`.
                let short = s.as_string();
                let mut words = short.split_whitespace();
                if words.next() != Some(old_id) {
                    continue;
                }
                let rest: Vec<&str> = words.collect();
                let new_short = match (rest.as_slice(), keep_prefix) {
                    ([], Some(p)) => format!("{new_id} as {p}"),
                    _ => std::iter::once(new_id)
                        .chain(rest.iter().copied())
                        .collect::<Vec<_>>()
                        .join(" "),
                };
                seq.set(i, new_short.as_str());
            }
        }
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

/// Removes one field of an addon instance (`follows` ...).
pub fn remove_addon_field(text: &str, category: &str, name: &str, key: &str) -> Result<String> {
    let d = doc(text)?;
    let r = root(&d)?;
    let inst = r
        .get_mapping("addons")
        .and_then(|a| a.get_mapping(category))
        .and_then(|c| c.get_mapping(name))
        .ok_or_else(|| UserError::new(format!("no addon {category}.{name} in config.yml")))?;
    inst.remove(key);
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

    #[test]
    fn rename_keeps_fields_comments_and_prefixes() {
        let out = rename_addon(SRC, ("databases", "primary"), ("databases", "main"), None).unwrap();
        assert_eq!(
            out,
            SRC.replace("    primary:", "    main:")
                .replace("- databases.primary as DB", "- databases.main as DB")
        );
        let src = "addons:\n  databases:\n    primary:\n      type: postgres\napps:\n  api:\n    addons:\n      - databases.primary\n      - addon: databases.primary\n        as: DB\n      - addon: databases.primary\n";
        let out = rename_addon(
            src,
            ("databases", "primary"),
            ("sql", "main"),
            Some("DATABASE"),
        )
        .unwrap();
        assert!(
            out.contains("  sql:\n    main:\n      type: postgres\n"),
            "{out}"
        );
        assert!(!out.contains("databases"), "{out}");
        assert!(out.contains("- sql.main as DATABASE\n"), "{out}");
        assert!(out.contains("- addon: sql.main\n        as: DB\n"), "{out}");
        assert!(
            out.contains("- addon: sql.main\n        as: DATABASE\n"),
            "{out}"
        );
    }
}
