//! Reads every block of every `lsm` table in a directory and checks its
//! CRC, following the layout in `lsm/FORMAT.md` (header, footer, index
//! block of 16-byte handles, block trailers). `lsm` has no entry point that
//! lists every damaged block, and its iterator stops at the first, so
//! `verify` walks the files itself and reports each bad block.

use std::path::{Path, PathBuf};

use crate::Corruption;

const MAGIC: &[u8; 8] = b"lsm-sst\0";
const VERSION: u32 = 1;
const HEADER_BYTES: u64 = 12;
const FOOTER_BYTES: u64 = 64;
const FOOTER_CRC_OFFSET: usize = 52;
const FOOTER_MAGIC_OFFSET: usize = 56;
const TRAILER_BYTES: usize = 5;
const HANDLE_BYTES: usize = 16;

/// What the walk found.
#[derive(Debug, Default)]
pub(crate) struct Walk {
    pub(crate) tables: u64,
    pub(crate) blocks: u64,
    pub(crate) corruptions: Vec<Corruption>,
}

/// Walks every `*.sst` file of `dir`.
///
/// # Errors
///
/// An I/O error listing the directory or reading a file.
pub(crate) fn walk_tables(fs: &dyn vfs::Fs, dir: &Path) -> Result<Walk, vfs::Error> {
    let mut names: Vec<_> = fs
        .list_dir(dir)?
        .into_iter()
        .filter(|n| n.to_string_lossy().ends_with(".sst"))
        .collect();
    names.sort();
    let mut walk = Walk::default();
    for name in names {
        let path = dir.join(&name);
        let file = fs.open(&path, vfs::OpenMode::Read)?;
        let mut bytes = vec![0u8; usize::try_from(file.len()?).unwrap_or(usize::MAX)];
        file.read_exact_at(&mut bytes, 0)?;
        walk.tables += 1;
        check_table(&path, &bytes, &mut walk);
    }
    Ok(walk)
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn bad(walk: &mut Walk, file: &Path, offset: u64, what: String) {
    walk.corruptions.push(Corruption {
        file: PathBuf::from(file),
        offset,
        what,
    });
}

fn check_table(path: &Path, b: &[u8], walk: &mut Walk) {
    let len = b.len() as u64;
    if len < HEADER_BYTES + FOOTER_BYTES {
        return bad(
            walk,
            path,
            0,
            format!("table of {len} bytes is shorter than header and footer"),
        );
    }
    if &b[..8] != MAGIC || u32_at(b, 8) != Some(VERSION) {
        bad(walk, path, 0, "table header magic or version".to_string());
    }
    let footer_at = len - FOOTER_BYTES;
    let footer = &b[footer_at as usize..];
    let stored = u32_at(footer, FOOTER_CRC_OFFSET).unwrap_or(0);
    let computed = crc32fast::hash(&footer[..FOOTER_CRC_OFFSET]);
    if &footer[FOOTER_MAGIC_OFFSET..] != MAGIC || stored != computed {
        // Without a footer the blocks cannot be found.
        return bad(
            walk,
            path,
            footer_at,
            format!("footer checksum or magic (expected {stored:#x}, found {computed:#x})"),
        );
    }
    let handle = |at: usize| Some((u64_at(footer, at)?, u64_at(footer, at + 8)?));
    let (Some(index), Some(filter), Some(props)) = (handle(0), handle(16), handle(32)) else {
        return bad(walk, path, footer_at, "footer handles".to_string());
    };
    for (what, h) in [("filter block", filter), ("properties block", props)] {
        if h.1 > 0 {
            check_block(path, b, h, what, walk);
        }
    }
    let Some(contents) = check_block(path, b, index, "index block", walk) else {
        return;
    };
    let Some(handles) = index_handles(contents) else {
        return bad(
            walk,
            path,
            index.0,
            "index block entries malformed".to_string(),
        );
    };
    for h in handles {
        check_block(path, b, h, "data block", walk);
    }
}

/// Checks the stored block at `(offset, size)`; returns its contents if sound.
fn check_block<'a>(
    path: &Path,
    b: &'a [u8],
    (offset, size): (u64, u64),
    what: &str,
    walk: &mut Walk,
) -> Option<&'a [u8]> {
    walk.blocks += 1;
    let end = offset
        .checked_add(size)
        .filter(|&e| e <= b.len() as u64 && size >= TRAILER_BYTES as u64);
    let Some(end) = end else {
        bad(
            walk,
            path,
            offset,
            format!("{what} handle ({offset}, {size}) outside the file"),
        );
        return None;
    };
    let stored = &b[offset as usize..end as usize];
    let body = stored.len() - TRAILER_BYTES;
    let expected = u32_at(stored, body + 1).unwrap_or(0);
    let found = crc32fast::hash(&stored[..=body]);
    if expected != found {
        bad(
            walk,
            path,
            offset,
            format!("{what} checksum (expected {expected:#x}, found {found:#x})"),
        );
        return None;
    }
    Some(&stored[..body])
}

fn varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*pos)?;
        *pos += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// The block handles of an (uncompressed) index block.
fn index_handles(block: &[u8]) -> Option<Vec<(u64, u64)>> {
    let restarts = u32_at(block, block.len().checked_sub(4)?)? as usize;
    let entries_end = block.len().checked_sub(4 + restarts.checked_mul(4)?)?;
    let entries = &block[..entries_end];
    let mut pos = 0;
    let mut out = Vec::new();
    while pos < entries.len() {
        let _shared = varint(entries, &mut pos)?;
        let unshared = usize::try_from(varint(entries, &mut pos)?).ok()?;
        let value_len = usize::try_from(varint(entries, &mut pos)?).ok()?;
        pos = pos.checked_add(unshared)?;
        let value = entries.get(pos..pos.checked_add(value_len)?)?;
        if value.len() != HANDLE_BYTES {
            return None;
        }
        out.push((u64_at(value, 0)?, u64_at(value, 8)?));
        pos += value_len;
    }
    Some(out)
}
