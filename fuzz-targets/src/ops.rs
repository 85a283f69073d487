//! Differential targets: a sequence of operations, decoded from the input
//! with `arbitrary`, runs on an engine over `vfs::MemFs` and on a
//! `BTreeMap` model, and the two must agree after every step, across
//! snapshots, flushes, compactions, clean reopens and power losses.

use std::collections::BTreeMap;
use std::ops::Bound;

use arbitrary::{Arbitrary, Unstructured};

mod btree;
mod lsm;
pub use btree::btree_ops;
pub use lsm::lsm_ops;

/// Keys and values as the model holds them.
type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// Operations per input, so one input stays fast.
const OPS_MAX: usize = 64;

/// A key from a small space (so operations collide), of 1 to 3 bytes.
fn key(k: u8) -> Vec<u8> {
    let k = k % 24;
    vec![k; usize::from(k % 3) + 1]
}

/// A value of `len` units: unit 37 reaches several 512-byte pages (overflow
/// runs in the B+ tree, big WAL records in the LSM tree).
fn value(k: u8, len: u8, unit: usize) -> Vec<u8> {
    vec![k ^ len; usize::from(len % 64) * unit]
}

/// A range by its two optional ends; `hi_incl` picks `..=` over `..`.
#[derive(Arbitrary, Debug, Clone, Copy)]
struct Span {
    lo: Option<u8>,
    hi: Option<u8>,
    hi_incl: bool,
    rev: bool,
}

impl Span {
    fn bounds(self) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
        let lo = self
            .lo
            .map_or(Bound::Unbounded, |k| Bound::Included(key(k)));
        let hi = match self.hi {
            None => Bound::Unbounded,
            Some(k) if self.hi_incl => Bound::Included(key(k)),
            Some(k) => Bound::Excluded(key(k)),
        };
        (lo, hi)
    }

    /// The model's pairs in the span, in the span's direction. An inverted
    /// span is empty (`BTreeMap::range` would panic; the engines must simply
    /// yield nothing).
    fn model(self, m: &Model) -> Vec<(Vec<u8>, Vec<u8>)> {
        let (lo, hi) = self.bounds();
        let inverted = match (&lo, &hi) {
            (Bound::Included(l), Bound::Included(h)) => l > h,
            (Bound::Included(l), Bound::Excluded(h)) => l >= h,
            _ => false,
        };
        if inverted {
            return Vec::new();
        }
        let mut out: Vec<_> = m
            .range::<Vec<u8>, _>((lo, hi))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if self.rev {
            out.reverse();
        }
        out
    }
}

/// Operations until the input runs out (or `OPS_MAX`): every byte string
/// is some sequence, so the fuzzer never wastes an input on a decode error.
fn decode<'a, T: Arbitrary<'a>>(data: &'a [u8]) -> Vec<T> {
    let mut u = Unstructured::new(data);
    let mut ops = Vec::new();
    while !u.is_empty() && ops.len() < OPS_MAX {
        match u.arbitrary() {
            Ok(op) => ops.push(op),
            Err(_) => break,
        }
    }
    ops
}

fn pairs<K: AsRef<[u8]>, V: AsRef<[u8]>>(
    it: impl Iterator<Item = (K, V)>,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    it.map(|(k, v)| (k.as_ref().to_vec(), v.as_ref().to_vec()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverted_spans_are_empty_in_the_model() {
        let mut m = Model::new();
        m.insert(key(1), vec![1]);
        let span = Span {
            lo: Some(5),
            hi: Some(2),
            hi_incl: true,
            rev: false,
        };
        assert!(span.model(&m).is_empty());
    }
}
