//! The table catalogue: a third copy-on-write B+ tree in the file (beside
//! the default table and the free tree), from each named table's name to
//! its record: root page, the root's CRC-32, kind and entry count. The meta
//! page records the catalogue's root (format 5), as redb's table tree maps
//! names to table definitions.
//!
//! Every named table has a record from the moment a write transaction
//! opens it; the records of tables the transaction changed are rewritten at
//! commit, after their trees are encoded (a record holds its root's
//! CRC-32), and before the free tree is recorded (rewriting a record copies
//! catalogue pages, which frees pages). One meta page switch commits every
//! table at once.
//!
//! The tree of a file written before format 5 is the default table: its
//! root and entry count stay in the meta page, so such a file opens
//! unchanged.

use std::ops::Bound;
use std::path::Path;

use bytes::Bytes;

use crate::cursor::{Cursor, DEPTH_MAX};
use crate::db::Snapshot;
use crate::meta::NO_PAGE;
use crate::node::{Child, Node, RawValue, Value, malformed};
use crate::page::{self, FIRST_DATA_PAGE};
use crate::write::{Tree, WriteTxn};
use crate::{Error, Result};

/// The longest table name, in bytes (UTF-8). The catalogue keys its
/// records by name, and a key fits an eighth of the smallest page.
pub const TABLE_NAME_LEN_MAX: usize = 64;

/// Bytes of a table record (the catalogue's value).
pub(crate) const RECORD_BYTES: usize = 24;
/// The table's root page, `NO_PAGE` if the table is empty.
const RECORD_ROOT_OFFSET: usize = 0;
/// The CRC-32 the root page was written with (0 if empty).
const RECORD_ROOT_CRC_OFFSET: usize = RECORD_ROOT_OFFSET + 8;
/// The table's kind: 0, a table of unique keys; 1, a multimap table.
const RECORD_KIND_OFFSET: usize = RECORD_ROOT_CRC_OFFSET + 4;
/// Entries in the table.
const RECORD_LEN_OFFSET: usize = RECORD_KIND_OFFSET + 4;
const _: () = assert!(RECORD_LEN_OFFSET + 8 == RECORD_BYTES);

/// What a table's tree holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TableKind {
    /// One value per key ([`Table`](crate::Table)).
    Plain,
    /// Many values per key, each pair a key of the tree
    /// ([`MultimapTable`](crate::MultimapTable), see `multimap.rs`).
    Multimap,
}

impl TableKind {
    fn code(self) -> u32 {
        match self {
            TableKind::Plain => 0,
            TableKind::Multimap => 1,
        }
    }

    fn from_code(code: u32) -> Option<TableKind> {
        match code {
            0 => Some(TableKind::Plain),
            1 => Some(TableKind::Multimap),
            _ => None,
        }
    }
}

/// What the catalogue records for one table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TableRecord {
    pub(crate) root: Option<Child>,
    pub(crate) len: u64,
    pub(crate) kind: TableKind,
}

impl TableRecord {
    pub(crate) fn encode(&self) -> [u8; RECORD_BYTES] {
        let mut b = [0u8; RECORD_BYTES];
        page::put_u64(
            &mut b,
            RECORD_ROOT_OFFSET,
            self.root.map_or(NO_PAGE, |c| c.page),
        );
        page::put_u32(
            &mut b,
            RECORD_ROOT_CRC_OFFSET,
            self.root.and_then(|c| c.crc).unwrap_or(0),
        );
        page::put_u32(&mut b, RECORD_KIND_OFFSET, self.kind.code());
        page::put_u64(&mut b, RECORD_LEN_OFFSET, self.len);
        b
    }

    /// Decodes a record found in catalogue page `at` of `file`, whose
    /// commit has `page_count` pages. A CRC proves the bytes are the ones
    /// written, not that the writer was right: every number is checked.
    pub(crate) fn decode(b: &[u8], file: &Path, at: u64, page_count: u64) -> Result<TableRecord> {
        if b.len() != RECORD_BYTES {
            return Err(malformed(file, at, "table record of the wrong length"));
        }
        let Some(kind) = TableKind::from_code(page::get_u32(b, RECORD_KIND_OFFSET)) else {
            return Err(malformed(file, at, "table record of an unknown kind"));
        };
        let page = page::get_u64(b, RECORD_ROOT_OFFSET);
        let len = page::get_u64(b, RECORD_LEN_OFFSET);
        let root = if page == NO_PAGE {
            if len != 0 {
                return Err(malformed(file, at, "entries in a table without a root"));
            }
            None
        } else {
            if !(FIRST_DATA_PAGE..page_count).contains(&page) {
                return Err(malformed(file, at, "table root past the page count"));
            }
            Some(Child {
                page,
                crc: Some(page::get_u32(b, RECORD_ROOT_CRC_OFFSET)),
            })
        };
        Ok(TableRecord { root, len, kind })
    }
}

/// Checks a table name's length.
pub(crate) fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > TABLE_NAME_LEN_MAX {
        return Err(Error::TableNameLength {
            len: name.len(),
            len_max: TABLE_NAME_LEN_MAX,
        });
    }
    Ok(())
}

/// A table a write transaction opened: its tree as the transaction sees it.
#[derive(Clone, Debug)]
pub(crate) struct OpenTable {
    pub(crate) name: String,
    pub(crate) root: Option<Child>,
    pub(crate) len: u64,
    pub(crate) kind: TableKind,
    /// Its tree changed: commit rewrites its record.
    pub(crate) changed: bool,
}

/// The record of table `name` in the catalogue of `snap`, if it has one.
pub(crate) fn find_in_snapshot(snap: &Snapshot, name: &str) -> Result<Option<TableRecord>> {
    let m = &snap.meta;
    let cursor = Cursor::seek(
        &snap.map,
        m.page_count,
        m.catalog_ref(),
        Bound::Included(name.as_bytes()),
        true,
    )?;
    match cursor.current_value()? {
        Some((k, v)) if k == name.as_bytes() => {
            let at = cursor.page().unwrap_or(0);
            Ok(Some(TableRecord::decode(
                v,
                snap.map.file(),
                at,
                m.page_count,
            )?))
        }
        _ => Ok(None),
    }
}

/// The names of the tables in the catalogue of `snap`, in byte order.
pub(crate) fn names_in_snapshot(snap: &Snapshot) -> Result<Vec<String>> {
    Ok(records_in_snapshot(snap)?
        .into_iter()
        .map(|(name, _)| name)
        .collect())
}

/// Every table of the catalogue of `snap` with its record, in name order.
pub(crate) fn records_in_snapshot(snap: &Snapshot) -> Result<Vec<(String, TableRecord)>> {
    let m = &snap.meta;
    let mut cursor = Cursor::seek(
        &snap.map,
        m.page_count,
        m.catalog_ref(),
        Bound::Unbounded,
        true,
    )?;
    let mut out = Vec::new();
    while let Some((k, v)) = cursor.current_value()? {
        let at = cursor.page().unwrap_or(0);
        let record = TableRecord::decode(v, snap.map.file(), at, m.page_count)?;
        out.push((name_of(k, snap.map.file(), at)?, record));
        cursor.next()?;
    }
    Ok(out)
}

fn name_of(key: &[u8], file: &Path, at: u64) -> Result<String> {
    String::from_utf8(key.to_vec()).map_err(|_| malformed(file, at, "table name not UTF-8"))
}

impl WriteTxn<'_> {
    /// The index in `tables` of open table `name`.
    pub(crate) fn table_index(&self, name: &str) -> Option<usize> {
        self.tables.iter().position(|t| t.name == name)
    }

    /// The record of table `name` in the catalogue as this transaction sees
    /// it (not counting changes to open tables not yet recorded).
    fn catalog_record(&self, name: &str) -> Result<Option<TableRecord>> {
        let Some(Value::Inline(v)) = self.lookup(Tree::Catalog, name.as_bytes())? else {
            return Ok(None);
        };
        let at = self.catalog_root.map_or(0, |c| c.page);
        Ok(Some(TableRecord::decode(
            &v,
            self.file_path(),
            at,
            self.alloc.page_count(),
        )?))
    }

    /// Opens table `name` of `kind`, creating it (empty) if the catalogue
    /// has none; returns its index in `tables`.
    pub(crate) fn open_table_index(&mut self, name: &str, kind: TableKind) -> Result<usize> {
        check_name(name)?;
        let i = match self.table_index(name) {
            Some(i) => i,
            None => {
                let record = match self.catalog_record(name)? {
                    Some(r) => r,
                    None => {
                        let r = TableRecord {
                            root: None,
                            len: 0,
                            kind,
                        };
                        self.tree_insert(
                            Tree::Catalog,
                            Bytes::copy_from_slice(name.as_bytes()),
                            Value::Inline(Bytes::copy_from_slice(&r.encode())),
                        )?;
                        r
                    }
                };
                self.tables.push(OpenTable {
                    name: name.to_owned(),
                    root: record.root,
                    len: record.len,
                    kind: record.kind,
                    changed: false,
                });
                self.tables.len() - 1
            }
        };
        if self.tables[i].kind != kind {
            return Err(Error::TableKind {
                name: name.to_owned(),
                multimap: self.tables[i].kind == TableKind::Multimap,
            });
        }
        Ok(i)
    }

    /// Deletes table `name` and frees every page of its tree; returns
    /// whether it existed. The default table is not named and cannot be
    /// deleted (remove its entries instead).
    ///
    /// # Errors
    ///
    /// [`Error::TableNameLength`], or a corruption error from a page of the
    /// table or the catalogue.
    pub fn delete_table(&mut self, name: &str) -> Result<bool> {
        check_name(name)?;
        let root = match self.table_index(name) {
            Some(i) => self.tables.swap_remove(i).root,
            None => match self.catalog_record(name)? {
                Some(r) => r.root,
                None => return Ok(false),
            },
        };
        self.free_tree_counted(root)?;
        self.tree_remove(Tree::Catalog, name.as_bytes())?;
        Ok(true)
    }

    /// The names of the named tables as this transaction sees them, in byte
    /// order (the default table has no name and is not listed).
    ///
    /// # Errors
    ///
    /// A corruption error from a page of the catalogue.
    pub fn list_tables(&self) -> Result<Vec<String>> {
        let at = self.catalog_root.map_or(0, |c| c.page);
        self.range_of(Tree::Catalog, Bound::Unbounded, Bound::Unbounded)
            .map(|kv| kv.and_then(|(k, _)| name_of(&k, self.file_path(), at)))
            .collect()
    }

    /// Frees every page of the tree under `root`: its nodes and overflow
    /// runs; returns the entries it held. Reads each node once, copies
    /// none; bounded by the pages of the file.
    pub(crate) fn free_tree_counted(&mut self, root: Option<Child>) -> Result<u64> {
        let Some(root) = root else { return Ok(0) };
        let mut entries: u64 = 0;
        let mut stack = vec![(root, 0usize)];
        let mut visited: u64 = 0;
        while let Some((child, depth)) = stack.pop() {
            visited += 1;
            if depth >= DEPTH_MAX || visited > self.alloc.page_count() {
                return Err(malformed(
                    self.file_path(),
                    child.page,
                    "tree walk reaches a page twice",
                ));
            }
            // A page of the base snapshot is read in place (no decoding of
            // its entries): its count, its children, its overflow runs.
            if !self.dirty.contains_key(&child.page) && !self.written.contains(&child.page) {
                let mut runs: Vec<Value> = Vec::new();
                {
                    let map = &self.base.map;
                    let node = map.node(child, self.base.meta.page_count)?;
                    if node.is_leaf() {
                        entries += node.count() as u64;
                        for i in 0..node.count() {
                            if let (_, RawValue::Overflow { page, len, crc }) =
                                node.leaf_entry(i)?
                            {
                                runs.push(Value::Overflow { page, len, crc });
                            }
                        }
                    } else {
                        for i in 0..node.count() {
                            stack.push((node.child(i)?, depth + 1));
                        }
                    }
                }
                for v in &runs {
                    self.free_value(v);
                }
                self.free_page(child.page);
                continue;
            }
            let runs: Vec<Value> = match &*self.node(child)? {
                Node::Branch(es) => {
                    stack.extend(es.iter().map(|e| (e.child_ref(), depth + 1)));
                    Vec::new()
                }
                Node::Leaf(es) => {
                    entries += es.len() as u64;
                    es.iter()
                        .filter(|e| matches!(e.value, Value::Overflow { .. }))
                        .map(|e| e.value.clone())
                        .collect()
                }
            };
            for v in &runs {
                self.free_value(v);
            }
            self.free_page(child.page);
        }
        Ok(entries)
    }

    /// Rewrites the catalogue records of the tables this transaction
    /// changed, encoding each table's dirty nodes first (a record holds its
    /// root's CRC-32) into `pages`. Called by commit before the free tree
    /// is recorded.
    pub(crate) fn record_tables(&mut self, pages: &mut crate::commit::PageBuf) -> Result<()> {
        for i in 0..self.tables.len() {
            if !self.tables[i].changed {
                continue;
            }
            let root = self.encode_tree(self.tables[i].root, pages)?;
            let t = &mut self.tables[i];
            t.root = root;
            t.changed = false;
            let record = TableRecord {
                root,
                len: t.len,
                kind: t.kind,
            };
            let key = Bytes::copy_from_slice(t.name.as_bytes());
            self.tree_insert(
                Tree::Catalog,
                key,
                Value::Inline(Bytes::copy_from_slice(&record.encode())),
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_record_round_trips_and_bad_numbers_are_rejected() {
        let file = Path::new("/db");
        let r = TableRecord {
            root: Some(Child {
                page: 7,
                crc: Some(0xdead_beef),
            }),
            len: 3,
            kind: TableKind::Multimap,
        };
        let b = r.encode();
        assert_eq!(TableRecord::decode(&b, file, 2, 8).unwrap(), r);
        assert!(
            TableRecord::decode(&b, file, 2, 7).is_err(),
            "root past count"
        );
        assert!(TableRecord::decode(&b[..20], file, 2, 8).is_err());
        let mut kind = b;
        page::put_u32(&mut kind, RECORD_KIND_OFFSET, 9);
        assert!(TableRecord::decode(&kind, file, 2, 8).is_err());
        let empty = TableRecord {
            root: None,
            len: 0,
            kind: TableKind::Plain,
        };
        assert_eq!(
            TableRecord::decode(&empty.encode(), file, 2, 8).unwrap(),
            empty
        );
        let mut counted = empty.encode();
        page::put_u64(&mut counted, RECORD_LEN_OFFSET, 1);
        assert!(TableRecord::decode(&counted, file, 2, 8).is_err());
    }

    #[test]
    fn names_of_1_to_64_bytes_are_accepted() {
        assert!(check_name("a").is_ok());
        assert!(check_name(&"x".repeat(TABLE_NAME_LEN_MAX)).is_ok());
        assert!(matches!(
            check_name(""),
            Err(Error::TableNameLength { len: 0, .. })
        ));
        assert!(matches!(
            check_name(&"x".repeat(65)),
            Err(Error::TableNameLength { len: 65, .. })
        ));
    }
}
