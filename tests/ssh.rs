//! The SSH layer against real sshd "VMs" (tests/sshd/start.sh), no mocks:
//! host key policy (unknown, accept-new, hashed, changed), key sources
//! (identity file, encrypted identity, ssh-agent, default keys), exec with
//! arguments passed literally, atomic uploads, and the Docker API over a
//! direct-streamlocal channel. Each test has its own loopback address and
//! port, so they run in parallel. Missing sshd or ssh-keygen fails loudly.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;

use common::sshd::{TestVm, ssh_keygen};
use sdtui::ssh::{
    ConnectOptions, HostKeyCheck, PassphraseFn, RemoteCommand, Session, SshTarget,
    check_known_hosts, resolve_alias, scan_host_key,
};

// ------------------------------------------------------------------ helpers

/// An ssh-agent of the test's own, killed (by its pid) when dropped.
pub struct TestAgent {
    pub socket: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl TestAgent {
    pub fn start() -> TestAgent {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("agent.sock");
        // -D: stay in the foreground, so the child is the agent itself.
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("ssh-agent must be installed (openssh-client)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "ssh-agent did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        TestAgent {
            socket,
            child,
            _dir: dir,
        }
    }

    pub fn add(&self, key: &Path) {
        let out = Command::new("ssh-add")
            .arg(key)
            .env("SSH_AUTH_SOCK", &self.socket)
            .output()
            .expect("ssh-add must be installed (openssh-client)");
        assert!(
            out.status.success(),
            "ssh-add: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for TestAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// No agent, no default keys: only the target's identity file is tried.
fn only_identity() -> ConnectOptions {
    ConnectOptions {
        agent_socket: None,
        default_keys: Vec::new(),
        connect_timeout: Duration::from_secs(10),
    }
}

fn no_passphrase() -> &'static PassphraseFn {
    &|_: &Path| None
}

async fn connect(target: &SshTarget) -> Result<Session, sdtui::error::UserError> {
    Session::connect_with(target, &only_identity(), no_passphrase()).await
}

fn cmd(program: &str, args: &[&str]) -> RemoteCommand {
    RemoteCommand::new(program, args.iter().copied())
}

// ------------------------------------------------------------ host keys

#[tokio::test]
async fn unknown_host_fails_with_fingerprint_and_hint() {
    let vm = TestVm::start("127.0.4.11", 2201);
    let tmp = tempfile::tempdir().unwrap();
    let known_hosts = tmp.path().join("known_hosts");
    let fp = vm.host_fingerprint();

    let err = connect(&vm.target(&known_hosts)).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&fp), "no fingerprint {fp} in: {text}");
    assert!(text.contains("[127.0.4.11]:2201"), "{text}");
    assert!(text.contains("--accept-new-host"), "{text}");
    assert!(
        !known_hosts.exists(),
        "nothing may be written without consent"
    );

    // What a console asks with before trusting it.
    let scan = scan_host_key(&vm.target(&known_hosts)).await.unwrap();
    assert_eq!(scan.check, HostKeyCheck::Unknown);
    assert_eq!(scan.fingerprint, fp);
    assert_eq!(scan.algorithm, "ssh-ed25519");
    assert!(!known_hosts.exists());
}

#[tokio::test]
async fn accept_new_host_writes_known_hosts_then_connects() {
    let vm = TestVm::start("127.0.4.12", 2202);
    let tmp = tempfile::tempdir().unwrap();
    let ssh_dir = tmp.path().join("home/.ssh");
    let known_hosts = ssh_dir.join("known_hosts");

    let mut target = vm.target(&known_hosts);
    target.accept_new_host = true;
    let session = connect(&target).await.unwrap();
    let out = session.exec(&cmd("echo", &["hello"])).await.unwrap();
    assert_eq!(out.stdout, "hello\n");

    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&ssh_dir), 0o700);
    assert_eq!(mode(&known_hosts), 0o600);
    let written = std::fs::read_to_string(&known_hosts).unwrap();
    let trusted = std::fs::read_to_string(vm.trusted_known_hosts()).unwrap();
    assert_eq!(written, trusted, "the entry is `[addr]:port type key`");

    // Known now: connects without accept-new, and writes nothing more.
    target.accept_new_host = false;
    connect(&target).await.unwrap();
    assert_eq!(std::fs::read_to_string(&known_hosts).unwrap(), written);
    let scan = scan_host_key(&target).await.unwrap();
    assert_eq!(scan.check, HostKeyCheck::Known);
}

#[tokio::test]
async fn hashed_known_hosts_entries_are_trusted() {
    let vm = TestVm::start("127.0.4.13", 2203);
    let tmp = tempfile::tempdir().unwrap();
    let known_hosts = tmp.path().join("known_hosts");
    let trusted = std::fs::read_to_string(vm.trusted_known_hosts()).unwrap();
    std::fs::write(
        &known_hosts,
        format!("# other hosts\nexample.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ\n{trusted}"),
    )
    .unwrap();
    ssh_keygen(&["-H", "-f", known_hosts.to_str().unwrap()]);
    let hashed = std::fs::read_to_string(&known_hosts).unwrap();
    assert!(hashed.contains("|1|") && !hashed.contains("127.0.4.13"));

    let session = connect(&vm.target(&known_hosts)).await.unwrap();
    assert_eq!(
        session.exec(&cmd("true", &[])).await.unwrap().code,
        0,
        "a hashed entry must be trusted"
    );
}

#[tokio::test]
async fn changed_host_key_is_refused_even_with_accept_new() {
    let vm = TestVm::start("127.0.4.14", 2204);
    let tmp = tempfile::tempdir().unwrap();
    let known_hosts = tmp.path().join("known_hosts");
    let trusted = std::fs::read_to_string(vm.trusted_known_hosts()).unwrap();
    std::fs::write(&known_hosts, format!("# first line\n\n{trusted}")).unwrap();
    connect(&vm.target(&known_hosts)).await.unwrap();

    vm.new_host_key();
    let new_fp = vm.host_fingerprint();
    let mut target = vm.target(&known_hosts);
    target.accept_new_host = true;
    let err = connect(&target).await.unwrap_err().to_string();
    assert!(err.contains("HOST KEY CHANGED"), "{err}");
    assert!(err.contains(&known_hosts.display().to_string()), "{err}");
    assert!(
        err.contains("line 3"),
        "the real line, comments counted: {err}"
    );
    assert!(err.contains(&new_fp), "{err}");
    assert_eq!(
        std::fs::read_to_string(&known_hosts).unwrap(),
        format!("# first line\n\n{trusted}"),
        "known_hosts must stay as it was"
    );
    let scan = scan_host_key(&target).await.unwrap();
    assert_eq!(scan.check, HostKeyCheck::Changed { line: 3 });
    assert_eq!(
        check_known_hosts(&known_hosts, &vm.addr, vm.port, &scan.key).unwrap(),
        HostKeyCheck::Changed { line: 3 }
    );
}

// ------------------------------------------------------------ exec, upload

#[tokio::test]
async fn exec_returns_output_and_passes_arguments_literally() {
    let vm = TestVm::start("127.0.4.15", 2205);
    let session = connect(&vm.target(&vm.trusted_known_hosts()))
        .await
        .unwrap();

    let out = session
        .exec(&cmd("printf", &["%s\n", "a b; rm -rf /"]))
        .await
        .unwrap();
    assert_eq!(out.code, 0);
    assert_eq!(out.stdout, "a b; rm -rf /\n");

    let nasty = [
        "it's",
        "\"double\"",
        "$HOME",
        "`id`",
        "$(id)",
        "a\nb",
        "*",
        "~",
        "",
        "x=1",
        "\\",
        "'; echo pwned; '",
        "é ü",
    ];
    let out = session
        .exec(&RemoteCommand::new(
            "printf",
            std::iter::once("[%s]\n").chain(nasty.iter().copied()),
        ))
        .await
        .unwrap();
    let expected: String = nasty.iter().map(|a| format!("[{a}]\n")).collect();
    assert_eq!(out.stdout, expected);

    let out = session
        .exec(&cmd("sh", &["-c", "echo out; echo err >&2; exit 3"]))
        .await
        .unwrap();
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (3, "out\n", "err\n")
    );
    assert!(!out.success());

    let out = session
        .exec(&cmd("no-such-program-sdtui", &[]))
        .await
        .unwrap();
    assert_eq!(out.code, 127, "{out:?}");

    // Input larger than the SSH window, echoed back while being written.
    let input: Vec<u8> = (0..4_000_000u32).map(|i| (i % 251) as u8).collect();
    let out = session
        .exec_with_input(&cmd("sha256sum", &[]), &input)
        .await
        .unwrap();
    let local = {
        use std::io::Write;
        let mut child = Command::new("sha256sum")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&input).unwrap();
        String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()
    };
    assert_eq!(out.stdout, local);
    let text: String = (0..3_000_000u32)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let out = session
        .exec_with_input(&cmd("cat", &[]), text.as_bytes())
        .await
        .unwrap();
    assert!(out.stdout == text, "cat echoed {} bytes", out.stdout.len());

    // A command that ignores its input still ends.
    let out = session
        .exec_with_input(&cmd("true", &[]), &input)
        .await
        .unwrap();
    assert_eq!(out.code, 0);

    // Empty stdin: `cat` does not wait for input.
    let out = session.exec(&cmd("cat", &[])).await.unwrap();
    assert_eq!(out.stdout, "");

    // Several commands at once on one session.
    let a = cmd("sh", &["-c", "sleep 1; echo a"]);
    let b = cmd("sh", &["-c", "sleep 1; echo b"]);
    let started = Instant::now();
    let (ra, rb) = tokio::join!(session.exec(&a), session.exec(&b));
    assert_eq!(ra.unwrap().stdout, "a\n");
    assert_eq!(rb.unwrap().stdout, "b\n");
    assert!(started.elapsed() < Duration::from_millis(1900));

    // A NUL byte cannot be sent: refused before anything runs.
    let err = session
        .exec(&cmd("echo", &["a\0b"]))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("NUL"), "{err}");
}

#[tokio::test]
async fn upload_writes_atomically_with_the_mode() {
    let vm = TestVm::start("127.0.4.16", 2206);
    let session = connect(&vm.target(&vm.trusted_known_hosts()))
        .await
        .unwrap();
    // The VM is this machine: its files are ours to read.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.env");
    let remote = path.to_str().unwrap();

    session
        .upload(remote, b"DATABASE_URL=postgres://x\n", 0o640)
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "DATABASE_URL=postgres://x\n"
    );
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o640);
    let first_inode = meta.ino();

    // Replaced by rename: a new inode, never a half-written file in place.
    let big = vec![b'x'; 1_000_000];
    session.upload(remote, &big, 0o600).await.unwrap();
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), big);
    assert_eq!(meta.permissions().mode() & 0o7777, 0o600);
    assert_ne!(meta.ino(), first_inode);

    // A symlink at the destination is replaced, not written through.
    let other = dir.path().join("other");
    std::fs::write(&other, "keep").unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&other, &link).unwrap();
    session
        .upload(link.to_str().unwrap(), b"new", 0o644)
        .await
        .unwrap();
    assert_eq!(std::fs::read_to_string(&other).unwrap(), "keep");
    assert!(!std::fs::symlink_metadata(&link).unwrap().is_symlink());
    assert_eq!(std::fs::read_to_string(&link).unwrap(), "new");

    // Names that a shell would misread are taken literally.
    let odd = dir.path().join("a b; $(touch pwned) 'q'");
    session
        .upload(odd.to_str().unwrap(), b"odd", 0o600)
        .await
        .unwrap();
    assert_eq!(std::fs::read_to_string(&odd).unwrap(), "odd");
    assert!(!dir.path().join("pwned").exists());

    // No temp files left behind.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["a b; $(touch pwned) 'q'", "app.env", "link", "other"]
    );

    // A missing folder: a clear error, nothing left.
    let err = session
        .upload(dir.path().join("nope/x").to_str().unwrap(), b"x", 0o600)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot upload"), "{err}");
    assert!(err.contains("root@127.0.4.16:2206"), "{err}");
}

// ------------------------------------------------------------ docker

#[tokio::test]
async fn docker_over_streamlocal_answers() {
    let vm = TestVm::start("127.0.4.17", 2207);
    let session = connect(&vm.target(&vm.trusted_known_hosts()))
        .await
        .unwrap();
    let remote = session.docker().await.unwrap();
    assert_eq!(remote.ping().await.unwrap(), "OK");
    remote
        .list_containers(None::<bollard::query_parameters::ListContainersOptions>)
        .await
        .unwrap();

    // The VM's engine is the local one: same engine ID and API version.
    let local = sdtui::docker::connect_local().await.unwrap();
    let (ri, li) = (remote.info().await.unwrap(), local.info().await.unwrap());
    assert_eq!(ri.id, li.id);
    assert_eq!(
        remote.version().await.unwrap().api_version,
        local.version().await.unwrap().api_version
    );

    // Calls are quick (russh nodelay) and may run concurrently.
    let started = Instant::now();
    for _ in 0..10 {
        remote.ping().await.unwrap();
    }
    let per_call = started.elapsed() / 10;
    eprintln!("docker ping over ssh: {per_call:?} per call");
    assert!(per_call < Duration::from_millis(500), "{per_call:?}");
    let (a, b) = tokio::join!(remote.ping(), remote.ping());
    assert_eq!(
        (a.unwrap(), b.unwrap()),
        ("OK".to_string(), "OK".to_string())
    );

    // No engine at that path: said plainly.
    let err = session
        .docker_at("/nonexistent/docker.sock")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not exist"), "{err}");
}

#[tokio::test]
async fn docker_refused_by_sshd_forwarding_settings_is_explained() {
    let vm = TestVm::start("127.0.4.18", 2208);
    vm.restart_with_config(|c| {
        c.replace("AllowTcpForwarding yes", "AllowTcpForwarding no")
            .replace(
                "AllowStreamLocalForwarding yes",
                "AllowStreamLocalForwarding no",
            )
    });
    let session = connect(&vm.target(&vm.trusted_known_hosts()))
        .await
        .unwrap();
    let err = session.docker().await.unwrap_err().to_string();
    assert!(err.contains("refused to forward"), "{err}");
    assert!(err.contains("AllowTcpForwarding"), "{err}");
    assert!(err.contains("AllowStreamLocalForwarding"), "{err}");
}

// ------------------------------------------------------------ auth

#[tokio::test]
async fn encrypted_identity_asks_for_its_passphrase() {
    let vm = TestVm::start("127.0.4.19", 2209);
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("id_locked");
    std::fs::copy(vm.client_key(), &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    ssh_keygen(&[
        "-p",
        "-q",
        "-P",
        "",
        "-N",
        "correct horse battery",
        "-f",
        key.to_str().unwrap(),
    ]);
    let mut target = vm.target(&vm.trusted_known_hosts());
    target.identity = Some(key.clone());

    let asked = Arc::new(Mutex::new(Vec::<PathBuf>::new()));
    let asked2 = Arc::clone(&asked);
    let right = move |p: &Path| {
        asked2.lock().unwrap().push(p.to_path_buf());
        Some("correct horse battery".to_string())
    };
    let session = Session::connect_with(&target, &only_identity(), &right)
        .await
        .unwrap();
    assert_eq!(
        session.exec(&cmd("whoami", &[])).await.unwrap().stdout,
        "root\n"
    );
    assert_eq!(*asked.lock().unwrap(), std::slice::from_ref(&key));

    let wrong = |_: &Path| Some("hunter2-wrong".to_string());
    let err = Session::connect_with(&target, &only_identity(), &wrong)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("passphrase"), "{err}");
    assert!(err.contains("wrong"), "{err}");
    assert!(err.contains(&key.display().to_string()), "{err}");
    assert!(!err.contains("hunter2"), "a secret in an error: {err}");

    let err = Session::connect_with(&target, &only_identity(), no_passphrase())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("encrypted"), "{err}");
    assert!(err.contains("no passphrase"), "{err}");
}

#[tokio::test]
async fn keys_from_agent_and_default_files_and_a_clear_failure() {
    let vm = TestVm::start("127.0.4.20", 2210);
    let tmp = tempfile::tempdir().unwrap();
    let stranger = tmp.path().join("id_stranger");
    ssh_keygen(&[
        "-q",
        "-t",
        "ed25519",
        "-N",
        "",
        "-f",
        stranger.to_str().unwrap(),
    ]);
    let known_hosts = vm.trusted_known_hosts();

    // An identity the VM does not know, no agent, no defaults.
    let mut target = vm.target(&known_hosts);
    target.identity = Some(stranger.clone());
    let err = connect(&target).await.unwrap_err().to_string();
    assert!(err.contains("root@127.0.4.20:2210"), "{err}");
    assert!(err.contains(&stranger.display().to_string()), "{err}");
    assert!(err.contains("refused"), "{err}");
    assert!(err.contains("ssh-agent"), "{err}");

    // The refused identity, then the agent holding the right key.
    let agent = TestAgent::start();
    agent.add(&vm.client_key());
    let with_agent = ConnectOptions {
        agent_socket: Some(agent.socket.clone()),
        ..only_identity()
    };
    let session = Session::connect_with(&target, &with_agent, no_passphrase())
        .await
        .unwrap();
    assert_eq!(session.exec(&cmd("true", &[])).await.unwrap().code, 0);

    // No identity, an agent without keys, then the default key files.
    let empty_agent = TestAgent::start();
    target.identity = None;
    let defaults = ConnectOptions {
        agent_socket: Some(empty_agent.socket.clone()),
        default_keys: vec![
            tmp.path().join("id_missing"),
            stranger.clone(),
            vm.client_key(),
        ],
        ..only_identity()
    };
    let session = Session::connect_with(&target, &defaults, no_passphrase())
        .await
        .unwrap();
    assert_eq!(session.exec(&cmd("true", &[])).await.unwrap().code, 0);

    // A missing identity file is named before any connection.
    target.identity = Some(tmp.path().join("id_typo"));
    let err = connect(&target).await.unwrap_err().to_string();
    assert!(err.contains("id_typo"), "{err}");
}

#[tokio::test]
async fn connection_refused_and_silent_servers_name_host_and_port() {
    // Nothing listens on 127.0.4.21:2211.
    let target = SshTarget {
        host: "127.0.4.21".into(),
        port: 2211,
        user: "root".into(),
        identity: None,
        known_hosts: PathBuf::from("/nonexistent/known_hosts"),
        accept_new_host: false,
    };
    let started = Instant::now();
    let err = connect(&target).await.unwrap_err().to_string();
    assert!(err.contains("127.0.4.21:2211"), "{err}");
    assert!(err.contains("refused"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));

    // Accepts TCP but never speaks SSH: the handshake times out.
    let listener = tokio::net::TcpListener::bind("127.0.4.22:2212")
        .await
        .unwrap();
    let _hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let target = SshTarget {
        host: "127.0.4.22".into(),
        port: 2212,
        ..target
    };
    let quick = ConnectOptions {
        connect_timeout: Duration::from_secs(1),
        ..only_identity()
    };
    let started = Instant::now();
    let err = Session::connect_with(&target, &quick, no_passphrase())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("127.0.4.22:2212"), "{err}");
    assert!(err.contains("timed out"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

// ------------------------------------------------------------ ssh config

#[test]
fn host_alias_resolves_from_an_ssh_config_file() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("config");
    std::fs::write(
        &config,
        "# my VMs\n\
         Host db1 db-primary\n\
         \x20   HostName 10.1.2.3\n\
         \x20   Port 2222\n\
         \x20   User deploy\n\
         \x20   IdentityFile /keys/id_db\n\
         \x20   ServerAliveInterval 30\n\
         \n\
         Host web*\n\
         \x20   HostName %h.example.com\n\
         \n\
         Host *\n\
         \x20   User fallback\n\
         \x20   ForwardAgent no\n",
    )
    .unwrap();
    assert_eq!(
        resolve_alias("db1", &config),
        Some((
            "10.1.2.3".to_string(),
            Some(2222),
            Some("deploy".to_string()),
            Some(PathBuf::from("/keys/id_db"))
        ))
    );
    assert_eq!(resolve_alias("db-primary", &config).unwrap().0, "10.1.2.3");
    assert_eq!(
        resolve_alias("web1", &config),
        Some((
            "web1.example.com".to_string(),
            None,
            Some("fallback".to_string()),
            None
        ))
    );
    // Only `Host *` applies: the alias is the host.
    assert_eq!(
        resolve_alias("other", &config),
        Some((
            "other".to_string(),
            None,
            Some("fallback".to_string()),
            None
        ))
    );
    assert_eq!(resolve_alias("db1", &tmp.path().join("missing")), None);

    let bare = tmp.path().join("bare");
    std::fs::write(&bare, "Host vm\n  HostName 127.0.0.9\n").unwrap();
    assert_eq!(resolve_alias("elsewhere", &bare), None);
}

// ------------------------------------------------------------ quoting

#[test]
fn remote_command_line_quotes_every_word() {
    assert_eq!(cmd("docker", &["ps", "-a"]).line(), "docker ps -a");
    assert_eq!(
        cmd("printf", &["%s\n", "a b; rm -rf /"]).line(),
        "printf '%s\n' 'a b; rm -rf /'"
    );
    assert_eq!(cmd("echo", &[""]).line(), "echo ''");
    assert_eq!(cmd("echo", &["it's"]).line(), "echo \"it's\"");
    assert_eq!(cmd("echo", &["$HOME"]).line(), "echo '$HOME'");
    // An assignment-looking program stays a word, not an assignment.
    assert_eq!(cmd("X=1", &["true"]).line(), "'X=1' true");
    assert!(cmd("", &[]).try_line().is_err());
    assert!(cmd("echo", &["a\0b"]).try_line().is_err());
    assert_eq!(cmd("echo", &["a\0b"]).line(), "echo \"a\\\\0b\"");
    assert_eq!(cmd("echo", &["x"]).to_string(), "echo x");
}

#[test]
fn remote_command_line_round_trips_through_a_real_shell() {
    let words = [
        "plain",
        "two words",
        "it's",
        "\"dq\"",
        "$HOME",
        "$(id)",
        "`id`",
        "a;b|c&d",
        "new\nline",
        "tab\there",
        "*.txt",
        "~",
        "",
        "{a,b}",
        "back\\slash",
        "!bang",
        "x=1",
        "#hash",
        "'",
        "\"'\"'",
        "ünï",
        "-n",
    ];
    let line = RemoteCommand::new("printf", std::iter::once("[%s]\n").chain(words)).line();
    for shell in ["sh", "bash"] {
        let out = Command::new(shell)
            .arg("-c")
            .arg(&line)
            .output()
            .expect("a shell");
        let expected: String = words.iter().map(|w| format!("[{w}]\n")).collect();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            expected,
            "{shell}: {line}"
        );
    }
}
