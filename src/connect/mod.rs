//! `connect ADDON`: the addon's client on this machine, reaching the addon's
//! private address on its VM through the VM's SSH session (a `direct-tcpip`
//! channel per connection), so nothing is published beyond that address.
//! The `local` VM needs no SSH: its address is reachable as it is.

pub mod client;
pub mod forward;
pub mod shell;
pub mod tty;

use std::collections::BTreeMap;

use crate::catalog::{AddonType, Publish};
use crate::config::{Addon, Vm};
use crate::engine::{Project, Workspace};
use crate::error::{Result, UserError};

/// The addon `connect` aims at, and with which login.
pub struct Destination {
    pub addon: Addon,
    pub t: AddonType,
    pub vm: Vm,
    /// The addon's private address and published port on its VM.
    pub host: String,
    pub port: u16,
    /// Credentials, with `{USER}`/`{PASSWORD}` the readonly login's when asked.
    pub creds: BTreeMap<String, String>,
}

/// Where `id` listens and its credentials.
pub fn destination(
    ws: &Workspace,
    project: &Project,
    id: &str,
    readonly: bool,
) -> Result<Destination> {
    let loaded = ws.load(project)?;
    let addon = crate::engine::require_addon(&loaded.config, id)?.clone();
    let t = ws.catalog.require(&addon.type_name)?.clone();
    if t.publish == Publish::None {
        return Err(UserError::new(format!(
            "{id} ({}) publishes no port, so nothing outside its VM can reach it",
            t.name
        ))
        .hint(format!(
            "open a shell in it instead: sdtui -p {} logs {}",
            project.name,
            addon.service()
        )));
    }
    let mut creds: BTreeMap<String, String> = loaded.generated.secrets[&addon.type_name]
        [&addon.name]
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if readonly {
        let ro = t.readonly.as_ref().ok_or_else(|| {
            UserError::new(format!("{id} ({}) has no readonly login", t.name))
                .hint("connect without --readonly")
        })?;
        for (from, to) in &ro.credentials {
            if let Some(v) = creds.get(to).cloned() {
                creds.insert(from.clone(), v);
            }
        }
    }
    creds.insert("READONLY".into(), readonly.to_string());
    let host = creds.get("HOST").cloned().unwrap_or_default();
    let port = creds
        .get("PORT")
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| UserError::new(format!("secrets.yml has no port for {id}")))?;
    let vm = loaded.config.vms[&addon.vm].clone();
    Ok(Destination {
        addon,
        t,
        vm,
        host,
        port,
        creds,
    })
}

/// `{HOST}`/`{PORT}` are where the client connects (the laptop's end).
pub fn client_vars(dest: &Destination, host: &str, port: u16) -> BTreeMap<String, String> {
    let mut vars = dest.creds.clone();
    vars.insert("HOST".into(), host.into());
    vars.insert("PORT".into(), port.to_string());
    vars
}

/// The type's `URL` variable as it works through `host:port`; secrets
/// masked unless `reveal`.
pub fn url(dest: &Destination, host: &str, port: u16, reveal: bool) -> Result<String> {
    const MASK: &str = "SDTUIMASKEDSECRET";
    let spec = dest.t.env.iter().find(|e| e.name == "URL").ok_or_else(|| {
        UserError::new(format!("{} has no URL variable to print", dest.t.name))
            .hint("its addon.yml env: has no URL")
    })?;
    let mut vars = client_vars(dest, host, port);
    if !reveal {
        for (k, v) in vars.iter_mut() {
            if dest.t.is_secret_credential(k) || k == "PASSWORD" {
                *v = MASK.into();
            }
        }
    }
    let text = crate::template::render(&spec.value, &vars)
        .map_err(|m| UserError::new(format!("{}: URL uses unknown {{{m}}}", dest.t.name)))?;
    Ok(text.replace(MASK, "••••••••"))
}
