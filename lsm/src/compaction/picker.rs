//! Picks the next compaction by score, as LevelDB does: L0 scores its table
//! count over `l0_compaction_trigger`, level n its bytes over its maximum
//! (`level1_bytes_max * 10^(n-1)`). The highest score at least 1 wins.

use std::sync::Arc;

use crate::Options;
use crate::sstable::reader::Table;
use crate::version::{NUM_LEVELS, Version, user_range};

/// A chosen compaction: `inputs` of `level` merge with `overlaps` of
/// `out_level` into new tables of `out_level`. `out_level` is `level + 1`,
/// or `level` itself when a blob collection rewrites one table of L1.. in
/// place (its outputs cover no more than its key range, so the level stays
/// free of overlaps).
#[derive(Debug)]
pub(crate) struct Compaction {
    pub(crate) level: usize,
    pub(crate) out_level: usize,
    pub(crate) inputs: Vec<Arc<Table>>,
    pub(crate) overlaps: Vec<Arc<Table>>,
}

pub(crate) fn level_bytes_max(opts: &Options, level: usize) -> u64 {
    let mut m = opts.level1_bytes_max;
    for _ in 1..level {
        m = m.saturating_mul(10);
    }
    m
}

/// Scores of levels 0..NUM_LEVELS-1.
pub(crate) fn scores(v: &Version, opts: &Options) -> Vec<f64> {
    (0..NUM_LEVELS - 1)
        .map(|l| {
            if l == 0 {
                v.levels[0].len() as f64 / opts.l0_compaction_trigger as f64
            } else {
                v.level_bytes(l) as f64 / level_bytes_max(opts, l) as f64
            }
        })
        .collect()
}

/// The compaction to run next, if any level scores at least 1.
/// `cursor[level]` is the largest user key last compacted out of that level,
/// so each level is compacted round-robin.
pub(crate) fn pick(v: &Version, opts: &Options, cursor: &[Vec<u8>]) -> Option<Compaction> {
    let s = scores(v, opts);
    let (level, score) = s.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
    if *score < 1.0 {
        return None;
    }
    let inputs = if level == 0 {
        v.levels[0].clone()
    } else {
        let files = &v.levels[level];
        let t = files
            .iter()
            .find(|t| user_range(t).0 > cursor[level].as_slice())
            .or_else(|| files.first())?;
        vec![Arc::clone(t)]
    };
    Some(with_overlaps(v, level, inputs))
}

/// Adds the tables of `level + 1` overlapping `inputs`' key range.
pub(crate) fn with_overlaps(v: &Version, level: usize, inputs: Vec<Arc<Table>>) -> Compaction {
    let lo = inputs
        .iter()
        .map(|t| user_range(t).0)
        .min()
        .map(<[u8]>::to_vec);
    let hi = inputs
        .iter()
        .map(|t| user_range(t).1)
        .max()
        .map(<[u8]>::to_vec);
    let overlaps = v.overlapping(level + 1, lo.as_deref(), hi.as_deref());
    Compaction {
        level,
        out_level: level + 1,
        inputs,
        overlaps,
    }
}

/// A compaction that copies the live values of the blobs in `collect` out
/// of the tables pointing into them, so those blobs can be deleted: the
/// shallowest table referencing the most of their bytes. A table of L1..
/// is rewritten in place; one in L0 takes all of L0 down (rewriting one L0
/// table alone would give it a newer number than tables newer than it).
pub(crate) fn pick_blob_collection(
    v: &Version,
    blobs: &crate::blob::BlobFiles,
    collect: &std::collections::HashSet<erasure::BlobId>,
) -> Option<Compaction> {
    let referenced = |t: &Table| -> u64 {
        blobs
            .tables
            .get(&t.number)
            .into_iter()
            .flatten()
            .filter(|u| collect.contains(&u.blob))
            .map(|u| u.bytes)
            .sum()
    };
    for (level, tables) in v.levels.iter().enumerate() {
        let best = tables
            .iter()
            .map(|t| (referenced(t), t))
            .filter(|(b, _)| *b > 0)
            .max_by_key(|(b, _)| *b);
        let Some((_, t)) = best else { continue };
        if level == 0 {
            return Some(with_overlaps(v, 0, v.levels[0].clone()));
        }
        return Some(Compaction {
            level,
            out_level: level,
            inputs: vec![Arc::clone(t)],
            overlaps: Vec::new(),
        });
    }
    None
}
