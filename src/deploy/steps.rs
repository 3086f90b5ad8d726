//! Catalog steps run inside an addon's container through its client
//! (`provision_with`): provisioning after `up`, and credential rotation.

use std::collections::BTreeMap;

use bollard::Docker;

use crate::catalog::{AddonType, ProvisionClient, ProvisionInput};
use crate::docker;
use crate::error::{Result, UserError};
use crate::template;

/// Runs `steps` with `client` in `container`: the client's argv and env are
/// rendered from `client_vars`, the steps from `step_vars`. `what` names the
/// job in errors (`provisioning databases.main`); every value in `secrets`
/// is masked in what the client printed.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    docker: &Docker,
    container: &str,
    t: &AddonType,
    client: &ProvisionClient,
    client_vars: &BTreeMap<String, String>,
    steps: &[String],
    step_vars: &BTreeMap<String, String>,
    what: &str,
    secrets: &[&str],
) -> Result<()> {
    let render = |s: &str, vars: &BTreeMap<String, String>| {
        template::render(s, vars)
            .map_err(|m| UserError::new(format!("{}: {what} uses unknown {{{m}}}", t.name)))
    };
    let cmd: Vec<String> = client
        .command
        .iter()
        .map(|c| render(c, client_vars))
        .collect::<Result<_>>()?;
    let env: Vec<String> = client
        .env
        .iter()
        .map(|(k, v)| Ok(format!("{k}={}", render(v, client_vars)?)))
        .collect::<Result<_>>()?;
    let runs: Vec<(Vec<String>, Option<String>)> = match client.input {
        ProvisionInput::Stdin => {
            let script: Vec<String> = steps
                .iter()
                .map(|s| render(s, step_vars).map(|l| format!("{l};")))
                .collect::<Result<_>>()?;
            vec![(cmd.clone(), Some(script.join("\n") + "\n"))]
        }
        ProvisionInput::Args => steps
            .iter()
            .map(|s| {
                let words = shlex::split(&render(s, step_vars)?).ok_or_else(|| {
                    UserError::new(format!("{}: unbalanced quotes in a step of {what}", t.name))
                })?;
                Ok((cmd.iter().cloned().chain(words).collect(), None))
            })
            .collect::<Result<_>>()?,
    };
    for (argv, input) in runs {
        let (code, out) = docker::exec(docker, container, argv, env.clone(), input).await?;
        // redis-cli reports errors on stdout with exit 0.
        if code != 0 || out.starts_with("(error)") || out.starts_with("ERR") {
            return Err(UserError::new(format!(
                "{what} failed (exit {code}): {}",
                mask(out.trim(), secrets)
            ))
            .hint("the container's logs may say more: sdtui logs SERVICE"));
        }
    }
    Ok(())
}

/// The values of `vars` the catalog calls secret, for [`mask`].
pub fn secret_values<'a>(t: &AddonType, vars: &'a BTreeMap<String, String>) -> Vec<&'a str> {
    vars.iter()
        .filter(|(k, v)| t.is_secret_credential(k) && !v.is_empty())
        .map(|(_, v)| v.as_str())
        .collect()
}

/// Hides each secret in text that may reach the screen.
pub fn mask(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(s, "••••••••");
    }
    out
}
