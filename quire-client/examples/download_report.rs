//! Fetch a finished report through its download URL (no API key: the token is the
//! capability) and save it in a folder under the name the server gives it.
//!
//! ```sh
//! cargo run -p quire-client --example download_report -- http://127.0.0.1:8080/v1/downloads/<token> [DIR]
//! ```

use std::path::PathBuf;

use quire_client::Client;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or("usage: download_report URL [DIR]")?;
    let dir = PathBuf::from(args.next().unwrap_or_else(|| ".".into()));
    let path = Client::for_downloads().download_to(&url, &dir).await?;
    println!("wrote {}", path.display());
    Ok(())
}
