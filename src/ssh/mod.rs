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

mod auth;
mod command;
mod config;
mod docker_transport;
mod handshake;
mod known_hosts;
mod session;

#[allow(unused_imports)]
pub use auth::*;
pub use command::*;
pub use config::*;
#[allow(unused_imports)]
pub use docker_transport::*;
pub use handshake::*;
pub use known_hosts::*;
pub use session::*;

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
