//! The operator's name, recorded in the manifest (tag 13, `FORMAT.md`):
//! an open with an operator of another name is refused, and writes of
//! operands are refused on a handle without an operator.
//!
//! The name is recorded in the first edit of every manifest an open
//! writes once the store was opened with an operator (also when a later
//! open has none: the operands stay the recorded operator's). A store
//! opened with an operator records it before any merge can be written, so
//! every operand on disk was written under the recorded name (or under a
//! store whose manifest predates the record: nothing).

use crate::batch::WriteBatch;
use crate::key::ValueKind;
use crate::manifest::MERGE_OPERATOR_NAME_LEN_MAX;
use crate::{Error, Options, Result};

/// Refuses `batch` if it holds a merge and `opts` has no operator: the
/// operand could never be read.
///
/// # Errors
///
/// [`Error::MergeOperatorMissing`] naming the first such key.
pub(crate) fn check_batch(batch: &WriteBatch, opts: &Options) -> Result<()> {
    if opts.merge_operator.is_some() {
        return Ok(());
    }
    match batch.ops.iter().find(|(k, _, _)| *k == ValueKind::Merge) {
        Some((_, key, _)) => Err(Error::MergeOperatorMissing { key: key.to_vec() }),
        None => Ok(()),
    }
}

/// Refuses an operator whose name cannot be recorded.
///
/// # Errors
///
/// [`Error::InvalidOption`] for an empty name or one longer than
/// [`MERGE_OPERATOR_NAME_LEN_MAX`] bytes.
pub(crate) fn validate(opts: &Options) -> Result<()> {
    match &opts.merge_operator {
        Some(op) if op.name().is_empty() => Err(Error::InvalidOption(
            "merge_operator's name must not be empty",
        )),
        Some(op) if op.name().len() > MERGE_OPERATOR_NAME_LEN_MAX => Err(Error::InvalidOption(
            "merge_operator's name must be at most 1024 bytes",
        )),
        _ => Ok(()),
    }
}

/// Refuses to open a store whose manifest records an operator of another
/// name than `opts`'s (no operator at all is accepted: merges are then
/// refused and reads of operands fail).
///
/// # Errors
///
/// [`Error::MergeOperatorMismatch`].
pub(crate) fn check_name(opts: &Options, recorded: Option<&str>) -> Result<()> {
    match (recorded, &opts.merge_operator) {
        (Some(recorded), Some(op)) if recorded != op.name() => Err(Error::MergeOperatorMismatch {
            recorded: recorded.to_string(),
            given: op.name().to_string(),
        }),
        _ => Ok(()),
    }
}

/// The name a new manifest records: the operator's, else the one recorded
/// before.
pub(crate) fn name_to_record(opts: &Options, recorded: Option<&str>) -> Option<String> {
    opts.merge_operator
        .as_ref()
        .map(|op| op.name().to_string())
        .or_else(|| recorded.map(str::to_string))
}
