//! Files in a folder: every file is written under a temporary name in its final folder,
//! fsynced, then renamed into place, so a partial file is never visible under its real
//! name. A sweep removes the files no run owns.

use std::collections::HashSet;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use tempfile::NamedTempFile;

use super::{Location, StoredFile};

/// Temporary files start with this prefix, so a sweep can recognise orphans.
pub const TEMP_PREFIX: &str = ".quire-tmp-";

/// A file being written; dropped without [`PendingFile::publish`], it disappears.
pub struct PendingFile {
    temp: NamedTempFile,
    target: PathBuf,
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

    /// The temporary file's own path, for copying it elsewhere.
    pub fn path(&self) -> &Path {
        self.temp.path()
    }

    /// Syncs the data, hashes it, renames it to its target and syncs the folder.
    /// Blocking: call it off the async runtime.
    ///
    /// # Errors
    /// On any I/O error; the temporary file is then removed.
    pub fn publish(self) -> std::io::Result<StoredFile> {
        let file = self.temp.as_file();
        file.sync_all()?;
        let (bytes, sha256) = self.digest()?;
        let dir = self.dir().to_owned();
        self.temp
            .persist(&self.target)
            .map_err(|error| error.error)?;
        File::open(&dir)?.sync_all()?;
        Ok(StoredFile {
            location: Location::File(self.target),
            bytes,
            sha256,
        })
    }

    /// The file's size and SHA-256 as written so far. Blocking: call it off the async
    /// runtime.
    ///
    /// # Errors
    /// When the file cannot be read.
    fn digest(&self) -> std::io::Result<(u64, String)> {
        let mut file = File::open(self.temp.path())?;
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
}

/// Removes the files in `root`'s run folders that are not `owned` (losing attempts,
/// orphaned temporaries) once they are older than `grace`, and the emptied folders.
/// Blocking: call it off the async runtime. Returns how many files it removed.
pub(super) fn remove_unowned(root: &Path, owned: &HashSet<String>, grace: Duration) -> usize {
    let Ok(folders) = std::fs::read_dir(root) else {
        return 0;
    };
    let old_enough = |path: &Path| {
        std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| SystemTime::now().duration_since(modified).ok())
            .is_some_and(|age| age >= grace)
    };
    let mut removed = 0;
    for folder in folders
        .flatten()
        .map(|entry| entry.path())
        .filter(|p| p.is_dir())
    {
        for file in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            let path = file.path();
            let is_owned = path.to_str().is_some_and(|path| owned.contains(path));
            if !is_owned && old_enough(&path) && std::fs::remove_file(&path).is_ok() {
                removed += 1;
            }
        }
        // Fails, harmlessly, while the folder still holds a file.
        let _ = std::fs::remove_dir(&folder);
    }
    removed
}
