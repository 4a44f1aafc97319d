//! The families that attack by shape: nesting past the decoders' limits, malformed bodies,
//! gzip bombs and random mutations of a well-formed request.

use bytes::Bytes;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;

use crate::hostile::{deep_json, deep_protobuf, gzip_bomb, mutate, rich_request};
use crate::net::grpc_frame;
use crate::payload::{self, PROTOBUF, Rng, attr_value};

use super::*;

pub(super) fn nesting(rng: &mut Rng) -> Vec<Case> {
    use Family::Nesting as N;
    let trace = rng.trace_id();
    let mut wide = payload::span(rng, &trace, &[], "wide");
    wide.attributes = vec![attr_value(
        "wide",
        any_value::Value::ArrayValue(ArrayValue {
            values: vec![AnyValue::default(); 500_000],
        }),
    )];
    let wide = payload::request(payload::resource("reliability-nesting"), vec![wide]);
    let deep = deep_protobuf(rng, 100_000);
    vec![
        case(
            "nesting/depth-32",
            N,
            Transport::PROTOBUF,
            deep_protobuf(rng, 32),
            OK,
        ),
        case(
            "nesting/depth-32",
            N,
            Transport::JSON,
            deep_json(rng, 32),
            OK,
        ),
        case(
            "nesting/depth-100000",
            N,
            Transport::PROTOBUF,
            deep.clone(),
            BAD,
        ),
        case(
            "nesting/depth-100000",
            N,
            Transport::PROTOBUF_GZIP,
            payload::gzip(&deep),
            BAD,
        ),
        case(
            "nesting/depth-100000",
            N,
            Transport::GRPC,
            grpc_frame(&deep, false),
            GRPC_BAD,
        ),
        case(
            "nesting/depth-50000",
            N,
            Transport::JSON,
            deep_json(rng, 50_000),
            BAD,
        ),
        // 1 MB of empty values: decoded, each is a whole `AnyValue`. Either stored within the
        // decode budget or refused by it; nothing else.
        case(
            "nesting/flat-array-of-500000",
            N,
            Transport::PROTOBUF,
            payload::protobuf(&wide),
            &[200, 400],
        ),
    ]
}

pub(super) fn malformed(rng: &mut Rng) -> Vec<Case> {
    use Family::Malformed as M;
    let garbage: Bytes = (0..65_536).map(|_| rng.next_u64() as u8).collect();
    let good = payload::protobuf(&rich_request(rng, 8));
    let good_json = payload::json(&rich_request(rng, 8));
    let gz = payload::gzip(&good);
    let trace = rng.trace_id();
    let mut bad_utf8 = payload::protobuf(&payload::request(
        payload::resource("reliability-malformed"),
        vec![payload::span(rng, &trace, &[], "NAME-HERE")],
    ))
    .to_vec();
    if let Some(at) = bad_utf8.windows(9).position(|w| w == b"NAME-HERE") {
        bad_utf8[at] = 0xff;
    }
    let bad_ids = payload::request(
        payload::resource("reliability-malformed"),
        vec![
            Span {
                trace_id: vec![1, 2, 3],
                span_id: rng.span_id(),
                name: "short-trace-id".into(),
                ..Span::default()
            },
            Span {
                trace_id: rng.trace_id(),
                span_id: vec![0; 8],
                name: "zero-span-id".into(),
                ..Span::default()
            },
        ],
    );
    let mut long_prefix = grpc_frame(&good, false).to_vec();
    long_prefix[1..5].copy_from_slice(&u32::MAX.to_be_bytes());
    let other = |content_type, encoding| Transport::Http {
        content_type,
        encoding,
    };
    vec![
        case(
            "malformed/garbage",
            M,
            Transport::PROTOBUF,
            garbage.clone(),
            BAD,
        ),
        case(
            "malformed/garbage",
            M,
            Transport::JSON,
            garbage.clone(),
            BAD,
        ),
        case(
            "malformed/garbage",
            M,
            Transport::GRPC,
            grpc_frame(&garbage, false),
            GRPC_BAD,
        ),
        case(
            "malformed/empty-request",
            M,
            Transport::PROTOBUF,
            Bytes::new(),
            OK,
        ),
        case(
            "malformed/truncated",
            M,
            Transport::PROTOBUF,
            good.slice(..good.len() / 2),
            BAD,
        ),
        case(
            "malformed/truncated",
            M,
            Transport::JSON,
            good_json.slice(..good_json.len() / 2),
            BAD,
        ),
        case(
            "malformed/trailing-garbage",
            M,
            Transport::JSON,
            Bytes::from([&good_json[..], b"}]garbage"].concat()),
            BAD,
        ),
        case(
            "malformed/invalid-utf8-name",
            M,
            Transport::PROTOBUF,
            Bytes::from(bad_utf8),
            BAD,
        ),
        case(
            "malformed/bad-ids",
            M,
            Transport::PROTOBUF,
            payload::protobuf(&bad_ids),
            OK,
        ),
        case(
            "malformed/text-plain",
            M,
            other("text/plain", None),
            good.clone(),
            &[415],
        ),
        case(
            "malformed/brotli",
            M,
            other(PROTOBUF, Some("br")),
            good.clone(),
            &[415],
        ),
        case(
            "malformed/not-gzip",
            M,
            Transport::PROTOBUF_GZIP,
            good.clone(),
            BAD,
        ),
        case(
            "malformed/truncated-gzip",
            M,
            Transport::PROTOBUF_GZIP,
            gz.slice(..gz.len() / 2),
            BAD,
        ),
        case(
            "malformed/length-prefix-past-body",
            M,
            Transport::GRPC,
            Bytes::from(long_prefix),
            GRPC_BROKEN,
        ),
        case(
            "malformed/compressed-flag-undeclared",
            M,
            Transport::GRPC,
            grpc_frame(&good, true),
            GRPC_BROKEN,
        ),
        case(
            "malformed/half-a-prefix",
            M,
            Transport::GRPC,
            Bytes::from_static(&[0, 0, 0]),
            GRPC_BROKEN,
        ),
    ]
}

pub(super) fn bombs(bytes: usize) -> Vec<Case> {
    use Family::Bomb as B;
    let bomb = gzip_bomb(bytes);
    let member = gzip_bomb((bytes / 64).max(1 << 20));
    let many: Vec<u8> = std::iter::repeat_n(&member[..], 64)
        .flatten()
        .copied()
        .collect();
    let nested = payload::gzip(&gzip_bomb(bytes));
    vec![
        case(
            "bomb/gzip",
            B,
            Transport::PROTOBUF_GZIP,
            bomb.clone(),
            &[413],
        ),
        case("bomb/gzip", B, Transport::JSON_GZIP, bomb.clone(), &[413]),
        case(
            "bomb/gzip-64-members",
            B,
            Transport::PROTOBUF_GZIP,
            Bytes::from(many),
            &[413],
        ),
        // One layer inflates to the inner bomb (small, not a request): refused as undecodable.
        case(
            "bomb/gzip-in-gzip",
            B,
            Transport::PROTOBUF_GZIP,
            nested,
            BAD,
        ),
        case(
            "bomb/gzip",
            B,
            Transport::Grpc { gzip: true },
            grpc_frame(&bomb, true),
            // RESOURCE_EXHAUSTED or OUT_OF_RANGE: past the message size cap.
            &[8, 11],
        ),
    ]
}

/// Random mutations of well-formed requests: half protobuf, a quarter JSON, and the rest split
/// between gzip (mutated before or after compression) and gRPC.
pub(super) fn mutations(rng: &mut Rng, n: usize) -> impl Iterator<Item = Case> + use<> {
    let mut rng = rng.clone();
    let base = payload::protobuf(&rich_request(&mut rng, 16));
    let base_json = payload::json(&rich_request(&mut rng, 16));
    let base_gz = payload::gzip(&base);
    const ANY: &[u32] = &[200, 400];
    const GRPC_ANY: &[u32] = &[0, 3, 13];
    (0..n).map(move |i| {
        let (transport, body, expect) = match i % 8 {
            0..=3 => (Transport::PROTOBUF, mutate(&mut rng, &base), ANY),
            4 | 5 => (Transport::JSON, mutate(&mut rng, &base_json), ANY),
            6 if i % 16 == 6 => (Transport::PROTOBUF_GZIP, mutate(&mut rng, &base_gz), ANY),
            6 => (
                Transport::PROTOBUF_GZIP,
                payload::gzip(&mutate(&mut rng, &base)),
                ANY,
            ),
            _ => (
                Transport::GRPC,
                grpc_frame(&mutate(&mut rng, &base), false),
                GRPC_ANY,
            ),
        };
        case(
            format!("mutation/{}", transport.label()),
            Family::Mutation,
            transport,
            body,
            expect,
        )
    })
}
