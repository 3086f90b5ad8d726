//! A throw-away sshd playing a VM (tests/sshd/start.sh), for tests that
//! cross a real SSH connection.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sdtui::ssh::SshTarget;

/// A throw-away sshd playing one VM on `addr:port` (a loopback address of
/// its own, e.g. 127.0.4.11), with its state (host key, a client key
/// `id_ed25519` that may log in as root, known_hosts.trusted) in a temp
/// folder. Stopped when dropped, even when the test fails.
pub struct TestVm {
    pub addr: String,
    pub port: u16,
    pub state: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestVm {
    fn script(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/sshd")
            .join(name)
    }

    /// Starts it (installing openssh-server if needed); panics with the
    /// script's output when sshd cannot start.
    pub fn start(addr: &str, port: u16) -> TestVm {
        let dir = tempfile::Builder::new()
            .prefix("sdtui-vm-")
            .tempdir()
            .expect("temp dir");
        let vm = TestVm {
            addr: addr.to_string(),
            port,
            state: dir.path().join("state"),
            _dir: dir,
        };
        vm.run_start();
        vm
    }

    fn run_start(&self) {
        let out = Command::new(Self::script("start.sh"))
            .arg(&self.addr)
            .arg(self.port.to_string())
            .arg(&self.state)
            .output()
            .expect("tests/sshd/start.sh must run (bash, root)");
        assert!(
            out.status.success(),
            "tests/sshd/start.sh {} {} failed:\n{}{}",
            self.addr,
            self.port,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts it again after `stop()`, same keys.
    pub fn start_again(&self) {
        self.run_start();
    }

    pub fn stop(&self) {
        let _ = Command::new(Self::script("stop.sh"))
            .arg(&self.state)
            .output();
    }

    /// The client key authorized for root (no passphrase).
    pub fn client_key(&self) -> PathBuf {
        self.state.join("id_ed25519")
    }

    /// A known_hosts file that already trusts this VM.
    pub fn trusted_known_hosts(&self) -> PathBuf {
        self.state.join("known_hosts.trusted")
    }

    /// `SHA256:...` of the VM's host key, from ssh-keygen.
    pub fn host_fingerprint(&self) -> String {
        let out = ssh_keygen(&[
            "-l",
            "-f",
            self.state
                .join("ssh_host_ed25519_key.pub")
                .to_str()
                .unwrap(),
        ]);
        out.split_whitespace().nth(1).unwrap().to_string()
    }

    /// root with the client key, checked against `known_hosts`.
    pub fn target(&self, known_hosts: &Path) -> SshTarget {
        SshTarget {
            host: self.addr.clone(),
            port: self.port,
            user: "root".into(),
            identity: Some(self.client_key()),
            known_hosts: known_hosts.to_path_buf(),
            accept_new_host: false,
        }
    }

    /// A new host key, as when the VM is rebuilt; sshd restarted.
    pub fn new_host_key(&self) {
        self.stop();
        for f in ["ssh_host_ed25519_key", "ssh_host_ed25519_key.pub"] {
            std::fs::remove_file(self.state.join(f)).unwrap();
        }
        self.run_start();
    }

    /// Restarts sshd with its config changed by `edit` (start.sh's own
    /// config is fixed); stop.sh still stops it.
    pub fn restart_with_config(&self, edit: impl Fn(&str) -> String) {
        self.stop();
        let config = self.state.join("sshd_config");
        let text = std::fs::read_to_string(&config).unwrap();
        std::fs::write(&config, edit(&text)).unwrap();
        let status = Command::new("/usr/sbin/sshd")
            .arg("-f")
            .arg(&config)
            .arg("-E")
            .arg(self.state.join("sshd.log"))
            .status()
            .expect("/usr/sbin/sshd");
        assert!(status.success(), "sshd with an edited config did not start");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect((self.addr.as_str(), self.port)).is_err() {
            assert!(Instant::now() < deadline, "sshd did not listen again");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for TestVm {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn ssh_keygen(args: &[&str]) -> String {
    let out = Command::new("ssh-keygen")
        .args(args)
        .output()
        .expect("ssh-keygen must be installed (openssh-client)");
    assert!(
        out.status.success(),
        "ssh-keygen {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The binary as the tests run it against SSH VMs: the test's own root and
/// known_hosts, no ssh-agent (keys come from config.yml).
pub fn sdtui_ssh_cmd(root: &Path, known_hosts: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sdtui"));
    cmd.args(args)
        .env("SDTUI_ROOT", root)
        .env("SDTUI_ADDONS", root.join(".none"))
        .env("SDTUI_KNOWN_HOSTS", known_hosts)
        .env_remove("SSH_AUTH_SOCK");
    cmd
}

/// [`sdtui_ssh_cmd`], run to completion.
pub fn sdtui_ssh(root: &Path, known_hosts: &Path, args: &[&str]) -> std::process::Output {
    sdtui_ssh_cmd(root, known_hosts, args).output().unwrap()
}

/// A folder a test VM wrote under the machine's real home (`~/.sdtui/...`),
/// removed when the test ends, even when it fails.
pub struct RemoteDir(pub PathBuf);

impl Drop for RemoteDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl RemoteDir {
    /// What sdtui writes on a test VM for `project`: `~/.sdtui/<project>`.
    pub fn of_project(project: &str) -> RemoteDir {
        RemoteDir(
            PathBuf::from(std::env::var("HOME").unwrap())
                .join(".sdtui")
                .join(project),
        )
    }
}
