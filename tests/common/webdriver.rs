//! Headless Chromium driven over WebDriver: a chromedriver child on a free port and
//! one session in it, with downloads landing in a folder of its own. Both end when the
//! [`Browser`] is dropped, so a failing test leaves no browser behind.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

use crate::common::{eventually, free_port};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long a test waits for what it expects: chromedriver ready, an element on the
/// page, a download, a run finished.
pub(crate) const WAIT_LIMIT: Duration = Duration::from_secs(30);

/// A headless Chromium session.
pub(crate) struct Browser {
    pub client: Client,
    /// Where the browser saves downloads.
    downloads: PathBuf,
    /// Holds the downloads and chromedriver's log.
    _scratch: tempfile::TempDir,
    driver: Child,
    driver_port: u16,
    session: String,
}

impl Browser {
    /// Starts chromedriver, waits until it is ready, and opens a headless session.
    pub(crate) async fn start() -> Browser {
        let scratch = tempfile::tempdir().unwrap();
        let downloads = scratch.path().join("downloads");
        std::fs::create_dir(&downloads).unwrap();
        let port = free_port();
        let log = scratch.path().join("chromedriver.log");
        let mut driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let status = format!("http://127.0.0.1:{port}/status");
        let http = quire::tls::default_client();
        eventually(WAIT_LIMIT, "chromedriver is ready", || {
            if let Ok(Some(exit)) = driver.try_wait() {
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                panic!("chromedriver exited with {exit}:\n{log}");
            }
            let request = http.get(&status).send();
            async move {
                let answer: Value = request.await.ok()?.json().await.ok()?;
                (answer["value"]["ready"] == true).then_some(())
            }
        })
        .await;
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-background-networking",
                    "--window-size=1280,800",
                ],
                "prefs": {
                    "download.default_directory": downloads,
                    "download.prompt_for_download": false,
                },
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object")
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a headless Chromium session");
        let session = client.session_id().await.unwrap().expect("a session id");
        Browser {
            client,
            downloads,
            _scratch: scratch,
            driver,
            driver_port: port,
            session,
        }
    }

    /// Opens `url` and waits until its page has loaded.
    pub(crate) async fn open(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// The path of the page shown.
    pub(crate) async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_owned()
    }

    /// The HTTP status the page shown was served with.
    pub(crate) async fn status(&self) -> u16 {
        let status = self
            .script(
                "return performance.getEntriesByType('navigation')[0].responseStatus",
                Vec::new(),
            )
            .await;
        status.as_u64().expect("a status") as u16
    }

    /// Runs `script` (a function body) with `arguments` in the page; its return value.
    pub(crate) async fn script(&self, script: &str, arguments: Vec<Value>) -> Value {
        self.client.execute(script, arguments).await.unwrap()
    }

    /// Waits until the page has an element at `xpath` and returns it.
    pub(crate) async fn wait_for(&self, xpath: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(WAIT_LIMIT)
            .every(Duration::from_millis(50))
            .for_element(Locator::XPath(xpath))
            .await
            .unwrap_or_else(|error| panic!("no element {xpath} on the page: {error}"))
    }

    /// Whether the page has an element at `xpath` now.
    pub(crate) async fn has(&self, xpath: &str) -> bool {
        !self
            .client
            .find_all(Locator::XPath(xpath))
            .await
            .unwrap()
            .is_empty()
    }

    /// Saves what the window shows as a PNG at `path`.
    pub(crate) async fn screenshot(&self, path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, self.client.screenshot().await.unwrap()).unwrap();
    }

    /// The file `name` once the browser has finished downloading it (Chromium writes to
    /// a `.crdownload` file and renames it when done).
    pub(crate) async fn downloaded(&self, name: &str) -> PathBuf {
        let path = self.downloads.join(name);
        eventually(WAIT_LIMIT, &format!("{name} is downloaded"), || {
            let done = path.exists().then(|| path.clone());
            async move { done }
        })
        .await
    }
}

impl Drop for Browser {
    /// Ends the session, which quits Chromium, before stopping chromedriver: killed
    /// alone, chromedriver would leave the browser running. Plain blocking HTTP, as a
    /// `Drop` cannot await and a failed test's runtime may be gone.
    fn drop(&mut self) {
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.driver_port)) {
            let _ = stream.set_read_timeout(Some(WAIT_LIMIT));
            let request = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
                self.session, self.driver_port
            );
            // The answer comes once the browser has quit; chromedriver keeps the
            // connection open after it, so its first bytes are all there is to wait for.
            if stream.write_all(request.as_bytes()).is_ok() {
                let _ = stream.read(&mut [0; 512]);
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
