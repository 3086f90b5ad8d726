//! Both Compose versions, side by side: v1 is the system's `docker-compose`;
//! v2 is Debian's package extracted by tests/compose/install-v2.sh (which
//! tests/run calls), run as `docker compose` through a DOCKER_CONFIG of its
//! own so nothing else changes.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compose {
    V1,
    V2,
}

/// Where install-v2.sh puts v2 (`$SDTUI_COMPOSE_V2_DIR` overrides).
pub fn v2_dir() -> PathBuf {
    std::env::var_os("SDTUI_COMPOSE_V2_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/sdtui-compose-v2"))
}

/// The DOCKER_CONFIG whose cli-plugins/docker-compose is v2; fails loudly
/// when v2 is not installed.
pub fn v2_docker_config() -> PathBuf {
    let dir = v2_dir().join("docker-config");
    assert!(
        dir.join("cli-plugins/docker-compose").exists(),
        "Compose v2 is not installed in {}: run tests/compose/install-v2.sh (tests/run does)",
        dir.display()
    );
    dir
}

/// The v2 binary itself, for a remote VM's `compose:` setting (sshd does
/// not pass DOCKER_CONFIG).
pub fn v2_binary() -> PathBuf {
    v2_docker_config().join("cli-plugins/docker-compose")
}

impl Compose {
    pub const BOTH: [Compose; 2] = [Compose::V1, Compose::V2];

    /// `docker-compose` or `docker compose`, ready for arguments.
    pub fn command(self) -> Command {
        match self {
            Compose::V1 => Command::new("docker-compose"),
            Compose::V2 => {
                let mut c = Command::new("docker");
                c.env("DOCKER_CONFIG", v2_docker_config()).arg("compose");
                c
            }
        }
    }

    /// Environment for the sdtui binary so that it uses this version on the
    /// local engine.
    pub fn sdtui_env(self) -> Vec<(&'static str, String)> {
        match self {
            Compose::V1 => vec![("SDTUI_COMPOSE", "docker-compose".into())],
            Compose::V2 => vec![
                ("SDTUI_COMPOSE", "docker compose".into()),
                (
                    "DOCKER_CONFIG",
                    v2_docker_config().to_string_lossy().into_owned(),
                ),
            ],
        }
    }

    /// The major version `up` reports: `compose v1.` / `compose v2.`.
    pub fn reported(self) -> &'static str {
        match self {
            Compose::V1 => "compose v1.",
            Compose::V2 => "compose v2.",
        }
    }

    pub fn tag(self) -> &'static str {
        match self {
            Compose::V1 => "v1",
            Compose::V2 => "v2",
        }
    }
}
