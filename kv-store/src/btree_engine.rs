//! The [`Engine`] adapter over the `btree` crate: the store directory holds
//! one database file, `btree.db`.
//!
//! Commits use [`btree::Durability::None`] (acknowledged, not yet synced) and
//! [`Engine::sync`] and [`Engine::close`] make them durable, the same contract
//! the `lsm` adapter has with `Durability::None`. `verify` is `Db::check`,
//! which reads both meta pages and walks every page; `repair` has nothing to
//! do beyond what opening does (a torn commit is never referenced by a valid
//! meta page). A store whose marker exists opens with
//! [`btree::Db::open_existing`], so a deleted or emptied `btree.db` is
//! damage, not a new store.

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use crate::engine::{Direction, Engine, EngineKind, Flow, Op, VerifyReport, Visitor};
use crate::{Corruption, Error, Result};

/// The database file inside the store directory.
pub(crate) const FILE_NAME: &str = "btree.db";

/// An open `btree` store.
pub(crate) struct BtreeEngine {
    db: btree::Db,
    page_size_bytes: u64,
}

impl std::fmt::Debug for BtreeEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BtreeEngine")
            .field("path", &self.db.path())
            .finish()
    }
}

/// Opens (creating if needed) the B+ tree store in `dir` on `fs`.
///
/// # Errors
///
/// [`Error::Corruption`] if the file is damaged (see [`open_existing`]);
/// [`Error::Locked`] if another process has the file open.
pub(crate) fn open(fs: Arc<dyn vfs::Fs>, dir: &Path) -> Result<Box<dyn Engine>> {
    open_with(fs, dir, btree::Db::open_with_fs)
}

/// Opens the B+ tree store in `dir` on `fs`, which is known to exist (its
/// store marker does): a missing or empty `btree.db` is damage
/// ([`Error::Corruption`]), never a new empty store.
///
/// # Errors
///
/// [`Error::Corruption`] if the file is missing, empty, truncated, or its
/// meta pages are damaged (a damaged newest meta page is refused rather
/// than reverted to the previous commit); [`Error::Locked`] if another
/// process has the file open.
pub(crate) fn open_existing(fs: Arc<dyn vfs::Fs>, dir: &Path) -> Result<Box<dyn Engine>> {
    open_with(fs, dir, btree::Db::open_existing_with_fs)
}

/// Opens the existing B+ tree store in `dir` on `fs` for reading only
/// ([`btree::Db::open_read_only`]): writes nothing, shares the lock with
/// other readers; `put`, `delete`, `write` and `compact` fail, and `sync`
/// and `close` have nothing to do. For the reading commands.
///
/// # Errors
///
/// As [`open_existing`]; [`Error::Locked`] while a writer has the file.
pub(crate) fn open_read_only(fs: Arc<dyn vfs::Fs>, dir: &Path) -> Result<Box<dyn Engine>> {
    open_with(fs, dir, btree::Db::open_read_only_with_fs)
}

type Opener = fn(Arc<dyn vfs::Fs>, PathBuf, btree::Options) -> btree::Result<btree::Db>;

fn open_with(fs: Arc<dyn vfs::Fs>, dir: &Path, opener: Opener) -> Result<Box<dyn Engine>> {
    let options = btree::Options {
        durability: btree::Durability::None,
        ..btree::Options::default()
    };
    let page_size_bytes = u64::from(options.page_size_bytes);
    let db = opener(fs, dir.join(FILE_NAME), options).map_err(|e| convert(e, page_size_bytes))?;
    Ok(Box::new(BtreeEngine {
        db,
        page_size_bytes,
    }))
}

/// Maps a `btree` error onto ours; a page number becomes its byte offset.
fn convert(e: btree::Error, page_size_bytes: u64) -> Error {
    let at = |file: PathBuf, page: u64, what: String| Error::Corruption {
        file,
        offset: page.saturating_mul(page_size_bytes),
        what,
    };
    match e {
        btree::Error::Corruption {
            file,
            page,
            expected,
            found,
        } => at(
            file,
            page,
            format!(
                "page {page} checksum mismatch (expected {expected:#010x}, found {found:#010x})"
            ),
        ),
        btree::Error::Malformed { file, page, what } => {
            at(file, page, format!("page {page} malformed: {what}"))
        }
        btree::Error::NoValidMeta { file } => at(file, 0, "no valid meta page".to_string()),
        btree::Error::MetaDamaged { ref file, page, .. }
        | btree::Error::BadMeta { ref file, page, .. } => at(file.clone(), page, e.to_string()),
        btree::Error::Truncated {
            ref file, file_len, ..
        } => Error::Corruption {
            file: file.clone(),
            offset: file_len,
            what: e.to_string(),
        },
        btree::Error::Missing { ref file } | btree::Error::Empty { ref file } => {
            Error::Corruption {
                file: file.clone(),
                offset: 0,
                what: format!("{e}; the store's marker says it exists"),
            }
        }
        btree::Error::Io(fs) => Error::from_fs(EngineKind::Btree, fs),
        e @ (btree::Error::KeyTooLarge { .. } | btree::Error::ValueTooLarge { .. }) => {
            Error::Refused {
                engine: EngineKind::Btree,
                message: e.to_string(),
            }
        }
        other => Error::Engine {
            engine: EngineKind::Btree,
            message: other.to_string(),
        },
    }
}

impl BtreeEngine {
    fn err(&self, e: btree::Error) -> Error {
        convert(e, self.page_size_bytes)
    }

    fn commit(&self, f: impl FnOnce(&mut btree::WriteTxn<'_>) -> btree::Result<()>) -> Result<()> {
        let mut txn = self.db.begin_write().map_err(|e| self.err(e))?;
        f(&mut txn).map_err(|e| self.err(e))?;
        txn.commit().map_err(|e| self.err(e))
    }
}

impl Engine for BtreeEngine {
    fn kind(&self) -> EngineKind {
        EngineKind::Btree
    }

    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.commit(|t| t.insert(key, value).map(|_| ()))
    }

    fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        let read = self.db.begin_read().map_err(|e| self.err(e))?;
        read.get(key).map_err(|e| self.err(e))
    }

    fn delete(&self, key: &[u8]) -> Result<()> {
        self.commit(|t| t.remove(key).map(|_| ()))
    }

    fn write(&self, ops: &[Op]) -> Result<()> {
        self.commit(|t| {
            for op in ops {
                match op {
                    Op::Put(k, v) => {
                        t.insert(k, v)?;
                    }
                    Op::Delete(k) => {
                        t.remove(k)?;
                    }
                }
            }
            Ok(())
        })
    }

    fn scan_range(
        &self,
        lower: Bound<Vec<u8>>,
        upper: Bound<Vec<u8>>,
        direction: Direction,
        visit: &mut Visitor<'_>,
    ) -> Result<()> {
        let read = self.db.begin_read().map_err(|e| self.err(e))?;
        let range = read.range::<Vec<u8>, _>((lower, upper));
        let mut each = |item: btree::Result<(&[u8], &[u8])>| -> Result<Flow> {
            let (k, v) = item.map_err(|e| self.err(e))?;
            visit(k, v)
        };
        match direction {
            Direction::Forward => {
                for item in range {
                    if each(item)? == Flow::Stop {
                        break;
                    }
                }
            }
            Direction::Reverse => {
                for item in range.rev() {
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
        self.db.compact().map_err(|e| self.err(e))
    }

    fn verify(&self) -> Result<VerifyReport> {
        match self.db.check() {
            Ok(stats) => Ok(VerifyReport {
                pairs_checked: stats.entries,
                files_checked: 1,
                corruptions: Vec::new(),
            }),
            Err(e) => match self.err(e) {
                Error::Corruption { file, offset, what } => {
                    // Say which commit open took past a damaged meta page.
                    let recovery = self.db.recovery();
                    let what = if recovery.is_clean() {
                        what
                    } else {
                        format!("{what} ({recovery})")
                    };
                    Ok(VerifyReport {
                        pairs_checked: 0,
                        files_checked: 1,
                        corruptions: vec![Corruption { file, offset, what }],
                    })
                }
                other => Err(other),
            },
        }
    }

    fn repair(&self) -> Result<String> {
        // Opening already chose the newest meta page whose checksum holds, so
        // a torn commit is gone; making that state durable is all there is.
        self.db.sync().map_err(|e| self.err(e))?;
        Ok(
            "opened at the newest valid meta page (a torn commit, if any, was discarded)\n\
            synced the file"
                .to_string(),
        )
    }

    fn sync(&self) -> Result<()> {
        self.db.sync().map_err(|e| self.err(e))
    }

    fn close(self: Box<Self>) -> Result<()> {
        self.db.sync().map_err(|e| self.err(e))
    }

    fn store_stats(&self) -> Result<crate::stats::StoreStats> {
        let s = self.db.stats().map_err(|e| self.err(e))?;
        Ok(crate::stats::StoreStats::Btree(crate::stats::BtreeFacts {
            entries: s.entries,
            height: s.height,
            page_size_bytes: s.page_size_bytes,
            pages: s.page_count,
            branch_pages: s.branch_pages,
            leaf_pages: s.leaf_pages,
            overflow_pages: s.overflow_pages,
            free_tree_pages: s.free_tree_pages,
            free_pages: s.free_pages,
            file_size_bytes: s.file_size_bytes,
            leaf_fill_factor: s.fill_factor,
            meta: self.db.recovery().to_string(),
        }))
    }

    fn checkpoint(&self, dest: &Path) -> Result<String> {
        let i = self
            .db
            .checkpoint(&dest.join(FILE_NAME))
            .map_err(|e| self.err(e))?;
        Ok(format!(
            "btree checkpoint: commit {}, {} pairs, {} pages, {} bytes (compacted copy)",
            i.txn, i.entries, i.pages, i.bytes
        ))
    }

    fn inspect(&self) -> Result<crate::inspect::Inspection> {
        let d = self.db.describe().map_err(|e| self.err(e))?;
        Ok(crate::inspect::Inspection::Btree(d))
    }
}
