//! Running compactions against the live store: the background step
//! (`compaction_step`: the picker's choice, else a blob collection), a
//! manual [`Inner::compact_range`], and installing each one's result.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::Result;
use crate::blob::Separator;
use crate::builder::table_options;
use crate::compaction::{job, picker};
use crate::db::Inner;
use crate::manifest::{FileNumber, VersionEdit};
use crate::sstable::reader::Table;
use crate::version::{NUM_LEVELS, Version};

/// Whether a compaction may move a lone table down instead of rewriting it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Move {
    Allowed,
    Forbidden,
}

impl Inner {
    pub(crate) fn run_compaction(&self, c: &picker::Compaction, moves: Move) -> Result<()> {
        let sv = self.super_version();
        let mut edit = VersionEdit::default();
        let mut opened = Vec::new();
        for (level, t) in job::input_tables(c) {
            edit.deleted.push((level as u8, t.number));
        }
        if moves == Move::Allowed && job::is_trivial_move(c) {
            for t in &c.inputs {
                edit.added
                    .push((c.out_level as u8, t.number, t.size_bytes()));
                opened.push((c.out_level, Arc::clone(t)));
            }
        } else {
            let collect = self.blobs_to_collect(&sv.version);
            let next = || self.new_file_number();
            let mut sep = self
                .blobs
                .as_deref()
                .filter(|_| {
                    !collect.is_empty()
                        || (self.opts.compaction_filter.is_some()
                            && self.opts.blob_threshold_bytes.is_some())
                })
                .map(|store| Separator::new(store, None, &collect, &next));
            let env = job::JobEnv {
                tables: &self.tables,
                table_opts: table_options(&self.opts, c.out_level),
                table_size_target_bytes: self.opts.table_size_target_bytes,
                smallest_snapshot: self.smallest_snapshot(),
                new_file_number: &next,
                merge: crate::merge::MergeEnv {
                    op: self.opts.merge_operator.as_deref(),
                    blobs: self.blobs.as_deref(),
                },
                step: crate::compaction_filter::Step {
                    filter: self.opts.compaction_filter.as_deref(),
                    expiry: crate::ttl::expiry(&self.opts),
                    level: c.level,
                    newest_snapshot: self.newest_snapshot(),
                    blobs: self.blobs.as_deref(),
                },
                blob_threshold: self.opts.blob_threshold_bytes,
            };
            // A compaction filter that panicked stops the engine
            // (`compaction_filter.rs`), whichever thread compacts.
            let outputs = job::run(c, &sv.version, &env, sep.as_mut()).map_err(|e| match e {
                crate::Error::CompactionFilterPanicked { .. } => self.state.fail_with(e),
                e => e,
            })?;
            if let Some(sep) = sep {
                self.counters
                    .blob_gc_bytes
                    .fetch_add(sep.relocated_bytes, Ordering::Relaxed);
                edit.blobs_added = sep.finish()?;
            }
            self.fs.sync_dir(&self.dir)?;
            for job::Output {
                number: n,
                size_bytes: size,
                blob_uses: uses,
                table: t,
            } in outputs
            {
                self.counters
                    .compaction_bytes
                    .fetch_add(size, Ordering::Relaxed);
                edit.added.push((c.out_level as u8, n, size));
                if !uses.is_empty() {
                    edit.table_blobs.push((n, uses));
                }
                opened.push((c.out_level, t));
            }
        }
        if let Some(last) = c
            .inputs
            .iter()
            .map(|t| crate::version::user_range(t).1.to_vec())
            .max()
        {
            self.cursor.lock()[c.level] = last;
        }
        self.install(edit, opened, None)?;
        self.counters.compactions.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    pub(crate) fn compact_range(&self, lo: Option<&[u8]>, hi: Option<&[u8]>) -> Result<()> {
        let _g = self.compaction_lock.lock();
        // File numbers only grow: tables numbered from here on are this
        // call's outputs.
        let first_new = FileNumber(self.versions.next_file.load(Ordering::Relaxed));
        for level in 0..NUM_LEVELS - 1 {
            self.check_failed()?;
            let v = Arc::clone(&self.super_version().version);
            let inputs = v.overlapping(level, lo, hi);
            if inputs.is_empty() {
                continue;
            }
            // L0 tables overlap each other: compacting some of them past an
            // older one would let the older one shadow their keys.
            let inputs = if level == 0 {
                v.levels[0].clone()
            } else {
                inputs
            };
            // A manual compaction rewrites even lone tables, to drop garbage.
            self.run_compaction(&picker::with_overlaps(&v, level, inputs), Move::Forbidden)?;
        }
        // The deepest level's tables that this call did not just write may
        // still hold versions and tombstones that only an older snapshot
        // needed: rewrite them in place (as RocksDB's bottommost-level
        // compaction does).
        // Each run of neighbouring old tables is rewritten on its own: its
        // outputs then stay between the run's neighbours, which this call
        // wrote and which must not be overlapped.
        let v = Arc::clone(&self.super_version().version);
        if let Some(bottom) = (1..NUM_LEVELS).rev().find(|&l| !v.levels[l].is_empty()) {
            let mut runs: Vec<Vec<Arc<Table>>> = vec![Vec::new()];
            for t in v.overlapping(bottom, lo, hi) {
                if t.number < first_new {
                    if let Some(r) = runs.last_mut() {
                        r.push(t);
                    }
                } else if runs.last().is_some_and(|r| !r.is_empty()) {
                    runs.push(Vec::new());
                }
            }
            for inputs in runs.into_iter().filter(|r| !r.is_empty()) {
                let c = picker::Compaction {
                    level: bottom,
                    out_level: bottom,
                    inputs,
                    overlaps: Vec::new(),
                };
                self.run_compaction(&c, Move::Forbidden)?;
            }
        }
        drop(v);
        self.delete_obsolete().map(|_| ())
    }

    /// Blob files of `v` past `blob_gc_ratio` garbage, whose live values
    /// compactions copy out.
    pub(crate) fn blobs_to_collect(&self, v: &Version) -> HashSet<erasure::BlobId> {
        if self.blobs.is_none() {
            return HashSet::new();
        }
        self.versions
            .manifest
            .lock()
            .blobs
            .to_collect(v, self.opts.blob_gc_ratio)
    }

    /// A compaction that collects blob garbage, when no level needs one.
    pub(crate) fn pick_blob_collection(&self, v: &Version) -> Option<picker::Compaction> {
        let collect = self.blobs_to_collect(v);
        if collect.is_empty() {
            return None;
        }
        picker::pick_blob_collection(v, &self.versions.manifest.lock().blobs, &collect)
    }

    pub(crate) fn compaction_step(&self) -> Result<()> {
        let _g = self.compaction_lock.lock();
        let v = Arc::clone(&self.super_version().version);
        let cursor = self.cursor.lock().clone();
        if let Some(c) = picker::pick(&v, &self.opts, &cursor) {
            self.run_compaction(&c, Move::Allowed)?;
        } else if let Some(c) = self.pick_blob_collection(&v) {
            // Moving a table down unchanged would copy no value out.
            self.run_compaction(&c, Move::Forbidden)?;
        }
        // The inputs just replaced can go unless a reader holds them.
        drop(v);
        self.delete_obsolete().map(|_| ())
    }
}
