//! One authenticated SSH session: connect and log in, exec (with input or
//! a pseudo-terminal), atomic uploads.

use super::*;

/// One authenticated SSH connection; cheap to share (`&Session` is enough
/// for every call, and calls may run concurrently on their own channels).
pub struct Session {
    pub(super) handle: Arc<Handle<Client>>,
    pub(super) label: String,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("target", &self.label)
            .finish()
    }
}

/// Asked for the passphrase of an encrypted key file; None: none to give.
pub type PassphraseFn = dyn Fn(&Path) -> Option<String> + Send + Sync;

pub(super) enum KeyLoad {
    Key(Box<PrivateKey>),
    /// Not usable, with why (for the "tried" list or the error).
    Unusable(String),
}

pub(super) fn load_key(path: &Path, passphrase: &PassphraseFn) -> KeyLoad {
    use russh::keys::Error as KeyError;
    let shown = path.display();
    match russh::keys::load_secret_key(path, None) {
        Ok(key) => KeyLoad::Key(Box::new(key)),
        Err(KeyError::KeyIsEncrypted) => {
            let Some(secret) = passphrase(path) else {
                return KeyLoad::Unusable(format!(
                    "{shown} is encrypted and no passphrase was given"
                ));
            };
            match russh::keys::load_secret_key(path, Some(&secret)) {
                Ok(key) => KeyLoad::Key(Box::new(key)),
                Err(_) => KeyLoad::Unusable(format!(
                    "the passphrase for {shown} is wrong (the key could not be decrypted)"
                )),
            }
        }
        Err(KeyError::IO(e)) => KeyLoad::Unusable(format!("cannot read {shown}: {e}")),
        Err(e) => KeyLoad::Unusable(format!("{shown} is not a private key russh can read: {e}")),
    }
}

impl Session {
    /// Connects and logs in, with keys from `target.identity`, then ssh-agent
    /// (`SSH_AUTH_SOCK`), then `~/.ssh/id_ed25519`, `id_rsa`, `id_ecdsa`.
    /// `passphrase` is asked for each encrypted key file.
    pub async fn connect(target: &SshTarget, passphrase: &PassphraseFn) -> Result<Session> {
        Session::connect_with(target, &ConnectOptions::from_env(), passphrase).await
    }

    /// [`Session::connect`] with the agent, default keys and timeout given.
    pub async fn connect_with(
        target: &SshTarget,
        options: &ConnectOptions,
        passphrase: &PassphraseFn,
    ) -> Result<Session> {
        if target.user.is_empty() {
            return Err(UserError::new(format!(
                "no user to log in as on {}",
                host_port_label(&target.host, target.port)
            ))
            .hint("set the VM's user (root, deploy ...)"));
        }
        // An explicit identity that cannot be used is the user's mistake:
        // say so before touching the network.
        let identity = match &target.identity {
            Some(path) => match load_key(path, passphrase) {
                KeyLoad::Key(key) => Some((path.clone(), *key)),
                KeyLoad::Unusable(why) => {
                    return Err(UserError::new(format!(
                        "cannot use the identity file for {}: {why}",
                        target.label()
                    ))
                    .hint("check the VM's identity file; an encrypted one takes $SDTUI_KEY_PASSPHRASE, or load it into ssh-agent"));
                }
            },
            None => None,
        };
        let (result, seen) = handshake(target, options.connect_timeout, false).await;
        let mut handle = match (result, seen) {
            (Ok(handle), _) => handle,
            (Err(_), Some((_, Some(HostKeyVerdict::Rejected(e))))) => return Err(e),
            (Err(e), _) => return Err(e),
        };
        authenticate(&mut handle, target, options, identity, passphrase).await?;
        Ok(Session {
            handle: Arc::new(handle),
            label: target.label(),
        })
    }

    /// `user@host:port`.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Runs a command with empty input; waits for it to end.
    pub async fn exec(&self, cmd: &RemoteCommand) -> Result<ExecOutput> {
        self.exec_with_input(cmd, &[]).await
    }

    /// Runs a command with `input` on its standard input (then end of file).
    pub async fn exec_with_input(&self, cmd: &RemoteCommand, input: &[u8]) -> Result<ExecOutput> {
        let line = cmd.try_line()?;
        let fail =
            |what: String| UserError::new(format!("on {}: `{}`: {what}", self.label, cmd.program));
        let channel = self
            .handle
            .channel_open_session()
            .await
            .map_err(|e| fail(format!("cannot open a session channel: {e}")))?;
        let (mut rx, tx) = channel.split();
        tx.exec(true, line)
            .await
            .map_err(|e| fail(format!("cannot start it: {e}")))?;
        // Feed stdin while reading stdout, so neither side's window can
        // stall the other; a command that exits without reading its input
        // leaves the writer to be dropped.
        let writer = tokio::spawn(write_input(tx, input.to_vec()));
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        let mut code = None;
        let mut signal = None;
        while let Some(msg) = rx.wait().await {
            match msg {
                ChannelMsg::Data { data } => stdout.extend_from_slice(&data),
                ChannelMsg::ExtendedData { data, ext: 1 } => stderr.extend_from_slice(&data),
                ChannelMsg::ExitStatus { exit_status } => code = Some(exit_status),
                ChannelMsg::ExitSignal {
                    signal_name,
                    error_message,
                    ..
                } => signal = Some(format!("{signal_name:?} {error_message}")),
                ChannelMsg::Failure => {
                    writer.abort();
                    return Err(fail("the server refused to run it".into()));
                }
                _ => {}
            }
        }
        writer.abort();
        let stdout = String::from_utf8_lossy(&stdout).into_owned();
        let stderr = String::from_utf8_lossy(&stderr).into_owned();
        match (code, signal) {
            (Some(code), _) => Ok(ExecOutput {
                code,
                stdout,
                stderr,
            }),
            (None, Some(signal)) => Err(fail(format!(
                "killed by signal {}; stderr: {}",
                signal.trim(),
                stderr.trim()
            ))),
            (None, None) => Err(fail(
                "the connection closed before it reported an exit code".into(),
            )),
        }
    }

    /// Starts a command on a pseudo-terminal of `cols`x`rows` (`docker exec
    /// -it` over the session); the caller wires it to its own terminal.
    pub async fn exec_pty(
        &self,
        cmd: &RemoteCommand,
        term: &str,
        cols: u16,
        rows: u16,
    ) -> Result<russh::Channel<Msg>> {
        let line = cmd.try_line()?;
        let fail =
            |what: String| UserError::new(format!("on {}: `{}`: {what}", self.label, cmd.program));
        let channel = self
            .handle
            .channel_open_session()
            .await
            .map_err(|e| fail(format!("cannot open a session channel: {e}")))?;
        channel
            .request_pty(true, term, cols.into(), rows.into(), 0, 0, &[])
            .await
            .map_err(|e| fail(format!("the server refused a terminal: {e}")))?;
        channel
            .exec(true, line)
            .await
            .map_err(|e| fail(format!("cannot start it: {e}")))?;
        Ok(channel)
    }

    /// Writes a file atomically on the remote: to a temp name beside it
    /// (created 0600, refusing to follow an existing name), chmod, then mv.
    /// The folder must exist.
    pub async fn upload(&self, remote_path: &str, bytes: &[u8], mode: u32) -> Result<()> {
        if remote_path.is_empty() || remote_path.ends_with('/') || remote_path.contains('\0') {
            return Err(UserError::new(format!(
                "cannot upload to {}: `{}` is not a file path",
                self.label,
                remote_path.replace('\0', "\\0")
            )));
        }
        if mode > 0o7777 {
            return Err(UserError::new(format!(
                "cannot upload {remote_path}: bad file mode {mode:o}"
            )));
        }
        let (dir, name) = match remote_path.rsplit_once('/') {
            Some((dir, name)) => (format!("{dir}/"), name),
            None => (String::new(), remote_path),
        };
        let tmp = format!("{dir}.{name}.sdtui-{}.tmp", unique_suffix());
        const SCRIPT: &str = r#"set -eC
umask 077
trap 'rm -f "$1"' EXIT
cat > "$1"
chmod "$2" "$1"
mv -f "$1" "$3"
trap - EXIT"#;
        let cmd = RemoteCommand::new(
            "sh",
            [
                "-c",
                SCRIPT,
                "sdtui-upload",
                tmp.as_str(),
                &format!("{mode:o}"),
                remote_path,
            ],
        );
        let out = self.exec_with_input(&cmd, bytes).await?;
        if out.success() {
            Ok(())
        } else {
            Err(UserError::new(format!(
                "cannot upload {remote_path} to {}: {}",
                self.label,
                out.stderr.trim()
            ))
            .hint("does the folder exist, and may the user write there?"))
        }
    }

    /// A TCP connection made by the VM to `host:port` (a `direct-tcpip`
    /// channel), for `connect`'s forward; `from` is the laptop's end.
    pub async fn direct_tcpip(
        &self,
        host: &str,
        port: u16,
        from: std::net::SocketAddr,
    ) -> Result<russh::ChannelStream<Msg>> {
        let channel = self
            .handle
            .channel_open_direct_tcpip(host, port.into(), from.ip().to_string(), from.port().into())
            .await
            .map_err(|e| {
                UserError::new(format!(
                    "sshd on {} could not forward to {host}:{port} ({e})",
                    self.label
                ))
                .hint("is the addon up there (sdtui up)? OpenSSH forwards TCP only with `AllowTcpForwarding yes` (or `local`)")
            })?;
        Ok(channel.into_stream())
    }

    /// Ends the session (its channels and Docker clients stop working).
    pub async fn close(&self) {
        let _ = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
    }

    /// Whether the connection is gone.
    pub fn is_closed(&self) -> bool {
        self.handle.is_closed()
    }
}

pub(super) async fn write_input(tx: ChannelWriteHalf<Msg>, input: Vec<u8>) {
    if !input.is_empty() && tx.data(&input[..]).await.is_err() {
        return;
    }
    let _ = tx.eof().await;
}

pub(super) fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}
