//! Which commit open takes, and why: reading both meta pages, telling a
//! damaged one that may have held the newest durable commit from one that
//! cannot have, and checking both pages again for [`Db::check`].
//!
//! Why a damaged meta page is damage, not a torn write: a meta page's
//! fields all lie in its first 512-byte sector, and the rest of the page is
//! zeros in every meta page ever written, so a meta write torn at sector
//! granularity (what `FORMAT.md` assumes of the disk, and what
//! `vfs::MemFs` simulates) leaves either the old page or the new one,
//! whole, both with a good checksum. The one exception is a new file,
//! whose meta pages are written over zeros: a creation cut short leaves a
//! zero page beside a valid commit 0.
//!
//! Why open may still take the other page: if the damaged page held an
//! older commit, the valid page is the newest durable commit and nothing is
//! lost. If it held a newer commit `T`, that commit's pages (stamped with
//! `T` in their header) were synced before its meta page was written, and
//! only commits newer still overwrite them. So a file in which no page
//! carries a transaction id above the valid meta page's cannot have had a
//! newer durable commit: open takes the valid page and says so. Otherwise
//! it refuses ([`Error::MetaDamaged`]): the pages may be those of a lost
//! durable commit, or of commits made after the valid one and never synced
//! (a crash after `Durability::None` commits); the file cannot tell which.
//!
//! A commit made with one sync (format 4, `synced_txn < txn`: its pages and
//! its meta page were written before a single sync) may be torn: a crash
//! during that sync can leave the meta page on disk without some of the
//! pages. Open then checks that commit ([`verify_commit`]): from each root,
//! every page stamped after `synced_txn` must hold exactly the bytes its
//! parent (or the meta page) recorded the checksum of, and every child of
//! such a page the checksum recorded for it. A page stamped at or before
//! `synced_txn` was durable before the meta page was written. If a page
//! fails, the commit never became durable (its sync did not return), and
//! open takes the other meta page, the previous durable commit, whose
//! pages the torn commit did not overwrite. A writable open first syncs the
//! file (`Db::open`), so that what it checks is what the disk holds.

use std::path::Path;
use std::sync::atomic::Ordering;

use vfs::{File, OpenMode};

use crate::catalog::TableRecord;
use crate::cursor::DEPTH_MAX;
use crate::db::Db;
use crate::meta::{FORMAT_VERSION, META_END, Meta, MetaProblem};
use crate::node::{Child, RawNode, RawValue, malformed};
use crate::page::{self, FIRST_DATA_PAGE, HEADER_BYTES, Kind, Limits};
use crate::{Error, Result};

/// The smallest unit a torn write keeps whole, as `FORMAT.md` assumes and
/// `vfs::MemFs` simulates (`vfs::SECTOR_BYTES`).
const SECTOR_BYTES: usize = 512;
// The argument above needs every meta field in the first sector.
const _: () = assert!(META_END <= SECTOR_BYTES);

/// What [`Db::open`] found in the two meta pages
/// ([`Db::recovery`](crate::Db::recovery)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recovery {
    /// The transaction id of the commit opened.
    pub txn: u64,
    /// The meta page (0 or 1) it was read from.
    pub slot: u64,
    /// What the other meta page (`1 - slot`) holds.
    pub other: OtherMeta,
}

/// What the meta page open did not take holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OtherMeta {
    /// A valid meta page of an older commit, or of the same one (a new or
    /// compacted file has both pages alike).
    Older {
        /// Its transaction id.
        txn: u64,
    },
    /// Zeros beside commit 0: a new file whose creation was cut short
    /// before its first sync. Harmless; the first durable commit fills it.
    Unwritten,
    /// Damaged. Open took the other page because no page of the file was
    /// written by a later commit, so no durable commit is lost;
    /// [`Db::check`] reports the damage until the next durable commit
    /// rewrites the page.
    Damaged {
        /// What is wrong with it.
        problem: MetaProblem,
    },
    /// A newer commit, made with one sync for its pages and its meta page,
    /// that a crash cut short: one of its pages did not reach the disk as
    /// written. The commit never returned durable, so open took the commit
    /// before it; the next durable commit overwrites this page.
    Torn {
        /// The torn commit's transaction id.
        txn: u64,
        /// The first of its pages found not as written.
        page: u64,
        /// The checksum recorded for that page by its parent or the meta page.
        expected: u32,
        /// The checksum the page holds, or that its bytes give.
        found: u32,
    },
}

impl Recovery {
    /// Whether both meta pages were sound and open took the newest: `false`
    /// after a damaged one or a torn commit was passed over.
    pub fn is_clean(&self) -> bool {
        !matches!(
            self.other,
            OtherMeta::Damaged { .. } | OtherMeta::Torn { .. }
        )
    }
}

impl std::fmt::Display for Recovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (txn, slot, other) = (self.txn, self.slot, self.slot ^ 1);
        write!(
            f,
            "opened commit {txn} from meta page {slot}; meta page {other} "
        )?;
        match self.other {
            OtherMeta::Older { txn } => write!(f, "holds commit {txn}"),
            OtherMeta::Unwritten => write!(f, "was never written (creation cut short)"),
            OtherMeta::Damaged { problem } => write!(
                f,
                "is damaged ({problem}); no page was written after commit {txn}, so no durable \
                 commit is lost"
            ),
            OtherMeta::Torn {
                txn: torn,
                page,
                expected,
                found,
            } => write!(
                f,
                "holds commit {torn}, whose single sync a crash cut short: page {page} holds \
                 checksum {found:#010x}, not the {expected:#010x} recorded for it"
            ),
        }
    }
}

/// One meta page as read.
enum Slot {
    Valid(Meta),
    Bad { problem: MetaProblem, zeros: bool },
}

/// Decodes meta page `slot` and checks its numbers.
fn decode(buf: &[u8], slot: u64) -> Slot {
    match Meta::decode(buf, slot).and_then(|m| m.check_ranges().map(|()| m)) {
        Ok(m) => Slot::Valid(m),
        Err(problem) => Slot::Bad {
            problem,
            zeros: buf.iter().all(|&b| b == 0),
        },
    }
}

/// A meta page whose pages do not fit in the file is a truncation.
fn check_fits(meta: &Meta, slot: u64, path: &Path, file_len: u64) -> Result<()> {
    if meta.page_count.saturating_mul(u64::from(meta.page_size)) > file_len {
        return Err(Error::Truncated {
            file: path.to_path_buf(),
            page: slot,
            page_count: meta.page_count,
            page_size: meta.page_size,
            file_len,
        });
    }
    Ok(())
}

/// Reads both meta pages and picks the commit to open (see the module doc).
pub(crate) fn read_metas(
    file: &dyn File,
    path: &Path,
    page_size: u32,
    file_len: u64,
) -> Result<(Meta, Recovery)> {
    let ps = page_size as usize;
    let mut head = vec![0u8; META_END];
    if file_len >= head.len() as u64 {
        file.read_exact_at(&mut head, 0)?;
        // Slot 0 may name another page size: trust it only if its checksum holds.
        if let Some(found) = Meta::peek_page_size(&head)
            && found != page_size
            && found.is_power_of_two()
            && (512..=32768).contains(&found)
            && file_len >= u64::from(found)
        {
            let mut page = vec![0u8; found as usize];
            file.read_exact_at(&mut page, 0)?;
            if Meta::decode(&page, 0).is_ok() {
                return Err(Error::PageSize {
                    file: path.to_path_buf(),
                    expected: page_size,
                    found,
                });
            }
        }
    }
    let mut buf = vec![0u8; ps];
    let mut slots = Vec::with_capacity(2);
    for slot in 0..2u64 {
        if file_len < (slot + 1) * ps as u64 {
            slots.push(None);
            continue;
        }
        file.read_exact_at(&mut buf, slot * ps as u64)?;
        slots.push(Some(decode(&buf, slot)));
    }
    for (slot, s) in (0u64..).zip(&slots) {
        match s {
            Some(Slot::Valid(m)) => check_fits(m, slot, path, file_len)?,
            // A newer build wrote it: the newest commit may be there.
            Some(Slot::Bad {
                problem: MetaProblem::Version(found),
                ..
            }) => {
                return Err(Error::Version {
                    file: path.to_path_buf(),
                    expected: FORMAT_VERSION,
                    found: *found,
                });
            }
            _ => {}
        }
    }
    let (meta, slot, other) = match (&slots[0], &slots[1]) {
        (Some(Slot::Valid(a)), Some(Slot::Valid(b))) => {
            let (m, slot, o) = if b.txn > a.txn { (b, 1, a) } else { (a, 0, b) };
            match torn(file, path, m)? {
                None => (*m, slot, OtherMeta::Older { txn: o.txn }),
                // The previous durable commit is the other slot's.
                Some(t) if o.txn == m.synced_txn => (
                    *o,
                    slot ^ 1,
                    OtherMeta::Torn {
                        txn: m.txn,
                        page: t.page,
                        expected: t.expected,
                        found: t.found,
                    },
                ),
                Some(t) => return Err(t.into_error(path)),
            }
        }
        (Some(Slot::Valid(m)), Some(Slot::Bad { problem, zeros }))
        | (Some(Slot::Bad { problem, zeros }), Some(Slot::Valid(m))) => {
            let slot = u64::from(matches!(slots[0], Some(Slot::Bad { .. })));
            // No commit to fall back to.
            if let Some(t) = torn(file, path, m)? {
                return Err(t.into_error(path));
            }
            if let Some((newer_page, newer_txn)) = page_written_after(file, file_len, ps, m.txn)? {
                return Err(Error::MetaDamaged {
                    file: path.to_path_buf(),
                    page: slot ^ 1,
                    problem: *problem,
                    fallback_txn: m.txn,
                    newer_page,
                    newer_txn,
                });
            }
            let other = if *zeros && m.txn == 0 {
                OtherMeta::Unwritten
            } else {
                OtherMeta::Damaged { problem: *problem }
            };
            (*m, slot, other)
        }
        _ => {
            return Err(Error::NoValidMeta {
                file: path.to_path_buf(),
            });
        }
    };
    Ok((
        meta,
        Recovery {
            txn: meta.txn,
            slot,
            other,
        },
    ))
}

/// A page of a commit made with one sync that is not as its parent (or
/// the meta page) recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TornPage {
    pub(crate) page: u64,
    pub(crate) expected: u32,
    pub(crate) found: u32,
}

impl TornPage {
    /// The error when no earlier commit can be opened instead.
    fn into_error(self, path: &Path) -> Error {
        Error::Corruption {
            file: path.to_path_buf(),
            page: self.page,
            expected: self.expected,
            found: self.found,
        }
    }
}

/// Whether `meta`, a valid meta page, records a commit made with one sync
/// whose pages did not all reach the disk (see the module doc).
/// Its pages lie inside the file (`check_fits`): a commit that grew the
/// file syncs before its meta page (`commit::make_durable`).
fn torn(file: &dyn File, path: &Path, meta: &Meta) -> Result<Option<TornPage>> {
    if meta.synced_txn >= meta.txn {
        return Ok(None);
    }
    verify_commit(file, path, meta)
}

/// Checks the pages of the commit `meta` records that are stamped after
/// `meta.synced_txn` (see the module doc): returns the first page found not
/// as recorded, `None` if every one is. Reads each such page whole, and
/// the header of each page or overflow run they reference.
///
/// # Errors
///
/// `Io` if a read fails; `Malformed` if a page is as recorded but breaks
/// the format (the writer wrote it so: not a torn write).
pub(crate) fn verify_commit(file: &dyn File, path: &Path, meta: &Meta) -> Result<Option<TornPage>> {
    let ps = meta.page_size as usize;
    let limits = Limits::new(ps);
    // (page, recorded CRC, overflow value length or None for a node, depth,
    // what its leaves hold: entries, or records naming other trees' roots)
    let mut stack: Vec<(u64, u32, Option<u64>, usize, Holds)> = Vec::new();
    for (root, catalog) in [
        (meta.root_ref(), Holds::Entries),
        (meta.free_root_ref(), Holds::Entries),
        (meta.catalog_ref(), Holds::Tables),
        (meta.savepoint_ref(), Holds::Savepoints),
    ] {
        if let Some(Child {
            page,
            crc: Some(crc),
        }) = root
        {
            stack.push((page, crc, None, 0, catalog));
        }
    }
    let mut head = [0u8; HEADER_BYTES];
    let mut buf = Vec::new();
    while let Some((id, expected, value_len, depth, catalog)) = stack.pop() {
        let pages = match value_len {
            None => 1,
            Some(len) => limits.run_pages(len),
        };
        if id < FIRST_DATA_PAGE || id.saturating_add(pages) > meta.page_count {
            return Err(malformed(path, id, "page outside the commit's page count"));
        }
        file.read_exact_at(&mut head, id * ps as u64)?;
        let found = page::stored_crc(&head);
        if found != expected {
            return Ok(Some(TornPage {
                page: id,
                expected,
                found,
            }));
        }
        if page::get_u64(&head, page::TXN_OFFSET) <= meta.synced_txn {
            // Durable before the meta page was written.
            continue;
        }
        buf.resize(pages as usize * ps, 0);
        file.read_exact_at(&mut buf, id * ps as u64)?;
        let (stored, computed) = page::checksums(&buf);
        if stored != computed {
            return Ok(Some(TornPage {
                page: id,
                expected,
                found: computed,
            }));
        }
        if value_len.is_some() || Kind::from_byte(buf[page::KIND_OFFSET]) == Some(Kind::Overflow) {
            continue;
        }
        if depth >= DEPTH_MAX {
            return Err(malformed(path, id, "tree deeper than any valid tree"));
        }
        let node = RawNode::new(&buf, path, id)?;
        for i in 0..node.count() {
            if node.is_leaf() {
                match node.leaf_entry(i)? {
                    (_, RawValue::Inline(record)) if catalog == Holds::Tables => {
                        let record = TableRecord::decode(record, path, id, meta.page_count)?;
                        if let Some(Child {
                            page,
                            crc: Some(crc),
                        }) = record.root
                        {
                            stack.push((page, crc, None, 0, Holds::Entries));
                        }
                    }
                    (key, RawValue::Inline(record)) if catalog == Holds::Savepoints => {
                        // The savepoint's commit may be one this commit's
                        // sync made durable too.
                        let sp_id = key.try_into().map(u64::from_be_bytes).map_err(|_| {
                            malformed(path, id, "savepoint key of the wrong length")
                        })?;
                        let bounds = crate::persistent::Bounds {
                            txn: meta.txn,
                            page_count: meta.page_count,
                            page_size: ps,
                        };
                        let record = crate::persistent::SavepointRecord::decode(
                            record, path, id, sp_id, bounds,
                        )?;
                        for (root, holds) in [
                            (record.root, Holds::Entries),
                            (record.catalog_root, Holds::Tables),
                        ] {
                            if let Some(Child {
                                page,
                                crc: Some(crc),
                            }) = root
                            {
                                stack.push((page, crc, None, 0, holds));
                            }
                        }
                    }
                    (
                        _,
                        RawValue::Overflow {
                            page,
                            len,
                            crc: Some(crc),
                        },
                    ) => stack.push((page, crc, Some(len), depth + 1, Holds::Entries)),
                    _ => {}
                }
            } else if let Some(crc) = node.child(i)?.crc {
                stack.push((node.child(i)?.page, crc, None, depth + 1, catalog));
            }
        }
    }
    Ok(None)
}

/// What the leaves of a tree `verify_commit` walks hold.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Holds {
    /// Entries (a table's, or the free tree's).
    Entries,
    /// Table records naming their trees' roots (the catalogue).
    Tables,
    /// Savepoint records naming the roots of the commits they keep.
    Savepoints,
}

/// Pages read at once while scanning headers.
const SCAN_CHUNK_PAGES: u64 = 256;

/// The data page carrying the highest transaction id above `txn` in its
/// header, if any. A page counts if its header names its own number and a
/// tree page kind (so zeros and the continuation pages of overflow runs,
/// which hold value bytes, do not); its checksum is not required, as a
/// torn write keeps its first sector, header and all.
fn page_written_after(
    file: &dyn File,
    file_len: u64,
    ps: usize,
    txn: u64,
) -> Result<Option<(u64, u64)>> {
    let pages = file_len / ps as u64;
    let mut newest: Option<(u64, u64)> = None;
    let mut buf = Vec::new();
    let mut first = FIRST_DATA_PAGE;
    while first < pages {
        let n = SCAN_CHUNK_PAGES.min(pages - first);
        buf.resize(n as usize * ps, 0);
        file.read_exact_at(&mut buf, first * ps as u64)?;
        for (i, page) in buf.chunks_exact(ps).enumerate() {
            let id = first + i as u64;
            let kind = Kind::from_byte(page[page::KIND_OFFSET]);
            let stamped = page::get_u64(page, page::TXN_OFFSET);
            if matches!(kind, Some(Kind::Branch | Kind::Leaf | Kind::Overflow))
                && page::get_u64(page, page::PAGE_ID_OFFSET) == id
                && stamped > txn
                && newest.is_none_or(|(_, t)| stamped > t)
            {
                newest = Some((id, stamped));
            }
        }
        first += n;
    }
    Ok(newest)
}

/// Attempts at reading both meta pages between two meta writes before
/// waiting for the writer lock instead.
const META_READ_ATTEMPTS: u32 = 64;

impl Db {
    /// Checks both meta pages as they are on disk now: each decodes, its
    /// numbers are in range and its pages fit in the file. A zero page
    /// beside commit 0 (a creation cut short) passes.
    pub(crate) fn check_metas(&self) -> Result<()> {
        let inner = &*self.inner;
        let ps = inner.limits.page_size;
        let file = inner.fs.open(&inner.path, OpenMode::Read)?;
        let mut pages = vec![0u8; 2 * ps];
        let read = |pages: &mut [u8]| -> Result<u64> {
            let len = file.len()?;
            if len < pages.len() as u64 {
                return Ok(len);
            }
            file.read_exact_at(pages, 0)?;
            Ok(len)
        };
        // A sequence lock: `meta_writes` is odd while a meta page is being
        // written. A write transaction on this thread writes no meta page,
        // so the loop ends; a writer on another thread is waited for.
        let mut file_len = None;
        for _ in 0..META_READ_ATTEMPTS {
            let before = inner.meta_writes.load(Ordering::SeqCst);
            if before % 2 == 1 {
                std::thread::yield_now();
                continue;
            }
            let len = read(&mut pages)?;
            if inner.meta_writes.load(Ordering::SeqCst) == before {
                file_len = Some(len);
                break;
            }
        }
        let file_len = match file_len {
            Some(len) => len,
            None => {
                let _w = inner.writer.lock();
                read(&mut pages)?
            }
        };
        if file_len < pages.len() as u64 {
            return Err(Error::Truncated {
                file: inner.path.clone(),
                page: 0,
                page_count: FIRST_DATA_PAGE,
                page_size: ps as u32,
                file_len,
            });
        }
        let slots: Vec<Slot> = (0..2u64)
            .map(|slot| decode(&pages[slot as usize * ps..][..ps], slot))
            .collect();
        for (slot, s) in (0u64..).zip(&slots) {
            match s {
                Slot::Valid(m) => check_fits(m, slot, &inner.path, file_len)?,
                Slot::Bad { problem, zeros } => {
                    let beside_new =
                        matches!(&slots[(slot ^ 1) as usize], Slot::Valid(m) if m.txn == 0);
                    if *zeros && beside_new {
                        continue;
                    }
                    return Err(match *problem {
                        MetaProblem::Checksum { expected, found } => Error::Corruption {
                            file: inner.path.clone(),
                            page: slot,
                            expected,
                            found,
                        },
                        problem => Error::BadMeta {
                            file: inner.path.clone(),
                            page: slot,
                            problem,
                        },
                    });
                }
            }
        }
        Ok(())
    }
}
