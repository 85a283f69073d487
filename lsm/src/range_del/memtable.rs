//! A memtable's range tombstones, kept apart from its point entries.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use parking_lot::RwLock;

use super::{Fragments, Tombstone};
use crate::key::SeqNo;

/// The tombstones of one memtable: added by the one writer at a time,
/// fragmented once when a reader first asks after an add (RocksDB caches
/// its memtable's fragmented tombstones the same way). A reader filters
/// by its sequence number, so a tombstone added after it began (a newer
/// sequence number) hides nothing from it.
#[derive(Debug, Default)]
pub(crate) struct MemRangeDels {
    /// Tombstones added: readers check this before taking the lock.
    count: AtomicUsize,
    state: RwLock<State>,
}

#[derive(Debug, Default)]
struct State {
    tombs: Vec<Tombstone>,
    /// `tombs` fragmented; `None` after an add until the next read.
    fragments: Option<Arc<Fragments>>,
}

impl MemRangeDels {
    /// Adds `[start, end)` deleted at `seq`; an empty range is kept out.
    pub(crate) fn add(&self, start: Bytes, end: Bytes, seq: SeqNo) {
        if start >= end {
            return;
        }
        let mut s = self.state.write();
        s.tombs.push(Tombstone { start, end, seq });
        s.fragments = None;
        self.count.fetch_add(1, Ordering::Release);
    }

    /// Tombstones added.
    pub(crate) fn len(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The tombstones fragmented, or `None` if there are none.
    pub(crate) fn fragments(&self) -> Option<Arc<Fragments>> {
        if self.is_empty() {
            return None;
        }
        if let Some(f) = &self.state.read().fragments {
            return Some(Arc::clone(f));
        }
        let mut s = self.state.write();
        let f = match &s.fragments {
            Some(f) => Arc::clone(f),
            None => {
                let f = Arc::new(Fragments::build(s.tombs.iter().cloned()));
                s.fragments = Some(Arc::clone(&f));
                f
            }
        };
        Some(f)
    }
}
