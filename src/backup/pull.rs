//! `db backups pull`: one backup copied from its VM to this machine,
//! verified by its manifest's sha256, never left half-written under its
//! final name. Over SSH it travels in bounded chunks (base64 over exec, as
//! exec output is text), so memory stays flat whatever the size.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::Report;
use crate::deploy::target::Target;
use crate::engine::{Project, Workspace};
use crate::error::{Result, UserError, io_error};
use crate::ssh::RemoteCommand;

/// Raw bytes per SSH round trip.
const CHUNK: u64 = 4 * 1024 * 1024;

/// `$1` file, `$2` offset in chunks, `$3` chunk size: that chunk, base64.
const CHUNK_SCRIPT: &str =
    "dd if=\"$1\" bs=\"$3\" skip=\"$2\" count=1 iflag=fullblock 2>/dev/null | base64 -w0";

/// Removes the partial file unless the pull finished.
struct Partial {
    path: PathBuf,
    done: bool,
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Copies backup `backup_id` of `addon_id` to `to` (a folder, or a file
/// name); returns the file written.
pub async fn pull(
    ws: &Workspace,
    project: &Project,
    addon_id: &str,
    backup_id: &str,
    to: &Path,
    report: Report<'_>,
) -> Result<PathBuf> {
    let loaded = ws.load(project)?;
    let (conn, dir, m) = super::find(ws, project, &loaded.config, addon_id, backup_id).await?;
    let dest = if to.is_dir() {
        to.join(&m.file)
    } else {
        to.to_path_buf()
    };
    if dest.exists() {
        return Err(UserError::new(format!("{} exists", dest.display()))
            .hint("pull to another name or folder: --to PATH"));
    }
    let parent = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let partial = Partial {
        path: parent.join(format!(
            ".{}.partial",
            dest.file_name().unwrap_or_default().to_string_lossy()
        )),
        done: false,
    };
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&partial.path)
        .map_err(|e| io_error(&partial.path, "create", e))?;
    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    let remote_file = format!("{dir}/{}", m.file);
    let mut got: u64 = 0;
    match &conn.target {
        Target::Local { .. } => {
            let mut src = std::fs::File::open(&remote_file)
                .map_err(|e| io_error(Path::new(&remote_file), "read", e))?;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = std::io::Read::read(&mut src, &mut buf)
                    .map_err(|e| io_error(Path::new(&remote_file), "read", e))?;
                if n == 0 {
                    break;
                }
                digest.update(&buf[..n]);
                out.write_all(&buf[..n])
                    .map_err(|e| io_error(&partial.path, "write", e))?;
                got += n as u64;
            }
        }
        Target::Remote { session, .. } => {
            let chunks = m.size.div_ceil(CHUNK);
            for i in 0..chunks {
                let cmd = RemoteCommand::new(
                    "sh",
                    [
                        "-c".to_string(),
                        CHUNK_SCRIPT.to_string(),
                        "sh".to_string(),
                        remote_file.clone(),
                        i.to_string(),
                        CHUNK.to_string(),
                    ],
                );
                let o = session.exec(&cmd).await.map_err(|e| UserError {
                    message: format!(
                        "pulling {} from VM {}: {}; nothing kept",
                        m.id, m.vm, e.message
                    ),
                    ..e
                })?;
                let bytes = data_encoding::BASE64
                    .decode(o.stdout.trim().as_bytes())
                    .map_err(|e| UserError::new(format!("pulling {}: bad chunk {i}: {e}", m.id)))?;
                if !o.success() || bytes.is_empty() {
                    return Err(UserError::new(format!(
                        "pulling {}: chunk {i} of {chunks} could not be read: {}",
                        m.id,
                        o.stderr.trim()
                    )));
                }
                digest.update(&bytes);
                out.write_all(&bytes)
                    .map_err(|e| io_error(&partial.path, "write", e))?;
                got += bytes.len() as u64;
                report(format!("{}: {got} of {} bytes", m.id, m.size));
            }
        }
    }
    out.sync_all()
        .map_err(|e| io_error(&partial.path, "flush", e))?;
    let sum = data_encoding::HEXLOWER.encode(digest.finish().as_ref());
    if got != m.size || sum != m.sha256 {
        return Err(UserError::new(format!(
            "pulled {} does not match its manifest ({got} bytes, sha256 {sum}; expected {} bytes, sha256 {}); nothing kept",
            m.id, m.size, m.sha256
        ))
        .hint("the file on the VM may be altered: sdtui db restore refuses it too"));
    }
    std::fs::rename(&partial.path, &dest).map_err(|e| io_error(&dest, "write", e))?;
    let mut partial = partial;
    partial.done = true;
    Ok(dest)
}
