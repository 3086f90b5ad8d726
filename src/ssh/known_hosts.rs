//! known_hosts: reading (plain, wildcard, hashed `|1|`, `[host]:port`,
//! `@revoked`) and appending trusted keys.

use super::*;

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

pub(super) fn known_hosts_name(host: &str, port: u16) -> String {
    let host = host.to_ascii_lowercase();
    if port == 22 {
        host
    } else {
        format!("[{host}]:{port}")
    }
}

pub(super) fn host_port_label(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// `*` and `?` glob, as in OpenSSH host patterns.
pub(super) fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
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
pub(super) fn hashed_match(entry: &str, name: &str) -> bool {
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
pub(super) fn hosts_field_matches(field: &str, name: &str) -> bool {
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
