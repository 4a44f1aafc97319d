//! [`CollectorError`]: why a collector could not start.

use std::fmt;
use std::net::SocketAddr;

#[cfg(doc)]
use super::CollectorBuilder;

/// Why a collector could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum CollectorError {
    /// An address could not be bound.
    Bind {
        /// Which listener (`otlp-http`, `otlp-grpc` or `api`).
        what: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The collector's own runtime could not be started ([`CollectorBuilder::start`]).
    Runtime(std::io::Error),
    /// Forwarding of kept traces was configured but could not start.
    Forward(String),
    /// [`CollectorBuilder::max_in_flight_bytes`] is below
    /// [`CollectorBuilder::max_request_bytes`], so the largest requests could never be taken.
    InFlightBudgetTooSmall {
        /// The budget of bytes in flight.
        max_in_flight_bytes: usize,
        /// The largest request body.
        max_request_bytes: usize,
    },
    /// The [`CollectorBuilder::auth_token`] is not an RFC 6750 `b64token`.
    InvalidAuthToken,
    /// A worker thread could not be started.
    Spawn {
        /// Which thread (`store writer`).
        what: &'static str,
        /// The cause.
        source: std::io::Error,
    },
}

impl fmt::Display for CollectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CollectorError::Bind { what, addr, source } => {
                write!(f, "could not bind the {what} listener to {addr}: {source}")
            }
            CollectorError::Runtime(e) => write!(f, "could not start the collector runtime: {e}"),
            CollectorError::Forward(e) => write!(f, "could not start forwarding: {e}"),
            CollectorError::InFlightBudgetTooSmall {
                max_in_flight_bytes,
                max_request_bytes,
            } => write!(
                f,
                "the budget of request bytes in flight ({max_in_flight_bytes}) is smaller than \
                 the largest request ({max_request_bytes})"
            ),
            CollectorError::InvalidAuthToken => f.write_str(
                "the auth token must be a b64token: letters, digits and -._~+/ with optional \
                 trailing =",
            ),
            CollectorError::Spawn { what, source } => {
                write!(f, "could not start the {what} thread: {source}")
            }
        }
    }
}

impl std::error::Error for CollectorError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CollectorError::Bind { source, .. } => Some(source),
            CollectorError::Runtime(e) | CollectorError::Spawn { source: e, .. } => Some(e),
            _ => None,
        }
    }
}
