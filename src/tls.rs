//! TLS for quire's outgoing HTTPS (webhooks, the API client): rustls with the ring
//! provider, trusting the Mozilla roots compiled into the binary plus, optionally, the
//! certificates of a private CA. No system trust store is read, so what a process
//! trusts is the same on every host.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

/// A CA file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file cannot be read, or a PEM block in it is malformed.
    #[error("cannot read the CA certificates in {path}: {source}")]
    Read {
        /// The CA file.
        path: PathBuf,
        /// Why reading or decoding failed.
        source: rustls::pki_types::pem::Error,
    },
    /// The file holds no `CERTIFICATE` block.
    #[error("{path} holds no PEM certificate")]
    Empty {
        /// The CA file.
        path: PathBuf,
    },
    /// A certificate in the file is not a usable trust anchor.
    #[error("a certificate in {path} is not a usable CA certificate: {source}")]
    Anchor {
        /// The CA file.
        path: PathBuf,
        /// What rustls rejected.
        source: rustls::Error,
    },
}

/// Extra trust anchors, read from a PEM file when given.
#[derive(Debug, Clone, Default)]
pub struct TrustedRoots {
    extra: Vec<CertificateDer<'static>>,
}

impl TrustedRoots {
    /// The Mozilla roots plus every certificate in `ca_file`, if any.
    ///
    /// # Errors
    /// When the file cannot be read, holds no certificate, or one is unusable.
    pub fn with_ca_file(ca_file: Option<&Path>) -> Result<TrustedRoots, TlsError> {
        let Some(path) = ca_file else {
            return Ok(TrustedRoots::default());
        };
        let read_error = |source| TlsError::Read {
            path: path.to_owned(),
            source,
        };
        let extra = CertificateDer::pem_file_iter(path)
            .map_err(read_error)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(read_error)?;
        if extra.is_empty() {
            return Err(TlsError::Empty {
                path: path.to_owned(),
            });
        }
        let roots = TrustedRoots { extra };
        roots.store().map_err(|source| TlsError::Anchor {
            path: path.to_owned(),
            source,
        })?;
        Ok(roots)
    }

    fn store(&self) -> Result<rustls::RootCertStore, rustls::Error> {
        let mut store = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        for certificate in &self.extra {
            store.add(certificate.clone())?;
        }
        Ok(store)
    }

    /// A reqwest client builder that verifies servers against these roots.
    pub fn client_builder(&self) -> reqwest::ClientBuilder {
        let store = self
            .store()
            .expect("the extra roots were checked when they were read");
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default TLS versions")
        .with_root_certificates(store)
        .with_no_client_auth();
        reqwest::Client::builder().tls_backend_preconfigured(config)
    }
}

/// A reqwest client over the Mozilla roots, for callers with no settings of their own.
pub fn default_client() -> reqwest::Client {
    TrustedRoots::default()
        .client_builder()
        .build()
        .expect("a client with default options builds")
}
