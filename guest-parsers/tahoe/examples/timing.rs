//! Native timings of the per-event hot path and of hostile input.
//!
//! `cargo run --release -p cybexp-tahoe --example timing`

use std::hint::black_box;
use std::time::{Duration, Instant};

use cybexp_tahoe::canonical::python_float_repr;
use cybexp_tahoe::{Limits, Value, canonical, raw_document, reference_data};

/// Mean time of `f` over enough runs to fill about half a second.
fn time<T>(mut f: impl FnMut() -> T) -> Duration {
    let start = Instant::now();
    let mut runs = 0u32;
    while start.elapsed() < Duration::from_millis(500) || runs < 3 {
        black_box(f());
        runs += 1;
    }
    start.elapsed() / runs
}

fn report(label: &str, plaintext: &str) {
    let limits = Limits::default();
    let data = reference_data(plaintext, &limits).unwrap();
    let parse = time(|| reference_data(plaintext, &limits));
    let canon = time(|| canonical(&data, limits.max_canonical_bytes));
    let doc = time(|| raw_document("unr_honeypot", &data, &limits));
    let both = time(|| raw_document("unr_honeypot", &reference_data(plaintext, &limits).unwrap(), &limits));
    println!(
        "{label:<32} {:>8} B | parse {parse:>8.1?} | canonical {canon:>8.1?} | raw_document {doc:>8.1?} | parse+raw_document {both:>8.1?}",
        plaintext.len()
    );
}

fn main() {
    let samples = cybexp_test_kit::shared_text("samples/cowrie_raw_documents.jsonl");
    let events: Vec<String> = samples
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let stored: serde_json::Value = serde_json::from_str(l).unwrap();
            serde_json::to_string(&stored["data"]).unwrap()
        })
        .collect();
    report("one cowrie event", &events[0]);
    report("largest cowrie event", events.iter().max_by_key(|e| e.len()).unwrap());

    // ~1 MiB: an array of cowrie records, as a batch upload would be.
    let mut batch = String::from("[");
    let mut i = 0;
    while batch.len() < 1 << 20 {
        if i > 0 {
            batch.push_str(", ");
        }
        batch.push_str(&events[i % events.len()]);
        i += 1;
    }
    batch.push(']');
    report("~1 MiB JSON (cowrie records)", &batch);

    // ~1 MiB of non-JSON text (wrapped as {"data": text}).
    let line = "http://mjayme9jdg9izxixmjeydgg.filesusr.com/html/c69417_3069841d50.html?x=1\n";
    report("~1 MiB URL list (wrapped text)", &line.repeat((1 << 20) / line.len()));

    floats();
    hostile();
}

/// Floats as the canonical form and `to_json` write them (Python `repr`).
fn floats() {
    // Random bit patterns, and short decimals such as feeds hold.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let random: Vec<f64> = (0..10_000).map(|_| f64::from_bits(next())).collect();
    let short: Vec<f64> = (0..10_000).map(|_| (next() % 200_000_000) as f64 / 100.0 - 1e6).collect();
    for (label, floats) in [("random doubles", &random), ("short decimals", &short)] {
        let t = time(|| floats.iter().map(|f| python_float_repr(*f).len()).sum::<usize>());
        println!("python_float_repr, {label:<14} {:>6.1} ns per float", t.as_nanos() as f64 / floats.len() as f64);
    }
}

fn hostile() {
    let limits = Limits::default();
    // A 60-byte document nested 30 deep: a ~GiB canonical form.
    let mut deep = Value::Object(vec![("k".into(), Value::String("0123456789".into()))]);
    for _ in 1..30 {
        deep = Value::Object(vec![("a".into(), deep)]);
    }
    let t = time(|| raw_document("x", &deep, &limits).unwrap_err());
    println!(
        "hostile: 30-deep nesting                 -> {:?} in {t:.1?}",
        raw_document("x", &deep, &limits).unwrap_err()
    );

    // Many copies of a 21-deep element (~4 MiB canonical each), varied so
    // they differ as values but not canonically: built once, then deduped.
    let copies: Vec<Value> = (0..1000).map(|i| nest(21, &" ".repeat(i % 7))).collect();
    let many = Value::Array(copies);
    let start = Instant::now();
    let outcome = raw_document("x", &many, &limits).map(|doc| doc.hash);
    println!("hostile: 1000 equal 21-deep elements     -> {outcome:?} in {:.1?}", start.elapsed());

    // The same with distinct elements: the size budget stops it.
    let distinct = Value::Array((0..1000).map(|i| nest(21, &i.to_string())).collect());
    let start = Instant::now();
    let outcome = raw_document("x", &distinct, &limits).map(|doc| doc.hash);
    println!("hostile: 1000 distinct 21-deep elements  -> {outcome:?} in {:.1?}", start.elapsed());
}

/// `{"a": … {"a": {"p": pad}}}`, `depth` objects deep.
fn nest(depth: usize, pad: &str) -> Value {
    let mut v = Value::Object(vec![("p".into(), Value::String(pad.into()))]);
    for _ in 1..depth {
        v = Value::Object(vec![("a".into(), v)]);
    }
    v
}
