//! File storage: every file is written under a temporary name in its final folder,
//! fsynced, then renamed into place, so a partial file is never visible under its real
//! name.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tempfile::NamedTempFile;

/// Temporary files start with this prefix, so a sweep can recognise orphans.
pub const TEMP_PREFIX: &str = ".quire-tmp-";

/// A file being written; dropped without [`PendingFile::publish`], it disappears.
pub struct PendingFile {
    temp: NamedTempFile,
    target: PathBuf,
}

/// A published file: where it is, its size and its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    /// Its final path.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// The SHA-256 of its contents, in lowercase hex.
    pub sha256: String,
}

impl PendingFile {
    /// Opens a temporary file beside `target`, creating the folder if needed.
    ///
    /// # Errors
    /// When the folder cannot be created or written.
    pub fn create(target: &Path) -> std::io::Result<PendingFile> {
        let dir = target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let temp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(dir)?;
        Ok(PendingFile {
            temp,
            target: target.to_owned(),
        })
    }

    /// A second handle on the temporary file, for the writer.
    ///
    /// # Errors
    /// When the handle cannot be duplicated.
    pub fn handle(&self) -> std::io::Result<File> {
        self.temp.as_file().try_clone()
    }

    /// The folder the file will land in (also used for writers' scratch files).
    pub fn dir(&self) -> &Path {
        self.temp.path().parent().unwrap_or(Path::new("."))
    }

    /// Syncs the data, hashes it, renames it to its target and syncs the folder.
    /// Blocking: call it off the async runtime.
    ///
    /// # Errors
    /// On any I/O error; the temporary file is then removed.
    pub fn publish(self) -> std::io::Result<StoredFile> {
        let file = self.temp.as_file();
        file.sync_all()?;
        let (bytes, sha256) = hash(self.temp.path())?;
        let dir = self.dir().to_owned();
        self.temp
            .persist(&self.target)
            .map_err(|error| error.error)?;
        File::open(&dir)?.sync_all()?;
        Ok(StoredFile {
            path: self.target,
            bytes,
            sha256,
        })
    }
}

fn hash(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 256 * 1024];
    let mut bytes = 0u64;
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        bytes += read as u64;
    }
    Ok((bytes, hex::encode(hasher.finalize())))
}
