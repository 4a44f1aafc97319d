//! The service dependency graph, inferred from traces.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Serialize;
use tracewire::{SpanId, SpanKind};

use super::AnalysisSpan;
use super::histogram::LatencySummary;

/// The service map: nodes and call edges.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ServiceMap {
    /// Services, sorted by name.
    pub nodes: Vec<ServiceNode>,
    /// Edges, sorted by `(caller, callee)`.
    pub edges: Vec<ServiceEdge>,
}

/// A service in the map.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
#[serde(rename_all = "camelCase")]
pub struct ServiceNode {
    /// The service name.
    #[serde(serialize_with = "super::ser::arc_str")]
    pub name: Arc<str>,
    /// Spans it reported.
    pub span_count: u64,
    /// Its spans with an error status.
    pub error_count: u64,
    /// Whether it reported spans itself (false for peers seen only from client spans).
    pub instrumented: bool,
}

/// Calls from one service to another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
#[serde(rename_all = "camelCase")]
pub struct ServiceEdge {
    /// The calling service.
    #[serde(serialize_with = "super::ser::arc_str")]
    pub caller: Arc<str>,
    /// The called service.
    #[serde(serialize_with = "super::ser::arc_str")]
    pub callee: Arc<str>,
    /// Calls counted.
    pub calls: u64,
    /// Calls that failed.
    pub errors: u64,
    /// Calls found without a client → server pair (rules 2 and 3 of [`ServiceMapBuilder`]).
    pub inferred_calls: u64,
    /// Latency of the calls.
    pub latency: LatencySummary,
}

#[derive(Default)]
struct EdgeAcc {
    calls: u64,
    errors: u64,
    inferred: u64,
    durations: Vec<u64>,
}

/// Accumulates traces into a [`ServiceMap`].
///
/// Edges are found per trace, so each trace must be added whole
/// ([`ServiceMapBuilder::add_trace`]). One *call* is counted for:
///
/// 1. **A client (or producer) span with children in other services**: one call per distinct
///    child service, `caller = client's service`, `callee = child's service`. This is the
///    ordinary, fully instrumented CLIENT → SERVER pair. Latency is the client span's duration
///    (what the caller waited, network included); the call failed if the client span or any of
///    those children failed.
/// 2. **A client (or producer) span with no child in another service but a
///    [`peer_service`](super::AnalysisSpan::peer_service)**: the callee does not report spans
///    (a database, a third-party API), so the edge goes to the peer name. Such callees are
///    nodes with `instrumented: false` unless they also report spans.
/// 3. **Any other span whose parent is in another service** (neither side marked the call as
///    client/server, or the caller has no client span): one call from the parent's service to
///    the span's service, with the child's duration and error status.
///
/// Calls found by rules 2 and 3 are also counted in [`ServiceEdge::inferred_calls`]. Client
/// spans with neither a cross-service child nor a peer, and spans whose parent is missing, add
/// no edge. Percentiles are exact (nearest rank over every call's duration).
///
/// ```
/// use tracewire::{SpanId, SpanKind, TraceId};
/// use tracewire_collector::analysis::{AnalysisSpan, ServiceMapBuilder};
///
/// let t = TraceId::from_u128(7);
/// let call = AnalysisSpan::new(t, SpanId::from_u64(1), "gateway", "GET /price", 0, 30)
///     .with_kind(SpanKind::Client);
/// let serve = AnalysisSpan::new(t, SpanId::from_u64(2), "pricing", "GET /price", 5, 25)
///     .with_kind(SpanKind::Server)
///     .with_parent(SpanId::from_u64(1));
/// let mut map = ServiceMapBuilder::new();
/// map.add_trace(&[call, serve]);
/// let map = map.build();
/// assert_eq!(map.edges.len(), 1);
/// assert_eq!((&*map.edges[0].caller, &*map.edges[0].callee), ("gateway", "pricing"));
/// assert_eq!(map.edges[0].latency.max_ns, 30);
/// ```
#[derive(Default)]
pub struct ServiceMapBuilder {
    nodes: BTreeMap<Arc<str>, (u64, u64, bool)>,
    edges: BTreeMap<(Arc<str>, Arc<str>), EdgeAcc>,
}

impl std::fmt::Debug for ServiceMapBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceMapBuilder")
            .field("services", &self.nodes.len())
            .field("edges", &self.edges.len())
            .finish()
    }
}

impl ServiceMapBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds every span of one trace.
    pub fn add_trace(&mut self, spans: &[AnalysisSpan]) {
        let mut index: HashMap<SpanId, usize> = HashMap::with_capacity(spans.len());
        for (i, s) in spans.iter().enumerate() {
            index.entry(s.span_id).or_insert(i);
            let node = self.nodes.entry(s.service.clone()).or_default();
            node.0 += 1;
            node.1 += u64::from(s.is_error);
            node.2 = true;
        }
        let is_caller_kind = |k: SpanKind| matches!(k, SpanKind::Client | SpanKind::Producer);

        // Rule 1 needs, per client span, its children in other services.
        let mut remote_children: HashMap<usize, Vec<usize>> = HashMap::new();
        for (i, s) in spans.iter().enumerate() {
            let Some(p) = s.parent_span_id.and_then(|p| index.get(&p).copied()) else {
                continue;
            };
            if p == i || spans[p].service == s.service {
                continue;
            }
            if is_caller_kind(spans[p].kind) {
                remote_children.entry(p).or_default().push(i);
            } else {
                // Rule 3.
                self.add_call(
                    &spans[p].service,
                    &s.service,
                    s.duration_ns(),
                    s.is_error,
                    true,
                );
            }
        }
        for (i, s) in spans.iter().enumerate() {
            if !is_caller_kind(s.kind) {
                continue;
            }
            match remote_children.get(&i) {
                Some(children) => {
                    let mut callees: Vec<(&Arc<str>, bool)> = Vec::new();
                    for &c in children {
                        let child = &spans[c];
                        match callees.iter_mut().find(|(svc, _)| **svc == child.service) {
                            Some((_, err)) => *err |= child.is_error,
                            None => callees.push((&child.service, child.is_error)),
                        }
                    }
                    for (callee, child_err) in callees {
                        self.add_call(
                            &s.service,
                            callee,
                            s.duration_ns(),
                            s.is_error || child_err,
                            false,
                        );
                    }
                }
                None => {
                    if let Some(peer) = s.peer_service.as_ref().filter(|p| **p != s.service) {
                        self.nodes.entry(peer.clone()).or_default();
                        self.add_call(&s.service, peer, s.duration_ns(), s.is_error, true);
                    }
                }
            }
        }
    }

    fn add_call(
        &mut self,
        caller: &Arc<str>,
        callee: &Arc<str>,
        dur: u64,
        err: bool,
        inferred: bool,
    ) {
        let e = self
            .edges
            .entry((caller.clone(), callee.clone()))
            .or_default();
        e.calls += 1;
        e.errors += u64::from(err);
        e.inferred += u64::from(inferred);
        e.durations.push(dur);
    }

    /// The map of everything added.
    pub fn build(self) -> ServiceMap {
        ServiceMap {
            nodes: self
                .nodes
                .into_iter()
                .map(
                    |(name, (span_count, error_count, instrumented))| ServiceNode {
                        name,
                        span_count,
                        error_count,
                        instrumented,
                    },
                )
                .collect(),
            edges: self
                .edges
                .into_iter()
                .map(|((caller, callee), mut acc)| ServiceEdge {
                    caller,
                    callee,
                    calls: acc.calls,
                    errors: acc.errors,
                    inferred_calls: acc.inferred,
                    latency: LatencySummary::exact(&mut acc.durations),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::test_support::{client, server, span, span_in};

    fn edges(m: &ServiceMap) -> Vec<(String, String, u64, u64, u64)> {
        m.edges
            .iter()
            .map(|e| {
                (
                    e.caller.to_string(),
                    e.callee.to_string(),
                    e.calls,
                    e.errors,
                    e.inferred_calls,
                )
            })
            .collect()
    }

    #[test]
    fn client_server_pairs_make_edges_with_client_latency() {
        let mut b = ServiceMapBuilder::new();
        for t in 1..=10u64 {
            // gateway root → client → dispatch server; the 10th call fails on the server.
            let d = t * 10;
            b.add_trace(&[
                span_in(t.into(), 1, 0, "gateway", 0, d + 10),
                client(span_in(t.into(), 2, 1, "gateway", 1, d + 1)),
                server(span_in(t.into(), 3, 2, "dispatch", 2, d)).with_error(t == 10),
            ]);
        }
        let m = b.build();
        assert_eq!(edges(&m), [("gateway".into(), "dispatch".into(), 10, 1, 0)]);
        let l = m.edges[0].latency;
        assert_eq!((l.p50_ns, l.p90_ns, l.p99_ns, l.max_ns), (50, 90, 100, 100));
        let names: Vec<&str> = m.nodes.iter().map(|n| &*n.name).collect();
        assert_eq!(names, ["dispatch", "gateway"]);
        assert_eq!((m.nodes[0].span_count, m.nodes[0].error_count), (10, 1));
        assert_eq!((m.nodes[1].span_count, m.nodes[1].error_count), (20, 0));
    }

    #[test]
    fn parent_child_across_services_is_an_inferred_edge() {
        // ranking's server span hangs directly under dispatch's internal span.
        let spans = [
            span(1, 0, "dispatch", 0, 100),
            span(2, 1, "ranking", 10, 40).with_error(true),
            span(3, 1, "dispatch", 50, 60),
        ];
        let mut b = ServiceMapBuilder::new();
        b.add_trace(&spans);
        let m = b.build();
        assert_eq!(edges(&m), [("dispatch".into(), "ranking".into(), 1, 1, 1)]);
        assert_eq!(m.edges[0].latency.p50_ns, 30);
    }

    #[test]
    fn client_without_remote_child_uses_the_peer() {
        let spans = [
            span(1, 0, "pricing", 0, 100),
            client(span(2, 1, "pricing", 10, 30)).with_peer_service("postgresql"),
            client(span(3, 1, "pricing", 40, 45)), // no peer: no edge
            client(span(4, 1, "pricing", 50, 60)).with_peer_service("pricing"), // self: no edge
        ];
        let mut b = ServiceMapBuilder::new();
        b.add_trace(&spans);
        let m = b.build();
        assert_eq!(
            edges(&m),
            [("pricing".into(), "postgresql".into(), 1, 0, 1)]
        );
        let pg = m.nodes.iter().find(|n| &*n.name == "postgresql");
        assert_eq!(pg.map(|n| (n.span_count, n.instrumented)), Some((0, false)));
    }

    #[test]
    fn peer_is_ignored_when_the_server_side_reported() {
        let spans = [
            client(span(1, 0, "gateway", 0, 50)).with_peer_service("pricing-lb"),
            server(span(2, 1, "pricing", 5, 45)),
        ];
        let mut b = ServiceMapBuilder::new();
        b.add_trace(&spans);
        assert_eq!(
            edges(&b.build()),
            [("gateway".into(), "pricing".into(), 1, 0, 0)]
        );
    }

    #[test]
    fn same_service_children_and_orphans_add_no_edges() {
        let spans = [
            span(1, 0, "a", 0, 100),
            client(span(2, 1, "a", 0, 10)),
            server(span(3, 2, "a", 1, 9)),
            server(span(4, 99, "b", 20, 30)),
        ];
        let mut b = ServiceMapBuilder::new();
        b.add_trace(&spans);
        let m = b.build();
        assert!(m.edges.is_empty());
        assert_eq!(m.nodes.len(), 2);
    }

    #[test]
    fn client_error_or_server_error_fails_the_call() {
        let mut b = ServiceMapBuilder::new();
        b.add_trace(&[
            client(span_in(1, 1, 0, "a", 0, 10)).with_error(true),
            server(span_in(1, 2, 1, "b", 1, 9)),
        ]);
        b.add_trace(&[
            client(span_in(2, 1, 0, "a", 0, 20)),
            server(span_in(2, 2, 1, "b", 1, 9)).with_error(true),
        ]);
        b.add_trace(&[
            client(span_in(3, 1, 0, "a", 0, 30)),
            server(span_in(3, 2, 1, "b", 1, 9)),
        ]);
        let m = b.build();
        assert_eq!(edges(&m), [("a".into(), "b".into(), 3, 2, 0)]);
        assert_eq!(m.edges[0].latency.p50_ns, 20);
    }
}
