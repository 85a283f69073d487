//! Statistics and the integrity check: one walk over every page the last
//! commit references.

use std::collections::{HashMap, HashSet};

use crate::Result;
use crate::cursor::{Cursor, DEPTH_MAX};
use crate::db::{Db, Snapshot};
use crate::node::{Child, RawValue, malformed};
use crate::page::{self, FIRST_DATA_PAGE, Limits};

/// What [`Db::stats`] reports about the last commit.
#[derive(Clone, Debug, PartialEq)]
pub struct Stats {
    /// Entries in the tree.
    pub entries: u64,
    /// Levels of the tree: 0 when empty, 1 for a lone leaf.
    pub height: u32,
    /// Branch pages of the tree.
    pub branch_pages: u64,
    /// Leaf pages of the tree.
    pub leaf_pages: u64,
    /// Pages of overflow runs holding large values.
    pub overflow_pages: u64,
    /// Pages of the free tree (the record of free pages).
    pub free_tree_pages: u64,
    /// Named tables (the default table not counted).
    pub tables: u64,
    /// Pages of the named tables and of their catalogue: nodes and
    /// overflow runs (the other counts are the default table's).
    pub table_pages: u64,
    /// Persistent savepoints.
    pub savepoints: u64,
    /// Pages of the persistent savepoint tree (its records; the pages the
    /// savepoints keep are counted as free pages, which they are listed as).
    pub savepoint_pages: u64,
    /// Pages free for reuse (listed in the free tree), the pages only
    /// persistent savepoints keep included.
    pub free_pages: u64,
    /// Pages in use or free: every page number below this is one or the other.
    pub page_count: u64,
    /// Bytes per page.
    pub page_size_bytes: u32,
    /// Length of the file; may exceed `page_count` pages (room to grow).
    pub file_size_bytes: u64,
    /// Bytes of entries over bytes of branch and leaf pages of the tree, 0 to 1.
    pub fill_factor: f64,
}

struct Walk<'a> {
    snap: &'a Snapshot,
    seen: HashSet<u64>,
    branch: u64,
    leaf: u64,
    overflow: u64,
    used_bytes: u64,
    height: u32,
}

impl Walk<'_> {
    fn claim(&mut self, id: u64) -> Result<()> {
        if !self.seen.insert(id) {
            return Err(malformed(self.snap.map.file(), id, "page referenced twice"));
        }
        Ok(())
    }

    fn tree(&mut self, child: Child, depth: u32) -> Result<()> {
        let id = child.page;
        if depth as usize >= DEPTH_MAX {
            return Err(malformed(
                self.snap.map.file(),
                id,
                "tree deeper than any valid tree",
            ));
        }
        self.claim(id)?;
        let pc = self.snap.meta.page_count;
        let node = self.snap.map.node(child, pc)?;
        self.height = self.height.max(depth + 1);
        if node.is_leaf() {
            self.leaf += 1;
            for i in 0..node.count() {
                let (k, v) = node.leaf_entry(i)?;
                let stored = match v {
                    RawValue::Inline(b) => b.len(),
                    RawValue::Overflow {
                        page: first, len, ..
                    } => {
                        self.snap.map.value(v.clone(), pc)?;
                        let n = Limits::new(self.snap.map.page_size()).run_pages(len);
                        for p in first..first + n {
                            self.claim(p)?;
                        }
                        self.overflow += n;
                        8
                    }
                };
                self.used_bytes += (crate::node::SLOT_BYTES
                    + crate::node::LEAF_ENTRY_HEADER_BYTES
                    + k.len()
                    + stored) as u64;
            }
        } else {
            self.branch += 1;
            for i in 0..node.count() {
                let k = node.key(i)?;
                self.used_bytes += (crate::node::SLOT_BYTES
                    + crate::node::BRANCH_ENTRY_HEADER_BYTES
                    + k.len()) as u64;
                self.tree(node.child(i)?, depth + 1)?;
            }
        }
        self.used_bytes += page::HEADER_BYTES as u64;
        Ok(())
    }
}

/// Checks the commit a persistent savepoint keeps: every page reachable
/// from it is intact (its checksum and the one its referrer recorded), and
/// is either used by the last commit (`used`: then so is everything below
/// it, pages being copied on write) or listed free by a transaction after
/// the savepoint's commit (`freed_by`), so no commit reuses it while the
/// savepoint lives.
fn check_savepoint(
    snap: &Snapshot,
    record: &crate::persistent::SavepointRecord,
    used: &HashSet<u64>,
    freed_by: &HashMap<u64, u64>,
) -> Result<()> {
    let pc = snap.meta.page_count;
    let file = snap.map.file();
    let limits = Limits::new(snap.map.page_size());
    let kept = |id: u64| -> Result<bool> {
        if used.contains(&id) {
            return Ok(false);
        }
        match freed_by.get(&id) {
            Some(&txn) if txn > record.txn => Ok(true),
            _ => Err(malformed(
                file,
                id,
                "page of a persistent savepoint neither used nor kept free",
            )),
        }
    };
    // (page, depth, whether its leaves are catalogue records)
    let mut stack: Vec<(Child, usize, bool)> = Vec::new();
    stack.extend(record.root.map(|c| (c, 0, false)));
    stack.extend(record.catalog_root.map(|c| (c, 0, true)));
    let mut seen: HashSet<u64> = HashSet::new();
    while let Some((child, depth, catalog)) = stack.pop() {
        if depth >= DEPTH_MAX || !seen.insert(child.page) {
            return Err(malformed(
                file,
                child.page,
                "savepoint tree reaches a page twice",
            ));
        }
        if !kept(child.page)? {
            continue;
        }
        let node = snap.map.node(child, pc)?;
        for i in 0..node.count() {
            if !node.is_leaf() {
                stack.push((node.child(i)?, depth + 1, catalog));
                continue;
            }
            match node.leaf_entry(i)? {
                (_, RawValue::Inline(v)) if catalog => {
                    let table = crate::catalog::TableRecord::decode(v, file, child.page, pc)?;
                    stack.extend(table.root.map(|c| (c, 0, false)));
                }
                (
                    _,
                    v @ RawValue::Overflow {
                        page: first, len, ..
                    },
                ) => {
                    snap.map.value(v.clone(), pc)?;
                    for p in first..first + limits.run_pages(len) {
                        kept(p)?;
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

impl Db {
    fn walk(&self, check: bool) -> Result<Stats> {
        let read = self.begin_read()?;
        let snap = read.snapshot();
        let mut walk = Walk {
            snap,
            seen: HashSet::new(),
            branch: 0,
            leaf: 0,
            overflow: 0,
            used_bytes: 0,
            height: 0,
        };
        if let Some(root) = snap.meta.root_ref() {
            walk.tree(root, 0)?;
        }
        let (branch, leaf, overflow, height, used) = (
            walk.branch,
            walk.leaf,
            walk.overflow,
            walk.height,
            walk.used_bytes,
        );
        walk.height = 0;
        walk.branch = 0;
        walk.leaf = 0;
        if let Some(root) = snap.meta.free_root_ref() {
            walk.tree(root, 0)?;
        }
        let free_tree_pages = walk.branch + walk.leaf;
        // The catalogue and the named tables.
        walk.branch = 0;
        walk.leaf = 0;
        walk.overflow = 0;
        if let Some(root) = snap.meta.catalog_ref() {
            walk.tree(root, 0)?;
        }
        let records = crate::catalog::records_in_snapshot(snap)?;
        for (_, record) in &records {
            if let Some(root) = record.root {
                walk.tree(root, 0)?;
            }
        }
        let table_pages = walk.branch + walk.leaf + walk.overflow;
        walk.branch = 0;
        walk.leaf = 0;
        if let Some(root) = snap.meta.savepoint_ref() {
            walk.tree(root, 0)?;
        }
        let savepoint_pages = walk.branch + walk.leaf;
        let savepoints = crate::persistent::records_in_snapshot(snap)?;
        let used_pages = if check && !savepoints.is_empty() {
            walk.seen.clone()
        } else {
            HashSet::new()
        };
        let mut freed_by: HashMap<u64, u64> = HashMap::new();
        let pc = snap.meta.page_count;
        let mut free_pages = 0;
        let mut cursor = Cursor::seek(
            &snap.map,
            pc,
            snap.meta.free_root_ref(),
            std::ops::Bound::Unbounded,
            true,
        )?;
        while let Some((k, v)) = cursor.current_value()? {
            let txn = crate::freelist::key_txn(k).map_or(0, |(_, txn)| txn);
            for chunk in v.chunks_exact(8) {
                let id = page::get_u64(chunk, 0);
                walk.claim(id)?;
                free_pages += 1;
                if !used_pages.is_empty() {
                    freed_by.insert(id, txn);
                }
            }
            cursor.next()?;
        }
        let mut entries = 0;
        if check {
            for id in FIRST_DATA_PAGE..pc {
                if !walk.seen.contains(&id) {
                    return Err(malformed(snap.map.file(), id, "page neither used nor free"));
                }
            }
            for kv in read.iter() {
                kv?;
                entries += 1;
            }
            if entries != snap.meta.entry_count {
                return Err(malformed(
                    snap.map.file(),
                    0,
                    "entry count differs from the meta page",
                ));
            }
            for (_, record) in &savepoints {
                check_savepoint(snap, record, &used_pages, &freed_by)?;
            }
            for (_, record) in &records {
                let mut n = 0;
                let all = crate::read::Range::new(
                    snap,
                    record.root,
                    std::ops::Bound::Unbounded,
                    std::ops::Bound::Unbounded,
                );
                let multimap = record.kind == crate::catalog::TableKind::Multimap;
                for kv in all {
                    let (k, _) = kv?;
                    if multimap && !crate::multimap::is_pair(k) {
                        return Err(malformed(
                            snap.map.file(),
                            record.root.map_or(0, |c| c.page),
                            "multimap table key not an encoded (key, value) pair",
                        ));
                    }
                    n += 1;
                }
                if n != record.len {
                    return Err(malformed(
                        snap.map.file(),
                        record.root.map_or(0, |c| c.page),
                        "entry count differs from the table's record",
                    ));
                }
            }
        }
        if walk
            .seen
            .iter()
            .any(|&id| !(FIRST_DATA_PAGE..pc).contains(&id))
        {
            return Err(malformed(
                snap.map.file(),
                0,
                "page number past the page count",
            ));
        }
        let ps = snap.map.page_size();
        Ok(Stats {
            entries: snap.meta.entry_count,
            height,
            branch_pages: branch,
            leaf_pages: leaf,
            overflow_pages: overflow,
            free_tree_pages,
            tables: records.len() as u64,
            table_pages,
            savepoints: savepoints.len() as u64,
            savepoint_pages,
            free_pages,
            page_count: pc,
            page_size_bytes: ps as u32,
            file_size_bytes: self.file_len()?,
            fill_factor: if branch + leaf == 0 {
                0.0
            } else {
                used as f64 / ((branch + leaf) as f64 * ps as f64)
            },
        })
    }

    /// Walks every page of the last commit: the tree's height, pages by
    /// kind, free pages, file size and fill factor.
    ///
    /// # Errors
    ///
    /// A corruption error if a page on the way is damaged.
    pub fn stats(&self) -> Result<Stats> {
        self.walk(false)
    }

    /// Checks the whole file as of the last commit: both meta pages (the one
    /// not in use too, so the fallback a torn commit needs cannot rot
    /// unseen), every page's checksum, every entry readable, every page
    /// below the page count either in the tree or free, exactly once, and
    /// every page a persistent savepoint keeps intact and not reusable, and
    /// every key of a multimap table an encoded (key, value) pair.
    ///
    /// # Errors
    ///
    /// [`Error::Corruption`](crate::Error::Corruption) or
    /// [`Error::Malformed`](crate::Error::Malformed) naming the first page at
    /// fault; for a meta page, `Corruption` or
    /// [`Error::BadMeta`](crate::Error::BadMeta), or
    /// [`Error::Truncated`](crate::Error::Truncated).
    pub fn check(&self) -> Result<Stats> {
        self.check_metas()?;
        self.walk(true)
    }
}
