//! Garbage collection policy: which blob files a compaction should empty
//! by copying their live values into new blobs (the copying itself is the
//! [`Separator`](crate::blob::Separator)'s).

use std::collections::HashSet;

use erasure::BlobId;

use crate::blob::BlobFiles;
use crate::version::Version;

impl BlobFiles {
    /// Blob files of `v` whose garbage (bytes no table of `v` references)
    /// is at least `ratio` of their size, but that still hold live values:
    /// compaction copies those values out so the file can go.
    pub(crate) fn to_collect(&self, v: &Version, ratio: f64) -> HashSet<BlobId> {
        let live = self.live(v);
        self.files
            .values()
            .filter(|m| {
                live.get(&m.blob).is_some_and(|l| {
                    m.bytes > 0 && (m.bytes - l.bytes.min(m.bytes)) as f64 >= ratio * m.bytes as f64
                })
            })
            .map(|m| m.blob)
            .collect()
    }
}
