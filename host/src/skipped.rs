//! `skipped`: what waits for an operator, summarised by why and by feed.
//!
//! One row per (cause, typtag) with the count and the oldest and newest
//! upload times, so an operator sees which failure to fix first and since
//! when, before choosing a `requeue`. The walk holds one row per pair, never
//! the entries: a lake of millions of skipped entries summarises in the
//! memory of its distinct causes and typtags.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, UNIX_EPOCH};

use cybexp_lake::CacheEntry;
use cybexp_status::untrusted::escape;
use serde::Serialize;

/// The skipped entries of one cause and typtag.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    /// [`CacheEntry::skip_reason`]: the ERROR's cause, or the state
    /// (`not_supported`); `-` for an entry that records neither.
    pub cause: String,
    pub typtag: String,
    pub count: u64,
    /// Upload times (epoch seconds, the entries' `timestamp`).
    pub oldest: f64,
    pub newest: f64,
}

/// The rows, by cause then typtag; built one entry at a time.
#[derive(Debug, Default)]
pub struct Summary {
    rows: BTreeMap<(String, String), Row>,
}

impl Summary {
    pub fn add(&mut self, entry: &CacheEntry) {
        let cause = entry.skip_reason().unwrap_or("-");
        let key = (cause.to_owned(), entry.typtag.clone());
        let t = entry.timestamp;
        let row = self.rows.entry(key).or_insert_with(|| Row {
            cause: cause.to_owned(),
            typtag: entry.typtag.clone(),
            count: 0,
            oldest: t,
            newest: t,
        });
        row.count += 1;
        row.oldest = row.oldest.min(t);
        row.newest = row.newest.max(t);
    }

    pub fn rows(&self) -> impl Iterator<Item = &Row> {
        self.rows.values()
    }

    pub fn total(&self) -> u64 {
        self.rows.values().map(|r| r.count).sum()
    }

    /// For scripts: `{"total": N, "rows": [{cause, typtag, count, oldest, newest}]}`,
    /// the exact values (escaped by JSON only), times in epoch seconds.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "total": self.total(), "rows": self.rows().collect::<Vec<_>>() })
    }
}

/// The table, with what a submission wrote (typtag, cause) escaped and the
/// times in RFC 3339 (UTC).
impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rows.is_empty() {
            return writeln!(f, "no skipped entries");
        }
        let cells: Vec<[String; 5]> = self
            .rows()
            .map(|r| {
                [
                    escape(&r.cause).to_string(),
                    escape(&r.typtag).to_string(),
                    r.count.to_string(),
                    time_text(r.oldest),
                    time_text(r.newest),
                ]
            })
            .collect();
        let header = ["CAUSE", "TYPTAG", "COUNT", "OLDEST", "NEWEST"];
        let width = |i: usize| cells.iter().map(|c| c[i].chars().count()).chain([header[i].len()]).max().unwrap_or(0);
        let (w0, w1, w2, w3) = (width(0), width(1), width(2), width(3));
        let mut line =
            |c: [&str; 5]| writeln!(f, "{:<w0$}  {:<w1$}  {:>w2$}  {:<w3$}  {}", c[0], c[1], c[2], c[3], c[4]);
        line(header)?;
        for c in &cells {
            line([&c[0], &c[1], &c[2], &c[3], &c[4]])?;
        }
        writeln!(f, "{} skipped entries; `requeue --cause CAUSE --typtag TYPTAG` queues them again", self.total())
    }
}

/// RFC 3339 (UTC, seconds) for a time a clock could show; the number itself
/// otherwise (an upload time the API wrote before 1970 or beyond any
/// calendar).
pub(crate) fn time_text(seconds: f64) -> String {
    match Duration::try_from_secs_f64(seconds).ok().and_then(|d| UNIX_EPOCH.checked_add(d)) {
        Some(at) if seconds < 253_402_300_800.0 => humantime::format_rfc3339_seconds(at).to_string(),
        _ => seconds.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cybexp_lake::EntryId;

    fn skipped(cause: Option<&str>, state: &str, typtag: &str, timestamp: f64) -> CacheEntry {
        CacheEntry {
            id: EntryId("1".into()),
            name: "n".into(),
            orgid: "o".into(),
            typtag: typtag.into(),
            timezone: "UTC".into(),
            timestamp,
            blob_ref: None,
            processed: false,
            skip: true,
            state: Some(state.into()),
            error: None,
            cause: cause.map(Into::into),
            refs: Vec::new(),
            requeued: Vec::new(),
        }
    }

    #[test]
    fn rows_by_cause_and_typtag_with_count_oldest_and_newest() {
        let mut s = Summary::default();
        for e in [
            skipped(Some("parser.fuel"), "parse_failed", "cowrie", 30.0),
            skipped(None, "not_supported", "misp", 5.0),
            skipped(Some("parser.fuel"), "parse_failed", "cowrie", 10.0),
            skipped(Some("parser.fuel"), "parse_failed", "json", 20.0),
            skipped(Some("parser.fuel"), "parse_failed", "cowrie", 20.0),
        ] {
            s.add(&e);
        }
        let rows: Vec<_> =
            s.rows().map(|r| (r.cause.as_str(), r.typtag.as_str(), r.count, r.oldest, r.newest)).collect();
        assert_eq!(
            rows,
            [
                ("not_supported", "misp", 1, 5.0, 5.0),
                ("parser.fuel", "cowrie", 3, 10.0, 30.0),
                ("parser.fuel", "json", 1, 20.0, 20.0),
            ]
        );
        assert_eq!(s.total(), 5);
    }

    #[test]
    fn the_table_escapes_what_a_submission_wrote_and_dates_in_utc() {
        let mut s = Summary::default();
        s.add(&skipped(None, "not_supported", "evil\u{1b}[2J\ntag", 1_700_000_000.0));
        let text = s.to_string();
        assert!(!text.contains('\u{1b}'), "{text}");
        assert!(
            text.contains("not_supported  evil\\u{1b}[2J\\ntag      1  2023-11-14T22:13:20Z  2023-11-14T22:13:20Z"),
            "{text}"
        );
        assert_eq!(time_text(-1.0), "-1");
        assert_eq!(Summary::default().to_string(), "no skipped entries\n");
    }
}
