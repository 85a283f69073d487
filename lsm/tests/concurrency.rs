//! Writers, readers and background flushes/compactions at once: every
//! reader sees a consistent snapshot.
//!
//! Each writer owns a group of keys and rewrites the whole group in one
//! batch with a new generation number, so at every sequence number all keys
//! of a group hold the same generation. Readers check that through
//! snapshots (gets and scans, both directions) and plain iterators.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use larder_lsm::{Db, WriteBatch};

const WRITERS: u32 = 3;
const READERS: u32 = 3;
const GROUP_KEYS: u32 = 8;
const GENERATIONS: u32 = 400;

fn key(group: u32, i: u32) -> Vec<u8> {
    format!("g{group}/k{i:02}").into_bytes()
}

fn value(generation: u32, i: u32) -> Vec<u8> {
    format!(
        "{generation:06}-{i:02}-{}",
        "p".repeat((generation % 7) as usize * 9)
    )
    .into_bytes()
}

fn generation(v: &[u8]) -> u32 {
    std::str::from_utf8(&v[..6])
        .expect("utf8")
        .parse()
        .expect("generation")
}

/// Checks one group as seen by a snapshot; returns its generation.
fn check_group(snap: &larder_lsm::Snapshot, group: u32, reverse: bool) -> Option<u32> {
    let prefix = format!("g{group}/");
    let it = snap.prefix(prefix.as_bytes());
    let pairs: Vec<_> = if reverse {
        it.rev().map(|r| r.expect("scan")).collect()
    } else {
        it.map(|r| r.expect("scan")).collect()
    };
    if pairs.is_empty() {
        // Not written yet at this snapshot: every get agrees.
        for i in 0..GROUP_KEYS {
            assert_eq!(snap.get(&key(group, i)).expect("get"), None);
        }
        return None;
    }
    assert_eq!(pairs.len(), GROUP_KEYS as usize, "a batch was seen in part");
    let g = generation(&pairs[0].1);
    for (k, v) in &pairs {
        assert_eq!(
            generation(v),
            g,
            "group {group} mixes generations at one snapshot: {k:?}"
        );
        assert_eq!(snap.get(k).expect("get").as_deref(), Some(v.as_ref()));
    }
    Some(g)
}

#[test]
fn readers_see_consistent_snapshots_under_writes_and_compaction() {
    let fs: Arc<dyn vfs::Fs> = Arc::new(vfs::MemFs::new());
    let db = Db::open_with_fs(fs, "/db", common::tiny_options()).expect("open");
    let done = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for group in 0..WRITERS {
        let db = db.clone();
        writers.push(std::thread::spawn(move || {
            for generation in 1..=GENERATIONS {
                let mut b = WriteBatch::new();
                for i in 0..GROUP_KEYS {
                    b.put(key(group, i), value(generation, i));
                }
                db.write(b).expect("write");
                if generation % 100 == 0 {
                    db.compact_range(key(group, 0)..=key(group, GROUP_KEYS))
                        .expect("compact");
                }
            }
        }));
    }
    let mut readers = Vec::new();
    for r in 0..READERS {
        let db = db.clone();
        let done = Arc::clone(&done);
        readers.push(std::thread::spawn(move || {
            let mut last_seen = vec![0u32; WRITERS as usize];
            let mut checks = 0u64;
            while !done.load(Ordering::Acquire) || checks < 50 {
                let snap = db.snapshot();
                for group in 0..WRITERS {
                    if let Some(g) = check_group(&snap, group, (checks + u64::from(r)) % 2 == 1) {
                        // Generations never go back in time.
                        assert!(g >= last_seen[group as usize]);
                        last_seen[group as usize] = g;
                    }
                }
                // A plain iterator is a snapshot too.
                let all: Vec<_> = db.range::<&[u8], _>(..).map(|r| r.expect("scan")).collect();
                for chunk in all.chunk_by(|a, b| a.0[..2] == b.0[..2]) {
                    let g = generation(&chunk[0].1);
                    assert!(chunk.iter().all(|(_, v)| generation(v) == g));
                    assert_eq!(chunk.len(), GROUP_KEYS as usize);
                }
                checks += 1;
            }
            checks
        }));
    }
    for w in writers {
        w.join().expect("writer");
    }
    done.store(true, Ordering::Release);
    for r in readers {
        assert!(r.join().expect("reader") >= 50);
    }
    let stats = db.stats();
    assert!(stats.flushes > 10 && stats.compactions > 0, "{stats:?}");
    let snap = db.snapshot();
    for group in 0..WRITERS {
        assert_eq!(check_group(&snap, group, false), Some(GENERATIONS));
    }
    drop(snap);
    db.close().expect("close");
}
