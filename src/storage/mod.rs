//! Where report files live: a folder (`file://`, the default) or an S3 bucket
//! (`s3://`). Each attempt writes its own file under a name of its own, never visible
//! under its real name until complete (renamed into place, or a multipart upload
//! completed); the fenced database update decides which attempt's file is the run's,
//! and the sweep removes the others, expired files and orphans. A writer writes into an
//! [`Output`]: a local file, or an upload fed as it writes.

mod local;
mod object;

use std::collections::HashSet;
use std::fmt;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use local::{PendingFile, TEMP_PREFIX};
use object::PendingUpload;
pub use object::{ObjectBody, ObjectStorage, S3Config, UploadStream};

/// A published file: where it is, its size and its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    /// Where it is.
    pub location: Location,
    /// Its size in bytes.
    pub bytes: u64,
    /// The SHA-256 of its contents, in lowercase hex.
    pub sha256: String,
}

/// Where a published file is, as a run's row records it: a path, or `s3://bucket/key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A file on the local file system.
    File(PathBuf),
    /// An object in a bucket.
    Object {
        /// The bucket.
        bucket: String,
        /// The object's key.
        key: String,
    },
}

impl Location {
    /// Reads a location as [`Location`]'s `Display` writes it.
    pub fn parse(text: &str) -> Location {
        match text
            .strip_prefix("s3://")
            .and_then(|rest| rest.split_once('/'))
        {
            Some((bucket, key)) => Location::Object {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
            },
            None => Location::File(PathBuf::from(text)),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File(path) => write!(f, "{}", path.display()),
            Location::Object { bucket, key } => write!(f, "s3://{bucket}/{key}"),
        }
    }
}

/// Why storing, reading or removing a file failed. [`StorageError::is_transient`]
/// tells whether trying again can help.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A local file could not be written or read.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The object store could not be reached, or failed while answering.
    #[error("the object store is unreachable")]
    Unreachable(#[source] Box<object_store::Error>),
    /// The object store refused: a missing bucket or credentials it rejects. Names the
    /// setting to correct.
    #[error("{setting} is invalid: {message}")]
    Refused {
        /// The setting to correct, by its environment variable name.
        setting: &'static str,
        /// What the store refused.
        message: String,
        /// The store's answer.
        #[source]
        source: Box<object_store::Error>,
    },
    /// The object does not exist (any more).
    #[error("the object {0} does not exist")]
    NotFound(String),
}

impl StorageError {
    /// Whether a later attempt could succeed: a refusal needs its setting corrected.
    pub fn is_transient(&self) -> bool {
        !matches!(
            self,
            StorageError::Refused { .. } | StorageError::NotFound(_)
        )
    }
}

/// The storage of a deployment's report files.
#[derive(Debug, Clone)]
pub enum Storage {
    /// A folder, holding one subfolder per run.
    Folder(PathBuf),
    /// A bucket (with files built in a local scratch folder first).
    Bucket(ObjectStorage),
}

/// Where one attempt writes its file.
#[derive(Debug, Clone)]
pub enum Destination {
    /// A path of the local file system.
    File(PathBuf),
    /// An object, built at `scratch` first.
    Object {
        /// The bucket it goes to.
        storage: ObjectStorage,
        /// Its key.
        key: String,
        /// Where the file is built before the upload.
        scratch: PathBuf,
        /// Its `Content-Type`.
        content_type: &'static str,
    },
}

impl Destination {
    /// Opens what the writer fills: a temporary file, or, for an object of a file
    /// written `front_to_back`, an upload fed while it is written. Must be called within
    /// the Tokio runtime.
    ///
    /// # Errors
    /// When the folder cannot be created or written.
    pub fn create(&self, front_to_back: bool) -> std::io::Result<Pending> {
        Ok(match self {
            Destination::File(path) => Pending::File(PendingFile::create(path)?),
            Destination::Object {
                storage,
                key,
                content_type,
                ..
            } if front_to_back => Pending::Upload(storage.upload_while_written(key, content_type)),
            Destination::Object { scratch, .. } => Pending::File(PendingFile::create(scratch)?),
        })
    }

    /// Publishes the complete file `pending`: renamed into place, uploaded (a
    /// multipart upload in bounded parts, aborted on any error) and then removed, or
    /// its streamed upload completed.
    ///
    /// # Errors
    /// When syncing, hashing or uploading fails; nothing is then visible.
    pub async fn publish(&self, pending: Pending) -> Result<StoredFile, StorageError> {
        let pending = match pending {
            Pending::Upload(upload) => return upload.complete().await,
            Pending::File(pending) => pending,
        };
        match self {
            Destination::File(_) => Ok(tokio::task::spawn_blocking(move || pending.publish())
                .await
                .map_err(|error| std::io::Error::other(error.to_string()))??),
            Destination::Object {
                storage,
                key,
                content_type,
                ..
            } => {
                // `pending` keeps the local file until the upload is done; it is removed
                // when `pending` goes out of scope.
                storage
                    .upload(key, pending.path().to_owned(), content_type)
                    .await
            }
        }
    }
}

/// A file or object being written, published by [`Destination::publish`]; dropped
/// unpublished, it disappears (its file removed, its upload aborted).
pub enum Pending {
    /// A temporary local file.
    File(PendingFile),
    /// An object uploaded while it is written.
    Upload(PendingUpload),
}

impl Pending {
    /// What the writer writes into.
    ///
    /// # Errors
    /// When the file's handle cannot be duplicated.
    pub fn output(&self) -> std::io::Result<Output> {
        Ok(match self {
            Pending::File(pending) => Output::File(pending.handle()?),
            Pending::Upload(upload) => Output::Upload(upload.stream()),
        })
    }

    /// A local folder for the writer's own scratch files.
    pub fn dir(&self) -> &Path {
        match self {
            Pending::File(pending) => pending.dir(),
            Pending::Upload(upload) => upload.scratch(),
        }
    }

    /// Gives the file up after its writer failed, and returns the upload's own failure
    /// if that is what stopped the writer.
    pub async fn abandon(self) -> Option<StorageError> {
        match self {
            Pending::File(_) => None,
            Pending::Upload(upload) => upload.abandon().await,
        }
    }
}

/// Where a writer's bytes go: a local file, or a streamed upload.
pub enum Output {
    /// A local file.
    File(File),
    /// An object's upload, fed as the file is written.
    Upload(UploadStream),
}

impl Output {
    /// Ends the writing: a file is left to its publication, an upload is told the
    /// file's size and digest.
    ///
    /// # Errors
    /// When the upload has already failed.
    pub fn finish(self) -> std::io::Result<()> {
        match self {
            Output::File(_) => Ok(()),
            Output::Upload(stream) => stream.finish(),
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Output::File(file) => file.write(buf),
            Output::Upload(stream) => stream.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Output::File(file) => file.flush(),
            Output::Upload(stream) => stream.flush(),
        }
    }
}

impl Storage {
    /// Where attempt `token` of run `run_id` writes its file with `extension`: a name
    /// of its own, so that attempts never overwrite each other.
    pub fn destination(
        &self,
        run_id: &str,
        token: &str,
        extension: &str,
        content_type: &'static str,
    ) -> Destination {
        let name = format!("{token}.{extension}");
        match self {
            Storage::Folder(root) => Destination::File(root.join(run_id).join(name)),
            Storage::Bucket(storage) => Destination::Object {
                storage: storage.clone(),
                key: storage.key(&format!("{run_id}/{name}")),
                scratch: storage.scratch().join(run_id).join(name),
                content_type,
            },
        }
    }

    /// Checks that the storage can be used: the bucket exists and takes the
    /// credentials. A folder is created on first use.
    ///
    /// # Errors
    /// When the bucket is missing, refuses the credentials or cannot be reached.
    pub async fn check(&self) -> Result<(), StorageError> {
        match self {
            Storage::Folder(_) => Ok(()),
            Storage::Bucket(storage) => storage.check().await,
        }
    }

    /// Removes the file at `location` (as a run's row records it); whether it was there.
    ///
    /// # Errors
    /// When the object store fails; a file already gone is not an error.
    pub async fn remove(&self, location: &str) -> Result<bool, StorageError> {
        match (self, Location::parse(location)) {
            (Storage::Bucket(storage), Location::Object { bucket, key })
                if storage.holds(&bucket) =>
            {
                storage.delete(&key).await
            }
            (_, Location::File(path)) => Ok(tokio::fs::remove_file(&path).await.is_ok()),
            // Another bucket's object: not this deployment's to remove.
            (_, Location::Object { .. }) => Ok(false),
        }
    }

    /// Whether the file at `location` is still there.
    ///
    /// # Errors
    /// When the object store fails.
    pub async fn exists(&self, location: &str) -> Result<bool, StorageError> {
        match (self, Location::parse(location)) {
            (Storage::Bucket(storage), Location::Object { bucket, key })
                if storage.holds(&bucket) =>
            {
                storage.exists(&key).await
            }
            (_, Location::File(path)) => Ok(tokio::fs::try_exists(&path).await.unwrap_or(false)),
            (_, Location::Object { .. }) => Ok(false),
        }
    }

    /// Removes the files and objects no run `owned` (losing attempts, orphaned
    /// temporaries, uploads whose attempt died before recording them) once they are
    /// older than `grace`; returns how many.
    ///
    /// # Errors
    /// When the bucket cannot be listed.
    pub async fn remove_unowned(
        &self,
        owned: HashSet<String>,
        grace: Duration,
    ) -> Result<usize, StorageError> {
        let (folder, objects) = match self {
            Storage::Folder(root) => (root.clone(), None),
            Storage::Bucket(storage) => (storage.scratch().to_owned(), Some(storage)),
        };
        let objects_removed = match objects {
            Some(storage) => storage.remove_unowned(&owned, grace).await?,
            None => 0,
        };
        let files_removed =
            tokio::task::spawn_blocking(move || local::remove_unowned(&folder, &owned, grace))
                .await
                .unwrap_or(0);
        Ok(objects_removed + files_removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_location_reads_back_as_it_was_written() {
        for location in [
            Location::File(PathBuf::from("/srv/quire/files/run/7.csv")),
            Location::File(PathBuf::from("quire-data/files/run/7.csv")),
            Location::Object {
                bucket: "reports".into(),
                key: "quire/run/7.xlsx".into(),
            },
        ] {
            assert_eq!(Location::parse(&location.to_string()), location);
        }
    }
}
