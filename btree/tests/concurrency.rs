//! Readers on old snapshots keep seeing exactly their snapshot while a
//! writer commits thousands of times, on a real file (the view is a shared
//! memory map, so this also checks that no page a reader can reach is
//! rewritten under it).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use larder_btree::{Db, Durability, Options, ReadTxn};

const COMMITS: u32 = 3000;

/// Pages 0 and 1.
const META_PAGES: u64 = 2;

/// Durable commits rewriting one entry, once beside a pinned reader and
/// once with no reader.
const REWRITES: u32 = 200;
// The bytes written beside the pinned reader (`0..REWRITES`) differ from
// its snapshot's (`1000 as u8`).
const _: () = assert!(REWRITES <= 1000 % 256);

/// How many pages the rewrites with no reader may add: a commit's new
/// pages (a path of the tree, of the free tree, an overflow run) before its
/// freed ones come back into use. Beside a pinned reader they add about
/// 1,000.
const REWRITE_GROWTH_PAGES_MAX: u64 = 16;

fn count(read: &ReadTxn) -> u32 {
    let v = read.get(b"count").unwrap().unwrap();
    u32::from_le_bytes(v[..4].try_into().unwrap())
}

/// Commit `n` inserts key `n` and sets `count` to `n`, and removes key
/// `n - 5` when `n` is even: the snapshot of commit `n` is a function of `n`.
fn present(key: u32, n: u32) -> bool {
    key >= 1 && key <= n && !(key + 5 <= n && (key + 5).is_multiple_of(2))
}

fn check_snapshot(read: &ReadTxn, n: u32) {
    assert_eq!(count(read), n);
    let want = (1..=n).filter(|&k| present(k, n)).count() as u64 + 1;
    assert_eq!(read.len(), want);
    for k in [1, n / 2, n.saturating_sub(6), n.saturating_sub(5), n, n + 1] {
        let got = read.get(&k.to_be_bytes()).unwrap();
        assert_eq!(got.is_some(), present(k, n), "key {k} at snapshot {n}");
        if let Some(v) = got {
            assert_eq!(v.len(), 20 + (k as usize % 3) * 400);
            assert!(v.iter().all(|&b| b == k as u8));
        }
    }
}

#[test]
fn readers_keep_their_snapshot_while_the_writer_commits_thousands_of_times() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        page_size_bytes: 1024,
        durability: Durability::None,
        initial_size_bytes: 0,
        ..Options::default()
    };
    let db = Arc::new(
        Db::open_with_fs(Arc::new(vfs::OsFs::new()), dir.path().join("db"), options).unwrap(),
    );
    let mut txn = db.begin_write().unwrap();
    txn.insert(b"count", &0u32.to_le_bytes()).unwrap();
    txn.commit().unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|r| {
            let (db, done) = (db.clone(), done.clone());
            std::thread::spawn(move || {
                let mut checked = 0u64;
                let mut held: Vec<(ReadTxn, u32)> = Vec::new();
                while !done.load(Ordering::Relaxed) {
                    let read = db.begin_read().unwrap();
                    let n = count(&read);
                    check_snapshot(&read, n);
                    held.push((read, n));
                    // Keep a few snapshots open across many commits, re-checking them.
                    if held.len() > 4 + r {
                        let (old, n) = held.remove(0);
                        check_snapshot(&old, n);
                        let keys = old.iter().filter(|kv| kv.is_ok()).count() as u64;
                        assert_eq!(keys, old.len());
                    }
                    checked += 1;
                }
                for (read, n) in &held {
                    check_snapshot(read, *n);
                }
                checked
            })
        })
        .collect();
    for n in 1..=COMMITS {
        let mut txn = db.begin_write().unwrap();
        txn.insert(
            &n.to_be_bytes(),
            &vec![n as u8; 20 + (n as usize % 3) * 400],
        )
        .unwrap();
        if n % 2 == 0 && n > 5 {
            txn.remove(&(n - 5).to_be_bytes()).unwrap();
        }
        txn.insert(b"count", &n.to_le_bytes()).unwrap();
        if n % 20 == 0 {
            // Durable commits let freed pages be reused while readers hold old ones.
            txn.set_durability(Durability::Immediate);
        }
        txn.commit().unwrap();
    }
    done.store(true, Ordering::Relaxed);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
    // Every page below the page count is one of the two meta pages, a page
    // of the tree or of the free tree, or free: nothing leaked.
    let stats = db.check().unwrap();
    let accounted = META_PAGES
        + stats.branch_pages
        + stats.leaf_pages
        + stats.overflow_pages
        + stats.free_tree_pages
        + stats.free_pages;
    assert_eq!(stats.page_count, accounted, "{stats:?}");
    check_snapshot(&db.begin_read().unwrap(), COMMITS);

    // A reader pinned across durable commits that rewrite one entry keeps
    // its snapshot: no page it can reach is reused under it.
    let pinned = db.begin_read().unwrap();
    let key = 1000u32;
    assert!(present(key, COMMITS));
    rewrite(&db, key, 0);
    let old = pinned.get(&key.to_be_bytes()).unwrap().unwrap();
    assert!(old.iter().all(|&b| b == key as u8), "{old:?}");
    check_snapshot(&pinned, COMMITS);
    drop(pinned);

    // With no reader left, the same rewrites reuse the pages freed before
    // (by the pinned phase at least): the file stays put, where without
    // reuse each commit would add at least a page.
    let before = db.check().unwrap();
    rewrite(&db, key, REWRITES);
    let after = db.check().unwrap();
    assert!(
        after.page_count <= before.page_count + REWRITE_GROWTH_PAGES_MAX,
        "{REWRITES} rewrites grew the file from {} to {} pages",
        before.page_count,
        after.page_count
    );
}

/// `REWRITES` durable commits, each setting `key` to a value of the size
/// its snapshot value has, of bytes other than the snapshot's `key as u8`.
fn rewrite(db: &Db, key: u32, first: u32) {
    for n in first..first + REWRITES {
        let mut txn = db.begin_write().unwrap();
        txn.insert(&key.to_be_bytes(), &vec![n as u8; 420]).unwrap();
        txn.insert(b"count", &COMMITS.to_le_bytes()).unwrap();
        txn.set_durability(Durability::Immediate);
        txn.commit().unwrap();
    }
}
