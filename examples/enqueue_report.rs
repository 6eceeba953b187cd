//! Ask a running quire server for a report and wait until it is built.
//!
//! ```sh
//! quire keys create --tenant acme          # prints an API key
//! QUIRE_API_KEY=... cargo run --example enqueue_report -- acme invoices xlsx
//! ```

use std::time::Duration;

use quire::{Client, ReportOrder};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let tenant = args.next().unwrap_or_else(|| "acme".into());
    let report = args.next().unwrap_or_else(|| "invoices".into());
    let format = args.next().unwrap_or_else(|| "csv".into());
    let base_url = std::env::var("QUIRE_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let api_key = std::env::var("QUIRE_API_KEY").map_err(|_| "set QUIRE_API_KEY to an API key")?;

    let client = Client::new(&base_url, &api_key);
    let mut params = serde_json::Map::new();
    params.insert("period".into(), "last_year".into());
    let run = client
        .enqueue(&ReportOrder {
            tenant,
            report,
            format,
            params,
            idempotency_key: Some(format!("example-{}", std::process::id())),
        })
        .await?;
    println!("run {} is {}", run.id, run.status);
    let finished = client.wait(&run.id, Duration::from_millis(200)).await?;
    println!("run {} ended {}", finished.id, finished.status);
    if let Some(url) = run.download_url {
        println!("download it with: cargo run --example download_report -- {url}");
    }
    Ok(())
}
