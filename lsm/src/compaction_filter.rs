//! Compaction filters ([`Options::compaction_filter`](crate::Options::compaction_filter)),
//! as RocksDB's `CompactionFilter`: the [`CompactionFilter`] trait (its
//! docs say which entries it sees and what each [`Decision`] does), and
//! [`Step`], what a compaction job runs on each entry: the TTL step
//! ([`crate::ttl`]) first, then the filter. Both turn an entry into a
//! tombstone rather than dropping it, and leave the dropping to the job's
//! rules (`compaction/job.rs`), so nothing older resurfaces.

use std::fmt;

use bytes::Bytes;

use crate::blob::Blobs;
use crate::key::{InternalKey, SeqNo, ValueKind};
use crate::ttl::{self, Expiry};
use crate::{Error, Result};

/// What a [`CompactionFilter`] does with one entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Keep the entry as it is.
    Keep,
    /// Remove the entry: reads no longer find the key (older versions
    /// stay hidden).
    Remove,
    /// Replace the entry's value.
    ChangeValue(Bytes),
}

/// A callback compaction consults to drop or rewrite entries
/// ([`Options::compaction_filter`](crate::Options::compaction_filter)), as
/// RocksDB's `CompactionFilter`.
///
/// **Which entries:** in every compaction that rewrites tables (background
/// or [`Db::compact_range`](crate::Db::compact_range); not a flush, as in
/// RocksDB by default, and not a table moved down whole), the newest
/// version of each key among the compaction's inputs, if it holds a value
/// (inline or in a blob) that no snapshot live at the compaction's start
/// can see (its sequence number is above the newest snapshot's; a
/// transaction holds a snapshot too). A snapshot taken while a compaction
/// runs is not known to it: once that compaction installs, the snapshot
/// may see its filtering of entries written before the snapshot. Entries past their
/// [`ttl`](crate::Options::ttl) become tombstones first and never reach it.
///
/// **Decisions:** [`Decision::Remove`] writes a tombstone in place of the
/// entry, so an older version deeper down cannot resurface (dropped itself
/// where no deeper level may hold the key); [`Decision::ChangeValue`]
/// keeps the entry's sequence number and TTL write time, and a new value of
/// at least [`blob_threshold_bytes`](crate::Options::blob_threshold_bytes)
/// goes to a blob file.
///
/// **Blob values:** [`filter_blob_by_key`](CompactionFilter::filter_blob_by_key)
/// is asked first (RocksDB's `FilterBlobByKey`); only if it returns `None`
/// is the value read from its blob (one blob read) for
/// [`filter`](CompactionFilter::filter).
///
/// **Failure:** a filter cannot return an error. One that panics fails the
/// compaction (nothing it wrote is installed), whose caller gets
/// [`Error::CompactionFilterPanicked`](crate::Error::CompactionFilterPanicked),
/// and stops the engine: every later call returns
/// [`Error::Closed`](crate::Error::Closed) with that reason.
///
/// Called from whichever thread compacts, for several compactions in turn:
/// it must be cheap, and decide the same way for the same input, as a key
/// may be offered again by a later compaction.
pub trait CompactionFilter: Send + Sync {
    /// A name for logs and `Debug` output.
    fn name(&self) -> &str {
        "CompactionFilter"
    }

    /// The decision for `key` holding `value`, in a compaction reading
    /// from `level` (its start level, as RocksDB passes).
    fn filter(&self, level: usize, key: &[u8], value: &[u8]) -> Decision;

    /// For a value stored in a blob file: the decision from the key alone,
    /// or `None` to have the value read (one blob read) and passed to
    /// [`filter`](CompactionFilter::filter). Default `None`.
    fn filter_blob_by_key(&self, level: usize, key: &[u8]) -> Option<Decision> {
        let _ = (level, key);
        None
    }
}

impl fmt::Debug for dyn CompactionFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CompactionFilter({})", self.name())
    }
}

/// The filter and TTL step of one compaction.
#[derive(Clone, Copy, Default)]
pub(crate) struct Step<'a> {
    pub(crate) filter: Option<&'a dyn CompactionFilter>,
    /// Timed entries written at or before its cutoff become tombstones.
    pub(crate) expiry: Option<Expiry>,
    /// The compaction's start level, passed to the filter.
    pub(crate) level: usize,
    /// The newest live snapshot: entries at or below it are not filtered.
    pub(crate) newest_snapshot: Option<SeqNo>,
    /// Where separated values are read for the filter.
    pub(crate) blobs: Option<&'a Blobs>,
}

/// What [`Step::apply`] did to an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Applied {
    /// Nothing.
    Kept,
    /// Turned into a tombstone (expired, or removed by the filter).
    Removed,
    /// Given a new inline value (which may need separating).
    Changed,
}

impl Step<'_> {
    /// Runs the TTL step on the entry `(k, v)`, then, if it is the newest
    /// version of its key in the compaction (`newest`), the filter.
    pub(crate) fn apply(
        &self,
        k: &mut InternalKey,
        v: &mut Bytes,
        newest: bool,
    ) -> Result<Applied> {
        if !matches!(
            k.kind,
            ValueKind::Inline
                | ValueKind::BlobRef
                | ValueKind::TimedInline
                | ValueKind::TimedBlobRef
        ) {
            return Ok(Applied::Kept);
        }
        let (time, body) = if ttl::is_timed(k.kind) {
            let (t, body) = ttl::split(&k.user, v)?;
            if self.expiry.is_some_and(|e| e.expired(t)) {
                tombstone(k, v);
                return Ok(Applied::Removed);
            }
            (Some(t), body)
        } else {
            (None, v.clone())
        };
        let Some(filter) = self.filter else {
            return Ok(Applied::Kept);
        };
        if !newest || self.newest_snapshot.is_some_and(|s| k.seq <= s) {
            return Ok(Applied::Kept);
        }
        let in_blob = ttl::untimed(k.kind) == ValueKind::BlobRef;
        let by_key = if in_blob {
            ask(filter, || filter.filter_blob_by_key(self.level, &k.user))?
        } else {
            None
        };
        let decision = match by_key {
            Some(d) => d,
            None if in_blob => {
                let value = crate::blob::resolve(self.blobs, &k.user, &body)?;
                ask(filter, || filter.filter(self.level, &k.user, &value))?
            }
            None => ask(filter, || filter.filter(self.level, &k.user, &body))?,
        };
        Ok(match decision {
            Decision::Keep => Applied::Kept,
            Decision::Remove => {
                tombstone(k, v);
                Applied::Removed
            }
            Decision::ChangeValue(new) => {
                match time {
                    Some(t) => {
                        k.kind = ValueKind::TimedInline;
                        *v = ttl::join(t, &new);
                    }
                    None => {
                        k.kind = ValueKind::Inline;
                        *v = new;
                    }
                }
                Applied::Changed
            }
        })
    }
}

/// `f`'s answer, or, if it panics, [`Error::CompactionFilterPanicked`]:
/// the compaction fails and the engine stops (`compaction/run.rs`).
fn ask<T>(filter: &dyn CompactionFilter, f: impl FnOnce() -> T) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| {
        let what = p
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Error::CompactionFilterPanicked {
            filter: filter.name().to_string(),
            message: what,
        }
    })
}

fn tombstone(k: &mut InternalKey, v: &mut Bytes) {
    k.kind = ValueKind::Delete;
    *v = Bytes::new();
}
