//! The durability model of `MemFs`: what a power loss keeps and drops.

use std::path::Path;

use larder_vfs::{CrashOptions, Fs, MemFs, OpenMode};

const UNDO: CrashOptions = CrashOptions {
    seed: 0,
    tear: false,
};
const KEEP: CrashOptions = CrashOptions {
    seed: u64::MAX,
    tear: false,
};

fn read_all(fs: &dyn Fs, path: &str) -> Option<Vec<u8>> {
    let file = fs.open(Path::new(path), OpenMode::Read).ok()?;
    let mut buf = vec![0; file.len().ok()? as usize];
    file.read_exact_at(&mut buf, 0).ok()?;
    Some(buf)
}

/// A file created and its name made durable, so only data is at stake.
fn durable_empty_file(fs: &MemFs, path: &str) -> Box<dyn larder_vfs::File> {
    let file = fs.open(Path::new(path), OpenMode::CreateNew).unwrap();
    file.sync_data().unwrap();
    fs.sync_dir(Path::new("/")).unwrap();
    file
}

#[test]
fn data_written_but_not_synced_is_gone_after_crash() {
    let fs = MemFs::new();
    let file = durable_empty_file(&fs, "/f");
    file.append(b"acknowledged, not durable").unwrap();
    for options in [UNDO, KEEP] {
        assert_eq!(read_all(&fs.crash(options), "/f"), Some(vec![]));
    }
    // The live disk still has it.
    assert_eq!(read_all(&fs, "/f").unwrap(), b"acknowledged, not durable");
}

#[test]
fn data_synced_survives_crash() {
    let fs = MemFs::new();
    let file = durable_empty_file(&fs, "/f");
    file.append(b"durable").unwrap();
    file.sync_data().unwrap();
    file.append(b" and more").unwrap();
    for options in [
        UNDO,
        KEEP,
        CrashOptions {
            seed: 7,
            tear: false,
        },
    ] {
        assert_eq!(read_all(&fs.crash(options), "/f").unwrap(), b"durable");
    }
}

#[test]
fn synced_file_whose_name_was_not_synced_may_vanish_or_stay() {
    let fs = MemFs::new();
    let file = fs.open(Path::new("/f"), OpenMode::CreateNew).unwrap();
    file.append(b"data").unwrap();
    file.sync_data().unwrap();
    // No sync_dir("/").
    assert_eq!(
        read_all(&fs.crash(UNDO), "/f"),
        None,
        "the name may be lost"
    );
    assert_eq!(read_all(&fs.crash(KEEP), "/f").unwrap(), b"data", "or kept");
    fs.sync_dir(Path::new("/")).unwrap();
    assert_eq!(read_all(&fs.crash(UNDO), "/f").unwrap(), b"data");
}

#[test]
fn rename_not_followed_by_sync_dir_may_be_undone() {
    let fs = MemFs::new();
    let file = fs.open(Path::new("/tmp"), OpenMode::CreateNew).unwrap();
    file.append(b"new").unwrap();
    file.sync_data().unwrap();
    let old = fs.open(Path::new("/current"), OpenMode::CreateNew).unwrap();
    old.append(b"old").unwrap();
    old.sync_data().unwrap();
    fs.sync_dir(Path::new("/")).unwrap();

    fs.rename(Path::new("/tmp"), Path::new("/current")).unwrap();
    let undone = fs.crash(UNDO);
    assert_eq!(read_all(&undone, "/current").unwrap(), b"old");
    assert_eq!(read_all(&undone, "/tmp").unwrap(), b"new");
    let kept = fs.crash(KEEP);
    assert_eq!(read_all(&kept, "/current").unwrap(), b"new");
    assert_eq!(read_all(&kept, "/tmp"), None);
    // Whatever the seed, the rename is all or nothing: one of the two states.
    for seed in 1..50 {
        let image = fs.crash(CrashOptions { seed, tear: false });
        let state = (read_all(&image, "/current"), read_all(&image, "/tmp"));
        assert!(
            state == (Some(b"old".to_vec()), Some(b"new".to_vec()))
                || state == (Some(b"new".to_vec()), None),
            "seed {seed}: {state:?}"
        );
    }
    fs.sync_dir(Path::new("/")).unwrap();
    assert_eq!(read_all(&fs.crash(UNDO), "/current").unwrap(), b"new");
}

#[test]
fn torn_write_keeps_a_sector_aligned_prefix() {
    let fs = MemFs::new();
    let file = durable_empty_file(&fs, "/log");
    file.append(&[1u8; 100]).unwrap();
    file.sync_data().unwrap();
    // An unsynced 2000-byte write starting at offset 100: sector boundaries
    // inside it are 512, 1024, 1536 and 2048.
    file.append(&[2u8; 2000]).unwrap();
    let mut lengths = std::collections::BTreeSet::new();
    for seed in 0..64 {
        let image = fs.crash(CrashOptions { seed, tear: true });
        let data = read_all(&image, "/log").unwrap();
        assert!(data[..100].iter().all(|&b| b == 1), "durable prefix intact");
        assert!(
            data[100..].iter().all(|&b| b == 2),
            "only bytes of the write"
        );
        lengths.insert(data.len());
    }
    assert!(
        lengths
            .iter()
            .all(|len| [100, 512, 1024, 1536, 2048].contains(len)),
        "{lengths:?}"
    );
    assert!(
        lengths.len() > 1,
        "different seeds tear at different sectors"
    );
}

#[test]
fn torn_crash_keeps_earlier_unsynced_writes_whole() {
    let fs = MemFs::new();
    let file = durable_empty_file(&fs, "/f");
    file.append(&[1u8; 10]).unwrap();
    file.append(&[2u8; 10]).unwrap();
    let image = fs.crash(CrashOptions {
        seed: 0,
        tear: true,
    });
    // The first write made it; the last was torn before its first byte.
    assert_eq!(read_all(&image, "/f").unwrap(), vec![1u8; 10]);
}

#[test]
fn directory_created_without_parent_sync_may_vanish_with_its_files() {
    let fs = MemFs::new();
    fs.create_dir(Path::new("/db")).unwrap();
    let file = fs.open(Path::new("/db/data"), OpenMode::CreateNew).unwrap();
    file.append(b"x").unwrap();
    file.sync_data().unwrap();
    fs.sync_dir(Path::new("/db")).unwrap();
    assert!(!fs.crash(UNDO).exists(Path::new("/db")).unwrap());
    fs.sync_dir(Path::new("/")).unwrap();
    assert_eq!(read_all(&fs.crash(UNDO), "/db/data").unwrap(), b"x");
}

#[test]
fn removed_file_may_come_back_until_dir_synced() {
    let fs = MemFs::new();
    let file = durable_empty_file(&fs, "/f");
    drop(file);
    fs.remove_file(Path::new("/f")).unwrap();
    assert!(fs.crash(UNDO).exists(Path::new("/f")).unwrap());
    assert!(!fs.crash(KEEP).exists(Path::new("/f")).unwrap());
    fs.sync_dir(Path::new("/")).unwrap();
    assert!(!fs.crash(UNDO).exists(Path::new("/f")).unwrap());
}

#[test]
fn planned_crash_fails_the_sync_and_everything_after() {
    let fs = MemFs::new();
    fs.crash_before_sync(2, UNDO);
    let file = fs.open(Path::new("/f"), OpenMode::CreateNew).unwrap();
    file.append(b"a").unwrap();
    file.sync_data().unwrap(); // sync 1
    fs.sync_dir(Path::new("/")).unwrap_err(); // sync 2: the power is gone
    let err = file.append(b"b").unwrap_err();
    assert!(matches!(
        err,
        larder_vfs::Error::Io {
            op: larder_vfs::Op::Append,
            ..
        }
    ));
    assert!(
        matches!(&err, larder_vfs::Error::Io { source, .. } if source.raw_os_error() == Some(5)),
        "EIO"
    );
    let image = fs.crashed_image().unwrap();
    // Data synced, name not: lost under seed 0.
    assert!(!image.exists(Path::new("/f")).unwrap());
}

#[test]
fn crashed_image_is_independent_of_the_live_disk() {
    let fs = MemFs::new();
    let file = durable_empty_file(&fs, "/f");
    let image = fs.crash(UNDO);
    file.append(b"later").unwrap();
    file.sync_data().unwrap();
    assert_eq!(read_all(&image, "/f"), Some(vec![]));
}

#[test]
fn flip_bit_corrupts_current_and_durable_bytes() {
    let fs = MemFs::new();
    let file = durable_empty_file(&fs, "/f");
    file.append(&[0u8; 4]).unwrap();
    file.sync_data().unwrap();
    fs.flip_bit(Path::new("/f"), 2, 3).unwrap();
    assert_eq!(read_all(&fs, "/f").unwrap(), vec![0, 0, 8, 0]);
    assert_eq!(read_all(&fs.crash(UNDO), "/f").unwrap(), vec![0, 0, 8, 0]);
    assert!(fs.flip_bit(Path::new("/f"), 4, 0).is_err());
    assert!(
        fs.flip_bit(Path::new("/missing"), 0, 0)
            .unwrap_err()
            .is_not_found()
    );
}
