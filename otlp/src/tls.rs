//! TLS settings: trusted roots, a custom CA, a client identity for mTLS; the rustls client
//! configuration built from them; and the translation of rustls failures into [`TlsError`].
//!
//! Roots: with no custom CA the exporter trusts the operating system's store
//! (`rustls-native-certs`: `/etc/ssl/certs` and friends, `SSL_CERT_FILE`/`SSL_CERT_DIR`, the
//! macOS keychain, the Windows store), so private CAs an operator installed work as they do for
//! every other program. When that store is empty or unreadable — `scratch` and distroless
//! images often ship none — it falls back to the Mozilla roots compiled in (`webpki-roots`), so
//! hosted backends still verify. A custom CA (`OTEL_EXPORTER_OTLP_CERTIFICATE`) replaces both,
//! as the OpenTelemetry SDKs do: it is then the only trusted root.

use std::path::PathBuf;

use crate::error::OtlpConfigError;

/// PEM data: a file to read when the exporter is built, or the bytes themselves.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum PemSource {
    File(PathBuf),
    Bytes(Vec<u8>),
}

impl std::fmt::Debug for PemSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Key material is never printed.
        match self {
            PemSource::File(p) => f.debug_tuple("File").field(p).finish(),
            PemSource::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
        }
    }
}

impl PemSource {
    fn origin(&self) -> String {
        match self {
            PemSource::File(p) => p.display().to_string(),
            PemSource::Bytes(_) => "pem given in code".to_owned(),
        }
    }

    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    fn read(&self, role: &'static str) -> Result<Vec<u8>, OtlpConfigError> {
        match self {
            PemSource::Bytes(b) => Ok(b.clone()),
            PemSource::File(p) => std::fs::read(p).map_err(|e| OtlpConfigError::Certificate {
                role,
                origin: self.origin(),
                reason: e.to_string(),
            }),
        }
    }
}

/// The TLS choices of a builder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TlsSettings {
    pub(crate) ca: Option<PemSource>,
    pub(crate) client_certificate: Option<PemSource>,
    pub(crate) client_key: Option<PemSource>,
}

impl TlsSettings {
    /// Checks what can be checked without TLS support: a certificate needs its key.
    pub(crate) fn check(&self) -> Result<(), OtlpConfigError> {
        match (&self.client_certificate, &self.client_key) {
            (Some(_), None) => Err(OtlpConfigError::IncompleteClientIdentity {
                missing: "client key",
            }),
            (None, Some(_)) => Err(OtlpConfigError::IncompleteClientIdentity {
                missing: "client certificate",
            }),
            _ => Ok(()),
        }
    }
}

#[cfg(feature = "tls")]
pub(crate) use self::imp::{ClientAuth, client_config, from_error, plain_config};

#[cfg(feature = "tls")]
mod imp {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, OnceLock};

    use rustls::client::ResolvesClientCert;
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use rustls::sign::CertifiedKey;
    use rustls::{CertificateError, ClientConfig, RootCertStore, SignatureScheme};

    use super::{PemSource, TlsSettings};
    use crate::error::{OtlpConfigError, TlsError};

    /// The client identity, which also notices when a server asks for one that is not
    /// configured. With TLS 1.3 a server checks the client certificate after the client has
    /// finished its handshake, so a refusal arrives as an alert on the first read — or, when
    /// the server closes first, as a bare connection reset, which h2 reports without its
    /// cause. Knowing that the server asked turns that reset into
    /// [`TlsError::ClientCertificateRequired`].
    #[derive(Debug)]
    pub(crate) struct ClientAuth {
        identity: Option<Arc<CertifiedKey>>,
        asked_without: AtomicBool,
    }

    impl ClientAuth {
        /// A server asked for a client certificate, none is configured, and no request has
        /// succeeded since.
        pub(crate) fn asked_without_identity(&self) -> bool {
            self.asked_without.load(Ordering::Relaxed)
        }

        /// A request succeeded: whatever the server asked, it accepts this client.
        pub(crate) fn accepted(&self) {
            self.asked_without.store(false, Ordering::Relaxed);
        }

        fn none() -> Arc<ClientAuth> {
            Arc::new(ClientAuth {
                identity: None,
                asked_without: AtomicBool::new(false),
            })
        }
    }

    impl ResolvesClientCert for ClientAuth {
        fn resolve(&self, _: &[&[u8]], _: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
            if self.identity.is_none() {
                self.asked_without.store(true, Ordering::Relaxed);
            }
            self.identity.clone()
        }

        fn has_certs(&self) -> bool {
            self.identity.is_some()
        }
    }

    fn provider() -> Arc<rustls::crypto::CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    fn certificates(
        src: &PemSource,
        role: &'static str,
    ) -> Result<Vec<CertificateDer<'static>>, OtlpConfigError> {
        let bad = |reason: String| OtlpConfigError::Certificate {
            role,
            origin: src.origin(),
            reason,
        };
        let pem = src.read(role)?;
        let certs = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(e.to_string()))?;
        if certs.is_empty() {
            return Err(bad("no pem certificate found".to_owned()));
        }
        Ok(certs)
    }

    /// The operating system's roots, or the compiled-in Mozilla roots when it has none; loaded
    /// once per process.
    fn default_roots() -> Arc<RootCertStore> {
        static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
        ROOTS
            .get_or_init(|| {
                Arc::new(roots_or_fallback(
                    rustls_native_certs::load_native_certs().certs,
                ))
            })
            .clone()
    }

    /// A store of the usable certificates in `native`, or of the webpki roots if none is.
    pub(super) fn roots_or_fallback(native: Vec<CertificateDer<'static>>) -> RootCertStore {
        let mut store = RootCertStore::empty();
        let (added, _unusable) = store.add_parsable_certificates(native);
        if added == 0 {
            store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        store
    }

    /// The client configuration for a secure endpoint.
    pub(crate) fn client_config(
        settings: &TlsSettings,
    ) -> Result<(Arc<ClientConfig>, Arc<ClientAuth>), OtlpConfigError> {
        settings.check()?;
        let roots = match &settings.ca {
            Some(src) => {
                let mut store = RootCertStore::empty();
                for cert in certificates(src, "ca certificate")? {
                    store.add(cert).map_err(|e| OtlpConfigError::Certificate {
                        role: "ca certificate",
                        origin: src.origin(),
                        reason: e.to_string(),
                    })?;
                }
                Arc::new(store)
            }
            None => default_roots(),
        };
        let auth = match (&settings.client_certificate, &settings.client_key) {
            (Some(cert), Some(key)) => {
                let chain = certificates(cert, "client certificate")?;
                let bad_key = |reason: String| OtlpConfigError::Certificate {
                    role: "client key",
                    origin: key.origin(),
                    reason,
                };
                let key_pem = key.read("client key")?;
                let key_der =
                    PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| bad_key(e.to_string()))?;
                let certified = CertifiedKey::from_der(chain, key_der, &provider())
                    .map_err(|e| bad_key(e.to_string()))?;
                Arc::new(ClientAuth {
                    identity: Some(Arc::new(certified)),
                    asked_without: AtomicBool::new(false),
                })
            }
            _ => ClientAuth::none(),
        };
        let config = builder()?
            .with_root_certificates(roots)
            .with_client_cert_resolver(auth.clone());
        Ok((Arc::new(config), auth))
    }

    fn builder()
    -> Result<rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier>, OtlpConfigError> {
        ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| OtlpConfigError::Certificate {
                role: "ca certificate",
                origin: String::new(),
                reason: e.to_string(),
            })
    }

    /// A configuration for `http://` endpoints: the connector type needs one, but it is never
    /// used, so it trusts nothing (and loads no roots).
    pub(crate) fn plain_config() -> Result<(Arc<ClientConfig>, Arc<ClientAuth>), OtlpConfigError> {
        let auth = ClientAuth::none();
        let config = builder()?
            .with_root_certificates(RootCertStore::empty())
            .with_client_cert_resolver(auth.clone());
        Ok((Arc::new(config), auth))
    }

    /// The TLS failure in `err`'s source chain, if there is one. `host` names the endpoint for
    /// a name mismatch.
    pub(crate) fn from_error(
        err: &(dyn std::error::Error + 'static),
        host: &str,
    ) -> Option<TlsError> {
        let mut cur = Some(err);
        while let Some(e) = cur {
            if let Some(tls) = e.downcast_ref::<rustls::Error>() {
                return Some(classify(tls, host));
            }
            if let Some(tls) = alert_text(e) {
                return Some(tls);
            }
            // An `io::Error`'s `source()` skips the error it wraps (it returns that error's
            // source), and TLS errors arrive wrapped, sometimes twice: look inside instead.
            cur = match e
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
            {
                Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
                None => e.source(),
            };
        }
        None
    }

    /// An alert received after the handshake (TLS 1.3 servers check the client certificate
    /// then) reaches a gRPC client through h2, which keeps only the text of I/O errors: read
    /// it back from the text rustls wrote (`received fatal alert: CertificateRequired`).
    fn alert_text(e: &(dyn std::error::Error + 'static)) -> Option<TlsError> {
        let io = e.downcast_ref::<std::io::Error>()?;
        if io.kind() != std::io::ErrorKind::InvalidData {
            return None;
        }
        let text = io.get_ref()?.to_string();
        let name = text.strip_prefix("received fatal alert: ")?;
        Some(alert(name))
    }

    /// The client-certificate alerts by their rustls names.
    fn alert(name: &str) -> TlsError {
        match name {
            "CertificateRequired" => TlsError::ClientCertificateRequired,
            "BadCertificate"
            | "UnknownCA"
            | "CertificateUnknown"
            | "CertificateExpired"
            | "CertificateRevoked"
            | "UnsupportedCertificate"
            | "AccessDenied" => {
                TlsError::ClientCertificateRejected(format!("the server sent {name}"))
            }
            other => TlsError::Handshake(format!("received fatal alert: {other}")),
        }
    }

    pub(super) fn classify(e: &rustls::Error, host: &str) -> TlsError {
        match e {
            rustls::Error::InvalidCertificate(c) => match c {
                CertificateError::UnknownIssuer => TlsError::UnknownIssuer,
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    TlsError::Expired
                }
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    TlsError::NotYetValid
                }
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => TlsError::NameMismatch {
                    host: host.to_owned(),
                },
                CertificateError::Revoked => TlsError::Revoked,
                other => TlsError::BadCertificate(other.to_string()),
            },
            rustls::Error::AlertReceived(a) => alert(&format!("{a:?}")),
            other => TlsError::Handshake(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_identity_needs_both_halves() {
        let only_certificate = TlsSettings {
            client_certificate: Some(PemSource::Bytes(b"x".to_vec())),
            ..TlsSettings::default()
        };
        let only_key = TlsSettings {
            client_key: Some(PemSource::File("k.pem".into())),
            ..TlsSettings::default()
        };
        for (half, missing) in [
            (only_certificate, "client key"),
            (only_key, "client certificate"),
        ] {
            assert_eq!(
                half.check(),
                Err(OtlpConfigError::IncompleteClientIdentity { missing }),
                "{half:?}"
            );
        }
        assert_eq!(TlsSettings::default().check(), Ok(()));
    }

    #[test]
    fn debug_never_prints_key_material() {
        let s = format!(
            "{:?}",
            PemSource::Bytes(b"-----BEGIN PRIVATE KEY-----".to_vec())
        );
        assert_eq!(s, "Bytes(27 bytes)");
    }

    #[cfg(feature = "tls")]
    #[test]
    fn empty_system_store_falls_back_to_webpki_roots() {
        let store = imp::roots_or_fallback(Vec::new());
        assert_eq!(store.len(), webpki_roots::TLS_SERVER_ROOTS.len());
        // Unparsable entries count as none.
        let junk = rustls::pki_types::CertificateDer::from(vec![1u8, 2, 3]);
        assert_eq!(
            imp::roots_or_fallback(vec![junk]).len(),
            webpki_roots::TLS_SERVER_ROOTS.len()
        );
    }

    #[cfg(feature = "tls")]
    #[test]
    fn bad_pem_is_a_config_error() {
        let settings = TlsSettings {
            ca: Some(PemSource::Bytes(b"not pem".to_vec())),
            ..TlsSettings::default()
        };
        assert_eq!(
            client_config(&settings).unwrap_err(),
            OtlpConfigError::Certificate {
                role: "ca certificate",
                origin: "pem given in code".into(),
                reason: "no pem certificate found".into()
            }
        );
        let settings = TlsSettings {
            ca: Some(PemSource::File("/nonexistent/ca.pem".into())),
            ..TlsSettings::default()
        };
        assert!(matches!(
            client_config(&settings).unwrap_err(),
            OtlpConfigError::Certificate { role: "ca certificate", origin, .. } if origin == "/nonexistent/ca.pem"
        ));
    }

    #[cfg(feature = "tls")]
    #[test]
    fn rustls_failures_are_classified() {
        use rustls::{AlertDescription, CertificateError, Error};
        let c = |e: Error| imp::classify(&e, "collector");
        assert_eq!(
            c(Error::InvalidCertificate(CertificateError::UnknownIssuer)),
            crate::TlsError::UnknownIssuer
        );
        assert_eq!(
            c(Error::InvalidCertificate(CertificateError::NotValidForName)),
            crate::TlsError::NameMismatch {
                host: "collector".into()
            }
        );
        assert_eq!(
            c(Error::AlertReceived(AlertDescription::CertificateRequired)),
            crate::TlsError::ClientCertificateRequired
        );
        // Found inside io::Errors, as hyper-rustls reports it.
        let io = std::io::Error::other(std::io::Error::other(Error::InvalidCertificate(
            CertificateError::Expired,
        )));
        assert_eq!(from_error(&io, "c"), Some(crate::TlsError::Expired));
        assert_eq!(from_error(&std::io::Error::other("reset"), "c"), None);
        // Only the text survives h2.
        let flat = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "received fatal alert: UnknownCA",
        );
        assert_eq!(
            from_error(&flat, "c"),
            Some(crate::TlsError::ClientCertificateRejected(
                "the server sent UnknownCA".into()
            ))
        );
    }
}
