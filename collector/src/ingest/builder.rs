//! What one OTLP request, the ingest queue and the query pool may take: the settings on
//! [`CollectorBuilder`].

use std::time::Duration;

use crate::CollectorBuilder;

/// Limits on what one request may hold, decided before it is decoded. A request past any of
/// them is refused whole: 400 on OTLP/HTTP, `INVALID_ARGUMENT` on OTLP/gRPC, with a message
/// naming the limit.
impl CollectorBuilder {
    /// The most `ResourceSpans` one request may carry (default 4,096).
    pub fn max_resources_per_request(mut self, n: usize) -> Self {
        self.limits.decode.max_resource_spans = n;
        self
    }

    /// The most `ScopeSpans` one request may carry, over all its resources (default 4,096).
    pub fn max_scopes_per_request(mut self, n: usize) -> Self {
        self.limits.decode.max_scope_spans = n;
        self
    }

    /// The most spans one request may carry (default 100,000).
    pub fn max_spans_per_request(mut self, n: usize) -> Self {
        self.limits.decode.max_spans = n;
        self
    }

    /// The most heap bytes one decoded request may take, by an upper bound computed from its
    /// undecoded bytes (default 64 MiB; a realistic 4 MiB request needs about 20 MiB). It is
    /// also the least the ingest queue holds (see
    /// [`ingest_queue_bytes`](Self::ingest_queue_bytes)).
    pub fn max_decoded_request_bytes(mut self, n: usize) -> Self {
        self.limits.decode.max_decoded_bytes = n;
        self
    }

    /// The most attributes kept per resource; the rest are dropped and added to the resource's
    /// dropped-attributes count (default 128).
    pub fn max_resource_attributes(mut self, n: usize) -> Self {
        self.limits.decode.max_resource_attributes = n;
        self
    }

    /// The most bytes of decoded spans waiting to be stored; past it receivers answer 429 /
    /// `UNAVAILABLE` (default: an eighth of [`max_bytes`](Self::max_bytes), but at least
    /// [`max_decoded_request_bytes`](Self::max_decoded_request_bytes), so any accepted request
    /// fits once the queue drains). Set, it is taken as given (at least one byte).
    pub fn ingest_queue_bytes(mut self, n: usize) -> Self {
        self.limits.max_queue_bytes = Some(n.max(1));
        self
    }

    /// Threads that answer API queries, off the receivers' runtime (default 2; at least 1).
    pub fn query_threads(mut self, n: usize) -> Self {
        self.limits.queries.threads = n.max(1);
        self
    }

    /// Queries that may wait for a query thread; past it a query is answered 503 at once
    /// (default 32).
    pub fn query_queue(mut self, n: usize) -> Self {
        self.limits.queries.queue = n;
        self
    }

    /// The longest one query may take, its wait for a thread included; past it the query
    /// stops and is answered 503 with a message (default 5 s).
    pub fn query_time_budget(mut self, d: Duration) -> Self {
        self.limits.queries.budget = d;
        self
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::Collector;
    use crate::otlp::DecodeLimits;
    use crate::query::PoolLimits;

    #[test]
    fn defaults_are_the_documented_ones() {
        let b = Collector::builder();
        let l = &b.limits;
        assert_eq!(
            (
                l.decode.max_resource_spans,
                l.decode.max_scope_spans,
                l.decode.max_spans,
                l.decode.max_decoded_bytes,
                l.decode.max_resource_attributes
            ),
            (4096, 4096, 100_000, 64 << 20, 128)
        );
        assert_eq!(l.max_queue_bytes, None);
        // An eighth of 512 MiB is 64 MiB, the decoded-request floor.
        assert_eq!(l.queue_bytes(), 64 << 20);
        assert_eq!(
            (l.queries.threads, l.queries.queue, l.queries.budget),
            (2, 32, Duration::from_secs(5))
        );
    }

    #[test]
    fn every_setting_lands_in_the_limits() {
        let b = Collector::builder()
            .max_resources_per_request(3)
            .max_scopes_per_request(4)
            .max_spans_per_request(5)
            .max_decoded_request_bytes(6)
            .max_resource_attributes(7)
            .ingest_queue_bytes(0)
            .query_threads(0)
            .query_queue(9)
            .query_time_budget(Duration::from_millis(10));
        assert_eq!(
            b.limits.decode,
            DecodeLimits {
                max_resource_spans: 3,
                max_scope_spans: 4,
                max_spans: 5,
                max_decoded_bytes: 6,
                max_resource_attributes: 7,
            }
        );
        assert_eq!(b.limits.queue_bytes(), 1);
        assert_eq!(
            b.limits.queries,
            PoolLimits {
                threads: 1,
                queue: 9,
                budget: Duration::from_millis(10),
            }
        );
        // Without a queue bound of its own, the floor follows the decoded-request limit.
        let b = Collector::builder()
            .max_bytes(8 << 20)
            .max_decoded_request_bytes(3 << 20);
        assert_eq!(b.limits.queue_bytes(), 3 << 20);
    }
}
