//! OTLP/gRPC: `opentelemetry.proto.collector.trace.v1.TraceService/Export`, gzip accepted.
//!
//! The service is written out by hand rather than taken from the generated
//! `TraceServiceServer` so that an undecodable request is answered with `INVALID_ARGUMENT`, as
//! OTLP asks, instead of the `INTERNAL` that the stock codec reports. A full ingest queue is
//! `UNAVAILABLE` (retryable); rejected spans are reported in `partial_success`. The edge's
//! request-body errors arrive as statuses (`RESOURCE_EXHAUSTED` over the budget of bytes in
//! flight, `DEADLINE_EXCEEDED` for a body too slow) and are answered as such.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Buf;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Request, Response, Status};

use crate::ingest::{Shared, SubmitError};
use crate::otlp::{DecodeLimits, convert_within};

/// The gRPC path of the trace export method.
pub(crate) const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// The OTLP trace service.
#[derive(Clone)]
pub(crate) struct TraceServiceServer {
    shared: Arc<Shared>,
    max_message: usize,
}

impl TraceServiceServer {
    pub(crate) fn new(shared: Arc<Shared>, max_message: usize) -> Self {
        TraceServiceServer {
            shared,
            max_message,
        }
    }
}

impl NamedService for TraceServiceServer {
    const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
}

struct Export(Arc<Shared>);

impl UnaryService<ExportTraceServiceRequest> for Export {
    type Response = ExportTraceServiceResponse;
    type Future = std::future::Ready<Result<Response<ExportTraceServiceResponse>, Status>>;

    fn call(&mut self, request: Request<ExportTraceServiceRequest>) -> Self::Future {
        std::future::ready(export(&self.0, request.into_inner()))
    }
}

fn export(
    shared: &Shared,
    request: ExportTraceServiceRequest,
) -> Result<Response<ExportTraceServiceResponse>, Status> {
    let converted = convert_within(request, &shared.decode);
    let rejected = converted.rejected as u64;
    let response = converted.response();
    if converted.accepted > 0 {
        match shared.submit(converted.batches) {
            Ok(_) => {}
            Err(SubmitError::Full) => {
                return Err(Status::unavailable(
                    "collector ingest queue is full; retry later",
                ));
            }
            Err(SubmitError::Closed) => {
                return Err(Status::unavailable("collector is shutting down"));
            }
        }
    }
    shared.count_rejected(rejected);
    Ok(Response::new(response))
}

impl<B> tower_service::Service<http::Request<B>> for TraceServiceServer
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Infallible>> + Send>,
    >;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let shared = self.shared.clone();
        let max = self.max_message;
        if req.uri().path() != EXPORT_PATH {
            return Box::pin(async move { Ok(Status::unimplemented("").into_http()) });
        }
        Box::pin(async move {
            let mut grpc = Grpc::new(OtlpCodec(shared.decode))
                .accept_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(max);
            Ok(grpc.unary(Export(shared), req).await)
        })
    }
}

/// Prost encoding of the response; decoding of the request with decode failures reported as
/// `INVALID_ARGUMENT`.
#[derive(Clone, Copy)]
struct OtlpCodec(DecodeLimits);

struct OtlpEncoder;
struct OtlpDecoder(DecodeLimits);

impl Codec for OtlpCodec {
    type Encode = ExportTraceServiceResponse;
    type Decode = ExportTraceServiceRequest;
    type Encoder = OtlpEncoder;
    type Decoder = OtlpDecoder;

    fn encoder(&mut self) -> OtlpEncoder {
        OtlpEncoder
    }

    fn decoder(&mut self) -> OtlpDecoder {
        OtlpDecoder(self.0)
    }
}

impl Encoder for OtlpEncoder {
    type Item = ExportTraceServiceResponse;
    type Error = Status;

    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|e| Status::internal(format!("could not encode response: {e}")))
    }
}

impl Decoder for OtlpDecoder {
    type Item = ExportTraceServiceRequest;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Status> {
        let bytes = src.copy_to_bytes(src.remaining());
        crate::otlp::decode_protobuf_within(bytes, &self.0)
            .map(Some)
            .map_err(|e| {
                Status::invalid_argument(format!("invalid protobuf ExportTraceServiceRequest: {e}"))
            })
    }
}
