//! A Rust client of the HTTP API, for invoicing apps written in Rust and for the
//! examples.

use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value, json};

pub(crate) use crate::wire::RunView;

/// A failed API call.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server could not be reached, or its answer could not be read.
    #[error("the request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The server answered with an error, or with a body the client does not understand.
    #[error("the API answered {status}: {code}: {message}")]
    Api {
        /// The HTTP status code.
        status: u16,
        /// The machine-readable error code, such as `unknown_report`.
        code: String,
        /// The human-readable explanation.
        message: String,
    },
    /// The downloaded file could not be written to disk.
    #[error("writing the download failed: {0}")]
    Io(#[from] std::io::Error),
}

/// What a download URL gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Download {
    /// The run completed: its file.
    File(Vec<u8>),
    /// The run is still queued or running.
    Pending {
        /// `queued` or `running`.
        status: String,
    },
}

/// What to build.
#[derive(Debug, Clone)]
pub struct ReportOrder {
    /// The tenant's slug.
    pub tenant: String,
    /// The report's name in the catalog.
    pub report: String,
    /// `csv` or `xlsx`.
    pub format: String,
    /// The report's parameters, by name.
    pub params: Map<String, Value>,
    /// Sent as the `Idempotency-Key` header; replaying it returns the same run.
    pub idempotency_key: Option<String>,
}

/// A client bound to one quire server and API key.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base_url: String,
    api_key: String,
}

impl Client {
    /// A client of the server at `base_url` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base_url: &str, api_key: &str) -> Client {
        Client {
            http: crate::tls::default_client(),
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key: api_key.to_owned(),
        }
    }

    /// The API's `{"error":{"code","message"}}` answer as a [`ClientError`].
    fn api_error(status: reqwest::StatusCode, body: &Value) -> ClientError {
        let error = &body["error"];
        ClientError::Api {
            status: status.as_u16(),
            code: error["code"].as_str().unwrap_or_default().to_owned(),
            message: error["message"].as_str().unwrap_or_default().to_owned(),
        }
    }

    async fn parse(response: reqwest::Response) -> Result<RunView, ClientError> {
        let status = response.status();
        let body: Value = response.json().await?;
        if !status.is_success() {
            return Err(Client::api_error(status, &body));
        }
        serde_json::from_value(body).map_err(|e| ClientError::Api {
            status: status.as_u16(),
            code: "unexpected_body".into(),
            message: e.to_string(),
        })
    }

    /// Asks for a report run.
    ///
    /// # Errors
    /// When the server is unreachable or refuses the request.
    pub async fn enqueue(&self, order: &ReportOrder) -> Result<RunView, ClientError> {
        let mut request = self
            .http
            .post(format!("{}/v1/reports", self.base_url))
            .bearer_auth(&self.api_key)
            .json(&json!({
                "tenant": order.tenant,
                "report": order.report,
                "format": order.format,
                "params": order.params,
            }));
        if let Some(key) = &order.idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        Client::parse(request.send().await?).await
    }

    /// The run `id`.
    ///
    /// # Errors
    /// When the server is unreachable or the run unknown.
    pub async fn run(&self, id: &str) -> Result<RunView, ClientError> {
        let response = self
            .http
            .get(format!("{}/v1/reports/{id}", self.base_url))
            .bearer_auth(&self.api_key)
            .send()
            .await?;
        Client::parse(response).await
    }

    /// Polls the run every `interval` until it ends.
    ///
    /// # Errors
    /// When the server is unreachable or the run unknown.
    pub async fn wait(&self, id: &str, interval: Duration) -> Result<RunView, ClientError> {
        loop {
            let run = self.run(id).await?;
            if run.is_finished() {
                return Ok(run);
            }
            tokio::time::sleep(interval).await;
        }
    }

    /// Asks a download URL for its file once (no API key needed: the token is the
    /// capability): the file when the run completed, its status while it is queued or
    /// running.
    ///
    /// # Errors
    /// When the server is unreachable, or refuses the download (unknown or expired
    /// token, a failed or cancelled run).
    pub async fn fetch(&self, download_url: &str) -> Result<Download, ClientError> {
        let response = self.http.get(download_url).send().await?;
        let status = response.status();
        if status == reqwest::StatusCode::OK {
            return Ok(Download::File(response.bytes().await?.to_vec()));
        }
        let body: Value = response.json().await.unwrap_or_default();
        if status == reqwest::StatusCode::ACCEPTED {
            return Ok(Download::Pending {
                status: body["status"].as_str().unwrap_or_default().to_owned(),
            });
        }
        Err(Client::api_error(status, &body))
    }

    /// Downloads the file behind a download URL into `path` (no API key needed: the
    /// token is the capability).
    ///
    /// # Errors
    /// When the download is refused (still running, expired) or the file cannot be
    /// written.
    pub async fn download(&self, download_url: &str, path: &Path) -> Result<u64, ClientError> {
        match self.fetch(download_url).await? {
            Download::File(bytes) => {
                tokio::fs::write(path, &bytes).await?;
                Ok(bytes.len() as u64)
            }
            Download::Pending { status } => Err(ClientError::Api {
                status: reqwest::StatusCode::ACCEPTED.as_u16(),
                code: "not_ready".to_owned(),
                message: status,
            }),
        }
    }
}
