//! Fetch a finished report through its download URL (no API key: the token is the
//! capability) and save it in a folder under the name the server gives it.
//!
//! ```sh
//! cargo run -p quire-client --example download_report -- http://127.0.0.1:8080/v1/downloads/<token> [DIR]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use quire_client::Client;

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(url) = args.next() else {
        eprintln!("usage: download_report URL [DIR]");
        return ExitCode::from(2);
    };
    let dir = PathBuf::from(args.next().unwrap_or_else(|| ".".into()));
    match Client::for_downloads().download_to(&url, &dir).await {
        Ok(path) => {
            println!("wrote {}", path.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("download_report: {error}");
            ExitCode::FAILURE
        }
    }
}
