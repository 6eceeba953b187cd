//! Ask a running quire server for a report, wait until the run has ended, and print a
//! download URL when it completed; a run that failed, was discarded or cancelled has no
//! file, so then it says why and exits 1.
//!
//! ```sh
//! quire keys create --tenant acme          # prints an API key
//! QUIRE_API_KEY=... cargo run -p quire-client --example enqueue_report -- acme invoices xlsx period=last_year
//! ```

use std::process::ExitCode;
use std::time::Duration;

use quire_client::{Client, ReportOrder, RunStatus};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("enqueue_report: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let tenant = args.next().unwrap_or_else(|| "acme".into());
    let report = args.next().unwrap_or_else(|| "invoices".into());
    let format = args.next().unwrap_or_else(|| "csv".into());
    let base_url = std::env::var("QUIRE_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let api_key = std::env::var("QUIRE_API_KEY").map_err(|_| "set QUIRE_API_KEY to an API key")?;

    let client = Client::new(&base_url, &api_key);
    let mut order = ReportOrder::new(&tenant, &report, &format);
    for param in args {
        let (name, value) = param
            .split_once('=')
            .ok_or_else(|| format!("a parameter is NAME=VALUE, not {param:?}"))?;
        order.params.insert(name.into(), value.into());
    }
    order.idempotency_key = Some(format!("example-{}", std::process::id()));
    let mut run = client.enqueue(&order).await?;
    println!("run {} is {}", run.id, run.status);
    while !run.is_finished() {
        tokio::time::sleep(Duration::from_millis(200)).await;
        run = client.run(&run.id).await?;
    }
    if run.status != RunStatus::Completed {
        // No file: a download URL would only answer 410.
        let why = run
            .error
            .map(|error| format!(": {}: {}", error.code, error.message))
            .unwrap_or_default();
        return Err(format!("run {} ended {}{why}", run.id, run.status).into());
    }
    let rows = run.file.map(|file| file.rows).unwrap_or_default();
    println!("run {} completed with {rows} rows", run.id);
    let link = client.link(&run.id).await?;
    println!(
        "download it with: cargo run -p quire-client --example download_report -- {}",
        link.download_url
    );
    Ok(())
}
