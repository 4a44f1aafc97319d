//! Search: compiling a [`TraceQuery`] into symbols, choosing the shortest posting list to drive
//! from (or scanning the zone map's candidate blocks), and summarising the matching traces.

use std::collections::HashSet;
use std::sync::Arc;

use super::Store;
use super::index::{BLOCK_SHIFT, Block, indexable};
use super::intern::Sym;
use super::posting::Posting;
use super::span::{StoredSpan, TAG_BOOL, TAG_DOUBLE, TAG_INT, TAG_STR};
use crate::model::TraceId;
use crate::query::{TraceQuery, TraceSummary, expired};

impl Store {
    /// Traces with a span matching `q`, newest match first.
    pub(crate) fn search(&self, q: &TraceQuery) -> Vec<TraceSummary> {
        let limit = q.limit.clamp(1, TraceQuery::MAX_LIMIT);
        let Some(m) = self.matcher(q) else {
            return Vec::new();
        };
        let mut seen = HashSet::new();
        let mut found = Vec::new();
        let mut steps = 0u32;
        let mut consider = |seq: u64| -> bool {
            steps = steps.wrapping_add(1);
            if steps.is_multiple_of(4096) && expired() {
                return false;
            }
            if let Some(s) = self.span_at(seq)
                && m.matches(s)
                && seen.insert(s.trace_id)
            {
                found.push(s.trace_id);
            }
            found.len() < limit
        };
        // Drive from the shortest posting list that every match must be in.
        let mut driver: Option<&Posting> = None;
        let mut candidates: Vec<&Posting> = Vec::new();
        if let Some(svc) = m.service {
            match m.operation {
                Some(op) => {
                    candidates.extend(self.by_service.get(&svc).and_then(|si| si.ops.get(&op)))
                }
                None => candidates.extend(self.by_service.get(&svc).map(|si| &si.spans)),
            }
        }
        if m.error_only {
            candidates.extend(self.errors.as_ref());
        }
        for t in &m.tags {
            if let Some(ki) = self.key_index(t.key)
                && !ki.disabled
                && t.values.iter().all(|v| indexable(v.0))
            {
                let lists: Vec<&Posting> =
                    t.values.iter().filter_map(|v| ki.values.get(v)).collect();
                match lists.len() {
                    0 => return Vec::new(),
                    1 => candidates.push(lists[0]),
                    _ => {}
                }
            }
        }
        for c in candidates {
            if driver.is_none_or(|d| c.len() < d.len()) {
                driver = Some(c);
            }
        }
        match driver {
            Some(p) => {
                for seq in p.iter_newest(self.head) {
                    if !consider(seq) {
                        break;
                    }
                }
            }
            None => {
                'blocks: for (i, b) in self.blocks.iter().enumerate().rev() {
                    if !m.block_may_match(b) {
                        continue;
                    }
                    let first = ((self.blocks_head + i as u64) << BLOCK_SHIFT).max(self.head);
                    let last = ((self.blocks_head + i as u64 + 1) << BLOCK_SHIFT)
                        .min(self.head + self.spans.len() as u64);
                    for seq in (first..last).rev() {
                        if !consider(seq) {
                            break 'blocks;
                        }
                    }
                }
            }
        }
        found.into_iter().filter_map(|t| self.summary(t)).collect()
    }

    fn summary(&self, trace_id: TraceId) -> Option<TraceSummary> {
        let p = self.traces.get(&trace_id)?;
        let mut start = u64::MAX;
        let mut end = 0;
        let mut count = 0;
        let mut errors = 0;
        let mut root: Option<&StoredSpan> = None;
        let mut earliest: Option<&StoredSpan> = None;
        let mut services: Vec<(Sym, usize)> = Vec::new();
        for (i, seq) in p.iter_oldest(self.head).enumerate() {
            if i % 4096 == 4095 && expired() {
                return None;
            }
            let Some(s) = self.span_at(seq) else { continue };
            count += 1;
            errors += usize::from(s.is_error());
            start = start.min(s.start);
            end = end.max(s.end);
            if !s.parent_span_id.is_valid() && root.is_none_or(|r| s.start < r.start) {
                root = Some(s);
            }
            if earliest.is_none_or(|e| s.start < e.start) {
                earliest = Some(s);
            }
            match services.iter_mut().find(|(svc, _)| *svc == s.service) {
                Some((_, n)) => *n += 1,
                None => services.push((s.service, 1)),
            }
        }
        let head = root.or(earliest)?;
        let mut services: Vec<(Arc<str>, usize)> = services
            .into_iter()
            .map(|(s, n)| (self.strings.resolve(s).clone(), n))
            .collect();
        services.sort();
        Some(TraceSummary {
            trace_id,
            root_service: self.strings.resolve(head.service).clone(),
            root_name: self.strings.resolve(head.name).clone(),
            has_root: root.is_some(),
            start_unix_nano: start,
            duration_nanos: end.saturating_sub(start),
            span_count: count,
            error_count: errors,
            services,
        })
    }

    /// Compiles a query into symbols; `None` when it cannot match anything.
    fn matcher(&self, q: &TraceQuery) -> Option<Matcher> {
        let service = match &q.service {
            Some(s) => Some(self.strings.lookup(s)?),
            None => None,
        };
        let operation = match &q.operation {
            Some(s) => Some(self.strings.lookup(s)?),
            None => None,
        };
        // The same condition twice is one condition.
        let mut pairs: Vec<&(String, String)> = q.tags.iter().collect();
        pairs.sort_unstable();
        pairs.dedup();
        let mut tags = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            let key = self.strings.lookup(k)?;
            let mut values = Vec::with_capacity(4);
            if let Some(sym) = self.strings.lookup(v) {
                values.push((TAG_STR, u64::from(sym)));
            }
            if let Ok(i) = v.parse::<i64>() {
                values.push((TAG_INT, i as u64));
            } else if let Ok(d) = v.parse::<f64>() {
                values.push((TAG_DOUBLE, d.to_bits()));
            }
            if let Ok(b) = v.parse::<bool>() {
                values.push((TAG_BOOL, u64::from(b)));
            }
            if values.is_empty() {
                return None;
            }
            tags.push(TagMatch { key, values });
        }
        Some(Matcher {
            service,
            operation,
            min_duration: q.min_duration_nanos,
            max_duration: q.max_duration_nanos,
            error_only: q.error_only,
            start: q.start_unix_nano,
            end: q.end_unix_nano,
            tags,
        })
    }
}

struct TagMatch {
    key: Sym,
    values: Vec<(u8, u64)>,
}

struct Matcher {
    service: Option<Sym>,
    operation: Option<Sym>,
    min_duration: Option<u64>,
    max_duration: Option<u64>,
    error_only: bool,
    start: Option<u64>,
    end: Option<u64>,
    tags: Vec<TagMatch>,
}

impl Matcher {
    fn matches(&self, s: &StoredSpan) -> bool {
        if self.service.is_some_and(|v| v != s.service)
            || self.operation.is_some_and(|v| v != s.name)
            || (self.error_only && !s.is_error())
            || self.start.is_some_and(|t| s.start < t)
            || self.end.is_some_and(|t| s.start > t)
        {
            return false;
        }
        let d = s.duration();
        if self.min_duration.is_some_and(|m| d < m) || self.max_duration.is_some_and(|m| d > m) {
            return false;
        }
        self.tags.iter().all(|t| {
            s.attrs
                .iter()
                .any(|a| a.key == t.key && t.values.contains(&(a.tag, a.bits)))
        })
    }

    fn block_may_match(&self, b: &Block) -> bool {
        !(self.start.is_some_and(|t| b.max_start < t)
            || self.end.is_some_and(|t| b.min_start > t)
            || self.min_duration.is_some_and(|m| b.max_duration < m)
            || (self.error_only && b.errors == 0))
    }
}
