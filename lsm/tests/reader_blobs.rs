//! Blob files on object stores seen past one writer: a `Reader` elsewhere
//! resolves separated values through the blob stores it is given, a writer
//! taking over from the published manifest adopts the published blob files,
//! and the writer's blob garbage collection keeps what a held publication
//! still names. Losing `m` blob stores costs a reader nothing, more is an
//! error naming the key; a takeover whose blob stores lack a published
//! blob file is refused.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use larder_lsm::{BlobCode, Db, Error, Options, Reader, scoped_store};
use objstore::{MemStore, Store};

const N: u32 = 60;
const PREFIX: &str = "dbs/one";

fn code() -> BlobCode {
    BlobCode {
        data_shards: 2,
        parity_shards: 1,
    }
}

fn blob_stores() -> Vec<Arc<dyn Store>> {
    (0..3)
        .map(|_| Arc::new(MemStore::new()) as Arc<dyn Store>)
        .collect()
}

fn writer_options(root: &Arc<dyn Store>, blobs: &[Arc<dyn Store>]) -> Options {
    Options {
        table_store: Some(scoped_store(Arc::clone(root), PREFIX)),
        publish_manifest: true,
        blob_threshold_bytes: Some(1000),
        blob_code: code(),
        blob_stores: blobs.to_vec(),
        l0_compaction_trigger: 1000,
        l0_slowdown_trigger: 1000,
        l0_stop_trigger: 1000,
        // One flush (one table, one blob file, one publication) a round.
        write_buffer_size_bytes: 1 << 20,
        ..common::tiny_options()
    }
}

fn reader_options(blobs: &[Arc<dyn Store>]) -> Options {
    Options {
        blob_code: code(),
        blob_stores: blobs.to_vec(),
        ..Options::default()
    }
}

fn key(i: u32) -> Vec<u8> {
    format!("key{i:05}").into_bytes()
}

/// Alternately large (separated into a blob file) and small (inline).
fn value(i: u32, round: u32) -> Vec<u8> {
    let len = if i.is_multiple_of(2) {
        1000 + (i as usize * 37) % 3000
    } else {
        20
    };
    (0..len)
        .map(|j| (i as usize * 31 + j + round as usize * 7) as u8)
        .collect()
}

fn write_round(db: &Db, round: u32) {
    for i in 0..N {
        db.put(key(i), value(i, round)).expect("put");
    }
    db.flush().expect("flush");
}

/// Checks every key by gets and by a scan (of the keys `key` makes).
fn check(get: impl Fn(&[u8]) -> Option<Vec<u8>>, scan: Vec<(Vec<u8>, Vec<u8>)>, round: u32) {
    let scan: Vec<_> = scan
        .into_iter()
        .filter(|(k, _)| k.starts_with(b"key"))
        .collect();
    for i in 0..N {
        assert_eq!(get(&key(i)), Some(value(i, round)), "key {i}");
    }
    assert_eq!(scan.len(), N as usize);
    for (i, (k, v)) in scan.into_iter().enumerate() {
        assert_eq!((k, v), (key(i as u32), value(i as u32, round)), "scan {i}");
    }
}

fn check_reader(reader: &Reader, round: u32) {
    check(
        |k| reader.get(k).expect("get").map(|v| v.to_vec()),
        common::collect(reader.iter()),
        round,
    );
    let mut back = common::collect(reader.iter().rev());
    back.reverse();
    assert_eq!(back, common::collect(reader.iter()));
}

fn check_db(db: &Db, round: u32) {
    check(
        |k| db.get(k).expect("get").map(|v| v.to_vec()),
        common::collect(db.iter()),
        round,
    );
}

/// Blob ids with a shard object in `store`.
fn blob_objects(store: &dyn Store) -> BTreeSet<String> {
    store
        .list("blobs/")
        .expect("list")
        .into_iter()
        .map(|m| m.name)
        .collect()
}

#[test]
fn a_reader_resolves_blob_values_through_the_blob_stores_it_is_given() {
    let root: Arc<dyn Store> = Arc::new(MemStore::new());
    let blobs = blob_stores();
    let fs: Arc<dyn vfs::Fs> = Arc::new(vfs::MemFs::new());
    let db = Db::open_with_fs(fs, "/db", writer_options(&root, &blobs)).expect("open");
    write_round(&db, 0);
    assert!(db.stats().blob_files > 0, "values were separated");

    let reader =
        Reader::open_with(Arc::clone(&root), PREFIX, reader_options(&blobs)).expect("reader");
    check_reader(&reader, 0);

    // The writer moves on; the reader follows after a refresh.
    write_round(&db, 1);
    db.compact_range::<&[u8], _>(..).expect("compact");
    assert!(reader.refresh().expect("refresh"));
    check_reader(&reader, 1);

    // Without blob stores, a separated value is a clear error naming what
    // to configure, never a wrong value; inline values still read.
    let blind = Reader::open(Arc::clone(&root), PREFIX).expect("reader");
    match blind.get(&key(0)) {
        Err(e @ Error::BlobUnavailable { .. }) => {
            assert!(e.to_string().contains("blob_stores"), "{e}");
        }
        other => panic!("expected BlobUnavailable, got {other:?}"),
    }
    assert_eq!(
        blind.get(&key(1)).expect("inline").as_deref(),
        Some(&value(1, 1)[..])
    );
    assert!(blind.iter().any(|r| r.is_err()), "a scan reports it too");
    db.close().expect("close");
}

#[test]
fn a_takeover_writer_reads_the_published_blobs_writes_on_and_collects_them() {
    let root: Arc<dyn Store> = Arc::new(MemStore::new());
    let blobs = blob_stores();
    let first = Db::open_with_fs(
        Arc::new(vfs::MemFs::new()),
        "/db",
        writer_options(&root, &blobs),
    )
    .expect("open");
    write_round(&first, 0);
    first.compact_range::<&[u8], _>(..).expect("compact");
    first.close().expect("close");
    let old = blob_objects(&*blobs[0]);
    assert!(!old.is_empty());

    // Another machine, an empty local directory: it takes over from the
    // published manifest.
    let fs: Arc<dyn vfs::Fs> = Arc::new(vfs::MemFs::new());
    let db =
        Db::open_with_fs(Arc::clone(&fs), "/db", writer_options(&root, &blobs)).expect("takeover");
    check_db(&db, 0);
    let s = db.stats();
    assert_eq!(
        s.blob_files,
        old.len(),
        "the published blob files are adopted"
    );
    assert!(s.blob_live_bytes > 0, "{s:?}");

    // It writes on; once its publications no longer name the adopted
    // blob files' tables, garbage collection deletes them.
    write_round(&db, 1);
    db.compact_range::<&[u8], _>(..).expect("compact");
    for _ in 0..6 {
        db.put("tick", "x").expect("put");
        db.flush().expect("flush");
    }
    db.wait_idle().expect("idle");
    check_db(&db, 1);
    let now = blob_objects(&*blobs[0]);
    assert!(old.is_disjoint(&now), "old {old:?}\nnow {now:?}");
    assert_eq!(db.stats().blob_files, now.len());
    db.close().expect("close");

    // And it reopens from its own directory.
    let db = Db::open_with_fs(fs, "/db", writer_options(&root, &blobs)).expect("reopen");
    check_db(&db, 1);
    db.close().expect("close");
}

#[test]
fn blob_gc_keeps_what_a_held_publication_names_and_no_more() {
    let root: Arc<dyn Store> = Arc::new(MemStore::new());
    let blobs = blob_stores();
    // A compaction of its own once two tables are in level 0: one
    // compaction, one publication (`compact_range` would publish once per
    // level and roll the reader's manifest out of the kept ones).
    let opts = Options {
        l0_compaction_trigger: 2,
        ..writer_options(&root, &blobs)
    };
    let db = Db::open_with_fs(Arc::new(vfs::MemFs::new()), "/db", opts).expect("open");
    write_round(&db, 0);
    let old = blob_objects(&*blobs[0]);
    let reader =
        Reader::open_with(Arc::clone(&root), PREFIX, reader_options(&blobs)).expect("reader");

    // Every value overwritten and compacted: the old blob file is garbage
    // to the writer, but a kept publication (the reader's) still names
    // the tables that point into it.
    write_round(&db, 1);
    db.wait_idle().expect("idle");
    let s = db.stats();
    assert!(s.blob_garbage_bytes > 0, "compacted: {s:?}");
    let newest = Reader::open(Arc::clone(&root), PREFIX)
        .expect("reader")
        .manifest_number();
    assert!(
        newest - reader.manifest_number() <= 4,
        "the reader's manifest is kept"
    );
    assert!(old.is_subset(&blob_objects(&*blobs[0])));
    check(
        |k| reader.db().get(k).expect("get").map(|v| v.to_vec()),
        common::collect(reader.db().iter()),
        0,
    );

    // Once no kept publication names them, they go.
    for _ in 0..6 {
        db.put("tick", "x").expect("put");
        db.flush().expect("flush");
    }
    db.wait_idle().expect("idle");
    let now = blob_objects(&*blobs[0]);
    assert!(old.is_disjoint(&now), "old {old:?}\nnow {now:?}");
    assert!(db.stats().blob_files_deleted > 0);
    // The reader's stale view fails; a get refreshes and reads on.
    assert_eq!(
        reader.get(&key(0)).expect("get after refresh").as_deref(),
        Some(&value(0, 1)[..])
    );
    db.close().expect("close");
}

#[test]
fn a_reader_on_another_client_reads_blob_values_from_a_real_s3_server() {
    use objstore::testing::S3Server;
    use objstore::{RemoteOptions, RemoteStore};
    let server = S3Server::start().expect("S3 server");
    let remote = RemoteOptions {
        request_timeout: std::time::Duration::from_secs(10),
        ..RemoteOptions::default()
    };
    // Each call is a separate client on the same buckets, as another
    // machine's would be.
    let client = |bucket: &str| -> Arc<dyn Store> {
        let inner = server.bucket(bucket).expect("bucket");
        Arc::new(RemoteStore::with_options(inner, "db", remote.clone()).expect("store"))
    };
    let buckets = ["shard-a", "shard-b", "shard-c"];
    let writer_blobs: Vec<_> = buckets.iter().map(|b| client(b)).collect();
    let db = Db::open_with_fs(
        Arc::new(vfs::MemFs::new()),
        "/db",
        writer_options(&client("tables"), &writer_blobs),
    )
    .expect("open");
    write_round(&db, 0);
    let reader_blobs: Vec<_> = buckets.iter().map(|b| client(b)).collect();
    let reader =
        Reader::open_with(client("tables"), PREFIX, reader_options(&reader_blobs)).expect("reader");
    check_reader(&reader, 0);
    db.close().expect("close");
}

#[test]
fn a_reader_survives_losing_m_blob_stores_and_names_the_blob_past_that() {
    let root: Arc<dyn Store> = Arc::new(MemStore::new());
    let blobs = blob_stores();
    let db = Db::open_with_fs(
        Arc::new(vfs::MemFs::new()),
        "/db",
        writer_options(&root, &blobs),
    )
    .expect("open");
    write_round(&db, 0);
    db.close().expect("close");
    let reader =
        Reader::open_with(Arc::clone(&root), PREFIX, reader_options(&blobs)).expect("reader");
    // One store (m = 1) emptied: the values decode from the others.
    for m in blobs[0].list("blobs/").expect("list") {
        blobs[0].delete(&m.name).expect("delete");
    }
    check_reader(&reader, 0);
    // Two emptied: a separated value is unavailable, named by key and
    // blob, never a wrong value.
    for m in blobs[1].list("blobs/").expect("list") {
        blobs[1].delete(&m.name).expect("delete");
    }
    assert!(matches!(
        reader.get(&key(0)),
        Err(Error::BlobUnavailable { key: k, .. }) if k == key(0)
    ));
}

#[test]
fn a_takeover_without_the_published_blob_files_is_refused() {
    let root: Arc<dyn Store> = Arc::new(MemStore::new());
    let blobs = blob_stores();
    let first = Db::open_with_fs(
        Arc::new(vfs::MemFs::new()),
        "/db",
        writer_options(&root, &blobs),
    )
    .expect("open");
    write_round(&first, 0);
    first.close().expect("close");
    // The new writer is given other (empty) blob stores.
    let other = blob_stores();
    match Db::open_with_fs(
        Arc::new(vfs::MemFs::new()),
        "/db",
        writer_options(&root, &other),
    ) {
        Err(e @ Error::Corruption { .. }) => {
            assert!(e.to_string().contains("blob"), "{e}");
        }
        r => panic!("expected Corruption, got {:?}", r.map(|_| ())),
    }
}
