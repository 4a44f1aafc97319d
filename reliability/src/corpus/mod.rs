//! The hostile OTLP corpus: every case is a body, the listener and encoding it goes to, and
//! the answers a sound collector may give (HTTP statuses, or `grpc-status` codes). Cases are
//! built one at a time as the iterator is read, so the corpus never sits in memory whole.
//!
//! | family | what |
//! |---|---|
//! | amplification | a big resource shared by thousands of scopes, thousands of resources |
//! | overflow | counts at `u32::MAX` with more dropped on top, extreme integers, times and enums, out-of-range JSON numbers |
//! | nesting | `AnyValue` arrays and key-value lists nested past the decoders' limits, a huge flat array |
//! | malformed | garbage, truncations, wrong content types and encodings, invalid UTF-8, bad ids, bad gRPC frames |
//! | mutation | random mutations of a well-formed request, in every encoding |
//! | bomb | gzip bombs (one member, many members, nested) over HTTP and gRPC |

use bytes::Bytes;
use serde::Serialize;

use crate::payload::{JSON, PROTOBUF, Rng};

mod broken;
mod volume;

use self::broken::{bombs, malformed, mutations, nesting};
use self::volume::{amplification, overflow};

/// A family of attacks, for the tally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// Requests that cost the collector far more than their size.
    Amplification,
    /// Numbers at and past their types' ends.
    Overflow,
    /// Values nested deeper than decoders recurse.
    Nesting,
    /// Bodies that are not valid requests.
    Malformed,
    /// Random mutations of valid requests.
    Mutation,
    /// Small bodies that decompress to huge ones.
    Bomb,
}

impl Family {
    /// Every family, in the order above.
    pub const ALL: [Family; 6] = [
        Family::Amplification,
        Family::Overflow,
        Family::Nesting,
        Family::Malformed,
        Family::Mutation,
        Family::Bomb,
    ];
}

/// Where a case is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `POST /v1/traces` on the OTLP/HTTP listener.
    Http {
        /// `Content-Type`.
        content_type: &'static str,
        /// `Content-Encoding`, if any.
        encoding: Option<&'static str>,
    },
    /// `TraceService/Export` on the gRPC listener; the body is already framed.
    Grpc {
        /// Whether `grpc-encoding: gzip` is declared.
        gzip: bool,
    },
}

impl Transport {
    const PROTOBUF: Transport = Transport::Http {
        content_type: PROTOBUF,
        encoding: None,
    };
    const JSON: Transport = Transport::Http {
        content_type: JSON,
        encoding: None,
    };
    const PROTOBUF_GZIP: Transport = Transport::Http {
        content_type: PROTOBUF,
        encoding: Some("gzip"),
    };
    const JSON_GZIP: Transport = Transport::Http {
        content_type: JSON,
        encoding: Some("gzip"),
    };
    const GRPC: Transport = Transport::Grpc { gzip: false };

    /// A short name: `protobuf`, `json+gzip`, `grpc`, ...
    pub fn label(&self) -> &'static str {
        match *self {
            Transport::Http {
                content_type: PROTOBUF,
                encoding: None,
            } => "protobuf",
            Transport::Http {
                content_type: PROTOBUF,
                encoding: Some(_),
            } => "protobuf+gzip",
            Transport::Http {
                content_type: JSON,
                encoding: None,
            } => "json",
            Transport::Http {
                content_type: JSON,
                encoding: Some(_),
            } => "json+gzip",
            Transport::Http { .. } => "http-other",
            Transport::Grpc { gzip: false } => "grpc",
            Transport::Grpc { gzip: true } => "grpc+gzip",
        }
    }
}

/// What to verify through the API once a case is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// The span's dropped counts of attributes, events and links saturate at `u32::MAX`.
    Saturated {
        /// The span's trace, as lowercase hex.
        trace_id: String,
    },
}

/// One hostile request.
#[derive(Debug, Clone)]
pub struct Case {
    /// `family/what`.
    pub name: String,
    /// The family.
    pub family: Family,
    /// Where it goes.
    pub transport: Transport,
    /// The bytes sent.
    pub body: Bytes,
    /// The answers a sound collector may give: HTTP statuses, or gRPC codes.
    pub expect: &'static [u32],
    /// What to verify afterwards.
    pub check: Option<Check>,
}

/// How big the corpus is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Random mutations, over all encodings.
    pub mutations: usize,
    /// Decompressed size of each gzip bomb.
    pub bomb_bytes: usize,
}

const OK: &[u32] = &[200];
const BAD: &[u32] = &[400];
const GRPC_OK: &[u32] = &[0];
const GRPC_BAD: &[u32] = &[3];
/// A gRPC body the framing layer refuses: `INVALID_ARGUMENT`, `OUT_OF_RANGE` (a length past
/// the message cap), `UNIMPLEMENTED` or `INTERNAL` (tonic's answers to a broken frame or an
/// undeclared compression).
const GRPC_BROKEN: &[u32] = &[3, 11, 12, 13];

fn case(
    name: impl Into<String>,
    family: Family,
    transport: Transport,
    body: Bytes,
    expect: &'static [u32],
) -> Case {
    Case {
        name: name.into(),
        family,
        transport,
        body,
        expect,
        check: None,
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The whole corpus for `plan`, reproducible from `seed`.
pub fn cases(plan: Plan, seed: u64) -> impl Iterator<Item = Case> {
    let mut rng = Rng::new(seed);
    type Build = fn(&mut Rng, &Plan) -> Vec<Case>;
    let groups: [Build; 5] = [
        |r, _| amplification(r),
        |r, _| overflow(r),
        |r, _| nesting(r),
        |r, _| malformed(r),
        |_, p| bombs(p.bomb_bytes),
    ];
    let tail = mutations(&mut rng, plan.mutations);
    groups
        .into_iter()
        .flat_map(move |build| build(&mut rng, &plan))
        .chain(tail)
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::volume::{saturating_span, shared_resource};
    use super::*;
    use crate::payload;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

    #[test]
    fn the_quick_corpus_has_every_family_and_fits_the_request_cap() {
        let plan = Plan {
            mutations: 16,
            bomb_bytes: 8 << 20,
        };
        let all: Vec<Case> = cases(plan, 1).collect();
        for f in Family::ALL {
            assert!(all.iter().any(|c| c.family == f), "{f:?}");
        }
        assert_eq!(
            all.iter().filter(|c| c.family == Family::Mutation).count(),
            16
        );
        for c in &all {
            assert!(
                c.body.len() < 4 << 20,
                "{} is {} bytes",
                c.name,
                c.body.len()
            );
            assert!(!c.expect.is_empty());
        }
    }

    #[test]
    fn cases_meant_to_be_stored_are_valid_requests() {
        let mut rng = Rng::new(2);
        let mut groups = amplification(&mut rng);
        groups.extend(overflow(&mut rng));
        for c in groups
            .iter()
            .filter(|c| c.expect == OK && c.transport == Transport::PROTOBUF)
        {
            assert!(
                ExportTraceServiceRequest::decode(c.body.clone()).is_ok(),
                "{}",
                c.name
            );
        }
        let (c, id) = saturating_span(&mut rng);
        assert_eq!(
            c.check,
            Some(Check::Saturated {
                trace_id: id.clone()
            })
        );
        let req = ExportTraceServiceRequest::decode(c.body).unwrap();
        let s = &req.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(
            (s.dropped_attributes_count, s.attributes.len()),
            (u32::MAX, 300)
        );
        assert_eq!(hex(&s.trace_id), id);
    }

    #[test]
    fn the_amplifying_requests_have_the_sizes_of_the_report() {
        let mut rng = Rng::new(3);
        let small = payload::protobuf(&shared_resource(&mut rng, 64, 5000, 5000));
        assert!((300_000..400_000).contains(&small.len()), "{}", small.len());
        let huge = payload::protobuf(&shared_resource(&mut rng, 1024, 90_000, 1));
        assert!((1_000_000..4 << 20).contains(&huge.len()), "{}", huge.len());
    }
}
