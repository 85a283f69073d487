//! Writer fencing through the published manifest: a writer on another
//! machine takes over from the store alone, and the writer it superseded
//! gets `Error::Fenced` at its next durable point, with nothing it
//! acknowledged after the takeover ever visible.

mod common;

use std::sync::Arc;

use larder_lsm::{Db, Durability, Error, Options, Reader};
use objstore::{MemStore, Store};

fn writer_options(store: &Arc<dyn Store>, sync: Durability) -> Options {
    Options {
        table_store: Some(Arc::clone(store)),
        publish_manifest: true,
        blob_threshold_bytes: None,
        create_if_missing: true,
        durability: sync,
        ..common::tiny_options()
    }
}

fn key(i: u32) -> String {
    format!("key{i:05}")
}

fn fenced<T>(r: &larder_lsm::Result<T>) -> bool {
    matches!(r, Err(Error::Fenced { .. }))
}

/// The sentence: two writers on the same prefix, the second wins,
/// the first gets `Error::Fenced` on its next write and nothing it
/// acknowledged after the second opened is visible. The second writer
/// runs on a fresh machine (an empty local directory).
fn second_writer_wins(sync: Durability) {
    let store: Arc<dyn Store> = Arc::new(MemStore::new());
    let fs1: Arc<dyn vfs::Fs> = Arc::new(vfs::MemFs::new());
    let first =
        Db::open_with_fs(Arc::clone(&fs1), "/db", writer_options(&store, sync)).expect("first");
    for i in 0..100 {
        first.put(key(i), "first").expect("put");
    }
    first.flush().expect("flush");
    // Acknowledged and synced, but only in the first writer's local log.
    first.put("unflushed", "x").expect("put");
    first.sync().expect("sync");

    // Known limit: an open whose claim races a publication of the old
    // writer's own background work loses the conditional put and is
    // refused with `Fenced` instead of retrying from the newer manifest.
    // Until it retries, the first writer is idle when the second opens.
    first.wait_idle().expect("idle");
    let fs2: Arc<dyn vfs::Fs> = Arc::new(vfs::MemFs::new());
    let second = Db::open_with_fs(Arc::clone(&fs2), "/db", writer_options(&store, sync))
        .expect("second, from the published manifest alone");
    assert_eq!(
        second.get(key(7).as_bytes()).expect("get").as_deref(),
        Some(&b"first"[..]),
        "the second writer starts from what the first published"
    );
    assert_eq!(
        second.get(b"unflushed").expect("get"),
        None,
        "the first writer's log is local to it"
    );

    // The first writer's next write fails (at once when it is synced;
    // under `Durability::None` it is acknowledged, not durable, and the
    // fence is found at the next sync), and so does every later call that
    // writes.
    // Under `None` a background flush or compaction of the first writer
    // may publish (and so find the fence) before this put: then the put is
    // refused already, which is as good.
    let r = first.put("zombie", "1");
    let acknowledged = sync == Durability::None && r.is_ok();
    if acknowledged {
        assert!(fenced(&first.sync()), "the sync finds the fence");
    } else {
        assert!(fenced(&r), "{r:?}");
    }
    assert!(fenced(&first.put("zombie2", "2")));
    assert!(fenced(&first.sync()));
    assert!(first.flush().is_err());
    // Its own reads go on: an unsynced write it acknowledged is in its
    // memtable; a write the fence refused is not.
    let local = first.get(b"zombie").expect("reads go on");
    if acknowledged {
        assert_eq!(local.as_deref(), Some(&b"1"[..]));
    } else {
        assert_eq!(local, None);
    }

    // The second writer goes on; nothing of the first's after the
    // takeover is visible, to it or to a reader.
    second.put("second", "2").expect("put");
    second.flush().expect("flush");
    let reader = Reader::open(Arc::clone(&store), "").expect("reader");
    for view in [reader.db(), second.clone()] {
        assert_eq!(view.get(b"zombie").expect("get"), None);
        assert_eq!(view.get(b"zombie2").expect("get"), None);
        assert_eq!(
            view.get(b"second").expect("get").as_deref(),
            Some(&b"2"[..])
        );
        assert_eq!(
            view.get(key(99).as_bytes()).expect("get").as_deref(),
            Some(&b"first"[..])
        );
    }

    // The first writer's directory is behind the store now: reopening it
    // is refused rather than rolling the store back.
    drop(first);
    let again = Db::open_with_fs(Arc::clone(&fs1), "/db", writer_options(&store, sync));
    assert!(fenced(&again), "{:?}", again.as_ref().err());
    second.close().expect("close");

    // The second writer's own directory reopens, with everything.
    let second = Db::open_with_fs(fs2, "/db", writer_options(&store, sync)).expect("reopen");
    assert_eq!(
        second.get(b"second").expect("get").as_deref(),
        Some(&b"2"[..])
    );
    assert_eq!(second.get(b"zombie").expect("get"), None);
    second.close().expect("close");
}

#[test]
fn the_second_writer_wins_with_every_write_synced() {
    second_writer_wins(Durability::Immediate);
}

#[test]
fn the_second_writer_wins_with_group_commit() {
    second_writer_wins(Durability::Group);
}

#[test]
fn the_second_writer_wins_with_unsynced_writes() {
    second_writer_wins(Durability::None);
}

#[test]
fn group_commit_followers_of_a_fenced_group_are_fenced_too() {
    let store: Arc<dyn Store> = Arc::new(MemStore::new());
    let first = Db::open_with_fs(
        Arc::new(vfs::MemFs::new()),
        "/db",
        writer_options(&store, Durability::Group),
    )
    .expect("first");
    first.put("a", "1").expect("put");
    let _second = Db::open_with_fs(
        Arc::new(vfs::MemFs::new()),
        "/db",
        writer_options(&store, Durability::Group),
    )
    .expect("second");
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let db = first.clone();
                s.spawn(move || db.put(format!("t{t}"), "x"))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    for r in results {
        assert!(fenced(&r), "{r:?}");
    }
}

#[test]
fn a_writer_whose_state_the_store_holds_takes_it_back() {
    // A writer that claimed the store and crashed before its local
    // manifest recorded the epoch finds the store's newest manifest from
    // a higher epoch but holding exactly its own state: no rollback, so
    // it opens. Shown here with a second writer that took over and wrote
    // nothing: the first, with nothing newer than what it published,
    // takes the store back.
    let store: Arc<dyn Store> = Arc::new(MemStore::new());
    let fs1: Arc<dyn vfs::Fs> = Arc::new(vfs::MemFs::new());
    let opts = writer_options(&store, Durability::Immediate);
    let first = Db::open_with_fs(Arc::clone(&fs1), "/db", opts.clone()).expect("first");
    first.put("a", "1").expect("put");
    first.flush().expect("flush");
    first.close().expect("close");
    let second =
        Db::open_with_fs(Arc::new(vfs::MemFs::new()), "/db", opts.clone()).expect("second");
    let first = Db::open_with_fs(Arc::clone(&fs1), "/db", opts.clone()).expect("first again");
    assert!(fenced(&second.put("b", "2")));
    first.put("c", "3").expect("put");
    first.close().expect("close");
    // With a write the store never saw, the same directory is refused
    // once another writer took over.
    let third = Db::open_with_fs(Arc::new(vfs::MemFs::new()), "/db", opts.clone()).expect("third");
    assert!(fenced(&Db::open_with_fs(fs1, "/db", opts).map(|_| ())));
    assert_eq!(third.get(b"a").expect("get").as_deref(), Some(&b"1"[..]));
    assert_eq!(
        third.get(b"c").expect("get"),
        None,
        "unflushed, local to the first"
    );
    third.close().expect("close");
}
