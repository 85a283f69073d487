//! Removing a key range at once: one descent along the range's two edges,
//! copying only the nodes on them, while every subtree the range covers
//! whole is freed as it stands (its pages go to the free tree without being
//! copied, changed or rebalanced). Removing `n` keys one by one copies a
//! root-to-leaf path and may rebalance for each; this touches each covered
//! page once, to free it, count its entries and find its overflow runs.
//!
//! `retain` visits every entry (its predicate needs them) and removes each
//! run of consecutive rejected entries as one range.

use std::ops::Bound;

use bytes::Bytes;

use crate::Result;
use crate::cursor::DEPTH_MAX;
use crate::node::{self, BranchEntry, Child, Node, Value, malformed};
use crate::tree::Split;
use crate::write::{Tree, WriteTxn};

/// Whether `key` is within `start` (a lower bound) and `end` (an upper one).
fn in_range(key: &[u8], start: &Bound<Vec<u8>>, end: &Bound<Vec<u8>>) -> bool {
    let above = match start {
        Bound::Included(s) => key >= &s[..],
        Bound::Excluded(s) => key > &s[..],
        Bound::Unbounded => true,
    };
    let below = match end {
        Bound::Included(e) => key <= &e[..],
        Bound::Excluded(e) => key < &e[..],
        Bound::Unbounded => true,
    };
    above && below
}

/// Whether every key a child can hold (at least `lo`, below `hi`) is in the
/// range: `lo` is `None` for no lower limit, `hi` `None` for no upper one.
fn covers(
    lo: Option<&[u8]>,
    hi: Option<&[u8]>,
    start: &Bound<Vec<u8>>,
    end: &Bound<Vec<u8>>,
) -> bool {
    let from = match (start, lo) {
        (Bound::Unbounded, _) => true,
        (_, None) => false,
        (Bound::Included(s), Some(l)) => &s[..] <= l,
        (Bound::Excluded(s), Some(l)) => &s[..] < l,
    };
    // Keys are below `hi`: all of them are within an upper bound `e` when
    // `hi <= e`, inclusive or not.
    let to = match (end, hi) {
        (Bound::Unbounded, _) => true,
        (_, None) => false,
        (Bound::Included(e) | Bound::Excluded(e), Some(h)) => h <= &e[..],
    };
    from && to
}

/// Whether the range holds no key at all (`start` above `end`, or equal
/// with one of them excluded).
fn empty_range(start: &Bound<Vec<u8>>, end: &Bound<Vec<u8>>) -> bool {
    match (start, end) {
        (Bound::Included(s), Bound::Included(e)) => s > e,
        (Bound::Included(s) | Bound::Excluded(s), Bound::Excluded(e))
        | (Bound::Excluded(s), Bound::Included(e)) => s >= e,
        _ => false,
    }
}

impl WriteTxn<'_> {
    /// Removes every entry of `tree` in the range; returns how many.
    pub(crate) fn remove_range_in(
        &mut self,
        tree: Tree,
        start: Bound<Vec<u8>>,
        end: Bound<Vec<u8>>,
    ) -> Result<u64> {
        if empty_range(&start, &end) {
            return Ok(0);
        }
        // Nothing to remove: copy nothing.
        if self
            .range_of(tree, start.clone(), end.clone())
            .next()
            .transpose()?
            .is_none()
        {
            return Ok(0);
        }
        let Some(root) = self.root_of(tree) else {
            return Ok(0);
        };
        let (root, removed, split) = self.cut(root, &start, &end, None, None, 0)?;
        let root = match root {
            Some(id) => {
                let id = self.grow_root(id, split)?;
                self.collapse_root(id)
            }
            None => None,
        };
        self.set_root(tree, root);
        let len = self.len_of(tree).checked_sub(removed).ok_or_else(|| {
            malformed(
                self.file_path(),
                root.map_or(0, |c| c.page),
                "more entries removed than the table records",
            )
        })?;
        self.set_len_of(tree, len);
        Ok(removed)
    }

    /// Removes the range's entries below `child`, whose keys are at least
    /// `lo` and below `hi`. Returns the node's new page (`None` if it lost
    /// every entry), the entries removed, and the split if it outgrew its
    /// page (a rebalance may lengthen a separator).
    fn cut(
        &mut self,
        child: Child,
        start: &Bound<Vec<u8>>,
        end: &Bound<Vec<u8>>,
        lo: Option<&[u8]>,
        hi: Option<&[u8]>,
        depth: usize,
    ) -> Result<(Option<u64>, u64, Option<Split>)> {
        if depth >= DEPTH_MAX {
            return Err(malformed(
                self.file_path(),
                child.page,
                "tree deeper than any valid tree",
            ));
        }
        let id = self.make_dirty(child)?;
        let entries = match self.dirty_mut(id) {
            Node::Leaf(es) => {
                let mut gone: Vec<Value> = Vec::new();
                es.retain(|e| {
                    let keep = !in_range(&e.key, start, end);
                    if !keep {
                        gone.push(e.value.clone());
                    }
                    keep
                });
                let empty = es.is_empty();
                for v in &gone {
                    self.free_value(v);
                }
                if empty {
                    self.free_page(id);
                    return Ok((None, gone.len() as u64, None));
                }
                return Ok((Some(id), gone.len() as u64, None));
            }
            Node::Branch(es) => es.clone(),
        };
        let from = match start {
            Bound::Included(k) | Bound::Excluded(k) => node::branch_child_index(&entries, k),
            Bound::Unbounded => 0,
        };
        let to = match end {
            Bound::Included(k) | Bound::Excluded(k) => node::branch_child_index(&entries, k),
            Bound::Unbounded => entries.len() - 1,
        };
        let mut removed = 0;
        let mut middle: Vec<BranchEntry> = Vec::new();
        // Positions in `middle` of children that were cut, not freed whole.
        let mut cut_at: Vec<usize> = Vec::new();
        for i in from..=to.max(from) {
            let Some(e) = entries.get(i) else { break };
            let child_lo = if i == 0 { lo } else { Some(&e.key[..]) };
            let child_hi = match entries.get(i + 1) {
                Some(next) => Some(&next.key[..]),
                None => hi,
            };
            let key = e.key.clone();
            if covers(child_lo, child_hi, start, end) {
                removed += self.free_tree_counted(Some(e.child_ref()))?;
                continue;
            }
            let (new, n, split) =
                self.cut(e.child_ref(), start, end, child_lo, child_hi, depth + 1)?;
            removed += n;
            if let Some(new) = new {
                cut_at.push(middle.len());
                middle.push(BranchEntry::new(key, new));
                if let Some(Split { key, right }) = split {
                    middle.push(BranchEntry::new(key, right));
                }
            }
        }
        let mut es: Vec<BranchEntry> = Vec::with_capacity(entries.len());
        es.extend_from_slice(&entries[..from]);
        let first_cut = es.len();
        es.extend(middle);
        es.extend_from_slice(entries.get(to.max(from) + 1..).unwrap_or(&[]));
        if es.is_empty() {
            self.dirty.insert(id, Node::Branch(es));
            self.free_page(id);
            return Ok((None, removed, None));
        }
        // Entry 0 covers everything below entry 1, whatever its key.
        es[0].key = Bytes::new();
        self.dirty.insert(id, Node::Branch(es));
        // Merge underfull edges with a sibling, the right one first so the
        // left one's position still holds.
        for &at in cut_at.iter().rev() {
            let i = first_cut + at;
            let underfull = match self.dirty.get(&id) {
                Some(Node::Branch(es)) => es.get(i).is_some_and(|e| {
                    self.dirty
                        .get(&e.child)
                        .is_some_and(|n| n.size() < self.db.limits.underfull_bytes)
                }),
                _ => false,
            };
            if underfull {
                self.rebalance(id, i)?;
            }
        }
        let split = self.split_if_overfull(id)?;
        Ok((Some(id), removed, split))
    }
}

impl WriteTxn<'_> {
    /// Keeps the entries of `tree` for which `keep` returns `true`; returns
    /// how many it removed. Each run of consecutive rejected entries goes
    /// as one range.
    pub(crate) fn retain_in<F>(&mut self, tree: Tree, mut keep: F) -> Result<u64>
    where
        F: FnMut(&[u8], &[u8]) -> bool,
    {
        // Runs of rejected keys, first and last, found in one lazy pass.
        let mut runs: Vec<(Bytes, Bytes)> = Vec::new();
        let mut open: Option<(Bytes, Bytes)> = None;
        for kv in self.range_of(tree, Bound::Unbounded, Bound::Unbounded) {
            let (k, v) = kv?;
            if keep(&k, &v) {
                runs.extend(open.take());
            } else {
                open = Some(match open {
                    Some((first, _)) => (first, k),
                    None => (k.clone(), k),
                });
            }
        }
        runs.extend(open);
        let mut removed = 0;
        for (first, last) in runs {
            removed += self.remove_range_in(
                tree,
                Bound::Included(first.to_vec()),
                Bound::Included(last.to_vec()),
            )?;
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inc(k: &[u8]) -> Bound<Vec<u8>> {
        Bound::Included(k.to_vec())
    }

    fn exc(k: &[u8]) -> Bound<Vec<u8>> {
        Bound::Excluded(k.to_vec())
    }

    #[test]
    fn a_child_is_covered_only_when_every_key_it_may_hold_is_in_range() {
        let all = (Bound::Unbounded, Bound::Unbounded);
        assert!(covers(None, None, &all.0, &all.1));
        assert!(!covers(None, Some(b"m"), &inc(b"a"), &Bound::Unbounded));
        assert!(covers(Some(b"b"), Some(b"m"), &inc(b"b"), &exc(b"m")));
        assert!(!covers(Some(b"b"), Some(b"m"), &exc(b"b"), &exc(b"m")));
        assert!(covers(Some(b"c"), Some(b"m"), &exc(b"b"), &inc(b"m")));
        assert!(!covers(Some(b"c"), Some(b"n"), &inc(b"a"), &inc(b"m")));
        assert!(!covers(Some(b"c"), None, &inc(b"a"), &inc(b"z")));
    }

    #[test]
    fn empty_ranges_are_found() {
        assert!(empty_range(&inc(b"b"), &inc(b"a")));
        assert!(!empty_range(&inc(b"a"), &inc(b"a")));
        assert!(empty_range(&inc(b"a"), &exc(b"a")));
        assert!(empty_range(&exc(b"a"), &inc(b"a")));
        assert!(!empty_range(&Bound::Unbounded, &exc(b"a")));
    }
}
