//! A local TCP forward to an addon's private address: each connection
//! accepted on 127.0.0.1 gets its own `direct-tcpip` channel over the VM's
//! SSH session (on the `local` VM, a plain TCP connection).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};

use super::Destination;
use crate::deploy::target::{Connected, Target};
use crate::engine::{Project, Workspace};
use crate::error::{Result, UserError};

/// Progress and per-connection failures, from tasks that outlive the call.
pub type Report = Arc<dyn Fn(String) + Send + Sync>;

/// An open forward; dropping it stops accepting (open connections end with
/// the process).
pub struct Forward {
    pub local: SocketAddr,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for Forward {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

trait Duplex: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Duplex for T {}

/// How the laptop reaches the addon's address.
enum Route {
    Direct,
    Ssh(Connected),
}

async fn dial(route: &Route, host: &str, port: u16, from: SocketAddr) -> Result<Box<dyn Duplex>> {
    match route {
        Route::Direct => TcpStream::connect((host, port))
            .await
            .map(|s| {
                let _ = s.set_nodelay(true);
                Box::new(s) as Box<dyn Duplex>
            })
            .map_err(|e| {
                UserError::new(format!("cannot reach {host}:{port}: {e}"))
                    .hint("is the addon up? sdtui up")
            }),
        Route::Ssh(conn) => match &conn.target {
            Target::Remote { session, .. } => session
                .direct_tcpip(host, port, from)
                .await
                .map(|s| Box::new(s) as Box<dyn Duplex>),
            Target::Local { .. } => unreachable!("a local VM is reached directly"),
        },
    }
}

/// Listens on 127.0.0.1:`local_port` (any free port when None) and forwards
/// each connection to `dest`'s private address, checked once first.
pub async fn open(
    ws: &Workspace,
    project: &Project,
    dest: &Destination,
    local_port: Option<u16>,
    report: Report,
) -> Result<Forward> {
    let route = if dest.vm.is_local() {
        Route::Direct
    } else {
        report(format!("VM {}: connecting", dest.vm.name));
        Route::Ssh(Connected::open(ws, project, &dest.vm).await?)
    };
    let listener = TcpListener::bind(("127.0.0.1", local_port.unwrap_or(0)))
        .await
        .map_err(|e| {
            UserError::new(format!(
                "cannot listen on 127.0.0.1:{}: {e}",
                local_port.unwrap_or(0)
            ))
            .hint("pick another --port, or leave it out for any free one")
        })?;
    let local = listener
        .local_addr()
        .map_err(|e| UserError::new(format!("the local forward has no address: {e}")))?;
    // One connection up front: a refusal is said now, not by the client.
    drop(
        dial(&route, &dest.host, dest.port, local)
            .await
            .map_err(|e| UserError {
                message: format!("{} on VM {}: {}", dest.addon.id(), dest.vm.name, e.message),
                ..e
            })?,
    );
    let route = Arc::new(route);
    let (host, port) = (dest.host.clone(), dest.port);
    let accept = tokio::spawn(async move {
        loop {
            let Ok((mut inbound, peer)) = listener.accept().await else {
                continue;
            };
            let _ = inbound.set_nodelay(true);
            let (route, host, report) = (Arc::clone(&route), host.clone(), Arc::clone(&report));
            tokio::spawn(async move {
                match dial(&route, &host, port, peer).await {
                    Ok(mut upstream) => {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut upstream).await;
                    }
                    Err(e) => report(format!("forward: {}", e.message)),
                }
            });
        }
    });
    Ok(Forward { local, accept })
}
