//! Hostile engine files: a database the engine wrote (in `vfs::MemFs`) has
//! one length or count field set to its maximum and its checksum resealed,
//! so only the field's own check stands between the input and an
//! allocation of gigabytes. Opening and reading it in full must give an
//! `Err` with its work bounded by the image's size, counted rather than
//! timed: no single allocation above [`LARGEST_BYTES_MAX`] (the images are
//! a few KiB to 200 KiB; the engines' caches fill lazily and stay far below
//! it), bytes allocated in all and bytes read from files at most a small
//! multiple of the image (a loop driven by a claimed count, rereading or
//! allocating per claimed item, breaks these).

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use common::{Counting, allocations};
use vfs::{CrashOptions, File, Fs, MemFs, OpenMode};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The largest single allocation a hostile image may cause.
const LARGEST_BYTES_MAX: usize = 1 << 20;

/// Bytes an engine may read from its files per byte of the image, plus
/// [`READ_BASE_BYTES`]. (Today: at most the image once, a btree's file
/// mapped whole plus its two meta pages.)
const READ_BYTES_PER_IMAGE_BYTE: u64 = 4;
/// The constant part of the bound on bytes read.
const READ_BASE_BYTES: u64 = 16 * 1024;

/// Read calls an engine may make: one per [`READ_CALL_PER_IMAGE_BYTES`]
/// bytes of the image, plus [`READ_CALLS_BASE`]. (Today: at most 22.)
const READ_CALL_PER_IMAGE_BYTES: u64 = 256;
/// The constant part of the bound on read calls.
const READ_CALLS_BASE: u64 = 256;

/// Bytes an engine may allocate in all per byte of the image, plus
/// [`TOTAL_BASE_BYTES`]. (Today: 16 times a 2 KiB lsm image, once a 1 MiB
/// btree file copied by `MemFs`'s view.)
const TOTAL_BYTES_PER_IMAGE_BYTE: usize = 4;
/// The constant part of the bound on bytes allocated in all (buffers of a
/// fixed size, the engines' handles).
const TOTAL_BASE_BYTES: usize = 256 * 1024;

/// Bytes an engine may hold live at once per byte of the image, plus
/// [`PEAK_BASE_BYTES`].
const PEAK_BYTES_PER_IMAGE_BYTE: usize = 2;
/// The constant part of the bound on bytes live at once.
const PEAK_BASE_BYTES: usize = 256 * 1024;

/// Counts the reads of every file opened through it: calls and bytes, a
/// whole file for a [`File::map`].
#[derive(Debug)]
struct CountingFs {
    inner: MemFs,
    reads: Arc<Reads>,
}

/// What a [`CountingFs`] has read.
#[derive(Debug, Default)]
struct Reads {
    calls: AtomicU64,
    bytes: AtomicU64,
}

impl Reads {
    fn note(&self, bytes: usize) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

#[derive(Debug)]
struct CountingFile {
    inner: Box<dyn File>,
    reads: Arc<Reads>,
}

impl File for CountingFile {
    fn path(&self) -> &Path {
        self.inner.path()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> vfs::Result<usize> {
        let n = self.inner.read_at(buf, offset)?;
        self.reads.note(n);
        Ok(n)
    }
    fn write_all_at(&self, buf: &[u8], offset: u64) -> vfs::Result<()> {
        self.inner.write_all_at(buf, offset)
    }
    fn append(&self, buf: &[u8]) -> vfs::Result<u64> {
        self.inner.append(buf)
    }
    fn sync_data(&self) -> vfs::Result<()> {
        self.inner.sync_data()
    }
    fn set_len(&self, len_bytes: u64) -> vfs::Result<()> {
        self.inner.set_len(len_bytes)
    }
    fn len(&self) -> vfs::Result<u64> {
        self.inner.len()
    }
    fn map(&self) -> vfs::Result<Bytes> {
        let view = self.inner.map()?;
        self.reads.note(view.len());
        Ok(view)
    }
}

impl vfs::ForwardFs for CountingFs {
    fn inner(&self) -> &dyn vfs::Fs {
        &self.inner
    }
    fn open(&self, path: &Path, mode: OpenMode) -> vfs::Result<Box<dyn File>> {
        Ok(Box::new(CountingFile {
            inner: self.inner.open(path, mode)?,
            reads: Arc::clone(&self.reads),
        }))
    }
}

/// `fs` behind a counter of its reads, and the counter.
fn counted(fs: MemFs) -> (Arc<dyn Fs>, Arc<Reads>) {
    let reads = Arc::new(Reads::default());
    let fs = CountingFs {
        inner: fs,
        reads: Arc::clone(&reads),
    };
    (Arc::new(fs), reads)
}

/// Bytes of every file under `dir`, recursively.
fn image_bytes(fs: &MemFs, dir: &Path) -> u64 {
    let Ok(names) = fs.list_dir(dir) else {
        return 0;
    };
    names
        .into_iter()
        .map(|n| {
            let path = dir.join(n);
            if fs.list_dir(&path).is_ok() {
                image_bytes(fs, &path)
            } else {
                fs.open(&path, OpenMode::Read)
                    .and_then(|f| f.len())
                    .expect("len")
            }
        })
        .sum()
}

fn read(fs: &MemFs, path: &Path) -> Vec<u8> {
    fs.open(path, OpenMode::Read)
        .and_then(|f| f.map())
        .expect("read")
        .to_vec()
}

/// A durable copy of `fs` with `path` replaced by `bytes`.
fn patched(fs: &MemFs, path: &Path, bytes: &[u8]) -> MemFs {
    let image = fs.crash(CrashOptions {
        seed: 0,
        tear: false,
    });
    let f = image.open(path, OpenMode::Truncate).expect("truncate");
    f.write_all_at(bytes, 0).expect("write");
    f.sync_data().expect("sync");
    image
}

fn files_ending(fs: &MemFs, dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut names = fs.list_dir(dir).expect("list");
    names.sort();
    names
        .into_iter()
        .filter(|n| n.to_string_lossy().ends_with(suffix))
        .map(|n| dir.join(n))
        .collect()
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Reseals an lsm block (`contents | type u8 | crc u32`) stored at
/// `start..end`.
fn reseal_lsm_block(b: &mut [u8], start: usize, end: usize) {
    let crc = crc32fast::hash(&b[start..end - 4]);
    b[end - 4..end].copy_from_slice(&crc.to_le_bytes());
}

fn lsm_options() -> lsm::Options {
    lsm::Options {
        compression: true,
        // Compress the flushed L0 table too, so its data block carries an
        // LZ4 size prefix to attack.
        compression_min_level: 0,
        ..lsm::Options::default()
    }
}

/// One table of a single compressible data block, and a WAL with records.
fn lsm_image() -> MemFs {
    let fs = MemFs::new();
    let db = lsm::Db::open_with_fs(Arc::new(fs.clone()), "/db", lsm_options()).expect("open");
    for i in 0u32..20 {
        db.put(i.to_be_bytes().to_vec(), vec![b'a'; 100])
            .expect("put");
    }
    db.flush().expect("flush");
    for i in 20u32..30 {
        db.put(i.to_be_bytes().to_vec(), vec![b'b'; 100])
            .expect("put");
    }
    db.sync().expect("sync");
    drop(db);
    fs
}

/// Whether opening `fs` as an lsm database and reading it fails.
fn lsm_refuses(fs: Arc<dyn Fs>) -> bool {
    let Ok(db) = lsm::Db::open_with_fs(fs, "/db", lsm_options()) else {
        return true;
    };
    db.range::<&[u8], _>(..).any(|kv| kv.is_err())
}

fn btree_options() -> btree::Options {
    btree::Options {
        page_size_bytes: 512,
        ..btree::Options::default()
    }
}

/// A 512-byte-page tree whose values mostly live in overflow runs.
fn btree_image() -> MemFs {
    let fs = MemFs::new();
    let db = btree::Db::open_with_fs(Arc::new(fs.clone()), "/db", btree_options()).expect("open");
    let mut txn = db.begin_write().expect("write");
    for i in 0u32..200 {
        txn.insert(
            &i.to_be_bytes(),
            &vec![i as u8; 40 + (i % 7) as usize * 100],
        )
        .expect("insert");
    }
    txn.commit().expect("commit");
    drop(db);
    fs
}

fn btree_refuses(fs: Arc<dyn Fs>) -> bool {
    let Ok(db) = btree::Db::open_with_fs(fs, "/db", btree_options()) else {
        return true;
    };
    let Ok(read) = db.begin_read() else {
        return true;
    };
    read.iter().any(|kv| kv.is_err()) || db.check().is_err()
}

/// Reseals a btree page (CRC-32 of bytes 4.. at 0).
fn reseal_page(page: &mut [u8]) {
    let crc = crc32fast::hash(&page[4..]);
    page[..4].copy_from_slice(&crc.to_le_bytes());
}

const PAGE: usize = 512;
const KIND_LEAF: u32 = 3;

fn erasure_options() -> erasure::Options {
    erasure::Options {
        data_shards: 2,
        parity_shards: 1,
        stripe_size_bytes: 2048,
    }
}

const ERASURE_DIRS: [&str; 3] = ["/s/0", "/s/1", "/s/2"];

fn blob() -> Vec<u8> {
    (0..5000u32).map(|i| (i * 31 % 251) as u8).collect()
}

fn erasure_image() -> (MemFs, erasure::BlobId) {
    let fs = MemFs::new();
    let store =
        erasure::BlobStore::open_with_fs(Arc::new(fs.clone()), &ERASURE_DIRS, erasure_options())
            .expect("open");
    let id = store.put(&blob()).expect("put");
    drop(store);
    (fs, id)
}

/// Every shard header of the blob patched by `patch` and resealed.
fn erasure_headers(fs: &MemFs, patch: impl Fn(&mut [u8])) -> MemFs {
    let mut image = fs.crash(CrashOptions {
        seed: 0,
        tear: false,
    });
    for dir in ERASURE_DIRS {
        for path in files_ending(&image, Path::new(dir), ".shard") {
            let mut b = read(&image, &path);
            patch(&mut b);
            let crc = crc32fast::hash(&b[..48]);
            b[48..52].copy_from_slice(&crc.to_le_bytes());
            image = patched(&image, &path, &b);
        }
    }
    image
}

/// Whether `get` fails. A ranged read of stripes whose checksums hold may
/// still succeed (the damaged header does not touch them), but then it must
/// return the blob's true bytes.
fn erasure_refuses(fs: Arc<dyn Fs>, id: erasure::BlobId) -> bool {
    let Ok(store) = erasure::BlobStore::open_with_fs(fs, &ERASURE_DIRS, erasure_options()) else {
        return true;
    };
    if let Ok(range) = store.get_range(id, 100, 1000) {
        assert_eq!(
            &range[..],
            &blob()[100..1100],
            "a ranged read returned wrong bytes"
        );
    }
    store.get(id).is_err()
}

/// A hostile image, named, and whether opening and reading it (through
/// the file system given) fails.
type Case = (&'static str, MemFs, Box<dyn FnOnce(Arc<dyn Fs>) -> bool>);

fn lsm_cases() -> Vec<Case> {
    let fs = lsm_image();
    let mut cases: Vec<Case> = Vec::new();
    let sst = files_ending(&fs, Path::new("/db"), ".sst");
    let sst = sst.first().expect("a table").clone();
    let table = read(&fs, &sst);
    let footer = table.len() - 64;
    let filter_offset = u64_at(&table, footer + 16) as usize;
    let props_offset = u64_at(&table, footer + 32) as usize;
    let props_size = u64_at(&table, footer + 40) as usize;

    // The data block's LZ4 size prefix (the block starts after the 12-byte
    // header and ends where the filter block starts).
    let mut b = table.clone();
    assert_eq!(b[filter_offset - 5], 1, "the data block is compressed");
    b[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
    reseal_lsm_block(&mut b, 12, filter_offset);
    let image = patched(&fs, &sst, &b);
    cases.push((
        "lsm data block lz4 size 2^32-1",
        image,
        Box::new(lsm_refuses),
    ));

    // The footer's index and properties block sizes.
    for (what, at) in [("index", footer + 8), ("properties", footer + 40)] {
        let mut b = table.clone();
        b[at..at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        let crc = crc32fast::hash(&b[footer..footer + 52]);
        b[footer + 52..footer + 56].copy_from_slice(&crc.to_le_bytes());
        let image = patched(&fs, &sst, &b);
        cases.push((
            if what == "index" {
                "lsm footer index size 2^64-1"
            } else {
                "lsm footer properties size 2^64-1"
            },
            image,
            Box::new(lsm_refuses),
        ));
    }

    // The properties block's smallest-key length (after five u64 fields).
    let mut b = table.clone();
    b[props_offset + 40..props_offset + 44].copy_from_slice(&u32::MAX.to_le_bytes());
    reseal_lsm_block(&mut b, props_offset, props_offset + props_size);
    let image = patched(&fs, &sst, &b);
    cases.push((
        "lsm properties key length 2^32-1",
        image,
        Box::new(lsm_refuses),
    ));

    // A WAL batch's operation count: the record after the header fragment
    // (7-byte fragment header, then the log header: 28 bytes since log
    // version 3, as its length field says) and, in a log synced before its
    // first write, a 15-byte durable marker (type 5).
    let log = files_ending(&fs, Path::new("/db"), ".log");
    let log = log.last().expect("a log").clone();
    let mut b = read(&fs, &log);
    let mut frag = 7 + usize::from(u16::from_le_bytes([b[4], b[5]]));
    if b[frag + 6] == 5 {
        frag += 7 + 8;
    }
    assert_eq!(b[frag + 6], 1, "a Full fragment");
    let len = usize::from(u16::from_le_bytes([b[frag + 4], b[frag + 5]]));
    b[frag + 7 + 8..frag + 7 + 12].copy_from_slice(&u32::MAX.to_le_bytes());
    let crc = crc32fast::hash(&b[frag + 6..frag + 7 + len]);
    b[frag..frag + 4].copy_from_slice(&crc.to_le_bytes());
    let image = patched(&fs, &log, &b);
    cases.push(("lsm WAL batch count 2^32-1", image, Box::new(lsm_refuses)));
    cases
}

fn btree_cases() -> Vec<Case> {
    let fs = btree_image();
    let path = Path::new("/db");
    let file = read(&fs, path);
    let mut cases: Vec<Case> = Vec::new();

    // Both meta pages: page count, then entry count, at their maximum.
    for (what, at) in [
        ("btree meta page count 2^64-1", 64),
        ("btree meta entry count 2^64-1", 72),
    ] {
        let mut b = file.clone();
        for slot in 0..2 {
            let page = &mut b[slot * PAGE..(slot + 1) * PAGE];
            page[at..at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
            reseal_page(page);
        }
        let image = patched(&fs, path, &b);
        cases.push((what, image, Box::new(btree_refuses)));
    }

    // The first leaf page: its entry count, then an overflow value's length.
    let leaf = (2..file.len() / PAGE)
        .find(|&p| {
            let page = &file[p * PAGE..(p + 1) * PAGE];
            u32::from_le_bytes(page[4..8].try_into().expect("4 bytes")) == KIND_LEAF
                // Value flag 1 (format 1) or 2 (format 2, with the run's CRC).
                && matches!(page[usize::from(u16::from_le_bytes([page[32], page[33]]))], 1 | 2)
        })
        .expect("a leaf whose first value overflows");
    let mut b = file.clone();
    let page = &mut b[leaf * PAGE..(leaf + 1) * PAGE];
    page[24..32].copy_from_slice(&u64::MAX.to_le_bytes());
    reseal_page(page);
    let image = patched(&fs, path, &b);
    cases.push((
        "btree leaf entry count 2^64-1",
        image,
        Box::new(btree_refuses),
    ));

    let mut b = file.clone();
    let page = &mut b[leaf * PAGE..(leaf + 1) * PAGE];
    let entry = usize::from(u16::from_le_bytes([page[32], page[33]]));
    page[entry + 3..entry + 7].copy_from_slice(&u32::MAX.to_le_bytes());
    reseal_page(page);
    let image = patched(&fs, path, &b);
    cases.push((
        "btree overflow value length 2^32-1",
        image,
        Box::new(btree_refuses),
    ));
    cases
}

fn erasure_cases() -> Vec<Case> {
    let (fs, id) = erasure_image();
    let mut cases: Vec<Case> = Vec::new();
    let image = erasure_headers(&fs, |h| h[32..40].copy_from_slice(&u64::MAX.to_le_bytes()));
    cases.push((
        "erasure shard blob length 2^64-1",
        image,
        Box::new(move |fs| erasure_refuses(fs, id)),
    ));
    let image = erasure_headers(&fs, |h| h[20..24].copy_from_slice(&u32::MAX.to_le_bytes()));
    cases.push((
        "erasure shard stripe size 2^32-1",
        image,
        Box::new(move |fs| erasure_refuses(fs, id)),
    ));
    let image = erasure_headers(&fs, |h| {
        h[14..16].copy_from_slice(&u16::MAX.to_le_bytes());
        h[16..18].copy_from_slice(&u16::MAX.to_le_bytes());
    });
    cases.push((
        "erasure shard k and m 2^16-1",
        image,
        Box::new(move |fs| erasure_refuses(fs, id)),
    ));
    cases
}

#[test]
fn maximal_length_and_count_fields_in_engine_files_fail_without_large_allocations() {
    let cases: Vec<Case> = lsm_cases()
        .into_iter()
        .chain(btree_cases())
        .chain(erasure_cases())
        .collect();
    // The counters see the work (so a bound that holds is not holding
    // because nothing is counted).
    let (_, image, refuses) = lsm_cases().swap_remove(0);
    assert!(image_bytes(&image, Path::new("/db")) > 1000);
    let (fs, reads) = counted(image);
    let (_, seen) = allocations(|| refuses(fs));
    assert!(
        seen.total_bytes > 1000 && seen.peak_bytes > 1000,
        "{seen:?}"
    );
    assert!(reads.bytes.load(Ordering::Relaxed) > 1000, "{reads:?}");

    for (what, image, refuses) in cases {
        let image_len = image_bytes(&image, Path::new("/"));
        let (fs, reads) = counted(image);
        let (failed, seen) = allocations(|| refuses(fs));
        assert!(failed, "{what}: the engine read the hostile file as valid");
        assert!(
            seen.largest_bytes <= LARGEST_BYTES_MAX,
            "{what}: a single allocation of {} bytes",
            seen.largest_bytes
        );
        let total_max = TOTAL_BYTES_PER_IMAGE_BYTE * image_len as usize + TOTAL_BASE_BYTES;
        assert!(
            seen.total_bytes <= total_max,
            "{what}: allocated {seen:?} for a {image_len}-byte image, over {total_max}"
        );
        let peak_max = PEAK_BYTES_PER_IMAGE_BYTE * image_len as usize + PEAK_BASE_BYTES;
        assert!(
            seen.peak_bytes <= peak_max,
            "{what}: held {seen:?} for a {image_len}-byte image, over {peak_max}"
        );
        let read_bytes = reads.bytes.load(Ordering::Relaxed);
        let read_max = READ_BYTES_PER_IMAGE_BYTE * image_len + READ_BASE_BYTES;
        assert!(
            read_bytes <= read_max,
            "{what}: read {read_bytes} bytes of a {image_len}-byte image, over {read_max}"
        );
        let read_calls = reads.calls.load(Ordering::Relaxed);
        let calls_max = image_len / READ_CALL_PER_IMAGE_BYTES + READ_CALLS_BASE;
        assert!(
            read_calls <= calls_max,
            "{what}: {read_calls} reads of a {image_len}-byte image, over {calls_max}"
        );
    }
}
