//! Certificates for TLS tests, made in the test with `rcgen`: a CA, server certificates (valid
//! or expired) and client certificates, all as PEM; rustls client and server configurations
//! built from them; and a temporary directory for PEM files (what `OTEL_EXPORTER_OTLP_*`
//! variables point at).
//!
//! The workspace's one set of test certificates: the file depends only on `rcgen` and `rustls`
//! (with `ring`), so the tests of every crate include it as it is:
//!
//! ```ignore
//! #[path = "../../collector/tests/common/tls.rs"]
//! mod tls;
//!
//! let ca = tls::TestCa::new("test CA");
//! let server = ca.server(&["localhost", "127.0.0.1"]);
//! let collector_tls = tracewire_collector::ServerTls::from_pem(
//!     server.cert_pem.as_bytes(),
//!     server.key_pem.as_bytes(),
//! )?;
//! // ... a client trusting `ca.cert_pem` ...
//! ```

#![allow(
    dead_code,
    unreachable_pub,
    reason = "each test file uses a different part of the helpers"
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A certificate and its private key, as PEM.
#[derive(Debug, Clone)]
pub struct CertAndKey {
    pub cert_pem: String,
    pub key_pem: String,
}

impl CertAndKey {
    /// The certificate as rustls wants a chain.
    pub fn chain(&self) -> Vec<CertificateDer<'static>> {
        certs(&self.cert_pem)
    }

    /// The private key as rustls wants it.
    pub fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).unwrap()
    }
}

/// A certificate authority made for one test.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate, as PEM: what clients (or, for mTLS, the server) trust.
    pub cert_pem: String,
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        TestCa {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    fn leaf(&self, names: &[&str], purpose: ExtendedKeyUsagePurpose, expired: bool) -> CertAndKey {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names.clone()).unwrap();
        if let Some(first) = names.first() {
            params
                .distinguished_name
                .push(DnType::CommonName, first.as_str());
        }
        params.extended_key_usages = vec![purpose];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        if expired {
            params.not_before = rcgen::date_time_ymd(2000, 1, 1);
            params.not_after = rcgen::date_time_ymd(2001, 1, 1);
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        CertAndKey {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// A server certificate for these names (DNS names or IP addresses).
    pub fn server(&self, names: &[&str]) -> CertAndKey {
        self.leaf(names, ExtendedKeyUsagePurpose::ServerAuth, false)
    }

    /// A server certificate that expired in 2001.
    pub fn expired_server(&self, names: &[&str]) -> CertAndKey {
        self.leaf(names, ExtendedKeyUsagePurpose::ServerAuth, true)
    }

    /// A client certificate (for mutual TLS).
    pub fn client(&self, name: &str) -> CertAndKey {
        self.leaf(&[name], ExtendedKeyUsagePurpose::ClientAuth, false)
    }
}

impl TestCa {
    /// The CA certificate as a rustls root store.
    pub fn roots(&self) -> rustls::RootCertStore {
        roots(&self.cert_pem)
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(pem: &str) -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    for c in certs(pem) {
        roots.add(c).unwrap();
    }
    roots
}

fn certs(pem: &str) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<_, _>>()
        .unwrap()
}

/// A rustls client configuration (ring provider) trusting `ca_pem` only, presenting `client`
/// when given, offering `alpn`.
pub fn client_config(
    ca_pem: &str,
    client: Option<&CertAndKey>,
    alpn: &[&[u8]],
) -> Arc<rustls::ClientConfig> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots(ca_pem));
    let mut config = match client {
        None => builder.with_no_client_auth(),
        Some(c) => builder.with_client_auth_cert(c.chain(), c.key()).unwrap(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// A rustls server configuration (ring provider) presenting `server`, requiring a client
/// certificate signed by `client_ca` when one is given, offering `alpn` (`h2` for gRPC).
pub fn server_config(
    server: &CertAndKey,
    client_ca: Option<&TestCa>,
    alpn: &[&[u8]],
) -> Arc<rustls::ServerConfig> {
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match client_ca {
        Some(ca) => {
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(ca.roots()),
                provider(),
            )
            .build()
            .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(server.chain(), server.key())
        .unwrap();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// A directory of PEM files under the system's temporary directory, removed when dropped.
pub struct PemDir(PathBuf);

impl PemDir {
    /// A fresh directory whose name starts with `prefix`.
    pub fn new(prefix: &str) -> PemDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "{prefix}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        PemDir(dir)
    }

    /// Writes `contents` to `name` in the directory and returns its path.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for PemDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
