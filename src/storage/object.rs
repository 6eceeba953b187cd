//! Objects in an S3 bucket, through the `object_store` crate, always written with a
//! multipart upload in parts of [`PART_SIZE`] that is aborted on any error: an object
//! is visible only once complete. A file written front to back (CSV) is uploaded while
//! it is written ([`UploadStream`]); an XLSX workbook needs a seekable file, so it is
//! built in a local scratch folder first and then read into the same kind of upload.
//! Either way an upload holds a few parts in memory, whatever the file's size.

use std::collections::HashSet;
use std::fmt;
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::{BoxStream, StreamExt as _, TryStreamExt as _};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::signer::{Method, SignedUrlOptions, Signer as _};
use object_store::{
    Attribute, Attributes, ClientOptions, GetOptions, GetRange, MultipartUpload, ObjectStore,
    ObjectStoreExt as _, PutMultipartOptions, RetryConfig, WriteMultipart,
};
use sha2::{Digest as _, Sha256};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{Location, StorageError, StoredFile};

/// The size of each uploaded part but the last: above S3's 5 MiB minimum, and what one
/// upload holds in memory.
const PART_SIZE: u64 = 8 * 1024 * 1024;

/// How many parts of an upload fed by a writer may be in flight while the next fills:
/// the upload keeps pace with the writer, holding a few parts in memory. A file read from
/// disk comes faster than any upload, so its parts go one at a time.
const PARTS_IN_FLIGHT_WHILE_WRITTEN: usize = 2;

/// How many chunks may wait for the uploader before the writer blocks.
const CHUNKS_QUEUED: usize = 32;

/// The chunks a file built before its upload is read in: the size of the CSV writer's
/// buffer, whose writes are the chunks of a file being written, so that the queue holds
/// at most 2 MiB either way.
const READ_CHUNK: usize = 64 * 1024;

/// How long a presigned download URL is valid: the client follows the redirect at once.
const PRESIGNED_FOR: Duration = Duration::from_secs(5 * 60);

/// What `QUIRE_STORAGE_URL=s3://bucket/prefix` and the S3 settings name. Its `Debug`
/// hides the secret key.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Config {
    /// The bucket.
    pub bucket: String,
    /// The key prefix under which quire keeps its objects, without slashes at its
    /// ends; empty for the whole bucket.
    pub prefix: String,
    /// The endpoint of an S3-compatible server (`QUIRE_S3_ENDPOINT`); AWS's when unset.
    pub endpoint: Option<String>,
    /// The region (`QUIRE_S3_REGION`).
    pub region: String,
    /// `AWS_ACCESS_KEY_ID`; unset, the instance's credentials are used.
    pub access_key_id: Option<String>,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: Option<String>,
    /// Downloads answer 302 to a presigned URL instead of streaming through quire.
    pub presigned_downloads: bool,
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "***"),
            )
            .field("presigned_downloads", &self.presigned_downloads)
            .finish()
    }
}

/// A bucket of report files, and the local folder files are built in.
#[derive(Debug, Clone)]
pub struct ObjectStorage {
    store: Arc<AmazonS3>,
    bucket: String,
    prefix: String,
    /// The endpoint, for messages.
    endpoint: String,
    scratch: PathBuf,
    presigned_downloads: bool,
}

/// Part of an object being downloaded.
pub struct ObjectBody {
    /// The bytes of the object that `stream` yields.
    pub range: Range<u64>,
    /// When the object was written.
    pub last_modified: DateTime<Utc>,
    /// The bytes, as they arrive.
    pub stream: BoxStream<'static, Result<Bytes, StorageError>>,
}

impl ObjectStorage {
    /// The bucket `config` names, with files built in `scratch` before their upload.
    ///
    /// # Errors
    /// When the configuration cannot make a client (an endpoint that is no URL).
    pub fn new(config: &S3Config, scratch: PathBuf) -> Result<ObjectStorage, object_store::Error> {
        // reqwest's rustls comes without a crypto provider; quire's is ring. Already
        // installed is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        // An unreachable store fails the attempt within seconds, and the job's own
        // retries take over: object_store's default is to retry for three minutes.
        let retry = RetryConfig {
            max_retries: 3,
            retry_timeout: Duration::from_secs(15),
            ..RetryConfig::default()
        };
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_retry(retry)
            .with_client_options(ClientOptions::new().with_connect_timeout(Duration::from_secs(5)));
        if let Some(endpoint) = &config.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        if let Some(id) = &config.access_key_id {
            builder = builder.with_access_key_id(id);
        }
        if let Some(secret) = &config.secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        Ok(ObjectStorage {
            store: Arc::new(builder.build()?),
            bucket: config.bucket.clone(),
            prefix: config.prefix.clone(),
            endpoint: config
                .endpoint
                .clone()
                .unwrap_or_else(|| format!("AWS S3 in {}", config.region)),
            scratch,
            presigned_downloads: config.presigned_downloads,
        })
    }

    /// The local folder files are built in before their upload.
    pub fn scratch(&self) -> &Path {
        &self.scratch
    }

    /// Whether downloads redirect to presigned URLs.
    pub fn presigned_downloads(&self) -> bool {
        self.presigned_downloads
    }

    /// Whether `bucket` is this storage's bucket.
    pub fn holds(&self, bucket: &str) -> bool {
        self.bucket == bucket
    }

    /// The key of `name` under the prefix.
    pub(super) fn key(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}/{name}", self.prefix)
        }
    }

    /// Where the object `key` is, as a run's row records it.
    pub(super) fn location(&self, key: &str) -> Location {
        Location::Object {
            bucket: self.bucket.clone(),
            key: key.to_owned(),
        }
    }

    /// An error of the store about the object `key`: a refusal names the setting to
    /// correct, a missing object is [`StorageError::NotFound`], anything else
    /// (connections, server errors) may pass.
    fn error(&self, error: object_store::Error, key: &str) -> StorageError {
        // Some requests' failures (a listing's) reach us as text only: S3's error code
        // in the answer tells a refusal.
        let text = error.to_string();
        let says = |code: &str| text.contains(&format!("<Code>{code}</Code>"));
        let credentials_refused = matches!(
            error,
            object_store::Error::PermissionDenied { .. }
                | object_store::Error::Unauthenticated { .. }
        ) || [
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "AccessDenied",
        ]
        .into_iter()
        .any(says);
        if says("NoSuchBucket") {
            self.no_bucket(error)
        } else if credentials_refused {
            StorageError::Refused {
                setting: "AWS_ACCESS_KEY_ID",
                message: format!(
                    "the object store at {} refuses the credentials of AWS_ACCESS_KEY_ID and \
                     AWS_SECRET_ACCESS_KEY for the bucket {}",
                    self.endpoint, self.bucket
                ),
                source: Box::new(error),
            }
        } else if let object_store::Error::NotFound { .. } = error {
            StorageError::NotFound(key.to_owned())
        } else {
            StorageError::Unreachable(Box::new(error))
        }
    }

    fn no_bucket(&self, error: object_store::Error) -> StorageError {
        StorageError::Refused {
            setting: "QUIRE_STORAGE_URL",
            message: format!(
                "the bucket {} does not exist at {}",
                self.bucket, self.endpoint
            ),
            source: Box::new(error),
        }
    }

    /// [`ObjectStorage::error`] of a request about the bucket itself (a listing, a new
    /// upload), where "not found" means the bucket is missing.
    fn bucket_error(&self, error: object_store::Error) -> StorageError {
        match error {
            object_store::Error::NotFound { .. } => self.no_bucket(error),
            other => self.error(other, ""),
        }
    }

    /// Lists the prefix once: the bucket exists and takes the credentials.
    pub(super) async fn check(&self) -> Result<(), StorageError> {
        let prefix = (!self.prefix.is_empty()).then(|| ObjectPath::from(self.prefix.as_str()));
        self.store
            .list_with_delimiter(prefix.as_ref())
            .await
            .map(drop)
            .map_err(|error| self.bucket_error(error))
    }

    /// Starts the multipart upload of `key`.
    async fn start(
        &self,
        key: &str,
        content_type: &str,
    ) -> Result<Box<dyn MultipartUpload>, StorageError> {
        let attributes = Attributes::from_iter([(Attribute::ContentType, content_type.to_owned())]);
        let options = PutMultipartOptions {
            attributes,
            ..PutMultipartOptions::default()
        };
        self.store
            .put_multipart_opts(&ObjectPath::from(key), options)
            .await
            .map_err(|error| self.bucket_error(error))
    }

    /// Uploads the local file `file` as `key`, read on a blocking thread into the same
    /// kind of upload as a file being written, and hashed on the way.
    pub(super) async fn upload(
        &self,
        key: &str,
        file: PathBuf,
        content_type: &str,
    ) -> Result<StoredFile, StorageError> {
        let upload = self.start_upload(key, content_type, 1);
        let stream = upload.stream();
        let sent = tokio::task::spawn_blocking(move || {
            let mut source = std::fs::File::open(&file)?;
            let mut sink = std::io::BufWriter::with_capacity(READ_CHUNK, stream);
            std::io::copy(&mut source, &mut sink)?;
            sink.into_inner()
                .map_err(|error| error.into_error())?
                .finish()
        })
        .await
        .map_err(upload_panicked)?;
        match sent {
            Ok(()) => upload.complete().await,
            Err(error) => Err(upload.abandon().await.unwrap_or(StorageError::Io(error))),
        }
    }

    /// Starts uploading `key` while it is written: the writer writes into
    /// [`PendingUpload::stream`], and [`PendingUpload::complete`] makes the object
    /// visible. Must be called within the Tokio runtime, which runs the upload.
    pub(super) fn upload_while_written(&self, key: &str, content_type: &str) -> PendingUpload {
        self.start_upload(key, content_type, PARTS_IN_FLIGHT_WHILE_WRITTEN)
    }

    /// An upload of `key` fed through [`PendingUpload`], with at most `parts_in_flight`
    /// parts sent at once.
    fn start_upload(&self, key: &str, content_type: &str, parts_in_flight: usize) -> PendingUpload {
        let (chunks, received) = mpsc::channel(CHUNKS_QUEUED);
        let uploader = tokio::spawn(self.clone().upload_chunks(
            key.to_owned(),
            content_type.to_owned(),
            parts_in_flight,
            received,
        ));
        PendingUpload {
            chunks,
            uploader,
            location: self.location(key),
            scratch: self.scratch.clone(),
        }
    }

    /// Sends the chunks that arrive as parts until told to complete the upload, which
    /// is then aborted if anything fails or the chunks stop without that word. Returns
    /// the written file's size and SHA-256, or `None` when abandoned.
    async fn upload_chunks(
        self,
        key: String,
        content_type: String,
        parts_in_flight: usize,
        mut chunks: mpsc::Receiver<Chunk>,
    ) -> Result<Option<(u64, String)>, StorageError> {
        let mut parts = WriteMultipart::new_with_chunk_size(
            self.start(&key, &content_type).await?,
            PART_SIZE as usize,
        );
        let mut written = None;
        let ended = loop {
            match chunks.recv().await {
                Some(Chunk::Bytes(bytes)) => {
                    if let Err(error) = parts.wait_for_capacity(parts_in_flight).await {
                        break Err(Some(error));
                    }
                    parts.put(bytes);
                }
                Some(Chunk::Written { bytes, sha256 }) => written = Some((bytes, sha256)),
                Some(Chunk::Complete) if written.is_some() => break Ok(()),
                Some(Chunk::Complete) | None => break Err(None),
            }
        };
        // The writer, if still writing, learns at its next chunk that the upload ended.
        drop(chunks);
        match ended {
            Ok(()) => {
                // `finish` aborts the upload itself when it fails.
                parts
                    .finish()
                    .await
                    .map_err(|error| self.bucket_error(error))?;
                Ok(written)
            }
            Err(failure) => {
                // Without the abort, the parts would stay stored (and billed) until the
                // bucket's lifecycle rule for incomplete uploads removes them.
                if let Err(error) = parts.abort().await {
                    tracing::warn!(%error, key, "could not abort a failed multipart upload");
                }
                failure.map_or(Ok(None), |error| Err(self.bucket_error(error)))
            }
        }
    }

    /// Deletes the object `key`; whether it was there is not known to S3, so `true`.
    pub(super) async fn delete(&self, key: &str) -> Result<bool, StorageError> {
        match self.store.delete(&ObjectPath::from(key)).await {
            Ok(()) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(error) => Err(self.error(error, key)),
        }
    }

    /// Whether the object `key` exists.
    pub(super) async fn exists(&self, key: &str) -> Result<bool, StorageError> {
        match self.store.head(&ObjectPath::from(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(error) => Err(self.error(error, key)),
        }
    }

    /// Deletes the objects of run folders under the prefix that are not `owned` and
    /// older than `grace`.
    pub(super) async fn remove_unowned(
        &self,
        owned: &HashSet<String>,
        grace: Duration,
    ) -> Result<usize, StorageError> {
        let prefix = (!self.prefix.is_empty()).then(|| ObjectPath::from(self.prefix.as_str()));
        // Only `<prefix>/<run>/<file>`: anything else under the prefix is not quire's.
        let depth = prefix.as_ref().map_or(0, ObjectPath::parts_count) + 2;
        let now = Utc::now();
        let mut listing = self.store.list(prefix.as_ref());
        let mut removed = 0;
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(|error| self.bucket_error(error))?;
            let key = meta.location.as_ref();
            let old_enough = (now - meta.last_modified)
                .to_std()
                .is_ok_and(|age| age >= grace);
            let owned = owned.contains(&self.location(key).to_string());
            if meta.location.parts_count() == depth && old_enough && !owned {
                self.delete(key).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// The bytes `range` of the object `key` (all of it when `None`).
    ///
    /// # Errors
    /// [`StorageError::NotFound`] when the object is gone; others when the store fails.
    pub async fn get(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<ObjectBody, StorageError> {
        let options = GetOptions::default().with_range(range.map(GetRange::Bounded));
        let result = self
            .store
            .get_opts(&ObjectPath::from(key), options)
            .await
            .map_err(|error| self.error(error, key))?;
        let this = self.clone();
        let owned_key = key.to_owned();
        Ok(ObjectBody {
            range: result.range.clone(),
            last_modified: result.meta.last_modified,
            stream: result
                .into_stream()
                .map_err(move |error| this.error(error, &owned_key))
                .boxed(),
        })
    }

    /// A URL that downloads the object `key` without credentials for a few minutes,
    /// answered with `content_disposition`.
    ///
    /// # Errors
    /// When the URL cannot be signed (no credentials).
    pub async fn presigned_url(
        &self,
        key: &str,
        content_disposition: &str,
    ) -> Result<String, StorageError> {
        let options = SignedUrlOptions::default()
            .with_query([("response-content-disposition", content_disposition)]);
        let url = self
            .store
            .signed_url_opts(Method::GET, &ObjectPath::from(key), PRESIGNED_FOR, &options)
            .await
            .map_err(|error| self.error(error, key))?;
        Ok(url.to_string())
    }
}

/// What the writer tells the uploader of a streamed upload.
enum Chunk {
    /// The next bytes of the file.
    Bytes(Bytes),
    /// The file is written: its size and SHA-256.
    Written { bytes: u64, sha256: String },
    /// Every row arrived: the object may be made visible.
    Complete,
}

/// An object being uploaded while it is written; dropped before
/// [`PendingUpload::complete`], its upload is aborted and nothing becomes visible.
pub struct PendingUpload {
    chunks: mpsc::Sender<Chunk>,
    uploader: JoinHandle<Result<Option<(u64, String)>, StorageError>>,
    location: Location,
    scratch: PathBuf,
}

impl PendingUpload {
    /// What the writer writes into, from a blocking thread.
    pub(super) fn stream(&self) -> UploadStream {
        UploadStream {
            chunks: self.chunks.clone(),
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// The storage's local scratch folder.
    pub(super) fn scratch(&self) -> &Path {
        &self.scratch
    }

    /// Completes the upload once the writer has finished its [`UploadStream`].
    pub(super) async fn complete(self) -> Result<StoredFile, StorageError> {
        // Fails only when the uploader has already ended, with its reason.
        let _ = self.chunks.send(Chunk::Complete).await;
        drop(self.chunks);
        match self.uploader.await.map_err(upload_panicked)?? {
            Some((bytes, sha256)) => Ok(StoredFile {
                location: self.location,
                bytes,
                sha256,
            }),
            None => Err(StorageError::Io(std::io::Error::other(
                "the upload was completed before its file was written",
            ))),
        }
    }

    /// Gives the upload up (it is aborted) and returns why it failed, if it failed on
    /// its own: a writer that stopped because the upload did reports this instead.
    pub(super) async fn abandon(self) -> Option<StorageError> {
        drop(self.chunks);
        match self.uploader.await {
            Ok(result) => result.err(),
            Err(error) => Some(upload_panicked(error)),
        }
    }
}

fn upload_panicked(error: tokio::task::JoinError) -> StorageError {
    StorageError::Io(std::io::Error::other(format!(
        "the upload task failed: {error}"
    )))
}

/// The writing end of a streamed upload, for a blocking thread: each write is queued
/// for the uploader (waiting while [`CHUNKS_QUEUED`] chunks are), and hashed on the way.
pub struct UploadStream {
    chunks: mpsc::Sender<Chunk>,
    hasher: Sha256,
    bytes: u64,
}

impl UploadStream {
    /// Tells the uploader that the file is complete, with its size and SHA-256.
    ///
    /// # Errors
    /// When the upload has already failed.
    pub fn finish(self) -> std::io::Result<()> {
        let written = Chunk::Written {
            bytes: self.bytes,
            sha256: hex::encode(self.hasher.finalize()),
        };
        self.chunks
            .blocking_send(written)
            .map_err(|_| upload_stopped())
    }
}

impl Write for UploadStream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.chunks
            .blocking_send(Chunk::Bytes(Bytes::copy_from_slice(buf)))
            .map_err(|_| upload_stopped())?;
        self.hasher.update(buf);
        self.bytes += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn upload_stopped() -> std::io::Error {
    std::io::Error::other("the upload to the object store stopped")
}
