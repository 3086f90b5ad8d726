//! The SSH handshake: TCP connect with a timeout, the host key checked
//! against known_hosts during it, and a scan that stops there.

use super::*;

/// What the handshake's host key check decided, kept for the error message.
pub(super) enum HostKeyVerdict {
    Trusted,
    Rejected(UserError),
}

pub(super) struct Client {
    host: String,
    port: u16,
    known_hosts: PathBuf,
    accept_new_host: bool,
    /// Scanning only: record the key, accept nothing.
    scan_only: bool,
    seen: Arc<Mutex<Seen>>,
}

/// The host key the server showed, and the verdict on it (None: scanning).
pub(super) type Seen = Option<(PublicKey, Option<HostKeyVerdict>)>;

impl Client {
    fn verdict(&self, key: &PublicKey) -> HostKeyVerdict {
        let name = known_hosts_name(&self.host, self.port);
        let file = self.known_hosts.display();
        let shown = format!("{} {}", key.algorithm().as_str(), fingerprint(key));
        let remove_hint = |line: usize| {
            format!(
                "if the VM was rebuilt and you trust its new key, delete line {line} of {file} \
                 (or run: ssh-keygen -R '{name}' -f {file}) and connect again"
            )
        };
        match check_known_hosts(&self.known_hosts, &self.host, self.port, key) {
            Err(e) => HostKeyVerdict::Rejected(e),
            Ok(HostKeyCheck::Known) => HostKeyVerdict::Trusted,
            Ok(HostKeyCheck::Changed { line }) => HostKeyVerdict::Rejected(
                UserError::new(format!(
                    "HOST KEY CHANGED for {name}: the server now shows {shown}, but {file} line \
                     {line} holds another key; refusing to connect (this could be a \
                     man-in-the-middle attack)"
                ))
                .hint(remove_hint(line)),
            ),
            Ok(HostKeyCheck::Revoked { line }) => HostKeyVerdict::Rejected(
                UserError::new(format!(
                    "the host key of {name} ({shown}) is marked @revoked in {file} line {line}; \
                     refusing to connect"
                ))
                .hint(remove_hint(line)),
            ),
            Ok(HostKeyCheck::Unknown) if self.accept_new_host => {
                match add_known_host(&self.known_hosts, &self.host, self.port, key) {
                    Ok(()) => HostKeyVerdict::Trusted,
                    Err(e) => HostKeyVerdict::Rejected(e),
                }
            }
            Ok(HostKeyCheck::Unknown) => HostKeyVerdict::Rejected(
                UserError::new(format!(
                    "the host key of {name} is not known: the server shows {shown}, and {file} \
                     has no entry for it"
                ))
                .hint(format!(
                    "check that fingerprint with the VM's provider (ssh-keygen -lf \
                     /etc/ssh/ssh_host_*_key.pub on the VM), then re-run with \
                     --accept-new-host, or add the host's key to {file}"
                )),
            ),
        }
    }
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_public_key: &PublicKeyOrCertificate,
    ) -> std::result::Result<bool, Self::Error> {
        let key = server_public_key.public_key();
        if self.scan_only {
            *lock(&self.seen) = Some((key, None));
            return Ok(false);
        }
        let verdict = self.verdict(&key);
        let trusted = matches!(verdict, HostKeyVerdict::Trusted);
        *lock(&self.seen) = Some((key, Some(verdict)));
        Ok(trusted)
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(super) fn client_config() -> Arc<client::Config> {
    Arc::new(client::Config {
        // Without it each Docker API call took 40-55 ms instead of 10-16.
        nodelay: true,
        keepalive_interval: Some(Duration::from_secs(15)),
        keepalive_max: 3,
        ..Default::default()
    })
}

pub(super) async fn tcp_connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream> {
    let where_ = host_port_label(host, port);
    let stream = match tokio::time::timeout(timeout, TcpStream::connect((host, port))).await {
        Err(_) => {
            return Err(UserError::new(format!(
                "cannot connect to {where_}: no answer within {} s",
                timeout.as_secs_f32()
            ))
            .hint(
                "is the VM up, and the address and port right? A firewall may drop the packets",
            ));
        }
        Ok(Err(e)) => {
            let hint = match e.kind() {
                io::ErrorKind::ConnectionRefused => {
                    "nothing listens there: is sshd running on the VM, on that port?"
                }
                _ => "is the VM up, and the address and port right?",
            };
            return Err(UserError::new(format!("cannot connect to {where_}: {e}")).hint(hint));
        }
        Ok(Ok(s)) => s,
    };
    // russh sets it only in its own connect; we open the socket ourselves.
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

pub(super) async fn handshake(
    target: &SshTarget,
    timeout: Duration,
    scan_only: bool,
) -> (std::result::Result<Handle<Client>, UserError>, Seen) {
    let stream = match tcp_connect(&target.host, target.port, timeout).await {
        Ok(s) => s,
        Err(e) => return (Err(e), None),
    };
    let seen = Arc::new(Mutex::new(None));
    let handler = Client {
        host: target.host.clone(),
        port: target.port,
        known_hosts: target.known_hosts.clone(),
        accept_new_host: target.accept_new_host,
        scan_only,
        seen: Arc::clone(&seen),
    };
    let where_ = host_port_label(&target.host, target.port);
    let result = tokio::time::timeout(
        timeout,
        client::connect_stream(client_config(), stream, handler),
    )
    .await;
    let seen = lock(&seen).take();
    let result = match result {
        Err(_) => Err(UserError::new(format!(
            "SSH handshake with {where_} timed out after {} s",
            timeout.as_secs_f32()
        ))
        .hint("is it an SSH server? Is it overloaded?")),
        Ok(Err(e)) => Err(
            UserError::new(format!("SSH handshake with {where_} failed: {e}"))
                .hint("is it an SSH server, and does it speak a key exchange russh supports?"),
        ),
        Ok(Ok(handle)) => Ok(handle),
    };
    (result, seen)
}

/// Connects only as far as the server's host key and reports it with what
/// known_hosts says, without logging in or writing anything: for asking the
/// user before trusting a new host ([`add_known_host`] then records it).
pub async fn scan_host_key(target: &SshTarget) -> Result<HostKeyScan> {
    let (result, seen) = handshake(target, CONNECT_TIMEOUT, true).await;
    match seen {
        Some((key, _)) => Ok(HostKeyScan {
            fingerprint: fingerprint(&key),
            algorithm: key.algorithm().as_str().to_string(),
            check: check_known_hosts(&target.known_hosts, &target.host, target.port, &key)?,
            key,
        }),
        None => Err(result.err().unwrap_or_else(|| {
            UserError::new(format!(
                "{} did not show a host key",
                host_port_label(&target.host, target.port)
            ))
        })),
    }
}
