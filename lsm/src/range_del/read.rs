//! Point lookups under range tombstones: the memtables' part (the tables'
//! is in `Version::get`).

use bytes::Bytes;

use crate::db::SuperVersion;
use crate::key::{SeqNo, ValueKind};

/// What the memtables decide about a key.
pub(crate) enum MemLookup {
    /// The newest visible version (a point tombstone included), or `None`
    /// when a range tombstone deletes the key: the tables are not read.
    Done(Option<(ValueKind, Bytes)>),
    /// No version and no covering tombstone in the memtables: the tables
    /// decide.
    Tables,
}

/// Looks `key` up at `seq` in the memtables, newest first. A tombstone of
/// one memtable covering the key hides the memtable's older versions and
/// everything beneath it (every version in an older source is older than
/// it), so the lookup stops there.
pub(crate) fn lookup_memtables(sv: &SuperVersion, key: &[u8], seq: SeqNo) -> MemLookup {
    let mems = std::iter::once(&sv.mem).chain(sv.imm.iter().rev().map(|(m, _)| m));
    let mut cover: Option<SeqNo> = None;
    for m in mems {
        if let Some(f) = m.range_del_fragments() {
            cover = cover.max(f.covering(key, seq));
        }
        match (m.get_with_seq(key, seq), cover) {
            (Some((_, _, s)), Some(c)) if s < c => return MemLookup::Done(None),
            (Some((kind, v, _)), _) => return MemLookup::Done(Some((kind, v))),
            (None, Some(_)) => return MemLookup::Done(None),
            (None, None) => {}
        }
    }
    MemLookup::Tables
}

/// Whether a range tombstone newer than `seq` covers `key`: an optimistic
/// transaction that read `key` at `seq` conflicts with it.
pub(crate) fn deleted_after(sv: &SuperVersion, key: &[u8], seq: SeqNo) -> bool {
    let newer = |f: &super::Fragments| f.covering(key, SeqNo::MAX).is_some_and(|s| s > seq);
    let mems = std::iter::once(&sv.mem).chain(sv.imm.iter().map(|(m, _)| m));
    for m in mems {
        if m.range_del_fragments().is_some_and(|f| newer(&f)) {
            return true;
        }
    }
    sv.version
        .candidates(key)
        .any(|t| t.range_dels().is_some_and(|f| newer(f)))
}
