//! Checks a Pod file before anything is substituted: one document,
//! `apiVersion: v1`, `kind: Pod`, and only the fields its compose twin
//! carries — each refused field named with its line and a hint.

use super::at;
use crate::error::{UserError, choices};
use granit_parser::{Event, Parser, Span};
use std::path::Path;

/// The fields a Pod may use, per mapping; a mapping not listed (labels)
/// takes any key.
pub const SUPPORTED_FIELDS: &[(&str, &[&str])] = &[
    ("", &["apiVersion", "kind", "metadata", "spec"]),
    ("metadata", &["name", "labels"]),
    (
        "spec",
        &["containers", "volumes", "restartPolicy", "hostname"],
    ),
    (
        "spec.containers[]",
        &[
            "name",
            "image",
            "command",
            "args",
            "env",
            "ports",
            "volumeMounts",
            "workingDir",
        ],
    ),
    ("spec.containers[].env[]", &["name", "value"]),
    (
        "spec.containers[].ports[]",
        &["containerPort", "hostPort", "protocol", "name"],
    ),
    (
        "spec.containers[].volumeMounts[]",
        &["name", "mountPath", "readOnly"],
    ),
    (
        "spec.volumes[]",
        &["name", "emptyDir", "persistentVolumeClaim"],
    ),
    ("spec.volumes[].emptyDir", &[]),
    ("spec.volumes[].persistentVolumeClaim", &["claimName"]),
];

/// Values Kubernetes itself expands `$(VAR)` in; Compose would not.
const EXPANDED_BY_KUBERNETES: &[&str] = &[
    "spec.containers[].command[]",
    "spec.containers[].args[]",
    "spec.containers[].env[].value",
];

enum Frame {
    Mapping { path: String, key: Option<String> },
    Sequence { path: String },
}

pub fn check(file: &Path, source: &str) -> Result<(), UserError> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut documents = 0;
    let mut kind: Option<(String, Span)> = None;
    let mut api_version: Option<(String, Span)> = None;
    // Reported after the kind: a Deployment is "not a Pod", not "no replicas".
    let mut field_error: Option<UserError> = None;
    for next in Parser::new_from_str(source) {
        let (event, span) = next.map_err(|e| {
            let m = e.marker();
            at(
                file,
                source,
                m.line() as u64,
                m.col() as u64 + 1,
                format!("this Pod file is not valid YAML: {}", e.info()),
            )
        })?;
        match event {
            Event::DocumentStart(..) => {
                documents += 1;
                if documents > 1 {
                    return Err(place(
                        file,
                        source,
                        &span,
                        "a Pod file holds one Pod; this one has a second document".into(),
                    )
                    .hint("put each Pod in its own file"));
                }
            }
            Event::Scalar(value, ..) => {
                if let Some(Frame::Mapping { path, key }) = stack.last_mut()
                    && key.is_none()
                {
                    if let Err(e) = check_field(file, source, &span, path, &value) {
                        field_error.get_or_insert(e);
                    }
                    *key = Some(value.into_owned());
                    continue;
                }
                let path = child_path(&stack);
                if path == "kind" {
                    kind = Some((value.to_string(), span));
                } else if path == "apiVersion" {
                    api_version = Some((value.to_string(), span));
                } else if EXPANDED_BY_KUBERNETES.contains(&path.as_str()) && value.contains("$(") {
                    field_error.get_or_insert(place(
                        file,
                        source,
                        &span,
                        format!("`$(...)` in `{path}` is expanded by Kubernetes, not by Compose, so the pod's compose twin would differ"),
                    )
                    .hint("write the value itself, or ${VAR} for a variable sdtui substitutes"));
                }
                value_done(&mut stack);
            }
            Event::MappingStart(..) => {
                let path = child_path(&stack);
                stack.push(Frame::Mapping { path, key: None });
            }
            Event::SequenceStart(..) => {
                let path = child_path(&stack);
                stack.push(Frame::Sequence {
                    path: format!("{path}[]"),
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
                value_done(&mut stack);
            }
            Event::Alias(_) => value_done(&mut stack),
            _ => {}
        }
    }
    let name = file.display();
    let Some((kind, kind_span)) = kind else {
        return Err(UserError::new(format!(
            "{name}: no `kind:` — this is not a Kubernetes Pod file"
        ))
        .hint("a Pod file starts with `apiVersion: v1` and `kind: Pod`"));
    };
    if kind != "Pod" {
        return Err(place(file, source, &kind_span, format!("kind `{kind}` is not supported: a pod deployment takes a Kubernetes `Pod`"))
            .hint("write the containers as a `kind: Pod` (apiVersion: v1), or deploy a compose file instead"));
    }
    match api_version {
        Some((v, _)) if v == "v1" => field_error.map_or(Ok(()), Err),
        Some((v, span)) => Err(place(
            file,
            source,
            &span,
            format!("apiVersion `{v}` is not a Pod's: a Pod is `apiVersion: v1`"),
        )
        .hint("write `apiVersion: v1`")),
        None => Err(UserError::new(format!("{name}: no `apiVersion:`"))
            .hint("a Pod file starts with `apiVersion: v1` and `kind: Pod`")),
    }
}

/// The path of the node that starts now, from its parent.
fn child_path(stack: &[Frame]) -> String {
    match stack.last() {
        None => String::new(),
        Some(Frame::Sequence { path }) => path.clone(),
        Some(Frame::Mapping { path, key }) => {
            let key = key.as_deref().unwrap_or("?");
            if path.is_empty() {
                key.to_string()
            } else {
                format!("{path}.{key}")
            }
        }
    }
}

/// A mapping's value is complete: the next scalar is a key again.
fn value_done(stack: &mut [Frame]) {
    if let Some(Frame::Mapping { key, .. }) = stack.last_mut() {
        *key = None;
    }
}

fn check_field(
    file: &Path,
    source: &str,
    span: &Span,
    path: &str,
    key: &str,
) -> Result<(), UserError> {
    let Some((_, allowed)) = SUPPORTED_FIELDS.iter().find(|(p, _)| *p == path) else {
        return Ok(());
    };
    if allowed.contains(&key) {
        return Ok(());
    }
    let full = if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    };
    let hint = match key {
        "initContainers" => "init containers belong in the environment's `init:` files (each must exit 0 before the deployment)".to_string(),
        "valueFrom" => "write the value, or ${VAR} for a variable or secret sdtui substitutes".to_string(),
        _ => format!(
            "a Pod runs here through its compose twin, which carries only: {}; remove it, or deploy a compose file instead",
            choices(allowed.iter())
        ),
    };
    Err(place(
        file,
        source,
        span,
        format!("`{full}` is not supported in a Pod file: its compose twin could not carry it, and sdtui never drops a field silently"),
    )
    .hint(hint))
}

fn place(file: &Path, source: &str, span: &Span, message: String) -> UserError {
    at(
        file,
        source,
        span.start.line() as u64,
        span.start.col() as u64 + 1,
        message,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(src: &str) -> String {
        check(Path::new("pod.yml"), src).unwrap_err().to_string()
    }

    const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  labels:\n    any-label: x\nspec:\n  containers:\n    - name: web\n      image: busybox\n";

    #[test]
    fn a_plain_pod_passes() {
        check(Path::new("pod.yml"), POD).unwrap();
    }

    #[test]
    fn another_kind_is_named_with_its_line() {
        let e = err(&POD.replace("kind: Pod", "kind: Deployment"));
        assert!(
            e.starts_with("pod.yml:2:7: kind `Deployment` is not supported"),
            "{e}"
        );
        let e = err(&POD.replace("apiVersion: v1", "apiVersion: apps/v1"));
        assert!(e.starts_with("pod.yml:1:13: apiVersion `apps/v1`"), "{e}");
        let e = err("apiVersion: v1\nmetadata: {name: x}\n");
        assert!(e.contains("no `kind:`"), "{e}");
    }

    #[test]
    fn unsupported_fields_are_refused_by_name() {
        let e = err(&POD.replace("  containers:", "  initContainers: []\n  containers:"));
        assert!(
            e.starts_with("pod.yml:8:3: `spec.initContainers` is not supported"),
            "{e}"
        );
        assert!(e.contains("init:"), "{e}");
        let e = err(&format!(
            "{POD}      securityContext: {{runAsUser: 1000}}\n"
        ));
        assert!(
            e.starts_with("pod.yml:11:7: `spec.containers[].securityContext`"),
            "{e}"
        );
        assert!(e.contains("carries only: name, image"), "{e}");
        let e = err(&format!(
            "{POD}      env:\n        - name: A\n          valueFrom: {{}}\n"
        ));
        assert!(e.contains("`spec.containers[].env[].valueFrom`"), "{e}");
    }

    #[test]
    fn kubernetes_own_expansion_is_refused() {
        let e = err(&format!("{POD}      args: [\"--home=$(HOME)\"]\n"));
        assert!(
            e.starts_with("pod.yml:11:14: `$(...)` in `spec.containers[].args[]`"),
            "{e}"
        );
    }

    #[test]
    fn one_pod_per_file() {
        let e = err(&format!("{POD}---\n{POD}"));
        assert!(e.contains("second document"), "{e}");
    }
}
