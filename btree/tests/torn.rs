//! A durable commit that writes few pages shares one sync between its pages
//! and its meta page (format 4). A crash during that sync may leave the meta
//! page on disk without some of the pages, or with some torn at a sector:
//! open must then take the commit before it, say so in `Db::recovery`, and
//! never read the torn commit as whole. Here every page of the last commit
//! is damaged alone, and many subsets of them together, each way a crash
//! can leave a page (not written; only its first sector written; all but
//! its first sector written).

mod common;

use std::path::Path;
use std::sync::Arc;

use larder_btree::{Db, Durability, Options, OtherMeta};
use vfs::{Fs, MemFs, OpenMode};

use common::{Model, contents};

/// Pages of 4 KiB: eight sectors each, so a page can tear inside.
const PAGE: usize = 4096;
const SECTOR: usize = 512;

/// Room for every page the tests write, so no commit grows the file (a
/// commit that does syncs before its meta page).
fn options() -> Options {
    Options {
        page_size_bytes: PAGE as u32,
        initial_size_bytes: 8 << 20,
        ..Options::default()
    }
}

fn image(fs: &MemFs) -> Vec<u8> {
    let f = fs.open(Path::new("/db"), OpenMode::Read).unwrap();
    let mut bytes = vec![0u8; f.len().unwrap() as usize];
    f.read_exact_at(&mut bytes, 0).unwrap();
    bytes
}

fn disk(bytes: &[u8]) -> Arc<MemFs> {
    let fs = Arc::new(MemFs::new());
    let f = fs.open(Path::new("/db"), OpenMode::Truncate).unwrap();
    f.write_all_at(bytes, 0).unwrap();
    f.sync_data().unwrap();
    fs
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// The file before and after the last commit, and the contents each holds.
struct Commits {
    before: Vec<u8>,
    after: Vec<u8>,
    previous: Model,
    last: Model,
}

/// A tree three levels deep, made durable (with two syncs: many pages),
/// then one small durable commit: one key changed, one inserted with a
/// value in an overflow run, one removed.
fn commits() -> Commits {
    let fs = Arc::new(MemFs::new());
    let db = Db::open_with_fs(fs.clone(), "/db", options()).unwrap();
    let mut txn = db.begin_write().unwrap();
    txn.set_durability(Durability::None);
    for i in 0..20_000u32 {
        txn.insert(&i.to_be_bytes(), &[i as u8; 40]).unwrap();
    }
    txn.commit().unwrap();
    db.sync().unwrap();
    let previous = contents(&db);
    let before = image(&fs);
    let mut txn = db.begin_write().unwrap();
    txn.insert(&7u32.to_be_bytes(), b"changed").unwrap();
    txn.insert(b"large", &[9u8; 10_000]).unwrap();
    txn.remove(&12_345u32.to_be_bytes()).unwrap();
    txn.commit().unwrap();
    let last = contents(&db);
    drop(db);
    let after = image(&fs);
    Commits {
        before,
        after,
        previous,
        last,
    }
}

/// The newest meta page of `file`: (slot, transaction id, synced transaction id).
fn newest_meta(file: &[u8]) -> (usize, u64, u64) {
    let txn = |slot: usize| u64_at(file, slot * PAGE + 16);
    let slot = usize::from(txn(1) > txn(0));
    (slot, txn(slot), u64_at(file, slot * PAGE + 88))
}

/// Page `page` of `file`, zeros past its end (room the file grew by).
fn page_of(file: &[u8], page: usize) -> Vec<u8> {
    file.get(page * PAGE..(page + 1) * PAGE)
        .map_or_else(|| vec![0u8; PAGE], <[u8]>::to_vec)
}

/// The data pages the last commit wrote.
fn written(c: &Commits) -> Vec<usize> {
    (2..c.after.len() / PAGE)
        .filter(|&p| page_of(&c.after, p) != page_of(&c.before, p))
        .collect()
}

/// How a crash leaves one page of the commit.
#[derive(Clone, Copy, Debug)]
enum Damage {
    /// The write never reached the disk.
    Lost,
    /// Only its first sector did.
    FirstSector,
    /// All but its first sector did.
    AllButFirst,
}

/// Puts back in `file` the bytes `before` held in the part of `page` that
/// `how` says did not reach the disk.
fn damage(file: &mut [u8], before: &[u8], page: usize, how: Damage) {
    let old = page_of(before, page);
    let range = match how {
        Damage::Lost => 0..PAGE,
        Damage::FirstSector => SECTOR..PAGE,
        Damage::AllButFirst => 0..SECTOR,
    };
    file[page * PAGE..][range.clone()].copy_from_slice(&old[range]);
}

/// Opens the damaged file (read-only and for writing): it holds the commit
/// before the last, says the last was torn, passes `check`, and takes a
/// new commit that the next open finds whole.
fn check_falls_back(c: &Commits, file: &[u8], what: &str) {
    let fs = disk(file);
    {
        let db = Db::open_read_only_with_fs(fs.clone(), "/db", options()).unwrap();
        assert!(
            matches!(db.recovery().other, OtherMeta::Torn { .. }),
            "{what}: {}",
            db.recovery()
        );
        assert_eq!(contents(&db), c.previous, "{what}");
    }
    let db =
        Db::open_with_fs(fs.clone(), "/db", options()).unwrap_or_else(|e| panic!("{what}: {e}"));
    let r = *db.recovery();
    assert!(!r.is_clean(), "{what}");
    let OtherMeta::Torn { txn, page, .. } = r.other else {
        panic!("{what}: {r}");
    };
    assert_eq!(txn, newest_meta(file).1, "{what}");
    assert!(written(c).contains(&(page as usize)), "{what}: {r}");
    db.check().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(contents(&db), c.previous, "{what}");
    let mut txn = db.begin_write().unwrap();
    txn.insert(b"after", b"crash").unwrap();
    txn.commit().unwrap();
    drop(db);
    let db = Db::open_with_fs(fs, "/db", options()).unwrap();
    assert!(db.recovery().is_clean(), "{what}: {}", db.recovery());
    db.check().unwrap();
    let mut want = c.previous.clone();
    want.insert(b"after".to_vec(), b"crash".to_vec());
    assert_eq!(contents(&db), want, "{what}");
}

#[test]
fn a_small_durable_commit_takes_one_sync_and_opens_whole() {
    let c = commits();
    let (_, txn, synced) = newest_meta(&c.after);
    assert!(synced < txn, "one sync: synced {synced}, commit {txn}");
    let (_, prev_txn, prev_synced) = newest_meta(&c.before);
    assert_eq!(
        prev_synced, prev_txn,
        "the large commit synced its pages first"
    );
    assert_eq!(synced, prev_txn);
    let db = Db::open_with_fs(disk(&c.after), "/db", options()).unwrap();
    assert!(db.recovery().is_clean(), "{}", db.recovery());
    db.check().unwrap();
    assert_eq!(contents(&db), c.last);
}

#[test]
fn any_one_page_of_a_torn_single_sync_commit_falls_back_to_the_previous_commit() {
    let c = commits();
    let pages = written(&c);
    // Root, two branches, a leaf or two, an overflow run, free-tree pages.
    assert!(pages.len() >= 5, "{pages:?}");
    for &page in &pages {
        for how in [Damage::Lost, Damage::FirstSector, Damage::AllButFirst] {
            let mut file = c.after.clone();
            damage(&mut file, &c.before, page, how);
            if file == c.after {
                // The part that did not reach the disk held what it holds
                // already (a page ending in zeros written over zeros).
                continue;
            }
            check_falls_back(&c, &file, &format!("page {page} {how:?}"));
        }
    }
}

#[test]
fn subsets_of_a_torn_single_sync_commit_fall_back_to_the_previous_commit() {
    let c = commits();
    let pages = written(&c);
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let hows = [Damage::Lost, Damage::FirstSector, Damage::AllButFirst];
    for round in 0..64 {
        let mut file = c.after.clone();
        let mut chosen = Vec::new();
        for &page in &pages {
            if next() % 2 == 0 {
                let how = hows[(next() % 3) as usize];
                damage(&mut file, &c.before, page, how);
                chosen.push((page, how));
            }
        }
        if file == c.after {
            continue;
        }
        check_falls_back(&c, &file, &format!("round {round}: {chosen:?}"));
    }
    // Every page lost: the meta page alone reached the disk.
    let mut file = c.after.clone();
    for &page in &pages {
        damage(&mut file, &c.before, page, Damage::Lost);
    }
    check_falls_back(&c, &file, "every page lost");
}

/// A commit that grows the file syncs before its meta page (two syncs), so
/// a meta page written under one sync never names pages past the end of
/// the file: a file cut short of them is truncated, and open refuses it.
#[test]
fn a_commit_that_grows_the_file_syncs_before_its_meta_page() {
    let fs = Arc::new(MemFs::new());
    let growing = Options {
        initial_size_bytes: 0,
        ..options()
    };
    let db = Db::open_with_fs(fs.clone(), "/db", growing).unwrap();
    let mut grew = 0;
    for i in 0..200u32 {
        let len = image(&fs).len();
        let mut txn = db.begin_write().unwrap();
        txn.insert(&i.to_be_bytes(), &[1u8; 1000]).unwrap();
        txn.commit().unwrap();
        let file = image(&fs);
        let (_, txn, synced) = newest_meta(&file);
        if file.len() > len {
            grew += 1;
            assert_eq!(synced, txn, "commit {txn} grew the file");
        } else {
            assert!(synced < txn, "commit {txn} did not grow the file");
        }
    }
    assert!(grew > 3, "{grew}");
    drop(db);
    let c = commits();
    let slot = newest_meta(&c.after).0;
    let page_count = u64_at(&c.after, slot * PAGE + 64) as usize;
    let mut file = c.after.clone();
    file.truncate((page_count - 1) * PAGE);
    assert!(matches!(
        Db::open_with_fs(disk(&file), "/db", options()),
        Err(larder_btree::Error::Truncated { .. })
    ));
}
