//! The [`Connector`] under the default client: TCP, plus TLS for `https://` URLs with the
//! `https` feature; and the [`ClientBuilder`] that chooses its trusted roots.

use std::fmt;
use std::task::{Context, Poll};

use http::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tower_service::Service;

use crate::{Client, HttpClient, SharedClient};

#[cfg(feature = "https")]
type Inner = hyper_rustls::HttpsConnector<HttpConnector>;
#[cfg(not(feature = "https"))]
type Inner = HttpConnector;

/// The connector of the default client: plain TCP for `http://`, and with the `https` feature
/// (on by default) rustls for `https://` — HTTP/2 or HTTP/1.1 chosen by ALPN, the system's
/// roots (Mozilla's, compiled in, when the system store is empty) unless the
/// [`ClientBuilder`] says otherwise.
#[derive(Clone)]
pub struct Connector {
    inner: Inner,
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("https", &cfg!(feature = "https"))
            .finish()
    }
}

impl Service<Uri> for Connector {
    type Response = <Inner as Service<Uri>>::Response;
    type Error = <Inner as Service<Uri>>::Error;
    type Future = <Inner as Service<Uri>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        self.inner.call(dst)
    }
}

/// Why a [`ClientBuilder`] could not build a client.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientBuildError {
    /// The custom CA certificate PEM holds no usable certificate.
    InvalidCaCertificate(String),
}

impl fmt::Display for ClientBuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientBuildError::InvalidCaCertificate(e) => {
                write!(f, "invalid ca certificate: {e}")
            }
        }
    }
}

impl std::error::Error for ClientBuildError {}

/// Builds a traced [`Client`] whose TLS trusts chosen roots.
///
/// ```no_run
/// # fn run(ca_pem: &[u8]) -> Result<(), tracewire_hyper::ClientBuildError> {
/// let client = tracewire_hyper::Client::builder()
///     .ca_certificate_pem(ca_pem) // trust only this CA, e.g. an internal one
///     .build()?;
/// # let _ = client;
/// # Ok(())
/// # }
/// ```
#[must_use]
#[derive(Default)]
pub struct ClientBuilder {
    #[cfg_attr(not(feature = "https"), allow(dead_code))]
    ca_pem: Option<Vec<u8>>,
    #[cfg(feature = "https")]
    tls: Option<rustls::ClientConfig>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("custom_ca", &self.ca_pem.is_some())
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// Trusts only the CA certificate(s) in this PEM text for `https://`, instead of the
    /// system's roots.
    pub fn ca_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pem = Some(pem.into());
        self
    }

    /// Uses this rustls configuration for `https://` (client certificates, a custom verifier);
    /// its ALPN list is replaced by `h2`, `http/1.1`.
    #[cfg(feature = "https")]
    pub fn tls_config(mut self, config: rustls::ClientConfig) -> Self {
        self.tls = Some(config);
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<Client, ClientBuildError> {
        let connector = self.connector()?;
        Ok(Client::from_service(SharedClient::from(
            hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(connector),
        )))
    }

    #[cfg(feature = "https")]
    fn connector(self) -> Result<Connector, ClientBuildError> {
        let config = match (self.tls, self.ca_pem) {
            (Some(config), _) => config,
            (None, Some(pem)) => tls::custom_ca(&pem)?,
            (None, None) => tls::default_config().clone(),
        };
        Ok(connector(config))
    }

    #[cfg(not(feature = "https"))]
    fn connector(self) -> Result<Connector, ClientBuildError> {
        Ok(default_connector())
    }
}

#[cfg(feature = "https")]
fn connector(config: rustls::ClientConfig) -> Connector {
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    let inner = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_or_http()
        .enable_all_versions()
        .wrap_connector(tcp);
    Connector { inner }
}

fn default_connector() -> Connector {
    #[cfg(feature = "https")]
    return connector(tls::default_config().clone());
    #[cfg(not(feature = "https"))]
    return Connector {
        inner: HttpConnector::new(),
    };
}

/// The default client: hyper-util's pooled client over the default [`Connector`].
pub(crate) fn default_http_client() -> HttpClient {
    hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(default_connector())
}

#[cfg(feature = "https")]
mod tls {
    use std::sync::{Arc, OnceLock};

    use hyper_rustls::ConfigBuilderExt as _;
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    use rustls::{ClientConfig, RootCertStore};

    use super::ClientBuildError;

    fn builder() -> rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier> {
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap_or_else(|_| unreachable!("ring supports the default protocol versions"))
    }

    /// The system's roots (or Mozilla's when the system has none), loaded once per process.
    pub(super) fn default_config() -> &'static ClientConfig {
        static CONFIG: OnceLock<ClientConfig> = OnceLock::new();
        CONFIG.get_or_init(|| {
            match builder().with_native_roots() {
                Ok(b) => b,
                Err(_) => builder().with_webpki_roots(),
            }
            .with_no_client_auth()
        })
    }

    pub(super) fn custom_ca(pem: &[u8]) -> Result<ClientConfig, ClientBuildError> {
        let invalid = |e: String| ClientBuildError::InvalidCaCertificate(e);
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(pem) {
            roots
                .add(cert.map_err(|e| invalid(e.to_string()))?)
                .map_err(|e| invalid(e.to_string()))?;
        }
        if roots.is_empty() {
            return Err(invalid("no pem certificate found".to_owned()));
        }
        Ok(builder()
            .with_root_certificates(roots)
            .with_no_client_auth())
    }
}

#[cfg(all(test, feature = "https"))]
mod tests {
    use super::*;

    #[test]
    fn bad_ca_is_an_error() {
        assert_eq!(
            ClientBuilder::default()
                .ca_certificate_pem(b"nope".to_vec())
                .build()
                .unwrap_err(),
            ClientBuildError::InvalidCaCertificate("no pem certificate found".into())
        );
    }
}
