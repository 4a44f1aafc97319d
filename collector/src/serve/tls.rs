//! TLS for the collector's listeners: rustls with the `ring` provider, PEM files or bytes.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// The server side of TLS for every listener of a collector: a certificate chain and its key,
/// and optionally the CAs that client certificates must chain to (mutual TLS, a client
/// certificate then being required).
///
/// HTTP listeners offer `h2` and `http/1.1` by ALPN, the gRPC listener `h2`. TLS 1.2 and 1.3
/// are accepted, with rustls' safe defaults. A handshake must finish within the header read
/// timeout.
///
/// ```
/// # fn demo(cert_pem: &[u8], key_pem: &[u8], ca_pem: &[u8]) -> Result<(), tracewire_collector::TlsError> {
/// use tracewire_collector::{Collector, ServerTls};
///
/// let tls = ServerTls::from_pem(cert_pem, key_pem)?.client_ca_pem(ca_pem)?;
/// let builder = Collector::builder().tls(tls);
/// # drop(builder);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ServerTls {
    chain: Vec<CertificateDer<'static>>,
    key: Arc<PrivateKeyDer<'static>>,
    client_roots: Option<Arc<RootCertStore>>,
    /// Built and checked when the parts change; ALPN is set per listener.
    config: Arc<ServerConfig>,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field("chain_len", &self.chain.len())
            .field("client_cert_required", &self.client_roots.is_some())
            .finish_non_exhaustive()
    }
}

/// Which input a [`TlsError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsInput {
    /// The server certificate chain.
    CertificateChain,
    /// The server private key.
    PrivateKey,
    /// The CA certificates client certificates must chain to.
    ClientCa,
    /// The certificate chain and the key together (a key that does not match).
    KeyPair,
}

impl fmt::Display for TlsInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsInput::CertificateChain => "certificate chain",
            TlsInput::PrivateKey => "private key",
            TlsInput::ClientCa => "client CA",
            TlsInput::KeyPair => "certificate and key",
        })
    }
}

/// Why a [`ServerTls`] could not be built.
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read.
    Read {
        /// What the file holds.
        input: TlsInput,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A PEM input is malformed or holds nothing usable.
    Pem {
        /// Which input.
        input: TlsInput,
        /// What is wrong with it.
        reason: String,
    },
    /// rustls refused the certificate, the key or the client CAs (a key that does not match
    /// the certificate, an unsupported key type, a CA that is not a valid certificate).
    Rejected {
        /// Which input.
        input: TlsInput,
        /// rustls' reason.
        reason: String,
    },
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Read {
                input,
                path,
                source,
            } => write!(
                f,
                "could not read the {input} from {}: {source}",
                path.display()
            ),
            TlsError::Pem { input, reason } => write!(f, "invalid PEM {input}: {reason}"),
            TlsError::Rejected { input, reason } => write!(f, "unusable {input}: {reason}"),
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TlsError::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(input: TlsInput, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        input,
        path: path.to_owned(),
        source,
    })
}

fn certificates(input: TlsInput, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            input,
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            input,
            reason: "no CERTIFICATE section found".to_owned(),
        });
    }
    Ok(certs)
}

impl ServerTls {
    /// A certificate chain (leaf first) and its private key (PKCS#8, PKCS#1 or SEC1), as PEM.
    pub fn from_pem(cert_chain: &[u8], key: &[u8]) -> Result<Self, TlsError> {
        let chain = certificates(TlsInput::CertificateChain, cert_chain)?;
        let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| TlsError::Pem {
            input: TlsInput::PrivateKey,
            reason: match e {
                rustls_pki_types::pem::Error::NoItemsFound => {
                    "no PRIVATE KEY section found".to_owned()
                }
                e => e.to_string(),
            },
        })?;
        Self::build(chain, Arc::new(key), None)
    }

    /// [`ServerTls::from_pem`] from two files.
    pub fn from_pem_files(
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<Self, TlsError> {
        let chain = read(TlsInput::CertificateChain, cert_chain.as_ref())?;
        let key = read(TlsInput::PrivateKey, key.as_ref())?;
        Self::from_pem(&chain, &key)
    }

    /// Requires every client to present a certificate chaining to one of these CAs (PEM, one
    /// or more certificates). A client without one is refused during the handshake.
    pub fn client_ca_pem(self, ca: &[u8]) -> Result<Self, TlsError> {
        let input = TlsInput::ClientCa;
        let mut roots = RootCertStore::empty();
        for cert in certificates(input, ca)? {
            roots.add(cert).map_err(|e| TlsError::Rejected {
                input,
                reason: e.to_string(),
            })?;
        }
        Self::build(self.chain, self.key, Some(Arc::new(roots)))
    }

    /// [`ServerTls::client_ca_pem`] from a file.
    pub fn client_ca_file(self, ca: impl AsRef<Path>) -> Result<Self, TlsError> {
        let pem = read(TlsInput::ClientCa, ca.as_ref())?;
        self.client_ca_pem(&pem)
    }

    /// Whether clients must present a certificate.
    pub fn requires_client_cert(&self) -> bool {
        self.client_roots.is_some()
    }

    fn build(
        chain: Vec<CertificateDer<'static>>,
        key: Arc<PrivateKeyDer<'static>>,
        client_roots: Option<Arc<RootCertStore>>,
    ) -> Result<Self, TlsError> {
        let provider = provider();
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Rejected {
                input: TlsInput::CertificateChain,
                reason: e.to_string(),
            })?;
        let builder = match &client_roots {
            None => builder.with_no_client_auth(),
            Some(roots) => {
                let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider)
                    .build()
                    .map_err(|e| TlsError::Rejected {
                        input: TlsInput::ClientCa,
                        reason: e.to_string(),
                    })?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let config = builder
            .with_single_cert(chain.clone(), key.clone_key())
            .map_err(|e| TlsError::Rejected {
                input: TlsInput::KeyPair,
                reason: e.to_string(),
            })?;
        Ok(ServerTls {
            chain,
            key,
            client_roots,
            config: Arc::new(config),
        })
    }

    /// An acceptor offering `alpn`.
    pub(crate) fn acceptor(&self, alpn: &[&[u8]]) -> TlsAcceptor {
        let mut config = (*self.config).clone();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        TlsAcceptor::from(Arc::new(config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_files_load_and_a_client_ca_requires_client_certificates() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let dir = std::env::temp_dir().join(format!("tracewire-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        let tls = ServerTls::from_pem_files(&cert_path, &key_path).unwrap();
        assert!(!tls.requires_client_cert());
        let tls = tls.client_ca_file(&cert_path).unwrap();
        assert!(tls.requires_client_cert());
        let acceptor = tls.acceptor(&[b"h2"]);
        assert_eq!(acceptor.config().alpn_protocols, [b"h2".to_vec()]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_inputs_name_what_is_wrong() {
        let e = ServerTls::from_pem(b"", b"").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid PEM certificate chain: no CERTIFICATE section found"
        );
        let e =
            ServerTls::from_pem_files("/nonexistent/cert.pem", "/nonexistent/key.pem").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("could not read the certificate chain from /nonexistent/cert.pem: "),
            "{e}"
        );
        let cert = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let e = ServerTls::from_pem(cert, b"nothing").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid PEM private key: no PRIVATE KEY section found"
        );
    }
}
