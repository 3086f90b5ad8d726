//! A swarm task reads some credentials from its Docker secrets' files
//! (`/run/secrets/NAME`: the catalog's `file_env` and `shell_file_env`),
//! which only a swarm service mounts. A drill's throwaway copies the task's
//! environment and command, so it gets the same files, made from the
//! instance's credentials, before it starts.

use bollard::Docker;
use bollard::query_parameters::UploadToContainerOptionsBuilder;

use super::Subject;
use crate::error::{Result, UserError};

/// Puts the secret files a task of `s` reads into the (created, not
/// started) container `id`, mode 0400; nothing for a type without any.
pub(crate) async fn copy_in(
    docker: &Docker,
    project: &str,
    s: &Subject<'_>,
    id: &str,
) -> Result<()> {
    let names: Vec<&String> = s
        .kind
        .file_env
        .iter()
        .chain(&s.kind.shell_file_env)
        .collect();
    if names.is_empty() {
        return Ok(());
    }
    let creds = s.vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let vars = crate::engine::generate::template_vars(project, s.addon, &creds);
    let mut files = Vec::new();
    for name in names {
        let tpl = &s.kind.container_env[name];
        let value = crate::template::render(tpl, &vars).map_err(|m| {
            UserError::new(format!(
                "addon type {}: {name} uses unknown variable {{{m}}}",
                s.kind.name
            ))
        })?;
        files.push((format!("run/secrets/{name}"), value.into_bytes()));
    }
    docker
        .upload_to_container(
            id,
            Some(UploadToContainerOptionsBuilder::default().path("/").build()),
            bollard::body_full(tar(&files).into()),
        )
        .await
        .map_err(|e| {
            UserError::new(format!(
                "cannot put the secret files in the drill container: {e}"
            ))
        })
}

/// A ustar archive of `run/secrets/` and the files in it (root's, 0400).
fn tar(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    header(&mut out, "run/secrets/", 0, 0o755, b'5');
    for (path, content) in files {
        header(&mut out, path, content.len(), 0o400, b'0');
        out.extend_from_slice(content);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

fn header(out: &mut Vec<u8>, path: &str, size: usize, mode: u32, kind: u8) {
    let mut h = [0u8; 512];
    let field = |h: &mut [u8; 512], at: usize, value: &[u8]| {
        h[at..at + value.len()].copy_from_slice(value);
    };
    field(&mut h, 0, path.as_bytes());
    field(&mut h, 100, format!("{mode:07o}\0").as_bytes());
    field(&mut h, 108, b"0000000\0");
    field(&mut h, 116, b"0000000\0");
    field(&mut h, 124, format!("{size:011o}\0").as_bytes());
    field(&mut h, 136, b"00000000000\0");
    h[156] = kind;
    field(&mut h, 257, b"ustar\x0000");
    // The checksum counts its own field as spaces.
    field(&mut h, 148, b"        ");
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    field(&mut h, 148, format!("{sum:06o}\0 ").as_bytes());
    out.extend_from_slice(&h);
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_archive_is_whole_blocks_with_valid_checksums() {
        let t = super::tar(&[("run/secrets/A".into(), b"secret".to_vec())]);
        assert_eq!(t.len() % 512, 0);
        assert_eq!(t.len(), 512 * 3 + 1024);
        let h = &t[512..1024];
        assert_eq!(&h[0..13], b"run/secrets/A");
        assert_eq!(&h[124..135], b"00000000006");
        let stored = u32::from_str_radix(std::str::from_utf8(&h[148..154]).unwrap(), 8).unwrap();
        let sum: u32 = h
            .iter()
            .enumerate()
            .map(|(i, b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u32::from(*b)
                }
            })
            .sum();
        assert_eq!(stored, sum);
        assert_eq!(&t[1024..1030], b"secret");
    }
}
