//! The engines' files, damaged: a database built by the engine itself (a
//! "golden image" in an in-memory file system) has one of its files
//! overwritten with, or XORed by, the fuzzer's bytes; then it is opened,
//! read in full and written to. Everything must end in `Ok` or `Err`:
//! never a panic, a hang, or an allocation the input does not pay for.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use vfs::{CrashOptions, Fs, MemFs, OpenMode};

/// Every file under `dir`, recursively, sorted.
pub(crate) fn files(fs: &MemFs, dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(mut names) = fs.list_dir(dir) else {
        return out;
    };
    names.sort();
    for name in names {
        let path = dir.join(name);
        match fs.open(&path, OpenMode::Read) {
            Ok(_) => out.push(path),
            Err(_) => out.extend(files(fs, &path)),
        }
    }
    out
}

/// A copy of `golden` with one file damaged as `data` says: byte 0 picks the
/// file, its top bit whether `data[5..]` replaces the file or is XORed into
/// it at the offset in bytes 1..5.
fn damaged(golden: &MemFs, root: &Path, data: &[u8]) -> Option<MemFs> {
    let [pick, o0, o1, o2, o3, rest @ ..] = data else {
        return None;
    };
    let image = golden.crash(CrashOptions {
        seed: u64::MAX,
        tear: false,
    });
    let all = files(&image, root);
    let path = all.get(usize::from(*pick & 0x7f) % all.len().max(1))?;
    // A copy: the file is truncated below, which a live view would forbid.
    let bytes = image.open(path, OpenMode::Read).ok()?.map().ok()?.to_vec();
    let new = if pick & 0x80 != 0 {
        rest.to_vec()
    } else {
        let mut b = bytes;
        if !b.is_empty() {
            let at = u32::from_le_bytes([*o0, *o1, *o2, *o3]) as usize % b.len();
            for (i, x) in rest.iter().enumerate() {
                let j = (at + i) % b.len();
                b[j] ^= x;
            }
        }
        b
    };
    let file = image.open(path, OpenMode::Truncate).ok()?;
    file.write_all_at(&new, 0).ok()?;
    file.sync_data().ok()?;
    Some(image)
}

fn lsm_golden() -> &'static MemFs {
    static GOLDEN: OnceLock<MemFs> = OnceLock::new();
    GOLDEN.get_or_init(|| lsm_build(LsmGolden::Small))
}

/// Which lsm database [`lsm_build`] writes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum LsmGolden {
    /// `lsm_files`' (its corpus was found on it): tables, a manifest, a log
    /// of 40 small batches.
    Small,
    /// The same, plus a blob file (a value past `blob_threshold_bytes`) and a log
    /// whose last batches span 32 KiB blocks (`First`, `Middle`, `Last`
    /// fragments), written in a second session with a large memtable.
    Spanning,
}

/// The lsm database the lsm file targets damage.
pub(crate) fn lsm_build(kind: LsmGolden) -> MemFs {
    let fs = MemFs::new();
    let arc: Arc<dyn Fs> = Arc::new(fs.clone());
    let options = lsm::Options {
        write_buffer_size_bytes: 2048,
        ..lsm::Options::default()
    };
    let db = lsm::Db::open_with_fs(arc.clone(), "/db", options.clone()).expect("golden lsm");
    for i in 0u32..300 {
        db.put(i.to_be_bytes().to_vec(), vec![i as u8; (i % 50) as usize])
            .expect("put");
        if i % 7 == 0 {
            db.delete((i / 2).to_be_bytes().to_vec()).expect("delete");
        }
    }
    if kind == LsmGolden::Spanning {
        db.put(b"blob".to_vec(), vec![b'b'; 5000]).expect("put");
    }
    db.flush().expect("flush");
    let db = match kind {
        LsmGolden::Small => db,
        LsmGolden::Spanning => {
            db.close().expect("close");
            let options = lsm::Options {
                write_buffer_size_bytes: 1 << 20,
                ..options
            };
            lsm::Db::open_with_fs(arc, "/db", options).expect("reopen")
        }
    };
    for i in 300u32..340 {
        db.put(i.to_be_bytes().to_vec(), b"in the log".to_vec())
            .expect("put");
    }
    if kind == LsmGolden::Spanning {
        for (i, len) in [(340u32, 40_000), (341, 70_000)] {
            db.put(i.to_be_bytes().to_vec(), vec![i as u8; len])
                .expect("put");
        }
    }
    db.sync().expect("sync");
    db.close().expect("close");
    fs
}

/// `lsm`: a damaged WAL, table, manifest or `CURRENT` file.
pub fn lsm_files(data: &[u8]) {
    let Some(image) = damaged(lsm_golden(), Path::new("/db"), data) else {
        return;
    };
    exercise_lsm(image);
}

/// Opens the lsm database in `image`, reads it in full both ways, gets,
/// writes, flushes and compacts everything: each step may fail, none may
/// panic. The compaction runs on the calling thread, so a stable replay
/// sees what a background compaction would do with the damage (a panic
/// there escapes the replay's notice).
pub(crate) fn exercise_lsm(image: MemFs) {
    let fs: Arc<dyn Fs> = Arc::new(image);
    let Ok(db) = lsm::Db::open_with_fs(fs, "/db", lsm::Options::default()) else {
        return;
    };
    for pair in db.range::<&[u8], _>(..) {
        if pair.is_err() {
            break;
        }
    }
    for pair in db.range::<&[u8], _>(..).rev() {
        if pair.is_err() {
            break;
        }
    }
    for i in (0u32..340).step_by(13) {
        let _ = db.get(&i.to_be_bytes());
    }
    let _ = db.put(b"new".to_vec(), b"value".to_vec());
    let _ = db.flush();
    let _ = db.compact_range::<&[u8], _>(..);
    let _ = db.close();
}

pub(crate) fn btree_golden() -> &'static Vec<u8> {
    static GOLDEN: OnceLock<Vec<u8>> = OnceLock::new();
    GOLDEN.get_or_init(|| {
        let fs = MemFs::new();
        let arc: Arc<dyn Fs> = Arc::new(fs.clone());
        let options = btree::Options {
            page_size_bytes: 512,
            ..btree::Options::default()
        };
        let db = btree::Db::open_with_fs(arc, "/db", options).expect("golden btree");
        for round in 0u32..4 {
            let mut txn = db.begin_write().expect("write");
            for i in 0u32..60 {
                let k = (i * 7 + round).to_be_bytes();
                txn.insert(&k, &vec![i as u8; (i * 13 % 700) as usize])
                    .expect("insert");
            }
            txn.remove(&(round * 3).to_be_bytes()).expect("remove");
            txn.commit().expect("commit");
        }
        drop(db);
        fs.open(Path::new("/db"), OpenMode::Read)
            .and_then(|f| f.map())
            .expect("read golden")
            .to_vec()
    })
}

/// `btree`: a database file damaged, or arbitrary bytes as a database file.
pub fn btree_file(data: &[u8]) {
    let golden = btree_golden();
    let bytes = match data {
        [0xff, rest @ ..] => rest.to_vec(),
        [o0, o1, o2, o3, rest @ ..] => {
            let mut b = golden.clone();
            let at = u32::from_le_bytes([*o0, *o1, *o2, *o3]) as usize % b.len();
            for (i, x) in rest.iter().enumerate() {
                let j = (at + i) % b.len();
                b[j] ^= x;
            }
            b
        }
        _ => return,
    };
    exercise_btree(&bytes);
}

/// Opens `bytes` as a btree file of 512-byte pages, checks it, reads it
/// in full both ways and commits a write: each step may fail, none may
/// panic.
pub(crate) fn exercise_btree(bytes: &[u8]) {
    let fs = MemFs::new();
    let Ok(file) = fs.open(Path::new("/db"), OpenMode::CreateNew) else {
        return;
    };
    if file.write_all_at(bytes, 0).is_err() || file.sync_data().is_err() {
        return;
    }
    drop(file);
    let arc: Arc<dyn Fs> = Arc::new(fs);
    let options = btree::Options {
        page_size_bytes: 512,
        ..btree::Options::default()
    };
    let Ok(db) = btree::Db::open_with_fs(arc, "/db", options) else {
        return;
    };
    let _ = db.check();
    if let Ok(txn) = db.begin_read() {
        for pair in txn.iter() {
            if pair.is_err() {
                break;
            }
        }
        for pair in txn.iter().rev() {
            if pair.is_err() {
                break;
            }
        }
        let _ = txn.get(&7u32.to_be_bytes());
    }
    if let Ok(mut txn) = db.begin_write() {
        let _ = txn.insert(b"new", b"value");
        let _ = txn.remove(&14u32.to_be_bytes());
        let _ = txn.commit();
    }
}

pub(crate) fn erasure_golden() -> &'static (MemFs, Vec<u8>, erasure::BlobId) {
    static GOLDEN: OnceLock<(MemFs, Vec<u8>, erasure::BlobId)> = OnceLock::new();
    GOLDEN.get_or_init(|| {
        let fs = MemFs::new();
        let arc: Arc<dyn Fs> = Arc::new(fs.clone());
        let store = erasure::BlobStore::open_with_fs(arc, &erasure_dirs(), erasure_options())
            .expect("golden store");
        let blob: Vec<u8> = (0..5000u32).map(|i| (i * 31 % 251) as u8).collect();
        let id = store.put(&blob).expect("put");
        (fs, blob, id)
    })
}

fn erasure_dirs() -> [&'static str; 3] {
    ["/s/0", "/s/1", "/s/2"]
}

fn erasure_options() -> erasure::Options {
    erasure::Options {
        data_shards: 2,
        parity_shards: 1,
        stripe_size_bytes: 2048,
    }
}

/// `erasure`: a damaged shard file or manifest. A `get` that succeeds must
/// return the blob exactly (the whole-blob checksum stands behind it).
pub fn erasure_shards(data: &[u8]) {
    let (golden, _, _) = erasure_golden();
    let Some(image) = damaged(golden, Path::new("/s"), data) else {
        return;
    };
    exercise_erasure(image);
}

/// Opens the erasure store in `image` (a damaged copy of the golden one),
/// reads the blob, a range, its stat, scrubs and reads again: each step may
/// fail, but a `get` that succeeds returns the blob exactly.
pub(crate) fn exercise_erasure(image: MemFs) {
    let (_, blob, id) = erasure_golden();
    let fs: Arc<dyn Fs> = Arc::new(image);
    let Ok(store) = erasure::BlobStore::open_with_fs(fs, &erasure_dirs(), erasure_options()) else {
        return;
    };
    if let Ok(got) = store.get(*id) {
        assert_eq!(&got[..], &blob[..], "a damaged shard read back as data");
    }
    let _ = store.get_range(*id, 1000, 3000);
    let _ = store.stat(*id);
    let _ = store.scrub();
    if let Ok(got) = store.get(*id) {
        assert_eq!(&got[..], &blob[..], "scrub wrote wrong data");
    }
}
