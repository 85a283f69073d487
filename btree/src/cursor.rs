//! A cursor over a committed tree: a stack of (page, position) from the root
//! to a leaf. There are no sibling links (a copy-on-write tree would have to
//! rewrite a sibling on every update to keep them), so stepping past a
//! leaf's end climbs to the nearest ancestor with a next child and descends.

use std::ops::Bound;

use crate::Result;
use crate::mapping::Mapping;
use crate::node::{Child, RawNode, RawValue, malformed};

/// Deeper than any valid tree (fan-out is at least 2 per level for keys of
/// at most an eighth of a page): a deeper path means a cycle in a corrupt file.
pub(crate) const DEPTH_MAX: usize = 64;

pub(crate) struct Cursor<'a> {
    map: &'a Mapping,
    page_count: u64,
    /// Positions may step one past either end while moving.
    stack: Vec<(RawNode<'a>, isize)>,
}

fn valid(node: &RawNode<'_>, pos: isize) -> bool {
    pos >= 0 && (pos as usize) < node.count()
}

impl<'a> Cursor<'a> {
    /// A cursor on the first entry within `bound` (a lower bound) when
    /// `forward`, else on the last entry within it (an upper bound).
    pub(crate) fn seek(
        map: &'a Mapping,
        page_count: u64,
        root: Option<Child>,
        bound: Bound<&[u8]>,
        forward: bool,
    ) -> Result<Cursor<'a>> {
        let mut cursor = Cursor {
            map,
            page_count,
            stack: Vec::with_capacity(8),
        };
        let Some(mut child) = root else {
            return Ok(cursor);
        };
        loop {
            if cursor.stack.len() >= DEPTH_MAX {
                return Err(malformed(
                    map.file(),
                    child.page,
                    "tree deeper than any valid tree",
                ));
            }
            let node = map.node(child, page_count)?;
            let count = node.count() as isize;
            if node.is_leaf() {
                let pos = match (bound, forward) {
                    (Bound::Unbounded, true) => 0,
                    (Bound::Unbounded, false) => count - 1,
                    (Bound::Included(k), _) | (Bound::Excluded(k), _) => {
                        let inclusive = matches!(bound, Bound::Included(_));
                        match (node.search(k)?, forward, inclusive) {
                            (Ok(i), _, true) => i as isize,
                            (Ok(i), true, false) => i as isize + 1,
                            (Ok(i), false, false) => i as isize - 1,
                            (Err(i), true, _) => i as isize,
                            (Err(i), false, _) => i as isize - 1,
                        }
                    }
                };
                cursor.stack.push((node, pos));
                break;
            }
            let pos = match bound {
                Bound::Unbounded if forward => 0,
                Bound::Unbounded => count - 1,
                Bound::Included(k) | Bound::Excluded(k) => node.child_index(k)? as isize,
            };
            child = node.child(pos as usize)?;
            cursor.stack.push((node, pos));
        }
        if forward {
            cursor.settle_forward()?;
        } else {
            cursor.settle_backward()?;
        }
        Ok(cursor)
    }

    /// Moves from a position past a leaf's end to the next entry, if any.
    fn settle_forward(&mut self) -> Result<()> {
        let mut pushed: u64 = 0;
        while let Some(&(node, pos)) = self.stack.last() {
            if valid(&node, pos) {
                if node.is_leaf() {
                    return Ok(());
                }
                self.push(node.child(pos as usize)?, true, &mut pushed)?;
            } else {
                self.stack.pop();
                if let Some(top) = self.stack.last_mut() {
                    top.1 += 1;
                }
            }
        }
        Ok(())
    }

    /// Moves from a position before a leaf's start to the previous entry, if any.
    fn settle_backward(&mut self) -> Result<()> {
        let mut pushed: u64 = 0;
        while let Some(&(node, pos)) = self.stack.last() {
            if valid(&node, pos) {
                if node.is_leaf() {
                    return Ok(());
                }
                self.push(node.child(pos as usize)?, false, &mut pushed)?;
            } else {
                self.stack.pop();
                if let Some(top) = self.stack.last_mut() {
                    top.1 -= 1;
                }
            }
        }
        Ok(())
    }

    /// Descends into `child`, counting the pages one settle has pushed in
    /// `pushed`. A walk of a tree reaches each page once, so a settle that
    /// pushes more pages than the file has went through a page twice: a
    /// damaged branch shares children (its CRC may hold), and without this
    /// bound empty leaves below shared children take exponential time.
    fn push(&mut self, child: Child, first: bool, pushed: &mut u64) -> Result<()> {
        *pushed += 1;
        if *pushed > self.page_count {
            return Err(malformed(
                self.map.file(),
                child.page,
                "tree walk reaches a page twice",
            ));
        }
        if self.stack.len() >= DEPTH_MAX {
            return Err(malformed(
                self.map.file(),
                child.page,
                "tree deeper than any valid tree",
            ));
        }
        let node = self.map.node(child, self.page_count)?;
        let pos = if first { 0 } else { node.count() as isize - 1 };
        self.stack.push((node, pos));
        Ok(())
    }

    /// The entry under the cursor, or `None` once it ran off either end.
    pub(crate) fn current(&self) -> Result<Option<(&'a [u8], RawValue<'a>)>> {
        match self.stack.last() {
            Some(&(node, pos)) if valid(&node, pos) && node.is_leaf() => {
                Ok(Some(node.leaf_entry(pos as usize)?))
            }
            _ => Ok(None),
        }
    }

    /// The page of the leaf the cursor is on, if any.
    pub(crate) fn page(&self) -> Option<u64> {
        self.stack.last().map(|(node, _)| node.page())
    }

    /// The entry under the cursor with its value resolved.
    pub(crate) fn current_value(&self) -> Result<Option<(&'a [u8], &'a [u8])>> {
        match self.current()? {
            Some((k, v)) => Ok(Some((k, self.map.value(v, self.page_count)?))),
            None => Ok(None),
        }
    }

    pub(crate) fn next(&mut self) -> Result<()> {
        if let Some(top) = self.stack.last_mut() {
            top.1 += 1;
        }
        self.settle_forward()
    }

    pub(crate) fn prev(&mut self) -> Result<()> {
        if let Some(top) = self.stack.last_mut() {
            top.1 -= 1;
        }
        self.settle_backward()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use bytes::Bytes;

    use super::*;
    use crate::Error;
    use crate::node::{BranchEntry, Node};
    use crate::page;

    const PAGE_BYTES: usize = 512;

    /// A chain of branch pages each of whose `fan_out` entries points at
    /// the next page, ending in an empty leaf: checksums all hold, but a
    /// walk from the top meets `fan_out ^ depth` paths to empty leaves.
    fn shared_children(depth: u64, fan_out: usize) -> (Bytes, u64) {
        let leaf = page::FIRST_DATA_PAGE + depth;
        let page_count = leaf + 1;
        let mut bytes = vec![0u8; page_count as usize * PAGE_BYTES];
        let at = |id: u64| id as usize * PAGE_BYTES;
        let mut crc = Node::Leaf(Vec::new()).encode(&mut bytes[at(leaf)..at(leaf + 1)], leaf, 1);
        for id in (page::FIRST_DATA_PAGE..leaf).rev() {
            let entries = (0..fan_out)
                .map(|i| {
                    let key = if i == 0 { vec![] } else { vec![i as u8] };
                    let mut e = BranchEntry::new(Bytes::from(key), id + 1);
                    e.child_crc = Some(crc);
                    e
                })
                .collect();
            crc = Node::Branch(entries).encode(&mut bytes[at(id)..at(id + 1)], id, 1);
        }
        (Bytes::from(bytes), page_count)
    }

    /// Before the bound a forward seek on this file walked 20^8 paths (it
    /// never finished); now it is `Malformed` after at most a page count of
    /// pages.
    #[test]
    fn a_walk_through_shared_children_is_malformed_not_exponential() {
        let (bytes, page_count) = shared_children(8, 20);
        let map = Mapping::new(bytes, PAGE_BYTES, Path::new("/db"), None);
        let root = Some(Child {
            page: page::FIRST_DATA_PAGE,
            crc: None,
        });
        for forward in [true, false] {
            let r = Cursor::seek(&map, page_count, root, Bound::Unbounded, forward);
            assert!(
                matches!(
                    r,
                    Err(Error::Malformed {
                        what: "tree walk reaches a page twice",
                        ..
                    })
                ),
                "{:?}",
                r.err()
            );
        }
    }
}
