//! The `[store]` settings of the MongoDB backend (`backend = "mongodb"`),
//! owned here with their defaults, and opening the stores from them.

use std::time::Duration;

use cybexp_lake::StoreError;
use serde::{Deserialize, Serialize};

use crate::{ArchiveTarget, BACKEND, LakeTarget, MongoArchive, MongoLake, Options};

// The defaults, once: the collections of a CYBEX-P deployment.
pub(crate) const DEFAULT_CACHE_DB: &str = "cache_db";
pub(crate) const DEFAULT_CACHE_COLL: &str = "file_entries";
pub(crate) const DEFAULT_CACHE_BUCKET: &str = "fs";
pub(crate) const DEFAULT_ARCHIVE_DB: &str = "tahoe_db";
pub(crate) const DEFAULT_ARCHIVE_COLL: &str = "instance";
pub(crate) const DEFAULT_CREATE_CLAIM_INDEX: bool = true;

/// MongoDB: the collections a CYBEX-P deployment already has (the API's
/// `cache_db.file_entries` + GridFS, analytics' `tahoe_db.instance`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MongoConfig {
    /// Connection string for both (TLS, auth, replica set, timeouts go in
    /// it); `cache_uri` / `archive_uri` override it per side.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_uri: Option<String>,
    pub cache_db: String,
    pub cache_coll: String,
    /// The GridFS bucket of the blobs.
    pub cache_bucket: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive_uri: Option<String>,
    pub archive_db: String,
    pub archive_coll: String,
    /// Write concern `w` ("majority", a node count or a tag set); absent:
    /// the URI's, else "majority".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_concern: Option<String>,
    /// Write concern `j`; absent: the URI's, else `true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journal: Option<bool>,
    /// Create the claim index on the entries collection (and the GridFS
    /// spec's index on the chunks) if missing.
    pub create_claim_index: bool,
    /// How long one operation may take before it fails (and the work it
    /// was for is retried), in seconds.
    pub timeout_secs: u64,
}

impl Default for MongoConfig {
    fn default() -> Self {
        MongoConfig {
            uri: None,
            cache_uri: None,
            cache_db: DEFAULT_CACHE_DB.into(),
            cache_coll: DEFAULT_CACHE_COLL.into(),
            cache_bucket: DEFAULT_CACHE_BUCKET.into(),
            archive_uri: None,
            archive_db: DEFAULT_ARCHIVE_DB.into(),
            archive_coll: DEFAULT_ARCHIVE_COLL.into(),
            write_concern: None,
            journal: None,
            create_claim_index: DEFAULT_CREATE_CLAIM_INDEX,
            timeout_secs: crate::DEFAULT_TIMEOUT.as_secs(),
        }
    }
}

impl MongoConfig {
    /// Opens both stores; `lease` from the pipeline config.
    pub fn open(&self, lease: Duration) -> Result<(MongoLake, MongoArchive), StoreError> {
        self.open_observed(lease, None)
    }

    /// [`Self::open`], reporting every command to `events` (see
    /// [`crate::open_observed`]). As
    /// [`crate::open`]: no I/O beyond parsing the URIs (and the DNS look-up
    /// of a `mongodb+srv://` URI).
    pub fn open_observed(
        &self,
        lease: Duration,
        events: Option<mongodb::event::EventHandler<mongodb::event::command::CommandEvent>>,
    ) -> Result<(MongoLake, MongoArchive), StoreError> {
        let uri = |side: &Option<String>, name: &str| {
            side.clone()
                .or_else(|| self.uri.clone())
                .ok_or_else(|| StoreError::refused(BACKEND, format!("[store] needs `uri` (or `{name}`)")))
        };
        let lake = LakeTarget {
            uri: uri(&self.cache_uri, "cache_uri")?,
            db: self.cache_db.clone(),
            coll: self.cache_coll.clone(),
            bucket: self.cache_bucket.clone(),
        };
        let archive = ArchiveTarget {
            uri: uri(&self.archive_uri, "archive_uri")?,
            db: self.archive_db.clone(),
            coll: self.archive_coll.clone(),
        };
        let options = Options {
            lease,
            write_concern: self.write_concern.clone(),
            journal: self.journal,
            create_claim_index: self.create_claim_index,
            timeout: Duration::from_secs(self.timeout_secs.max(1)),
        };
        crate::open_observed(&lake, &archive, &options, events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cybexp_lake::{ArchiveStore, CacheLake, StoreErrorKind};

    #[test]
    fn defaults_are_the_cybexp_collections() {
        let config = MongoConfig::default();
        assert_eq!((config.uri, config.cache_uri, config.archive_uri), (None, None, None));
        assert_eq!(
            (config.cache_db.as_str(), config.cache_coll.as_str(), config.cache_bucket.as_str()),
            ("cache_db", "file_entries", "fs")
        );
        assert_eq!((config.archive_db.as_str(), config.archive_coll.as_str()), ("tahoe_db", "instance"));
        assert_eq!((config.write_concern, config.journal, config.create_claim_index), (None, None, true));
        assert_eq!(config.timeout_secs, crate::DEFAULT_TIMEOUT.as_secs());
        // The same defaults as the targets' and the options'.
        let lake = LakeTarget::new("u");
        assert_eq!((lake.db.as_str(), lake.coll.as_str(), lake.bucket.as_str()), ("cache_db", "file_entries", "fs"));
        let archive = ArchiveTarget::new("u");
        assert_eq!((archive.db.as_str(), archive.coll.as_str()), ("tahoe_db", "instance"));
        assert!(Options::default().create_claim_index);
    }

    #[test]
    fn settings_deserialize_over_the_defaults_and_unknown_ones_are_refused() {
        let config: MongoConfig =
            serde_json::from_str(r#"{"uri": "mongodb://h/", "cache_db": "c", "journal": true}"#).unwrap();
        let expected = MongoConfig {
            uri: Some("mongodb://h/".into()),
            cache_db: "c".into(),
            journal: Some(true),
            ..MongoConfig::default()
        };
        assert_eq!(config, expected);
        assert!(serde_json::from_str::<MongoConfig>(r#"{"url": "mongodb://h/"}"#).is_err());

        // As the host holds it: inside an enum tagged by `backend`.
        #[derive(Deserialize, Debug, PartialEq)]
        #[serde(tag = "backend", rename_all = "lowercase", deny_unknown_fields)]
        enum Store {
            Mongodb(MongoConfig),
        }
        let Store::Mongodb(tagged) =
            serde_json::from_str(r#"{"backend": "mongodb", "uri": "mongodb://h/", "cache_db": "c", "journal": true}"#)
                .unwrap();
        assert_eq!(tagged, expected);
        assert!(serde_json::from_str::<Store>(r#"{"backend": "mongodb", "url": "x"}"#).is_err());
    }

    #[test]
    fn open_needs_a_uri_per_side_and_does_no_io() {
        let lease = Duration::from_secs(5);
        let err = MongoConfig::default().open(lease).err().unwrap();
        assert_eq!((err.backend, err.kind), ("mongodb", StoreErrorKind::Refused));
        assert_eq!(err.message, "[store] needs `uri` (or `cache_uri`)");
        let cache_only = MongoConfig { cache_uri: Some("mongodb://127.0.0.1:1/".into()), ..MongoConfig::default() };
        let err = cache_only.open(lease).err().unwrap();
        assert_eq!(
            (err.kind, err.message.as_str()),
            (StoreErrorKind::Refused, "[store] needs `uri` (or `archive_uri`)")
        );

        // Nothing listens on port 1: opening still succeeds.
        let config = MongoConfig {
            uri: Some("mongodb://user:pw@127.0.0.1:1/?serverSelectionTimeoutMS=100".into()),
            archive_uri: Some("mongodb://127.0.0.1:2/".into()),
            cache_db: "c".into(),
            archive_coll: "docs".into(),
            ..MongoConfig::default()
        };
        let (lake, archive) = config.open(lease).unwrap();
        assert_eq!(lake.lease(), lease);
        assert_eq!(lake.describe(), "mongodb://127.0.0.1:1/c.file_entries (GridFS fs)");
        assert_eq!(archive.describe(), "mongodb://127.0.0.1:2/tahoe_db.docs");
        let w0 = MongoConfig { write_concern: Some("0".into()), ..config };
        assert_eq!(w0.open(lease).err().unwrap().kind, StoreErrorKind::Refused);
    }
}
