//! A lazy range over a write transaction's own tree: the transaction's
//! dirty nodes where it changed them, decoded pages of its base snapshot
//! elsewhere. The iterator borrows the transaction, so the tree cannot
//! change under it; it holds one root-to-leaf path per end, never the range.

use std::ops::Bound;

use bytes::Bytes;

use crate::Result;
use crate::cursor::DEPTH_MAX;
use crate::node::{self, Child, Node, malformed};
use crate::write::{NodeRef, WriteTxn};

/// A root-to-leaf path over a write transaction's nodes; positions may step
/// one past either end of a node while moving.
struct TxnCursor<'a> {
    txn: &'a WriteTxn<'a>,
    stack: Vec<(NodeRef<'a>, isize)>,
}

fn count(node: &Node) -> isize {
    node.len() as isize
}

fn valid(node: &Node, pos: isize) -> bool {
    pos >= 0 && pos < count(node)
}

impl<'a> TxnCursor<'a> {
    /// A cursor on the first entry within `bound` (a lower bound) when
    /// `forward`, else on the last entry within it (an upper bound).
    fn seek(
        txn: &'a WriteTxn<'a>,
        root: Option<Child>,
        bound: Bound<&[u8]>,
        forward: bool,
    ) -> Result<TxnCursor<'a>> {
        let mut cursor = TxnCursor {
            txn,
            stack: Vec::with_capacity(8),
        };
        let Some(mut child) = root else {
            return Ok(cursor);
        };
        loop {
            if cursor.stack.len() >= DEPTH_MAX {
                return Err(malformed(
                    txn.file_path(),
                    child.page,
                    "tree deeper than any valid tree",
                ));
            }
            let node = txn.node(child)?;
            let n = count(&node);
            let (pos, next) = match &*node {
                Node::Leaf(es) => {
                    let pos = match bound {
                        Bound::Unbounded if forward => 0,
                        Bound::Unbounded => n - 1,
                        Bound::Included(k) | Bound::Excluded(k) => {
                            let inclusive = matches!(bound, Bound::Included(_));
                            match (node::leaf_search(es, k), forward, inclusive) {
                                (Ok(i), _, true) => i as isize,
                                (Ok(i), true, false) => i as isize + 1,
                                (Ok(i), false, false) => i as isize - 1,
                                (Err(i), true, _) => i as isize,
                                (Err(i), false, _) => i as isize - 1,
                            }
                        }
                    };
                    (pos, None)
                }
                Node::Branch(es) => {
                    let pos = match bound {
                        Bound::Unbounded if forward => 0,
                        Bound::Unbounded => n - 1,
                        Bound::Included(k) | Bound::Excluded(k) => {
                            node::branch_child_index(es, k) as isize
                        }
                    };
                    (pos, es.get(pos as usize).map(|e| e.child_ref()))
                }
            };
            cursor.stack.push((node, pos));
            match next {
                Some(c) => child = c,
                None => break,
            }
        }
        cursor.settle(forward)?;
        Ok(cursor)
    }

    /// Moves from a position past a node's end (`forward`) or before its
    /// start to the nearest entry that way, if any.
    fn settle(&mut self, forward: bool) -> Result<()> {
        // A walk reaches each page once: more pushes than pages means a
        // damaged branch shares children (see `Cursor::push`).
        let mut pushed: u64 = 0;
        let page_max = self.txn.alloc.page_count();
        while let Some((node, pos)) = self.stack.last() {
            let pos = *pos;
            if valid(node, pos) {
                let child = match &**node {
                    Node::Leaf(_) => return Ok(()),
                    Node::Branch(es) => es[pos as usize].child_ref(),
                };
                pushed += 1;
                if pushed > page_max || self.stack.len() >= DEPTH_MAX {
                    return Err(malformed(
                        self.txn.file_path(),
                        child.page,
                        "tree walk reaches a page twice",
                    ));
                }
                let node = self.txn.node(child)?;
                let pos = if forward { 0 } else { count(&node) - 1 };
                self.stack.push((node, pos));
            } else {
                self.stack.pop();
                if let Some(top) = self.stack.last_mut() {
                    top.1 += if forward { 1 } else { -1 };
                }
            }
        }
        Ok(())
    }

    /// Steps one entry forward or back.
    fn step(&mut self, forward: bool) -> Result<()> {
        if let Some(top) = self.stack.last_mut() {
            top.1 += if forward { 1 } else { -1 };
        }
        self.settle(forward)
    }

    /// The entry under the cursor, value resolved, or `None` off either end.
    fn current(&self) -> Result<Option<(Bytes, Bytes)>> {
        match self.stack.last() {
            Some((node, pos)) if valid(node, *pos) => match &**node {
                Node::Leaf(es) => {
                    let e = &es[*pos as usize];
                    Ok(Some((e.key.clone(), self.txn.value_bytes(&e.value)?)))
                }
                Node::Branch(_) => Ok(None),
            },
            _ => Ok(None),
        }
    }
}

/// An iterator over a key range of a [`WriteTxn`] as the transaction sees
/// it, from both ends, reading nodes as it goes.
///
/// It borrows the transaction, so no change can be made while it lives.
/// Yields `Err` (once, then ends) if it meets a damaged page.
pub struct WriteRange<'a> {
    txn: &'a WriteTxn<'a>,
    root: Option<Child>,
    start: Bound<Vec<u8>>,
    end: Bound<Vec<u8>>,
    front: Option<TxnCursor<'a>>,
    back: Option<TxnCursor<'a>>,
    front_last: Option<Bytes>,
    back_last: Option<Bytes>,
    done: bool,
}

impl std::fmt::Debug for WriteRange<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteRange")
            .field("start", &self.start)
            .field("end", &self.end)
            .finish()
    }
}

fn as_slice(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k),
        Bound::Excluded(k) => Bound::Excluded(k),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// Whether `key` lies within `start` (a lower bound) or, with `upper`,
/// within `end`.
fn within(key: &[u8], bound: &Bound<Vec<u8>>, upper: bool) -> bool {
    match (bound, upper) {
        (Bound::Included(b), true) => key <= &b[..],
        (Bound::Excluded(b), true) => key < &b[..],
        (Bound::Included(b), false) => key >= &b[..],
        (Bound::Excluded(b), false) => key > &b[..],
        (Bound::Unbounded, _) => true,
    }
}

impl<'a> WriteRange<'a> {
    pub(crate) fn new(
        txn: &'a WriteTxn<'a>,
        root: Option<Child>,
        start: Bound<Vec<u8>>,
        end: Bound<Vec<u8>>,
    ) -> WriteRange<'a> {
        WriteRange {
            txn,
            root,
            start,
            end,
            front: None,
            back: None,
            front_last: None,
            back_last: None,
            done: false,
        }
    }

    fn step(&mut self, forward: bool) -> Result<Option<(Bytes, Bytes)>> {
        let slot = if forward {
            &mut self.front
        } else {
            &mut self.back
        };
        match slot {
            Some(c) => c.step(forward)?,
            None => {
                let bound = if forward { &self.start } else { &self.end };
                *slot = Some(TxnCursor::seek(
                    self.txn,
                    self.root,
                    as_slice(bound),
                    forward,
                )?);
            }
        }
        let Some(c) = slot else { return Ok(None) };
        let Some((k, v)) = c.current()? else {
            return Ok(None);
        };
        let (far, other_last) = if forward {
            (&self.end, &self.back_last)
        } else {
            (&self.start, &self.front_last)
        };
        let crossed = other_last
            .as_ref()
            .is_some_and(|o| if forward { k >= o } else { k <= o });
        if !within(&k, far, forward) || crossed {
            return Ok(None);
        }
        if forward {
            self.front_last = Some(k.clone());
        } else {
            self.back_last = Some(k.clone());
        }
        Ok(Some((k, v)))
    }

    fn finish(&mut self, r: Result<Option<(Bytes, Bytes)>>) -> Option<Result<(Bytes, Bytes)>> {
        match r {
            Ok(Some(kv)) => Some(Ok(kv)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl Iterator for WriteRange<'_> {
    type Item = Result<(Bytes, Bytes)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.step(true);
        self.finish(r)
    }
}

impl DoubleEndedIterator for WriteRange<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.step(false);
        self.finish(r)
    }
}
