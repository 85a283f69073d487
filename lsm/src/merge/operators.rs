//! The operators shipped: a little-endian `u64` counter and an append with
//! a separator.

use super::{MergeFailure, MergeOperator};

/// Adds little-endian `u64`s, wrapping on overflow (a counter that wraps is
/// the caller's to avoid; a checked add would make one bad increment
/// poison every later read of the key). Name `"larder.u64_add"`.
///
/// The existing value and every operand must be exactly 8 bytes: anything
/// else fails the merge ([`Error::MergeFailed`](crate::Error::MergeFailed)
/// on read). An absent value counts as 0.
#[derive(Clone, Copy, Debug, Default)]
pub struct U64AddOperator;

impl U64AddOperator {
    /// The operator's persisted name.
    pub const NAME: &'static str = "larder.u64_add";
}

/// A `u64` operand or value that is not 8 bytes long.
#[derive(Debug, thiserror::Error)]
#[error("u64 add: {what} is {len} bytes, expected 8")]
pub(crate) struct BadU64 {
    /// "operand" or "existing value".
    what: &'static str,
    /// Its length in bytes.
    len: usize,
}

fn u64_of(what: &'static str, b: &[u8]) -> Result<u64, BadU64> {
    let a: [u8; 8] = b.try_into().map_err(|_| BadU64 { what, len: b.len() })?;
    Ok(u64::from_le_bytes(a))
}

impl MergeOperator for U64AddOperator {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn full_merge(
        &self,
        _key: &[u8],
        existing: Option<&[u8]>,
        operands: &[&[u8]],
    ) -> Result<Vec<u8>, MergeFailure> {
        let mut sum = match existing {
            Some(e) => u64_of("existing value", e)?,
            None => 0,
        };
        for op in operands {
            sum = sum.wrapping_add(u64_of("operand", op)?);
        }
        Ok(sum.to_le_bytes().to_vec())
    }

    fn partial_merge(&self, _key: &[u8], older: &[u8], newer: &[u8]) -> Option<Vec<u8>> {
        // A bad operand is left for the full merge to report on read.
        let sum = u64_of("operand", older)
            .ok()?
            .wrapping_add(u64_of("operand", newer).ok()?);
        Some(sum.to_le_bytes().to_vec())
    }
}

/// Appends operands to the value, each after `separator` (none before the
/// first piece when the value was absent). Name `"larder.append"`; the
/// separator is not part of the name, so reopening with another separator
/// changes how later merges join (as RocksDB's `StringAppendOperator`).
#[derive(Clone, Debug, Default)]
pub struct AppendOperator {
    separator: Vec<u8>,
}

impl AppendOperator {
    /// The operator's persisted name.
    pub const NAME: &'static str = "larder.append";

    /// An operator joining pieces with `separator` (may be empty).
    pub fn new(separator: impl Into<Vec<u8>>) -> AppendOperator {
        AppendOperator {
            separator: separator.into(),
        }
    }
}

impl MergeOperator for AppendOperator {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn full_merge(
        &self,
        _key: &[u8],
        existing: Option<&[u8]>,
        operands: &[&[u8]],
    ) -> Result<Vec<u8>, MergeFailure> {
        let len = existing.map_or(0, <[u8]>::len)
            + operands
                .iter()
                .map(|o| o.len() + self.separator.len())
                .sum::<usize>();
        let mut out = Vec::with_capacity(len);
        let mut first = true;
        if let Some(e) = existing {
            out.extend_from_slice(e);
            first = false;
        }
        for op in operands {
            if !first {
                out.extend_from_slice(&self.separator);
            }
            out.extend_from_slice(op);
            first = false;
        }
        Ok(out)
    }

    fn partial_merge(&self, _key: &[u8], older: &[u8], newer: &[u8]) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(older.len() + self.separator.len() + newer.len());
        out.extend_from_slice(older);
        out.extend_from_slice(&self.separator);
        out.extend_from_slice(newer);
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u64_add_sums_and_wraps() {
        let op = U64AddOperator;
        let one = 1u64.to_le_bytes();
        let max = u64::MAX.to_le_bytes();
        let v = op.full_merge(b"k", Some(&max), &[&one, &one]).ok();
        assert_eq!(v, Some(1u64.to_le_bytes().to_vec()));
        let v = op.full_merge(b"k", None, &[&one]).ok();
        assert_eq!(v, Some(one.to_vec()));
        assert_eq!(
            op.partial_merge(b"k", &one, &one),
            Some(2u64.to_le_bytes().to_vec())
        );
    }

    #[test]
    fn u64_add_rejects_wrong_lengths() {
        let op = U64AddOperator;
        let one = 1u64.to_le_bytes();
        let e = op.full_merge(b"k", None, &[&one, b"abc"]).err();
        assert_eq!(
            e.map(|e| e.to_string()).as_deref(),
            Some("u64 add: operand is 3 bytes, expected 8")
        );
        assert!(op.full_merge(b"k", Some(b"x"), &[&one]).is_err());
        assert_eq!(op.partial_merge(b"k", &one, b""), None);
    }

    #[test]
    fn append_joins_with_the_separator() {
        let op = AppendOperator::new(",");
        let v = op.full_merge(b"k", None, &[b"a", b"b"]).ok();
        assert_eq!(v.as_deref(), Some(&b"a,b"[..]));
        let v = op.full_merge(b"k", Some(b"x"), &[b"a"]).ok();
        assert_eq!(v.as_deref(), Some(&b"x,a"[..]));
        let p = op.partial_merge(b"k", b"a", b"b");
        assert_eq!(p.as_deref(), Some(&b"a,b"[..]));
    }
}
