//! Ephemeral savepoints: a write transaction's state at one moment, to
//! return to later in the same transaction (redb's ephemeral savepoints).
//!
//! A write transaction changes nothing a snapshot can see before commit:
//! its state is its roots, its table handles, its dirty nodes and overflow
//! runs, and its allocator. A savepoint copies that state (the cost is the
//! transaction's dirty pages so far, in memory); restoring puts it back, so
//! pages allocated since are unallocated again and pages freed since are
//! referenced again. Pages `bulk_load` wrote to the file since are fresh
//! pages no commit references, and are simply reused.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::allocator::Allocator;
use crate::catalog::OpenTable;
use crate::node::{Child, Node};
use crate::write::WriteTxn;
use crate::{Error, Result};

/// Tells write transactions apart, so a savepoint is restored only into
/// the transaction that took it (transaction ids repeat after an abort).
static NEXT_OWNER: AtomicU64 = AtomicU64::new(1);

/// A fresh owner token for a write transaction.
pub(crate) fn next_owner() -> u64 {
    NEXT_OWNER.fetch_add(1, Ordering::Relaxed)
}

/// A write transaction's state at one moment, from
/// [`WriteTxn::savepoint`]; return to it with
/// [`WriteTxn::restore_savepoint`]. Valid only in the transaction that took
/// it, and gone with it: it never reaches the file.
pub struct Savepoint {
    owner: u64,
    root: Option<Child>,
    free_root: Option<Child>,
    catalog_root: Option<Child>,
    tables: Vec<OpenTable>,
    len: u64,
    dirty: HashMap<u64, Node>,
    runs: HashMap<u64, Vec<u8>>,
    written: HashSet<u64>,
    alloc: Allocator,
}

impl std::fmt::Debug for Savepoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Savepoint")
            .field("dirty_pages", &self.dirty.len())
            .finish()
    }
}

impl WriteTxn<'_> {
    /// Takes an ephemeral savepoint: this transaction's state now, every
    /// table included. It costs a copy of the pages the transaction has
    /// changed so far (in memory; nothing is written).
    pub fn savepoint(&self) -> Savepoint {
        Savepoint {
            owner: self.owner,
            root: self.root,
            free_root: self.free_root,
            catalog_root: self.catalog_root,
            tables: self.tables.clone(),
            len: self.len,
            dirty: self.dirty.clone(),
            runs: self.runs.clone(),
            written: self.written.clone(),
            alloc: self.alloc.clone(),
        }
    }

    /// Returns this transaction to `savepoint`: every change since (in
    /// every table, tables opened, created or deleted) is undone. The
    /// savepoint stays valid and may be restored again.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignSavepoint`] if another transaction took it (nothing
    /// changes).
    pub fn restore_savepoint(&mut self, savepoint: &Savepoint) -> Result<()> {
        if savepoint.owner != self.owner {
            return Err(Error::ForeignSavepoint);
        }
        self.root = savepoint.root;
        self.free_root = savepoint.free_root;
        self.catalog_root = savepoint.catalog_root;
        self.tables = savepoint.tables.clone();
        self.len = savepoint.len;
        self.dirty = savepoint.dirty.clone();
        self.runs = savepoint.runs.clone();
        self.written = savepoint.written.clone();
        self.alloc = savepoint.alloc.clone();
        Ok(())
    }
}
