//! Advised views (`File::map_for`, `View::will_need`): the advice changes
//! how pages are read, never which bytes are seen; on file systems whose
//! views are copies it does nothing; a range past the end is clamped, not a
//! panic; a view leases its length as a plain map does.

use std::path::Path;
use std::sync::Arc;

use larder_vfs::{Access, Fault, FaultFs, Fs, MemFs, Op, OpenMode, OsFs, View};

const LEN: usize = 3 * 4096 + 1234;

fn pattern() -> Vec<u8> {
    (0..LEN).map(|i| (i * 7 + i / 4096) as u8).collect()
}

fn write(fs: &dyn Fs, path: &Path) -> Box<dyn larder_vfs::File> {
    let file = fs.open(path, OpenMode::Truncate).unwrap();
    file.write_all_at(&pattern(), 0).unwrap();
    file
}

/// A backwards range (`9000..10`), made at run time so clippy lets it be.
fn backwards() -> std::ops::Range<usize> {
    std::ops::Range {
        start: 9000,
        end: std::hint::black_box(10),
    }
}

/// Every advice, and prefetches of every shape, leave the bytes as written.
fn advice_keeps_the_bytes(fs: &dyn Fs, root: &Path, mapped: bool) {
    let path = root.join("t");
    let file = write(fs, &path);
    for access in [Access::Default, Access::Random, Access::Sequential] {
        let view = file.map_for(access).unwrap();
        assert_eq!(view.is_mapped(), mapped, "{access:?}");
        assert_eq!(view.len(), LEN);
        for range in [
            0..LEN,
            1..2,
            4095..4097,
            LEN - 1..LEN,
            5000..LEN * 10,      // end past the view: clamped
            LEN..LEN + 1,        // starts at the end: nothing
            LEN * 3..usize::MAX, // starts past the end: nothing
            backwards(),         // backwards: nothing
            7..7,
        ] {
            view.will_need(range.clone())
                .unwrap_or_else(|e| panic!("{range:?}: {e}"));
        }
        assert_eq!(&view.bytes()[..], &pattern()[..], "{access:?}");
        assert_eq!(view.as_ref(), &pattern()[..]);
    }
}

/// An advised view leases its length: the file cannot be cut under it.
fn advised_view_holds_the_file(fs: &dyn Fs, root: &Path) {
    let path = root.join("held");
    let file = write(fs, &path);
    let view = file.map_for(Access::Random).unwrap();
    let bytes = view.bytes().slice(10..20);
    drop(view);
    let err = file.set_len(0).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ResourceBusy, "{err}");
    drop(bytes);
    file.set_len(0).unwrap();
    // An empty file maps to an empty view, prefetch and all.
    let empty = file.map_for(Access::Random).unwrap();
    assert!(empty.is_empty() && !empty.is_mapped());
    empty.will_need(0..100).unwrap();
}

#[test]
fn os_fs_advice_keeps_the_bytes_and_the_lease() {
    let dir = tempfile::tempdir().unwrap();
    advice_keeps_the_bytes(&OsFs::new(), dir.path(), true);
    advised_view_holds_the_file(&OsFs::new(), dir.path());
}

#[test]
fn mem_fs_advice_is_a_no_op_on_a_copy() {
    let fs = MemFs::new();
    fs.create_dir_all(Path::new("/d")).unwrap();
    advice_keeps_the_bytes(&fs, Path::new("/d"), false);
    advised_view_holds_the_file(&fs, Path::new("/d"));
}

#[test]
fn fault_fs_passes_advice_on_and_fails_it_as_a_map() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultFs::new(Arc::new(OsFs::new()));
    // Passed on: the view of an `OsFs` file under `FaultFs` is still a map.
    advice_keeps_the_bytes(&fs, dir.path(), true);
    fs.fail_when(|op, _| op == Op::Map, Fault::Eio);
    let file = fs.open(&dir.path().join("t"), OpenMode::Read).unwrap();
    let err = file.map_for(Access::Random).unwrap_err();
    assert_eq!(err.op(), Some(Op::Map), "{err}");
}

#[test]
fn a_view_from_bytes_is_not_mapped() {
    let view = View::from_bytes(bytes::Bytes::from_static(b"abc"));
    assert!(!view.is_mapped());
    view.will_need(0..usize::MAX).unwrap();
    assert_eq!(&view.into_bytes()[..], b"abc");
}
