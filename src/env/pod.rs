//! A user's Kubernetes `Pod` file: checked (kind, and only fields its
//! compose twin can carry), substituted like a compose file, and turned
//! into (a) the substituted Pod YAML and (b) its compose twin — Podman
//! cannot start containers on the machines this was built on, so a pod
//! deployment runs through the twin. A field the twin cannot carry is
//! refused by name, never dropped.

mod shape;
mod twin;

use crate::env::substitute::{Occurrence, Target, Variables, substitute};
use crate::error::{SourceSpot, UserError};
use serde::Deserialize;
use std::path::Path;

pub use shape::SUPPORTED_FIELDS;

/// What a Pod file gives the engine.
#[derive(Debug, Clone)]
pub struct PodFiles {
    /// The Pod with every `${...}` resolved, for `export --format pod`.
    pub pod: String,
    /// The same containers as a compose file (v1 and v2 alike).
    pub compose: String,
    pub occurrences: Vec<Occurrence>,
}

/// Reads `source` (the text of `file`): ports of the twin are published on
/// `address` (`IP:host:container`).
pub fn read_pod(
    file: &Path,
    source: &str,
    variables: &Variables,
    address: &str,
) -> Result<PodFiles, UserError> {
    shape::check(file, source)?;
    let substituted = substitute(file, source, variables, Target::Kubernetes)?;
    let pod: Pod = serde_saphyr::from_str(&substituted.text).map_err(|e| {
        UserError::new(format!(
            "{}: after substitution, this Pod does not read as one: {e}",
            file.display()
        ))
        .hint("check the types Kubernetes wants (containerPort is a number, env values are strings: quote \"${VAR}\")")
    })?;
    refuse_kubernetes_expansion(file, source, &pod, &substituted.occurrences, variables)?;
    let compose = twin::compose_twin(&pod, address)
        .map_err(|e| UserError::new(format!("{}: {e}", file.display())))?;
    Ok(PodFiles {
        pod: substituted.text,
        compose,
        occurrences: substituted.occurrences,
    })
}

/// Kubernetes expands `$(NAME)` in command, args and env values. shape.rs
/// refuses it in the file; a variable's value can bring it in too, and then
/// the Pod would mean something else than its compose twin (and than the
/// value): refused, naming the variable and place, never the value.
fn refuse_kubernetes_expansion(
    file: &Path,
    source: &str,
    pod: &Pod,
    occurrences: &[Occurrence],
    variables: &Variables,
) -> Result<(), UserError> {
    let expanded = pod.spec.containers.iter().any(|c| {
        c.command
            .iter()
            .chain(&c.args)
            .chain(c.env.iter().map(|e| &e.value))
            .any(|v| v.contains("$("))
    });
    if !expanded {
        return Ok(());
    }
    let culprit = occurrences.iter().find(|o| {
        o.default_used.is_none()
            && variables
                .get(&o.name)
                .is_some_and(|v| v.value.contains("$("))
    });
    let message = "a value holding `$(` lands in a container's command, args or env, where Kubernetes would expand it as `$(VAR)`";
    let hint = "deploy this environment with a compose file, or change the value";
    Err(match culprit {
        Some(o) => at(
            file,
            source,
            o.line,
            o.column,
            format!("variable `{}`: {message}", o.name),
        )
        .hint(hint),
        None => UserError::new(format!("{}: {message}", file.display())).hint(hint),
    })
}

/// The subset of a Pod that sdtui runs; shape.rs refuses anything else
/// before this is read.
#[derive(Debug, Deserialize)]
pub(crate) struct Pod {
    pub metadata: Metadata,
    pub spec: PodSpec,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Metadata {
    pub name: String,
    #[serde(default)]
    pub labels: indexmap::IndexMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PodSpec {
    pub containers: Vec<Container>,
    #[serde(default)]
    pub volumes: Vec<PodVolume>,
    pub restart_policy: Option<String>,
    pub hostname: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Container {
    pub name: String,
    pub image: String,
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: Vec<EnvVar>,
    #[serde(default)]
    pub ports: Vec<ContainerPort>,
    #[serde(default)]
    pub volume_mounts: Vec<VolumeMount>,
    pub working_dir: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct EnvVar {
    pub name: String,
    #[serde(default)]
    pub value: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ContainerPort {
    pub container_port: u16,
    pub host_port: Option<u16>,
    pub protocol: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VolumeMount {
    pub name: String,
    pub mount_path: String,
    #[serde(default)]
    pub read_only: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PodVolume {
    pub name: String,
    pub persistent_volume_claim: Option<Claim>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Claim {
    pub claim_name: String,
}

/// An error at a place in the user's file.
pub(crate) fn at(file: &Path, source: &str, line: u64, column: u64, message: String) -> UserError {
    UserError::new(message).at(Some(SourceSpot::new(file, Some(source), line, column)))
}
