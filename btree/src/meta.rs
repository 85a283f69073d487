//! The two meta pages (0 and 1): which commit is current. A commit writes
//! the slot the current durable commit is not in, so a torn meta write
//! leaves the other slot intact; open takes the valid slot with the higher
//! transaction id.

use crate::node::Child;
use crate::page::{self, HEADER_BYTES, Kind};

/// The format's magic, at the start of each meta page's body.
pub(crate) const MAGIC: [u8; 8] = *b"CowBTree";
/// The format version this build writes. Version 6 records the root of the
/// persistent savepoint tree (`SAVEPOINT_ROOT_OFFSET`): a build that reads
/// at most version 5 would not know the pages the savepoints keep, and
/// would reuse them, so it refuses these files. Version 5 records the root of the
/// table catalogue (`CATALOG_ROOT_OFFSET`): a build that reads at most
/// version 4 would not see the named tables, and would reuse their pages,
/// so it refuses these files. Version 4 records the synced
/// transaction (`SYNCED_TXN_OFFSET`): a commit made with one sync may be
/// torn, and only a build that checks its pages on open may read it, so a
/// build that reads at most version 3 refuses these files. Version 3 keeps
/// a value inline while its leaf entry fits half a page (versions 1 and 2:
/// values up to `page_size / 8 - 32` bytes).
pub(crate) const FORMAT_VERSION: u32 = 6;
/// The oldest format version this build reads: version 1 has no child
/// checksums (in branch entries and here), and its pages are read as before.
pub(crate) const FORMAT_VERSION_MIN: u32 = 1;

pub(crate) const MAGIC_OFFSET: usize = HEADER_BYTES;
pub(crate) const VERSION_OFFSET: usize = MAGIC_OFFSET + 8;
pub(crate) const PAGE_SIZE_OFFSET: usize = VERSION_OFFSET + 4;
pub(crate) const ROOT_OFFSET: usize = PAGE_SIZE_OFFSET + 4;
pub(crate) const FREE_ROOT_OFFSET: usize = ROOT_OFFSET + 8;
pub(crate) const PAGE_COUNT_OFFSET: usize = FREE_ROOT_OFFSET + 8;
pub(crate) const ENTRY_COUNT_OFFSET: usize = PAGE_COUNT_OFFSET + 8;
/// Format 2: the CRC-32 the root page was written with (0 if no tree).
pub(crate) const ROOT_CRC_OFFSET: usize = ENTRY_COUNT_OFFSET + 8;
/// Format 2: the CRC-32 the free tree's root was written with (0 if none).
pub(crate) const FREE_ROOT_CRC_OFFSET: usize = ROOT_CRC_OFFSET + 4;
/// Format 4: every page stamped with a transaction id at most this one was
/// durable before this meta page was written. Equal to the commit's own id
/// when its pages were synced before the meta page (two syncs); the previous
/// durable commit's id when pages and meta page share one sync, so open
/// checks the pages stamped above it (`recovery::verify_commit`).
pub(crate) const SYNCED_TXN_OFFSET: usize = FREE_ROOT_CRC_OFFSET + 4;
/// Format 5: the root page of the table catalogue (see `catalog.rs`),
/// `NO_PAGE` while the file has no named table.
pub(crate) const CATALOG_ROOT_OFFSET: usize = SYNCED_TXN_OFFSET + 8;
/// Format 5: the CRC-32 the catalogue's root was written with (0 if none).
pub(crate) const CATALOG_ROOT_CRC_OFFSET: usize = CATALOG_ROOT_OFFSET + 8;
/// Format 6: the root page of the persistent savepoint tree (see
/// `persistent.rs`), `NO_PAGE` while the file has no persistent savepoint.
pub(crate) const SAVEPOINT_ROOT_OFFSET: usize = CATALOG_ROOT_CRC_OFFSET + 4;
/// Format 6: the CRC-32 the savepoint tree's root was written with (0 if none).
pub(crate) const SAVEPOINT_ROOT_CRC_OFFSET: usize = SAVEPOINT_ROOT_OFFSET + 8;
pub(crate) const META_END: usize = SAVEPOINT_ROOT_CRC_OFFSET + 4;
const _: () = assert!(META_END == 120);

/// Stored in place of a page number for "no tree".
pub(crate) const NO_PAGE: u64 = u64::MAX;

/// What a meta page records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Meta {
    pub(crate) txn: u64,
    pub(crate) page_size: u32,
    pub(crate) root: Option<u64>,
    pub(crate) free_root: Option<u64>,
    /// The CRC-32 `root` was written with: `None` in a format-1 meta page
    /// (unchecked) and when there is no root.
    pub(crate) root_crc: Option<u32>,
    /// The CRC-32 `free_root` was written with, as `root_crc`.
    pub(crate) free_root_crc: Option<u32>,
    /// Pages in use: every page number the trees reference is below it.
    pub(crate) page_count: u64,
    pub(crate) entry_count: u64,
    /// The table catalogue's root: `None` before format 5 and while the
    /// file has no named table.
    pub(crate) catalog_root: Option<u64>,
    /// The CRC-32 `catalog_root` was written with.
    pub(crate) catalog_root_crc: Option<u32>,
    /// The persistent savepoint tree's root: `None` before format 6 and
    /// while the file has no persistent savepoint.
    pub(crate) savepoint_root: Option<u64>,
    /// The CRC-32 `savepoint_root` was written with.
    pub(crate) savepoint_root_crc: Option<u32>,
    /// Every page stamped with a transaction id up to this one was durable
    /// before this meta page was written (see `SYNCED_TXN_OFFSET`): `txn`
    /// itself unless the commit shared one sync with its pages. `txn` in
    /// meta pages of format 3 and older.
    pub(crate) synced_txn: u64,
}

fn opt(v: u64) -> Option<u64> {
    (v != NO_PAGE).then_some(v)
}

/// Why a meta page was not taken: what [`Db::recovery`](crate::Db::recovery)
/// and [`Error::MetaDamaged`](crate::Error::MetaDamaged) report about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetaProblem {
    /// The page's CRC-32 does not match its bytes.
    Checksum {
        /// The checksum stored in the page.
        expected: u32,
        /// The checksum computed over its bytes.
        found: u32,
    },
    /// The checksum holds but the magic `CowBTree` is missing.
    Magic,
    /// The checksum holds but the format version is one this build does not read.
    Version(u32),
    /// The checksum holds but the kind, page number, page size, page count or
    /// a root page number breaks the format.
    Malformed,
    /// The checksum holds but a number is outside the range the format allows.
    OutOfRange {
        /// The meta page field.
        field: &'static str,
        /// The value stored.
        value: u64,
        /// The largest value allowed.
        limit: u64,
    },
}

impl std::fmt::Display for MetaProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MetaProblem::Checksum { expected, found } => write!(
                f,
                "checksum mismatch (stored {expected:#010x}, computed {found:#010x})"
            ),
            MetaProblem::Magic => write!(f, "no magic (expected {:?})", "CowBTree"),
            MetaProblem::Version(v) => {
                write!(f, "format version {v}, this build reads {FORMAT_VERSION}")
            }
            MetaProblem::Malformed => write!(
                f,
                "kind, page number, page size, page count or root out of the format"
            ),
            MetaProblem::OutOfRange {
                field,
                value,
                limit,
            } => write!(f, "{field} is {value}, at most {limit} allowed"),
        }
    }
}

/// The largest transaction id a meta page may carry: the free tree keeps the
/// top bit of its keys' transaction field for its recent region
/// (`freelist::RECENT_BIT`), and the next commit takes `txn + 1`.
pub(crate) const TXN_MAX: u64 = (1 << 63) - 2;

/// The fewest bytes a leaf entry takes in its page: its slot and its header.
const LEAF_ENTRY_BYTES_MIN: u64 =
    (crate::node::SLOT_BYTES + crate::node::LEAF_ENTRY_HEADER_BYTES) as u64;

impl Meta {
    /// The main tree's root, with the CRC-32 to check it against.
    pub(crate) fn root_ref(&self) -> Option<Child> {
        self.root.map(|page| Child {
            page,
            crc: self.root_crc,
        })
    }

    /// The free tree's root, with the CRC-32 to check it against.
    pub(crate) fn free_root_ref(&self) -> Option<Child> {
        self.free_root.map(|page| Child {
            page,
            crc: self.free_root_crc,
        })
    }

    /// The table catalogue's root, with the CRC-32 to check it against.
    pub(crate) fn catalog_ref(&self) -> Option<Child> {
        self.catalog_root.map(|page| Child {
            page,
            crc: self.catalog_root_crc,
        })
    }

    /// The persistent savepoint tree's root, with the CRC-32 to check it against.
    pub(crate) fn savepoint_ref(&self) -> Option<Child> {
        self.savepoint_root.map(|page| Child {
            page,
            crc: self.savepoint_root_crc,
        })
    }

    /// Encodes into `buf` (one page) as meta page `slot` (0 or 1).
    pub(crate) fn encode(&self, buf: &mut [u8], slot: u64) {
        buf.fill(0);
        page::write_header(buf, Kind::Meta, slot, self.txn, 0);
        buf[MAGIC_OFFSET..VERSION_OFFSET].copy_from_slice(&MAGIC);
        page::put_u32(buf, VERSION_OFFSET, FORMAT_VERSION);
        page::put_u32(buf, PAGE_SIZE_OFFSET, self.page_size);
        page::put_u64(buf, ROOT_OFFSET, self.root.unwrap_or(NO_PAGE));
        page::put_u64(buf, FREE_ROOT_OFFSET, self.free_root.unwrap_or(NO_PAGE));
        page::put_u64(buf, PAGE_COUNT_OFFSET, self.page_count);
        page::put_u64(buf, ENTRY_COUNT_OFFSET, self.entry_count);
        page::put_u32(buf, ROOT_CRC_OFFSET, self.root_crc.unwrap_or(0));
        page::put_u32(buf, FREE_ROOT_CRC_OFFSET, self.free_root_crc.unwrap_or(0));
        page::put_u64(buf, SYNCED_TXN_OFFSET, self.synced_txn);
        page::put_u64(
            buf,
            CATALOG_ROOT_OFFSET,
            self.catalog_root.unwrap_or(NO_PAGE),
        );
        page::put_u32(
            buf,
            CATALOG_ROOT_CRC_OFFSET,
            self.catalog_root_crc.unwrap_or(0),
        );
        page::put_u64(
            buf,
            SAVEPOINT_ROOT_OFFSET,
            self.savepoint_root.unwrap_or(NO_PAGE),
        );
        page::put_u32(
            buf,
            SAVEPOINT_ROOT_CRC_OFFSET,
            self.savepoint_root_crc.unwrap_or(0),
        );
        page::seal(buf);
    }

    /// The page size a meta page claims, read before its checksum can be
    /// checked (the checksum covers the whole page). `buf` holds at least
    /// `META_END` bytes.
    pub(crate) fn peek_page_size(buf: &[u8]) -> Option<u32> {
        (buf[MAGIC_OFFSET..VERSION_OFFSET] == MAGIC).then(|| page::get_u32(buf, PAGE_SIZE_OFFSET))
    }

    /// Decodes meta page `slot` from `buf` (one whole page).
    pub(crate) fn decode(buf: &[u8], slot: u64) -> Result<Meta, MetaProblem> {
        if buf.len() < META_END {
            return Err(MetaProblem::Malformed);
        }
        let (expected, found) = page::checksums(buf);
        if expected != found {
            return Err(MetaProblem::Checksum { expected, found });
        }
        if buf[MAGIC_OFFSET..VERSION_OFFSET] != MAGIC {
            return Err(MetaProblem::Magic);
        }
        let version = page::get_u32(buf, VERSION_OFFSET);
        if !(FORMAT_VERSION_MIN..=FORMAT_VERSION).contains(&version) {
            return Err(MetaProblem::Version(version));
        }
        if Kind::from_byte(buf[page::KIND_OFFSET]) != Some(Kind::Meta)
            || page::get_u64(buf, page::PAGE_ID_OFFSET) != slot
            || page::get_u32(buf, PAGE_SIZE_OFFSET) as usize != buf.len()
        {
            return Err(MetaProblem::Malformed);
        }
        let root = opt(page::get_u64(buf, ROOT_OFFSET));
        let free_root = opt(page::get_u64(buf, FREE_ROOT_OFFSET));
        let crc_of = |tree: Option<u64>, at: usize| {
            (version >= 2 && tree.is_some()).then(|| page::get_u32(buf, at))
        };
        let txn = page::get_u64(buf, page::TXN_OFFSET);
        let catalog_root = if version >= 5 {
            opt(page::get_u64(buf, CATALOG_ROOT_OFFSET))
        } else {
            None
        };
        let savepoint_root = if version >= 6 {
            opt(page::get_u64(buf, SAVEPOINT_ROOT_OFFSET))
        } else {
            None
        };
        let meta = Meta {
            txn,
            page_size: page::get_u32(buf, PAGE_SIZE_OFFSET),
            root,
            free_root,
            root_crc: crc_of(root, ROOT_CRC_OFFSET),
            free_root_crc: crc_of(free_root, FREE_ROOT_CRC_OFFSET),
            page_count: page::get_u64(buf, PAGE_COUNT_OFFSET),
            entry_count: page::get_u64(buf, ENTRY_COUNT_OFFSET),
            catalog_root,
            catalog_root_crc: catalog_root.map(|_| page::get_u32(buf, CATALOG_ROOT_CRC_OFFSET)),
            savepoint_root,
            savepoint_root_crc: savepoint_root
                .map(|_| page::get_u32(buf, SAVEPOINT_ROOT_CRC_OFFSET)),
            synced_txn: if version >= 4 {
                page::get_u64(buf, SYNCED_TXN_OFFSET)
            } else {
                txn
            },
        };
        let in_range = |p: Option<u64>| {
            p.is_none_or(|p| (page::FIRST_DATA_PAGE..meta.page_count).contains(&p))
        };
        if meta.page_count < page::FIRST_DATA_PAGE
            || !in_range(meta.root)
            || !in_range(meta.free_root)
            || !in_range(meta.catalog_root)
            || !in_range(meta.savepoint_root)
        {
            return Err(MetaProblem::Malformed);
        }
        Ok(meta)
    }
}

impl Meta {
    /// Checks the numbers `decode` does not: a CRC proves the bytes are the
    /// ones written, not that the writer was right. `file_len` is checked by
    /// the caller (a meta page past the end of the file is a truncation, not
    /// a bad meta page).
    pub(crate) fn check_ranges(&self) -> Result<(), MetaProblem> {
        let out = |field, value, limit| {
            Err(MetaProblem::OutOfRange {
                field,
                value,
                limit,
            })
        };
        if self.txn > TXN_MAX {
            return out("transaction id", self.txn, TXN_MAX);
        }
        if self.synced_txn > self.txn {
            return out("synced transaction id", self.synced_txn, self.txn);
        }
        let page_size = u64::from(self.page_size);
        // Every byte offset of a page below the page count fits in a u64.
        let page_count_max = u64::MAX / page_size;
        if self.page_count > page_count_max {
            return out("page count", self.page_count, page_count_max);
        }
        // Each entry takes at least a slot and a leaf entry header in a leaf
        // page of the tree, and every such page is below the page count.
        let per_page = (page_size - HEADER_BYTES as u64) / LEAF_ENTRY_BYTES_MIN;
        let entries_max =
            (self.page_count.saturating_sub(page::FIRST_DATA_PAGE)).saturating_mul(per_page);
        if self.entry_count > entries_max {
            return out("entry count", self.entry_count, entries_max);
        }
        if self.root.is_none() && self.entry_count != 0 {
            return out("entry count of an empty tree", self.entry_count, 0);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> Meta {
        Meta {
            txn: 42,
            page_size: 512,
            root: Some(7),
            free_root: None,
            root_crc: Some(0xdead_beef),
            free_root_crc: None,
            page_count: 9,
            entry_count: 100,
            catalog_root: Some(8),
            catalog_root_crc: Some(0x1234_5678),
            savepoint_root: Some(6),
            savepoint_root_crc: Some(0x0bad_cafe),
            synced_txn: 40,
        }
    }

    #[test]
    fn meta_round_trips_through_its_page() {
        let mut buf = vec![0u8; 512];
        meta().encode(&mut buf, 1);
        assert_eq!(Meta::decode(&buf, 1), Ok(meta()));
        assert_eq!(Meta::peek_page_size(&buf), Some(512));
    }

    #[test]
    fn meta_decode_rejects_the_other_slot_and_any_flipped_bit() {
        let mut buf = vec![0u8; 512];
        meta().encode(&mut buf, 0);
        assert_eq!(Meta::decode(&buf, 1), Err(MetaProblem::Malformed));
        for byte in [0, 5, 17, 33, 60, 511] {
            let mut bad = buf.clone();
            bad[byte] ^= 0x10;
            assert!(Meta::decode(&bad, 0).is_err(), "byte {byte}");
        }
    }

    /// Sets a u64 field of an encoded meta page and reseals its checksum.
    fn resealed(offset: usize, value: u64) -> Result<Meta, MetaProblem> {
        let mut buf = vec![0u8; 512];
        meta().encode(&mut buf, 0);
        page::put_u64(&mut buf, offset, value);
        page::seal(&mut buf);
        Meta::decode(&buf, 0).and_then(|m| m.check_ranges().map(|()| m))
    }

    #[test]
    fn meta_numbers_out_of_range_are_rejected_though_the_checksum_holds() {
        let out = |field| move |r| matches!(r, Err(MetaProblem::OutOfRange { field: f, .. }) if f == field);
        assert!(out("transaction id")(resealed(page::TXN_OFFSET, 1 << 63)));
        assert!(out("transaction id")(resealed(page::TXN_OFFSET, u64::MAX)));
        assert!(out("page count")(resealed(PAGE_COUNT_OFFSET, u64::MAX / 2)));
        assert!(out("entry count")(resealed(ENTRY_COUNT_OFFSET, 1 << 40)));
        assert!(out("synced transaction id")(resealed(
            SYNCED_TXN_OFFSET,
            43
        )));
        assert!(resealed(SYNCED_TXN_OFFSET, 42).is_ok());
        assert_eq!(resealed(ROOT_OFFSET, 9), Err(MetaProblem::Malformed));
        assert_eq!(resealed(FREE_ROOT_OFFSET, 1), Err(MetaProblem::Malformed));
        assert_eq!(
            resealed(CATALOG_ROOT_OFFSET, 9),
            Err(MetaProblem::Malformed)
        );
        assert_eq!(
            resealed(SAVEPOINT_ROOT_OFFSET, 9),
            Err(MetaProblem::Malformed)
        );
        assert_eq!(resealed(PAGE_COUNT_OFFSET, 1), Err(MetaProblem::Malformed));
        // The largest values still in range pass.
        assert!(resealed(page::TXN_OFFSET, TXN_MAX).is_ok());
        let entries_max = (9 - 2) * ((512 - 32) / LEAF_ENTRY_BYTES_MIN);
        assert!(resealed(ENTRY_COUNT_OFFSET, entries_max).is_ok());
        assert!(out("entry count")(resealed(
            ENTRY_COUNT_OFFSET,
            entries_max + 1
        )));
        let empty = Meta {
            root: None,
            ..meta()
        };
        assert!(out("entry count of an empty tree")(
            empty.check_ranges().map(|()| empty)
        ));
    }

    #[test]
    fn meta_decode_rejects_a_root_past_the_page_count() {
        let mut buf = vec![0u8; 512];
        Meta {
            root: Some(9),
            ..meta()
        }
        .encode(&mut buf, 0);
        assert_eq!(Meta::decode(&buf, 0), Err(MetaProblem::Malformed));
    }
}
