//! gRPC server and client layers and a propagation-only interceptor for tonic, for
//! [`tracewire`].
//!
//! The layers are tracewire-tower's, with the [`Grpc`] protocol: the same trust policy, request
//! filter, span-name hook, header (metadata) allowlist, `traceresponse`, and span that ends
//! with the response stream as the HTTP layers, with gRPC's attributes and status.
//!
//! - [`GrpcServerLayer`] goes on `tonic::transport::Server::builder().layer(..)` (or around one
//!   service with tonic's `LayerExt::named_layer`): it extracts the caller's context from the
//!   request metadata and starts a SERVER span per RPC.
//! - [`GrpcClientLayer`] goes around a `Channel`, then into a generated client; [`connect`] and
//!   [`connect_lazy`] build the traced channel from an `Endpoint` so spans know the server's
//!   address. It starts a CLIENT span and injects its context.
//! - [`PropagationInterceptor`] is a named `tonic::service::Interceptor` that only injects the
//!   current context, for `Client::with_interceptor`.
//!
//! # Server
//!
//! ```no_run
//! use tracewire_tonic::{GrpcServerLayer, SkipServices, Trust};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let _guard = tracewire::init()?;
//! tonic::transport::Server::builder()
//!     .layer(
//!         GrpcServerLayer::new()
//!             .filter(SkipServices::health())
//!             .trust(Trust::RestartWithLink)
//!             .record_request_headers(["x-tenant"])
//!             .trace_response_header(),
//!     )
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
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let endpoint = tonic::transport::Endpoint::from_static("http://127.0.0.1:50051");
//! let channel = tracewire_tonic::connect(&endpoint).await?;
//! // let mut client = DispatchClient::new(channel);
//! # let _ = channel;
//! # Ok(())
//! # }
//! ```
//!
//! Around any other gRPC client service: `ServiceBuilder::new().layer(GrpcClientLayer::new())`,
//! with [`Grpc::server_address`] when its requests carry no authority.
//!
//! # Spans
//!
//! One span per RPC, whatever its kind (unary, client-, server- or bidi-streaming). It is named
//! `{package.Service}/{Method}` from the request path ([`GrpcSpanName`], or the layer's
//! span-name hook) and ends when the response stream ends (the status is read from the
//! trailers, or from the headers of a trailers-only response), when the stream fails, or when
//! the call is cancelled (the response future or body dropped early). On the server, the
//! handler's future and its response stream are polled inside the span, so spans and outbound
//! calls the handler makes while streaming stay in the trace. Work spawned onto other tasks
//! needs [`tracewire::spawn`] to keep the context.
//!
//! Attributes, per the OpenTelemetry semantic conventions **v1.44.0** for RPC and gRPC:
//!
//! | attribute | value |
//! |---|---|
//! | `rpc.system.name` | `grpc` |
//! | `rpc.method` | `package.Service/Method` (`_OTHER` when the path is not a gRPC path, with `rpc.method_original`) |
//! | `rpc.response.status_code` | the code's name: `OK`, `NOT_FOUND`, … ([`code_name`]) |
//! | `server.address`, `server.port` | server: the request's `:authority`; client: the request URI, else the endpoint ([`connect`], [`Grpc::server_address`]); IPv6 without brackets |
//! | `network.peer.address`, `network.peer.port` | server: the caller's socket address (feature `connect-info`) |
//! | `rpc.request.metadata.<key>`, `rpc.response.metadata.<key>` | allowlisted metadata (`record_request_headers`, `record_response_headers`), string arrays |
//! | `error.type` | the code's name when the span failed; for a failure without a gRPC status, the error's kind (`ErrorRef::error_type`) |
//!
//! With `OTEL_SEMCONV_STABILITY_OPT_IN=rpc/dup` (or [`SemconvStability::StableAndLegacy`]) the
//! previous names are added: `rpc.system = "grpc"`, `rpc.service`, and `rpc.grpc.status_code`
//! as an integer. The previous `rpc.method` held the short method name; the key is shared, so
//! it keeps the current, fully-qualified value. Per-message counts and the `rpc.message` events
//! are not recorded: the conventions deprecated those events (v1.40) without a replacement.
//!
//! Status: on the server only UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE
//! and DATA_LOSS mark the span as failed; on the client every code but OK does. A successful
//! span's status is left unset, never set to OK. A failed span's status message is the
//! `grpc-message` (or the code's name when there is none). A call dropped before it ends records
//! CANCELLED, or DEADLINE_EXCEEDED once its `grpc-timeout` has passed.
//!
//! # Propagation without spans
//!
//! Skipped RPCs and spans disabled by a `tracing` filter still propagate: the server runs the
//! handler with the inbound context the [`Trust`] policy lets through as its ambient context
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
//! | `channel` | yes | [`connect`] and [`connect_lazy`] (turns on `tonic/channel`) |
//!
//! # Where to find what
//!
//! | file | what |
//! |---|---|
//! | `protocol.rs` | [`Grpc`] (settings), the span and its attributes, [`GrpcSpanName`] |
//! | `outcome.rs` | [`GrpcOutcome`]: the final status from head, trailers, errors, cancellation |
//! | `status.rs` | status codes: [`code_name`] (the one name table), error codes per side, parsing `grpc-status` |
//! | `rpc.rs` | [`RpcPath`], `grpc-timeout`, [`SemconvStability`] |
//! | `filter.rs` | [`SkipServices`], [`TraceRpcs`] |
//! | `connect.rs`, `interceptor.rs` | [`connect`]/[`connect_lazy`]; [`PropagationInterceptor`] |
//!
//! The layer, service, future, body, trust policy and filter machinery is tracewire-tower's
//! ([`tracewire_tower::ServerLayer`], [`tracewire_tower::ClientLayer`]).

#[cfg(feature = "channel")]
mod connect;
mod filter;
mod interceptor;
mod outcome;
mod protocol;
mod rpc;
mod status;

#[cfg(test)]
mod test_helpers;
#[cfg(test)]
mod tests;

#[cfg(feature = "channel")]
pub use crate::connect::{connect, connect_lazy};
pub use crate::filter::{SkipServices, TraceRpcs};
pub use crate::interceptor::PropagationInterceptor;
pub use crate::outcome::GrpcOutcome;
pub use crate::protocol::{Grpc, GrpcSpanName};
pub use crate::rpc::{RpcPath, SemconvStability};
pub use crate::status::code_name;
pub use tracewire;
pub use tracewire_tower;
pub use tracewire_tower::{RequestFilter, TraceAll, Trust, TrustPolicy};

use tracewire_tower::{
    BodyHook, ClientLayer, ClientService, ResponseBody, ResponseFuture, ResponseHook, ServerLayer,
    ServerService,
};

/// The gRPC server layer: tracewire-tower's [`ServerLayer`] with the [`Grpc`] protocol.
pub type GrpcServerLayer<N = GrpcSpanName, F = TraceAll, T = Trust> = ServerLayer<Grpc, N, F, T>;

/// A gRPC service traced by a [`GrpcServerLayer`].
pub type GrpcServer<S, N = GrpcSpanName, F = TraceAll, T = Trust> = ServerService<S, Grpc, N, F, T>;

/// The gRPC client layer: tracewire-tower's [`ClientLayer`] with the [`Grpc`] protocol.
pub type GrpcClientLayer<F = TraceAll> = ClientLayer<Grpc, F>;

/// A gRPC client service (a `Channel`) traced by a [`GrpcClientLayer`].
pub type GrpcClient<S, F = TraceAll> = ClientService<S, Grpc, F>;

/// The response body of a traced RPC (server or client).
pub type GrpcResponseBody<B> = ResponseBody<B, BodyHook<GrpcOutcome>>;

/// The response future of a traced gRPC service (server or client).
pub type GrpcResponseFuture<F> = ResponseFuture<F, ResponseHook<GrpcOutcome>>;
