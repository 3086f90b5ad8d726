//! The user's `init:` and `deployment:` files of an environment, substituted
//! (a Pod → its compose twin) and written atomically beside the generated
//! files, in `<project>/environments/<env>/files/` — never over the
//! user's file. Each run also gets `network.yml`, which puts every service
//! on the addons' compose network too, so `DATABASE_URL`'s host (the
//! addon's service name) resolves from inside the user's containers.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::UserFile;
use crate::env::pod::read_pod;
use crate::env::substitute::{Occurrence, Target, substitute};
use crate::env::vars::Resolved;
use crate::error::{Result, UserError, io_error};

/// Where an environment's substituted copies live, in its folder.
pub const FILES_DIR: &str = "files";
/// The network override's key for the addons' network.
pub const ADDONS_NETWORK: &str = "sdtui-addons";

/// One of the user's files, substituted.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// `init-1`, `init-2` ..., `deployment`: the copy's name and the last
    /// part of its compose project.
    pub name: String,
    /// The user's file as config.yml names it.
    pub source: UserFile,
    /// The compose file that runs (a Pod's twin for a Pod).
    pub compose: String,
    /// The substituted Pod, for a Pod file.
    pub pod: Option<String>,
    pub occurrences: Vec<Occurrence>,
    /// Services that can join a network (no `network_mode`), in file order.
    pub networked: Vec<String>,
    /// Every service, in file order.
    pub services: Vec<String>,
}

#[derive(Deserialize)]
struct Probe {
    kind: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct ComposeProbe {
    #[serde(default)]
    services: indexmap::IndexMap<String, ServiceProbe>,
}

#[derive(Deserialize, Default)]
struct ServiceProbe {
    network_mode: Option<String>,
}

/// Substitutes one of the environment's files; nothing is written.
pub fn prepare(r: &Resolved, project_dir: &Path, file: &UserFile, name: &str) -> Result<Prepared> {
    let path = project_dir.join(&file.path);
    let shown = file.path.as_path();
    let source = std::fs::read_to_string(&path).map_err(|e| {
        UserError::new(format!(
            "{}: cannot read {} (named at config.yml:{}): {e}",
            r.environment.name,
            shown.display(),
            file.line
        ))
        .hint("fix the path under the environment in config.yml; it is relative to the project folder")
    })?;
    let is_pod = serde_saphyr::from_str::<Probe>(&source)
        .map(|p| p.kind.is_some())
        .unwrap_or(false);
    let (compose, pod, occurrences) = if is_pod {
        let address = r
            .loaded
            .config
            .vms
            .get(&r.vm)
            .map(|v| v.private_ip.clone())
            .unwrap_or_else(|| "127.0.0.1".into());
        let p = read_pod(shown, &source, &r.variables, &address)?;
        (p.compose, Some(p.pod), p.occurrences)
    } else {
        let s = substitute(shown, &source, &r.variables, Target::Compose)?;
        (s.text, None, s.occurrences)
    };
    let probe: ComposeProbe = serde_saphyr::from_str(&compose).map_err(|e| {
        UserError::new(format!("{}: not a compose file: {e}", shown.display()))
            .hint("an init or deployment file is a compose file (`services:`) or a Kubernetes Pod")
    })?;
    if probe.services.is_empty() {
        return Err(
            UserError::new(format!("{}: no services in this file", shown.display()))
                .hint("declare the containers under `services:`"),
        );
    }
    Ok(Prepared {
        name: name.to_string(),
        source: file.clone(),
        compose,
        pod,
        occurrences,
        networked: probe
            .services
            .iter()
            .filter(|(_, s)| s.network_mode.is_none())
            .map(|(n, _)| n.clone())
            .collect(),
        services: probe.services.keys().cloned().collect(),
    })
}

/// Every init file (in order) and the deployment, substituted.
pub fn prepare_all(r: &Resolved, project_dir: &Path) -> Result<(Vec<Prepared>, Option<Prepared>)> {
    let init = r
        .environment
        .init
        .iter()
        .enumerate()
        .map(|(i, f)| prepare(r, project_dir, f, &format!("init-{}", i + 1)))
        .collect::<Result<Vec<_>>>()?;
    let deployment = r
        .environment
        .deployment
        .as_ref()
        .map(|f| prepare(r, project_dir, f, "deployment"))
        .transpose()?;
    Ok((init, deployment))
}

/// The docker network of the environment's addons on `vm`: compose names
/// it `<compose project>_<key>`, the key being `<project>-network`.
pub fn addons_network(r: &Resolved) -> Option<String> {
    r.environment.addons.iter().any(|a| a.vm == r.vm).then(|| {
        format!(
            "{}_{}-network",
            crate::deploy::compose_project(&r.scoped.name, &r.vm),
            r.scoped.name
        )
    })
}

/// The override that puts each service on the addons' network as well.
pub fn network_override(p: &Prepared, network: &str) -> String {
    let mut out = format!(
        "# Generated by sdtui: {} joins the addons' network, where their service names resolve.\nnetworks:\n  {ADDONS_NETWORK}:\n    external: true\n    name: {}\nservices:\n",
        p.source.path.display(),
        crate::yamlout::scalar(network)
    );
    for s in &p.networked {
        out.push_str(&format!(
            "  {}:\n    networks: [default, {ADDONS_NETWORK}]\n",
            crate::yamlout::scalar(s)
        ));
    }
    out
}

/// Writes the copy (and its network override) atomically; returns the
/// compose files to pass, in order. 0600: the values may be secrets.
pub fn write(r: &Resolved, p: &Prepared) -> Result<Vec<PathBuf>> {
    let dir = r.scoped.dir.join(FILES_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, "create", e))?;
    let copy = dir.join(format!("{}.yml", p.name));
    let header = format!(
        "# {} of environment {}, substituted by sdtui. Do not edit: edit the original and run `sdtui env start {}`.\n",
        p.source.path.display(),
        r.environment.name,
        r.environment.name
    );
    write_if_changed(&copy, format!("{header}{}", p.compose).as_bytes(), 0o600)?;
    let mut files = vec![copy];
    if let Some(network) = addons_network(r)
        && !p.networked.is_empty()
    {
        let net = dir.join(format!("{}.network.yml", p.name));
        write_if_changed(&net, network_override(p, &network).as_bytes(), 0o644)?;
        files.push(net);
    }
    Ok(files)
}

/// Writes atomically unless the file already holds these bytes with this
/// mode: a start that changes nothing touches no file.
fn write_if_changed(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let same = std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o777 == mode)
        && std::fs::read(path).is_ok_and(|b| b == bytes);
    if same {
        return Ok(());
    }
    crate::engine::apply::write_atomic(path, bytes, mode)
}
