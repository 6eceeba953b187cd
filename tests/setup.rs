//! Processes that start together on a fresh embedded database, as a deployment starts
//! its API and workers: each one opens and migrates the same new SQLite file.

use std::process::{Command, Stdio};

#[test]
fn processes_starting_together_on_a_fresh_sqlite_file_all_come_up() {
    // Before the setup lock, about one start in three hundred failed with "database is
    // locked": two first connections switching the new file to WAL at once.
    for _ in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let starts: Vec<_> = (0..6)
            .map(|_| {
                Command::new(env!("CARGO_BIN_EXE_quire"))
                    .arg("migrate")
                    .current_dir(dir.path())
                    .env_clear()
                    .env("QUIRE_LOG", "warn")
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("start quire migrate")
            })
            .collect();
        for start in starts {
            let output = start.wait_with_output().unwrap();
            assert!(
                output.status.success(),
                "a start failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let journal = std::fs::read(dir.path().join("quire-data/quire.db")).unwrap();
        // Bytes 18 and 19 of the header are the write and read format: 2 means WAL.
        assert_eq!(journal[18..20], [2, 2], "the file is in WAL mode");
    }
}
