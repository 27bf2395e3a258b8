//! What happens to one entry, apart from the stores: decryption and the
//! sandboxed parse, and the outcome each result means (reference §3, §5).
//! Pure with respect to the stores; the stages around it read and write.

use std::collections::BTreeMap;

use cybexp_keys::Keyring;
use cybexp_lake::{BlobError, CacheEntry, ErrorCause, Outcome, RawDocument, StoreError};
use cybexp_sandbox::{CallStats, ParseInput, ParsedDocument, Sandbox};
use serde::{Deserialize, Serialize};

use super::stages::{Stage, StageClock};
use crate::verdict::Verdict;

/// Which parser handles a typtag, and the raw `sub_type` it produces.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    pub parser: String,
    pub sub_type: String,
}

/// The routes every archiver has unless config says otherwise.
pub fn builtin_routes() -> BTreeMap<String, Route> {
    let route = |parser: &str, sub_type: &str| Route { parser: parser.into(), sub_type: sub_type.into() };
    BTreeMap::from([
        ("unr-honeypot".to_owned(), route("cowrie", "unr_honeypot")),
        ("openphish_feed".to_owned(), route("url-list", "openphish_feed")),
        ("phishtank_feed".to_owned(), route("url-list", "phishtank_feed")),
        ("email".to_owned(), route("email", "email")),
    ])
}

/// Turns one entry and its blob into a document or a final outcome. Pure
/// with respect to the stores: it only decrypts and runs the sandbox.
pub struct Processor {
    pub keyring: Keyring,
    pub sandbox: Sandbox,
    pub routes: BTreeMap<String, Route>,
}

/// What [`Processor::process`] decided.
#[derive(Debug)]
pub enum Step {
    /// Store this, then mark the entry SUCCESS.
    Store(RawDocument),
    /// Mark the entry with this (NOT_SUPPORTED or ERROR).
    Finish(Outcome),
    /// The archiver could not do its part (the sandbox failed, not the
    /// entry): release the entry for a retry, mark nothing.
    Retry(Trouble),
}

/// The archiver's own trouble with an entry. Only an entry's own content
/// may make it ERROR; this never does: the entry is released and retried.
#[derive(Clone, Debug, thiserror::Error)]
pub enum Trouble {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Sandbox(String),
}

/// One sandbox call: which parser ran and what it cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParserCall<'a> {
    pub parser: &'a str,
    pub stats: CallStats,
}

/// A processed entry: the step to take, and the parser call if the sandbox ran.
#[derive(Debug)]
pub struct Processed<'a> {
    pub step: Step,
    pub call: Option<ParserCall<'a>>,
    /// The parser's note on the first malformed record, if any. It may
    /// quote feed content: `replay` shows it; nothing logs it.
    pub first_malformed: Option<String>,
}

impl Processed<'_> {
    fn finish(outcome: Outcome) -> Self {
        Processed { step: Step::Finish(outcome), call: None, first_malformed: None }
    }
}

impl Processor {
    /// The built-in parsers under their built-in routes.
    pub fn with_builtin_parsers(keyring: Keyring) -> Result<Processor, cybexp_sandbox::LoadError> {
        Ok(Processor { keyring, sandbox: Sandbox::with_builtin_parsers()?, routes: builtin_routes() })
    }

    /// The route for a typtag, if any parser handles it.
    pub fn route(&self, typtag: &str) -> Option<&Route> {
        self.routes.get(typtag)
    }

    /// The longest blob worth reading for `route`: what its parser takes in,
    /// plus the envelope around it. Anything longer could only end as
    /// `input_too_large` after a download and a decryption.
    pub fn max_blob_bytes(&self, route: &Route) -> u64 {
        match self.sandbox.parser(&route.parser) {
            Some(parser) => (parser.limits.max_input_bytes as u64).saturating_add(ENVELOPE_ALLOWANCE),
            // Not loaded: the sandbox says so (a retry), not the blob's size.
            None => u64::MAX,
        }
    }

    /// Decrypts `blob` and parses it with the entry's parser.
    pub fn process(&self, entry: &CacheEntry, blob: &[u8]) -> Processed<'_> {
        match self.route(&entry.typtag) {
            Some(route) => self.process_routed(route, entry, blob),
            None => Processed::finish(Outcome::NotSupported),
        }
    }

    /// [`Self::process`] with the route already looked up.
    pub fn process_routed<'a>(&self, route: &'a Route, entry: &CacheEntry, blob: &[u8]) -> Processed<'a> {
        self.process_timed(route, entry, blob, None)
    }

    /// [`Self::process_routed`], timing decryption and the parse on `clock`.
    pub(super) fn process_timed<'a>(
        &self,
        route: &'a Route,
        entry: &CacheEntry,
        blob: &[u8],
        clock: Option<&StageClock>,
    ) -> Processed<'a> {
        let plaintext = match StageClock::time(clock, Stage::Decrypt, || self.keyring.decrypt(blob)) {
            Ok(plaintext) => plaintext,
            Err(e) => {
                let cause = ErrorCause::Decrypt(e.class().as_str().to_owned());
                return Processed::finish(Outcome::Error { cause, message: e.to_string() });
            }
        };
        let input = ParseInput {
            typtag: &entry.typtag,
            orgid: &entry.orgid,
            timezone: &entry.timezone,
            sub_type: &route.sub_type,
            plaintext: &plaintext,
        };
        let (result, stats) = StageClock::time(clock, Stage::Parse, || self.sandbox.parse(&route.parser, &input));
        let first_malformed = result.as_ref().ok().and_then(|doc| doc.first_malformed.clone());
        let step = match Verdict::of(result) {
            Verdict::Parsed(doc) => Step::Store(raw_document(doc, &entry.orgid, &entry.timezone)),
            Verdict::Finish { outcome, .. } => Step::Finish(outcome),
            Verdict::Retry(why) => Step::Retry(Trouble::Sandbox(why)),
        };
        Processed { step, call: Some(ParserCall { parser: &route.parser, stats }), first_malformed }
    }
}

/// The raw document for a parser's output: the host adds who sent it.
pub fn raw_document(doc: ParsedDocument, orgid: &str, timezone: &str) -> RawDocument {
    RawDocument {
        sub_type: doc.sub_type,
        data_json: doc.data_json,
        orgid: orgid.to_owned(),
        timezone: timezone.to_owned(),
        hash: doc.hash,
    }
}

/// Room for the envelope around a plaintext: the RSA-wrapped key (512 bytes
/// at RSA-4096, 2 KiB at 16384 bits), nonce, tag and the v2 header, with
/// plenty to spare.
pub const ENVELOPE_ALLOWANCE: u64 = 64 << 10;

/// ERROR outcome for a blob that cannot be read; `None` when the failure is
/// the database's (retry, mark nothing).
pub fn blob_failure(error: BlobError) -> Result<Outcome, StoreError> {
    match error {
        BlobError::Missing(why) => {
            Ok(Outcome::Error { cause: ErrorCause::MissingBlob, message: format!("blob missing: {why}") })
        }
        BlobError::Corrupt(why) => {
            Ok(Outcome::Error { cause: ErrorCause::CorruptBlob, message: format!("blob corrupt: {why}") })
        }
        BlobError::TooLarge { size, limit } => Ok(Outcome::Error {
            cause: ErrorCause::OversizedBlob,
            message: format!(
                "blob of {size} bytes exceeds the {limit}-byte limit (the parser's max_input_bytes plus the envelope)"
            ),
        }),
        BlobError::Store(e) => Err(e),
    }
}
