//! Postgres followers: a streaming replica of another instance (`follows:`
//! in config.yml), its leader's replication role and slot, its replay lag,
//! and `unfollow` (promotion to an independent primary).
//!
//! The pure part (names, the follower's entrypoint, the leader's SQL) is
//! here; `ops` talks to the containers.

pub mod fork;
pub mod ops;
pub mod promote;
pub mod upgrade;

use indexmap::IndexMap;

use crate::config::{Addon, Config};
use crate::engine::generate::ident;

/// Credentials a follower has beyond its leader's (copied) ones.
pub const REPLICATION_USER: &str = "REPLICATION_USER";
pub const REPLICATION_PASSWORD: &str = "REPLICATION_PASSWORD";
/// Credentials a follower takes from its leader: its data is a copy of the
/// leader's, roles and passwords included.
pub const COPIED: &[&str] = &[
    "USER",
    "PASSWORD",
    "DATABASE",
    "READONLY_USER",
    "READONLY_PASSWORD",
];
/// The password length of a replication role.
pub const PASSWORD_LEN: usize = 43;

/// The physical replication slot a follower uses on its leader.
pub fn slot_name(follower: &Addon) -> String {
    format!("sdtui_follower_{}", ident(&follower.name))
}

/// The replication role a follower logs in to its leader with.
pub fn role_name(project: &str, follower: &Addon) -> String {
    format!("{}_{}_replication", ident(project), ident(&follower.name))
}

/// The VMs an operation that moves `apps` onto an instance on `vm` brings
/// `up`: that VM and the apps', as one `--vm` list.
pub fn vms_with_apps(config: &Config, vm: &str, apps: &[String]) -> String {
    let mut vms: Vec<String> = std::iter::once(vm.to_string())
        .chain(
            config
                .apps
                .values()
                .filter(|a| apps.contains(&a.name))
                .map(|a| a.vm.clone()),
        )
        .collect();
    vms.sort();
    vms.dedup();
    vms.join(",")
}

/// The followers of `leader` in `config`.
pub fn followers<'a>(config: &'a Config, leader: &Addon) -> impl Iterator<Item = &'a Addon> {
    let id = leader.id();
    config
        .addons
        .iter()
        .filter(move |a| a.follows.as_deref() == Some(id.as_str()))
}

/// Where a follower's container reaches its leader: the compose service and
/// container port on one VM, the leader VM's private address and published
/// port across VMs.
pub fn leader_address(
    config: &Config,
    follower: &Addon,
    leader: &Addon,
    leader_creds: &IndexMap<String, String>,
) -> (String, String) {
    if follower.vm == leader.vm {
        (leader.service(), "5432".into())
    } else {
        (
            config.vms[&leader.vm].private_ip.clone(),
            leader_creds.get("PORT").cloned().unwrap_or_default(),
        )
    }
}

/// The follower container's env beyond the type's own: how to reach the
/// leader, as whom, on which slot. `(name, value, secret)`.
pub fn follower_env(
    config: &Config,
    follower: &Addon,
    leader: &Addon,
    creds: &IndexMap<String, String>,
    leader_creds: &IndexMap<String, String>,
) -> Vec<(String, String, bool)> {
    let (host, port) = leader_address(config, follower, leader, leader_creds);
    let get = |k: &str| creds.get(k).cloned().unwrap_or_default();
    vec![
        ("SDTUI_LEADER_HOST".into(), host, false),
        ("SDTUI_LEADER_PORT".into(), port, false),
        (
            "SDTUI_REPLICATION_USER".into(),
            get(REPLICATION_USER),
            false,
        ),
        (
            "SDTUI_REPLICATION_PASSWORD".into(),
            get(REPLICATION_PASSWORD),
            true,
        ),
        ("SDTUI_SLOT".into(), slot_name(follower), false),
    ]
}

/// The follower's entrypoint: when its data folder is empty, a base backup
/// of the leader (`pg_basebackup -R -S SLOT`: `standby.signal` and
/// `primary_conninfo` written) instead of initdb, retried while the leader
/// is not ready for it yet (its role and slot come with the leader's
/// provisioning); then the image's own entrypoint, which finds a data
/// folder and starts the server as a hot standby. The password comes from
/// the 0600 env file through PGPASSWORD, never on a command line; the
/// walreceiver reads it from a 0600 passfile outside the data volume,
/// written at each start (`primary_conninfo` names the file, not the
/// password). `$$` is Compose's escape for `$`.
pub fn entrypoint() -> Vec<String> {
    let script = r#"set -e
PASSFILE=/var/lib/postgresql/.sdtui-replication.pgpass
if [ ! -s "$$PGDATA/PG_VERSION" ]; then
  mkdir -p "$$PGDATA"
  chown postgres "$$PGDATA"
  chmod 700 "$$PGDATA"
  n=0
  export PGPASSWORD="$$SDTUI_REPLICATION_PASSWORD"
  until setpriv --reuid=postgres --regid=postgres --init-groups pg_basebackup -h "$$SDTUI_LEADER_HOST" -p "$$SDTUI_LEADER_PORT" -U "$$SDTUI_REPLICATION_USER" -D "$$PGDATA" -R -S "$$SDTUI_SLOT" -X stream -c fast; do
    n=$$((n + 1))
    if [ "$$n" -ge 90 ]; then echo "sdtui: no base backup from $$SDTUI_LEADER_HOST:$$SDTUI_LEADER_PORT after $$n tries" >&2; exit 1; fi
    find "$$PGDATA" -mindepth 1 -delete
    sleep 2
  done
  unset PGPASSWORD
  sed -Ei "s#password=(''[^']*''|[^ ']*) #passfile=$$PASSFILE #" "$$PGDATA/postgresql.auto.conf"
  if grep -q 'password=' "$$PGDATA/postgresql.auto.conf"; then echo "sdtui: primary_conninfo still holds a password" >&2; exit 1; fi
  chown postgres "$$PGDATA/postgresql.auto.conf"
  echo "sdtui: base backup of $$SDTUI_LEADER_HOST:$$SDTUI_LEADER_PORT taken; starting as a hot standby"
fi
umask 077
printf '*:*:*:%s:%s\n' "$$SDTUI_REPLICATION_USER" "$$SDTUI_REPLICATION_PASSWORD" >"$$PASSFILE"
chown postgres "$$PASSFILE"
umask 022
unset SDTUI_REPLICATION_PASSWORD
exec docker-entrypoint.sh "$$@"
"#;
    vec![
        "sh".into(),
        "-c".into(),
        script.into(),
        "sdtui-follower".into(),
    ]
}

/// SQL run on a leader, as its owner, for one follower: the replication
/// role with its password, the slot. `pg_hba` is a file: see
/// [`hba_line`].
pub fn leader_steps(role: &str, password: &str, slot: &str) -> Vec<String> {
    vec![
        "DO $$BEGIN IF current_setting('wal_level') = 'minimal' OR current_setting('max_wal_senders')::int < 1 OR current_setting('max_replication_slots')::int < 1 THEN RAISE EXCEPTION 'followers need wal_level replica or logical, max_wal_senders and max_replication_slots above 0'; END IF; END$$".into(),
        format!("DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN CREATE ROLE \"{role}\" REPLICATION LOGIN; END IF; END$$"),
        format!("ALTER ROLE \"{role}\" WITH REPLICATION LOGIN PASSWORD '{password}'"),
        format!("SELECT 1 FROM (SELECT pg_create_physical_replication_slot('{slot}') WHERE NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = '{slot}')) s"),
        "SELECT 1 FROM (SELECT pg_reload_conf()) r".into(),
    ]
}

/// Run first in a session on a `state: read_only` instance that must still
/// change roles (provisioning): the default is only a default.
pub const WRITABLE_SESSION: &str = "SET default_transaction_read_only = off";

/// Makes new transactions on an instance read-only (or writable again),
/// persistently (`postgresql.auto.conf`, in the volume) and at once
/// (reload). Each statement runs alone: ALTER SYSTEM refuses a transaction.
pub fn read_only_steps(read_only: bool) -> Vec<String> {
    vec![
        if read_only {
            "ALTER SYSTEM SET default_transaction_read_only = on".into()
        } else {
            "ALTER SYSTEM RESET default_transaction_read_only".into()
        },
        "SELECT 1 FROM (SELECT pg_reload_conf()) r".into(),
    ]
}

/// Ends every client session but the caller's, so no transaction begun
/// while the instance was writable can still commit: what follows a
/// switch to read-only before a changeover. Replication connections stay.
pub const END_CLIENT_SESSIONS: &str = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()";

/// The `pg_hba.conf` line that lets a follower's role replicate.
pub fn hba_line(role: &str) -> String {
    format!("host replication {role} all scram-sha-256")
}

/// Appends [`hba_line`] to the leader's pg_hba.conf unless it is there:
/// `sh -c SCRIPT sh LINE`, run in the leader's container.
pub fn hba_command(role: &str) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        r#"f="$PGDATA/pg_hba.conf"; grep -qxF "$1" "$f" || printf '%s\n' "$1" >>"$f""#.into(),
        "sh".into(),
        hba_line(role),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_password_in_the_entrypoint_or_the_commands() {
        let e = entrypoint().join(" ");
        assert!(e.contains("PGPASSWORD=\"$$SDTUI_REPLICATION_PASSWORD\""));
        assert!(!e.contains("PASSWORD=' "));
        assert_eq!(
            hba_command("p_r_replication")[4],
            "host replication p_r_replication all scram-sha-256"
        );
    }
}
