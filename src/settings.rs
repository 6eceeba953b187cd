//! Typed settings, built once: flags, then environment, then the config file, then
//! defaults. Business code receives a [`Settings`] and never reads the environment.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use serde::Deserialize;

use crate::queue::{Backoff, RateLimit};
use crate::runs::{Scheduling, WebhookPolicy};
use crate::storage::{ObjectStorage, S3Config, Storage};
use crate::worker::WorkerOptions;

/// Errors in the configuration; the CLI maps every one of them to exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The config file cannot be read.
    #[error("cannot read the config file {path}: {source}")]
    Read {
        /// The config file.
        path: PathBuf,
        /// Why reading failed.
        source: std::io::Error,
    },
    /// The config file is not valid TOML, or has an unknown key or a mistyped value.
    #[error("the config file {path} is invalid: {message}")]
    Parse {
        /// The config file.
        path: PathBuf,
        /// What the TOML parser rejected.
        message: String,
    },
    /// A setting has a value quire cannot use.
    #[error("{name} is invalid: {message}")]
    Invalid {
        /// The setting, by its environment variable name.
        name: &'static str,
        /// Why the value is rejected.
        message: String,
    },
}

/// How logs are printed on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object a line.
    Json,
}

/// Global options shared by every subcommand; each has a flag and an environment variable.
/// Its `Debug` hides the passwords in URLs, and `--help` does not show the values of
/// the URL variables (they may hold passwords).
#[derive(Clone, Default, Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsArgs {
    /// Config file (default: ./quire.toml when present).
    #[arg(long, global = true, env = "QUIRE_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// quire's own database, and the report source unless REPORTS_DATABASE_URL is set.
    #[arg(long, global = true, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Database that report queries read from (e.g. a read replica of the invoicing app).
    #[arg(
        long,
        global = true,
        env = "REPORTS_DATABASE_URL",
        hide_env_values = true
    )]
    pub reports_database_url: Option<String>,
    /// Redis holding the queue: `redis://host:port`, or a cluster's seed nodes as
    /// `redis+cluster://host:port,host:port`; `rediss://` and `rediss+cluster://` for
    /// TLS (a private CA's certificate named by `SSL_CERT_FILE`).
    #[arg(long, global = true, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// Prefix of every Redis key.
    #[arg(long, global = true, env = "QUIRE_PREFIX")]
    pub prefix: Option<String>,
    /// Directory holding finished report files; with an `s3://` storage URL, where
    /// files are built before their upload.
    #[arg(long, global = true, env = "QUIRE_STORAGE_DIR")]
    pub storage_dir: Option<PathBuf>,
    /// Where finished report files are stored: `file:///path` (a directory, like
    /// QUIRE_STORAGE_DIR; the default) or `s3://bucket/prefix`.
    #[arg(long, global = true, env = "QUIRE_STORAGE_URL")]
    pub storage_url: Option<String>,
    /// Endpoint of an S3-compatible server, e.g. `http://127.0.0.1:9000` (AWS's when
    /// unset).
    #[arg(long, global = true, env = "QUIRE_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// Region of the bucket (default `us-east-1`).
    #[arg(long, global = true, env = "QUIRE_S3_REGION")]
    pub s3_region: Option<String>,
    /// Downloads answer 302 to a presigned URL of the bucket instead of streaming the
    /// file through quire (the default).
    #[arg(
        long,
        global = true,
        env = "QUIRE_S3_PRESIGNED_DOWNLOADS",
        value_parser = clap::builder::BoolishValueParser::new(),
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub s3_presigned_downloads: Option<bool>,
    /// Access key id for the bucket; unset, the instance's credentials are used.
    #[arg(long, global = true, env = "AWS_ACCESS_KEY_ID", hide_env_values = true)]
    pub aws_access_key_id: Option<String>,
    /// Secret access key for the bucket.
    #[arg(
        long,
        global = true,
        env = "AWS_SECRET_ACCESS_KEY",
        hide_env_values = true
    )]
    pub aws_secret_access_key: Option<String>,
    /// Directory of report definitions (`*.toml`), added to the built-in catalog (a
    /// definition of a built-in name replaces it); `./reports` when present.
    #[arg(long, global = true, env = "QUIRE_REPORTS_DIR")]
    pub reports_dir: Option<PathBuf>,
    /// The secret dashboard sessions are signed with; every API process behind one
    /// address needs the same (default: a random one per process).
    #[arg(
        long,
        global = true,
        env = "QUIRE_DASHBOARD_SECRET",
        hide_env_values = true
    )]
    pub dashboard_secret: Option<String>,
    /// The reports folder replaces the built-in catalog instead of adding to it.
    #[arg(
        long,
        global = true,
        env = "QUIRE_REPORTS_REPLACE_BUILTIN",
        value_parser = clap::builder::BoolishValueParser::new(),
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub reports_replace_builtin: Option<bool>,
    /// Address the HTTP API listens on.
    #[arg(long, global = true, env = "QUIRE_BIND")]
    pub bind: Option<SocketAddr>,
    /// Base of absolute URLs handed to clients.
    #[arg(long, global = true, env = "QUIRE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Log filter, e.g. `info,quire=debug`.
    #[arg(long, global = true, env = "QUIRE_LOG")]
    pub log: Option<String>,
    /// Log format on stderr.
    #[arg(long, global = true, env = "QUIRE_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// How long a database may stay unreachable while report jobs wait for it without
    /// spending attempts, e.g. `10m` (the default) or `30s`.
    #[arg(long, global = true, env = "QUIRE_DB_OUTAGE_LIMIT")]
    pub db_outage_limit: Option<String>,
    /// PEM file of a private CA that webhook endpoints' certificates may chain to,
    /// trusted beside the Mozilla roots.
    #[arg(long, global = true, env = "QUIRE_WEBHOOK_CA_FILE")]
    pub webhook_ca_file: Option<PathBuf>,
    /// Allow plain http:// webhooks to hosts that are not loopback.
    #[arg(
        long,
        global = true,
        env = "QUIRE_ALLOW_INSECURE_WEBHOOKS",
        value_parser = clap::builder::BoolishValueParser::new(),
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub allow_insecure_webhooks: Option<bool>,
    /// Allow webhooks to link-local and unique-local addresses (169.254.0.0/16,
    /// fe80::/10, fc00::/7), where cloud metadata services live.
    #[arg(
        long,
        global = true,
        env = "QUIRE_ALLOW_LINK_LOCAL_WEBHOOKS",
        value_parser = clap::builder::BoolishValueParser::new(),
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub allow_link_local_webhooks: Option<bool>,
    /// Enqueues each API key may make, e.g. `120/m` (bursts of 120, two a second);
    /// unlimited when unset.
    #[arg(long, global = true, env = "QUIRE_RATE_LIMIT")]
    pub rate_limit: Option<String>,
    /// The most runs one tenant may have queued (default 10000).
    #[arg(long, global = true, env = "QUIRE_MAX_QUEUED_PER_TENANT")]
    pub max_queued_per_tenant: Option<u64>,
    /// The longest an API request may take, e.g. `30s` (the default); a request body
    /// that stalls for half of it answers 408.
    #[arg(long, global = true, env = "QUIRE_REQUEST_TIMEOUT")]
    pub request_timeout: Option<String>,
    /// Tenants take turns for the workers (the default); `false` serves runs first in,
    /// first out across tenants.
    #[arg(
        long,
        global = true,
        env = "QUIRE_FAIR_SCHEDULING",
        value_parser = clap::builder::BoolishValueParser::new(),
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub fair_scheduling: Option<bool>,
    /// The most runs of one tenant that may build at once (unlimited when unset); a
    /// report definition may set a lower one.
    #[arg(long, global = true, env = "QUIRE_MAX_RUNNING_PER_TENANT")]
    pub max_running_per_tenant: Option<u32>,
    /// The worker's options from the config file's `[work]` table; its flags belong to
    /// `quire work` and `quire run`.
    #[arg(skip)]
    #[serde(default)]
    pub work: WorkArgs,
}

/// Options of `quire work` and `quire run`; each has a flag, an environment variable
/// and a key under `[work]` in the config file.
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkArgs {
    /// Jobs run at the same time (default 1).
    #[arg(long, env = "QUIRE_CONCURRENCY")]
    pub concurrency: Option<usize>,
    /// Queues served, highest priority first (default `reports,default`).
    #[arg(long, env = "QUIRE_QUEUES", value_delimiter = ',')]
    pub queues: Option<Vec<String>>,
    /// Lease of each reservation, renewed every third of it while the job runs
    /// (default 30s).
    #[arg(long, env = "QUIRE_LEASE")]
    pub lease: Option<String>,
    /// Caps every job's own timeout.
    #[arg(long, env = "QUIRE_TIMEOUT")]
    pub timeout: Option<String>,
    /// On SIGTERM, how long running jobs may take to finish before they are handed back
    /// (default 30s).
    #[arg(long, env = "QUIRE_GRACE")]
    pub grace: Option<String>,
    /// Exit after reserving this many jobs.
    #[arg(long, env = "QUIRE_MAX_JOBS")]
    pub max_jobs: Option<u64>,
    /// Stop reserving after this long; running jobs still finish.
    #[arg(long, env = "QUIRE_MAX_TIME")]
    pub max_time: Option<String>,
    /// Exit once no job is ready and none is running.
    #[arg(
        long,
        env = "QUIRE_STOP_WHEN_EMPTY",
        value_parser = clap::builder::BoolishValueParser::new(),
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub stop_when_empty: Option<bool>,
    /// Ceiling of the first retry delay, exponential backoff with full jitter
    /// (default 5s).
    #[arg(long, env = "QUIRE_BACKOFF_BASE")]
    pub backoff_base: Option<String>,
    /// No retry delay is longer (default 10m).
    #[arg(long, env = "QUIRE_BACKOFF_CAP")]
    pub backoff_cap: Option<String>,
    /// Serve Prometheus metrics at http://ADDR/metrics (off by default; `quire serve`
    /// and `quire run` also serve them beside the API).
    #[arg(long, env = "QUIRE_METRICS_BIND", value_name = "ADDR")]
    pub metrics_bind: Option<SocketAddr>,
}

/// The shortest lease: the heartbeat renews every third of it.
const MIN_LEASE: Duration = Duration::from_millis(300);

impl WorkArgs {
    /// Fills every unset option from `lower` (the config file's `[work]`).
    pub fn or(self, lower: WorkArgs) -> WorkArgs {
        WorkArgs {
            concurrency: self.concurrency.or(lower.concurrency),
            queues: self.queues.or(lower.queues),
            lease: self.lease.or(lower.lease),
            timeout: self.timeout.or(lower.timeout),
            grace: self.grace.or(lower.grace),
            max_jobs: self.max_jobs.or(lower.max_jobs),
            max_time: self.max_time.or(lower.max_time),
            stop_when_empty: self.stop_when_empty.or(lower.stop_when_empty),
            backoff_base: self.backoff_base.or(lower.backoff_base),
            backoff_cap: self.backoff_cap.or(lower.backoff_cap),
            metrics_bind: self.metrics_bind.or(lower.metrics_bind),
        }
    }

    /// Checks the options and turns them into the worker's, defaults filled in.
    ///
    /// # Errors
    /// When the concurrency is 0, a duration does not parse, the lease is under 300 ms
    /// or a queue name is empty.
    pub fn options(self) -> Result<WorkerOptions, SettingsError> {
        let invalid = |name, message: &str| SettingsError::Invalid {
            name,
            message: message.to_owned(),
        };
        let defaults = WorkerOptions::default();
        let concurrency = self.concurrency.unwrap_or(defaults.concurrency);
        if concurrency == 0 {
            return Err(invalid("QUIRE_CONCURRENCY", "it must be at least 1"));
        }
        let lease = duration("QUIRE_LEASE", self.lease)?.unwrap_or(defaults.lease);
        if lease < MIN_LEASE {
            return Err(invalid("QUIRE_LEASE", "it must be at least 300ms"));
        }
        let queues = self
            .queues
            .unwrap_or_else(|| vec!["reports".to_owned(), "default".to_owned()]);
        if queues.is_empty() || queues.iter().any(|queue| queue.trim().is_empty()) {
            return Err(invalid(
                "QUIRE_QUEUES",
                "it must name queues, e.g. high,default",
            ));
        }
        Ok(WorkerOptions {
            queues,
            concurrency,
            lease,
            max_timeout: duration("QUIRE_TIMEOUT", self.timeout)?,
            grace: duration("QUIRE_GRACE", self.grace)?.unwrap_or(defaults.grace),
            max_jobs: self.max_jobs,
            max_time: duration("QUIRE_MAX_TIME", self.max_time)?,
            stop_when_empty: self.stop_when_empty.unwrap_or(false),
            backoff: Backoff {
                base: duration("QUIRE_BACKOFF_BASE", self.backoff_base)?
                    .unwrap_or(defaults.backoff.base),
                cap: duration("QUIRE_BACKOFF_CAP", self.backoff_cap)?
                    .unwrap_or(defaults.backoff.cap),
            },
            ..defaults
        })
    }
}

impl fmt::Debug for SettingsArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |url: &Option<String>| url.as_deref().map(redact);
        f.debug_struct("SettingsArgs")
            .field("config", &self.config)
            .field("database_url", &hidden(&self.database_url))
            .field("reports_database_url", &hidden(&self.reports_database_url))
            .field("redis_url", &hidden(&self.redis_url))
            .field("prefix", &self.prefix)
            .field("storage_dir", &self.storage_dir)
            .field("storage_url", &self.storage_url)
            .field("s3_endpoint", &self.s3_endpoint)
            .field("s3_region", &self.s3_region)
            .field("s3_presigned_downloads", &self.s3_presigned_downloads)
            .field("aws_access_key_id", &self.aws_access_key_id)
            .field(
                "aws_secret_access_key",
                &self.aws_secret_access_key.as_ref().map(|_| "***"),
            )
            .field("reports_dir", &self.reports_dir)
            .field("reports_replace_builtin", &self.reports_replace_builtin)
            .field(
                "dashboard_secret",
                &self.dashboard_secret.as_ref().map(|_| "***"),
            )
            .field("bind", &self.bind)
            .field("public_url", &self.public_url)
            .field("log", &self.log)
            .field("log_format", &self.log_format)
            .field("db_outage_limit", &self.db_outage_limit)
            .field("webhook_ca_file", &self.webhook_ca_file)
            .field("allow_insecure_webhooks", &self.allow_insecure_webhooks)
            .field("allow_link_local_webhooks", &self.allow_link_local_webhooks)
            .field("rate_limit", &self.rate_limit)
            .field("max_queued_per_tenant", &self.max_queued_per_tenant)
            .field("request_timeout", &self.request_timeout)
            .field("fair_scheduling", &self.fair_scheduling)
            .field("max_running_per_tenant", &self.max_running_per_tenant)
            .field("work", &self.work)
            .finish()
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &redact(&self.database_url))
            .field("reports_database_url", &redact(&self.reports_database_url))
            .field("redis_url", &redact(&self.redis_url))
            .field("prefix", &self.prefix)
            .field("storage", &self.storage)
            .field("reports", &self.reports)
            .field("bind", &self.bind)
            .field("public_url", &self.public_url)
            .field("log", &self.log)
            .field("log_format", &self.log_format)
            .field("db_outage_limit", &self.db_outage_limit)
            .field("webhooks", &self.webhooks)
            .field("limits", &self.limits)
            .field("scheduling", &self.scheduling)
            .field("work", &self.work)
            .field(
                "dashboard_secret",
                &self.dashboard_secret.as_ref().map(|_| "***"),
            )
            .finish()
    }
}

impl SettingsArgs {
    /// Fills every unset field from `lower`.
    fn or(self, lower: SettingsArgs) -> SettingsArgs {
        SettingsArgs {
            config: self.config.or(lower.config),
            database_url: self.database_url.or(lower.database_url),
            reports_database_url: self.reports_database_url.or(lower.reports_database_url),
            redis_url: self.redis_url.or(lower.redis_url),
            prefix: self.prefix.or(lower.prefix),
            storage_dir: self.storage_dir.or(lower.storage_dir),
            storage_url: self.storage_url.or(lower.storage_url),
            s3_endpoint: self.s3_endpoint.or(lower.s3_endpoint),
            s3_region: self.s3_region.or(lower.s3_region),
            s3_presigned_downloads: self.s3_presigned_downloads.or(lower.s3_presigned_downloads),
            aws_access_key_id: self.aws_access_key_id.or(lower.aws_access_key_id),
            aws_secret_access_key: self.aws_secret_access_key.or(lower.aws_secret_access_key),
            reports_dir: self.reports_dir.or(lower.reports_dir),
            reports_replace_builtin: self
                .reports_replace_builtin
                .or(lower.reports_replace_builtin),
            dashboard_secret: self.dashboard_secret.or(lower.dashboard_secret),
            bind: self.bind.or(lower.bind),
            public_url: self.public_url.or(lower.public_url),
            log: self.log.or(lower.log),
            log_format: self.log_format.or(lower.log_format),
            db_outage_limit: self.db_outage_limit.or(lower.db_outage_limit),
            webhook_ca_file: self.webhook_ca_file.or(lower.webhook_ca_file),
            allow_insecure_webhooks: self
                .allow_insecure_webhooks
                .or(lower.allow_insecure_webhooks),
            allow_link_local_webhooks: self
                .allow_link_local_webhooks
                .or(lower.allow_link_local_webhooks),
            rate_limit: self.rate_limit.or(lower.rate_limit),
            max_queued_per_tenant: self.max_queued_per_tenant.or(lower.max_queued_per_tenant),
            request_timeout: self.request_timeout.or(lower.request_timeout),
            fair_scheduling: self.fair_scheduling.or(lower.fair_scheduling),
            max_running_per_tenant: self.max_running_per_tenant.or(lower.max_running_per_tenant),
            work: self.work.or(lower.work),
        }
    }
}

/// Where report definitions come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportsSource {
    /// A directory of `*.toml` files, alone.
    Dir(PathBuf),
    /// The built-in catalog plus a directory's definitions, which override built-in
    /// ones of the same name.
    BuiltInAnd(PathBuf),
    /// The catalog compiled into the binary.
    BuiltIn,
}

/// The resolved settings of one process. Its `Debug` hides the passwords in URLs.
#[derive(Clone)]
pub struct Settings {
    /// quire's own database (runs, API keys, webhooks).
    pub database_url: String,
    /// The database report queries read from; `database_url` unless set separately.
    pub reports_database_url: String,
    /// The Redis server holding the queue.
    pub redis_url: String,
    /// The prefix of every Redis key; non-empty, without braces or spaces.
    pub prefix: String,
    /// Where finished report files are stored.
    pub storage: StorageSettings,
    /// Where report definitions are loaded from.
    pub reports: ReportsSource,
    /// The address the HTTP API listens on.
    pub bind: SocketAddr,
    /// The base of absolute URLs handed to clients, without a trailing slash.
    pub public_url: String,
    /// The log filter, such as `info,quire=debug`.
    pub log: String,
    /// How logs are printed on stderr.
    pub log_format: LogFormat,
    /// How long report jobs wait out an unreachable database without spending attempts.
    pub db_outage_limit: Duration,
    /// Where webhooks may be sent, and the private CA their endpoints may use.
    pub webhooks: WebhookPolicy,
    /// What the API lets one caller or tenant do.
    pub limits: Limits,
    /// How runs of different tenants share the workers.
    pub scheduling: Scheduling,
    /// What dashboard sessions are signed with; `None`: a random secret per process.
    pub dashboard_secret: Option<String>,
    /// The worker options the config file's `[work]` table sets; flags and their
    /// variables go over them (see [`WorkArgs::or`]).
    pub work: WorkArgs,
}

/// Where finished report files are stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageSettings {
    /// The directory of the files, or with [`StorageSettings::s3`] the directory where
    /// files are built before their upload.
    pub dir: PathBuf,
    /// The bucket the files go to, for an `s3://` storage URL.
    pub s3: Option<S3Config>,
}

impl StorageSettings {
    /// The storage these settings name.
    ///
    /// # Errors
    /// When the S3 settings cannot make a client.
    pub fn open(&self) -> Result<Storage, SettingsError> {
        let Some(s3) = &self.s3 else {
            return Ok(Storage::Folder(self.dir.clone()));
        };
        let storage =
            ObjectStorage::new(s3, self.dir.clone()).map_err(|error| SettingsError::Invalid {
                name: if s3.endpoint.is_some() {
                    "QUIRE_S3_ENDPOINT"
                } else {
                    "QUIRE_STORAGE_URL"
                },
                message: error.to_string(),
            })?;
        Ok(Storage::Bucket(storage))
    }

    /// Reads QUIRE_STORAGE_URL (with QUIRE_STORAGE_DIR, which is its `file://` case, and
    /// the S3 settings).
    fn resolve(merged: &SettingsArgs) -> Result<StorageSettings, SettingsError> {
        let invalid = |name, message: String| SettingsError::Invalid { name, message };
        let default_dir = || PathBuf::from(DEFAULT_STORAGE_DIR);
        let Some(url) = merged.storage_url.as_deref() else {
            return Ok(StorageSettings {
                dir: merged.storage_dir.clone().unwrap_or_else(default_dir),
                s3: None,
            });
        };
        if let Some(path) = url.strip_prefix("file://") {
            let dir = PathBuf::from(path);
            if path.is_empty() {
                return Err(invalid(
                    "QUIRE_STORAGE_URL",
                    "a file:// URL must name a directory, e.g. file:///srv/quire/files".into(),
                ));
            }
            if let Some(other) = merged.storage_dir.as_ref().filter(|other| **other != dir) {
                return Err(invalid(
                    "QUIRE_STORAGE_DIR",
                    format!(
                        "it names {}, while QUIRE_STORAGE_URL names {}; set one of them",
                        other.display(),
                        dir.display()
                    ),
                ));
            }
            return Ok(StorageSettings { dir, s3: None });
        }
        let Some(rest) = url.strip_prefix("s3://") else {
            return Err(invalid(
                "QUIRE_STORAGE_URL",
                format!("{url:?} is neither file:///path nor s3://bucket/prefix"),
            ));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(invalid(
                "QUIRE_STORAGE_URL",
                format!("{url:?} names no bucket, e.g. s3://reports/quire"),
            ));
        }
        // Keys are compared as text with what a listing returns, which percent-encodes
        // other characters: a prefix of plain characters keeps the two the same.
        let plain = |c: char| c.is_ascii_alphanumeric() || "-_./".contains(c);
        let prefix = prefix.trim_matches('/');
        let segments_plain = prefix.is_empty()
            || prefix
                .split('/')
                .all(|segment| !["", ".", ".."].contains(&segment));
        if !rest.chars().all(plain) || !segments_plain {
            return Err(invalid(
                "QUIRE_STORAGE_URL",
                format!(
                    "{url:?}: the bucket and prefix may hold only letters, digits and - _ . /, \
                     and no empty, . or .. folder"
                ),
            ));
        }
        Ok(StorageSettings {
            dir: merged.storage_dir.clone().unwrap_or_else(default_dir),
            s3: Some(S3Config {
                bucket: bucket.to_owned(),
                prefix: prefix.to_owned(),
                endpoint: merged.s3_endpoint.clone(),
                region: merged
                    .s3_region
                    .clone()
                    .unwrap_or_else(|| "us-east-1".to_owned()),
                access_key_id: merged.aws_access_key_id.clone(),
                secret_access_key: merged.aws_secret_access_key.clone(),
                presigned_downloads: merged.s3_presigned_downloads.unwrap_or(false),
            }),
        })
    }
}

/// What the API lets one caller or tenant do, and how long a request may take.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Enqueues per API key; `None`: unlimited.
    pub rate: Option<RateLimit>,
    /// The most runs one tenant may have queued.
    pub max_queued_per_tenant: u64,
    /// The longest a request may take; a body stalled for half of it answers 408.
    pub request_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            rate: None,
            max_queued_per_tenant: crate::runs::DEFAULT_MAX_QUEUED_PER_TENANT,
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// The database used when DATABASE_URL is not set: a SQLite file under `quire-data/`.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://quire-data/quire.db";
const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";
const DEFAULT_REPORTS_DIR: &str = "reports";
const DEFAULT_STORAGE_DIR: &str = "quire-data/files";
const DEFAULT_CONFIG_FILE: &str = "quire.toml";

impl Settings {
    /// Resolves flags and environment (already merged by clap) over the config file and
    /// the defaults.
    ///
    /// # Errors
    /// When the config file cannot be read, has an unknown key, or a value is invalid.
    pub fn resolve(args: SettingsArgs) -> Result<Settings, SettingsError> {
        let file = match &args.config {
            Some(path) => Some(read_file(path)?),
            None if Path::new(DEFAULT_CONFIG_FILE).exists() => {
                Some(read_file(Path::new(DEFAULT_CONFIG_FILE))?)
            }
            None => None,
        };
        let merged = args.or(file.unwrap_or_default());
        let storage = StorageSettings::resolve(&merged)?;

        let database_url = merged
            .database_url
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        let prefix = merged.prefix.unwrap_or_else(|| "quire".to_owned());
        if prefix.is_empty() || prefix.contains(['{', '}', ' ']) {
            return Err(SettingsError::Invalid {
                name: "QUIRE_PREFIX",
                message: "it must be non-empty and contain no braces or spaces".into(),
            });
        }
        let replace = merged.reports_replace_builtin.unwrap_or(false);
        let dir = merged.reports_dir.or_else(|| {
            Path::new(DEFAULT_REPORTS_DIR)
                .is_dir()
                .then(|| PathBuf::from(DEFAULT_REPORTS_DIR))
        });
        let reports = match dir {
            Some(dir) if replace => ReportsSource::Dir(dir),
            Some(dir) => ReportsSource::BuiltInAnd(dir),
            None => ReportsSource::BuiltIn,
        };
        let bind = merged
            .bind
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
        let public_url = merged
            .public_url
            .unwrap_or_else(|| format!("http://{bind}"))
            .trim_end_matches('/')
            .to_owned();
        let log = merged.log.unwrap_or_else(|| "info".to_owned());
        if let Err(error) = tracing_subscriber::EnvFilter::try_new(&log) {
            return Err(SettingsError::Invalid {
                name: "QUIRE_LOG",
                message: format!("{log:?} is not a log filter like info,quire=debug ({error})"),
            });
        }
        let db_outage_limit = duration("QUIRE_DB_OUTAGE_LIMIT", merged.db_outage_limit)?
            .unwrap_or(crate::runs::DEFAULT_OUTAGE_LIMIT);
        let defaults = Limits::default();
        let limits = Limits {
            rate: merged
                .rate_limit
                .map(|text| text.parse::<RateLimit>())
                .transpose()
                .map_err(|error| SettingsError::Invalid {
                    name: "QUIRE_RATE_LIMIT",
                    message: error.to_string(),
                })?,
            max_queued_per_tenant: merged
                .max_queued_per_tenant
                .unwrap_or(defaults.max_queued_per_tenant),
            request_timeout: duration("QUIRE_REQUEST_TIMEOUT", merged.request_timeout)?
                .unwrap_or(defaults.request_timeout),
        };
        Ok(Settings {
            reports_database_url: merged
                .reports_database_url
                .unwrap_or_else(|| database_url.clone()),
            database_url,
            redis_url: merged
                .redis_url
                .unwrap_or_else(|| DEFAULT_REDIS_URL.to_owned()),
            prefix,
            storage,
            reports,
            bind,
            public_url,
            log,
            log_format: merged.log_format.unwrap_or(LogFormat::Pretty),
            db_outage_limit,
            webhooks: WebhookPolicy {
                allow_insecure: merged.allow_insecure_webhooks.unwrap_or(false),
                allow_link_local: merged.allow_link_local_webhooks.unwrap_or(false),
                ca_file: merged.webhook_ca_file,
            },
            limits,
            scheduling: Scheduling {
                fair: merged.fair_scheduling.unwrap_or(true),
                max_running_per_tenant: match merged.max_running_per_tenant {
                    Some(0) => {
                        return Err(SettingsError::Invalid {
                            name: "QUIRE_MAX_RUNNING_PER_TENANT",
                            message: "it must be at least 1 (leave it unset for no limit)".into(),
                        });
                    }
                    limit => limit,
                },
            },
            work: merged.work,
            dashboard_secret: merged.dashboard_secret,
        })
    }
}

/// The setting `name` read as a duration such as `10m` or `30s`.
fn duration(name: &'static str, text: Option<String>) -> Result<Option<Duration>, SettingsError> {
    text.map(|text| {
        humantime::parse_duration(&text).map_err(|error| SettingsError::Invalid {
            name,
            message: format!("{text:?} is not a duration such as 10m or 30s ({error})"),
        })
    })
    .transpose()
}

fn read_file(path: &Path) -> Result<SettingsArgs, SettingsError> {
    let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|error| SettingsError::Parse {
        path: path.to_owned(),
        message: error.message().to_owned(),
    })
}

/// A database URL with its password hidden, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_never_debug_print_a_password() {
        let args = SettingsArgs {
            database_url: Some("postgres://app:hunter2@db/invoices".into()),
            reports_database_url: Some("postgres://ro:s3cret@replica/invoices".into()),
            redis_url: Some("redis://default:r3dis@cache:6379".into()),
            storage_url: Some("s3://reports/quire".into()),
            aws_secret_access_key: Some("aws-s3cr3t".into()),
            ..SettingsArgs::default()
        };
        let printed = format!("{args:?}");
        let settings = format!("{:?}", Settings::resolve(args).unwrap());
        for text in [printed, settings] {
            for password in ["hunter2", "s3cret", "r3dis", "aws-s3cr3t"] {
                assert!(!text.contains(password), "{text}");
            }
            assert!(text.contains("postgres://app:***@db/invoices"), "{text}");
        }
    }

    #[test]
    fn the_outage_limit_reads_a_duration_and_names_a_bad_one() {
        let limit = |text: &str| {
            Settings::resolve(SettingsArgs {
                db_outage_limit: Some(text.into()),
                ..SettingsArgs::default()
            })
            .map(|settings| settings.db_outage_limit)
        };
        assert_eq!(limit("90s").unwrap(), Duration::from_secs(90));
        let error = limit("soon").unwrap_err().to_string();
        assert!(
            error.starts_with("QUIRE_DB_OUTAGE_LIMIT is invalid"),
            "{error}"
        );
        let default = Settings::resolve(SettingsArgs::default()).unwrap();
        assert_eq!(default.db_outage_limit, crate::runs::DEFAULT_OUTAGE_LIMIT);
    }

    #[test]
    fn a_log_filter_that_does_not_parse_is_an_error_and_the_scheduling_settings_are_read() {
        let resolve = |log: &str| {
            Settings::resolve(SettingsArgs {
                log: Some(log.into()),
                ..SettingsArgs::default()
            })
        };
        assert!(resolve("info,quire=debug").is_ok());
        let error = resolve("info,quire=loud").unwrap_err().to_string();
        assert!(error.starts_with("QUIRE_LOG is invalid"), "{error}");

        let default = Settings::resolve(SettingsArgs::default()).unwrap();
        assert_eq!(default.scheduling, crate::runs::Scheduling::default());
        let fifo = Settings::resolve(SettingsArgs {
            fair_scheduling: Some(false),
            max_running_per_tenant: Some(3),
            ..SettingsArgs::default()
        })
        .unwrap();
        assert!(!fifo.scheduling.fair);
        assert_eq!(fifo.scheduling.max_running_per_tenant, Some(3));
        let zero = Settings::resolve(SettingsArgs {
            max_running_per_tenant: Some(0),
            ..SettingsArgs::default()
        });
        assert!(
            zero.unwrap_err()
                .to_string()
                .starts_with("QUIRE_MAX_RUNNING_PER_TENANT")
        );
    }

    #[test]
    fn an_unknown_key_in_the_config_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("quire.toml");
        std::fs::write(
            &path,
            "database_url = \"sqlite://x.db\"\nredis = \"oops\"\n",
        )
        .unwrap();
        let args = SettingsArgs {
            config: Some(path),
            ..SettingsArgs::default()
        };
        let error = Settings::resolve(args).unwrap_err().to_string();
        assert!(error.contains("unknown field `redis`"), "{error}");
    }

    #[test]
    fn worker_options_come_from_flags_then_the_files_work_table_then_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("quire.toml");
        std::fs::write(
            &path,
            "[work]\nconcurrency = 3\nqueues = [\"high\", \"low\"]\nlease = \"10s\"\n",
        )
        .unwrap();
        let settings = Settings::resolve(SettingsArgs {
            config: Some(path.clone()),
            ..SettingsArgs::default()
        })
        .unwrap();
        let flags = WorkArgs {
            concurrency: Some(5),
            ..WorkArgs::default()
        };
        let options = flags.or(settings.work.clone()).options().unwrap();
        assert_eq!(options.concurrency, 5);
        assert_eq!(options.queues, ["high", "low"]);
        assert_eq!(options.lease, Duration::from_secs(10));
        assert_eq!(options.grace, WorkerOptions::default().grace);

        let short = WorkArgs {
            lease: Some("100ms".into()),
            ..WorkArgs::default()
        };
        let error = short.or(settings.work.clone()).options().unwrap_err();
        assert_eq!(
            error.to_string(),
            "QUIRE_LEASE is invalid: it must be at least 300ms"
        );
        std::fs::write(&path, "[work]\nconcurency = 3\n").unwrap();
        let typo = Settings::resolve(SettingsArgs {
            config: Some(path),
            ..SettingsArgs::default()
        });
        let error = typo.unwrap_err().to_string();
        assert!(error.contains("unknown field `concurency`"), "{error}");
    }

    #[test]
    fn flags_win_over_the_file_and_the_file_over_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("quire.toml");
        std::fs::write(
            &path,
            "prefix = \"from-file\"\nredis_url = \"redis://file\"\n",
        )
        .unwrap();
        let args = SettingsArgs {
            config: Some(path),
            prefix: Some("from-flag".into()),
            ..SettingsArgs::default()
        };
        let settings = Settings::resolve(args).unwrap();
        assert_eq!(settings.prefix, "from-flag");
        assert_eq!(settings.redis_url, "redis://file");
        assert_eq!(settings.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(settings.reports_database_url, DEFAULT_DATABASE_URL);
    }

    #[test]
    fn the_storage_url_names_a_folder_or_a_bucket_and_the_storage_dir_is_its_file_case() {
        let storage = |url: Option<&str>, dir: Option<&str>| {
            Settings::resolve(SettingsArgs {
                storage_url: url.map(str::to_owned),
                storage_dir: dir.map(PathBuf::from),
                s3_endpoint: Some("http://127.0.0.1:9000".into()),
                ..SettingsArgs::default()
            })
            .map(|settings| settings.storage)
        };
        let folder = |dir: &str| StorageSettings {
            dir: PathBuf::from(dir),
            s3: None,
        };
        assert_eq!(storage(None, None).unwrap(), folder("quire-data/files"));
        assert_eq!(storage(None, Some("/srv/f")).unwrap(), folder("/srv/f"));
        assert_eq!(
            storage(Some("file:///srv/f"), None).unwrap(),
            folder("/srv/f")
        );
        assert_eq!(
            storage(Some("file:///srv/f"), Some("/srv/f")).unwrap(),
            folder("/srv/f")
        );
        let bucket = storage(Some("s3://reports/quire/files/"), None).unwrap();
        assert_eq!(bucket.dir, PathBuf::from("quire-data/files"));
        let s3 = bucket.s3.unwrap();
        assert_eq!(
            (s3.bucket.as_str(), s3.prefix.as_str()),
            ("reports", "quire/files")
        );
        assert_eq!(s3.region, "us-east-1");
        assert!(!s3.presigned_downloads);
        for (url, dir, named) in [
            ("file:///srv/f", Some("/srv/g"), "QUIRE_STORAGE_DIR"),
            ("ftp://host/f", None, "QUIRE_STORAGE_URL"),
            ("s3:///quire", None, "QUIRE_STORAGE_URL"),
            ("file://", None, "QUIRE_STORAGE_URL"),
            ("s3://reports/my files", None, "QUIRE_STORAGE_URL"),
            ("s3://reports/a//b", None, "QUIRE_STORAGE_URL"),
            ("s3://reports/a/../b", None, "QUIRE_STORAGE_URL"),
        ] {
            let error = storage(Some(url), dir).unwrap_err().to_string();
            assert!(error.starts_with(&format!("{named} is invalid")), "{error}");
        }
    }
}
