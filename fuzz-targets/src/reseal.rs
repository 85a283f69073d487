//! Damage that passes the checksum: one sealed unit of a file an engine
//! wrote (a log fragment of the WAL or the manifest, a table block or the
//! footer, a btree page, an erasure shard header or manifest) is XORed by
//! the fuzzer's bytes and its CRC-32 recomputed. A CRC proves the bytes are
//! the ones written, not that the writer was right, so the decoders behind
//! it must range-check every number they read: lengths, counts, sequence
//! and file numbers, offsets. As with the plain file targets, opening,
//! reading in full and writing must end in `Ok` or `Err`, never a panic.
//!
//! Units are found by their framing and a CRC that holds, not by a full
//! decoder of each format: a log is walked fragment by fragment
//! (`crc: u32 | len: u16 | type: u8 | payload`, never across a 32 KiB
//! block), a table block by block (`contents | compression: u8 | crc: u32`,
//! each block ending where the CRC of the bytes before it is stored), a
//! page by its CRC of bytes 4.. at 0. So a format change that keeps the
//! framing (a new record type, a new field) keeps the targets working, and
//! one that changes it leaves fewer units, never a false failure.
//!
//! Input: `[file, unit: u16, at: u16, mask...]`, little-endian. `file` picks
//! among the files of the target's kind, `unit` among their units, `at` the
//! first byte of the unit to XOR; the mask wraps around inside the unit.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use vfs::{CrashOptions, Fs, MemFs, OpenMode};

use crate::engines::{
    LsmGolden, btree_golden, erasure_golden, exercise_btree, exercise_erasure, exercise_lsm, files,
    lsm_build,
};

/// Bytes of a log block: fragments never cross its boundary.
const LOG_BLOCK_BYTES: usize = 32 * 1024;
/// Bytes of a log fragment header: `crc: u32 | len: u16 | type: u8`.
const LOG_HEADER_BYTES: usize = 7;
/// Bytes of an lsm table's header (magic, version) before the first block.
const TABLE_HEADER_BYTES: usize = 12;
/// Bytes of an lsm table's footer; its CRC covers its first 52.
const TABLE_FOOTER_BYTES: usize = 64;
const TABLE_FOOTER_CRC_OFFSET: usize = 52;
/// Bytes of a block trailer: `compression: u8 | crc: u32`.
const BLOCK_TRAILER_BYTES: usize = 5;
/// The page size of the btree golden file.
const BTREE_PAGE_BYTES: usize = 512;
/// An erasure shard header's CRC offset (covering the bytes before it).
const SHARD_HEADER_CRC_OFFSET: usize = 48;
/// An erasure directory manifest's CRC offset (covering the bytes before it).
const ERASURE_MANIFEST_CRC_OFFSET: usize = 32;

/// A CRC-sealed range of a file: the bytes a mutation may change, and how
/// to seal them again.
#[derive(Clone, Copy, Debug)]
struct Unit {
    /// First byte a mutation may change.
    start: usize,
    /// One past the last.
    end: usize,
    seal: Seal,
}

#[derive(Clone, Copy, Debug)]
enum Seal {
    /// A log fragment whose header starts at `at`: its CRC, at `at`, covers
    /// the type byte and the payload, whose length is read at `at + 4`
    /// after the mutation (which may have changed it).
    LogFragment { at: usize },
    /// The CRC-32 of `covered_start..covered_end`, stored at `crc_at`.
    Fixed {
        covered_start: usize,
        covered_end: usize,
        crc_at: usize,
    },
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn crc_holds(b: &[u8], covered_start: usize, covered_end: usize, crc_at: usize) -> bool {
    match (b.get(covered_start..covered_end), u32_at(b, crc_at)) {
        (Some(covered), Some(crc)) => crc32fast::hash(covered) == crc,
        _ => false,
    }
}

fn fixed(covered_start: usize, covered_end: usize, crc_at: usize) -> Seal {
    Seal::Fixed {
        covered_start,
        covered_end,
        crc_at,
    }
}

fn reseal(b: &mut [u8], seal: Seal) {
    let (covered_start, covered_end, crc_at) = match seal {
        Seal::LogFragment { at } => {
            let len = usize::from(u16::from_le_bytes([b[at + 4], b[at + 5]]));
            (at + 6, (at + LOG_HEADER_BYTES + len).min(b.len()), at)
        }
        Seal::Fixed {
            covered_start,
            covered_end,
            crc_at,
        } => (covered_start, covered_end, crc_at),
    };
    let crc = crc32fast::hash(&b[covered_start..covered_end]);
    b[crc_at..crc_at + 4].copy_from_slice(&crc.to_le_bytes());
}

/// The fragments of a log file (WAL or manifest) up to the first that is
/// not well-formed with a good CRC.
fn log_units(b: &[u8]) -> Vec<Unit> {
    let mut units = Vec::new();
    let mut at = 0;
    while at + LOG_HEADER_BYTES <= b.len() {
        let left = LOG_BLOCK_BYTES - at % LOG_BLOCK_BYTES;
        if left < LOG_HEADER_BYTES {
            at += left;
            continue;
        }
        let len = usize::from(u16::from_le_bytes([b[at + 4], b[at + 5]]));
        let end = at + LOG_HEADER_BYTES + len;
        if LOG_HEADER_BYTES + len > left || !crc_holds(b, at + 6, end, at) {
            break;
        }
        units.push(Unit {
            start: at + 4,
            end,
            seal: Seal::LogFragment { at },
        });
        at = end;
    }
    units
}

/// The blocks of an lsm table, in file order, then its footer. The
/// filter, properties and index blocks are where the footer's handles say;
/// a data block ends at the first place where the 4 bytes stored are the
/// CRC of the block's bytes before them (the filter block cannot be found
/// so: the bloom filter inside it ends with a CRC of its own).
fn table_units(b: &[u8]) -> Vec<Unit> {
    let mut units = Vec::new();
    let Some(footer) = b.len().checked_sub(TABLE_FOOTER_BYTES) else {
        return units;
    };
    let footer_crc_at = footer + TABLE_FOOTER_CRC_OFFSET;
    if footer < TABLE_HEADER_BYTES || !crc_holds(b, footer, footer_crc_at, footer_crc_at) {
        return units;
    }
    let u64_at = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap_or_default());
    // Index, filter, properties: (offset, size) of each stored block.
    let mut meta_blocks: Vec<(usize, usize)> = (0..3)
        .map(|i| (u64_at(footer + 16 * i), u64_at(footer + 16 * i + 8)))
        .filter_map(|(offset, size)| {
            Some((usize::try_from(offset).ok()?, usize::try_from(size).ok()?))
        })
        .filter(|&(offset, size)| {
            size >= BLOCK_TRAILER_BYTES && offset.saturating_add(size) <= footer
        })
        .collect();
    meta_blocks.sort_unstable();
    let data_end = meta_blocks.first().map_or(footer, |&(offset, _)| offset);
    let mut start = TABLE_HEADER_BYTES;
    'blocks: while start + BLOCK_TRAILER_BYTES <= data_end {
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&b[start..start + 1]);
        // `hasher` covers `start..crc_at`: contents and compression byte.
        for crc_at in start + 1..=data_end - 4 {
            if u32_at(b, crc_at) == Some(hasher.clone().finalize()) {
                units.push(Unit {
                    start,
                    end: crc_at,
                    seal: fixed(start, crc_at, crc_at),
                });
                start = crc_at + 4;
                continue 'blocks;
            }
            hasher.update(&b[crc_at..crc_at + 1]);
        }
        break;
    }
    for (offset, size) in meta_blocks {
        let crc_at = offset + size - 4;
        if crc_holds(b, offset, crc_at, crc_at) {
            units.push(Unit {
                start: offset,
                end: crc_at,
                seal: fixed(offset, crc_at, crc_at),
            });
        }
    }
    units.push(Unit {
        start: footer,
        end: footer_crc_at,
        seal: fixed(footer, footer_crc_at, footer_crc_at),
    });
    units
}

/// The pages of a btree file whose CRC (of bytes 4.., at 0) holds.
fn page_units(b: &[u8]) -> Vec<Unit> {
    (0..b.len() / BTREE_PAGE_BYTES)
        .map(|p| p * BTREE_PAGE_BYTES)
        .filter(|&p| crc_holds(b, p + 4, p + BTREE_PAGE_BYTES, p))
        .map(|p| Unit {
            start: p + 4,
            end: p + BTREE_PAGE_BYTES,
            seal: fixed(p + 4, p + BTREE_PAGE_BYTES, p),
        })
        .collect()
}

/// The header of an erasure shard file, or an erasure directory manifest,
/// if its CRC holds.
fn erasure_units(b: &[u8]) -> Vec<Unit> {
    [SHARD_HEADER_CRC_OFFSET, ERASURE_MANIFEST_CRC_OFFSET]
        .into_iter()
        .find(|&crc_at| crc_holds(b, 0, crc_at, crc_at))
        .map(|crc_at| Unit {
            start: 0,
            end: crc_at,
            seal: fixed(0, crc_at, crc_at),
        })
        .into_iter()
        .collect()
}

/// A file of a golden image, with its sealed units.
struct Sealed {
    path: PathBuf,
    bytes: Vec<u8>,
    units: Vec<Unit>,
}

/// The files under `root` of `image` that `units` finds units in.
fn sealed_files(
    image: &MemFs,
    root: &Path,
    want: impl Fn(&str) -> bool,
    units: fn(&[u8]) -> Vec<Unit>,
) -> Vec<Sealed> {
    files(image, root)
        .into_iter()
        .filter(|path| {
            path.file_name()
                .is_some_and(|name| want(&name.to_string_lossy()))
        })
        .filter_map(|path| {
            let bytes = image.open(&path, OpenMode::Read).ok()?.map().ok()?.to_vec();
            let units = units(&bytes);
            (!units.is_empty()).then_some(Sealed { path, bytes, units })
        })
        .collect()
}

/// `bytes` with the unit and mask `data` picks XORed in and resealed, and
/// the path it belongs at; `None` if the input picks nothing.
fn mutate<'a>(sealed: &'a [Sealed], data: &[u8]) -> Option<(&'a Path, Vec<u8>)> {
    let [file, u0, u1, a0, a1, mask @ ..] = data else {
        return None;
    };
    if mask.is_empty() || sealed.is_empty() {
        return None;
    }
    let file = &sealed[usize::from(*file) % sealed.len()];
    let unit = file.units[usize::from(u16::from_le_bytes([*u0, *u1])) % file.units.len()];
    let unit_len = unit.end - unit.start;
    let at = usize::from(u16::from_le_bytes([*a0, *a1])) % unit_len;
    let mut b = file.bytes.clone();
    for (i, m) in mask.iter().enumerate() {
        b[unit.start + (at + i) % unit_len] ^= m;
    }
    reseal(&mut b, unit.seal);
    Some((&file.path, b))
}

/// A durable copy of `golden` with `path` holding `bytes`.
fn patched(golden: &MemFs, path: &Path, bytes: &[u8]) -> Option<MemFs> {
    let image = golden.crash(CrashOptions {
        seed: u64::MAX,
        tear: false,
    });
    let file = image.open(path, OpenMode::Truncate).ok()?;
    file.write_all_at(bytes, 0).ok()?;
    file.sync_data().ok()?;
    Some(image)
}

/// The lsm golden image for these targets: its WAL spans blocks and it has
/// a blob file.
fn lsm_golden() -> &'static MemFs {
    static GOLDEN: OnceLock<MemFs> = OnceLock::new();
    GOLDEN.get_or_init(|| lsm_build(LsmGolden::Spanning))
}

fn lsm_reseal(data: &[u8], sealed: &'static OnceLock<Vec<Sealed>>, kind: fn() -> Vec<Sealed>) {
    let sealed = sealed.get_or_init(kind);
    let Some((path, bytes)) = mutate(sealed, data) else {
        return;
    };
    if let Some(image) = patched(lsm_golden(), path, &bytes) {
        exercise_lsm(image);
    }
}

/// `lsm`: one fragment of a write-ahead log, resealed.
pub fn lsm_wal_reseal(data: &[u8]) {
    static SEALED: OnceLock<Vec<Sealed>> = OnceLock::new();
    lsm_reseal(data, &SEALED, || {
        sealed_files(
            lsm_golden(),
            Path::new("/db"),
            |name| name.ends_with(".log"),
            log_units,
        )
    });
}

/// `lsm`: one fragment of the manifest (version edits), resealed.
pub fn lsm_manifest_reseal(data: &[u8]) {
    static SEALED: OnceLock<Vec<Sealed>> = OnceLock::new();
    lsm_reseal(data, &SEALED, || {
        sealed_files(
            lsm_golden(),
            Path::new("/db"),
            |name| name.starts_with("MANIFEST"),
            log_units,
        )
    });
}

/// `lsm`: one block (data, filter, properties, index) or the footer of a
/// table, resealed.
pub fn lsm_table_reseal(data: &[u8]) {
    static SEALED: OnceLock<Vec<Sealed>> = OnceLock::new();
    lsm_reseal(data, &SEALED, || {
        sealed_files(
            lsm_golden(),
            Path::new("/db"),
            |name| name.ends_with(".sst"),
            table_units,
        )
    });
}

/// `btree`: one page (meta, branch, leaf, overflow, free list), resealed.
pub fn btree_page_reseal(data: &[u8]) {
    static SEALED: OnceLock<Vec<Sealed>> = OnceLock::new();
    let sealed = SEALED.get_or_init(|| {
        let bytes = btree_golden().clone();
        let units = page_units(&bytes);
        vec![Sealed {
            path: PathBuf::from("/db"),
            bytes,
            units,
        }]
    });
    if let Some((_, bytes)) = mutate(sealed, data) {
        exercise_btree(&bytes);
    }
}

/// `erasure`: the header of one shard file, or one directory's manifest,
/// resealed. A `get` that succeeds must still return the blob exactly.
pub fn erasure_header_reseal(data: &[u8]) {
    static SEALED: OnceLock<Vec<Sealed>> = OnceLock::new();
    let (golden, _, _) = erasure_golden();
    let sealed =
        SEALED.get_or_init(|| sealed_files(golden, Path::new("/s"), |_| true, erasure_units));
    let Some((path, bytes)) = mutate(sealed, data) else {
        return;
    };
    if let Some(image) = patched(golden, path, &bytes) {
        exercise_erasure(image);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each target finds the units it is meant to mutate: if a format
    /// change broke the framing, the target would silently mutate nothing.
    #[test]
    fn every_target_finds_its_units() {
        let root = Path::new("/db");
        let units = |sealed: &[Sealed]| sealed.iter().map(|s| s.units.len()).sum::<usize>();
        let wal = sealed_files(lsm_golden(), root, |n| n.ends_with(".log"), log_units);
        assert!(units(&wal) >= 40, "{} WAL fragments", units(&wal));
        let spanning = wal.iter().any(|s| {
            s.units
                .iter()
                .any(|u| matches!(u.seal, Seal::LogFragment { at } if s.bytes[at + 6] == 3))
        });
        assert!(spanning, "no Middle fragment in the WAL");
        let manifests = sealed_files(lsm_golden(), root, |n| n.starts_with("MANIFEST"), log_units);
        assert!(units(&manifests) >= 2, "{} edits", units(&manifests));
        let tables = sealed_files(lsm_golden(), root, |n| n.ends_with(".sst"), table_units);
        assert!(!tables.is_empty());
        for table in &tables {
            // Data blocks, filter, properties, index, then the footer; the
            // last block ends right before the footer.
            assert!(table.units.len() >= 5, "{:?}", table.units);
            let footer = table.units[table.units.len() - 1];
            let index = table.units[table.units.len() - 2];
            assert_eq!(index.end + 4, footer.start, "{}", table.path.display());
        }
        let pages = page_units(btree_golden());
        assert!(pages.len() >= 10, "{} pages", pages.len());
        let (golden, _, _) = erasure_golden();
        let headers = sealed_files(golden, Path::new("/s"), |_| true, erasure_units);
        assert!(
            headers.len() >= 6,
            "{} shard headers and manifests",
            headers.len()
        );
    }

    #[test]
    fn a_resealed_unit_passes_its_crc() {
        let wal = sealed_files(
            lsm_golden(),
            Path::new("/db"),
            |n| n.ends_with(".log"),
            log_units,
        );
        let Some((_, bytes)) = mutate(&wal, &[0, 1, 0, 9, 0, 0xff]) else {
            panic!("no mutation");
        };
        assert_ne!(bytes, wal[0].bytes);
        assert_eq!(log_units(&bytes).len(), wal[0].units.len());
    }
}
