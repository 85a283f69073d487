//! The memtable flush: the immutable memtable becomes an L0 table (large
//! values moved into blob files), installed by one manifest edit that also
//! makes its log obsolete.

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use crate::Result;
use crate::blob::Separator;
use crate::builder::{TableEnv, table_options, write_table};
use crate::compaction::job;
use crate::db::Inner;
use crate::manifest::VersionEdit;

impl Inner {
    /// Flushes the oldest immutable memtable, if any, to an L0 table and
    /// installs it; the memtable's log becomes obsolete with the same edit
    /// (flushing oldest first keeps every log below the manifest's log
    /// number flushed).
    ///
    /// # Errors
    ///
    /// A table or blob write, or the manifest edit, failed: the memtable
    /// stays (its log too) and the engine stops (`background.rs`).
    pub(crate) fn flush_imm(&self) -> Result<()> {
        let sv = self.super_version();
        let Some((imm, next_log)) = sv.imm.first() else {
            return Ok(());
        };
        let no_collection = HashSet::new();
        let new_id = || self.new_file_number();
        let mut sep = match (&self.blobs, self.opts.blob_threshold_bytes) {
            (Some(store), Some(t)) => Some(Separator::new(store, Some(t), &no_collection, &new_id)),
            _ => None,
        };
        let smallest_snapshot = self.smallest_snapshot();
        // The memtable's range tombstones go into the table; the versions
        // they hide from every reader stay out of it. They are dropped
        // before operands are combined, so no merge folds in a version a
        // tombstone deleted.
        let range_dels = imm.range_del_fragments();
        let uncovered = imm.iter().filter(|(k, _)| {
            range_dels
                .as_ref()
                .is_none_or(|f| !crate::range_del::drop_covered(f, k, smallest_snapshot))
        });
        // Operands are combined with a base in the memtable; with none, the
        // tables below may hold one, so the flush is never the bottom.
        let no_bottom = |_: &[u8]| false;
        let merge_env = crate::merge::MergeEnv {
            op: self.opts.merge_operator.as_deref(),
            blobs: None,
        };
        let collapsed = crate::merge::Collapse::new(
            uncovered.map(Ok),
            merge_env,
            smallest_snapshot,
            &no_bottom,
        )
        // A memtable read never fails, and without a blob store the
        // collapse reads nothing.
        .map_while(Result::ok);
        let entries = job::drop_shadowed(collapsed, smallest_snapshot);
        let env = TableEnv {
            tables: &self.tables,
            table_opts: table_options(&self.opts, 0),
            new_file_number: &new_id,
        };
        let range_dels = range_dels
            .as_ref()
            .map(|f| crate::range_del::compact_fragments(f, smallest_snapshot, |_, _| false));
        let built = write_table(&env, entries, sep.as_mut(), range_dels)?;
        let mut edit = VersionEdit::default();
        if let Some(sep) = sep {
            self.counters
                .blob_bytes
                .fetch_add(sep.separated_bytes, Ordering::Relaxed);
            edit.blobs_added = sep.finish()?;
        }
        self.fs.sync_dir(&self.dir)?;
        let mut opened = Vec::new();
        if let Some(b) = built {
            self.counters
                .flush_bytes
                .fetch_add(b.size_bytes, Ordering::Relaxed);
            let t = b.table;
            edit.added.push((0, t.number, t.size_bytes()));
            if !b.blob_uses.is_empty() {
                edit.table_blobs.push((t.number, b.blob_uses));
            }
            opened.push((0, t));
        }
        if self.trees().len() > 1 {
            // The table holds writes newer than other keyspaces' writes in
            // the logs below `next_log`, which may not be synced
            // (`Durability::None`): they become durable first, so a power
            // cut recovers every keyspace to one point of the write order
            // (RocksDB syncs the closed logs before such a flush too).
            let mut w = self.write.lock();
            w.sync_logs_below(*next_log, &*self.fs, &self.dir)
                .map_err(|e| self.stop(e))?;
        }
        let flushed = std::sync::Arc::clone(imm);
        self.install(edit, opened, Some(*next_log))?;
        self.counters.flushes.fetch_add(1, Ordering::Relaxed);
        drop(sv);
        // Freeing a full memtable lets go of every entry's key and value
        // handles (half a million in 64 MiB of small pairs): on the flush
        // thread it delays the next flush (a 20 M-key fillseq is
        // flush-bound), on a writer it was the longest put. A short-lived thread frees
        // it (or just lets go, if a reader still holds it); should the
        // spawn fail, the closure and the memtable are dropped here.
        let _ = std::thread::Builder::new()
            .name("lsm-free".into())
            .spawn(move || drop(flushed));
        Ok(())
    }
}
