//! Fetch a finished report through its download URL (no API key: the token is the
//! capability).
//!
//! ```sh
//! cargo run --example download_report -- http://127.0.0.1:8080/v1/downloads/<token> out.xlsx
//! ```

use std::path::PathBuf;

use quire::Client;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or("usage: download_report URL [OUT]")?;
    let out = PathBuf::from(args.next().unwrap_or_else(|| "report.download".into()));
    let bytes = Client::new("", "").download(&url, &out).await?;
    println!("wrote {} ({bytes} bytes)", out.display());
    Ok(())
}
