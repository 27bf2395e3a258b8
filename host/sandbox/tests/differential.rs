//! The sandbox, differentially: every built-in parser run natively (its
//! crate's `parse`) and as its wasm component under wasmtime must give the
//! same answer for the same input: the same document (sub_type, data JSON
//! bytes, `_hash`, record counts and the note on the first malformed
//! record), or the same failure class with the same reason text (the WIT
//! `failure` variant carries the reason through).
//!
//! Inputs are the bundled samples (`guest-parsers/*/tests/samples`, the
//! start of each real one in `samples/real`, `../shared/samples`), each
//! sample fed to every parser, mutated by byte flips, truncation, splicing
//! of two samples, inserted and deleted ranges, and JSON, RFC 5322/MIME and
//! URL-list token soup, plus soup alone. Byte mutations are made UTF-8
//! lossily, as the host hands parsers only checked UTF-8. The runner's seed
//! is fixed and failure persistence is off, so CI sees the same cases on
//! every run; [`CASES`] per parser.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use cybexp_sandbox::{EngineOptions, Limits, ParseError, ParseInput, ParsedDocument, Sandbox};
use cybexp_tahoe::{ParseFailure, RawDoc};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

/// Cases per parser.
const CASES: u32 = 5_000;
/// Bytes of a generated input at most (the largest sample is about 32 KiB).
const MAX_INPUT: usize = 40 << 10;

type Native = fn(&ParseInput<'_>) -> Result<RawDoc, ParseFailure>;

struct Parser {
    name: &'static str,
    native: Native,
    typtag: &'static str,
    sub_types: &'static [&'static str],
}

const PARSERS: [Parser; 4] = [
    Parser { name: "json", native: cybexp_parser_json::parse, typtag: "any", sub_types: &["any_feed", ""] },
    Parser {
        name: "cowrie",
        native: cybexp_parser_cowrie::parse,
        typtag: "unr-honeypot",
        sub_types: &["unr_honeypot"],
    },
    Parser {
        name: "url-list",
        native: cybexp_parser_url_list::parse,
        typtag: "openphish_feed",
        sub_types: &["openphish_feed", "phishtank_feed"],
    },
    Parser { name: "email", native: cybexp_parser_email::parse, typtag: "email", sub_types: &["email"] },
];

/// One sandbox for every test (compiling the components is the slow part).
/// The deadline is generous: on a loaded CI machine a wall-clock cut-off
/// would be a difference between the two sides that says nothing about the
/// parsers. Fuel and memory stay at their defaults; the inputs are small.
static SANDBOX: LazyLock<Sandbox> = LazyLock::new(|| {
    let mut sandbox = Sandbox::new(EngineOptions::default()).expect("engine");
    sandbox.load_builtin_parsers(|_| Limits { deadline_ms: 120_000, ..Limits::default() }).expect("built-in parsers");
    sandbox
});

/// Every sample file, and each line of the multi-record ones, with the
/// parser whose samples they are ("" for `../shared/samples`).
static SEEDS: LazyLock<Vec<(&'static str, Vec<u8>)>> = LazyLock::new(|| {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut dirs = vec![("", cybexp_test_kit::shared("samples"))];
    for parser in &PARSERS {
        dirs.push((parser.name, manifest.join("../../guest-parsers").join(parser.name).join("tests/samples")));
    }
    let mut seeds = Vec::new();
    for (owner, dir) in dirs.iter().filter(|(_, d)| d.is_dir()) {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        for file in files.iter().filter(|f| f.is_file()) {
            let bytes = read(file);
            if bytes.iter().filter(|&&b| b == b'\n').count() > 1 {
                seeds.extend(bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(|l| (*owner, l.to_vec())));
            }
            seeds.push((*owner, bytes));
        }
        // The real published files: their first whole lines up to 4 KiB
        // (their messy records included), as more seeds.
        let real = dir.join("real");
        if real.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&real).unwrap().map(|e| e.unwrap().path()).collect();
            files.sort();
            for file in files.iter().filter(|f| f.extension().is_none_or(|ext| ext != "md" && ext != "tsv")) {
                let bytes = read(file);
                let head = &bytes[..bytes.len().min(4 << 10)];
                let cut = head.iter().rposition(|&b| b == b'\n').map_or(head.len(), |i| i + 1);
                seeds.push((*owner, head[..cut].to_vec()));
            }
        }
    }
    assert!(seeds.len() >= 20, "expected the bundled samples, found {} seeds in {dirs:?}", seeds.len());
    seeds
});

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Tokens the parsers branch on: JSON's grammar and Python's extensions,
/// RFC 5322 headers, MIME, encoded words, mbox separators, URL lists.
/// (Packed by hand: rustfmt would put each on a line of its own.)
#[rustfmt::skip]
const SOUP: &[&str] = &[
    "{", "}", "[", "]", "\"", ":", ",", " ", "\n", "\r\n", "\t", "null", "true", "false", "0", "-0", "1e400", "-1e-400",
    "12345678901234567890123456789012345678901234567890", "1.5", "NaN", "Infinity", "-Infinity", "\"\\ud800\"",
    "\"\\udc00\\ud800\"", "\"\\u0000\"", "\"\\\"\"", "\\", "\"a\":", "\"_hash\":", "\"data\":", "[[[[[[[[[[[[[[[[",
    "]]]]]]]]]]]]]]]]", "{\"a\":{\"a\":{\"a\":", "\u{feff}", "\u{0}", "é", "\u{10ffff}", "\u{2028}", "From: a@b.c\r\n",
    "To: <x@y>\r\n", "Subject: =?utf-8?B?SGk=?=\r\n", "=?iso-8859-1?Q?a=E9?=", "=?", "?=", "\r\n\r\n", "\n\n",
    "Content-Type: multipart/mixed; boundary=\"b\"\r\n", "Content-Type: text/plain; charset=utf-8\r\n", "--b\r\n",
    "--b--\r\n", "Content-Transfer-Encoding: base64\r\n", "Content-Transfer-Encoding: quoted-printable\r\n", "=3D",
    "=\r\n", "From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n", ">From ", " folded\r\n", "http://", "https://",
    "hxxp://", "example.com/", "?q=1&r=2", "#frag", "phish_id,url,phish_detail_url\n", "<url>", "</url>",
    "\"eventid\":\"cowrie.login.failed\"", "\"message\":", "\"@timestamp\":", "\"json\":{", "\"cowrie\":",
];

#[derive(Clone, Debug)]
enum Mutation {
    /// XOR the byte at (position % len) with a mask.
    Flip(usize, u8),
    /// Keep the first (position % (len + 1)) bytes.
    Truncate(usize),
    /// Insert a soup token at a position.
    Insert(usize, usize),
    /// Remove up to n bytes from a position.
    Delete(usize, usize),
    /// Put a slice of another seed at a position.
    Splice { seed: usize, from: usize, len: usize, at: usize },
    /// Repeat a range in place.
    Duplicate(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<usize>(), 1..=255u8).prop_map(|(at, mask)| Mutation::Flip(at, mask)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        3 => (any::<usize>(), 0..SOUP.len()).prop_map(|(at, token)| Mutation::Insert(at, token)),
        1 => (any::<usize>(), 1..64usize).prop_map(|(at, n)| Mutation::Delete(at, n)),
        1 => (any::<usize>(), any::<usize>(), 1..512usize, any::<usize>())
            .prop_map(|(seed, from, len, at)| Mutation::Splice { seed, from, len, at }),
        1 => (any::<usize>(), 1..128usize).prop_map(|(at, n)| Mutation::Duplicate(at, n)),
    ]
}

fn apply(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    let seeds = &*SEEDS;
    for m in mutations {
        let len = bytes.len();
        match *m {
            Mutation::Flip(at, mask) if len > 0 => bytes[at % len] ^= mask,
            Mutation::Flip(..) => {}
            Mutation::Truncate(at) => bytes.truncate(at % (len + 1)),
            Mutation::Insert(at, token) => {
                let at = at % (len + 1);
                bytes.splice(at..at, SOUP[token].bytes());
            }
            Mutation::Delete(at, n) => {
                let at = at % (len + 1);
                bytes.drain(at..(at + n).min(len));
            }
            Mutation::Splice { seed, from, len: n, at } => {
                let other = &seeds[seed % seeds.len()].1;
                let from = from % (other.len() + 1);
                let piece = &other[from..(from + n).min(other.len())];
                let at = at % (len + 1);
                bytes.splice(at..at, piece.iter().copied());
            }
            Mutation::Duplicate(at, n) => {
                let at = at % (len + 1);
                let piece = bytes[at..(at + n).min(len)].to_vec();
                bytes.splice(at..at, piece);
            }
        }
        bytes.truncate(MAX_INPUT);
    }
    bytes
}

/// JSON scalars the parsers treat specially: Python's number forms, integers
/// past int64 and past 34 digits, escapes, lone and paired surrogates.
#[rustfmt::skip]
const SCALARS: &[&str] = &[
    "null", "true", "false", "0", "-0", "1", "-1", "2147483648", "9223372036854775808", "-9223372036854775809",
    "123456789012345678901234567890123456789", "1.0", "1e5", "1E-7", "1e400", "-1e400", "NaN", "Infinity",
    "-Infinity", "\"\"", "\"a\"", "\"\\ud800\"", "\"\\udfff\"", "\"\\ud83d\\ude00\"", "\"\\u0000\"",
    "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"é\u{10ffff}\"", "\"http://example.com/a?b=c\"",
];
const KEYS: &[&str] = &["a", "", "_hash", "data", "eventid", "message", "url", "a.b", "$x", "\\u0000", "é"];

/// Generated JSON (valid unless a scalar makes it not), nested up to a
/// depth just past the parsers' limit of 128.
fn json_text() -> impl Strategy<Value = Vec<u8>> {
    let scalar = (0..SCALARS.len()).prop_map(|i| SCALARS[i].to_owned());
    let value = scalar.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(|items| format!("[{}]", items.join(","))),
            prop::collection::vec((0..KEYS.len(), inner), 0..6).prop_map(|members| {
                let members: Vec<String> = members.into_iter().map(|(k, v)| format!("\"{}\": {v}", KEYS[k])).collect();
                format!("{{{}}}", members.join(", "))
            }),
        ]
    });
    (value, prop_oneof![3 => Just(0usize), 1 => 120..136usize])
        .prop_map(|(value, depth)| format!("{}{value}{}", "[".repeat(depth), "]".repeat(depth)).into_bytes())
}

/// A mutated sample (the parser's own, half the time), generated JSON
/// (mutated or not), or token soup alone.
fn input(parser: &'static str) -> impl Strategy<Value = String> {
    let own: Vec<&'static [u8]> = SEEDS.iter().filter(|(owner, _)| *owner == parser).map(|(_, b)| &b[..]).collect();
    let own = if own.is_empty() { SEEDS.iter().map(|(_, b)| &b[..]).collect() } else { own };
    let seed = prop_oneof![
        2 => prop::sample::select(own).prop_map(<[u8]>::to_vec),
        2 => any::<usize>().prop_map(|seed| SEEDS[seed % SEEDS.len()].1.clone()),
        1 => json_text(),
    ];
    let mutated =
        (seed, prop::collection::vec(mutation(), 0..6)).prop_map(|(bytes, mutations)| apply(bytes, &mutations));
    let soup = prop::collection::vec(0..SOUP.len(), 0..64)
        .prop_map(|tokens| tokens.into_iter().flat_map(|t| SOUP[t].bytes()).collect::<Vec<u8>>());
    prop_oneof![5 => mutated, 1 => soup].prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

/// The answer both sides must agree on.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Document(ParsedDocument),
    NotSupported(String),
    InvalidInput(String),
}

fn native(parser: &Parser, event: &ParseInput<'_>) -> Answer {
    match (parser.native)(event) {
        Ok(doc) => Answer::Document(doc),
        Err(ParseFailure::NotSupported(reason)) => Answer::NotSupported(reason),
        Err(ParseFailure::InvalidInput(reason)) => Answer::InvalidInput(reason),
    }
}

/// The sandbox's answer, or the sandbox-only failure (fuel, trap, ...) that
/// no native parse can give, which is a difference by itself.
fn sandboxed(parser: &Parser, event: &ParseInput<'_>) -> Result<Answer, ParseError> {
    match SANDBOX.parse(parser.name, event).0 {
        Ok(doc) => Ok(Answer::Document(doc)),
        Err(ParseError::NotSupported(reason)) => Ok(Answer::NotSupported(reason)),
        Err(ParseError::InvalidInput(reason)) => Ok(Answer::InvalidInput(reason)),
        Err(other) => Err(other),
    }
}

fn differential(parser: &'static Parser) {
    let config = Config { cases: CASES, failure_persistence: None, max_shrink_iters: 2_000, ..Config::default() };
    // A fixed seed: the same cases on every run (change it to explore).
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[0x5a; 32]);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let sub_types = parser.sub_types;
    let strategy = (input(parser.name), 0..sub_types.len());
    let answers: [Cell<u32>; 3] = Default::default();
    let result = runner.run(&strategy, |(plaintext, sub_type)| {
        let event = ParseInput {
            typtag: parser.typtag,
            orgid: "org",
            timezone: "UTC",
            sub_type: sub_types[sub_type],
            plaintext: &plaintext,
        };
        let native = native(parser, &event);
        let sandboxed = sandboxed(parser, &event).map_err(|e| {
            TestCaseError::fail(format!("{}: the sandbox failed with {e:?}; natively {native:?}", parser.name))
        })?;
        let class = &answers[match native {
            Answer::Document(_) => 0,
            Answer::NotSupported(_) => 1,
            Answer::InvalidInput(_) => 2,
        }];
        class.set(class.get() + 1);
        prop_assert_eq!(&sandboxed, &native, "{}: sandboxed (left) vs native (right)", parser.name);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{}: {e}", parser.name);
    }
    let answers = answers.map(Cell::into_inner);
    eprintln!(
        "{}: {CASES} cases agreed; {} documents, {} not supported, {} invalid (counts include shrinking)",
        parser.name, answers[0], answers[1], answers[2]
    );
    // Inputs that only ever fail (or never) would test little: each parser
    // must see some of each (1 %: the cases run the same every time).
    assert!(answers[0] >= CASES / 100, "{}: only {} documents in {CASES} cases", parser.name, answers[0]);
    assert!(answers[1] + answers[2] >= CASES / 100, "{}: only {} failures", parser.name, answers[1] + answers[2]);
}

#[test]
fn json_natively_and_sandboxed_agree() {
    differential(&PARSERS[0]);
}

#[test]
fn cowrie_natively_and_sandboxed_agree() {
    differential(&PARSERS[1]);
}

#[test]
fn url_list_natively_and_sandboxed_agree() {
    differential(&PARSERS[2]);
}

#[test]
fn email_natively_and_sandboxed_agree() {
    differential(&PARSERS[3]);
}
