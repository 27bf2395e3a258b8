//! What the pipeline, telemetry and writer benches share: the cowrie-sized
//! events, their sealed blobs in a store, and a pipeline over that store.
// Each bench is its own crate and uses a part of this.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use cybexp_archive::pipeline::{Pipeline, Processor};
use cybexp_keys::{Keyring, PrivateKey};
use cybexp_lake::{LakeAdmin, NewEntry};
use cybexp_store_sqlite::SqliteStore;

/// A cowrie event as Filebeat ships it (~548 bytes), distinct per `i`.
pub fn cowrie_event(i: usize) -> String {
    format!(
        r#"{{"message": "{{\"eventid\": \"cowrie.login.failed\", \"username\": \"root\", \"password\": \"pw{i}\", \"src_ip\": \"203.0.113.{}\", \"session\": \"{i:08x}\", \"sensor\": \"f89597a7c9bc\"}}", "agent": {{"type": "filebeat", "version": "7.6.2", "hostname": "cybex"}}, "host": {{"hostname": "cybex", "os": {{"name": "Ubuntu", "version": "18.04.4 LTS (Bionic Beaver)"}}}}, "log": {{"offset": {i}, "file": {{"path": "/home/cybex-user/ssh-amsterdam/ssh.json.log"}}}}, "tags": ["beats_input_codec_plain_applied"], "@timestamp": "2020-04-28T02:49:23.177Z", "@version": "1"}}"#,
        i % 250
    )
}

/// `n` cowrie events in the legacy envelope under `key`.
pub fn sealed_cowrie_events(key: &PrivateKey, n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| cybexp_keys::legacy::encrypt(key.public_key(), cowrie_event(i).as_bytes()).unwrap()).collect()
}

/// Submits each blob as an `unr-honeypot` entry.
pub fn submit_all(store: &SqliteStore, blobs: &[Vec<u8>]) {
    for (i, blob) in blobs.iter().enumerate() {
        let entry = NewEntry {
            name: format!("event-{i}"),
            orgid: "org".into(),
            typtag: "unr-honeypot".into(),
            timezone: "UTC".into(),
            timestamp: i as f64,
        };
        store.submit(&entry, blob).unwrap();
    }
}

/// A fresh store file in `dir` and a pipeline over it with the built-in
/// parsers, `workers` workers and batches of 256.
pub fn pipeline(key_pem: &str, workers: usize, dir: &Path) -> (Pipeline, Arc<SqliteStore>) {
    let unique = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let store = Arc::new(SqliteStore::open(dir.join(format!("bench-{unique}.db"))).unwrap());
    let keyring = Keyring::from(vec![PrivateKey::from_pem(key_pem).unwrap()]);
    let processor = Processor::with_builtin_parsers(keyring).unwrap();
    (Pipeline::on_one_store(store.clone(), processor, workers, 256), store)
}
