//! Formatting shared by the dashboard and `cybexp-archive status`: numbers,
//! rates, durations, the loop state in words, and the one-shot text report.
//! Text from the daemon arrives escaped ([`Escaped`]): nothing here escapes.

use std::fmt;

use cybexp_status::{Escaped, Snapshot, State};

/// A count: exact below 100 000, then `123.4k`, `12.3M`, `1.2G` (at most 6 columns).
pub fn count(n: u64) -> String {
    match n {
        0..100_000 => n.to_string(),
        100_000..999_950 => format!("{:.1}k", n as f64 / 1e3),
        999_950..999_950_000 => format!("{:.1}M", n as f64 / 1e6),
        _ => format!("{:.1}G", n as f64 / 1e9),
    }
}

/// A rate per second: `0`, `0.25`, `3.4`, `120`, `1.2k`.
pub fn rate(r: f64) -> String {
    if r <= 0.0 || !r.is_finite() {
        "0".into()
    } else if r < 1.0 {
        format!("{r:.2}")
    } else if r < 100.0 {
        format!("{r:.1}")
    } else if r < 10_000.0 {
        format!("{r:.0}")
    } else {
        format!("{:.1}k", r / 1e3)
    }
}

/// A duration: `850ms`, `12.3s`, `5m02s`, `2h03m`, `3d04h`.
pub fn duration_ms(ms: u64) -> String {
    let s = ms / 1000;
    match ms {
        0..1_000 => format!("{ms}ms"),
        1_000..60_000 => format!("{:.1}s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{}m{:02}s", s / 60, s % 60),
        3_600_000..86_400_000 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// A duration in microseconds: `90µs`, `1.2ms`, `340ms`, `2.5s`.
pub fn duration_us(us: u64) -> String {
    match us {
        0..1_000 => format!("{us}µs"),
        1_000..10_000 => format!("{:.1}ms", us as f64 / 1e3),
        10_000..1_000_000 => format!("{}ms", us / 1_000),
        u64::MAX => ">5s".into(),
        _ => format!("{:.1}s", us as f64 / 1e6),
    }
}

/// `3s ago`, from the snapshot's own clock.
pub fn ago(now_ms: u64, at_ms: u64) -> String {
    format!("{} ago", duration_ms(now_ms.saturating_sub(at_ms)))
}

/// A percentage of a 0..=1 share: `0%`, `0.4%`, `12%`, `100%`.
pub fn percent(share: f64) -> String {
    let p = share * 100.0;
    if p <= 0.0 {
        "0%".into()
    } else if p < 10.0 {
        format!("{p:.1}%")
    } else {
        format!("{p:.0}%")
    }
}

/// The loop state in a few words, with its countdown.
pub fn state(state: &State) -> String {
    match *state {
        State::Running { next_poll_in_ms: Some(ms) } => format!("RUNNING · next poll {}", duration_ms(ms)),
        State::Running { next_poll_in_ms: None } => "RUNNING · working".into(),
        State::BackingOff { failures, next_poll_in_ms } => {
            format!("BACKING OFF (n={failures}) · next poll {}", duration_ms(next_poll_in_ms))
        }
        State::Stalled { for_ms } => format!("STALLED? no progress for {}", duration_ms(for_ms)),
        State::Stopping => "STOPPING".into(),
    }
}

/// A short key id: the first 12 hex digits of a fingerprint.
pub fn short_fingerprint(fingerprint: &str) -> &str {
    fingerprint.get(..12).unwrap_or(fingerprint)
}

/// An escaped error under the report's labels: its first line after
/// `lead`, any further ones (a TOML error's snippet) indented below it.
fn error_lines(out: &mut fmt::Formatter<'_>, lead: &str, error: &str) -> fmt::Result {
    let mut lines = cybexp_status::untrusted::lines(error);
    writeln!(out, "          {lead}{}", lines.next().unwrap_or_default())?;
    lines.try_for_each(|line| writeln!(out, "            {line}"))
}

/// `cybexp-archive status`: the snapshot once, as text. It takes the
/// [`Escaped`] snapshot only, so what a submission wrote is printed escaped.
pub struct StatusReport<'a>(pub &'a Escaped<Snapshot>);

impl fmt::Display for StatusReport<'_> {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s: &Snapshot = self.0;
        let id = &s.identity;
        let now = s.taken_at_ms;
        writeln!(out, "{} {} ({}), up {}", id.name, id.version, id.instance, duration_ms(s.uptime_ms()))?;
        if !id.commit.is_empty() {
            writeln!(
                out,
                "build     commit {}, RSA {}, wasmtime {}, {}",
                id.commit, id.rsa_backend, id.wasmtime, id.profile
            )?;
        }
        writeln!(out, "state     {}", state(&s.state()))?;
        let l = &s.loop_state;
        writeln!(
            out,
            "loop      {} polls, {} failed; backoff n={}, sleep {}",
            l.polls,
            l.poll_errors,
            l.failures,
            duration_ms(l.sleep_ms)
        )?;
        if let (Some(error), Some(at)) = (&l.last_error, l.last_error_at_ms) {
            error_lines(out, &format!("last poll error {}: ", ago(now, at)), error)?;
        }
        writeln!(out, "lake      {}", id.lake)?;
        writeln!(out, "archive   {}", id.archive)?;
        let keys: Vec<&str> = id.key_fingerprints.iter().map(|k| short_fingerprint(k)).collect();
        writeln!(out, "keys      {}", keys.join(", "))?;
        let parsers: Vec<String> = id
            .parsers
            .iter()
            .map(|x| match x.sha256.get(..12) {
                Some(digest) => format!("{} {} ({digest})", x.name, x.version),
                None => format!("{} {}", x.name, x.version),
            })
            .collect();
        writeln!(out, "parsers   {}", parsers.join(", "))?;
        let c = &id.config;
        writeln!(out, "config    generation {}, loaded {}", c.generation, ago(now, c.loaded_at_ms))?;
        if let Some(error) = &c.last_reload_error {
            let at = c.last_reload_at_ms.map(|at| ago(now, at)).unwrap_or_default();
            error_lines(out, &format!("last reload refused {at}: "), error)?;
        }
        let w = &s.workers;
        writeln!(out, "workers   {}, {} busy (1m), {} in flight", w.count, percent(w.utilisation_1m), w.in_flight)?;
        let q = &s.queue;
        match (q.waiting, q.skipped) {
            (Some(waiting), Some(skipped)) => {
                let trend = q.trend_per_min().map(|t| format!(", trend {t:+.0}/min")).unwrap_or_default();
                let when = q.sampled_at_ms.map(|at| ago(now, at)).unwrap_or_default();
                // Only while something waits: an empty queue has no lag to show.
                let oldest = match q.oldest_waiting_age_ms() {
                    Some(age) if waiting > 0 => format!(", oldest waiting {}", duration_ms(age)),
                    _ => String::new(),
                };
                writeln!(out, "queue     {waiting} waiting{oldest}, {skipped} skipped{trend} (sampled {when})")?;
            }
            _ => writeln!(out, "queue     not sampled yet")?,
        }
        if let Some(error) = &q.error {
            error_lines(out, "queue sample failed: ", error)?;
        }
        let t = &s.totals;
        writeln!(
            out,
            "outcomes  SUCCESS {}  NOT_SUPPORTED {}  ERROR {}  (retried {})",
            t.success, t.not_supported, t.error, s.retried
        )?;
        // Only once an operator's requeue reached this daemon.
        let q = &s.requeued;
        if q.total() > 0 {
            writeln!(
                out,
                "          of them requeued: SUCCESS {}  NOT_SUPPORTED {}  ERROR {}",
                q.success, q.not_supported, q.error
            )?;
        }
        let r = &s.rates;
        writeln!(out, "rates/s   {:<8}{:>9}{:>15}{:>7}", "", "SUCCESS", "NOT_SUPPORTED", "ERROR")?;
        for (name, w) in [("10s", r.window_10s), ("1m", r.window_1m), ("5m", r.window_5m)] {
            writeln!(
                out,
                "          {name:<8}{:>9}{:>15}{:>7}",
                rate(w.success),
                rate(w.not_supported),
                rate(w.error)
            )?;
        }
        writeln!(
            out,
            "typtags   {:<24} {:<10} {:>9} {:>13} {:>7}",
            "TYPTAG", "PARSER", "SUCCESS", "NOT_SUPPORTED", "ERROR"
        )?;
        for t in &s.typtags {
            writeln!(
                out,
                "          {:<24} {:<10} {:>9} {:>13} {:>7}",
                t.typtag,
                t.parser.as_deref().unwrap_or("-"),
                t.counts.success,
                t.counts.not_supported,
                t.counts.error
            )?;
        }
        // What the parsers that count records read: a feed degrading shows as
        // malformed records it still stored.
        for (i, parser) in s.parsers.iter().filter(|parser| parser.records > 0).enumerate() {
            let label = if i == 0 { "records" } else { "" };
            writeln!(
                out,
                "{label:<10}{} {} ({} malformed, in {} of {} calls)",
                parser.name, parser.records, parser.malformed, parser.calls_with_malformed, parser.calls
            )?;
        }
        if !s.recent_errors.is_empty() {
            writeln!(out, "errors    (latest first)")?;
            for e in s.recent_errors.iter().take(5) {
                let message = e.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default();
                writeln!(out, "          {} {} {} entry {}{message}", ago(now, e.at_ms), e.typtag, e.cause, e.entry)?;
            }
        }
        if s.telemetry.dropped_events > 0 {
            writeln!(out, "telemetry {} detail events dropped (totals exact)", s.telemetry.dropped_events)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(count(99_999), "99999");
        assert_eq!(count(123_456), "123.5k");
        assert_eq!(count(999_949), "999.9k");
        assert_eq!(count(999_950), "1.0M");
        assert_eq!(count(12_300_000), "12.3M");
        assert_eq!(count(5_000_000_000), "5.0G");
        assert_eq!(rate(0.0), "0");
        assert_eq!(rate(0.25), "0.25");
        assert_eq!(rate(3.44), "3.4");
        assert_eq!(rate(120.4), "120");
        assert_eq!(rate(12_345.0), "12.3k");
        assert_eq!(duration_ms(850), "850ms");
        assert_eq!(duration_ms(12_340), "12.3s");
        assert_eq!(duration_ms(302_000), "5m02s");
        assert_eq!(duration_ms(7_380_000), "2h03m");
        assert_eq!(duration_ms(273_600_000), "3d04h");
        assert_eq!(duration_us(90), "90µs");
        assert_eq!(duration_us(1_200), "1.2ms");
        assert_eq!(duration_us(2_500_000), "2.5s");
        assert_eq!(percent(0.004), "0.4%");
        assert_eq!(percent(0.5), "50%");
        assert_eq!(short_fingerprint("0123456789abcdef"), "0123456789ab");
    }

    #[test]
    fn a_multi_line_reload_error_is_indented_lines_each_escaped() {
        let mut s = Snapshot { taken_at_ms: 5_000, ..Default::default() };
        s.identity.config.last_reload_error =
            Some("in config /etc/c.toml: TOML parse error at line 1\n  |\n1 | [[x\u{1b}[2J\n".into());
        s.identity.config.last_reload_at_ms = Some(4_000);
        let report = StatusReport(&Escaped::new(s)).to_string();
        let indent = " ".repeat(12);
        let expected = format!(
            "          last reload refused 1.0s ago: in config /etc/c.toml: TOML parse error at line 1\n\
             {indent}  |\n\
             {indent}1 | [[x\\u{{1b}}[2J\n"
        );
        assert!(report.contains(&expected), "{report}");
        assert!(!report.contains('\u{1b}'));
    }
}
