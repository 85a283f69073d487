//! Merge operators (RocksDB's `MergeOperator`): a write that says how to
//! change a value instead of what it is ([`Db::merge`](crate::Db::merge)),
//! combined with the key's older value by a user-supplied associative
//! operator ([`Options::merge_operator`](crate::Options::merge_operator)).
//!
//! An operand is an entry of kind [`ValueKind::Merge`](crate::key::ValueKind)
//! (tag 3). It is combined:
//!
//! - on read ([`fold`]): a key's visible versions are gathered newest first
//!   down to a base (a put, a separated value, a tombstone, or nothing),
//!   and the operator's full merge turns base and operands (oldest first)
//!   into the value; both iterator directions and point lookups share it.
//! - at flush and in compaction ([`collapse`]): the operands of a key at or
//!   below the oldest snapshot are combined, with their base into a full
//!   value where the base is in the inputs (or nothing older can exist),
//!   else pairwise by the operator's partial merge where it offers one.
//!   Versions newer than the oldest snapshot are kept as they are, so no
//!   merge crosses a snapshot boundary.
//!
//! `operators` holds the two operators shipped ([`U64AddOperator`],
//! [`AppendOperator`]); `name` the record of the operator's name in the
//! manifest.

mod collapse;
mod fold;
mod name;
mod operators;

use std::fmt::Debug;

pub(crate) use collapse::{Collapse, MergeEnv};
pub(crate) use fold::Fold;
pub(crate) use name::{check_batch, check_name, name_to_record, validate};
pub use operators::{AppendOperator, U64AddOperator};

/// Why an operator could not merge: any error the operator reports, kept
/// as the source of [`Error::MergeFailed`](crate::Error::MergeFailed).
pub type MergeFailure = Box<dyn std::error::Error + Send + Sync>;

/// A user-supplied associative operator that combines merge operands
/// ([`Db::merge`](crate::Db::merge)) with a key's older value, as RocksDB's
/// `MergeOperator`.
///
/// # Contract
///
/// - **Associative**: merging operands in any grouping gives the same value
///   (the engine merges some on read, some at flush, some in compaction).
///   The order of operands is kept: oldest first, always.
/// - **Deterministic**: the same inputs give the same output.
/// - **Named**: [`MergeOperator::name`] is recorded in the manifest when a
///   store is opened with the operator; opening it later with an operator
///   of another name fails with
///   [`Error::MergeOperatorMismatch`](crate::Error::MergeOperatorMismatch),
///   as the stored operands mean what the recorded operator made of them.
///
/// A failure is returned, never panicked: a read of the key returns
/// [`Error::MergeFailed`](crate::Error::MergeFailed) naming the key, and
/// flush and compaction keep that key's operands unmerged, so the failure
/// stays visible and no data is lost.
///
/// # Concurrency
///
/// Called from readers, the flush thread and the compaction thread at
/// once: `Send + Sync`, and any state it keeps is its own to guard.
pub trait MergeOperator: Send + Sync + Debug {
    /// The operator's persisted name: stable across releases of the
    /// application, different for operators that read operands
    /// differently.
    fn name(&self) -> &str;

    /// Combines `existing` (the key's value before the operands: `None`
    /// if it was absent or deleted) with `operands`, oldest first (at
    /// least one), into the key's new value.
    ///
    /// # Errors
    ///
    /// Whatever the operator finds wrong (an operand it cannot read).
    fn full_merge(
        &self,
        key: &[u8],
        existing: Option<&[u8]>,
        operands: &[&[u8]],
    ) -> Result<Vec<u8>, MergeFailure>;

    /// Combines two adjacent operands, `older` then `newer`, into one that
    /// means the same as both, or `None` if they cannot be combined without
    /// the base (then both are kept). Used by flush and compaction when no
    /// base is in reach. The default combines nothing.
    fn partial_merge(&self, key: &[u8], older: &[u8], newer: &[u8]) -> Option<Vec<u8>> {
        let _ = (key, older, newer);
        None
    }
}
