//! Savepoints: a state of the database to return to.
//!
//! An *ephemeral* savepoint is a write transaction's state at one moment,
//! to return to later in the same transaction (redb's ephemeral
//! savepoints). A write transaction changes nothing a snapshot can see
//! before commit: its state is its roots, its table handles, its dirty
//! nodes and overflow runs, and its allocator. The savepoint copies that
//! state (the cost is the transaction's dirty pages so far, in memory);
//! restoring puts it back, so pages allocated since are unallocated again
//! and pages freed since are referenced again. Pages `bulk_load` wrote to
//! the file since are fresh pages no commit references, and are simply
//! reused.
//!
//! A *persistent* savepoint is a commit kept in the file (see
//! `persistent.rs`); [`WriteTxn::get_persistent_savepoint`] hands it out as
//! a [`Savepoint`] of the transaction that asked, so both kinds are
//! restored the same way.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::allocator::Allocator;
use crate::catalog::OpenTable;
use crate::node::{Child, Node};
use crate::persistent::SavepointRecord;
use crate::write::WriteTxn;
use crate::{Error, Result};

/// Tells write transactions apart, so a savepoint is restored only into
/// the transaction that took it (transaction ids repeat after an abort).
static NEXT_OWNER: AtomicU64 = AtomicU64::new(1);

/// A fresh owner token for a write transaction.
pub(crate) fn next_owner() -> u64 {
    NEXT_OWNER.fetch_add(1, Ordering::Relaxed)
}

/// A state to return to with [`WriteTxn::restore_savepoint`]: an
/// ephemeral one from [`WriteTxn::savepoint`] (this transaction's state at
/// that moment; gone with the transaction, it never reaches the file), or
/// a persistent one from [`WriteTxn::get_persistent_savepoint`] (a commit
/// the file keeps). Valid only in the transaction that took it.
pub struct Savepoint {
    owner: u64,
    state: State,
}

enum State {
    Ephemeral(Box<Ephemeral>),
    Persistent { id: u64, record: SavepointRecord },
}

/// A write transaction's state, as an ephemeral savepoint copies it.
struct Ephemeral {
    root: Option<Child>,
    free_root: Option<Child>,
    catalog_root: Option<Child>,
    savepoint_root: Option<Child>,
    tables: Vec<OpenTable>,
    len: u64,
    dirty: HashMap<u64, Node>,
    runs: HashMap<u64, Vec<u8>>,
    written: HashSet<u64>,
    alloc: Allocator,
}

impl Savepoint {
    /// The id of the persistent savepoint this is, `None` for an ephemeral
    /// one.
    pub fn persistent_id(&self) -> Option<u64> {
        match self.state {
            State::Ephemeral(_) => None,
            State::Persistent { id, .. } => Some(id),
        }
    }

    pub(crate) fn persistent(owner: u64, id: u64, record: SavepointRecord) -> Savepoint {
        Savepoint {
            owner,
            state: State::Persistent { id, record },
        }
    }
}

impl std::fmt::Debug for Savepoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.state {
            State::Ephemeral(s) => f
                .debug_struct("Savepoint")
                .field("dirty_pages", &s.dirty.len())
                .finish(),
            State::Persistent { id, record } => f
                .debug_struct("Savepoint")
                .field("id", id)
                .field("txn", &record.txn)
                .finish(),
        }
    }
}

impl WriteTxn<'_> {
    /// Takes an ephemeral savepoint: this transaction's state now, every
    /// table included. It costs a copy of the pages the transaction has
    /// changed so far (in memory; nothing is written).
    pub fn savepoint(&self) -> Savepoint {
        Savepoint {
            owner: self.owner,
            state: State::Ephemeral(Box::new(Ephemeral {
                root: self.root,
                free_root: self.free_root,
                catalog_root: self.catalog_root,
                savepoint_root: self.savepoint_root,
                tables: self.tables.clone(),
                len: self.len,
                dirty: self.dirty.clone(),
                runs: self.runs.clone(),
                written: self.written.clone(),
                alloc: self.alloc.clone(),
            })),
        }
    }

    /// Returns to `savepoint`. An ephemeral one undoes every change this
    /// transaction made since it was taken (in every table, tables opened,
    /// created or deleted, persistent savepoints created or deleted), and
    /// stays valid to restore again. A persistent one puts every table (the
    /// default table and the named ones) back as its commit left them,
    /// and deletes the persistent savepoints created after it (as redb
    /// does); the persistent savepoints themselves are otherwise kept as
    /// this transaction left them. The change is this transaction's:
    /// commit makes it, abort drops it.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignSavepoint`] if another transaction took it (nothing
    /// changes); [`Error::SavepointNotFound`] if this transaction deleted
    /// the persistent savepoint since; a corruption error from a page of
    /// the savepoint's commit or of the free tree.
    pub fn restore_savepoint(&mut self, savepoint: &Savepoint) -> Result<()> {
        if savepoint.owner != self.owner {
            return Err(Error::ForeignSavepoint);
        }
        let s = match &savepoint.state {
            State::Ephemeral(s) => s,
            State::Persistent { id, record } => return self.restore_persistent(*id, record),
        };
        self.root = s.root;
        self.free_root = s.free_root;
        self.catalog_root = s.catalog_root;
        self.savepoint_root = s.savepoint_root;
        self.tables = s.tables.clone();
        self.len = s.len;
        self.dirty = s.dirty.clone();
        self.runs = s.runs.clone();
        self.written = s.written.clone();
        self.alloc = s.alloc.clone();
        Ok(())
    }
}
