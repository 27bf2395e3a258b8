//! The parser sandbox: every byte of feed content is parsed inside a
//! WebAssembly component under wasmtime, with a CPU budget (fuel), a
//! wall-clock deadline (epochs), a memory cap and instance/table caps.
//!
//! Components are compiled once ([`Sandbox::load`]) and pre-instantiated; each
//! event gets a fresh instance from the pooling allocator, so a trapped or
//! over-budget instance is simply dropped and the next event starts clean.
//! With an [`ArtifactCache`] ([`Sandbox::set_cache`]) a load takes what an
//! earlier process compiled from disk instead of compiling it again.
//! The `parser` world imports one pure function, the host's SHA-256
//! ([`DIGEST_INTERFACE`]), and nothing else, so a component that asks for
//! WASI (or anything else) fails to load: a parser can compute and nothing
//! more.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use wasmtime::component::{Linker, WasmList};
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ProfilingStrategy, ResourceLimiter,
    Store, StoreContextMut, Trap,
};

mod cache;
pub use cache::{
    ARTIFACT_EXTENSION, ArtifactCache, CacheDirError, CacheProblem, CacheProblemKind, CacheStats, SandboxConfig,
    component_digest, engine_key,
};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../../guest-parsers/wit",
        world: "parser",
    });
}

use bindings::cybexp::parser::types as wit;

include!(concat!(env!("OUT_DIR"), "/builtin.rs"));

/// Where the build left the hostile test components (`hostile.component.wasm`).
pub const TEST_GUESTS_DIR: &str = env!("CYBEXP_TEST_GUESTS_DIR");

/// Set (to anything) to have the engine write a perf map of the compiled
/// parsers, so `perf record`/`perf report` can name the guests' functions.
pub const PERF_MAP_ENV: &str = "CYBEXP_SANDBOX_PERFMAP";

/// Budgets for one parser; every call gets all of them afresh.
///
/// Fuel and the deadline are a base plus an allowance per byte of input
/// ([`Limits::for_input`]): a large feed of many small events gets room in
/// proportion to its size, while a small input (a nesting bomb that
/// would blow up exponentially) is held to the base.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Fuel (roughly: wasm instructions) per event, whatever its size.
    pub fuel: u64,
    /// Fuel added per byte of input.
    pub fuel_per_input_byte: u64,
    /// Wall-clock budget per event, in milliseconds (epoch granularity).
    pub deadline_ms: u64,
    /// Milliseconds added per MiB of input.
    pub deadline_ms_per_input_mib: u64,
    /// Linear memory an instance may grow to, in bytes.
    pub max_memory_bytes: usize,
    pub max_table_elements: usize,
    /// Core instances, memories and tables one component instance may create.
    pub max_instances: usize,
    /// Largest plaintext handed in, in bytes.
    pub max_input_bytes: usize,
    /// Largest document accepted back (data JSON + hash + sub_type), in bytes.
    pub max_output_bytes: usize,
}

impl Limits {
    /// The budgets for an input of `input_bytes`: base plus allowance.
    pub fn for_input(&self, input_bytes: usize) -> Limits {
        let bytes = input_bytes as u64;
        let fuel = self.fuel.saturating_add(self.fuel_per_input_byte.saturating_mul(bytes));
        let per_mib = self.deadline_ms_per_input_mib.saturating_mul(bytes).div_ceil(1 << 20);
        Limits { fuel, deadline_ms: self.deadline_ms.saturating_add(per_mib), ..*self }
    }
}

impl Default for Limits {
    fn default() -> Self {
        // Per byte: the json parser spends ~630 fuel per byte on a 13 MB
        // feed of 100,000 small events (the costliest shape measured; the
        // canonical form and the hash walk every value), ~75 ms per MB.
        // The allowances are ~3× and ~6× that, so a 16 MiB input may use
        // 3.8e10 fuel and 13 s; a small input keeps the base alone.
        Limits {
            fuel: 4_000_000_000,
            fuel_per_input_byte: 2_000,
            deadline_ms: 5_000,
            deadline_ms_per_input_mib: 500,
            max_memory_bytes: 256 << 20,
            max_table_elements: 10_000,
            max_instances: 16,
            max_input_bytes: 16 << 20,
            max_output_bytes: 64 << 20,
        }
    }
}

/// Engine-wide settings: the size of the instance pool and the epoch tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineOptions {
    /// Component instances alive at once (one per worker thread, plus slack).
    pub max_live_instances: u32,
    /// The largest `max_memory_bytes` any loaded parser may have.
    pub max_memory_bytes: usize,
    /// Deadline granularity.
    pub epoch_tick: Duration,
    /// Memory an idle pool slot keeps mapped, reset in place, so the next
    /// instance starts without page faults (only where the kernel supports
    /// PAGEMAP_SCAN, Linux 6.7+). At most this much per slot in use.
    pub keep_resident_bytes: usize,
}

impl EngineOptions {
    /// Defaults with a pool big enough for `workers` threads parsing at
    /// once: two slots each, plus slack, and never fewer than the default.
    pub fn for_workers(workers: usize) -> EngineOptions {
        let wanted = u32::try_from(workers.saturating_mul(2).saturating_add(8)).unwrap_or(u32::MAX);
        let defaults = EngineOptions::default();
        EngineOptions { max_live_instances: defaults.max_live_instances.max(wanted), ..defaults }
    }
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            max_live_instances: 64,
            max_memory_bytes: 1 << 30,
            epoch_tick: Duration::from_millis(5),
            keep_resident_bytes: 4 << 20,
        }
    }
}

/// One event, as handed to a parser: the same shape the parsers take
/// natively. `plaintext` is already checked to be UTF-8.
pub use cybexp_tahoe::ParseInput;

/// A parser's document (the raw document less what the host fills in), as
/// the parsers return it natively, with the counts of what it read.
pub use cybexp_tahoe::RawDoc as ParsedDocument;

/// How many records a parser read and how many were malformed.
pub use cybexp_tahoe::RecordCounts;

/// Why a sandboxed parse made no document. [`ParseError::reason`] is the
/// short cause written to the cache entry.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("parser does not support this input: {0}")]
    NotSupported(String),
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error("input of {size} bytes exceeds the {limit}-byte limit")]
    InputTooLarge { size: usize, limit: usize },
    #[error("output of {size} bytes exceeds the {limit}-byte limit")]
    OutputTooLarge { size: usize, limit: usize },
    #[error("parser output is malformed: {0}")]
    BadOutput(String),
    #[error("fuel budget exhausted ({0} units)")]
    Fuel(u64),
    #[error("deadline of {0} ms exceeded")]
    Deadline(u64),
    #[error("memory limit of {0} bytes exceeded")]
    Memory(usize),
    #[error("parser trapped: {0}")]
    Trap(String),
    #[error("no parser named {0:?} is loaded")]
    UnknownParser(String),
    /// The sandbox itself could not run the parser (the instance pool is
    /// exhausted, instantiation failed, the epoch thread is gone): the
    /// archiver's trouble, never the entry's (see [`ParseError::is_archiver_trouble`]).
    #[error("sandbox unavailable: {0}")]
    Unavailable(String),
}

impl ParseError {
    /// `invalid_input`, `fuel`, `deadline`, `memory`, `trap`, ...
    pub fn reason(&self) -> &'static str {
        match self {
            ParseError::NotSupported(_) => "not_supported",
            ParseError::InvalidInput(_) => "invalid_input",
            ParseError::InputTooLarge { .. } => "input_too_large",
            ParseError::OutputTooLarge { .. } => "output_too_large",
            ParseError::BadOutput(_) => "bad_output",
            ParseError::Fuel(_) => "fuel",
            ParseError::Deadline(_) => "deadline",
            ParseError::Memory(_) => "memory",
            ParseError::Trap(_) => "trap",
            ParseError::UnknownParser(_) => "unknown_parser",
            ParseError::Unavailable(_) => "unavailable",
        }
    }

    /// True when the failure is not the entry's content's doing: the entry
    /// must be released for a retry, never marked ERROR.
    pub fn is_archiver_trouble(&self) -> bool {
        matches!(self, ParseError::Unavailable(_) | ParseError::UnknownParser(_))
    }
}

/// What one call cost, and what the parser read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallStats {
    pub fuel_used: u64,
    pub elapsed: Duration,
    /// The document's record counts; zero when the call made no document.
    /// (Its note on the first malformed record stays on the document: it
    /// may quote the feed.)
    pub counts: RecordCounts,
}

/// Loading a component failed.
#[derive(Debug, thiserror::Error)]
#[error("parser {name:?}: {message}")]
pub struct LoadError {
    pub name: String,
    pub message: String,
}

/// A loaded parser's identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParserInfo {
    /// The name it is loaded under (what config refers to).
    pub name: String,
    /// What the component says it is.
    pub component_name: String,
    pub version: String,
    pub limits: Limits,
    /// Hex SHA-256 of the component bytes.
    pub component_sha256: String,
}

struct LoadedParser {
    info: ParserInfo,
    pre: bindings::ParserPre<GuestState>,
}

/// Per-instance state: only the limiter, since the one import keeps no state.
struct GuestState {
    limiter: GuestLimiter,
}

/// Enforces the memory/table/instance caps and remembers a denial, so a trap
/// that follows (Rust guests abort when allocation fails) is reported as
/// "memory", not as a generic trap.
struct GuestLimiter {
    limits: Limits,
    memory_denied: bool,
}

impl ResourceLimiter for GuestLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        let allowed = desired <= self.limits.max_memory_bytes;
        self.memory_denied |= !allowed;
        Ok(allowed)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= self.limits.max_table_elements)
    }

    fn instances(&self) -> usize {
        self.limits.max_instances
    }

    fn tables(&self) -> usize {
        self.limits.max_instances
    }

    fn memories(&self) -> usize {
        self.limits.max_instances
    }
}

/// Advances the engine's epoch on a timer so deadlines fire; stops on drop.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine, tick: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("sandbox-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    engine.increment_epoch();
                }
            })
            .expect("spawning the epoch thread");
        EpochTicker { stop, thread: Some(thread) }
    }

    /// False once the thread has ended (it only ends on drop, or by a panic).
    fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|thread| !thread.is_finished())
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The compiled parsers and the engine that runs them. `Sync`: call
/// [`Sandbox::parse`] from any number of worker threads.
pub struct Sandbox {
    engine: Engine,
    /// What every parser is linked against (see [`guest_linker`]).
    linker: Linker<GuestState>,
    options: EngineOptions,
    parsers: BTreeMap<String, LoadedParser>,
    artifacts: cache::Artifacts,
    _ticker: EpochTicker,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox").field("parsers", &self.parsers.keys().collect::<Vec<_>>()).finish()
    }
}

impl Sandbox {
    pub fn new(options: EngineOptions) -> Result<Self, LoadError> {
        let engine_error = |e: wasmtime::Error| LoadError { name: "<engine>".into(), message: format!("{e:#}") };
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(options.max_live_instances)
            .total_core_instances(options.max_live_instances * 4)
            .total_memories(options.max_live_instances * 2)
            .total_tables(options.max_live_instances * 2)
            .max_memory_size(options.max_memory_bytes);
        // Recycled memory slots: where the kernel can report which pages an
        // instance dirtied (PAGEMAP_SCAN), reset those in place instead of
        // unmapping them, so the next instance does not fault them back in.
        // Elsewhere a memset of the whole range would cost more than it saves.
        if PoolingAllocationConfig::is_pagemap_scan_available() {
            pool.pagemap_scan(Enabled::Yes)
                .linear_memory_keep_resident(options.keep_resident_bytes)
                .table_keep_resident(options.keep_resident_bytes);
        }
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .consume_fuel(true)
            .epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        // Opt-in, for `perf record`: names the JIT code of the parsers in
        // /tmp/perf-<pid>.map.
        if std::env::var_os(PERF_MAP_ENV).is_some() {
            config.profiler(ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config).map_err(engine_error)?;
        let ticker = EpochTicker::start(engine.clone(), options.epoch_tick);
        let linker = guest_linker(&engine).map_err(engine_error)?;
        Ok(Sandbox {
            engine,
            linker,
            options,
            parsers: BTreeMap::new(),
            artifacts: Default::default(),
            _ticker: ticker,
        })
    }

    /// This sandbox with `cache` for the compiled parsers (see [`ArtifactCache`]).
    pub fn with_cache(mut self, cache: ArtifactCache) -> Self {
        self.set_cache(Some(cache));
        self
    }

    /// Loads from here on keep compiled parsers in `cache` and take them
    /// from it; `None` compiles every load.
    pub fn set_cache(&mut self, cache: Option<ArtifactCache>) {
        self.artifacts.set_cache(&self.engine, cache);
    }

    pub fn cache(&self) -> Option<&ArtifactCache> {
        self.artifacts.cache()
    }

    /// Where the artifact of a component (by [`component_digest`]) is kept
    /// for this sandbox's engine; `None` without a cache.
    pub fn artifact_path(&self, component_digest: &str) -> Option<std::path::PathBuf> {
        self.artifacts.path(component_digest)
    }

    /// Compiles and cache hits of the loads so far.
    pub fn cache_stats(&self) -> CacheStats {
        self.artifacts.stats()
    }

    /// What the cache could not do in the loads so far (each load still
    /// succeeded): for the host to log.
    pub fn cache_problems(&self) -> &[CacheProblem] {
        self.artifacts.problems()
    }

    /// A sandbox with the built-in parsers loaded under default limits.
    pub fn with_builtin_parsers() -> Result<Self, LoadError> {
        let mut sandbox = Sandbox::new(EngineOptions::default())?;
        sandbox.load_builtin_parsers(|_| Limits::default())?;
        Ok(sandbox)
    }

    /// Loads every built-in parser, each under the limits `limits_for` gives
    /// its name.
    pub fn load_builtin_parsers(&mut self, limits_for: impl Fn(&str) -> Limits) -> Result<(), LoadError> {
        for (name, bytes) in BUILTIN_PARSERS {
            self.load(name, bytes, limits_for(name))?;
        }
        Ok(())
    }

    /// Compiles a component (or takes it from the artifact cache), checks it
    /// imports nothing, pre-instantiates it and asks it who it is. Replaces a
    /// parser already loaded under `name`.
    pub fn load(&mut self, name: &str, component: &[u8], limits: Limits) -> Result<ParserInfo, LoadError> {
        let error = |message: String| LoadError { name: name.to_owned(), message };
        if limits.max_memory_bytes > self.options.max_memory_bytes {
            return Err(error(format!(
                "max_memory_bytes {} is above the engine's pool slot size {}",
                limits.max_memory_bytes, self.options.max_memory_bytes
            )));
        }
        let component_sha256 = component_digest(component);
        let component = self
            .artifacts
            .component(&self.engine, name, &component_sha256, component)
            .map_err(|e| error(format!("not a valid component: {e:#}")))?;
        let instance_pre = self.linker.instantiate_pre(&component).map_err(|e| {
            error(format!(
                "the component must import nothing but {DIGEST_INTERFACE} (a parser can only compute): {e:#}"
            ))
        })?;
        let pre = bindings::ParserPre::new(instance_pre).map_err(|e| {
            error(format!(
                "the component does not export the cybexp:parser@{WORLD_VERSION} world \
                     (a parser built for an earlier version must be rebuilt): {e:#}"
            ))
        })?;

        let mut store = self.store(limits);
        let wit_info = pre
            .instantiate(&mut store)
            .and_then(|parser| parser.call_info(&mut store))
            .map_err(|e| error(format!("calling info(): {e:#}")))?;
        let info = ParserInfo {
            name: name.to_owned(),
            component_name: wit_info.name,
            version: wit_info.version,
            limits,
            component_sha256,
        };
        self.parsers.insert(name.to_owned(), LoadedParser { info: info.clone(), pre });
        Ok(info)
    }

    /// Loads a component from a file (extra parsers configured by operators).
    pub fn load_file(&mut self, name: &str, path: &std::path::Path, limits: Limits) -> Result<ParserInfo, LoadError> {
        let bytes = std::fs::read(path)
            .map_err(|e| LoadError { name: name.to_owned(), message: format!("reading {}: {e}", path.display()) })?;
        self.load(name, &bytes, limits)
    }

    pub fn parser(&self, name: &str) -> Option<&ParserInfo> {
        self.parsers.get(name).map(|p| &p.info)
    }

    pub fn parsers(&self) -> impl Iterator<Item = &ParserInfo> {
        self.parsers.values().map(|p| &p.info)
    }

    /// Runs `parser` on one event in a fresh instance.
    pub fn parse(&self, parser: &str, event: &ParseInput<'_>) -> (Result<ParsedDocument, ParseError>, CallStats) {
        let Some(loaded) = self.parsers.get(parser) else {
            return (Err(ParseError::UnknownParser(parser.to_owned())), CallStats::default());
        };
        let limits = loaded.info.limits;
        if event.plaintext.len() > limits.max_input_bytes {
            let error = ParseError::InputTooLarge { size: event.plaintext.len(), limit: limits.max_input_bytes };
            return (Err(error), CallStats::default());
        }
        let limits = limits.for_input(event.plaintext.len());
        let started = Instant::now();
        let mut store = self.store(limits);
        let wit_event = wit::Event {
            typtag: event.typtag.to_owned(),
            orgid: event.orgid.to_owned(),
            timezone: event.timezone.to_owned(),
            sub_type: event.sub_type.to_owned(),
            plaintext: event.plaintext.to_owned(),
        };
        if !self._ticker.is_running() {
            return (Err(ParseError::Unavailable("the epoch thread has stopped".into())), CallStats::default());
        }
        // An instance that cannot be made (pool exhausted, a component whose
        // own start-up fails) is the sandbox's trouble: the event has not
        // been seen yet, so it is never the event's fault.
        let parser_instance = match loaded.pre.instantiate(&mut store) {
            Ok(instance) => instance,
            Err(error) => {
                let message = format!("instantiating {parser:?}: {}", first_line(&error));
                return (Err(ParseError::Unavailable(message)), CallStats::default());
            }
        };
        let outcome = parser_instance.call_parse(&mut store, &wit_event);
        let fuel_used = limits.fuel.saturating_sub(store.get_fuel().unwrap_or(0));
        let elapsed = started.elapsed();
        let result = match outcome {
            Ok(Ok(doc)) => check_output(doc, &limits),
            Ok(Err(wit::Failure::InvalidInput(reason))) => Err(ParseError::InvalidInput(reason)),
            Ok(Err(wit::Failure::NotSupported(reason))) => Err(ParseError::NotSupported(reason)),
            Err(error) => Err(classify_trap(&error, &store.data().limiter)),
        };
        let counts = result.as_ref().map(|doc| doc.counts).unwrap_or_default();
        // Numbers and the configured name only: a note or a reason may quote
        // the feed, and the typtag is what a submitter wrote.
        tracing::debug!(
            parser,
            records = counts.records,
            malformed = counts.malformed,
            fuel = fuel_used,
            elapsed_us = elapsed.as_micros() as u64,
            outcome = result.as_ref().map_or_else(ParseError::reason, |_| "document"),
            "parsed"
        );
        (result, CallStats { fuel_used, elapsed, counts })
    }

    fn store(&self, limits: Limits) -> Store<GuestState> {
        let mut store = Store::new(&self.engine, GuestState { limiter: GuestLimiter { limits, memory_denied: false } });
        store.limiter(|state| &mut state.limiter);
        // Fuel is on for every store of this engine, so this cannot fail.
        store.set_fuel(limits.fuel).expect("fuel is enabled");
        let tick_ms = self.options.epoch_tick.as_millis().max(1) as u64;
        store.set_epoch_deadline(limits.deadline_ms.div_ceil(tick_ms).max(1));
        store
    }
}

/// The version of `guest-parsers/wit/parser.wit` this sandbox runs. 0.2.0
/// added the record counts to `raw-document`.
pub const WORLD_VERSION: &str = "0.2.0";

/// The one interface a parser may import: `sha256`, a pure function.
pub const DIGEST_INTERFACE: &str = "cybexp:parser/digest@0.2.0";

/// Fuel a host `sha256` call costs: a base plus this much per byte hashed.
/// Less than hashing in wasm would cost (that is the point of the import),
/// but never free, so a parser cannot use the host to outrun its budget.
pub const DIGEST_FUEL_BASE: u64 = 1_000;
pub const DIGEST_FUEL_PER_BYTE: u64 = 1;

/// What a parser instance can reach: [`DIGEST_INTERFACE`] and nothing else.
///
/// `sha256` reads only the list it is passed (the canonical ABI checks that
/// it lies inside the instance's memory), keeps no state, and returns 32
/// bytes. Its cost is taken from the instance's fuel before it runs; an
/// instance without enough fuel traps as out of fuel.
fn guest_linker(engine: &Engine) -> wasmtime::Result<Linker<GuestState>> {
    let mut linker = Linker::new(engine);
    linker.instance(DIGEST_INTERFACE)?.func_wrap(
        "sha256",
        |mut store: StoreContextMut<'_, GuestState>, (data,): (WasmList<u8>,)| {
            let cost = DIGEST_FUEL_BASE.saturating_add((data.len() as u64).saturating_mul(DIGEST_FUEL_PER_BYTE));
            let fuel = store.get_fuel()?;
            if fuel < cost {
                store.set_fuel(0)?;
                return Err(Trap::OutOfFuel.into());
            }
            store.set_fuel(fuel - cost)?;
            Ok((cybexp_tahoe::digest::sha256(&[data.as_le_slice(&store)]).to_vec(),))
        },
    )?;
    Ok(linker)
}

fn check_output(doc: wit::RawDocument, limits: &Limits) -> Result<ParsedDocument, ParseError> {
    let note = doc.counts.first_malformed.as_deref().map_or(0, str::len);
    let size = doc.data_json.len() + doc.hash.len() + doc.sub_type.len() + note;
    if size > limits.max_output_bytes {
        return Err(ParseError::OutputTooLarge { size, limit: limits.max_output_bytes });
    }
    let hash_ok = doc.hash.len() == 64 && doc.hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !hash_ok {
        return Err(ParseError::BadOutput("_hash is not 64 lowercase hex digits".into()));
    }
    let wit::RecordCounts { records, malformed, first_malformed } = doc.counts;
    if malformed > records {
        return Err(ParseError::BadOutput(format!("{malformed} malformed records of {records} read")));
    }
    Ok(ParsedDocument {
        sub_type: doc.sub_type,
        data_json: doc.data_json,
        hash: doc.hash,
        counts: RecordCounts { records, malformed },
        // Kept short whatever the guest sent: it is for a person to read.
        first_malformed: first_malformed.as_deref().map(cybexp_tahoe::cut_note),
    })
}

fn classify_trap(error: &wasmtime::Error, limiter: &GuestLimiter) -> ParseError {
    if limiter.memory_denied {
        return ParseError::Memory(limiter.limits.max_memory_bytes);
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => ParseError::Fuel(limiter.limits.fuel),
        Some(Trap::Interrupt) => ParseError::Deadline(limiter.limits.deadline_ms),
        Some(trap) => ParseError::Trap(trap.to_string()),
        // Not a wasm trap (e.g. output the host cannot lift): keep the first line only.
        None => ParseError::Trap(first_line(error)),
    }
}

fn first_line(error: &wasmtime::Error) -> String {
    format!("{error}").lines().next().unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_interface_is_the_world_version() {
        assert_eq!(DIGEST_INTERFACE, format!("cybexp:parser/digest@{WORLD_VERSION}"));
        let wit = include_str!("../../../guest-parsers/wit/parser.wit");
        assert!(wit.starts_with(&format!("package cybexp:parser@{WORLD_VERSION};")), "parser.wit is another version");
    }

    #[test]
    fn budgets_are_the_base_plus_the_allowance_for_the_input() {
        let limits = Limits::default();
        assert_eq!(limits.for_input(0), limits, "an empty input gets the base");
        let mib = limits.for_input(1 << 20);
        assert_eq!(mib.fuel, limits.fuel + (limits.fuel_per_input_byte << 20));
        assert_eq!(mib.deadline_ms, limits.deadline_ms + limits.deadline_ms_per_input_mib);
        assert_eq!(limits.for_input(1).deadline_ms, limits.deadline_ms + 1, "part of a MiB rounds up");
        assert_eq!(mib.max_input_bytes, limits.max_input_bytes, "the caps stay");
        let huge = Limits { fuel: u64::MAX - 1, deadline_ms: u64::MAX - 1, ..limits };
        assert_eq!(huge.for_input(usize::MAX).fuel, u64::MAX, "saturates");
        assert_eq!(huge.for_input(usize::MAX).deadline_ms, u64::MAX);
    }
}
