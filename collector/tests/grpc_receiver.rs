//! OTLP/gRPC receiver: ingest (plain and gzip), partial success, bad input, back-pressure.

mod common;

use bytes::{Buf, BufMut};
use common::*;
use prost::Message;
use tonic::Code;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tracewire_collector::model::TraceId;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_plain_and_gzip_with_partial_success() {
    let h = start().await;
    let mut c = grpc_client(&h).await;
    let resp = c
        .export(request(
            "grpc-svc",
            vec![span(1, 1, 0, "root"), span(1, 2, 1, "child")],
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.partial_success, None);

    let mut gz = grpc_client(&h)
        .await
        .send_compressed(CompressionEncoding::Gzip);
    let mut bad = span(2, 3, 0, "bad");
    bad.trace_id = vec![0; 16];
    let resp = gz
        .export(request("grpc-gz", vec![span(2, 4, 0, "ok"), bad]))
        .await
        .unwrap()
        .into_inner();
    let ps = resp.partial_success.unwrap();
    assert_eq!(
        (ps.rejected_spans, ps.error_message.as_str()),
        (1, "trace_id must not be all zeros")
    );

    h.flush().await;
    assert_eq!(h.services(), vec!["grpc-gz", "grpc-svc"]);
    let t = h.trace(TraceId::from_u128(1)).unwrap();
    assert_eq!(t.root().unwrap().span.name(), "root");
    assert_eq!(t.nodes[1].span.name(), "child");
    h.shutdown().await;
}

/// Sends raw bytes as the request message, to put malformed protobuf on the wire.
#[derive(Clone, Copy, Default)]
struct RawCodec;
struct RawEnc;
struct RawDec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawEnc;
    type Decoder = RawDec;
    fn encoder(&mut self) -> RawEnc {
        RawEnc
    }
    fn decoder(&mut self) -> RawDec {
        RawDec
    }
}

impl Encoder for RawEnc {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawDec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

async fn raw_export(
    h: &tracewire_collector::CollectorHandle,
    body: Vec<u8>,
) -> Result<Vec<u8>, tonic::Status> {
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://{}", h.otlp_grpc_addr().unwrap()))
            .unwrap()
            .connect()
            .await
            .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let path = http::uri::PathAndQuery::from_static(
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    );
    grpc.unary(tonic::Request::new(body), path, RawCodec)
        .await
        .map(|r| r.into_inner())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_protobuf_is_invalid_argument() {
    let h = start().await;
    let mut pb = request("svc", vec![span(1, 1, 0, "a")]).encode_to_vec();
    pb.truncate(pb.len() - 3);
    let err = raw_export(&h, pb).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message()
            .starts_with("invalid protobuf ExportTraceServiceRequest: "),
        "{}",
        err.message()
    );
    h.flush().await;
    assert_eq!(h.stats().spans, 0);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_message_is_refused() {
    let h = start_with(|b| b.max_request_bytes(16 * 1024)).await;
    let big: Vec<_> = (1..=1000).map(|i| span(1, i, 0, "x")).collect();
    let err = grpc_client(&h)
        .await
        .export(request("svc", big))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::OutOfRange);
    h.flush().await;
    assert_eq!(h.stats().spans, 0);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_ingest_queue_is_unavailable() {
    let (gate, b) = gated(builder().ingest_queue_spans(1));
    let h = b.spawn().await.unwrap();
    let mut c = grpc_client(&h).await;
    c.export(request("svc", vec![span(1, 1, 0, "block")]))
        .await
        .unwrap();
    gate.wait_blocked();
    let err = c
        .export(request("svc", vec![span(1, 2, 0, "x")]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert_eq!(err.message(), "collector ingest queue is full; retry later");
    gate.release();
    h.shutdown().await;
}
