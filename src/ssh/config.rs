//! `~/.ssh/config`: Host aliases resolved as ssh does.

use super::*;

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

/// The first plain Host alias (no wildcard, no negation) whose HostName is
/// `address`: what the user calls that machine.
pub fn alias_for_address(address: &str, config_file: &Path) -> Option<String> {
    use ssh2_config::{ParseRule, SshConfig};
    let file = fs::File::open(config_file).ok()?;
    let mut reader = io::BufReader::new(file);
    let config = SshConfig::default()
        .parse(
            &mut reader,
            ParseRule::ALLOW_UNKNOWN_FIELDS | ParseRule::ALLOW_UNSUPPORTED_FIELDS,
        )
        .ok()?;
    config
        .get_hosts()
        .iter()
        .find_map(|h| match h.pattern.as_slice() {
            [clause]
                if !clause.negated
                    && !clause.pattern.contains(['*', '?'])
                    && h.params
                        .host_name
                        .as_deref()
                        .map(|n| expand_percent_h(n, &clause.pattern))
                        == Some(address.to_string()) =>
            {
                Some(clause.pattern.clone())
            }
            _ => None,
        })
}

/// `%h` is the alias and `%%` a percent sign, as ssh_config(5) says.
pub(super) fn expand_percent_h(value: &str, alias: &str) -> String {
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
