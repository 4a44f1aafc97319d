//! The OTLP receivers.

pub(crate) mod grpc;
pub(crate) mod http;
