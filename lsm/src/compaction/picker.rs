//! Picks the next compaction by score, as LevelDB does: L0 scores its table
//! count over `l0_compaction_trigger`, level n its bytes over its maximum
//! (`level1_bytes_max * 10^(n-1)`). The highest score at least 1 wins.

use std::sync::Arc;

use crate::Options;
use crate::sstable::reader::Table;
use crate::version::{NUM_LEVELS, Version, user_range};

/// A chosen compaction: `inputs` of `level` merge with `overlaps` of `level + 1`.
#[derive(Debug)]
pub(crate) struct Compaction {
    pub(crate) level: usize,
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
        inputs,
        overlaps,
    }
}
