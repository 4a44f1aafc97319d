//! `GET /api/analysis/traces/{trace_id}` a page at a time: the waterfall is computed over the
//! whole trace, and the answer carries the rows `offset..offset + limit`, the critical-path
//! segments of those rows and the trace's top contributors, so its size does not grow with
//! the trace.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::Serialize;
use tracewire::{SpanId, TraceId};

use crate::analysis::{PathSegment, PathSpan, Waterfall, WaterfallRow, ser};
use crate::api::query_pairs;

/// Rows per page unless asked (`limit`).
pub(super) const DEFAULT_ROWS: usize = 2000;
/// The most rows one page carries.
pub(super) const MAX_ROWS: usize = 10_000;
/// Critical-path contributors listed (the longest first).
pub(super) const TOP_CONTRIBUTORS: usize = 20;
/// Critical-path segments listed per span (a parent waiting on many children in turn has one
/// segment between each two of them).
pub(super) const SEGMENTS_PER_SPAN: usize = 100;

/// Which rows to answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct RowPage {
    pub(super) offset: usize,
    pub(super) limit: usize,
    /// When set, the page holding this span (its offset a multiple of `limit`).
    pub(super) span: Option<SpanId>,
}

/// Parses `offset`, `limit` and `spanId` (nothing else is accepted).
pub(super) fn parse(raw: &str) -> Result<RowPage, String> {
    let mut p = RowPage {
        offset: 0,
        limit: DEFAULT_ROWS,
        span: None,
    };
    for (k, v) in query_pairs(raw, &["offset", "limit", "spanId"])? {
        let int = || {
            v.parse::<usize>()
                .map_err(|_| format!("`{k}` must be a non-negative integer, got `{v}`"))
        };
        match k.as_str() {
            "offset" => p.offset = int()?,
            "limit" => {
                p.limit = int()?;
                if p.limit == 0 || p.limit > MAX_ROWS {
                    return Err(format!(
                        "`limit` must be between 1 and {MAX_ROWS}, got {}",
                        p.limit
                    ));
                }
            }
            _ => {
                p.span = Some(
                    v.to_ascii_lowercase()
                        .parse::<SpanId>()
                        .map_err(|e| format!("invalid span id `{v}`: {e}"))?,
                )
            }
        }
    }
    Ok(p)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PathPage<'a> {
    #[serde(rename = "startTimeUnixNano", serialize_with = "ser::unix_nano")]
    start_ns: u64,
    #[serde(rename = "totalNanos")]
    total_ns: u64,
    #[serde(rename = "unattributedNanos")]
    unattributed_ns: u64,
    /// Spans with time on the path, in the whole trace.
    span_count: usize,
    /// The contributors with the longest critical time, in path order.
    spans: Vec<&'a PathSpan>,
    /// The segments of this page's rows, in time order, at most [`SEGMENTS_PER_SPAN`] per span.
    segments: Vec<&'a PathSegment>,
    /// Whether some span of this page had more segments than listed.
    segments_truncated: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct WaterfallPage<'a> {
    #[serde(serialize_with = "ser::trace_id")]
    trace_id: TraceId,
    #[serde(rename = "startTimeUnixNano", serialize_with = "ser::unix_nano")]
    start_ns: u64,
    #[serde(rename = "durationNanos")]
    duration_ns: u64,
    #[serde(serialize_with = "ser::arc_strs")]
    services: &'a [Arc<str>],
    error_count: u64,
    skew_adjusted_count: u32,
    row_count: usize,
    offset: usize,
    limit: usize,
    next_offset: Option<usize>,
    rows: &'a [WaterfallRow],
    critical_path: PathPage<'a>,
}

/// The page of `w` asked for by `p`; `None` when `p.span` is not in the trace.
pub(super) fn page<'a>(w: &'a Waterfall, p: RowPage) -> Option<WaterfallPage<'a>> {
    let n = w.rows.len();
    let offset = match p.span {
        Some(id) => w.rows.iter().position(|r| r.span_id == id)? / p.limit * p.limit,
        None => p.offset.min(n),
    };
    let rows = &w.rows[offset..offset.saturating_add(p.limit).min(n)];
    let in_page: HashSet<SpanId> = rows.iter().map(|r| r.span_id).collect();
    let cp = &w.critical_path;
    // The longest contributors, listed in path order as the whole path lists them.
    let mut top: Vec<usize> = (0..cp.spans.len()).collect();
    top.sort_by_key(|&i| std::cmp::Reverse(cp.spans[i].critical_ns));
    top.truncate(TOP_CONTRIBUTORS);
    top.sort_unstable();
    let spans: Vec<&PathSpan> = top.iter().map(|&i| &cp.spans[i]).collect();
    let end = offset + rows.len();
    let mut per_span: HashMap<SpanId, usize> = HashMap::new();
    let mut segments_truncated = false;
    let segments = cp
        .segments
        .iter()
        .filter(|s| in_page.contains(&s.span_id))
        .filter(|s| {
            let n = per_span.entry(s.span_id).or_default();
            *n += 1;
            segments_truncated |= *n > SEGMENTS_PER_SPAN;
            *n <= SEGMENTS_PER_SPAN
        })
        .collect();
    Some(WaterfallPage {
        trace_id: w.trace_id,
        start_ns: w.start_ns,
        duration_ns: w.duration_ns,
        services: &w.services,
        error_count: w.error_count,
        skew_adjusted_count: w.skew_adjusted_count,
        row_count: n,
        offset,
        limit: p.limit,
        next_offset: (end < n).then_some(end),
        rows,
        critical_path: PathPage {
            start_ns: cp.start_ns,
            total_ns: cp.total_ns,
            unattributed_ns: cp.unattributed_ns,
            span_count: cp.spans.len(),
            spans,
            segments,
            segments_truncated,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::test_support::chain;
    use crate::analysis::waterfall;

    #[test]
    fn pages_carry_their_rows_and_segments_and_the_top_contributors() {
        // A chain 1 → 2 → … → 50: every span is on the critical path.
        let w = waterfall(&chain(50, 200));
        let p = page(
            &w,
            RowPage {
                offset: 10,
                limit: 10,
                span: None,
            },
        )
        .unwrap();
        let ids: Vec<u64> = p.rows.iter().map(|r| r.span_id.to_u64()).collect();
        assert_eq!(ids, (11..=20).collect::<Vec<_>>());
        assert_eq!((p.row_count, p.offset, p.next_offset), (50, 10, Some(20)));
        assert!(
            p.critical_path
                .segments
                .iter()
                .all(|s| (11..=20).contains(&s.span_id.to_u64()))
        );
        assert!(!p.critical_path.segments.is_empty());
        assert_eq!(p.critical_path.spans.len(), TOP_CONTRIBUTORS);
        assert_eq!(p.critical_path.span_count, 50);
        // The innermost span has 100 ns on the path, every other span 2 ns (1 ns at each end):
        // the 20 listed are among the longest, in path order.
        let mut longest: Vec<&PathSpan> = w.critical_path.spans.iter().collect();
        longest.sort_by_key(|s| std::cmp::Reverse(s.critical_ns));
        let cutoff = longest[TOP_CONTRIBUTORS - 1].critical_ns;
        let top = &p.critical_path.spans;
        assert!(top.iter().all(|s| s.critical_ns >= cutoff));
        let order = |id: SpanId| w.critical_path.spans.iter().position(|s| s.span_id == id);
        assert!(
            top.windows(2)
                .all(|t| order(t[0].span_id) < order(t[1].span_id))
        );

        let last = page(
            &w,
            RowPage {
                offset: 45,
                limit: 10,
                span: None,
            },
        )
        .unwrap();
        assert_eq!((last.rows.len(), last.next_offset), (5, None));
        let holding = page(
            &w,
            RowPage {
                offset: 0,
                limit: 10,
                span: Some(SpanId::from_u64(37)),
            },
        )
        .unwrap();
        assert_eq!(holding.offset, 30);
        assert!(
            page(
                &w,
                RowPage {
                    offset: 0,
                    limit: 10,
                    span: Some(SpanId::from_u64(99)),
                },
            )
            .is_none()
        );
    }

    #[test]
    fn parameters() {
        assert_eq!(
            parse(""),
            Ok(RowPage {
                offset: 0,
                limit: 2000,
                span: None
            })
        );
        assert_eq!(
            parse("offset=4000&limit=10000&spanId=00000000000000FF"),
            Ok(RowPage {
                offset: 4000,
                limit: 10_000,
                span: Some(SpanId::from_u64(255))
            })
        );
        assert_eq!(
            parse("limit=10001"),
            Err("`limit` must be between 1 and 10000, got 10001".to_owned())
        );
        assert_eq!(
            parse("offset=x"),
            Err("`offset` must be a non-negative integer, got `x`".to_owned())
        );
        assert!(
            parse("spanId=zz")
                .unwrap_err()
                .starts_with("invalid span id `zz`")
        );
        assert_eq!(
            parse("span_id=00000000000000ff"),
            Err("unknown query parameter `span_id`".to_owned())
        );
    }
}
