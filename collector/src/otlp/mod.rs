//! OTLP on the way in: bounded decoding (`decode.rs`, with the allocation-free pre-pass in
//! `wire.rs`), conversion to the store's batches (`convert.rs`), and the `google.rpc.Status`
//! error body.
//!
//! Receivers decode with [`decode_protobuf_within`] (or [`crate::json::decode_request_within`]),
//! which refuse a request past the collector's [`DecodeLimits`] before decoding it, then
//! [`convert_within`] it and submit the batches to the ingest queue, which accounts for their
//! bytes.

mod convert;
mod decode;
mod wire;

#[cfg(test)]
mod tests;

#[cfg(test)]
pub(crate) use self::convert::convert;
pub(crate) use self::convert::convert_within;
#[cfg(test)]
pub(crate) use self::decode::decode_protobuf;
pub(crate) use self::decode::{DecodeError, DecodeLimits, decode_protobuf_within};

/// `google.rpc.Status`, the error body of OTLP/HTTP (and gRPC) failures.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct RpcStatus {
    /// A `google.rpc.Code`.
    #[prost(int32, tag = "1")]
    pub(crate) code: i32,
    /// What went wrong, for a developer.
    #[prost(string, tag = "2")]
    pub(crate) message: String,
}

/// `google.rpc.Code` values used here.
pub(crate) mod code {
    pub(crate) const INVALID_ARGUMENT: i32 = 3;
    pub(crate) const UNAVAILABLE: i32 = 14;
}
