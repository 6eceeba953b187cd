//! What can go wrong in a call, one variant per thing the caller can do about it.

use std::path::PathBuf;

use serde_json::Value;

use crate::run::RunStatus;

/// A failed call.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server could not be reached, or its answer could not be read: try again
    /// later.
    #[error("the request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The API refused the call with its `{"error":{"code","message","details"}}`
    /// answer; `code` says why.
    #[error("the API answered {status}: {code}: {message}{}", fields(details))]
    Api {
        /// The HTTP status code.
        status: u16,
        /// The stable snake_case reason, such as `unknown_report` or `conflict`.
        code: String,
        /// A sentence for people.
        message: String,
        /// More about it: `fields` of a 422, a run's `status` and `error` of a 410.
        details: Value,
    },
    /// The answer is not what the API sends: another service answered (a proxy's
    /// error page, say), or the server speaks another version of the API.
    #[error("the server's answer ({status}) is not the API's: {reason}")]
    Unexpected {
        /// The HTTP status code.
        status: u16,
        /// What could not be read.
        reason: String,
    },
    /// The client's base URL cannot carry API paths, or a download URL is no URL.
    #[error("{url:?} is not a usable URL: {reason}")]
    Url {
        /// The base URL the client was made with, or the download URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The run has no file yet: download again once it has completed.
    #[error("the run is {status}; its file is not ready yet")]
    NotReady {
        /// `queued` or `running`.
        status: RunStatus,
    },
    /// The download named no file name that is safe to write.
    #[error(transparent)]
    Filename(#[from] FilenameError),
    /// The file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The file being written.
        path: PathBuf,
        /// Why writing failed.
        source: std::io::Error,
    },
}

/// The invalid fields a 422 lists in `details.fields`, each as `; field message`
/// (the API phrases a message to follow its field's name).
fn fields(details: &Value) -> String {
    let Some(fields) = details["fields"].as_array() else {
        return String::new();
    };
    fields
        .iter()
        .map(|field| {
            let text = |key: &str| field[key].as_str().unwrap_or_default().to_owned();
            format!("; {} {}", text("field"), text("message"))
        })
        .collect()
}

/// Why a download's `Content-Disposition` gave no file name to save it under.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilenameError {
    /// The answer has no `Content-Disposition` with a `filename` or `filename*`.
    #[error("the download names no file")]
    Missing,
    /// The `filename*` is not UTF-8, or its percent-encoding is broken.
    #[error("the download's file name cannot be decoded: {0}")]
    Undecodable(String),
    /// The name would reach outside the folder, or hide in it: a path separator, `..`,
    /// a control character, or nothing at all.
    #[error("the download's file name {0:?} is not a plain file name")]
    Unsafe(String),
}
