//! The remote Docker engine over the session: a direct-streamlocal channel
//! to its socket per HTTP connection, bollard on top.

use super::*;

impl Session {
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
}

/// One HTTP exchange with the engine on its own streamlocal channel.
pub(super) async fn forward_request(
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
