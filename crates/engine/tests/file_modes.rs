//! The data dir's files are the person's alone whatever the umask: checked while the database
//! is open, when its `-wal` and `-shm` files exist (SQLite removes them on a clean close). One
//! test in its own binary, since the umask is the whole process's.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use patchbay_engine::store::Store;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn the_database_and_its_companions_are_private_under_a_loose_umask() {
    // SAFETY: umask(2) only changes this process's file creation mask; this binary holds one test.
    unsafe { libc::umask(0o022) };
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let db = dir.join("patchbay.db");
    let store = Store::open(&db).unwrap();
    // A write, so the write-ahead log and its index exist.
    store
        .put_registered_client("https://as.example", "client", None)
        .await
        .unwrap();
    assert_eq!(mode(&dir), 0o700, "data dir");
    for file in ["patchbay.db", "patchbay.db-wal", "patchbay.db-shm"] {
        let path = dir.join(file);
        assert!(
            path.exists(),
            "{file} should exist while the database is open"
        );
        assert_eq!(mode(&path), 0o600, "{file}");
    }
    drop(store);
}
