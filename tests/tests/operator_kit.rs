//! The operator's kit against the real exposition: the alert rules and
//! their unit tests (`dist/prometheus/`), the Grafana dashboard
//! (`dist/grafana/`) and the metrics reference (`docs/operating/metrics.md`)
//! may name only metrics that `cybexp_telemetry::prometheus::render` really
//! writes, and the reference must name every family it writes. promtool
//! checks the rules, runs their unit tests (each alert firing and not firing)
//! and parses every dashboard query; without promtool those two tests say
//! SKIPPED, and fail under `CI=true` (`.ci/run` installs it).
//!
//! Names are read out of PromQL, YAML, JSON and Markdown alike: every
//! identifier that starts with `cybexp_archive_`. A query must name a series
//! (a histogram is queried as `_bucket`, `_sum` or `_count`, never by its
//! family name); prose may name a family too.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use cybexp_status::{
    ConfigState, Counts, Histogram, Identity, LoopState, ParserIdentity, ParserStats, Queue, Snapshot, TelemetryHealth,
    TyptagStats, Workers,
};
use cybexp_telemetry::prometheus::{check, render};
use serde_json::Value;

const RULES: &str = "dist/prometheus/cybexp-archive.rules.yml";
const RULE_TESTS: &str = "dist/prometheus/cybexp-archive.rules.test.yml";
const DASHBOARD: &str = "dist/grafana/cybexp-archive.json";
const METRICS_REFERENCE: &str = "docs/operating/metrics.md";
const PREFIX: &str = "cybexp_archive_";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> String {
    let file = repo().join(path);
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()))
}

/// What the exposition holds: each family and its type, and the names its
/// samples carry (a histogram's `_bucket`, `_sum`, `_count`).
struct Exposition {
    families: BTreeMap<String, String>,
    series: BTreeSet<String>,
}

impl Exposition {
    fn render() -> Exposition {
        let text = render(&every_family());
        let parsed = check::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let series: BTreeSet<String> = parsed.values.keys().map(|(name, _)| name.clone()).collect();
        // A family without a sample here would pass for missing: the
        // snapshot must give every family something to render.
        for (family, kind) in &parsed.types {
            let sample = if kind == "histogram" { format!("{family}_count") } else { family.clone() };
            assert!(series.contains(&sample), "{family} rendered no sample: extend every_family()\n{text}");
        }
        Exposition { families: parsed.types, series }
    }

    /// Why `name` cannot be queried, if it cannot.
    fn not_a_series(&self, name: &str) -> Option<String> {
        if self.series.contains(name) {
            None
        } else if self.families.get(name).is_some_and(|kind| kind == "histogram") {
            Some(format!("{name} (a histogram: query {name}_bucket, _sum or _count)"))
        } else {
            Some(name.to_owned())
        }
    }
}

/// A daemon with a bit of everything: keys, parsers with parse times, a
/// typtag with an ERROR cause, a sampled queue, a refused reload, drops.
fn every_family() -> Snapshot {
    let mut parse_time = Histogram::with_bounds(&[1_000, 10_000, 100_000]);
    parse_time.observe(4_200);
    let mut causes = BTreeMap::new();
    causes.insert("parser.trap".to_owned(), 2);
    Snapshot {
        taken_at_ms: 1_700_000_060_000,
        identity: Identity {
            name: "cybexp-archive".into(),
            version: "0.1.0".into(),
            instance: "host:42".into(),
            pid: 42,
            started_at_ms: 1_700_000_000_000,
            lake: "sqlite:/var/lib/cybexp-archive/archive.db".into(),
            archive: "sqlite:/var/lib/cybexp-archive/archive.db".into(),
            key_fingerprints: vec!["0495421560f1".into()],
            parsers: vec![ParserIdentity {
                name: "cowrie".into(),
                component: "cybexp-cowrie".into(),
                version: "0.1.0".into(),
                sha256: "ab".repeat(32),
            }],
            workers: 2,
            config: ConfigState {
                generation: 3,
                loaded_at_ms: 1_700_000_030_000,
                last_reload_error: Some("a key did not load".into()),
                last_reload_at_ms: Some(1_700_000_050_000),
            },
            ..Default::default()
        },
        loop_state: LoopState {
            polls: 12,
            poll_errors: 1,
            failures: 2,
            sleep_ms: 4_000,
            last_poll_at_ms: Some(1_700_000_058_000),
            next_poll_at_ms: Some(1_700_000_062_000),
            ..Default::default()
        },
        totals: Counts { success: 10, not_supported: 1, error: 2 },
        retried: 1,
        queue: Queue {
            waiting: Some(5),
            skipped: Some(3),
            sampled_at_ms: Some(1_700_000_059_000),
            interval_ms: 5_000,
            ..Default::default()
        },
        workers: Workers { count: 2, in_flight: 1, handled: 13, busy_ms: 900, ..Default::default() },
        typtags: vec![TyptagStats {
            typtag: "unr-honeypot".into(),
            parser: Some("cowrie".into()),
            counts: Counts { success: 10, not_supported: 1, error: 2 },
            causes: causes.clone(),
            ..Default::default()
        }],
        parsers: vec![ParserStats {
            name: "cowrie".into(),
            version: "0.1.0".into(),
            calls: 1,
            fuel_total: 90_000,
            fuel_max: 90_000,
            parse_time,
            records: 40,
            malformed: 1,
            calls_with_malformed: 1,
        }],
        causes,
        telemetry: TelemetryHealth { events: 13, dropped_events: 1, other_typtag_events: 0, clients: 1 },
        ..Default::default()
    }
}

/// Every identifier in `text` that starts with `cybexp_archive_`.
fn metric_names(text: &str) -> BTreeSet<String> {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut names = BTreeSet::new();
    for (at, _) in text.match_indices(PREFIX) {
        if text[..at].chars().next_back().is_some_and(ident) {
            continue;
        }
        let end = text[at..].find(|c: char| !ident(c)).map_or(text.len(), |n| at + n);
        names.insert(text[at..end].to_owned());
    }
    names
}

#[test]
fn the_alert_rules_and_their_tests_name_only_rendered_series() {
    let exposition = Exposition::render();
    for file in [RULES, RULE_TESTS] {
        let names = metric_names(&read(file));
        assert!(names.len() >= 5, "{file}: too few metric names found: {names:?}");
        let unknown: Vec<String> = names.iter().filter_map(|name| exposition.not_a_series(name)).collect();
        assert!(unknown.is_empty(), "{file} names metrics the exposition does not have: {unknown:?}");
    }
}

/// The PromQL of every query, template variable and annotation.
fn dashboard_queries(dashboard: &Value) -> Vec<String> {
    fn walk(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    match value {
                        Value::String(query) if ["expr", "query", "definition"].contains(&key.as_str()) => {
                            out.push(query.clone());
                        }
                        _ => walk(value, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| walk(item, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(dashboard, &mut out);
    out
}

#[test]
fn the_dashboard_names_only_rendered_metrics() {
    let exposition = Exposition::render();
    let text = read(DASHBOARD);
    let dashboard: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{DASHBOARD}: {e}"));
    let queries = dashboard_queries(&dashboard);
    assert!(queries.len() >= 20, "{DASHBOARD}: only {} queries found", queries.len());
    let mut unknown = BTreeSet::new();
    for query in &queries {
        let names = metric_names(query);
        // `prometheus` is the data source variable's plugin, not a query.
        assert!(!names.is_empty() || query == "prometheus", "a query without a cybexp_archive_ metric: {query}");
        unknown.extend(names.iter().filter_map(|name| exposition.not_a_series(name)));
    }
    assert!(unknown.is_empty(), "{DASHBOARD} queries metrics the exposition does not have: {unknown:?}");
    // Titles and descriptions may name a family; it must exist too.
    let prose: Vec<String> = metric_names(&text)
        .into_iter()
        .filter(|name| !exposition.series.contains(name) && !exposition.families.contains_key(name))
        .collect();
    assert!(prose.is_empty(), "{DASHBOARD} names metrics the exposition does not have: {prose:?}");
}

#[test]
fn the_metrics_reference_names_every_rendered_family_and_no_other() {
    let exposition = Exposition::render();
    let named = metric_names(&read(METRICS_REFERENCE));
    let missing: Vec<&String> = exposition.families.keys().filter(|family| !named.contains(*family)).collect();
    assert!(missing.is_empty(), "{METRICS_REFERENCE} does not document {missing:?}");
    let unknown: Vec<&String> = named
        .iter()
        .filter(|name| !exposition.series.contains(*name) && !exposition.families.contains_key(*name))
        .collect();
    assert!(unknown.is_empty(), "{METRICS_REFERENCE} names metrics the exposition does not have: {unknown:?}");
}

/// Runs promtool with `args` from the repository root; it must succeed.
fn run(promtool: &Path, args: &[&str]) {
    let out = Command::new(promtool).args(args).current_dir(repo()).output().unwrap();
    assert!(
        out.status.success(),
        "promtool {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn promtool_checks_the_rules_and_runs_their_unit_tests() {
    let Some(promtool) = cybexp_tests::tool_or_skip("promtool_checks_the_rules_and_runs_their_unit_tests", "promtool")
    else {
        return;
    };
    run(&promtool, &["check", "rules", RULES]);
    run(&promtool, &["test", "rules", RULE_TESTS]);
}

#[test]
fn promtool_parses_every_dashboard_query() {
    let Some(promtool) = cybexp_tests::tool_or_skip("promtool_parses_every_dashboard_query", "promtool") else {
        return;
    };
    let dashboard: Value = serde_json::from_str(&read(DASHBOARD)).unwrap();
    // Grafana's range variables become a plain range; a recording rule per
    // query makes promtool parse each one. (JSON is YAML.)
    let rules: Vec<Value> = dashboard_queries(&dashboard)
        .iter()
        .filter(|query| query.contains("cybexp_archive_") && !query.starts_with("label_values("))
        .enumerate()
        .map(|(i, query)| {
            let expr = ["$__rate_interval", "$__interval", "$__range"]
                .iter()
                .fold(query.clone(), |expr, variable| expr.replace(variable, "5m"));
            serde_json::json!({ "record": format!("dashboard_query_{i}"), "expr": expr })
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dashboard-queries.yml");
    let groups = serde_json::json!({ "groups": [{ "name": "dashboard", "rules": rules }] });
    std::fs::write(&file, groups.to_string()).unwrap();
    run(&promtool, &["check", "rules", file.to_str().unwrap()]);
}
