//! Runs one compaction: merges its inputs, drops what no reader can see, and
//! writes new tables of at most `table_size_target_bytes` to the next level.
//!
//! Dropping follows LevelDB: of all versions of a user key at or below the
//! oldest snapshot, only the newest is kept; it is dropped too if it is a
//! tombstone and no deeper level may hold the key.

use std::sync::Arc;

use crate::Result;
use crate::blob::{BlobUse, Separator};
use crate::builder::TableBuilder;
use crate::compaction::picker::Compaction;
use crate::iter::{BoxIter, Merge};
use crate::key::{SeqNo, ValueKind};
use crate::manifest::FileNumber;
use crate::sstable::writer::TableOptions;
use crate::version::{NUM_LEVELS, Version, user_range};

/// What a job needs from the DB.
pub(crate) struct JobEnv<'a> {
    pub(crate) tables: &'a crate::tables::TableFiles,
    pub(crate) table_opts: TableOptions,
    pub(crate) table_size_target_bytes: u64,
    pub(crate) smallest_snapshot: SeqNo,
    pub(crate) new_file_number: &'a dyn Fn() -> Result<FileNumber>,
    /// The merge operator and blob store, to combine operands.
    pub(crate) merge: crate::merge::MergeEnv<'a>,
    /// The compaction filter and TTL step (`compaction_filter.rs`).
    pub(crate) step: crate::compaction_filter::Step<'a>,
    /// The blob threshold for values the filter changed.
    pub(crate) blob_threshold: Option<usize>,
}

/// One output table.
#[derive(Debug)]
pub(crate) struct Output {
    /// The table's file number.
    pub(crate) number: FileNumber,
    pub(crate) size_bytes: u64,
    /// The blob values it references.
    pub(crate) blob_uses: Vec<BlobUse>,
    /// The table, open.
    pub(crate) table: Arc<crate::sstable::reader::Table>,
}

fn is_base_level(v: &Version, out_level: usize, user: &[u8]) -> bool {
    v.levels[out_level + 1..NUM_LEVELS].iter().all(|level| {
        level.iter().all(|t| {
            let (s, l) = user_range(t);
            user < s || user > l
        })
    })
}

/// Merges the compaction's tables and writes the outputs (synced). With a
/// `separator`, references into the blobs it collects get their values
/// copied into new blobs on the way.
///
/// # Errors
///
/// A read error or damage in an input (a block that fails its checksum,
/// or keys out of order: every input entry comes through the tables'
/// checked iterators), or a write error. The output tables written so far
/// are deleted first: no manifest names them, and a compaction cut short
/// by damage leaves the store's tables as they were, the damaged one
/// included, for a reader or `verify` to report.
pub(crate) fn run(
    c: &Compaction,
    v: &Version,
    env: &JobEnv<'_>,
    separator: Option<&mut Separator<'_>>,
) -> Result<Vec<Output>> {
    let mut created = Vec::new();
    let r = merge(c, v, env, separator, &mut created);
    if r.is_err() {
        for n in created {
            // Best effort: the job's own error is the one to report, and a
            // table no manifest names is never read.
            let _ = env.tables.remove(n);
        }
    }
    r
}

/// [`run`]'s work; the number of every output table it creates goes into
/// `created` before the file does.
fn merge(
    c: &Compaction,
    v: &Version,
    env: &JobEnv<'_>,
    mut separator: Option<&mut Separator<'_>>,
    created: &mut Vec<FileNumber>,
) -> Result<Vec<Output>> {
    let sources: Vec<BoxIter> = c
        .inputs
        .iter()
        .chain(&c.overlaps)
        .map(|t| t.iter_uncached())
        .collect();
    let out_level = c.out_level;
    // The inputs' range tombstones: what they hide from every reader is
    // dropped, and they go on to the outputs unless nothing deeper can
    // hold their range (`crate::range_del`).
    let dels = crate::range_del::input_fragments(c.inputs.iter().chain(&c.overlaps));
    let mut out_dels = crate::range_del::OutputRangeDels::new(crate::range_del::compact_fragments(
        &dels,
        env.smallest_snapshot,
        |s, e| crate::range_del::is_base_range(v, out_level, s, e),
    ));
    let mut outputs = Vec::new();
    let mut writer: Option<TableBuilder> = None;
    let mut current_user: Option<bytes::Bytes> = None;
    let mut last_seq_for_key = SeqNo::MAX;
    let bottommost = |user: &[u8]| is_base_level(v, out_level, user);
    // What the tombstones hide from every reader goes before operands are
    // combined, so no merge folds in a version a tombstone deleted.
    let uncovered = Merge::new(sources).filter(|e| {
        e.as_ref().map_or(true, |(k, _)| {
            !crate::range_del::drop_covered(&dels, k, env.smallest_snapshot)
        })
    });
    let entries =
        crate::merge::Collapse::new(uncovered, env.merge, env.smallest_snapshot, &bottommost);
    for entry in entries {
        let (mut k, mut v_bytes) = entry?;
        let first_of_key = current_user.as_ref() != Some(&k.user);
        if first_of_key {
            current_user = Some(k.user.clone());
            last_seq_for_key = SeqNo::MAX;
        }
        // Expired or filtered entries become tombstones before the rules
        // below, which then drop them where nothing deeper holds the key.
        let applied = env.step.apply(&mut k, &mut v_bytes, first_of_key)?;
        let drop = if last_seq_for_key <= env.smallest_snapshot {
            true
        } else {
            // (What the tombstones hide left the input above.)
            k.kind == ValueKind::Delete
                && k.seq <= env.smallest_snapshot
                && is_base_level(v, out_level, &k.user)
        };
        // A merge operand shadows nothing: older versions are its base.
        if k.kind != ValueKind::Merge {
            last_seq_for_key = k.seq;
        }
        if drop {
            continue;
        }
        // Split only between user keys, so a key's versions share one table.
        if first_of_key
            && let Some(w) = &writer
            && w.size_estimate_bytes() >= env.table_size_target_bytes
            && let Some(mut w) = writer.take()
        {
            w.set_range_dels(out_dels.finish_output(false));
            outputs.push(w.finish(env.tables)?);
        }
        if writer.is_none() {
            let n = (env.new_file_number)()?;
            created.push(n);
            writer = Some(TableBuilder::create(env.tables, n, env.table_opts)?);
        }
        if let Some(s) = separator.as_deref_mut() {
            if applied == crate::compaction_filter::Applied::Changed {
                s.apply_with_threshold(&mut k, &mut v_bytes, env.blob_threshold)?;
            } else {
                s.apply(&mut k, &mut v_bytes)?;
            }
        }
        out_dels.note_key(&k.user);
        if let Some(w) = &mut writer {
            w.add(&k, &v_bytes)?;
        }
    }
    if writer.is_none() && out_dels.has_pending() {
        // Tombstones and no entry: a table of tombstones only.
        let n = (env.new_file_number)()?;
        created.push(n);
        writer = Some(TableBuilder::create(env.tables, n, env.table_opts)?);
    }
    if let Some(mut w) = writer {
        w.set_range_dels(out_dels.finish_output(true));
        outputs.push(w.finish(env.tables)?);
    }
    Ok(outputs)
}

/// `entries` (sorted, as a memtable yields them) without the versions no
/// reader can see: of a user key's versions at or below `smallest_snapshot`
/// only the newest stays, the rule compaction uses (a merge operand
/// shadows nothing). Tombstones stay (an
/// older table may hold the key). A flush that drops these writes neither
/// their table bytes nor, for large values, blob bytes that would only
/// become garbage.
pub(crate) fn drop_shadowed(
    entries: impl Iterator<Item = crate::memtable::Entry>,
    smallest_snapshot: SeqNo,
) -> impl Iterator<Item = crate::memtable::Entry> {
    let mut current: Option<bytes::Bytes> = None;
    let mut last_seq_for_key = SeqNo::MAX;
    entries.filter(move |(k, _)| {
        if current.as_ref() != Some(&k.user) {
            current = Some(k.user.clone());
            last_seq_for_key = SeqNo::MAX;
        }
        let shadowed = last_seq_for_key <= smallest_snapshot;
        if k.kind != ValueKind::Merge {
            last_seq_for_key = k.seq;
        }
        !shadowed
    })
}

/// Whether `c` can move its input tables down without rewriting them: no
/// table of the next level overlaps them, and their user-key ranges are
/// pairwise disjoint (strictly: one user key split across two tables
/// stays put), so they sit side by side in the next level. Several inputs
/// come from L0, where a load in key order (fillseq, time-ordered keys)
/// flushes disjoint tables: moving them costs one manifest edit instead of
/// rewriting every byte once more (RocksDB moves such L0 files too).
pub(crate) fn is_trivial_move(c: &Compaction) -> bool {
    if !c.overlaps.is_empty() || c.out_level != c.level + 1 || c.inputs.is_empty() {
        return false;
    }
    let mut ranges: Vec<(&[u8], &[u8])> = c.inputs.iter().map(|t| user_range(t)).collect();
    ranges.sort_unstable();
    ranges.windows(2).all(|w| w[0].1 < w[1].0)
}

pub(crate) fn input_tables(
    c: &Compaction,
) -> impl Iterator<Item = (usize, &Arc<crate::sstable::reader::Table>)> {
    c.inputs
        .iter()
        .map(move |t| (c.level, t))
        .chain(c.overlaps.iter().map(move |t| (c.out_level, t)))
}
