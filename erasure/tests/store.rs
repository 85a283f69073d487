//! The blob store's API against a model: what was put comes back, exactly.

mod common;

use std::sync::Arc;

use common::*;
use larder_erasure::{BlobId, BlobStore, Error, Options};
use vfs::OpenMode;

#[test]
fn put_get_list_delete_round_trip() {
    let (_, fs) = mem();
    let store = open(&fs, options(3, 2, 100));
    let a = store.put(&blob(1000, 1)).unwrap();
    let b = store.put(b"").unwrap();
    let c = store.put_reader(&blob(333, 3)[..]).unwrap();
    assert_eq!(store.list(), vec![a, b, c]);
    assert_eq!(store.get(a).unwrap(), blob(1000, 1));
    assert!(store.get(b).unwrap().is_empty());
    assert_eq!(store.get(c).unwrap(), blob(333, 3));
    let mut out = Vec::new();
    assert_eq!(store.get_to(a, &mut out).unwrap(), 1000);
    assert_eq!(out, blob(1000, 1));
    let stat = store.stat(a).unwrap();
    assert_eq!((stat.len, stat.stripes), (1000, 10));
    assert!(stat.healthy.iter().all(|&h| h));
    store.delete(a).unwrap();
    assert!(matches!(store.get(a), Err(Error::NotFound { blob }) if blob == a));
    assert!(matches!(store.delete(a), Err(Error::NotFound { .. })));
    assert_eq!(store.list(), vec![b, c]);
    drop(store);
    let store = open(&fs, options(3, 2, 100));
    assert_eq!(store.list(), vec![b, c]);
    assert_eq!(store.get(c).unwrap(), blob(333, 3));
    // Ids are not reused after a reopen.
    assert!(store.put(b"x").unwrap() > c);
    for d in store.dirs() {
        for name in fs.list_dir(d).unwrap() {
            let name = name.to_str().unwrap().to_owned();
            assert!(
                name == "MANIFEST" || name == "LOCK" || name.ends_with(".shard"),
                "{name}"
            );
        }
    }
    assert!(!fs.exists(&shard_path(&store, 0, a)).unwrap());
}

#[test]
fn open_refuses_other_layouts_and_swapped_directories() {
    let (_, fs) = mem();
    drop(open(&fs, options(2, 1, 64)));
    let err = BlobStore::open_with_fs(fs.clone(), &dirs(3), options(2, 1, 128)).unwrap_err();
    assert!(matches!(
        err,
        Error::ManifestMismatch {
            field: "stripe_size",
            expected: 128,
            found: 64,
            ..
        }
    ));
    let err = BlobStore::open_with_fs(fs.clone(), &dirs(3), options(1, 2, 64)).unwrap_err();
    assert!(matches!(
        err,
        Error::ManifestMismatch {
            field: "data_shards",
            ..
        }
    ));
    let mut swapped = dirs(3);
    swapped.swap(0, 2);
    let err = BlobStore::open_with_fs(fs.clone(), &swapped, options(2, 1, 64)).unwrap_err();
    assert!(matches!(
        err,
        Error::ManifestMismatch {
            field: "shard_index",
            expected: 0,
            found: 2,
            ..
        }
    ));
    // A directory of another store.
    let other: Vec<std::path::PathBuf> = vec!["/x0".into(), "/x1".into(), "/x2".into()];
    drop(BlobStore::open_with_fs(fs.clone(), &other, options(2, 1, 64)).unwrap());
    let mixed = vec![dirs(3)[0].clone(), dirs(3)[1].clone(), other[2].clone()];
    let err = BlobStore::open_with_fs(fs.clone(), &mixed, options(2, 1, 64)).unwrap_err();
    assert!(matches!(
        err,
        Error::ManifestMismatch {
            field: "store_id",
            ..
        }
    ));
    assert!(matches!(
        BlobStore::open_with_fs(fs.clone(), &dirs(4), options(2, 1, 64)),
        Err(Error::InvalidLayout { .. })
    ));
    assert!(matches!(
        BlobStore::open_with_fs(fs.clone(), &dirs(3), options(2, 1, 0)),
        Err(Error::InvalidLayout { .. })
    ));
    // The right options still open it.
    drop(open(&fs, options(2, 1, 64)));
}

#[test]
fn too_few_good_shards_names_blob_stripe_and_bad_shards() {
    let (mem, fs) = mem();
    let store = open(&fs, options(3, 1, 30));
    let id = store.put(&blob(100, 5)).unwrap();
    // Stripe 2 of shard 0 rots; shard 2 is gone.
    let chunk_offset_stripe_2 = 52 + 2 * (10 + 4);
    mem.flip_bit(&shard_path(&store, 0, id), chunk_offset_stripe_2 + 3, 1)
        .unwrap();
    fs.remove_file(&shard_path(&store, 2, id)).unwrap();
    // Stripes 0 and 1 decode (3 good), stripe 2 has 2 good.
    let err = store.get(id).unwrap_err();
    assert!(
        matches!(&err, Error::Unrecoverable { blob, stripe: 2, bad_shards, good: 2, needed: 3 }
            if *blob == id && bad_shards == &[0, 2]),
        "{err:?}"
    );
    assert_eq!(store.get_range(id, 0, 60).unwrap(), blob(100, 5)[..60]);
    assert!(matches!(
        store.repair(id),
        Err(Error::Unrecoverable { stripe: 2, .. })
    ));
    let report = store.scrub().unwrap();
    assert_eq!(report.blobs_lost, vec![id]);
}

#[test]
fn destroyed_directory_is_rebuilt_by_scrub() {
    let (_, fs) = mem();
    let o = options(4, 2, 1000);
    let store = open(&fs, o);
    let ids: Vec<(BlobId, Vec<u8>)> = (0..20)
        .map(|i| {
            let b = blob(i * 397, i as u64);
            (store.put(&b).unwrap(), b)
        })
        .collect();
    // Disk 3 dies: every file and the directory itself.
    let d3 = store.dirs()[3].clone();
    for name in fs.list_dir(&d3).unwrap() {
        fs.remove_file(&d3.join(name)).unwrap();
    }
    fs.remove_dir(&d3).unwrap();
    for (id, b) in &ids {
        assert_eq!(store.get(*id).unwrap(), b[..]);
        assert!(!store.stat(*id).unwrap().healthy[3]);
    }
    let report = store.scrub().unwrap();
    assert_eq!(report.blobs_checked, 20);
    assert_eq!(report.shards_repaired, 20);
    assert!(report.blobs_lost.is_empty());
    for (id, b) in &ids {
        assert!(store.stat(*id).unwrap().healthy.iter().all(|&h| h));
        assert_eq!(store.get(*id).unwrap(), b[..]);
    }
    assert_eq!(store.scrub().unwrap().shards_repaired, 0);
    // And after a reopen the replaced disk is part of the store.
    drop(store);
    let store = open(&fs, o);
    for (id, b) in &ids {
        // Only disk 3 and one other left: still whole.
        for i in [0, 1, 2, 4] {
            let _ = fs.remove_file(&shard_path(&store, i, *id));
            if i == 1 {
                break;
            }
        }
        assert_eq!(store.get(*id).unwrap(), b[..]);
    }
}

#[test]
fn ranged_reads_outside_the_blob_are_errors() {
    let (_, fs) = mem();
    let store = open(&fs, options(2, 1, 10));
    let id = store.put(&blob(25, 1)).unwrap();
    assert!(store.get_range(id, 25, 0).unwrap().is_empty());
    assert!(matches!(
        store.get_range(id, 20, 6),
        Err(Error::RangeOutOfBounds {
            offset: 20,
            len: 6,
            blob_len: 25,
            ..
        })
    ));
    assert!(matches!(
        store.get_range(id, u64::MAX, 2),
        Err(Error::RangeOutOfBounds { .. })
    ));
}

#[test]
fn ranged_read_touches_only_the_data_shards_it_needs() {
    let (_, fs) = mem();
    let store = open(&fs, options(4, 2, 400));
    let b = blob(2000, 9);
    let id = store.put(&b).unwrap();
    // Shard 0 (bytes 0..100 of each stripe) and the parity shards vanish:
    // a range inside data shard 1 of stripe 2 still reads without decoding.
    for i in [0, 4, 5] {
        fs.remove_file(&shard_path(&store, i, id)).unwrap();
    }
    assert_eq!(store.get_range(id, 800 + 150, 40).unwrap(), b[950..990]);
    assert!(matches!(
        store.get_range(id, 800, 10),
        Err(Error::Unrecoverable { stripe: 2, .. })
    ));
}

#[test]
fn concurrent_puts_and_gets_of_different_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let fs: Arc<dyn vfs::Fs> = Arc::new(vfs::OsFs::new());
    let dirs: Vec<_> = (0..5).map(|i| dir.path().join(format!("d{i}"))).collect();
    let store = Arc::new(BlobStore::open_with_fs(fs, &dirs, options(3, 2, 4096)).unwrap());
    let handles: Vec<_> = (0..4u64)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                for i in 0..25u64 {
                    let b = blob((i * 531 + t) as usize % 20_000, t * 100 + i);
                    mine.push((store.put(&b).unwrap(), b));
                    let (id, b) = &mine[(i as usize * 7) % mine.len()];
                    assert_eq!(store.get(*id).unwrap(), b[..]);
                }
                mine
            })
        })
        .collect();
    let all: Vec<_> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    assert_eq!(store.list().len(), 100);
    for (id, b) in all {
        assert_eq!(store.get(id).unwrap(), b[..]);
    }
}

#[test]
fn a_second_open_of_the_same_directories_is_refused() {
    let (_, fs) = mem();
    let store = open(&fs, Options::default());
    assert!(matches!(
        BlobStore::open_with_fs(fs.clone(), &dirs(6), Options::default()),
        Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock
    ));
    drop(store);
}

#[test]
fn truncated_shard_file_reads_as_an_erasure() {
    let (_, fs) = mem();
    let store = open(&fs, options(2, 1, 10));
    let b = blob(55, 2);
    let id = store.put(&b).unwrap();
    let f = fs
        .open(&shard_path(&store, 1, id), OpenMode::ReadWrite)
        .unwrap();
    f.set_len(60).unwrap();
    drop(f);
    assert_eq!(store.get(id).unwrap(), b[..]);
    assert_eq!(store.repair(id).unwrap(), 1);
    assert!(store.stat(id).unwrap().healthy.iter().all(|&h| h));
}

#[test]
fn store_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<BlobStore>();
}

#[test]
fn healthy_ranged_read_opens_only_the_shards_it_needs() {
    use vfs::{Fault, FaultFs, Fs, MemFs, Op};
    let fault = Arc::new(FaultFs::new(Arc::new(MemFs::new())));
    let fs: Arc<dyn Fs> = fault.clone();
    let store = open(&fs, options(4, 2, 400));
    let b = blob(2000, 9);
    let id = store.put(&b).unwrap();
    // Bytes 610..660 sit in data shard 2 of stripe 1: only shard 0 (the
    // header that gives the blob's length) and shard 2 need opening.
    fault.fail_when(
        |op, path| {
            op == Op::Open
                && [1, 3, 4, 5]
                    .iter()
                    .any(|i| path.starts_with(format!("/d{i}")))
        },
        Fault::Eio,
    );
    let reads = fault.op_count(Op::Read);
    assert_eq!(store.get_range(id, 610, 50).unwrap(), b[610..660]);
    // Two headers, the block holding the range, and its CRC.
    assert_eq!(fault.op_count(Op::Read) - reads, 4);
    // A full read needs four shards of six: it fails cleanly.
    assert!(matches!(
        store.get(id),
        Err(Error::Unrecoverable {
            good: 2,
            needed: 4,
            ..
        })
    ));
}

#[test]
fn failing_reader_is_a_stream_error_and_leaves_nothing_visible() {
    struct Failing(usize);
    impl std::io::Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Err(std::io::Error::other("source failed"));
            }
            let n = buf.len().min(self.0).min(7);
            buf[..n].fill(1);
            self.0 -= n;
            Ok(n)
        }
    }
    let (_, fs) = mem();
    let store = open(&fs, options(2, 1, 16));
    assert!(matches!(
        store.put_reader(Failing(50)),
        Err(Error::Stream(_))
    ));
    assert!(store.list().is_empty());
    for d in store.dirs() {
        let names = fs.list_dir(d).unwrap();
        assert_eq!(names.len(), 2, "{names:?}");
    }
    // A reader that ends early is just a shorter blob.
    let id = store.put_reader(&b"short"[..]).unwrap();
    assert_eq!(&store.get(id).unwrap()[..], b"short");
}

#[test]
fn degraded_ranged_read_rebuilds_only_the_blocks_it_needs() {
    use vfs::{FaultFs, Fs, MemFs, Op};
    let fault = Arc::new(FaultFs::new(Arc::new(MemFs::new())));
    let fs: Arc<dyn Fs> = fault.clone();
    // 64 KiB stripes: each shard holds 16 KiB (four CRC blocks) per stripe.
    let store = open(&fs, options(4, 2, 64 << 10));
    let b = blob(200 << 10, 4);
    let id = store.put(&b).unwrap();
    fs.remove_file(&shard_path(&store, 1, id)).unwrap();
    // Stripe 1, data shard 1, block 2.
    let offset = (64 << 10) + (16 << 10) + 2 * 4096 + 100;
    let reads = fault.op_count(Op::Read);
    assert_eq!(
        store.get_range(id, offset, 1000).unwrap(),
        b[offset as usize..offset as usize + 1000]
    );
    // Headers of shards 0, 2, 3, 4; one block and its CRC from each.
    assert_eq!(fault.op_count(Op::Read) - reads, 4 + 4 * 2);
}

#[test]
fn blob_writer_knows_its_id_first_and_shows_nothing_until_finished() {
    let (_, fs) = mem();
    let store = open(&fs, options(3, 2, 100));
    let whole = blob(1234, 9);
    let mut w = store.writer().unwrap();
    let id = w.id();
    let mut offsets = Vec::new();
    // Pieces of every size, crossing stripe boundaries.
    for piece in whole.chunks(37).collect::<Vec<_>>().chunks(3) {
        for p in piece {
            offsets.push(w.len());
            w.write_all_bytes(p).unwrap();
        }
    }
    assert_eq!(w.len(), 1234);
    assert!(!store.contains(id), "visible before finish");
    assert!(matches!(store.get(id), Err(Error::NotFound { .. })));
    assert_eq!(w.finish().unwrap(), id);
    assert_eq!(store.get(id).unwrap(), whole);
    for (i, &off) in offsets.iter().enumerate() {
        let len = whole[off as usize..].len().min(37) as u64;
        assert_eq!(
            store.get_range(id, off, len).unwrap(),
            whole[off as usize..(off + len) as usize],
            "piece {i}"
        );
    }

    // Dropped unfinished: nothing stays, not even pending files.
    let mut w = store.writer().unwrap();
    let gone = w.id();
    w.write_all_bytes(&blob(500, 2)).unwrap();
    drop(w);
    assert!(!store.contains(gone));
    for d in store.dirs() {
        for name in fs.list_dir(d).unwrap() {
            let name = name.to_str().unwrap().to_owned();
            assert!(!name.ends_with(".pending"), "{name} left behind");
        }
    }
}

#[test]
fn ranged_reads_reuse_opened_shards_until_a_repair_or_delete() {
    let mem = vfs::MemFs::new();
    let faulty = Arc::new(vfs::FaultFs::new(Arc::new(mem.clone())));
    let fs: Arc<dyn vfs::Fs> = faulty.clone();
    let store = BlobStore::open_with_fs(fs.clone(), &dirs(6), options(4, 2, 400)).unwrap();
    let b = blob(3000, 4);
    let id = store.put(&b).unwrap();
    assert_eq!(store.get_range(id, 10, 500).unwrap(), b[10..510]);
    let opens = faulty.op_count(vfs::Op::Open);
    for i in 0..50u64 {
        let at = (i * 37) % 2900;
        assert_eq!(
            store.get_range(id, at, 100).unwrap(),
            b[at as usize..at as usize + 100]
        );
    }
    // The shards opened by the first reads are kept: later reads open at
    // most the ones no read touched yet.
    assert!(
        faulty.op_count(vfs::Op::Open) - opens <= 4,
        "reopened shard files"
    );
    // A lost shard is cached as lost; after a repair rebuilt it, the next
    // read opens the new file instead of decoding around the old absence.
    let id2 = store.put(&b).unwrap();
    fs.remove_file(&shard_path(&store, 1, id2)).unwrap();
    assert_eq!(store.get_range(id2, 100, 50).unwrap(), b[100..150]);
    assert_eq!(store.repair(id2).unwrap(), 1);
    let before = faulty.op_count(vfs::Op::Open);
    assert_eq!(store.get_range(id2, 100, 50).unwrap(), b[100..150]);
    assert!(
        faulty.op_count(vfs::Op::Open) > before,
        "stale handles after repair"
    );
    store.delete(id).unwrap();
    assert!(matches!(
        store.get_range(id, 0, 1),
        Err(Error::NotFound { .. })
    ));
}

/// A read-only open sees the visible blobs, hides one with a pending file,
/// changes nothing, shares the directories with other readers and keeps a
/// writer out.
#[test]
fn read_only_open_reads_and_writes_nothing() {
    let (_, fs) = mem();
    let o = options(2, 1, 100);
    let store = open(&fs, o);
    let a = store.put(&blob(500, 7)).unwrap();
    drop(store);
    let leftover = dirs(3)[0].join("00000000000000ff.pending");
    fs.open(&leftover, OpenMode::Truncate).unwrap();
    let names = |d: &std::path::Path| {
        let mut n = fs.list_dir(d).unwrap();
        n.sort();
        n
    };
    let before: Vec<_> = dirs(3).iter().map(|d| names(d)).collect();
    let r1 = BlobStore::open_read_only_with_fs(fs.clone(), &dirs(3), o).unwrap();
    let r2 = BlobStore::open_read_only_with_fs(fs.clone(), &dirs(3), o).unwrap();
    assert_eq!(r1.list(), vec![a]);
    assert_eq!(r2.get(a).unwrap(), blob(500, 7));
    assert!(BlobStore::open_with_fs(fs.clone(), &dirs(3), o).is_err());
    drop((r1, r2));
    let after: Vec<_> = dirs(3).iter().map(|d| names(d)).collect();
    assert_eq!(before, after);
}

/// A caller-chosen id is used as given, refused if visible, and never
/// handed out again by `writer`.
#[test]
fn writer_with_id_takes_the_callers_id() {
    let (_, fs) = mem();
    let store = open(&fs, options(2, 1, 100));
    let mut w = store.writer_with_id(BlobId(40)).unwrap();
    w.write_all_bytes(b"forty").unwrap();
    assert_eq!(w.finish().unwrap(), BlobId(40));
    assert!(store.writer_with_id(BlobId(40)).is_err());
    assert!(store.put(b"next").unwrap() > BlobId(40));
}
