//! A Rust client of quire's HTTP API, for invoicing apps written in Rust: ask for a
//! report run, follow it, and download its file under the name the server gives it.
//!
//! Map of the crate:
//! - [`Client`]: one method per call of the API (`/v1/reports`, `/v1/report-types`,
//!   download URLs).
//! - [`Run`] and the types beside it: what the API answers, read into the client's own
//!   types so that this crate needs nothing of the server's.
//! - [`ReportType`]: an entry of the catalog.
//! - [`ClientError`]: what went wrong, in terms a caller can act on; the API's
//!   `{"error":{"code","message","details"}}` answers arrive as [`ClientError::Api`].
//! - [`FilenameError`]: why a download's `Content-Disposition` gave no safe file name.
//!
//! ```no_run
//! # async fn example() -> Result<(), quire_client::ClientError> {
//! use quire_client::{Client, ReportOrder};
//!
//! let client = Client::new("http://127.0.0.1:8080", "the API key");
//! let run = client
//!     .enqueue(&ReportOrder::new("acme", "invoices", "xlsx"))
//!     .await?;
//! println!("run {} is {}", run.id, run.status);
//! # Ok(())
//! # }
//! ```

mod catalog;
mod client;
mod error;
mod filename;
mod run;

pub use catalog::{Column, Parameter, ReportType};
pub use client::{Client, Download, ReportOrder, RunFilter};
pub use error::{ClientError, FilenameError};
pub use run::{Link, Progress, Run, RunError, RunFile, RunPage, RunStatus};
