//! Copy-on-write insert and remove, with splits on the way up and merges or
//! redistribution of underfull nodes after a remove.

use bytes::Bytes;

use crate::Result;
use crate::cursor::DEPTH_MAX;
use crate::node::{self, BranchEntry, Child, LeafEntry, Node, Value, malformed};
use crate::write::{Tree, WriteTxn};

/// A node that overflowed its page split into two: the separator and the
/// new right node's page.
pub(crate) struct Split {
    pub(crate) key: Bytes,
    pub(crate) right: u64,
}

/// Where to cut `node`'s entries so both halves are near half its size.
/// Every entry is under half a page's body `B` (see `Limits`): an overfull
/// node's entries sum to `T <= B + E` (it fit, then gained one entry of at
/// most `E <= B/2 - 1` bytes), and each half is at most `T/2 + E/2 + 1/2 <=
/// B`, so both halves fit a page.
fn split_index(sizes: impl Iterator<Item = usize> + Clone) -> usize {
    let total: usize = sizes.clone().sum();
    let count = sizes.clone().count();
    let mut acc = 0;
    for (i, s) in sizes.enumerate() {
        if i > 0 && acc + s / 2 > total / 2 {
            return i.min(count - 1);
        }
        acc += s;
    }
    count - 1
}

/// Splits an overfull node in two; returns the separator and the right half.
fn split_node(node: &mut Node) -> (Bytes, Node) {
    match node {
        Node::Leaf(es) => {
            let at = split_index(es.iter().map(node::leaf_entry_bytes)).max(1);
            let right = es.split_off(at);
            (right[0].key.clone(), Node::Leaf(right))
        }
        Node::Branch(es) => {
            let at = split_index(es.iter().map(node::branch_entry_bytes)).max(1);
            let mut right = es.split_off(at);
            let key = std::mem::take(&mut right[0].key);
            (key, Node::Branch(right))
        }
    }
}

impl WriteTxn<'_> {
    /// Makes page `child` writable: itself if this transaction already
    /// copied it, else a copy under a new page number (the old one is
    /// freed), after checking it is the page its parent recorded.
    pub(crate) fn make_dirty(&mut self, child: Child) -> Result<u64> {
        let id = child.page;
        if self.dirty.contains_key(&id) {
            return Ok(id);
        }
        let node = self.load(child)?;
        self.free_page(id);
        let new = self.alloc()?;
        self.dirty.insert(new, node);
        Ok(new)
    }

    /// Splits dirty node `id` if it outgrew its page.
    pub(crate) fn split_if_overfull(&mut self, id: u64) -> Result<Option<Split>> {
        let page_size = self.db.limits.page_size;
        let node = self.dirty_mut(id);
        if node.size() <= page_size {
            return Ok(None);
        }
        let (key, right) = split_node(node);
        let right_id = self.alloc()?;
        self.dirty.insert(right_id, right);
        Ok(Some(Split {
            key,
            right: right_id,
        }))
    }

    /// A new root over `left` and the split-off `right`.
    pub(crate) fn grow_root(&mut self, left: u64, split: Option<Split>) -> Result<u64> {
        let Some(Split { key, right }) = split else {
            return Ok(left);
        };
        let id = self.alloc()?;
        self.dirty.insert(
            id,
            Node::Branch(vec![
                BranchEntry::new(Bytes::new(), left),
                BranchEntry::new(key, right),
            ]),
        );
        Ok(id)
    }

    pub(crate) fn dirty_mut(&mut self, id: u64) -> &mut Node {
        // `make_dirty` put it there and nothing removes it while the caller
        // works on it.
        self.dirty
            .entry(id)
            .or_insert_with(|| Node::Leaf(Vec::new()))
    }

    /// Inserts `key`; returns the value it replaced.
    pub(crate) fn tree_insert(
        &mut self,
        tree: Tree,
        key: Bytes,
        value: Value,
    ) -> Result<Option<Value>> {
        let Some(root) = self.root_of(tree) else {
            let id = self.alloc()?;
            self.dirty
                .insert(id, Node::Leaf(vec![LeafEntry { key, value }]));
            self.set_root(
                tree,
                Some(Child {
                    page: id,
                    crc: None,
                }),
            );
            return Ok(None);
        };
        let (root, old, split) = self.insert_at(root, key, value, 0)?;
        let root = self.grow_root(root, split)?;
        self.set_root(
            tree,
            Some(Child {
                page: root,
                crc: None,
            }),
        );
        Ok(old)
    }

    fn insert_at(
        &mut self,
        child: Child,
        key: Bytes,
        value: Value,
        depth: usize,
    ) -> Result<(u64, Option<Value>, Option<Split>)> {
        if depth >= DEPTH_MAX {
            return Err(malformed(
                self.file_path(),
                child.page,
                "tree deeper than any valid tree",
            ));
        }
        let id = self.make_dirty(child)?;
        let mut old = None;
        let mut entry = Some((key, value));
        let child = match self.dirty_mut(id) {
            Node::Leaf(es) => {
                if let Some((key, value)) = entry.take() {
                    match node::leaf_search(es, &key) {
                        Ok(i) => old = Some(std::mem::replace(&mut es[i].value, value)),
                        Err(i) => es.insert(i, LeafEntry { key, value }),
                    }
                }
                None
            }
            Node::Branch(es) => {
                let key = entry.as_ref().map_or(&[][..], |(k, _)| &k[..]);
                let i = node::branch_child_index(es, key);
                Some((i, es[i].child_ref()))
            }
        };
        if let (Some((i, child)), Some((key, value))) = (child, entry) {
            let (new_child, o, split) = self.insert_at(child, key, value, depth + 1)?;
            old = o;
            if let Node::Branch(es) = self.dirty_mut(id) {
                es[i] = BranchEntry::new(std::mem::take(&mut es[i].key), new_child);
                if let Some(Split { key, right }) = split {
                    es.insert(i + 1, BranchEntry::new(key, right));
                }
            }
            self.relieve_leaf(id, i)?;
        }
        // An overfull leaf under a branch is left to the branch
        // (`relieve_leaf`), which may move entries to a sibling instead.
        let split = if depth > 0 && matches!(self.dirty.get(&id), Some(Node::Leaf(_))) {
            None
        } else {
            self.split_if_overfull(id)?
        };
        Ok((id, old, split))
    }

    /// The size of the node `child` refers to, reading it if not dirty.
    fn node_size(&self, child: Child) -> Result<usize> {
        match self.dirty.get(&child.page) {
            Some(node) => Ok(node.size()),
            None => Ok(self.load(child)?.size()),
        }
    }

    /// If child `i` of dirty branch `id` is a leaf that outgrew its page,
    /// moves its first entries to its left sibling or its last ones to its
    /// right sibling while they have room, and splits it only if it is still
    /// overfull. A split leaves two half-full leaves, and random inserts
    /// split leaves of a few large entries (three 1 KiB values fill a 4 KiB
    /// page) so often that about 40% of their bytes stayed empty; moving an
    /// entry to a sibling with room (as B*-trees do) fills them further, at
    /// the cost of copying the sibling when this transaction has not.
    fn relieve_leaf(&mut self, id: u64, i: usize) -> Result<()> {
        let page_size = self.db.limits.page_size;
        let child = match self.dirty.get(&id) {
            Some(Node::Branch(es)) => es[i].child,
            _ => return Ok(()),
        };
        match self.dirty.get(&child) {
            Some(node @ Node::Leaf(_)) if node.size() > page_size => {}
            _ => return Ok(()),
        }
        for left in [true, false] {
            let sibling = match self.dirty.get(&id) {
                Some(Node::Branch(es)) if left && i > 0 => es[i - 1].child_ref(),
                Some(Node::Branch(es)) if !left && i + 1 < es.len() => es[i + 1].child_ref(),
                _ => continue,
            };
            // Room for the entry that would move first.
            let (Some(Node::Leaf(es)), sibling_size) =
                (self.dirty.get(&child), self.node_size(sibling)?)
            else {
                return Ok(());
            };
            let Some(first) = (if left { es.first() } else { es.last() }) else {
                return Ok(());
            };
            // A sibling with little room would overflow again at its next
            // insert: split instead.
            if sibling_size + node::leaf_entry_bytes(first).max(page_size / 8) > page_size {
                continue;
            }
            let sibling_id = self.make_dirty(sibling)?;
            let (Some(Node::Leaf(mut moving)), Some(Node::Leaf(mut into))) =
                (self.dirty.remove(&child), self.dirty.remove(&sibling_id))
            else {
                return Err(malformed(
                    self.file_path(),
                    sibling_id,
                    "leaf sibling of a branch",
                ));
            };
            let (mut size, mut into_size) = (
                Node::Leaf(Vec::new()).size()
                    + moving.iter().map(node::leaf_entry_bytes).sum::<usize>(),
                Node::Leaf(Vec::new()).size()
                    + into.iter().map(node::leaf_entry_bytes).sum::<usize>(),
            );
            // Until it fits and the two are about even, so neither overflows
            // again at its next insert; at least one entry stays, so the
            // leaf keeps its place.
            while moving.len() > 1 {
                let e = if left {
                    &moving[0]
                } else {
                    &moving[moving.len() - 1]
                };
                let bytes = node::leaf_entry_bytes(e);
                if into_size + bytes > page_size
                    || (size <= page_size && size - bytes < into_size + bytes)
                {
                    break;
                }
                if left {
                    into.push(moving.remove(0));
                } else {
                    let e = moving.pop().unwrap_or_else(|| unreachable!());
                    into.insert(0, e);
                }
                size -= bytes;
                into_size += bytes;
            }
            // The separators: the first key of each leaf right of the other.
            let separator = if left {
                moving[0].key.clone()
            } else {
                into[0].key.clone()
            };
            self.dirty.insert(child, Node::Leaf(moving));
            self.dirty.insert(sibling_id, Node::Leaf(into));
            if let Some(Node::Branch(es)) = self.dirty.get_mut(&id) {
                if left {
                    es[i - 1] = BranchEntry::new(std::mem::take(&mut es[i - 1].key), sibling_id);
                    es[i] = BranchEntry::new(separator, child);
                } else {
                    es[i + 1] = BranchEntry::new(separator, sibling_id);
                }
            }
            if size <= page_size {
                return Ok(());
            }
        }
        if let Some(Split { key, right }) = self.split_if_overfull(child)?
            && let Some(Node::Branch(es)) = self.dirty.get_mut(&id)
        {
            es.insert(i + 1, BranchEntry::new(key, right));
        }
        Ok(())
    }

    /// Removes `key`; returns its value if it was there. Pages are copied
    /// only when the key is present.
    pub(crate) fn tree_remove(&mut self, tree: Tree, key: &[u8]) -> Result<Option<Value>> {
        if self.lookup(tree, key)?.is_none() {
            return Ok(None);
        }
        let Some(root) = self.root_of(tree) else {
            return Ok(None);
        };
        let (root, old, split) = self.remove_at(root, key, 0)?;
        let root = self.grow_root(root, split)?;
        let root = self.collapse_root(root);
        self.set_root(tree, root);
        Ok(old)
    }

    /// Collapses a dirty root left with one child (repeatedly), and drops
    /// an empty root leaf; returns the root that remains.
    pub(crate) fn collapse_root(&mut self, root: u64) -> Option<Child> {
        let mut root = Some(Child {
            page: root,
            crc: None,
        });
        while let Some(Child { page: id, .. }) = root {
            match self.dirty.get(&id) {
                Some(Node::Branch(es)) if es.len() == 1 => {
                    let child = es[0].child_ref();
                    self.free_page(id);
                    root = Some(child);
                }
                Some(Node::Leaf(es)) if es.is_empty() => {
                    self.free_page(id);
                    root = None;
                }
                _ => break,
            }
        }
        root
    }

    /// Removes `key` below `child`. A branch can grow although an entry
    /// goes (a format-1 branch gains a child checksum per entry when it is
    /// rewritten, and a rebalance may lengthen a separator), so this splits
    /// as insert does.
    fn remove_at(
        &mut self,
        child: Child,
        key: &[u8],
        depth: usize,
    ) -> Result<(u64, Option<Value>, Option<Split>)> {
        if depth >= DEPTH_MAX {
            return Err(malformed(
                self.file_path(),
                child.page,
                "tree deeper than any valid tree",
            ));
        }
        let id = self.make_dirty(child)?;
        let child = match self.dirty_mut(id) {
            Node::Leaf(es) => {
                return Ok(match node::leaf_search(es, key) {
                    Ok(i) => (id, Some(es.remove(i).value), None),
                    Err(_) => (id, None, None),
                });
            }
            Node::Branch(es) => {
                let i = node::branch_child_index(es, key);
                (i, es[i].child_ref())
            }
        };
        let (i, child) = child;
        let (new_child, old, split) = self.remove_at(child, key, depth + 1)?;
        let grew = split.is_some();
        if let Node::Branch(es) = self.dirty_mut(id) {
            es[i] = BranchEntry::new(std::mem::take(&mut es[i].key), new_child);
            if let Some(Split { key, right }) = split {
                es.insert(i + 1, BranchEntry::new(key, right));
            }
        }
        let underfull = !grew
            && self
                .dirty
                .get(&new_child)
                .is_some_and(|n| n.size() < self.db.limits.underfull_bytes);
        if underfull {
            self.rebalance(id, i)?;
        }
        let split = self.split_if_overfull(id)?;
        Ok((id, old, split))
    }

    /// Merges child `i` of dirty branch `parent` with a sibling, or evens
    /// the two out if they do not fit one page.
    pub(crate) fn rebalance(&mut self, parent: u64, i: usize) -> Result<()> {
        let Some(Node::Branch(es)) = self.dirty.get(&parent) else {
            return Ok(());
        };
        if es.len() < 2 {
            return Ok(());
        }
        let (l, r) = if i > 0 { (i - 1, i) } else { (i, i + 1) };
        let (left_id, right_id, sep) = (es[l].child_ref(), es[r].child_ref(), es[r].key.clone());
        let left_id = self.make_dirty(left_id)?;
        let right_id = self.make_dirty(right_id)?;
        let right = self
            .dirty
            .remove(&right_id)
            .unwrap_or(Node::Leaf(Vec::new()));
        let left = self.dirty_mut(left_id);
        match (left, right) {
            (Node::Leaf(le), Node::Leaf(re)) => le.extend(re),
            (Node::Branch(le), Node::Branch(mut re)) => {
                re[0].key = sep;
                le.extend(re);
            }
            _ => {
                return Err(malformed(
                    self.file_path(),
                    right_id,
                    "siblings of different kinds",
                ));
            }
        }
        let page_size = self.db.limits.page_size;
        let merged = self.dirty_mut(left_id);
        let new_sep = if merged.size() <= page_size {
            None
        } else {
            Some(split_node(merged))
        };
        match new_sep {
            None => {
                // The right page is gone: keep its number out of `dirty` and free it.
                self.dirty.insert(right_id, Node::Leaf(Vec::new()));
                self.free_page(right_id);
                if let Node::Branch(es) = self.dirty_mut(parent) {
                    es[l] = BranchEntry::new(std::mem::take(&mut es[l].key), left_id);
                    es.remove(r);
                }
            }
            Some((key, right)) => {
                self.dirty.insert(right_id, right);
                if let Node::Branch(es) = self.dirty_mut(parent) {
                    es[l] = BranchEntry::new(std::mem::take(&mut es[l].key), left_id);
                    es[r] = BranchEntry::new(key, right_id);
                }
            }
        }
        Ok(())
    }
}
