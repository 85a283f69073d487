//! A small cache of opened shard files, so ranged reads of a hot blob do
//! not open its files and check their headers on every call.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::BlobId;
use crate::reader::OpenShards;

/// Blobs whose shard files stay open (each holds up to `k + m` files).
pub(crate) const HANDLE_CACHE_BLOBS: usize = 64;

/// Cached blobs with the tick of their last use.
type Entries = HashMap<BlobId, (Arc<OpenShards>, u64)>;

/// Least-recently-used blobs' opened shards, and the use counter.
#[derive(Default)]
pub(crate) struct Handles {
    inner: Mutex<(Entries, u64)>,
}

impl std::fmt::Debug for Handles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handles")
            .field("blobs", &self.inner.lock().0.len())
            .finish()
    }
}

impl Handles {
    pub(crate) fn get(&self, id: BlobId) -> Option<Arc<OpenShards>> {
        let mut g = self.inner.lock();
        let (map, tick) = &mut *g;
        *tick += 1;
        let e = map.get_mut(&id)?;
        e.1 = *tick;
        Some(Arc::clone(&e.0))
    }

    pub(crate) fn insert(&self, id: BlobId, shards: Arc<OpenShards>) {
        let mut g = self.inner.lock();
        let (map, tick) = &mut *g;
        *tick += 1;
        if map.len() >= HANDLE_CACHE_BLOBS
            && !map.contains_key(&id)
            && let Some(&oldest) = map.iter().min_by_key(|(_, (_, t))| *t).map(|(k, _)| k)
        {
            map.remove(&oldest);
        }
        map.insert(id, (shards, *tick));
    }

    /// Forgets `id` (deleted, or its shard files replaced by a repair).
    pub(crate) fn forget(&self, id: BlobId) {
        self.inner.lock().0.remove(&id);
    }
}
