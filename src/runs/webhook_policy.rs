//! Where webhooks may be sent. `https://` always; plain `http://` only to a loopback
//! host unless insecure webhooks are allowed; never to a link-local, unique-local or
//! unspecified address (cloud metadata endpoints live there) unless those are allowed,
//! so that a key holder cannot make quire's workers call into their network (SSRF).
//! The URL is checked when a key is created, and again at every delivery, where the
//! resolver refuses forbidden addresses itself: a name that resolved well at creation
//! may point elsewhere by now.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use crate::tls::{TlsError, TrustedRoots};

/// What the operator allows webhooks to reach.
#[derive(Debug, Clone, Default)]
pub struct WebhookPolicy {
    /// Allow `http://` to hosts that are not loopback.
    pub allow_insecure: bool,
    /// Allow link-local, unique-local and unspecified addresses.
    pub allow_link_local: bool,
    /// PEM certificates of a private CA to trust beside the Mozilla roots.
    pub ca_file: Option<PathBuf>,
}

/// Why a webhook URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookUrlError {
    /// Not a URL, or one without a host.
    #[error("the webhook URL {url:?} is not an absolute URL with a host ({reason})")]
    Invalid {
        /// The URL as given.
        url: String,
        /// What the parser said.
        reason: String,
    },
    /// Neither `https` nor `http`.
    #[error("webhook URLs must start with https:// (not {scheme}://)")]
    Scheme {
        /// The scheme given.
        scheme: String,
    },
    /// `http://` to a host that is not loopback.
    #[error(
        "the webhook URL {url} is plain http to a host that is not loopback; use https://, \
         or set QUIRE_ALLOW_INSECURE_WEBHOOKS=true"
    )]
    Insecure {
        /// The URL as given.
        url: String,
    },
    /// The host is, or resolves to, a forbidden address.
    #[error(
        "the webhook host {host} is or resolves to {address}, a link-local, unique-local or \
         unspecified address (where metadata services live); set \
         QUIRE_ALLOW_LINK_LOCAL_WEBHOOKS=true to allow it"
    )]
    Forbidden {
        /// The URL's host.
        host: String,
        /// The forbidden address.
        address: IpAddr,
    },
    /// The host does not resolve.
    #[error("the webhook host {host} does not resolve: {reason}")]
    Unresolvable {
        /// The URL's host.
        host: String,
        /// What the resolver said.
        reason: String,
    },
    /// A webhook URL without a secret to sign its bodies with.
    #[error("a webhook URL needs a non-empty --webhook-secret to sign its bodies")]
    MissingSecret,
}

/// Addresses no webhook may reach unless allowed: IPv4 169.254/16, broadcast and
/// unspecified; IPv6 fe80::/10, fc00::/7 (which holds fd00::/8) and unspecified; and
/// the IPv4 ones written as IPv4-mapped IPv6.
fn is_forbidden(address: IpAddr) -> bool {
    match address.to_canonical() {
        IpAddr::V4(v4) => v4.is_link_local() || v4.is_broadcast() || v4.is_unspecified(),
        IpAddr::V6(v6) => v6.is_unicast_link_local() || v6.is_unique_local() || v6.is_unspecified(),
    }
}

/// The host of a parsed URL as an address, when it is an IP literal.
fn literal_address(url: &reqwest::Url) -> Option<IpAddr> {
    url.host_str()?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

fn is_loopback(url: &reqwest::Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    host == "localhost"
        || host.ends_with(".localhost")
        || literal_address(url).is_some_and(|address| address.to_canonical().is_loopback())
}

impl WebhookPolicy {
    /// The checks that need no resolver: scheme, insecure http, a forbidden literal
    /// address. Returns the parsed URL.
    ///
    /// # Errors
    /// When the URL is refused.
    pub fn check_url(&self, url: &str) -> Result<reqwest::Url, WebhookUrlError> {
        let parsed = reqwest::Url::parse(url).map_err(|error| WebhookUrlError::Invalid {
            url: url.to_owned(),
            reason: error.to_string(),
        })?;
        let Some(host) = parsed.host_str().filter(|host| !host.is_empty()) else {
            return Err(WebhookUrlError::Invalid {
                url: url.to_owned(),
                reason: "no host".into(),
            });
        };
        let host = host.to_owned();
        match parsed.scheme() {
            "https" => {}
            "http" if self.allow_insecure || is_loopback(&parsed) => {}
            "http" => {
                return Err(WebhookUrlError::Insecure {
                    url: url.to_owned(),
                });
            }
            scheme => {
                return Err(WebhookUrlError::Scheme {
                    scheme: scheme.to_owned(),
                });
            }
        }
        if let Some(address) = literal_address(&parsed) {
            self.check_address(&host, address)?;
        }
        Ok(parsed)
    }

    /// Every check, resolving the host: what `quire keys create` runs.
    ///
    /// # Errors
    /// When the URL is refused or its host does not resolve.
    pub async fn check(&self, url: &str) -> Result<(), WebhookUrlError> {
        let parsed = self.check_url(url)?;
        let host = parsed.host_str().unwrap_or_default();
        let port = parsed.port_or_known_default().unwrap_or(443);
        self.resolve(host, port).await.map(drop)
    }

    fn check_address(&self, host: &str, address: IpAddr) -> Result<(), WebhookUrlError> {
        if !self.allow_link_local && is_forbidden(address) {
            return Err(WebhookUrlError::Forbidden {
                host: host.to_owned(),
                address: address.to_canonical(),
            });
        }
        Ok(())
    }

    /// `host`'s addresses, refused when one of them is forbidden.
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, WebhookUrlError> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let addresses: Vec<SocketAddr> = tokio::net::lookup_host((bare, port))
            .await
            .map_err(|error| WebhookUrlError::Unresolvable {
                host: host.to_owned(),
                reason: error.to_string(),
            })?
            .collect();
        for address in &addresses {
            self.check_address(host, address.ip())?;
        }
        Ok(addresses)
    }

    /// The HTTP client deliveries use: these roots, this resolver, no redirects (a
    /// redirect could lead anywhere the checks did not look).
    ///
    /// # Errors
    /// When the CA file cannot be used.
    pub fn client(&self) -> Result<WebhookClient, TlsError> {
        let roots = TrustedRoots::with_ca_file(self.ca_file.as_deref())?;
        let http = roots
            .client_builder()
            .dns_resolver(Arc::new(GuardedResolver(self.clone())))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client with these options builds");
        Ok(WebhookClient {
            http,
            policy: self.clone(),
        })
    }
}

/// The system resolver, refusing what the policy forbids.
struct GuardedResolver(WebhookPolicy);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        Box::pin(async move {
            // The connector sets the port itself.
            let addresses = policy.resolve(name.as_str(), 0).await?;
            Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The client webhooks are delivered with, and the policy it enforces.
#[derive(Debug, Clone)]
pub struct WebhookClient {
    http: reqwest::Client,
    policy: WebhookPolicy,
}

impl Default for WebhookClient {
    fn default() -> WebhookClient {
        WebhookPolicy::default()
            .client()
            .expect("the default policy reads no CA file")
    }
}

impl WebhookClient {
    /// A POST to `url`, refused before any connection when the URL is.
    ///
    /// # Errors
    /// When the policy refuses the URL.
    pub fn post(&self, url: &str) -> Result<reqwest::RequestBuilder, WebhookUrlError> {
        let url = self.policy.check_url(url)?;
        Ok(self.http.post(url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_ranges_cover_metadata_and_mapped_forms() {
        for address in [
            "169.254.169.254",
            "169.254.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "fe80::1",
            "fd00::1",
            "fd00:ec2::254",
            "fc00::1",
            "::",
            "::ffff:169.254.169.254",
        ] {
            assert!(is_forbidden(address.parse().unwrap()), "{address}");
        }
        for address in [
            "127.0.0.1",
            "10.0.0.1",
            "93.184.216.34",
            "::1",
            "2001:db8::1",
        ] {
            assert!(!is_forbidden(address.parse().unwrap()), "{address}");
        }
    }

    #[test]
    fn plain_http_is_for_loopback_unless_allowed() {
        let strict = WebhookPolicy::default();
        for url in [
            "http://127.0.0.1:9/hook",
            "http://localhost/hook",
            "http://api.localhost/hook",
            "http://[::1]:8080/hook",
            "https://hooks.example.com/quire",
        ] {
            assert!(strict.check_url(url).is_ok(), "{url}");
        }
        assert!(matches!(
            strict.check_url("http://192.0.2.10/hook"),
            Err(WebhookUrlError::Insecure { .. })
        ));
        assert!(matches!(
            strict.check_url("ftp://example.com/x"),
            Err(WebhookUrlError::Scheme { .. })
        ));
        assert!(matches!(
            strict.check_url("not a url"),
            Err(WebhookUrlError::Invalid { .. })
        ));
        let lenient = WebhookPolicy {
            allow_insecure: true,
            ..WebhookPolicy::default()
        };
        assert!(lenient.check_url("http://192.0.2.10/hook").is_ok());
    }

    #[test]
    fn a_literal_metadata_address_is_refused_unless_allowed() {
        let strict = WebhookPolicy::default();
        let error = strict
            .check_url("https://169.254.169.254/latest/meta-data")
            .unwrap_err();
        assert!(error.to_string().contains("169.254.169.254"), "{error}");
        assert!(matches!(
            strict.check_url("https://[fd00::1]/hook"),
            Err(WebhookUrlError::Forbidden { .. })
        ));
        let allowed = WebhookPolicy {
            allow_link_local: true,
            ..WebhookPolicy::default()
        };
        assert!(allowed.check_url("https://[fd00::1]/hook").is_ok());
    }
}
