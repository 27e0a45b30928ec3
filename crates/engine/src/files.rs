//! Files the engine writes. The data dir's are the person's alone: the folder 0700, the
//! database and its companions 0600, whatever the umask, and tightened when found looser.
//! Locks that make one step at a time across processes (opening the database, making the
//! vault key). And saving a file whole or not at all.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// `path` with `suffix` appended to its file name (`patchbay.db` → `patchbay.db-wal`).
pub(crate) fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// Makes `dir` (and its parents) if missing; the folder itself ends up owner-only.
pub(crate) fn private_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        tighten(dir, 0o700)?;
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)?;
    Ok(())
}

/// Creates the database file owner-only if it is missing (SQLite gives `-wal` and `-shm` the
/// database's mode), and tightens it and its companions if they are looser.
pub(crate) fn private_files(db: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(db)
        {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        for file in [
            db.to_path_buf(),
            sibling(db, "-wal"),
            sibling(db, "-shm"),
            sibling(db, "-journal"),
        ] {
            match tighten(&file, 0o600) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                other => other?,
            }
        }
    }
    Ok(())
}

/// Takes away every permission beyond `mode` (never adds any).
#[cfg(unix)]
fn tighten(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let current = std::fs::metadata(path)?.permissions().mode() & 0o777;
    if current & !mode != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(current & mode))?;
    }
    Ok(())
}

/// An exclusive lock on `path` (created owner-only), waited for up to `wait`; released when the
/// returned file is dropped. `busy` says what the other process is probably doing, for the
/// error after `wait`. Blocking.
pub(crate) fn lock(path: &Path, wait: Duration, busy: &str) -> Result<File, String> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options
        .open(path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let started = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < wait => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(format!(
                    "another Patchbay process has been {busy} for {}s; try again once it is done",
                    wait.as_secs()
                ));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(format!("cannot lock {}: {e}", path.display()));
            }
        }
    }
}

/// Writes a file whole or not at all: into a temporary file beside it, synced, then renamed
/// over it, so a crash or a full disk never leaves half a file under the chosen name. The
/// file is readable only by its owner (0600 on Unix, as the temporary file is made), whatever
/// the umask or the mode of a file it replaces. Blocking.
pub(crate) fn write_whole(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut file = tempfile::NamedTempFile::new_in(&dir)?;
    io::Write::write_all(&mut file, bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[cfg(unix)]
    #[test]
    fn loose_files_are_tightened_and_nothing_is_loosened() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let db = dir.join("patchbay.db");
        std::fs::write(&db, b"").unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::write(sibling(&db, "-wal"), b"").unwrap();
        std::fs::set_permissions(sibling(&db, "-wal"), std::fs::Permissions::from_mode(0o666))
            .unwrap();
        private_dir(&dir).unwrap();
        private_files(&db).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&db), 0o600);
        assert_eq!(mode(&sibling(&db, "-wal")), 0o600);
        // A stricter mode stays as it is.
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o400)).unwrap();
        private_files(&db).unwrap();
        assert_eq!(mode(&db), 0o400);
    }

    #[test]
    fn a_lock_is_one_holder_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let held = lock(&path, Duration::from_secs(1), "testing").unwrap();
        let err = lock(&path, Duration::from_millis(100), "testing").unwrap_err();
        assert!(err.contains("has been testing"), "{err}");
        drop(held);
        assert!(lock(&path, Duration::from_millis(100), "testing").is_ok());
    }
}
