//! Corruption tests: flip bits in pages and meta pages; the database reports
//! corruption (or refuses to open), never returns wrong data and never
//! panics.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use larder_btree::{Db, Error, Options, OtherMeta};
use vfs::{Fs, MemFs, OpenMode};

const PAGE: u64 = 512;

fn options() -> Options {
    Options {
        page_size_bytes: PAGE as u32,
        initial_size_bytes: 0,
        ..Options::default()
    }
}

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn build(fs: &Arc<MemFs>) -> (Model, Model) {
    let db = Db::open_with_fs(fs.clone(), "/db", options()).unwrap();
    let mut model = Model::new();
    let mut txn = db.begin_write().unwrap();
    for i in 0..300u32 {
        let v = vec![i as u8; if i % 50 == 0 { 1200 } else { 30 }];
        txn.insert(&i.to_be_bytes(), &v).unwrap();
        model.insert(i.to_be_bytes().to_vec(), v);
    }
    txn.commit().unwrap();
    let first = model.clone();
    let mut txn = db.begin_write().unwrap();
    for i in 0..40u32 {
        txn.remove(&(i * 7).to_be_bytes()).unwrap();
        model.remove((i * 7).to_be_bytes().as_slice());
    }
    txn.commit().unwrap();
    (first, model)
}

fn is_corruption(e: &Error) -> bool {
    matches!(
        e,
        Error::Corruption { .. }
            | Error::Malformed { .. }
            | Error::NoValidMeta { .. }
            | Error::MetaDamaged { .. }
    )
}

/// Reads everything; each read is right or an error, never wrong. The last
/// commit was made under one sync, so damage to one of its pages reads as a
/// commit torn by a crash: open may take the commit before it (`previous`),
/// and says so in its recovery report.
fn check_never_wrong(fs: &Arc<MemFs>, model: &Model, previous: &Model) {
    let db = match Db::open_with_fs(fs.clone(), "/db", options()) {
        Ok(db) => db,
        Err(e) => {
            assert!(is_corruption(&e), "{e:?}");
            return;
        }
    };
    let model = match db.recovery().other {
        OtherMeta::Torn { .. } => {
            assert!(!db.recovery().is_clean());
            previous
        }
        _ => model,
    };
    let read = db.begin_read().unwrap();
    for (k, v) in model {
        match read.get(k) {
            Ok(got) => assert_eq!(got.as_deref(), Some(&v[..])),
            Err(e) => assert!(is_corruption(&e), "{e:?}"),
        }
    }
    let mut want = model.iter();
    for kv in read.iter() {
        match kv {
            Ok((k, v)) => assert_eq!(Some((&k.to_vec(), &v.to_vec())), want.next()),
            Err(e) => {
                assert!(is_corruption(&e), "{e:?}");
                break;
            }
        }
    }
}

fn file_len(fs: &MemFs) -> u64 {
    fs.open(Path::new("/db"), OpenMode::Read)
        .unwrap()
        .len()
        .unwrap()
}

#[test]
fn a_flipped_bit_in_any_data_page_is_reported_never_read_as_data() {
    let fs = Arc::new(MemFs::new());
    let (first, model) = build(&fs);
    let pages = file_len(&fs) / PAGE;
    for page in 2..pages {
        for offset in [0, 5, 9, 20, 24, 40, 200, PAGE - 1] {
            let at = page * PAGE + offset;
            fs.flip_bit(Path::new("/db"), at, (offset % 8) as u8)
                .unwrap();
            check_never_wrong(&fs, &model, &first);
            fs.flip_bit(Path::new("/db"), at, (offset % 8) as u8)
                .unwrap();
        }
    }
}

#[test]
fn a_bad_checksum_names_the_page() {
    let fs = Arc::new(MemFs::new());
    let (first, model) = build(&fs);
    let db = Db::open_with_fs(fs.clone(), "/db", options()).unwrap();
    let stats = db.check().unwrap();
    drop(db);
    // Flip a byte in the middle of every tree page in turn: check() names it.
    let mut named = 0;
    for page in 2..stats.page_count {
        fs.flip_bit(Path::new("/db"), page * PAGE + 300, 1).unwrap();
        let db = Db::open_with_fs(fs.clone(), "/db", options()).unwrap();
        // A page the last commit wrote (under one sync): open checked it,
        // found it not as recorded, and took the commit before.
        if let OtherMeta::Torn {
            page: p,
            expected,
            found,
            ..
        } = db.recovery().other
        {
            assert!(p <= page && page - p < 4, "flipped {page}, reported {p}");
            assert_ne!(expected, found);
            named += 1;
            db.check().unwrap();
            drop(db);
            fs.flip_bit(Path::new("/db"), page * PAGE + 300, 1).unwrap();
            continue;
        }
        match db.check() {
            Err(Error::Corruption {
                page: p,
                expected,
                found,
                ..
            }) => {
                // A page inside an overflow run is named by the run's first page.
                assert!(p <= page && page - p < 4, "flipped {page}, reported {p}");
                assert_ne!(expected, found);
                named += 1;
            }
            Err(Error::Malformed { .. }) => unreachable!("a checksum catches it first"),
            Err(e) => panic!("{e:?}"),
            Ok(_) => {} // A free page: nothing reads it.
        }
        drop(db);
        fs.flip_bit(Path::new("/db"), page * PAGE + 300, 1).unwrap();
    }
    assert!(
        named as u64 >= stats.leaf_pages + stats.branch_pages,
        "{named} {stats:?}"
    );
    check_never_wrong(&fs, &model, &first);
}

fn meta_txn(fs: &MemFs, slot: u64) -> u64 {
    let f = fs.open(Path::new("/db"), OpenMode::Read).unwrap();
    let mut b = [0u8; 8];
    f.read_exact_at(&mut b, slot * PAGE + 16).unwrap();
    u64::from_le_bytes(b)
}

#[test]
fn a_damaged_newest_meta_page_is_refused_never_a_silent_revert() {
    // Falling back to the previous commit would lose the newest durable one
    // (issue 20); tests/damage_meta.rs covers the older page and the rest.
    let fs = Arc::new(MemFs::new());
    let (first, _) = build(&fs);
    let newest = if meta_txn(&fs, 0) > meta_txn(&fs, 1) {
        0
    } else {
        1
    };
    for offset in [0, 4, 8, 16, 33, 48, 70, PAGE - 1] {
        fs.flip_bit(Path::new("/db"), newest * PAGE + offset, 3)
            .unwrap();
        match Db::open_with_fs(fs.clone(), "/db", options()) {
            Err(Error::MetaDamaged { page, .. }) => assert_eq!(page, newest, "offset {offset}"),
            Err(e) => panic!("offset {offset}: {e:?}"),
            Ok(db) => {
                let read = db.begin_read().unwrap();
                let got: Model = read
                    .iter()
                    .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
                    .collect();
                panic!("offset {offset}: opened, first commit: {}", got == first);
            }
        }
        fs.flip_bit(Path::new("/db"), newest * PAGE + offset, 3)
            .unwrap();
    }
}

#[test]
fn two_damaged_meta_pages_fail_to_open() {
    let fs = Arc::new(MemFs::new());
    build(&fs);
    fs.flip_bit(Path::new("/db"), 40, 0).unwrap();
    fs.flip_bit(Path::new("/db"), PAGE + 40, 0).unwrap();
    assert!(matches!(
        Db::open_with_fs(fs.clone(), "/db", options()),
        Err(Error::NoValidMeta { .. })
    ));
}

#[test]
fn a_file_of_garbage_is_not_a_database() {
    let fs = Arc::new(MemFs::new());
    let f = fs.open(Path::new("/db"), OpenMode::Truncate).unwrap();
    f.write_all_at(&vec![0xA5; 4096], 0).unwrap();
    drop(f);
    assert!(matches!(
        Db::open_with_fs(fs, "/db", options()),
        Err(Error::NoValidMeta { .. })
    ));
}

#[test]
fn opening_with_another_page_size_is_an_error() {
    let fs = Arc::new(MemFs::new());
    build(&fs);
    let other = Options {
        page_size_bytes: 4096,
        ..options()
    };
    assert!(matches!(
        Db::open_with_fs(fs, "/db", other),
        Err(Error::PageSize {
            expected: 4096,
            found: 512,
            ..
        })
    ));
}

fn file_bytes(fs: &MemFs) -> Vec<u8> {
    let f = fs.open(Path::new("/db"), OpenMode::Read).unwrap();
    let mut bytes = vec![0u8; f.len().unwrap() as usize];
    f.read_exact_at(&mut bytes, 0).unwrap();
    bytes
}

fn put_page(fs: &MemFs, page: u64, bytes: &[u8]) {
    let f = fs.open(Path::new("/db"), OpenMode::Append).unwrap();
    f.write_all_at(bytes, page * PAGE).unwrap();
}

fn names_page(r: &Result<impl Sized, Error>, page: u64) -> bool {
    matches!(r, Err(Error::Corruption { page: p, expected, found, .. }) if *p == page && expected != found)
}

/// With page `page` holding an older valid copy of itself: either nothing
/// reads it (a free page) and every read is right, or every way of reaching
/// it (`check`, and for a page of the tree `get`, scans both ways and a
/// write) reports `Error::Corruption` naming it. Returns whether it was
/// reported.
fn stale_page_is_reported_or_unused(fs: &Arc<MemFs>, model: &Model, page: u64, run: bool) -> bool {
    let db = Db::open_with_fs(fs.clone(), "/db", options()).unwrap();
    let check = db.check();
    let read = db.begin_read().unwrap();
    if check.is_ok() {
        for (k, v) in model {
            assert_eq!(read.get(k).unwrap().as_deref(), Some(&v[..]), "page {page}");
        }
        let got: Model = read
            .iter()
            .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
            .collect();
        assert_eq!(&got, model, "page {page}");
        return false;
    }
    assert!(names_page(&check, page), "page {page}: {check:?}");
    let mut failed = 0;
    for (k, v) in model {
        match read.get(k) {
            Ok(got) => assert_eq!(got.as_deref(), Some(&v[..]), "page {page}"),
            e => {
                assert!(names_page(&e, page), "page {page}: {e:?}");
                failed += 1;
            }
        }
    }
    if failed == 0 {
        // A page of the free tree: check reports it, and no read needs it.
        let got: Model = read
            .iter()
            .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
            .collect();
        assert_eq!(&got, model, "page {page}");
        return true;
    }
    let mut want = model.iter();
    let mut scan_failed = false;
    for kv in read.iter() {
        match kv {
            Ok((k, v)) => assert_eq!(Some((&k.to_vec(), &v.to_vec())), want.next()),
            e => {
                assert!(names_page(&e, page), "page {page}: {e:?}");
                scan_failed = true;
            }
        }
    }
    assert!(scan_failed, "page {page}: the scan never reached it");
    let mut backward_failed = false;
    let mut want = model.iter().rev();
    for kv in read.iter().rev() {
        match kv {
            Ok((k, v)) => assert_eq!(Some((&k.to_vec(), &v.to_vec())), want.next()),
            e => {
                assert!(names_page(&e, page), "page {page}: {e:?}");
                backward_failed = true;
            }
        }
    }
    assert!(
        backward_failed,
        "page {page}: the reverse scan never reached it"
    );
    if run {
        // Replacing a value does not read it: no write needs the run.
        return true;
    }
    // A write that copies the path to it stops there too, writing nothing.
    let mut txn = db.begin_write().unwrap();
    let write = model
        .keys()
        .try_for_each(|k| txn.insert(k, b"new").map(drop));
    assert!(names_page(&write, page), "page {page}: {write:?}");
    true
}

/// Issue 20, item 6: a lost or misdirected write leaves a page's own older,
/// valid copy in its place (CRC, page number and kind all hold). Format 1
/// served it: `get` missed live keys, a scan went out of order, and `check`
/// blamed another page. Now the parent's record of the child's CRC (a
/// leaf's of its overflow runs) catches it at that page, for every kind of
/// reader and for a writer.
#[test]
fn an_older_valid_copy_put_back_in_its_place_is_reported_at_that_page() {
    let fs = Arc::new(MemFs::new());
    let db = Db::open_with_fs(fs.clone(), "/db", options()).unwrap();
    let mut model = Model::new();
    let mut copies = Vec::new();
    for round in 0..6u32 {
        let mut txn = db.begin_write().unwrap();
        for i in 0..300u32 {
            // Every leaf changes each round, and pages are reused.
            let key = (i * 3 + round % 2).to_be_bytes();
            if round > 0 && i % 5 == round % 5 {
                txn.remove(&key).unwrap();
                model.remove(&key[..]);
                continue;
            }
            // Some values in overflow runs, of one length in every round.
            let len = if i % 41 == 0 {
                700
            } else {
                20 + (i % 13) as usize
            };
            let v = vec![(i + round) as u8; len];
            txn.insert(&key, &v).unwrap();
            model.insert(key.to_vec(), v);
        }
        txn.commit().unwrap();
        copies.push(file_bytes(&fs));
    }
    drop(db);
    let now = file_bytes(&fs);
    let (mut reported, mut tried, mut runs_reported) = (0, 0, 0);
    for old_file in &copies[..copies.len() - 1] {
        let pages = old_file.len().min(now.len()) as u64 / PAGE;
        for page in 2..pages {
            let at = (page * PAGE) as usize;
            let (head_old, head_cur) = (&old_file[at..at + 32], &now[at..at + 32]);
            // An older page (or overflow run, whole) headed with this page's
            // number, where one of the same kind and length is now.
            let own = |h: &[u8]| h[8..16] == page.to_le_bytes();
            let kind = head_cur[4];
            if head_old[4] != kind || !matches!(kind, 2..=4) || !own(head_old) || !own(head_cur) {
                continue;
            }
            let mut n = 1;
            if kind == 4 {
                if head_old[24..32] != head_cur[24..32] {
                    continue;
                }
                n = (32 + u64::from_le_bytes(head_cur[24..32].try_into().unwrap())).div_ceil(PAGE);
            }
            let span = at..at + (n * PAGE) as usize;
            if span.end > (pages * PAGE) as usize || old_file[span.clone()] == now[span.clone()] {
                continue;
            }
            let (old, cur) = (&old_file[span.clone()], &now[span]);
            tried += 1;
            put_page(&fs, page, old);
            if stale_page_is_reported_or_unused(&fs, &model, page, kind == 4) {
                reported += 1;
                runs_reported += usize::from(kind == 4);
            }
            put_page(&fs, page, cur);
        }
    }
    assert!(
        reported >= 100,
        "{reported} of {tried} stale pages reported"
    );
    assert!(runs_reported > 0, "no stale overflow run reported");
}

/// The newest meta page's slot.
fn newest_slot(fs: &MemFs) -> u64 {
    if meta_txn(fs, 0) > meta_txn(fs, 1) {
        0
    } else {
        1
    }
}

/// Byte offset in a meta page of the tree's root page number.
const META_ROOT_OFFSET: usize = 48;
/// Byte offset in a meta page of the free tree's root page number.
const META_FREE_ROOT_OFFSET: usize = 56;
/// Byte offset in a meta page of the CRC-32 recorded for the tree's root;
/// the free tree's follows it.
const META_ROOT_CRC_OFFSET: usize = 80;
const META_FREE_ROOT_CRC_OFFSET: usize = 84;

/// The root page recorded at `offset` of the newest meta page.
fn newest_root(fs: &MemFs, offset: usize) -> u64 {
    let at = (newest_slot(fs) * PAGE) as usize + offset;
    u64::from_le_bytes(file_bytes(fs)[at..at + 8].try_into().unwrap())
}

/// Rewrites page `page` with `body` after its header, reseals it, and
/// reseals the newest meta page recording its CRC as the root's: damage no
/// checksum catches, as a buggy writer or a fuzzer makes it.
fn reseal_root(fs: &MemFs, page: u64, fill: impl Fn(&mut [u8])) {
    reseal_root_at(fs, page, META_ROOT_CRC_OFFSET, fill);
}

/// As [`reseal_root`], for the root whose CRC the meta page records at
/// `crc_offset`.
fn reseal_root_at(fs: &MemFs, page: u64, crc_offset: usize, fill: impl Fn(&mut [u8])) {
    let mut buf = file_bytes(fs)[(page * PAGE) as usize..((page + 1) * PAGE) as usize].to_vec();
    fill(&mut buf);
    let crc = crc32fast::hash(&buf[4..]);
    buf[0..4].copy_from_slice(&crc.to_le_bytes());
    put_page(fs, page, &buf);
    let slot = newest_slot(fs);
    let mut meta = file_bytes(fs)[(slot * PAGE) as usize..((slot + 1) * PAGE) as usize].to_vec();
    meta[crc_offset..crc_offset + 4].copy_from_slice(&crc.to_le_bytes());
    let meta_crc = crc32fast::hash(&meta[4..]);
    meta[0..4].copy_from_slice(&meta_crc.to_le_bytes());
    put_page(fs, slot, &meta);
}

/// Issue 20, item 13: a leaf whose CRC matches but whose sixteen slots all
/// point at one entry of the largest size. Each entry reads fine; format 1
/// decoded sixteen entries into a node of four pages and the insert
/// returned `Ok`, leaving nodes larger than a page for commit to encode
/// (where `Node::encode` asserts). Now decoding it is `Error::Malformed`
/// naming the page.
#[test]
fn a_resealed_leaf_of_overlapping_entries_is_an_error_not_a_panic() {
    let fs = Arc::new(MemFs::new());
    let db = Db::open_with_fs(fs.clone(), "/db", options()).unwrap();
    let mut txn = db.begin_write().unwrap();
    txn.insert(b"a", b"1").unwrap();
    txn.commit().unwrap();
    drop(db);
    let root = newest_root(&fs, META_ROOT_OFFSET);
    let count = 16;
    reseal_root(&fs, root, |b| {
        let at = 32 + count * 6;
        b[24..32].copy_from_slice(&(count as u64).to_le_bytes());
        for i in 0..count {
            let slot = 32 + i * 6;
            b[slot..slot + 2].copy_from_slice(&(at as u16).to_le_bytes());
            b[slot + 2..slot + 6].copy_from_slice(b"kkkk");
        }
        b[at] = 0;
        b[at + 1..at + 3].copy_from_slice(&64u16.to_le_bytes());
        b[at + 3..at + 7].copy_from_slice(&32u32.to_le_bytes());
        b[at + 7..at + 7 + 64].fill(b'k');
    });
    let db = Db::open_with_fs(fs.clone(), "/db", options()).unwrap();
    let mut txn = db.begin_write().unwrap();
    let r = txn.insert(b"b", b"2");
    assert!(
        matches!(r, Err(Error::Malformed { page, .. }) if page == root),
        "{r:?}"
    );
}

/// A leaf whose CRC holds but whose keys are out of order (two slots
/// swapped, the page and the meta page's record of it resealed): a search
/// in it would miss keys and a scan would run backwards. The first read of
/// the page checks the order: `get`, a scan and `check` each return
/// `Error::Malformed` naming it.
#[test]
fn a_resealed_leaf_with_keys_out_of_order_is_malformed() {
    let fs = Arc::new(MemFs::new());
    let db = Db::open_with_fs(fs.clone(), "/db", options()).unwrap();
    let mut txn = db.begin_write().unwrap();
    for k in [b"a", b"b", b"c"] {
        txn.insert(k, b"1").unwrap();
    }
    txn.commit().unwrap();
    drop(db);
    let root = newest_root(&fs, META_ROOT_OFFSET);
    reseal_root(&fs, root, |b| {
        // Swap the slots (offset and key prefix) of entries 0 and 2.
        let (first, last) = (32, 32 + 2 * 6);
        let saved: [u8; 6] = b[first..first + 6].try_into().unwrap();
        b.copy_within(last..last + 6, first);
        b[last..last + 6].copy_from_slice(&saved);
    });
    let db = Db::open_with_fs(fs.clone(), "/db", options()).unwrap();
    let malformed_here =
        |r: Result<(), Error>| matches!(r, Err(Error::Malformed { page, .. }) if page == root);
    let read = db.begin_read().unwrap();
    assert!(malformed_here(read.get(b"b").map(|_| ())));
    let scanned: Result<Vec<()>, Error> =
        read.range::<&[u8], _>(..).map(|r| r.map(|_| ())).collect();
    assert!(malformed_here(scanned.map(|_| ())));
    assert!(malformed_here(db.check().map(|_| ())));
}

/// Byte offset of leaf entry `i` (its slot's first two bytes).
fn leaf_entry_at(page: &[u8], i: usize) -> usize {
    let slot = 32 + i * 6;
    usize::from(u16::from_le_bytes([page[slot], page[slot + 1]]))
}

/// Bug D of `fuzz/README.md`: a free-tree leaf whose CRC holds but whose
/// keys repeat (`[k0, k1, k1, k1, k1]`). Each refill of the write
/// transaction's pool seeks past the last key it consumed; on this leaf
/// that seek lands on `k1` again, so the commit's refill loop ran forever,
/// pushing `k1` onto its consumed keys until memory ran out. Now a key not
/// past the last one consumed is `Error::Malformed` naming the leaf, within
/// a few seeks, and the file is left as it was.
#[test]
fn a_resealed_free_tree_leaf_with_repeated_keys_fails_the_commit_not_loops() {
    let fs = Arc::new(MemFs::new());
    let db = Db::open_with_fs(fs.clone(), "/db", options()).unwrap();
    let mut txn = db.begin_write().unwrap();
    for i in 0..100u32 {
        txn.insert(&i.to_be_bytes(), &[1u8; 30]).unwrap();
    }
    txn.commit().unwrap();
    // A reader holds the first commit, so each later commit's freed pages
    // stay in the free tree, one entry per commit.
    let reader = db.begin_read().unwrap();
    for round in 0..5u32 {
        let mut txn = db.begin_write().unwrap();
        txn.insert(&(round * 20).to_be_bytes(), &[2u8; 30]).unwrap();
        txn.commit().unwrap();
    }
    drop(reader);
    drop(db);

    let free_root = newest_root(&fs, META_FREE_ROOT_OFFSET);
    let page =
        file_bytes(&fs)[(free_root * PAGE) as usize..((free_root + 1) * PAGE) as usize].to_vec();
    assert_eq!(page[4], 3, "the free tree's root is a leaf");
    assert_eq!(u64::from_le_bytes(page[24..32].try_into().unwrap()), 5);
    reseal_root_at(&fs, free_root, META_FREE_ROOT_CRC_OFFSET, |b| {
        // Free-tree keys are 12 bytes after a 7-byte entry header, and
        // their first four bytes (the slot's prefix) are all zero.
        let k1 = leaf_entry_at(b, 1) + 7;
        let key: Vec<u8> = b[k1..k1 + 12].to_vec();
        for i in 2..5 {
            let at = leaf_entry_at(b, i) + 7;
            b[at..at + 12].copy_from_slice(&key);
        }
    });
    let before = file_bytes(&fs);

    // Before the fix this never returned: run it where it can be abandoned.
    let (done, outcome) = std::sync::mpsc::channel();
    let fs2 = fs.clone();
    std::thread::spawn(move || {
        let db = Db::open_with_fs(fs2, "/db", options()).unwrap();
        let mut txn = db.begin_write().unwrap();
        let r = txn.insert(b"new", b"value").and_then(|_| txn.commit());
        done.send(r).unwrap();
    });
    let r = outcome
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("the write transaction did not finish");
    assert!(
        matches!(r, Err(Error::Malformed { page, .. }) if page == free_root),
        "{r:?}"
    );
    assert!(
        file_bytes(&fs) == before,
        "the failed commit wrote to the file"
    );
}
