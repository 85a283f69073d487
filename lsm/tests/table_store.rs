//! Tables on an object store (`Options::table_store`): damage to a table
//! object is reported with the object and offset, a missing one is never
//! skipped, a read-only open writes nothing to the store, the disk cache
//! survives damage, and the stats count requests and cache hits.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use larder_lsm::{Db, Error, Options, Problem};
use objstore::{MemStore, ObjectMeta, PutMode, Store};

fn key(i: u32) -> String {
    format!("key{i:05}")
}

fn value(i: u32) -> String {
    format!("value-{i}-{}", "v".repeat((i % 7) as usize * 10))
}

/// A store that counts the requests that change it.
#[derive(Debug, Default)]
struct Counting {
    inner: MemStore,
    writes: AtomicU64,
}

impl Store for Counting {
    fn put(&self, name: &str, data: Bytes, mode: PutMode) -> objstore::Result<ObjectMeta> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.put(name, data, mode)
    }
    fn get(&self, name: &str) -> objstore::Result<(Bytes, ObjectMeta)> {
        self.inner.get(name)
    }
    fn get_range(&self, name: &str, range: std::ops::Range<u64>) -> objstore::Result<Bytes> {
        self.inner.get_range(name, range)
    }
    fn head(&self, name: &str) -> objstore::Result<ObjectMeta> {
        self.inner.head(name)
    }
    fn list(&self, prefix: &str) -> objstore::Result<Vec<ObjectMeta>> {
        self.inner.list(prefix)
    }
    fn delete(&self, name: &str) -> objstore::Result<()> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.delete(name)
    }
    fn location(&self) -> String {
        "memory://counting".to_owned()
    }
}

fn options(store: Arc<dyn Store>) -> Options {
    Options {
        table_store: Some(store),
        blob_threshold_bytes: None,
        ..common::tiny_options()
    }
}

/// A store with 400 keys in a few tables, closed: returns the local disk.
fn filled(opts: &Options) -> Arc<dyn vfs::Fs> {
    let fs: Arc<dyn vfs::Fs> = Arc::new(vfs::MemFs::new());
    let db = Db::open_with_fs(Arc::clone(&fs), "/db", opts.clone()).expect("open");
    for i in 0..400 {
        db.put(key(i), value(i)).expect("put");
    }
    db.flush().expect("flush");
    db.compact_range::<&[u8], _>(..).expect("compact");
    db.close().expect("close");
    fs
}

fn table_objects(store: &dyn Store) -> Vec<ObjectMeta> {
    store.list("tables/").expect("list")
}

/// A table object the store's manifest names. The first listed object will
/// not do: a table a compaction made obsolete may still be on the store
/// (its deletion can trail `close`, and the next open finishes it).
fn live_table_object(fs: &Arc<dyn vfs::Fs>, opts: &Options, store: &dyn Store) -> ObjectMeta {
    let db = Db::open_read_only_with_fs(Arc::clone(fs), "/db", opts.clone()).expect("open");
    let d = db.describe().expect("describe");
    let name = d
        .levels
        .iter()
        .flat_map(|l| &l.tables)
        .map(|t| format!("tables/{}", t.name))
        .next()
        .expect("a live table");
    drop(db);
    table_objects(store)
        .into_iter()
        .find(|o| o.name == name)
        .expect("the live table is on the store")
}

#[test]
fn tables_live_only_on_the_store_and_read_back() {
    let store = Arc::new(MemStore::new());
    let opts = options(store.clone());
    let fs = filled(&opts);
    assert!(!table_objects(&*store).is_empty());
    assert_eq!(common::table_files_on_disk(&*fs, "/db"), 0);
    let db = Db::open_with_fs(fs, "/db", opts).expect("reopen");
    for i in (0..400).step_by(13) {
        assert_eq!(
            db.get(key(i).as_bytes()).expect("get").as_deref(),
            Some(value(i).as_bytes())
        );
    }
    assert_eq!(common::collect(db.range::<&[u8], _>(..)).len(), 400);
    let s = db.stats().table_store;
    assert!(s.reads > 0 && s.read_bytes > 0, "{s:?}");
    assert!(s.memory_cache_misses > 0, "{s:?}");
    // Read again: served from the block cache.
    let before = db.stats().table_store;
    for i in (0..400).step_by(13) {
        db.get(key(i).as_bytes()).expect("get");
    }
    let after = db.stats().table_store;
    assert_eq!(after.reads, before.reads, "{after:?}");
    assert!(after.memory_cache_hits > before.memory_cache_hits);
    assert!(after.cache_hit_rate() > 0.0);
    let report = db.verify().expect("verify");
    assert!(report.is_clean(), "{report:?}");
    // `describe` says where each table lives.
    let d = db.describe().expect("describe");
    let tables: Vec<_> = d.levels.iter().flat_map(|l| &l.tables).collect();
    assert!(!tables.is_empty());
    for t in tables {
        let at = t.location.to_string_lossy().into_owned();
        assert!(at.ends_with(&format!("tables/{}", t.name)), "{at}");
    }
}

#[test]
fn a_flipped_byte_in_a_table_object_is_reported_with_object_and_offset() {
    let store = Arc::new(MemStore::new());
    let opts = options(store.clone());
    let fs = filled(&opts);
    let victim = live_table_object(&fs, &opts, &*store);
    let (bytes, _) = store.get(&victim.name).expect("get");
    let mut damaged = bytes.to_vec();
    // Byte 100: inside the first data block (after the 12-byte header).
    damaged[100] ^= 0x40;
    store
        .put(&victim.name, Bytes::from(damaged), PutMode::Overwrite)
        .expect("put");
    let db = Db::open_with_fs(fs, "/db", opts).expect("open: meta blocks are whole");
    let report = db.verify().expect("verify");
    let found = report.problems.iter().any(|p| {
        matches!(p, Problem::Table { file, offset, .. }
            if file.to_string_lossy().ends_with(&victim.name) && *offset <= 100)
    });
    assert!(found, "{report:?}");
    // A read of the block fails naming the object, never a wrong value.
    let mut errors = 0;
    for i in 0..400 {
        match db.get(key(i).as_bytes()) {
            Ok(v) => assert_eq!(v.as_deref(), Some(value(i).as_bytes())),
            Err(Error::Corruption { file, .. }) => {
                assert!(file.to_string_lossy().ends_with(&victim.name), "{file:?}");
                errors += 1;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(errors > 0);
}

#[test]
fn a_damaged_footer_refuses_the_open_naming_the_object() {
    let store = Arc::new(MemStore::new());
    let opts = options(store.clone());
    let fs = filled(&opts);
    let victim = live_table_object(&fs, &opts, &*store);
    let (bytes, _) = store.get(&victim.name).expect("get");
    let mut damaged = bytes.to_vec();
    let n = damaged.len();
    damaged[n - 20] ^= 1;
    store
        .put(&victim.name, Bytes::from(damaged), PutMode::Overwrite)
        .expect("put");
    match Db::open_with_fs(fs, "/db", opts) {
        Err(Error::Corruption { file, offset, .. }) => {
            assert!(file.to_string_lossy().ends_with(&victim.name), "{file:?}");
            assert_eq!(offset, n as u64 - 64);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_table_missing_from_the_store_is_reported_never_skipped() {
    let store = Arc::new(MemStore::new());
    let opts = options(store.clone());
    let fs = filled(&opts);
    let victim = live_table_object(&fs, &opts, &*store);
    store.delete(&victim.name).expect("delete");
    match Db::open_with_fs(Arc::clone(&fs), "/db", opts.clone()) {
        Err(Error::Corruption { file, .. }) => {
            assert!(file.to_string_lossy().ends_with(&victim.name), "{file:?}");
        }
        other => panic!("{other:?}"),
    }
    match Db::open_read_only_with_fs(fs, "/db", opts) {
        Err(Error::Corruption { file, .. }) => {
            assert!(file.to_string_lossy().ends_with(&victim.name), "{file:?}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_table_deleted_under_an_open_store_is_reported_by_reads_and_verify() {
    let store = Arc::new(MemStore::new());
    let opts = Options {
        block_cache_bytes: 0,
        ..options(store.clone())
    };
    let fs = filled(&opts);
    let victim = live_table_object(&fs, &opts, &*store);
    let db = Db::open_with_fs(fs, "/db", opts).expect("open");
    store.delete(&victim.name).expect("delete");
    let report = db.verify().expect("verify");
    assert!(
        report
            .problems
            .iter()
            .any(|p| matches!(p, Problem::Table { file, .. }
            if file.to_string_lossy().ends_with(&victim.name))),
        "{report:?}"
    );
    let failed = (0..400)
        .filter(|&i| db.get(key(i).as_bytes()).is_err())
        .count();
    assert!(failed > 0);
}

#[test]
fn a_read_only_open_never_writes_to_the_store() {
    let store = Arc::new(Counting::default());
    let opts = options(store.clone());
    let fs = filled(&opts);
    // An obsolete table left behind (as a crash before its delete would):
    // a read-write open would delete it, a read-only one must not.
    let objects = table_objects(&*store);
    let (bytes, _) = store.get(&objects[0].name).expect("get");
    let orphan = (1..)
        .map(|n| format!("tables/{n:06}.sst"))
        .find(|name| objects.iter().all(|o| &o.name != name))
        .expect("a free number");
    store
        .inner
        .put(&orphan, bytes, PutMode::Overwrite)
        .expect("put");
    let writes = store.writes.load(Ordering::SeqCst);
    let db = Db::open_read_only_with_fs(Arc::clone(&fs), "/db", opts.clone()).expect("open");
    assert_eq!(common::collect(db.range::<&[u8], _>(..)).len(), 400);
    assert!(db.verify().expect("verify").is_clean());
    assert!(db.put("k", "v").is_err());
    drop(db);
    assert_eq!(store.writes.load(Ordering::SeqCst), writes);
    assert!(store.head(&orphan).is_ok());
    // A read-write open deletes it: numbered below what the manifest
    // handed out and named by no table, it is provably obsolete.
    let db = Db::open_with_fs(fs, "/db", opts).expect("open");
    assert!(store.head(&orphan).is_err());
    drop(db);
}

#[test]
fn the_disk_cache_serves_blocks_and_drops_damaged_entries() {
    let store = Arc::new(MemStore::new());
    let opts = Options {
        table_cache_dir: Some("/cache".into()),
        // The memory cache holds nothing: every read reaches the disk cache.
        block_cache_bytes: 0,
        ..options(store.clone())
    };
    let fs = filled(&opts);
    let db = Db::open_with_fs(Arc::clone(&fs), "/db", opts.clone()).expect("open");
    for i in 0..400 {
        db.get(key(i).as_bytes()).expect("get");
    }
    let first = db.stats().table_store;
    assert!(first.disk_cache_misses > 0, "{first:?}");
    for i in 0..400 {
        db.get(key(i).as_bytes()).expect("get");
    }
    let second = db.stats().table_store;
    assert_eq!(second.reads, first.reads, "{second:?}");
    assert!(second.disk_cache_hits > first.disk_cache_hits);
    drop(db);
    // Damage every entry: each is refused by its CRC, dropped, and read
    // from the store again; the answers stay right.
    let dir = std::path::Path::new("/cache");
    let names = fs.list_dir(dir).expect("list");
    assert!(!names.is_empty());
    for n in &names {
        let f = fs
            .open(&dir.join(n), vfs::OpenMode::ReadWrite)
            .expect("open");
        f.write_all_at(&[0xAA; 8], 20).expect("write");
    }
    let db = Db::open_with_fs(fs, "/db", opts).expect("reopen");
    for i in 0..400 {
        assert_eq!(
            db.get(key(i).as_bytes()).expect("get").as_deref(),
            Some(value(i).as_bytes())
        );
    }
    let s = db.stats().table_store;
    assert!(s.reads > 0 && s.disk_cache_misses > 0, "{s:?}");
}

#[test]
fn compaction_reads_its_inputs_in_large_windows() {
    let store = Arc::new(MemStore::new());
    let opts = Options {
        block_size_bytes: 256,
        table_size_target_bytes: 64 << 10,
        write_buffer_size_bytes: 64 << 10,
        l0_compaction_trigger: 1000,
        l0_slowdown_trigger: 1000,
        l0_stop_trigger: 1000,
        blob_threshold_bytes: None,
        table_store: Some(store.clone()),
        ..Options::default()
    };
    let fs: Arc<dyn vfs::Fs> = Arc::new(vfs::MemFs::new());
    let db = Db::open_with_fs(fs, "/db", opts).expect("open");
    for round in 0..3 {
        for i in 0..2000 {
            db.put(key(i), format!("{round}-{}", value(i)))
                .expect("put");
        }
        db.flush().expect("flush");
    }
    let before = db.stats();
    let blocks: u64 = before.levels.iter().map(|l| l.bytes).sum::<u64>() / 256;
    db.compact_range::<&[u8], _>(..).expect("compact");
    let after = db.stats().table_store;
    let reads = after.reads - before.table_store.reads;
    // A few tables of well under 4 MiB: a read or two each, not one per
    // block.
    assert!(
        reads * 20 < blocks,
        "{reads} reads for about {blocks} blocks"
    );
}
