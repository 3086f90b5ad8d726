//! The release folders: the generated files staged as `current`, the one
//! before kept as `previous` (the rollback target), and the digest that
//! tells a no-change `up`.

use super::*;

/// Where a VM's deployed files live: `current` is what runs, `previous` what
/// ran before it (the rollback target).
pub(super) fn release_dir(project: &Project, vm: &str) -> PathBuf {
    project.state_dir().join("deploy").join(vm)
}

pub(super) fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(|e| io_error(to, "create", e))?;
    for e in std::fs::read_dir(from)
        .map_err(|e| io_error(from, "read", e))?
        .flatten()
    {
        let target = to.join(e.file_name());
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            copy_tree(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), &target).map_err(|err| io_error(&target, "copy", err))?;
        }
    }
    Ok(())
}

/// Stages the generated files as the new `current`, keeping the old one as
/// `previous`. Returns whether a previous release exists.
pub(super) fn stage(project: &Project, vm: &str, generated: &Path) -> Result<bool> {
    let base = release_dir(project, vm);
    let next = base.join("next");
    let current = base.join("current");
    let previous = base.join("previous");
    let _ = std::fs::remove_dir_all(&next);
    copy_tree(generated, &next)?;
    let had_current = current.exists();
    if had_current {
        let _ = std::fs::remove_dir_all(&previous);
        std::fs::rename(&current, &previous).map_err(|e| io_error(&current, "move", e))?;
    }
    std::fs::rename(&next, &current).map_err(|e| io_error(&next, "move", e))?;
    Ok(had_current || previous.exists())
}

pub(super) fn unstage(project: &Project, vm: &str) -> Result<()> {
    let base = release_dir(project, vm);
    let failed = base.join("failed");
    let _ = std::fs::remove_dir_all(&failed);
    std::fs::rename(base.join("current"), &failed).map_err(|e| io_error(&failed, "move", e))?;
    std::fs::rename(base.join("previous"), base.join("current"))
        .map_err(|e| io_error(&base, "move", e))
}

/// Where the digest of the last release that came up healthy is kept.
pub(crate) fn deployed_marker(project: &Project, vm: &str) -> PathBuf {
    project
        .state_dir()
        .join("deploy")
        .join(format!("{vm}.deployed"))
}

/// A digest of every generated file for a VM (paths and bytes), to tell a
/// no-change `up` without asking compose.
pub(crate) fn release_digest(project: &Project, vm: &str) -> Result<String> {
    // Callers that also stage resolve the generation once and digest it
    // with `tree_digest`, so both see the same files.
    tree_digest(&crate::engine::apply::generated_vm_dir(&project.dir, vm)?)
}

/// SHA-256 over every file under `dir`: its relative path and bytes.
pub(super) fn tree_digest(dir: &Path) -> Result<String> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)
            .map_err(|e| io_error(&d, "read", e))?
            .flatten()
        {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(e.path());
            } else {
                files.push(e.path());
            }
        }
    }
    files.sort();
    // SHA-256, not DefaultHasher: its algorithm may change between Rust
    // releases, and a new sdtui build must still see an unchanged release.
    // Each path and content is length-prefixed so no two trees collide by
    // moving bytes between a name and a body.
    let mut h = ring::digest::Context::new(&ring::digest::SHA256);
    for f in files {
        let rel = f
            .strip_prefix(dir)
            .unwrap_or(&f)
            .to_string_lossy()
            .into_owned();
        let bytes = std::fs::read(&f).map_err(|e| io_error(&f, "read", e))?;
        for part in [rel.as_bytes(), bytes.as_slice()] {
            h.update(&(part.len() as u64).to_le_bytes());
            h.update(part);
        }
    }
    Ok(data_encoding::HEXLOWER.encode(h.finish().as_ref()))
}
