//! gRPC server and client layers and a propagation-only interceptor for tonic, for
//! [`tracewire`].
//!
//! - [`GrpcServerLayer`] goes on `tonic::transport::Server::builder().layer(..)`: it extracts the
//!   caller's context from the request metadata and starts a SERVER span per RPC.
//! - [`GrpcClientLayer`] goes around a `Channel` (`ServiceBuilder::new().layer(..).service(channel)`,
//!   then into a generated client): it starts a CLIENT span and injects its context.
//! - [`PropagationInterceptor`] is a named `tonic::service::Interceptor` that only injects the
//!   current context, for `Client::with_interceptor`.
//!
//! # Server
//!
//! ```no_run
//! use tracewire_tonic::{GrpcServerLayer, SkipServices};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let _guard = tracewire::init()?;
//! tonic::transport::Server::builder()
//!     .layer(GrpcServerLayer::new().filter(SkipServices::health()))
//!     // .add_service(DispatchServer::new(MyDispatch))
//! #   .add_routes(tonic::service::Routes::default())
//!     .serve("127.0.0.1:50051".parse()?)
//!     .await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Client
//!
//! ```no_run
//! use tower::ServiceBuilder;
//! use tracewire_tonic::GrpcClientLayer;
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50051")
//!     .connect()
//!     .await?;
//! let channel = ServiceBuilder::new()
//!     .layer(GrpcClientLayer::new().server_address("127.0.0.1", 50051))
//!     .service(channel);
//! // let mut client = DispatchClient::new(channel);
//! # let _ = channel;
//! # Ok(())
//! # }
//! ```
//!
//! # Spans
//!
//! One span per RPC, whatever its kind (unary, client-, server- or bidi-streaming). It is named
//! `{package.Service}/{Method}` from the request path and ends when the response stream ends
//! (the status is read from the trailers, or from the headers of a trailers-only response), when
//! the stream fails, or when the call is cancelled (the response future or body dropped early).
//! On the server, the handler's future and its response stream are polled inside the span, so
//! spans and outbound calls the handler makes while streaming stay in the trace. Work spawned
//! onto other tasks needs [`tracewire::spawn`] to keep the context.
//!
//! Attributes (current RPC semantic conventions):
//!
//! | attribute | value |
//! |---|---|
//! | `rpc.system.name` | `grpc` |
//! | `rpc.method` | `package.Service/Method` (`_OTHER` when the path is not a gRPC path, with `rpc.method_original`) |
//! | `rpc.status_code` | the code's name: `OK`, `NOT_FOUND`, … |
//! | `server.address`, `server.port` | server: the request's `:authority` (else the local socket address); client: the request URI or [`GrpcClientLayer::server_address`] |
//! | `network.peer.address`, `network.peer.port` | server: the caller's socket address (feature `connect-info`) |
//! | `error.type` | the code's name when the span failed; `_OTHER` for a transport or service error without a status |
//! | `rpc.grpc.messages_sent`, `rpc.grpc.messages_received` | messages counted in the request and response streams |
//!
//! With `OTEL_SEMCONV_STABILITY_OPT_IN=rpc/dup` (or [`SemconvStability::StableAndLegacy`]) the
//! older names are added: `rpc.system = "grpc"`, `rpc.service`, and `rpc.grpc.status_code` as an
//! integer. `rpc.method` belongs to both sets and keeps its current, fully-qualified value.
//!
//! Status: on the server only UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE
//! and DATA_LOSS mark the span as failed; on the client every code but OK does. A successful
//! span's status is left unset, never set to OK. A failed span's status message is the
//! `grpc-message` (or the code's name when there is none). A call dropped before it ends records
//! CANCELLED, or DEADLINE_EXCEEDED once its `grpc-timeout` has passed.
//!
//! # Propagation without spans
//!
//! Skipped RPCs ([`RpcFilter`]) and spans disabled by a `tracing` filter still propagate: the
//! server runs the handler with the inbound context as its ambient context
//! ([`tracewire::current`]), and the client injects the current context. Malformed or oversized
//! trace metadata never fails an RPC: it is reported through
//! [`tracewire::diagnostics::report_extract_error`] and the RPC starts a new trace. Binary
//! (`-bin`) metadata is never read.
//!
//! # Features
//!
//! | feature | default | adds |
//! |---|---|---|
//! | `connect-info` | yes | `network.peer.*` on server spans from tonic's `TcpConnectInfo` (turns on `tonic/server`) |

#[macro_use]
mod macros;

pub mod body;
mod client;
mod filter;
pub mod future;
mod rpc;
mod server;
mod trust;

pub use crate::client::{GrpcClient, GrpcClientLayer, PropagationInterceptor};
pub use crate::filter::{RpcFilter, SkipServices};
pub use crate::rpc::{RpcPath, SemconvStability};
pub use crate::server::{GrpcServer, GrpcServerLayer};
pub use crate::trust::TrustPolicy;
pub use tracewire;

#[cfg(test)]
mod test_helpers;
