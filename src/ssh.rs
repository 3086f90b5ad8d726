//! SSH to the VMs with russh, no `ssh` binary: host keys checked against
//! known_hosts, keys from an identity file, ssh-agent or the default files,
//! remote commands as data (every word quoted), atomic uploads, and the
//! remote Docker engine over a direct-streamlocal channel to its socket.
//!
//! The remote login shell must be POSIX-like (sh, dash, bash, zsh): commands
//! are sent as one line of single-quoted words, as OpenSSH does.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::{BollardRequest, Docker};
use hyper::body::Incoming;
use hyper::header::{HOST, HeaderValue};
use hyper::{Request, Response, Uri};
use hyper_util::rt::TokioIo;
use russh::client::{self, AuthResult, Handle, Msg};
use russh::keys::agent::AgentIdentity;
use russh::keys::agent::client::AgentClient;
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::{ChannelMsg, ChannelWriteHalf};
use tokio::net::TcpStream;

use crate::error::{Result, UserError};

pub use russh::keys::PublicKey;

/// Where the Docker engine listens on a VM.
pub const DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// How long to wait for the TCP connection, and again for the SSH
/// handshake, before giving up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A machine to log in to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    /// Host name or address, as written in known_hosts (`[host]:port` there
    /// when the port is not 22).
    pub host: String,
    pub port: u16,
    pub user: String,
    /// Tried first; a missing file or a wrong passphrase is an error.
    pub identity: Option<PathBuf>,
    pub known_hosts: PathBuf,
    /// Trust a host that known_hosts does not list yet and record its key
    /// there (OpenSSH's `StrictHostKeyChecking accept-new`). A changed key is
    /// refused whatever this says.
    pub accept_new_host: bool,
}

impl SshTarget {
    /// `user@host:port`, for messages.
    pub fn label(&self) -> String {
        format!("{}@{}", self.user, host_port_label(&self.host, self.port))
    }

    /// The name of this host in known_hosts: `host`, or `[host]:port`.
    pub fn known_hosts_name(&self) -> String {
        known_hosts_name(&self.host, self.port)
    }
}

/// Where keys come from besides the target's identity file, and the
/// connect timeout. [`ConnectOptions::from_env`] is what [`Session::connect`]
/// uses; tests and callers with their own agent or key folder build one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectOptions {
    /// The ssh-agent socket (`SSH_AUTH_SOCK`); None: no agent.
    pub agent_socket: Option<PathBuf>,
    /// Tried after the agent, in order, when they exist.
    pub default_keys: Vec<PathBuf>,
    /// For the TCP connection, and again for the SSH handshake.
    pub connect_timeout: Duration,
}

impl ConnectOptions {
    /// `SSH_AUTH_SOCK`, and `~/.ssh/id_ed25519`, `id_rsa`, `id_ecdsa`.
    pub fn from_env() -> Self {
        let agent_socket = std::env::var_os("SSH_AUTH_SOCK")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from);
        let default_keys = match directories::BaseDirs::new() {
            Some(dirs) => ["id_ed25519", "id_rsa", "id_ecdsa"]
                .iter()
                .map(|name| dirs.home_dir().join(".ssh").join(name))
                .collect(),
            None => Vec::new(),
        };
        ConnectOptions {
            agent_socket,
            default_keys,
            connect_timeout: CONNECT_TIMEOUT,
        }
    }
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions::from_env()
    }
}

// ------------------------------------------------------------ known_hosts

/// What known_hosts says about a host's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyCheck {
    /// An entry for this host holds this key.
    Known,
    /// No entry for this host holds a key of this type: ask the user, or
    /// accept it when told to ([`SshTarget::accept_new_host`]).
    Unknown,
    /// An entry for this host holds another key of the same type (1-based
    /// line): possibly a man in the middle; always refused.
    Changed { line: usize },
    /// The key is marked `@revoked` (1-based line); always refused.
    Revoked { line: usize },
}

/// A host's key as the server showed it, and what known_hosts says of it.
#[derive(Debug, Clone)]
pub struct HostKeyScan {
    pub key: PublicKey,
    /// `SHA256:...`, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    /// `ssh-ed25519`, `rsa-sha2-512` ...
    pub algorithm: String,
    pub check: HostKeyCheck,
}

/// `SHA256:...` of a key, as OpenSSH prints it.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

fn known_hosts_name(host: &str, port: u16) -> String {
    let host = host.to_ascii_lowercase();
    if port == 22 {
        host
    } else {
        format!("[{host}]:{port}")
    }
}

fn host_port_label(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// `*` and `?` glob, as in OpenSSH host patterns.
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    match (pattern.first(), text.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob_match(&pattern[1..], text) || (!text.is_empty() && glob_match(pattern, &text[1..]))
        }
        (Some(b'?'), Some(_)) => glob_match(&pattern[1..], &text[1..]),
        (Some(p), Some(t)) if p.eq_ignore_ascii_case(t) => glob_match(&pattern[1..], &text[1..]),
        _ => false,
    }
}

/// `|1|salt|hash`: HMAC-SHA1 of the name keyed with the salt.
fn hashed_match(entry: &str, name: &str) -> bool {
    let mut parts = entry.trim_start_matches("|1|").splitn(2, '|');
    let (Some(salt), Some(hash)) = (parts.next(), parts.next()) else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (
        data_encoding::BASE64.decode(salt.as_bytes()),
        data_encoding::BASE64.decode(hash.as_bytes()),
    ) else {
        return false;
    };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &salt);
    ring::hmac::verify(&key, name.as_bytes(), &hash).is_ok()
}

/// Whether a known_hosts host field (`a,b,[c]:2222,!d,|1|..`) names `name`.
fn hosts_field_matches(field: &str, name: &str) -> bool {
    let mut matched = false;
    for entry in field.split(',') {
        if entry.starts_with("|1|") {
            matched |= hashed_match(entry, name);
        } else if let Some(negated) = entry.strip_prefix('!') {
            if glob_match(negated.as_bytes(), name.as_bytes()) {
                return false;
            }
        } else {
            matched |= glob_match(entry.as_bytes(), name.as_bytes());
        }
    }
    matched
}

/// Checks a host's key against a known_hosts file (a missing file lists no
/// host). Plain, wildcard and hashed (`|1|`) host names, `[host]:port` for
/// ports other than 22, and `@revoked` lines are understood; lines it cannot
/// read are skipped, as OpenSSH does. A key of another type than the stored
/// ones reads as unknown, not changed.
pub fn check_known_hosts(
    known_hosts: &Path,
    host: &str,
    port: u16,
    key: &PublicKey,
) -> Result<HostKeyCheck> {
    let text = match fs::read(known_hosts) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(HostKeyCheck::Unknown),
        Err(e) => return Err(crate::error::io_error(known_hosts, "read", e)),
    };
    let name = known_hosts_name(host, port);
    let mut known = false;
    let mut changed = None;
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let mut hosts = words.next().unwrap_or_default();
        let marker = if hosts.starts_with('@') {
            let marker = hosts;
            hosts = words.next().unwrap_or_default();
            Some(marker)
        } else {
            None
        };
        let (Some(_key_type), Some(blob)) = (words.next(), words.next()) else {
            continue;
        };
        if marker == Some("@cert-authority") || !hosts_field_matches(hosts, &name) {
            continue;
        }
        let Ok(recorded) = russh::keys::parse_public_key_base64(blob) else {
            continue;
        };
        let same_key = recorded.key_data() == key.key_data();
        if marker == Some("@revoked") {
            if same_key {
                return Ok(HostKeyCheck::Revoked { line: line_no });
            }
            continue;
        }
        if marker.is_some() {
            continue;
        }
        if same_key {
            known = true;
        } else if recorded.key_data().algorithm() == key.key_data().algorithm() && changed.is_none()
        {
            changed = Some(line_no);
        }
    }
    Ok(if known {
        HostKeyCheck::Known
    } else if let Some(line) = changed {
        HostKeyCheck::Changed { line }
    } else {
        HostKeyCheck::Unknown
    })
}

/// Appends `name keytype base64` to a known_hosts file, creating its folder
/// (0700) and the file (0600) when missing.
pub fn add_known_host(known_hosts: &Path, host: &str, port: u16, key: &PublicKey) -> Result<()> {
    if let Some(dir) = known_hosts.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| crate::error::io_error(dir, "create", e))?;
    }
    let bare = PublicKey::new(key.key_data().clone(), "");
    let openssh = bare
        .to_openssh()
        .map_err(|e| UserError::new(format!("cannot encode the host key: {e}")))?;
    let entry = format!("{} {}\n", known_hosts_name(host, port), openssh.trim());
    let write = || -> io::Result<()> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .open(known_hosts)?;
        let mut prefix = "";
        if file.seek(SeekFrom::End(-1)).is_ok() {
            let mut last = [0u8; 1];
            file.read_exact(&mut last)?;
            if last[0] != b'\n' {
                prefix = "\n";
            }
        }
        file.write_all(format!("{prefix}{entry}").as_bytes())?;
        file.sync_all()
    };
    write().map_err(|e| crate::error::io_error(known_hosts, "write", e))
}

/// What the handshake's host key check decided, kept for the error message.
enum HostKeyVerdict {
    Trusted,
    Rejected(UserError),
}

struct Client {
    host: String,
    port: u16,
    known_hosts: PathBuf,
    accept_new_host: bool,
    /// Scanning only: record the key, accept nothing.
    scan_only: bool,
    seen: Arc<Mutex<Seen>>,
}

/// The host key the server showed, and the verdict on it (None: scanning).
type Seen = Option<(PublicKey, Option<HostKeyVerdict>)>;

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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn client_config() -> Arc<client::Config> {
    Arc::new(client::Config {
        // Without it each Docker API call took 40-55 ms instead of 10-16.
        nodelay: true,
        keepalive_interval: Some(Duration::from_secs(15)),
        keepalive_max: 3,
        ..Default::default()
    })
}

async fn tcp_connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream> {
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

async fn handshake(
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

// ------------------------------------------------------------ commands

/// A remote command as data: a program and its arguments, each quoted when
/// turned into the one line SSH sends. Never paste user strings into a shell
/// line; to run a shell snippet, make it the fixed `-c` argument of `sh` and
/// pass the user's values as positional parameters after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteCommand {
    pub program: String,
    pub args: Vec<String>,
}

impl RemoteCommand {
    pub fn new<P, I, S>(program: P, args: I) -> Self
    where
        P: Into<String>,
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        RemoteCommand {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
        }
    }

    /// The line SSH sends, every word quoted for a POSIX shell. Errors on an
    /// empty program and on NUL bytes, which no remote argument can hold.
    pub fn try_line(&self) -> Result<String> {
        if self.program.is_empty() {
            return Err(UserError::new("a remote command needs a program"));
        }
        let words = std::iter::once(&self.program).chain(&self.args);
        let mut line = String::new();
        for (i, word) in words.enumerate() {
            let quoted = shlex::try_quote(word).map_err(|_| {
                UserError::new(format!(
                    "argument {i} of the remote command `{}` holds a NUL byte",
                    self.program.replace('\0', "\\0")
                ))
            })?;
            if i > 0 {
                line.push(' ');
            }
            line.push_str(&quoted);
        }
        Ok(line)
    }

    /// The line SSH sends (see [`RemoteCommand::try_line`]); for display a
    /// NUL byte shows as `\0` (running such a command is refused).
    pub fn line(&self) -> String {
        match self.try_line() {
            Ok(line) => line,
            Err(_) => RemoteCommand {
                program: self.program.replace('\0', "\\0"),
                args: self.args.iter().map(|a| a.replace('\0', "\\0")).collect(),
            }
            .try_line()
            .unwrap_or_default(),
        }
    }
}

impl fmt::Display for RemoteCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.line())
    }
}

/// What a remote command printed and its exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    pub code: u32,
    pub stdout: String,
    pub stderr: String,
}

impl ExecOutput {
    pub fn success(&self) -> bool {
        self.code == 0
    }
}

// ------------------------------------------------------------ session

/// One authenticated SSH connection; cheap to share (`&Session` is enough
/// for every call, and calls may run concurrently on their own channels).
pub struct Session {
    handle: Arc<Handle<Client>>,
    label: String,
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

enum KeyLoad {
    Key(Box<PrivateKey>),
    /// Not usable, with why (for the "tried" list or the error).
    Unusable(String),
}

fn load_key(path: &Path, passphrase: &PassphraseFn) -> KeyLoad {
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

    /// A bollard client for the engine at `/var/run/docker.sock` on the VM,
    /// one direct-streamlocal channel of this session per HTTP connection.
    /// Streams (events, logs) and upgrades (attach, exec) work.
    pub async fn docker(&self) -> Result<Docker> {
        self.docker_at(DOCKER_SOCKET).await
    }

    /// [`Session::docker`] for an engine socket elsewhere on the VM.
    pub async fn docker_at(&self, socket: &str) -> Result<Docker> {
        // Open one channel first, to explain a refusal before bollard wraps
        // it in its own error.
        match self.handle.channel_open_direct_streamlocal(socket).await {
            Ok(channel) => drop(channel.into_stream()),
            Err(e) => return Err(self.streamlocal_error(socket, e).await),
        }
        let handle = Arc::clone(&self.handle);
        let path = socket.to_string();
        let transport = move |req: BollardRequest| {
            let handle = Arc::clone(&handle);
            let path = path.clone();
            async move { forward_request(&handle, &path, req).await }
        };
        let docker = Docker::connect_with_custom_transport(
            transport,
            Some("http://docker"),
            120,
            bollard::API_DEFAULT_VERSION,
        )
        .map_err(|e| UserError::new(format!("Docker on {}: {e}", self.label)))?;
        docker.negotiate_version().await.map_err(|e| {
            UserError::new(format!(
                "Docker on {} (through {socket}) does not answer: {e}",
                self.label
            ))
            .hint("is the Docker engine running on the VM?")
        })
    }

    async fn streamlocal_error(&self, socket: &str, err: russh::Error) -> UserError {
        // The server says only "connect failed": find out why with a probe.
        let probe = RemoteCommand::new(
            "sh",
            [
                "-c",
                r#"if [ ! -e "$1" ]; then echo missing; elif [ ! -S "$1" ]; then echo notsocket; elif [ ! -r "$1" ] || [ ! -w "$1" ]; then echo denied; else echo ok; fi"#,
                "sdtui-probe",
                socket,
            ],
        );
        let found = self.exec(&probe).await.map(|o| o.stdout.trim().to_string());
        let label = &self.label;
        match found.as_deref() {
            Ok("missing") => UserError::new(format!(
                "Docker does not seem to run on {label}: {socket} does not exist"
            ))
            .hint("install Docker on the VM and start it"),
            Ok("notsocket") => UserError::new(format!(
                "{socket} on {label} is not a socket, so no Docker engine listens there"
            ))
            .hint("start the Docker engine on the VM"),
            Ok("denied") => UserError::new(format!("the user of {label} may not use {socket}"))
                .hint("add that user to the docker group on the VM, or log in as root"),
            _ => UserError::new(format!(
                "sshd on {label} refused to forward to {socket} ({err})"
            ))
            .hint(
                "OpenSSH allows the direct-streamlocal channel only with `AllowTcpForwarding yes` \
                 (or `local`) and `AllowStreamLocalForwarding yes` (or `local`) in \
                 /etc/ssh/sshd_config, for this user; set them and reload sshd",
            ),
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

async fn write_input(tx: ChannelWriteHalf<Msg>, input: Vec<u8>) {
    if !input.is_empty() && tx.data(&input[..]).await.is_err() {
        return;
    }
    let _ = tx.eof().await;
}

fn unique_suffix() -> String {
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

async fn authenticate(
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

async fn rsa_hash_for(
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
async fn try_key(
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

/// One HTTP exchange with the engine on its own streamlocal channel.
async fn forward_request(
    handle: &Handle<Client>,
    socket: &str,
    req: BollardRequest,
) -> std::result::Result<Response<Incoming>, bollard::errors::Error> {
    let channel = handle
        .channel_open_direct_streamlocal(socket)
        .await
        .map_err(|e| io::Error::other(format!("SSH channel to {socket}: {e}")))?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(channel.into_stream())).await?;
    tokio::spawn(async move {
        // Ends when the response (or the upgraded stream) is done with.
        let _ = connection.with_upgrades().await;
    });
    let (mut parts, body) = req.into_parts();
    // The engine wants an origin-form target and a Host header, or it
    // answers 400.
    let target = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".to_string());
    parts.uri = target
        .parse::<Uri>()
        .map_err(|e| io::Error::other(format!("bad request path {target}: {e}")))?;
    parts
        .headers
        .entry(HOST)
        .or_insert(HeaderValue::from_static("docker"));
    Ok(sender
        .send_request(Request::from_parts(parts, body))
        .await?)
}

// ------------------------------------------------------------ ssh config

/// `~/.ssh/config`, when there is a home.
pub fn default_ssh_config() -> Option<PathBuf> {
    directories::BaseDirs::new().map(|d| d.home_dir().join(".ssh").join("config"))
}

/// `(host, port, user, identity file)` from an ssh config file.
pub type ResolvedAlias = (String, Option<u16>, Option<String>, Option<PathBuf>);

/// Resolves a Host alias from an ssh config file: `(HostName or the alias,
/// Port, User, first IdentityFile)`. None when the file cannot be read or
/// parsed, or no block sets any of those for the alias. `%h` in HostName
/// and `~` in IdentityFile are expanded.
pub fn resolve_alias(alias: &str, config_file: &Path) -> Option<ResolvedAlias> {
    use ssh2_config::{ParseRule, SshConfig};
    let file = fs::File::open(config_file).ok()?;
    let mut reader = io::BufReader::new(file);
    let config = SshConfig::default()
        .parse(
            &mut reader,
            ParseRule::ALLOW_UNKNOWN_FIELDS | ParseRule::ALLOW_UNSUPPORTED_FIELDS,
        )
        .ok()?;
    let params = config.query(alias);
    if params.host_name.is_none()
        && params.port.is_none()
        && params.user.is_none()
        && params.identity_file.is_none()
    {
        return None;
    }
    let host = params
        .host_name
        .map(|h| expand_percent_h(&h, alias))
        .unwrap_or_else(|| alias.to_string());
    let identity = params
        .identity_file
        .and_then(|files| files.into_iter().next());
    Some((host, params.port, params.user, identity))
}

/// `%h` is the alias and `%%` a percent sign, as ssh_config(5) says.
fn expand_percent_h(value: &str, alias: &str) -> String {
    let mut out = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('h') => out.push_str(alias),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_patterns() {
        assert!(glob_match(b"*.example.com", b"vm1.example.com"));
        assert!(glob_match(b"vm?", b"vm1"));
        assert!(!glob_match(b"vm?", b"vm12"));
        assert!(glob_match(b"[127.0.0.1]:2222", b"[127.0.0.1]:2222"));
        assert!(hosts_field_matches("a,b,[c]:2222", "[c]:2222"));
        assert!(!hosts_field_matches("*.x,!bad.x", "bad.x"));
        assert!(hosts_field_matches("*.x,!bad.x", "good.x"));
    }

    #[test]
    fn percent_h() {
        assert_eq!(expand_percent_h("%h.example.com", "vm1"), "vm1.example.com");
        assert_eq!(expand_percent_h("100%%", "x"), "100%");
    }

    #[test]
    fn session_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Session>();
    }

    #[test]
    fn futures_are_send() {
        fn assert_send<T: Send>(_: &T) {}
        let target = SshTarget {
            host: "127.0.0.1".into(),
            port: 22,
            user: "root".into(),
            identity: None,
            known_hosts: PathBuf::from("/nonexistent"),
            accept_new_host: false,
        };
        let no_passphrase = |_: &Path| None;
        let connect = Session::connect(&target, &no_passphrase);
        assert_send(&connect);
        let scan = scan_host_key(&target);
        assert_send(&scan);
    }

    /// Compile-time only: a TUI spawns these on tokio tasks.
    #[allow(dead_code)]
    fn session_futures_are_send(session: &Session, cmd: &RemoteCommand) {
        fn assert_send<T: Send>(_: &T) {}
        assert_send(&session.exec(cmd));
        assert_send(&session.upload("x", b"", 0o600));
        assert_send(&session.docker());
    }
}
