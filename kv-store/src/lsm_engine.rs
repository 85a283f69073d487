//! The [`Engine`] adapter over the `lsm` crate.
//!
//! `Db::open` checks the manifest and every live table's footer, index and
//! filter, and replays the logs dropping a torn tail; `verify` then runs
//! `Db::verify`, which reads every block of every live table of a pinned
//! version (a compaction running meanwhile keeps those files until it is
//! done) and every blob value, reporting each bad block with its file and
//! offset and the keys a lost blob costs; then it reads every pair through
//! the engine. `repair` flushes and runs `Db::repair_blobs`.

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

use crate::codec;
use crate::engine::{Direction, Engine, EngineKind, Flow, Op, SortedLoader, VerifyReport, Visitor};
use crate::{Corruption, Error, Result};

/// An open `lsm` store.
#[derive(Debug)]
pub(crate) struct LsmEngine {
    db: lsm::Db,
    dir: std::path::PathBuf,
    /// Tables on a remote store: a writer flushes its memtable at close,
    /// so what it acknowledged is in the manifest it publishes, for readers
    /// elsewhere.
    flush_on_close: bool,
    /// The published view a remote reader serves from (kept open with it).
    reader: Option<lsm::Reader>,
    /// The file system `dir` is on (none for a remote reader): where
    /// `load --sorted` writes its tables before ingesting them.
    fs: Option<Arc<dyn vfs::Fs>>,
    /// With `--keyspace`: the keyspace the data commands work in.
    keyspace: Option<lsm::Keyspace>,
}

impl LsmEngine {
    /// Opens (creating if needed) the LSM files in `dir` on `fs`.
    ///
    /// # Errors
    ///
    /// [`Error::Corruption`] if the manifest, a table or the middle of a log
    /// is bad; [`Error::Locked`] if another process holds the directory.
    pub(crate) fn open(fs: Arc<dyn vfs::Fs>, dir: &Path) -> Result<LsmEngine> {
        let db = lsm::Db::open_with_fs(Arc::clone(&fs), dir, lsm::Options::default())
            .map_err(convert)?;
        Ok(LsmEngine {
            db,
            dir: dir.to_path_buf(),
            flush_on_close: false,
            reader: None,
            fs: Some(fs),
            keyspace: None,
        })
    }

    /// Opens (creating if needed) a store whose write-ahead log and
    /// manifest are in `dir` on `fs` and whose tables are objects of
    /// `tables`, publishing its manifest there for readers
    /// ([`lsm::Options::publish_manifest`]). Values separated into blob
    /// files go to the same store under `blobs/` ([`remote_blob_options`]),
    /// so a reader with nothing local reads them too.
    ///
    /// # Errors
    ///
    /// As [`LsmEngine::open`]; a request to the store that fails.
    pub(crate) fn open_remote(
        fs: Arc<dyn vfs::Fs>,
        dir: &Path,
        tables: Arc<dyn objstore::Store>,
    ) -> Result<LsmEngine> {
        let opts = lsm::Options {
            table_store: Some(Arc::clone(&tables)),
            publish_manifest: true,
            ..remote_blob_options(tables)
        };
        let db = lsm::Db::open_with_fs(Arc::clone(&fs), dir, opts).map_err(convert)?;
        Ok(LsmEngine {
            db,
            dir: dir.to_path_buf(),
            flush_on_close: true,
            reader: None,
            fs: Some(fs),
            keyspace: None,
        })
    }

    /// Opens a read-only view of the store published in `tables`
    /// ([`lsm::Reader`]): nothing local, nothing written. `url` names it
    /// in messages.
    ///
    /// # Errors
    ///
    /// [`Error::Corruption`] if nothing is published there or a published
    /// manifest or table fails its checks; a request that fails.
    pub(crate) fn open_reader(tables: Arc<dyn objstore::Store>, url: &str) -> Result<LsmEngine> {
        let opts = remote_blob_options(Arc::clone(&tables));
        let reader = lsm::Reader::open_with(tables, "", opts).map_err(convert)?;
        Ok(LsmEngine {
            db: reader.db(),
            dir: std::path::PathBuf::from(url),
            flush_on_close: false,
            reader: Some(reader),
            fs: None,
            keyspace: None,
        })
    }

    /// Opens the existing LSM files in `dir` on `fs` for reading only
    /// ([`lsm::Db::open_read_only_with_fs`]): the logs are replayed in
    /// memory and nothing is written or deleted; writes fail.
    ///
    /// # Errors
    ///
    /// As [`LsmEngine::open`]; [`Error::Locked`] while a writer has the
    /// directory.
    pub(crate) fn open_read_only(fs: Arc<dyn vfs::Fs>, dir: &Path) -> Result<LsmEngine> {
        let db = lsm::Db::open_read_only_with_fs(Arc::clone(&fs), dir, lsm::Options::default())
            .map_err(convert)?;
        Ok(LsmEngine {
            db,
            dir: dir.to_path_buf(),
            flush_on_close: false,
            reader: None,
            fs: Some(fs),
            keyspace: None,
        })
    }
}

/// Default options with blob files on `store` under `blobs/`, one shard per
/// blob (the object store keeps its own redundancy): the writer and every
/// reader of a `--db s3://` store agree on where blob values live.
fn remote_blob_options(store: Arc<dyn objstore::Store>) -> lsm::Options {
    lsm::Options {
        blob_stores: vec![lsm::scoped_store(store, "blobs")],
        ..lsm::Options::default()
    }
}

/// Maps an `lsm` error onto ours: damage (corruption, a missing file, a
/// blob that cannot be read) keeps its file and exits 1; a failing disk
/// keeps the I/O error's kind and file; a pair over a limit is refused.
pub(crate) fn convert(e: lsm::Error) -> Error {
    match e {
        lsm::Error::Corruption {
            file,
            offset,
            what,
            expected,
            found,
        } => Error::Corruption {
            file,
            offset,
            what: if expected == 0 && found == 0 {
                what.to_string()
            } else {
                format!("{what} (expected {expected:#x}, found {found:#x})")
            },
        },
        lsm::Error::Io(fs) => Error::from_fs(EngineKind::Lsm, fs),
        e @ lsm::Error::InvalidKeyspace(_) => Error::BadArgument(e.to_string()),
        e @ (lsm::Error::KeyTooLarge { .. } | lsm::Error::ValueTooLarge { .. }) => Error::Refused {
            engine: EngineKind::Lsm,
            message: e.to_string(),
        },
        e @ (lsm::Error::BlobStore(_)
        | lsm::Error::BlobUnavailable { .. }
        | lsm::Error::BlobChecksum { .. }
        | lsm::Error::BadBlobRef { .. }) => match io_cause(&e) {
            // The disk failed under the blob store: an I/O error, not damage.
            Some((path, kind)) => Error::Io {
                path,
                source: std::io::Error::new(kind, key_as_scan_prints(&e)),
            },
            None => Error::Damaged {
                engine: EngineKind::Lsm,
                message: key_as_scan_prints(&e),
            },
        },
        other => Error::Engine {
            engine: EngineKind::Lsm,
            message: other.to_string(),
        },
    }
}

/// `e`'s message with its key as `scan` prints keys (`big`), not as `lsm`
/// writes it in messages (Rust's byte-string form, `b"big"`).
fn key_as_scan_prints(e: &lsm::Error) -> String {
    let text = e.to_string();
    let key = match e {
        lsm::Error::BlobUnavailable { key, .. }
        | lsm::Error::BlobChecksum { key, .. }
        | lsm::Error::BadBlobRef { key, .. } => key,
        _ => return text,
    };
    let lsm_form: String = std::iter::once("b\"".to_string())
        .chain(
            key.iter()
                .map(|&b| std::ascii::escape_default(b).to_string()),
        )
        .chain(std::iter::once("\"".to_string()))
        .collect();
    text.replacen(
        &format!("key {lsm_form}"),
        &format!("key {}", codec::escape(key)),
        1,
    )
}

/// The file and kind of a failing disk operation (other than a missing
/// file, which is damage) in the chain of causes of `e`.
fn io_cause(
    e: &(dyn std::error::Error + 'static),
) -> Option<(std::path::PathBuf, std::io::ErrorKind)> {
    let mut cause = e.source();
    while let Some(c) = cause {
        if let Some(vfs::Error::Io { path, source, .. }) = c.downcast_ref::<vfs::Error>() {
            return (source.kind() != std::io::ErrorKind::NotFound)
                .then(|| (path.clone(), source.kind()));
        }
        cause = c.source();
    }
    None
}

/// One problem `lsm` found, as a located corruption. Blob problems name
/// the blob directory; the offset of a bad value is its offset in its blob.
fn problem_to_corruption(p: &lsm::Problem, blobs: &Path) -> Corruption {
    let (file, offset, what) = match p {
        lsm::Problem::Table {
            file,
            offset,
            what,
            expected,
            found,
            ..
        } => (
            file.clone(),
            *offset,
            format!("{what} (expected {expected:#x}, found {found:#x})"),
        ),
        lsm::Problem::BlobDegraded {
            blob, bad_shards, ..
        } => (
            blobs.to_path_buf(),
            0,
            format!(
                "blob {blob:016x}: shards {bad_shards:?} missing or rotten, no value lost (run repair)"
            ),
        ),
        lsm::Problem::BlobLost {
            blob,
            reason,
            keys,
            refs_total,
        } => (
            blobs.to_path_buf(),
            0,
            format!(
                "blob {blob:016x}: {refs_total} value(s) lost ({reason}); keys: {}",
                keys.iter()
                    .map(|k| codec::escape(k))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        lsm::Problem::BadValue {
            key,
            blob,
            offset,
            len,
            expected,
            found,
        } => (
            blobs.to_path_buf(),
            *offset,
            match found {
                Some(found) => format!(
                    "blob {blob:016x}: value of key {} ({len} bytes at this offset) fails its \
                     checksum (expected {expected:#x}, found {found:#x})",
                    codec::escape(key)
                ),
                None => format!(
                    "blob {blob:016x}: value of key {} ({len} bytes at this offset) lies outside the blob",
                    codec::escape(key)
                ),
            },
        ),
        lsm::Problem::BadBlobRef {
            key,
            file,
            offset,
            expected_len,
            found_len,
            ..
        } => (
            file.clone(),
            *offset,
            format!(
                "blob reference of key {} (expected {expected_len} bytes, found {found_len})",
                codec::escape(key)
            ),
        ),
    };
    Corruption { file, offset, what }
}

impl Engine for LsmEngine {
    fn kind(&self) -> EngineKind {
        EngineKind::Lsm
    }

    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let (k, v) = (Bytes::copy_from_slice(key), Bytes::copy_from_slice(value));
        match &self.keyspace {
            Some(ks) => ks.put(k, v),
            None => self.db.put(k, v),
        }
        .map_err(convert)
    }

    fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        match &self.keyspace {
            Some(ks) => ks.get(key),
            None => self.db.get(key),
        }
        .map_err(convert)
    }

    fn delete(&self, key: &[u8]) -> Result<()> {
        let k = Bytes::copy_from_slice(key);
        match &self.keyspace {
            Some(ks) => ks.delete(k),
            None => self.db.delete(k),
        }
        .map_err(convert)
    }

    fn write(&self, ops: &[Op]) -> Result<()> {
        let mut batch = lsm::WriteBatch::new();
        for op in ops {
            match (op, &self.keyspace) {
                (Op::Put(k, v), Some(ks)) => batch.put_in(ks, k.clone(), v.clone()),
                (Op::Put(k, v), None) => batch.put(k.clone(), v.clone()),
                (Op::Delete(k), Some(ks)) => batch.delete_in(ks, k.clone()),
                (Op::Delete(k), None) => batch.delete(k.clone()),
            }
        }
        self.db.write(batch).map_err(convert)
    }

    fn scan_range(
        &self,
        lower: Bound<Vec<u8>>,
        upper: Bound<Vec<u8>>,
        direction: Direction,
        visit: &mut Visitor<'_>,
    ) -> Result<()> {
        let iter = match &self.keyspace {
            Some(ks) => ks.range::<Vec<u8>, _>((lower, upper)),
            None => self.db.range::<Vec<u8>, _>((lower, upper)),
        };
        let mut each = |item: lsm::Result<(Bytes, Bytes)>| -> Result<Flow> {
            let (k, v) = item.map_err(convert)?;
            visit(&k, &v)
        };
        match direction {
            Direction::Forward => {
                for item in iter {
                    if each(item)? == Flow::Stop {
                        break;
                    }
                }
            }
            Direction::Reverse => {
                for item in iter.rev() {
                    if each(item)? == Flow::Stop {
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    fn stats(&self) -> Result<String> {
        Ok(self.store_stats()?.to_string())
    }

    fn compact(&self) -> Result<()> {
        match &self.keyspace {
            Some(ks) => ks.compact_range::<&[u8], _>(..),
            None => self.db.compact_range::<&[u8], _>(..),
        }
        .map_err(convert)
    }

    fn verify(&self) -> Result<VerifyReport> {
        // Every block of every live table, each bad one reported, and every
        // blob value, naming the keys a lost blob costs...
        let deep = self.db.verify().map_err(convert)?;
        let mut report = VerifyReport {
            files_checked: deep.tables_checked,
            ..VerifyReport::default()
        };
        let blobs = self.dir.join("blobs");
        for p in &deep.problems {
            report.corruptions.push(problem_to_corruption(p, &blobs));
        }
        // ...then every pair through the engine, which also decompresses and
        // decodes each block; it stops at the first failure.
        for item in self.db.range::<&[u8], _>(..) {
            match item {
                Ok(_) => report.pairs_checked += 1,
                Err(e) => match convert(e) {
                    Error::Corruption { file, offset, what } => {
                        let known = report
                            .corruptions
                            .iter()
                            .any(|c| c.file == file && c.offset == offset);
                        if !known {
                            report.corruptions.push(Corruption { file, offset, what });
                        }
                        break;
                    }
                    // A lost blob value: already reported with its keys.
                    _ if !deep.lost_nothing() => break,
                    other => return Err(other),
                },
            }
        }
        Ok(report)
    }

    fn repair(&self) -> Result<String> {
        // Opening already replayed the logs and dropped a torn tail; a flush
        // moves what the logs held into a checked table and retires them.
        self.db.flush().map_err(convert)?;
        let blobs = self.db.repair_blobs().map_err(convert)?;
        let mut out = "replayed the write-ahead log (a torn tail, if any, was dropped)\n\
            flushed the memtable to a table and retired the old log\n"
            .to_string();
        out += &format!(
            "rebuilt {} blob shard(s) from the surviving shards",
            blobs.shards_rebuilt
        );
        if !blobs.after.lost_nothing() {
            out += &format!(
                "\n{} problem(s) remain that blob parity cannot mend (listed below)",
                blobs.after.problems.len()
            );
        }
        Ok(out)
    }

    fn sync(&self) -> Result<()> {
        self.db.sync().map_err(convert)
    }

    fn close(self: Box<Self>) -> Result<()> {
        if self.flush_on_close {
            // Readers elsewhere see only flushed tables: publish what this
            // command wrote before closing.
            let flushed = self.db.flush().map_err(convert);
            let closed = self.db.close().map_err(convert);
            return flushed.and(closed);
        }
        self.db.close().map_err(convert)
    }

    fn store_stats(&self) -> Result<crate::stats::StoreStats> {
        Ok(crate::stats::StoreStats::Lsm(
            crate::stats::LsmFacts::from_lsm(&self.db.stats()),
        ))
    }

    fn checkpoint(&self, dest: &Path) -> Result<String> {
        let i = self.db.checkpoint(dest).map_err(convert)?;
        Ok(format!(
            "lsm checkpoint: {} table(s), {} blob file(s), {} bytes ({} hard-linked, {} copied), last sequence number {}",
            i.tables, i.blob_files, i.bytes, i.files_linked, i.files_copied, i.last_seq
        ))
    }

    fn inspect(&self) -> Result<crate::inspect::Inspection> {
        let mut d = self.db.describe().map_err(convert)?;
        let published = self.reader.as_ref().map(|r| {
            // The view's directory is scratch memory: name the store.
            d.dir = self.dir.clone();
            crate::inspect::Published {
                location: format!(
                    "{}/manifest/{:020}",
                    self.dir.display(),
                    r.manifest_number()
                ),
                number: r.manifest_number(),
                writer_epoch: r.writer_epoch(),
            }
        });
        Ok(crate::inspect::Inspection::Lsm(d, published))
    }

    fn sorted_loader(&self) -> Result<Option<Box<dyn SortedLoader + '_>>> {
        let Some(fs) = &self.fs else {
            return Ok(None);
        };
        let scratch = self.dir.join(SORTED_SCRATCH);
        let io = |e: vfs::Error| Error::from_fs(EngineKind::Lsm, e);
        // Left by a load that crashed or failed: never ingested.
        remove_scratch(&**fs, &scratch);
        fs.create_dir_all(&scratch).map_err(io)?;
        Ok(Some(Box::new(LsmSortedLoader::new(
            &self.db,
            self.keyspace.as_ref(),
            Arc::clone(fs),
            scratch,
        )?)))
    }

    fn use_keyspace(&mut self, name: &str, create: bool) -> Result<()> {
        if self.reader.is_some() || self.flush_on_close {
            return Err(Error::BadArgument(
                "--keyspace: a store on an object store publishes its default keyspace only".into(),
            ));
        }
        if !create && !self.db.keyspace_names().iter().any(|n| n == name) {
            return Err(Error::BadArgument(format!(
                "--keyspace {name}: the store has no such keyspace (`kv-store keyspaces` lists them; put or load creates one)"
            )));
        }
        self.keyspace = Some(self.db.keyspace(name).map_err(convert)?);
        Ok(())
    }

    fn keyspace_names(&self) -> Vec<String> {
        self.db.keyspace_names()
    }

    fn drop_keyspace(&self, name: &str) -> Result<()> {
        self.db.drop_keyspace(name).map_err(convert)
    }
}

/// The directory, inside the store's, where `load --sorted` writes its
/// tables before ingesting them (same file system: they are hard-linked
/// in). The lsm engine ignores names it does not know.
const SORTED_SCRATCH: &str = "load-sorted.tmp";

/// Removes the scratch directory `dir` and its files, as far as it can
/// (what stays is removed by the next `load --sorted`).
fn remove_scratch(fs: &dyn vfs::Fs, dir: &Path) {
    if let Ok(names) = fs.list_dir(dir) {
        for n in names {
            let _ = fs.remove_file(&dir.join(n));
        }
        let _ = fs.remove_dir(dir);
    }
}

/// Pairs handed to the writer thread at a time.
const SORTED_BATCH_PAIRS: usize = 4096;

/// Batches in flight to the writer thread (bounds the memory in between).
const SORTED_BATCHES_QUEUED: usize = 4;

/// `load --sorted` on lsm: an [`lsm::TableWriter`] on a thread of its own
/// writing the scratch directory's tables while this one parses the input
/// (as a plain load's flush thread builds tables beside the parser), all
/// ingested at the end.
struct LsmSortedLoader<'a> {
    db: &'a lsm::Db,
    /// With `--keyspace`: where the tables are ingested.
    keyspace: Option<&'a lsm::Keyspace>,
    fs: Arc<dyn vfs::Fs>,
    scratch: std::path::PathBuf,
    batch: Vec<(Bytes, Bytes)>,
    /// Taken by `finish` (or the drop).
    to_writer: Option<std::sync::mpsc::SyncSender<Vec<(Bytes, Bytes)>>>,
    writer: Option<std::thread::JoinHandle<lsm::Result<Vec<lsm::WrittenTable>>>>,
}

impl<'a> LsmSortedLoader<'a> {
    fn new(
        db: &'a lsm::Db,
        keyspace: Option<&'a lsm::Keyspace>,
        fs: Arc<dyn vfs::Fs>,
        scratch: std::path::PathBuf,
    ) -> Result<Self> {
        let mut w = lsm::TableWriter::create_with_fs(
            Arc::clone(&fs),
            scratch.join("run.sst"),
            &lsm::Options::default(),
        )
        .map_err(convert)?;
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<(Bytes, Bytes)>>(SORTED_BATCHES_QUEUED);
        let writer = std::thread::Builder::new()
            .name("load-sorted".into())
            .spawn(move || {
                for batch in rx {
                    for (k, v) in batch {
                        w.put(k, v)?;
                    }
                }
                w.finish()
            })
            .map_err(|e| Error::io("load-sorted thread", e))?;
        Ok(LsmSortedLoader {
            db,
            keyspace,
            fs,
            scratch,
            batch: Vec::with_capacity(SORTED_BATCH_PAIRS),
            to_writer: Some(tx),
            writer: Some(writer),
        })
    }

    /// Waits for the writer thread (its sender dropped first) and returns
    /// what it wrote, or why it stopped.
    fn join(&mut self) -> Result<Vec<lsm::WrittenTable>> {
        self.to_writer = None;
        let Some(h) = self.writer.take() else {
            return Ok(Vec::new());
        };
        match h.join() {
            Ok(r) => r.map_err(convert),
            Err(_) => Err(Error::Engine {
                engine: EngineKind::Lsm,
                message: "the load --sorted writer thread panicked".into(),
            }),
        }
    }
}

impl SortedLoader for LsmSortedLoader<'_> {
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        // Refused here, not on the writer thread, so the caller can name
        // the line.
        if key.len() > lsm::KEY_LEN_MAX {
            return Err(convert(lsm::Error::KeyTooLarge {
                len: key.len(),
                len_max: lsm::KEY_LEN_MAX,
            }));
        }
        if value.len() > lsm::VALUE_LEN_MAX {
            return Err(convert(lsm::Error::ValueTooLarge {
                len: value.len(),
                len_max: lsm::VALUE_LEN_MAX,
            }));
        }
        self.batch
            .push((Bytes::copy_from_slice(key), Bytes::copy_from_slice(value)));
        if self.batch.len() >= SORTED_BATCH_PAIRS {
            let full = std::mem::replace(&mut self.batch, Vec::with_capacity(SORTED_BATCH_PAIRS));
            let sent = self
                .to_writer
                .as_ref()
                .is_some_and(|tx| tx.send(full).is_ok());
            if !sent {
                // The writer stopped: its error says why.
                self.join()?;
            }
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        let last = std::mem::take(&mut self.batch);
        if let Some(tx) = &self.to_writer {
            // A failed send means the writer stopped: `join` reports why.
            let _ = tx.send(last);
        }
        let files: Vec<std::path::PathBuf> = self.join()?.into_iter().map(|t| t.path).collect();
        match self.keyspace {
            Some(ks) => ks.ingest(&files),
            None => self.db.ingest(&files),
        }
        .map_err(convert)?;
        Ok(())
    }
}

impl Drop for LsmSortedLoader<'_> {
    fn drop(&mut self) {
        // Unfinished: the writer stops once its queue is drained. Ingested
        // tables were linked or copied: the scratch files are only copies.
        let _ = self.join();
        remove_scratch(&*self.fs, &self.scratch);
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::sync::Mutex;

    use super::*;

    type Hook = Box<dyn FnOnce() + Send>;

    /// A file system that runs a hook once, right after the next directory
    /// listing: the moment a verify that lists table files and then opens
    /// them is most exposed to a compaction deleting them.
    #[derive(Default)]
    struct HookFs {
        inner: vfs::MemFs,
        hook: Mutex<Option<Hook>>,
    }

    impl std::fmt::Debug for HookFs {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("HookFs").finish_non_exhaustive()
        }
    }

    impl vfs::ForwardFs for HookFs {
        fn inner(&self) -> &dyn vfs::Fs {
            &self.inner
        }
        fn list_dir(&self, path: &Path) -> vfs::Result<Vec<OsString>> {
            let names = vfs::Fs::list_dir(&self.inner, path);
            let hook = self.hook.lock().expect("hook lock").take();
            if let Some(hook) = hook {
                hook();
            }
            names
        }
    }

    /// Regression: `verify` listed the `*.sst` files, then opened each, and
    /// failed with "No such file" when a compaction deleted one in between.
    #[test]
    fn verify_is_not_disturbed_by_a_compaction_deleting_tables() {
        const N: u32 = 3000;
        let fs = Arc::new(HookFs::default());
        let engine =
            LsmEngine::open(Arc::clone(&fs) as Arc<dyn vfs::Fs>, Path::new("store")).expect("open");
        for chunk in 0..3 {
            for i in (chunk..N).step_by(3) {
                engine
                    .put(format!("key{i:06}").as_bytes(), b"some value")
                    .expect("put");
            }
            engine.db.flush().expect("flush");
        }
        let db = engine.db.clone();
        *fs.hook.lock().expect("hook lock") = Some(Box::new(move || {
            db.compact_range::<&[u8], _>(..).expect("compact");
        }));
        let report = engine.verify();
        // Unarmed whether or not it ran: the hook holds a handle.
        drop(fs.hook.lock().expect("hook lock").take());
        let report = report.expect("verify");
        assert!(report.corruptions.is_empty(), "{:?}", report.corruptions);
        assert_eq!(report.pairs_checked, u64::from(N));
        assert!(report.files_checked >= 1);
        Box::new(engine).close().expect("close");
    }
}
