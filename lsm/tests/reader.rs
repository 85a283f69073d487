//! `Reader` on a manifest a writer publishes to the table store, and
//! writer fencing through the published manifest's conditional puts.

mod common;

use std::sync::Arc;

use larder_lsm::{Db, Error, Options, Reader, scoped_store};
use objstore::{MemStore, Store};

fn writer_options(store: Arc<dyn Store>) -> Options {
    Options {
        table_store: Some(store),
        publish_manifest: true,
        blob_threshold_bytes: None,
        ..common::tiny_options()
    }
}

fn key(i: u32) -> String {
    format!("key{i:05}")
}

#[test]
fn a_reader_elsewhere_follows_what_the_writer_flushed() {
    let root: Arc<dyn Store> = Arc::new(MemStore::new());
    let store = scoped_store(Arc::clone(&root), "dbs/one");
    let fs: Arc<dyn vfs::Fs> = Arc::new(vfs::MemFs::new());
    let db = Db::open_with_fs(Arc::clone(&fs), "/db", writer_options(store)).expect("open");
    for i in 0..300 {
        db.put(key(i), "first").expect("put");
    }
    db.flush().expect("flush");
    let reader = Reader::open(Arc::clone(&root), "dbs/one").expect("reader");
    let first = reader.manifest_number();
    assert_eq!(
        reader.get(key(7).as_bytes()).expect("get").as_deref(),
        Some(&b"first"[..])
    );
    assert_eq!(common::collect(reader.range::<&[u8], _>(..)).len(), 300);
    // Unflushed writes are the writer's alone.
    db.put("late", "x").expect("put");
    assert_eq!(reader.get(b"late").expect("get"), None);
    for i in 0..300 {
        db.put(key(i), "second").expect("put");
    }
    db.flush().expect("flush");
    db.compact_range::<&[u8], _>(..).expect("compact");
    assert!(reader.refresh().expect("refresh"));
    assert!(reader.manifest_number() > first);
    assert_eq!(
        reader.get(b"late").expect("get").as_deref(),
        Some(&b"x"[..])
    );
    for i in (0..300).step_by(17) {
        assert_eq!(
            reader.get(key(i).as_bytes()).expect("get").as_deref(),
            Some(&b"second"[..])
        );
    }
    assert!(!reader.refresh().expect("refresh"), "nothing newer");
    assert!(reader.db().put("k", "v").is_err(), "a reader never writes");
    // Only the last few published manifests are kept.
    let kept = root.list("dbs/one/manifest/").expect("list").len();
    assert!((1..=5).contains(&kept), "{kept}");
    db.close().expect("close");
}

#[test]
fn a_reader_needs_a_published_manifest() {
    let store: Arc<dyn Store> = Arc::new(MemStore::new());
    assert!(matches!(
        Reader::open(store, "nothing/here"),
        Err(Error::Corruption { .. })
    ));
}

#[test]
fn the_writer_that_opened_last_wins_and_the_other_is_fenced() {
    let store: Arc<dyn Store> = Arc::new(MemStore::new());
    let fs = vfs::MemFs::new();
    let first = Db::open_with_fs(
        Arc::new(fs.clone()),
        "/db",
        writer_options(Arc::clone(&store)),
    )
    .expect("first");
    first.put("a", "1").expect("put");
    first.flush().expect("flush");
    // A second writer with a copy of the first's directory (as a standby
    // taking over would have) claims the store.
    let copy = fs.crash(vfs::CrashOptions {
        seed: u64::MAX,
        tear: false,
    });
    let second = Db::open_with_fs(Arc::new(copy), "/db", writer_options(Arc::clone(&store)))
        .expect("second");
    let reader = Reader::open(Arc::clone(&store), "").expect("reader");
    let epoch = reader.writer_epoch();
    assert!(epoch >= 2, "{epoch}");
    // The first writer's next publication finds its number taken.
    first
        .put("b", "from the zombie")
        .expect("a local write still lands");
    let err = first.flush().expect_err("fenced");
    assert!(
        matches!(&err, Error::Fenced { .. })
            || matches!(&err, Error::Closed { reason: Some(r) } if r.contains("fenced")),
        "{err:?}"
    );
    assert!(first.put("c", "x").is_err(), "the fenced writer stopped");
    // Nothing the zombie acknowledged after the second opened is visible.
    second.put("d", "4").expect("put");
    second.flush().expect("flush");
    assert!(reader.refresh().expect("refresh"));
    assert_eq!(reader.get(b"a").expect("get").as_deref(), Some(&b"1"[..]));
    assert_eq!(reader.get(b"b").expect("get"), None);
    assert_eq!(reader.get(b"d").expect("get").as_deref(), Some(&b"4"[..]));
    assert_eq!(reader.writer_epoch(), epoch);
    drop(first);
    second.close().expect("close");
}

#[test]
fn a_fenced_writer_never_replaces_a_table_of_the_new_one() {
    let store: Arc<dyn Store> = Arc::new(MemStore::new());
    let fs: Arc<dyn vfs::Fs> = Arc::new(vfs::MemFs::new());
    let zombie =
        Db::open_with_fs(Arc::clone(&fs), "/db", writer_options(Arc::clone(&store))).expect("open");
    zombie.put("a", "1").expect("put");
    zombie.flush().expect("flush");
    // Another writer's tables at every number the zombie may use next.
    let newest = store
        .list("tables/")
        .expect("list")
        .iter()
        .filter_map(|m| {
            m.name
                .strip_prefix("tables/")?
                .strip_suffix(".sst")?
                .parse::<u64>()
                .ok()
        })
        .max()
        .expect("a table");
    for n in newest + 1..newest + 200 {
        store
            .put(
                &format!("tables/{n:06}.sst"),
                bytes::Bytes::from_static(b"theirs"),
                objstore::PutMode::Create,
            )
            .expect("put");
    }
    zombie.put("b", "2").expect("put");
    let err = zombie.flush().expect_err("fenced");
    assert!(
        matches!(&err, Error::Fenced { reason, .. } if reason.contains("table"))
            || matches!(&err, Error::Closed { reason: Some(r) } if r.contains("fenced")),
        "{err:?}"
    );
    for n in newest + 1..newest + 200 {
        let (b, _) = store.get(&format!("tables/{n:06}.sst")).expect("get");
        assert_eq!(&b[..], b"theirs");
    }
}

#[test]
fn a_reader_keeps_reading_tables_the_writer_compacted_away() {
    let store: Arc<dyn Store> = Arc::new(MemStore::new());
    let fs: Arc<dyn vfs::Fs> = Arc::new(vfs::MemFs::new());
    let opts = Options {
        // Only the two flushes below and the L0 compaction the second one
        // starts publish.
        write_buffer_size_bytes: 1 << 20,
        l0_compaction_trigger: 2,
        l0_slowdown_trigger: 1000,
        l0_stop_trigger: 1000,
        ..writer_options(Arc::clone(&store))
    };
    let db = Db::open_with_fs(fs, "/db", opts).expect("open");
    for i in 0..200 {
        db.put(key(i), "old").expect("put");
    }
    db.flush().expect("flush");
    let reader = Reader::open(Arc::clone(&store), "").expect("reader");
    let before = common::collect(reader.range::<&[u8], _>(..));
    assert_eq!(before.len(), 200);
    for i in 0..200 {
        db.put(key(i), "new").expect("put");
    }
    db.flush().expect("flush");
    db.wait_idle().expect("idle");
    assert_eq!(db.stats().levels[0].files, 0, "L0 compacted");
    let newest = store
        .list("manifest/")
        .expect("list")
        .iter()
        .filter_map(|m| m.name.strip_prefix("manifest/")?.parse::<u64>().ok())
        .max()
        .expect("published");
    assert!(newest - reader.manifest_number() <= 4, "{newest}");
    let live: usize = db.stats().levels.iter().map(|l| l.files).sum();
    assert!(
        store.list("tables/").expect("list").len() > live,
        "the replaced tables are kept"
    );
    // The tables the reader's manifest names were replaced, and are kept
    // for it: its view still reads whole, without a refresh.
    assert_eq!(common::collect(reader.range::<&[u8], _>(..)), before);
    assert!(reader.refresh().expect("refresh"));
    assert_eq!(
        reader.get(key(3).as_bytes()).expect("get").as_deref(),
        Some(&b"new"[..])
    );
    db.close().expect("close");
}
