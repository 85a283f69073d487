//! Damage to the meta pages is found and reported, never hidden (issue 20,
//! items 4 and 5): a damaged newest meta page refuses to open instead of
//! silently reverting to the previous commit; a damaged older one opens,
//! says so in `Db::recovery`, and `Db::check` names it; a meta page whose
//! checksum holds but whose pages lie past the end of the file, or whose
//! numbers are out of range, is an error; `Db::open_existing` never makes a
//! new database in place of a deleted or emptied file.

mod common;

use std::path::Path;
use std::sync::Arc;

use larder_btree::{Db, Durability, Error, MetaProblem, Options, OtherMeta};
use vfs::{Fs, MemFs, OpenMode};

use common::{Model, contents};

const PAGE: u64 = 512;
const DB: &str = "/db";

fn options() -> Options {
    Options {
        page_size_bytes: PAGE as u32,
        initial_size_bytes: 0,
        ..Options::default()
    }
}

/// Three durable commits of 200 keys each (the last overwrites and
/// removes): returns the contents after the second and after the third.
fn build(fs: &Arc<MemFs>) -> (Model, Model) {
    let db = Db::open_with_fs(fs.clone(), DB, options()).unwrap();
    let mut model = Model::new();
    let mut previous = Model::new();
    for round in 0..3u32 {
        previous = model.clone();
        let mut txn = db.begin_write().unwrap();
        for i in 0..200u32 {
            let key = (i + round * 100).to_be_bytes().to_vec();
            let value = vec![round as u8; 40];
            txn.insert(&key, &value).unwrap();
            model.insert(key, value);
        }
        if round == 2 {
            for i in 0..20u32 {
                let key = (i * 3).to_be_bytes().to_vec();
                txn.remove(&key).unwrap();
                model.remove(&key);
            }
        }
        txn.commit().unwrap();
    }
    assert_eq!(contents(&db), model);
    (previous, model)
}

fn read_page(fs: &MemFs, page: u64) -> Vec<u8> {
    let f = fs.open(Path::new(DB), OpenMode::Read).unwrap();
    let mut buf = vec![0u8; PAGE as usize];
    f.read_exact_at(&mut buf, page * PAGE).unwrap();
    buf
}

fn write_page(fs: &MemFs, page: u64, buf: &[u8]) {
    let f = fs.open(Path::new(DB), OpenMode::ReadWrite).unwrap();
    f.write_all_at(buf, page * PAGE).unwrap();
}

fn txn_of(page: &[u8]) -> u64 {
    u64::from_le_bytes(page[16..24].try_into().unwrap())
}

/// The slot holding the newest commit, and the other.
fn slots(fs: &MemFs) -> (u64, u64) {
    if txn_of(&read_page(fs, 0)) > txn_of(&read_page(fs, 1)) {
        (0, 1)
    } else {
        (1, 0)
    }
}

/// Sets a u64 field of a meta page and reseals its CRC (bytes 4.. of the page).
fn reseal_with(fs: &MemFs, slot: u64, offset: usize, value: u64) {
    let mut page = read_page(fs, slot);
    page[offset..offset + 8].copy_from_slice(&value.to_le_bytes());
    let crc = crc32fast::hash(&page[4..]);
    page[..4].copy_from_slice(&crc.to_le_bytes());
    write_page(fs, slot, &page);
}

fn file_len(fs: &MemFs) -> u64 {
    fs.open(Path::new(DB), OpenMode::Read)
        .unwrap()
        .len()
        .unwrap()
}

#[test]
fn a_flipped_byte_in_the_newest_meta_refuses_to_open_and_names_the_page() {
    let fs = Arc::new(MemFs::new());
    build(&fs);
    let (newest, older) = slots(&fs);
    let newest_txn = txn_of(&read_page(&fs, newest));
    let older_txn = txn_of(&read_page(&fs, older));
    for offset in 0..PAGE {
        let bit = (offset % 8) as u8;
        fs.flip_bit(Path::new(DB), newest * PAGE + offset, bit)
            .unwrap();
        for result in [
            Db::open_with_fs(fs.clone(), DB, options()),
            Db::open_read_only_with_fs(fs.clone(), DB, options()),
        ] {
            match result {
                Err(Error::MetaDamaged {
                    page,
                    fallback_txn,
                    newer_txn,
                    ..
                }) => {
                    assert_eq!(page, newest, "offset {offset}");
                    assert_eq!(fallback_txn, older_txn, "offset {offset}");
                    assert_eq!(newer_txn, newest_txn, "offset {offset}");
                }
                other => panic!("offset {offset}: {other:?}"),
            }
        }
        fs.flip_bit(Path::new(DB), newest * PAGE + offset, bit)
            .unwrap();
    }
}

#[test]
fn a_flipped_byte_anywhere_in_the_older_meta_is_named_by_check() {
    let fs = Arc::new(MemFs::new());
    let (_, latest) = build(&fs);
    let (newest, older) = slots(&fs);
    for offset in 0..PAGE {
        let bit = (offset % 8) as u8;
        fs.flip_bit(Path::new(DB), older * PAGE + offset, bit)
            .unwrap();
        let db = Db::open_read_only_with_fs(fs.clone(), DB, options()).unwrap();
        assert_eq!(db.recovery().slot, newest, "offset {offset}");
        assert!(!db.recovery().is_clean(), "offset {offset}");
        assert_eq!(contents(&db), latest, "offset {offset}");
        match db.check() {
            Err(Error::Corruption { page, .. }) => assert_eq!(page, older, "offset {offset}"),
            other => panic!("offset {offset}: {other:?}"),
        }
        drop(db);
        fs.flip_bit(Path::new(DB), older * PAGE + offset, bit)
            .unwrap();
    }
}

#[test]
fn a_zeroed_newest_meta_page_refuses_to_open() {
    let fs = Arc::new(MemFs::new());
    build(&fs);
    let (newest, _) = slots(&fs);
    write_page(&fs, newest, &[0u8; PAGE as usize]);
    let err = Db::open_with_fs(fs.clone(), DB, options()).unwrap_err();
    assert!(
        matches!(err, Error::MetaDamaged { page, problem: MetaProblem::Checksum { .. }, .. } if page == newest),
        "{err:?}"
    );
    assert!(err.to_string().contains("/db"), "{err}");
}

#[test]
fn a_damaged_older_meta_opens_the_newest_commit_and_says_so() {
    for zero in [false, true] {
        let fs = Arc::new(MemFs::new());
        let (_, latest) = build(&fs);
        let (newest, older) = slots(&fs);
        if zero {
            write_page(&fs, older, &[0u8; PAGE as usize]);
        } else {
            fs.flip_bit(Path::new(DB), older * PAGE + 50, 0).unwrap();
        }
        let db = Db::open_with_fs(fs.clone(), DB, options()).unwrap();
        let recovery = *db.recovery();
        assert_eq!(recovery.slot, newest);
        assert!(!recovery.is_clean());
        assert!(
            matches!(
                recovery.other,
                OtherMeta::Damaged {
                    problem: MetaProblem::Checksum { .. }
                }
            ),
            "{recovery:?}"
        );
        assert!(recovery.to_string().contains("damaged"), "{recovery}");
        assert_eq!(contents(&db), latest, "nothing durable is lost");
        // Verify names the damaged page, so the only fallback cannot rot unseen.
        match db.check() {
            Err(Error::Corruption { page, .. }) => assert_eq!(page, older),
            other => panic!("zero {zero}: {other:?}"),
        }
        // The next durable commit rewrites that page: verify passes again.
        let mut txn = db.begin_write().unwrap();
        txn.insert(b"after", b"repair").unwrap();
        txn.commit().unwrap();
        db.check().unwrap();
        drop(db);
        let db = Db::open_with_fs(fs.clone(), DB, options()).unwrap();
        assert!(db.recovery().is_clean(), "{}", db.recovery());
    }
}

#[test]
fn a_clean_open_reports_both_commits() {
    let fs = Arc::new(MemFs::new());
    build(&fs);
    let (newest, older) = slots(&fs);
    let db = Db::open_with_fs(fs.clone(), DB, options()).unwrap();
    let r = *db.recovery();
    assert!(r.is_clean());
    assert_eq!((r.slot, r.txn), (newest, txn_of(&read_page(&fs, newest))));
    assert_eq!(
        r.other,
        OtherMeta::Older {
            txn: txn_of(&read_page(&fs, older))
        }
    );
    db.check().unwrap();
}

#[test]
fn a_creation_cut_short_before_its_sync_opens_clean() {
    // What a torn creation leaves (vfs::MemFs tears at sector boundaries):
    // slot 0 written, slot 1 still zeros.
    let fs = Arc::new(MemFs::new());
    drop(Db::open_with_fs(fs.clone(), DB, options()).unwrap());
    write_page(&fs, 1, &[0u8; PAGE as usize]);
    let db = Db::open_with_fs(fs.clone(), DB, options()).unwrap();
    assert_eq!(db.recovery().other, OtherMeta::Unwritten);
    assert!(db.recovery().is_clean());
    db.check().unwrap();
}

#[test]
fn a_damaged_meta_beside_pages_of_uncommitted_writes_is_refused() {
    // Commits made with Durability::None leave pages newer than the last
    // durable meta page; the file cannot tell them from a lost durable
    // commit's, so damage to the other meta page is refused. (With a write
    // buffer such a commit's pages stay in memory: none is written here.)
    let fs = Arc::new(MemFs::new());
    build(&fs);
    {
        let unbuffered = Options {
            write_buffer_bytes: 0,
            ..options()
        };
        let db = Db::open_with_fs(fs.clone(), DB, unbuffered).unwrap();
        let mut txn = db.begin_write().unwrap();
        txn.set_durability(Durability::None);
        txn.insert(b"not", b"durable").unwrap();
        txn.commit().unwrap();
    }
    let (_, older) = slots(&fs);
    fs.flip_bit(Path::new(DB), older * PAGE + 50, 0).unwrap();
    assert!(matches!(
        Db::open_with_fs(fs.clone(), DB, options()),
        Err(Error::MetaDamaged { page, .. }) if page == older
    ));
}

#[test]
fn a_meta_page_past_the_end_of_the_file_is_truncation_not_an_empty_store() {
    // As `kv-store load` leaves it: non-durable commits, one sync at the end,
    // so slot 0 still holds the empty commit 0.
    let fs = Arc::new(MemFs::new());
    {
        let db = Db::open_with_fs(fs.clone(), DB, options()).unwrap();
        for i in 0..500u32 {
            let mut txn = db.begin_write().unwrap();
            txn.set_durability(Durability::None);
            txn.insert(&i.to_be_bytes(), &[7u8; 30]).unwrap();
            txn.commit().unwrap();
        }
        db.sync().unwrap();
    }
    let len = file_len(&fs);
    let f = fs.open(Path::new(DB), OpenMode::ReadWrite).unwrap();
    f.set_len(2 * PAGE).unwrap();
    drop(f);
    for result in [
        Db::open_with_fs(fs.clone(), DB, options()),
        Db::open_existing_with_fs(fs.clone(), DB, options()),
        Db::open_read_only_with_fs(fs.clone(), DB, options()),
    ] {
        match result {
            Err(Error::Truncated {
                page,
                page_count,
                page_size,
                file_len,
                ..
            }) => {
                assert_eq!((page, page_size, file_len), (1, PAGE as u32, 2 * PAGE));
                assert!(page_count > 2 && page_count <= len / PAGE, "{page_count}");
            }
            other => panic!("{other:?}"),
        }
    }
    // A cut through the data pages too.
    let f = fs.open(Path::new(DB), OpenMode::ReadWrite).unwrap();
    f.set_len(len / 2).unwrap();
    drop(f);
    assert!(matches!(
        Db::open_with_fs(fs.clone(), DB, options()),
        Err(Error::Truncated { .. })
    ));
}

#[test]
fn open_existing_never_creates_a_database() {
    let fs = Arc::new(MemFs::new());
    build(&fs);
    // Emptied.
    let f = fs.open(Path::new(DB), OpenMode::ReadWrite).unwrap();
    f.set_len(0).unwrap();
    drop(f);
    assert!(matches!(
        Db::open_existing_with_fs(fs.clone(), DB, options()),
        Err(Error::Empty { .. })
    ));
    assert_eq!(file_len(&fs), 0, "nothing written");
    // Deleted.
    fs.remove_file(Path::new(DB)).unwrap();
    assert!(matches!(
        Db::open_existing_with_fs(fs.clone(), DB, options()),
        Err(Error::Missing { .. })
    ));
    assert!(!fs.exists(Path::new(DB)).unwrap());
    // Db::open still creates, for library callers.
    let db = Db::open_with_fs(fs.clone(), DB, options()).unwrap();
    assert_eq!(db.check().unwrap().entries, 0);
    drop(db);
    let db = Db::open_existing_with_fs(fs.clone(), DB, options()).unwrap();
    assert_eq!(db.check().unwrap().entries, 0);
}

#[test]
fn meta_numbers_out_of_range_are_errors_even_with_a_good_checksum() {
    // (offset, value): page count past the file, entry count beyond what the
    // pages can hold, a transaction id using the free tree's top bit, a root
    // past the page count, a page count whose byte size overflows.
    let cases: [(usize, u64); 5] = [
        (64, 1 << 40),
        (72, 1 << 40),
        (16, u64::MAX - 1),
        (48, 1 << 30),
        (64, u64::MAX / 2),
    ];
    for (offset, value) in cases {
        let fs = Arc::new(MemFs::new());
        build(&fs);
        let (newest, _) = slots(&fs);
        reseal_with(&fs, newest, offset, value);
        let err = Db::open_with_fs(fs.clone(), DB, options()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Truncated { .. }
                    | Error::MetaDamaged {
                        problem: MetaProblem::OutOfRange { .. } | MetaProblem::Malformed,
                        ..
                    }
            ),
            "offset {offset} value {value}: {err:?}"
        );
    }
}

#[test]
fn an_out_of_range_older_meta_is_named_by_check() {
    let fs = Arc::new(MemFs::new());
    let (_, latest) = build(&fs);
    let (_, older) = slots(&fs);
    reseal_with(&fs, older, 72, 1 << 40); // entry count
    let db = Db::open_with_fs(fs.clone(), DB, options()).unwrap();
    assert_eq!(contents(&db), latest);
    match db.check() {
        Err(Error::BadMeta {
            page,
            problem: MetaProblem::OutOfRange { field, value, .. },
            ..
        }) => {
            assert_eq!((page, field, value), (older, "entry count", 1 << 40));
        }
        other => panic!("{other:?}"),
    }
}
