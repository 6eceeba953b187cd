//! [`Client`]: one method per call of the API, each answer read into the crate's own
//! types and each refusal into [`ClientError`].

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use reqwest::header::CONTENT_DISPOSITION;
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::catalog::ReportType;
use crate::error::{ClientError, FilenameError};
use crate::run::{Link, Progress, Run, RunPage, RunStatus};

/// What to build: the body of `POST /v1/reports`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportOrder {
    /// The tenant's slug.
    pub tenant: String,
    /// The report's name in the catalog.
    pub report: String,
    /// `csv` or `xlsx`.
    pub format: String,
    /// The report's parameters, by name; those left out take their defaults.
    pub params: Map<String, Value>,
    /// Sent as the `Idempotency-Key` header: replaying it returns the same run.
    pub idempotency_key: Option<String>,
}

impl ReportOrder {
    /// `report` of `tenant` as `format`, with default parameters and no
    /// idempotency key.
    pub fn new(tenant: &str, report: &str, format: &str) -> ReportOrder {
        ReportOrder {
            tenant: tenant.to_owned(),
            report: report.to_owned(),
            format: format.to_owned(),
            params: Map::new(),
            idempotency_key: None,
        }
    }
}

/// Which runs [`Client::list`] asks for; `Default` is the newest 50 of every kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFilter {
    /// Only runs in this state.
    pub status: Option<RunStatus>,
    /// Only runs of this report.
    pub report: Option<String>,
    /// Only runs of this tenant (admin keys; a tenant key sees its own runs only).
    pub tenant: Option<String>,
    /// Runs per page (the server keeps it within 1 to 200; 50 when `None`).
    pub limit: Option<u32>,
    /// Where to go on: the [`RunPage::next_cursor`] of the page before.
    pub cursor: Option<String>,
}

/// What a download URL gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Download {
    /// The run completed: its file.
    File(Vec<u8>),
    /// The run is still queued or running.
    Pending {
        /// `queued` or `running`.
        status: RunStatus,
        /// Rows written so far.
        progress: Progress,
    },
}

/// The 202 body of a download URL whose run has no file yet.
#[derive(Deserialize)]
struct Pending {
    status: RunStatus,
    progress: Progress,
}

/// The answer of `GET /v1/report-types`.
#[derive(Deserialize)]
struct ReportTypes {
    report_types: Vec<ReportType>,
}

/// The body of every error answer of the API.
#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
    #[serde(default)]
    details: Value,
}

/// A client bound to one quire server and API key. Cloning is cheap: clones share
/// their connections.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base_url: String,
    api_key: String,
}

impl Client {
    /// A client of the server at `base_url` (such as `http://127.0.0.1:8080`, or a
    /// URL with a path when a proxy serves quire under one) using `api_key`.
    ///
    /// HTTPS is verified with rustls against the Mozilla roots built into the crate, as
    /// quire itself does, so what a process trusts is the same on every host.
    pub fn new(base_url: &str, api_key: &str) -> Client {
        Client {
            http: default_http(),
            base_url: base_url.to_owned(),
            api_key: api_key.to_owned(),
        }
    }

    /// A client for download URLs only: they carry their own capability, so it needs
    /// neither a server nor an API key.
    pub fn for_downloads() -> Client {
        Client::new("", "")
    }

    /// Asks for a report run: 202 for a new run, 200 with an identical queued or
    /// running run (`deduplicated`) or the run of a replayed idempotency key. Either
    /// answer carries a fresh [`Run::download_url`].
    ///
    /// # Errors
    /// The server unreachable, or the order refused: `unknown_report` (404),
    /// `invalid_params` and the like (422, with `details.fields`), a quota (429).
    pub async fn enqueue(&self, order: &ReportOrder) -> Result<Run, ClientError> {
        let mut request = self.call(Method::POST, &["v1", "reports"])?.json(&json!({
            "tenant": order.tenant,
            "report": order.report,
            "format": order.format,
            "params": order.params,
        }));
        if let Some(key) = &order.idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        read(request.send().await?).await
    }

    /// The run `id` as it is now.
    ///
    /// # Errors
    /// The server unreachable, or no such run for this key (404 `run_not_found`).
    pub async fn run(&self, id: &str) -> Result<Run, ClientError> {
        let request = self.call(Method::GET, &["v1", "reports", id])?;
        read(request.send().await?).await
    }

    /// One page of this key's runs, newest first; follow [`RunPage::next_cursor`] for
    /// the next.
    ///
    /// # Errors
    /// The server unreachable, an unknown status, or a tenant outside the key's scope
    /// (403).
    pub async fn list(&self, filter: &RunFilter) -> Result<RunPage, ClientError> {
        let mut url = self.url(&["v1", "reports"])?;
        {
            let mut query = url.query_pairs_mut();
            if let Some(status) = filter.status {
                query.append_pair("status", status.as_str());
            }
            if let Some(report) = &filter.report {
                query.append_pair("report", report);
            }
            if let Some(tenant) = &filter.tenant {
                query.append_pair("tenant", tenant);
            }
            if let Some(limit) = filter.limit {
                query.append_pair("limit", &limit.to_string());
            }
            if let Some(cursor) = &filter.cursor {
                query.append_pair("cursor", cursor);
            }
        }
        let request = self.http.get(url).bearer_auth(&self.api_key);
        read(request.send().await?).await
    }

    /// Cancels a queued or running run (a running attempt is stopped); returns it
    /// cancelled.
    ///
    /// # Errors
    /// The server unreachable, no such run (404), or a run already finished (409
    /// `conflict`).
    pub async fn cancel(&self, id: &str) -> Result<Run, ClientError> {
        let request = self.call(Method::DELETE, &["v1", "reports", id])?;
        read(request.send().await?).await
    }

    /// Queues a failed run again under the same id, its attempts reset; retrying a run
    /// that is queued again already returns it unchanged.
    ///
    /// # Errors
    /// The server unreachable, no such run (404), or a run that has not failed (409).
    pub async fn retry(&self, id: &str) -> Result<Run, ClientError> {
        let request = self.call(Method::POST, &["v1", "reports", id, "retry"])?;
        read(request.send().await?).await
    }

    /// A fresh download URL for the run (the server keeps tokens hashed, so an old URL
    /// cannot be shown again).
    ///
    /// # Errors
    /// The server unreachable, or no such run (404).
    pub async fn link(&self, id: &str) -> Result<Link, ClientError> {
        let request = self.call(Method::POST, &["v1", "reports", id, "links"])?;
        read(request.send().await?).await
    }

    /// The catalog: every report that can be asked for, with its parameters and
    /// columns.
    ///
    /// # Errors
    /// The server unreachable, or the key refused (401).
    pub async fn report_types(&self) -> Result<Vec<ReportType>, ClientError> {
        let request = self.call(Method::GET, &["v1", "report-types"])?;
        let types: ReportTypes = read(request.send().await?).await?;
        Ok(types.report_types)
    }

    /// Asks a download URL for its file once (no API key: the token is the
    /// capability): the file when the run completed, its status while it is queued or
    /// running.
    ///
    /// # Errors
    /// The server unreachable, or the download refused: an unknown token (404), an
    /// expired one, or a run that failed, was discarded or cancelled (410).
    pub async fn fetch(&self, download_url: &str) -> Result<Download, ClientError> {
        match self.ask_download(download_url).await? {
            Ok(response) => Ok(Download::File(response.bytes().await?.to_vec())),
            Err(Pending { status, progress }) => Ok(Download::Pending { status, progress }),
        }
    }

    /// Downloads the file behind a download URL into `path`, replacing any file there;
    /// returns its size. The bytes go to a temporary file beside it that is renamed
    /// once complete, so `path` never holds part of a file.
    ///
    /// # Errors
    /// The refusals of [`Client::fetch`], a run not completed yet
    /// ([`ClientError::NotReady`]), or the file not writable.
    pub async fn download(&self, download_url: &str, path: &Path) -> Result<u64, ClientError> {
        let response = self.file(download_url).await?;
        save(response, path).await
    }

    /// Downloads the file behind a download URL into the folder `dir` under the name
    /// the server gives it (`Content-Disposition`, its UTF-8 `filename*` preferred),
    /// replacing any file of that name; returns its path.
    ///
    /// # Errors
    /// Those of [`Client::download`], or a name that is missing or not a plain file
    /// name ([`ClientError::Filename`]): a name with a path separator or `..` is never
    /// written.
    pub async fn download_to(
        &self,
        download_url: &str,
        dir: &Path,
    ) -> Result<PathBuf, ClientError> {
        let response = self.file(download_url).await?;
        let disposition = response
            .headers()
            .get(CONTENT_DISPOSITION)
            .ok_or(FilenameError::Missing)?;
        // The header is bytes; `filename*` keeps non-ASCII percent-encoded, so a
        // well-formed one is ASCII.
        let disposition = disposition.to_str().map_err(|_| {
            FilenameError::Undecodable("Content-Disposition is not ASCII".to_owned())
        })?;
        let path = dir.join(crate::filename::from_disposition(disposition)?);
        save(response, &path).await?;
        Ok(path)
    }

    /// The answer of a download URL whose run completed, or what a pending one said.
    async fn ask_download(
        &self,
        download_url: &str,
    ) -> Result<Result<Response, Pending>, ClientError> {
        let url = Url::parse(download_url).map_err(|error| ClientError::Url {
            url: download_url.to_owned(),
            reason: error.to_string(),
        })?;
        let response = self.http.get(url).send().await?;
        match response.status() {
            StatusCode::OK => Ok(Ok(response)),
            StatusCode::ACCEPTED => Ok(Err(read(response).await?)),
            _ => Err(refusal(response).await),
        }
    }

    /// The answer of a download URL whose run completed; a pending one is an error.
    async fn file(&self, download_url: &str) -> Result<Response, ClientError> {
        self.ask_download(download_url)
            .await?
            .map_err(|pending| ClientError::NotReady {
                status: pending.status,
            })
    }

    /// A request with the API key to the API path made of `segments`.
    fn call(&self, method: Method, segments: &[&str]) -> Result<RequestBuilder, ClientError> {
        let url = self.url(segments)?;
        Ok(self.http.request(method, url).bearer_auth(&self.api_key))
    }

    /// The base URL with `segments` appended, each percent-encoded as one segment, so
    /// a run id can never reach another path.
    fn url(&self, segments: &[&str]) -> Result<Url, ClientError> {
        let unusable = |reason: String| ClientError::Url {
            url: self.base_url.clone(),
            reason,
        };
        let mut url = Url::parse(&self.base_url).map_err(|e| unusable(e.to_string()))?;
        url.path_segments_mut()
            .map_err(|()| unusable("it cannot have a path".to_owned()))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }
}

/// A reqwest client over rustls with the ring provider and the Mozilla roots: no
/// system trust store is read, as in quire itself.
fn default_http() -> reqwest::Client {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("the ring provider supports the default TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .build()
        .expect("a client with default options builds")
}

/// A successful answer's JSON as `T`; an error answer as [`ClientError`].
async fn read<T: DeserializeOwned>(response: Response) -> Result<T, ClientError> {
    let status = response.status();
    if !status.is_success() {
        return Err(refusal(response).await);
    }
    let body = response.bytes().await?;
    serde_json::from_slice(&body).map_err(|error| ClientError::Unexpected {
        status: status.as_u16(),
        reason: error.to_string(),
    })
}

/// An error answer as [`ClientError::Api`] when it is the API's error JSON.
async fn refusal(response: Response) -> ClientError {
    let status = response.status().as_u16();
    let body = match response.bytes().await {
        Ok(body) => body,
        Err(error) => return ClientError::Http(error),
    };
    match serde_json::from_slice::<ErrorBody>(&body) {
        Ok(ErrorBody { error }) => ClientError::Api {
            status,
            code: error.code,
            message: error.message,
            details: error.details,
        },
        Err(_) => ClientError::Unexpected {
            status,
            reason: format!(
                "not the API's error JSON: {:?}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            ),
        },
    }
}

/// Streams `response`'s body into a temporary file beside `path`, then renames it to
/// `path`; returns the bytes written. The temporary file is removed on failure.
async fn save(mut response: Response, path: &Path) -> Result<u64, ClientError> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let partial = path.with_file_name(format!(".{name}.part"));
    let io_error = |path: &Path| {
        let path = path.to_owned();
        move |source| ClientError::Io { path, source }
    };
    let mut file = std::fs::File::create(&partial).map_err(io_error(&partial))?;
    let mut written = 0;
    let copied: Result<(), ClientError> = async {
        // Chunk by chunk, so a large report never sits in memory whole.
        while let Some(chunk) = response.chunk().await? {
            file.write_all(&chunk).map_err(io_error(&partial))?;
            written += chunk.len() as u64;
        }
        file.sync_all().map_err(io_error(&partial))?;
        std::fs::rename(&partial, path).map_err(io_error(path))
    }
    .await;
    if copied.is_err() {
        // Best effort: the error that matters is the one returned.
        let _ = std::fs::remove_file(&partial);
    }
    copied.map(|()| written)
}
