//! Logging in: the target's identity file, then ssh-agent, then the
//! default key files; encrypted keys ask for their passphrase.

use super::*;

pub(super) async fn authenticate(
    handle: &mut Handle<Client>,
    target: &SshTarget,
    options: &ConnectOptions,
    identity: Option<(PathBuf, PrivateKey)>,
    passphrase: &PassphraseFn,
) -> Result<()> {
    let user = target.user.as_str();
    let mut tried: Vec<String> = Vec::new();
    let mut rsa_hash: Option<Option<HashAlg>> = None;
    let lost = |tried: &[String]| {
        UserError::new(format!(
            "cannot log in as {}: the server closed the connection during authentication",
            target.label()
        ))
        .hint(format!(
            "tried: {}; too many keys offered may exceed the server's MaxAuthTries",
            tried.join("; ")
        ))
    };

    if let Some((path, key)) = identity {
        match try_key(handle, user, key, &mut rsa_hash).await {
            Ok(true) => return Ok(()),
            Ok(false) => tried.push(format!("identity file {} (refused)", path.display())),
            Err(_) => return Err(lost(&[format!("identity file {}", path.display())])),
        }
    }

    match &options.agent_socket {
        None => tried.push("ssh-agent (none: SSH_AUTH_SOCK is not set)".into()),
        Some(socket) => match AgentClient::connect_uds(socket).await {
            Err(e) => tried.push(format!(
                "ssh-agent at {} (unreachable: {e})",
                socket.display()
            )),
            Ok(mut agent) => match agent.request_identities().await {
                Err(e) => tried.push(format!("ssh-agent (cannot list its keys: {e})")),
                Ok(ids) => {
                    let mut offered = 0;
                    for id in ids {
                        let AgentIdentity::PublicKey { key, .. } = id else {
                            continue;
                        };
                        let hash = if key.algorithm().is_rsa() {
                            rsa_hash_for(handle, &mut rsa_hash).await
                        } else {
                            None
                        };
                        offered += 1;
                        match handle
                            .authenticate_publickey_with(user, key, hash, &mut agent)
                            .await
                        {
                            Ok(AuthResult::Success) => return Ok(()),
                            Ok(AuthResult::Failure { .. }) => {}
                            Err(_) if handle.is_closed() => {
                                tried.push(format!("{offered} key(s) from ssh-agent"));
                                return Err(lost(&tried));
                            }
                            // The agent would not sign with this one.
                            Err(_) => {}
                        }
                    }
                    tried.push(format!("{offered} key(s) from ssh-agent (refused)"));
                }
            },
        },
    }

    for path in &options.default_keys {
        if target.identity.as_ref() == Some(path) || !path.exists() {
            continue;
        }
        match load_key(path, passphrase) {
            KeyLoad::Unusable(why) => tried.push(why),
            KeyLoad::Key(key) => match try_key(handle, user, *key, &mut rsa_hash).await {
                Ok(true) => return Ok(()),
                Ok(false) => tried.push(format!("{} (refused)", path.display())),
                Err(_) => {
                    tried.push(path.display().to_string());
                    return Err(lost(&tried));
                }
            },
        }
    }
    if options.default_keys.iter().all(|p| !p.exists()) {
        tried.push("no default key file (~/.ssh/id_ed25519, id_rsa, id_ecdsa)".into());
    }

    Err(UserError::new(format!(
        "cannot log in as {}: the server accepted none of the keys offered",
        target.label()
    ))
    .hint(format!(
        "tried: {}. Put your public key in ~{user}/.ssh/authorized_keys on the VM, or set the \
         VM's identity file",
        tried.join("; ")
    )))
}

pub(super) async fn rsa_hash_for(
    handle: &Handle<Client>,
    cached: &mut Option<Option<HashAlg>>,
) -> Option<HashAlg> {
    if cached.is_none() {
        // The server's server-sig-algs; no answer means an old server that
        // knows only ssh-rsa (SHA-1).
        *cached = Some(
            handle
                .best_supported_rsa_hash()
                .await
                .ok()
                .flatten()
                .flatten(),
        );
    }
    cached.flatten()
}

/// Ok(true) logged in, Ok(false) refused, Err: the connection broke.
pub(super) async fn try_key(
    handle: &mut Handle<Client>,
    user: &str,
    key: PrivateKey,
    rsa_hash: &mut Option<Option<HashAlg>>,
) -> std::result::Result<bool, russh::Error> {
    let hash = if key.algorithm().is_rsa() {
        rsa_hash_for(handle, rsa_hash).await
    } else {
        None
    };
    let key = PrivateKeyWithHashAlg::new(Arc::new(key), hash);
    match handle.authenticate_publickey(user, key).await? {
        AuthResult::Success => Ok(true),
        AuthResult::Failure { .. } => {
            if handle.is_closed() {
                Err(russh::Error::Disconnect)
            } else {
                Ok(false)
            }
        }
    }
}
