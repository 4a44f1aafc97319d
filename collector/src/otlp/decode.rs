//! Decoding OTLP requests with every allocation bounded: [`DecodeLimits`], checked on the
//! undecoded bytes, before anything is allocated.

use std::fmt;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

/// What one OTLP request may hold. A request past any limit is refused whole with
/// [`DecodeError`] (400 / `INVALID_ARGUMENT`); nothing of it is decoded or stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DecodeLimits {
    /// `ResourceSpans` per request (default 4,096).
    pub(crate) max_resource_spans: usize,
    /// `ScopeSpans` per request, over all resources (default 4,096).
    pub(crate) max_scope_spans: usize,
    /// Spans per request (default 100,000).
    pub(crate) max_spans: usize,
    /// The most heap bytes the decoded request may hold, by an upper bound computed from the
    /// undecoded bytes (default 64 MiB; a realistic 4 MiB request needs about 20 MiB).
    pub(crate) max_decoded_bytes: usize,
    /// Resource attributes kept per resource; the rest are dropped and counted (default 128).
    pub(crate) max_resource_attributes: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_resource_spans: 4096,
            max_scope_spans: 4096,
            max_spans: 100_000,
            max_decoded_bytes: 64 << 20,
            max_resource_attributes: 128,
        }
    }
}

/// Why a request was not decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum DecodeError {
    /// The bytes are not a valid request (the decoder's reason).
    Invalid(String),
    /// More `what` than the limit in one request.
    TooMany {
        /// `resource spans`, `scope spans` or `spans`.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// Decoding would take more than the limit's bytes.
    TooLarge {
        /// The limit.
        limit: usize,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Invalid(reason) => f.write_str(reason),
            DecodeError::TooMany { what, limit } => write!(
                f,
                "request has more than {limit} {what}, the most one request may carry"
            ),
            DecodeError::TooLarge { limit } => write!(
                f,
                "request would take more than {limit} bytes of memory once decoded, the most one \
                 request may take"
            ),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Decodes an OTLP/protobuf `ExportTraceServiceRequest` within the default [`DecodeLimits`].
#[cfg(test)]
pub(crate) fn decode_protobuf(body: Bytes) -> Result<ExportTraceServiceRequest, DecodeError> {
    decode_protobuf_within(body, &DecodeLimits::default())
}

/// Decodes an OTLP/protobuf `ExportTraceServiceRequest` within `limits`.
pub(crate) fn decode_protobuf_within(
    body: Bytes,
    limits: &DecodeLimits,
) -> Result<ExportTraceServiceRequest, DecodeError> {
    // What the walk refuses is never handed to the decoder, which would allocate up to the
    // fault.
    super::wire::shape(&body, limits)?;
    ExportTraceServiceRequest::decode(body).map_err(|e| DecodeError::Invalid(e.to_string()))
}
