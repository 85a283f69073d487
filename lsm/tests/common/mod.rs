//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use larder_lsm::Options;
use vfs::{Fs, MemFs, OpenMode};

pub(crate) mod golden;

/// Options with tiny buffers so a few hundred writes reach every level.
pub(crate) fn tiny_options() -> Options {
    Options {
        write_buffer_size_bytes: 2048,
        block_size_bytes: 256,
        block_restart_interval: 4,
        table_size_target_bytes: 2048,
        level1_bytes_max: 8192,
        l0_compaction_trigger: 2,
        l0_slowdown_trigger: 4,
        l0_stop_trigger: 8,
        block_cache_bytes: 64 * 1024,
        ..Options::default()
    }
}

/// Collects an iterator of results into key/value string pairs.
pub(crate) fn collect(
    it: impl Iterator<Item = larder_lsm::Result<(bytes::Bytes, bytes::Bytes)>>,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    it.map(|r| {
        let (k, v) = r.expect("iteration");
        (k.to_vec(), v.to_vec())
    })
    .collect()
}

/// Short printable form of pairs, for readable failures.
pub(crate) fn show(pairs: &[(Vec<u8>, Vec<u8>)]) -> Vec<String> {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                String::from_utf8_lossy(k),
                String::from_utf8_lossy(&v[..v.len().min(8)])
            )
        })
        .collect()
}

/// Asserts two pair lists are equal, printing only the differences.
pub(crate) fn assert_same(got: &[(Vec<u8>, Vec<u8>)], want: &[(Vec<u8>, Vec<u8>)], what: &str) {
    if got != want {
        let g = show(got);
        let w = show(want);
        let extra: Vec<_> = g.iter().filter(|x| !w.contains(x)).collect();
        let missing: Vec<_> = w.iter().filter(|x| !g.contains(x)).collect();
        panic!("{what}: unexpected {extra:?}, missing {missing:?}");
    }
}

/// Blob shard files in the default blob store of the database at `/db`
/// (one directory, `(1, 0)` code: one shard file per blob file).
pub(crate) fn blob_files_on_disk(fs: &dyn vfs::Fs) -> usize {
    fs.list_dir(std::path::Path::new("/db/blobs"))
        .map(|names| {
            names
                .iter()
                .filter(|n| n.to_string_lossy().ends_with(".shard"))
                .count()
        })
        .unwrap_or(0)
}

/// Table files (`*.sst`) in directory `dir`.
pub(crate) fn table_files_on_disk(fs: &dyn vfs::Fs, dir: &str) -> usize {
    fs.list_dir(std::path::Path::new(dir))
        .map(|names| {
            names
                .iter()
                .filter(|n| n.to_string_lossy().ends_with(".sst"))
                .count()
        })
        .unwrap_or(0)
}

/// Tiny buffers, every write synced, values of 40 bytes and more separated
/// at flush and blobs collected at 20% garbage: so crashes and I/O errors
/// also hit blob writes (shard files, their syncs and renames) before the
/// manifest names the tables that refer to them, blob collection and blob
/// file deletion.
pub(crate) fn blob_churn_options() -> Options {
    Options {
        durability: larder_lsm::Durability::Immediate,
        blob_threshold_bytes: Some(40),
        blob_gc_ratio: 0.2,
        ..tiny_options()
    }
}

/// Every file under `dir` (recursively) with its bytes: names and contents,
/// to show an open or a command changed nothing.
pub(crate) fn snapshot(fs: &MemFs, dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let Ok(names) = fs.list_dir(dir) else {
        return out;
    };
    for n in names {
        let path = dir.join(n);
        if fs.list_dir(&path).is_ok() {
            out.extend(snapshot(fs, &path));
            continue;
        }
        let data = fs
            .open(&path, OpenMode::Read)
            .and_then(|f| f.map())
            .expect("read");
        out.insert(path, data.to_vec());
    }
    out
}

/// A file system that holds the creation of table files at a gate: the
/// flush thread waits there (after saying so on the receiver
/// [`GateFs::new`] returns) until the test calls [`GateFs::open_gate`].
#[derive(Debug)]
pub(crate) struct GateFs {
    /// The file system behind the gate (to crash it, say).
    pub(crate) inner: MemFs,
    gate: std::sync::Arc<(parking_lot::Mutex<bool>, parking_lot::Condvar)>,
    entered: parking_lot::Mutex<Option<std::sync::mpsc::Sender<()>>>,
}

impl GateFs {
    /// A closed gate over a fresh `MemFs`, and the receiver told when the
    /// first table creation reaches it.
    pub(crate) fn new() -> (std::sync::Arc<GateFs>, std::sync::mpsc::Receiver<()>) {
        let (tx, entered) = std::sync::mpsc::channel();
        let gate = std::sync::Arc::new(GateFs {
            inner: MemFs::new(),
            gate: std::sync::Arc::default(),
            entered: parking_lot::Mutex::new(Some(tx)),
        });
        (gate, entered)
    }

    pub(crate) fn open_gate(&self) {
        let (open, cv) = &*self.gate;
        *open.lock() = true;
        cv.notify_all();
    }
}

impl vfs::ForwardFs for GateFs {
    fn inner(&self) -> &dyn Fs {
        &self.inner
    }
    fn open(&self, path: &Path, mode: OpenMode) -> vfs::Result<Box<dyn vfs::File>> {
        if mode.creates() && path.extension().is_some_and(|e| e == "sst") {
            if let Some(tx) = self.entered.lock().take() {
                let _ = tx.send(());
            }
            let (open, cv) = &*self.gate;
            let mut o = open.lock();
            // Bounded: the test opens the gate before it ends.
            while !*o {
                cv.wait(&mut o);
            }
        }
        Fs::open(&self.inner, path, mode)
    }
}
