//! A file is never shrunk below a live view of it: on `OsFs` a read of the
//! cut part of the map would kill the process with `SIGBUS`, so every call
//! that could cut it fails instead, on the real disk and on `MemFs` alike.
//!
//! Before the fix, `set_len(0)` under a live view returned `Ok` on both, and
//! on `OsFs` the read of the view that followed died of `SIGBUS`.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use larder_vfs::{Error, Fs, MemFs, Op, OpenMode, OsFs};
use proptest::prelude::*;

const LEN: u64 = 10_000;

fn is_view_alive(e: &Error, want_op: Op, want_len: u64, want_view_len: u64) -> bool {
    e.kind() == ErrorKind::ResourceBusy
        && matches!(
            e,
            Error::ViewAlive { op, len_bytes, view_len_bytes, .. }
                if (*op, *len_bytes, *view_len_bytes) == (want_op, want_len, want_view_len)
        )
}

fn set_len_below_a_live_view_fails_and_the_view_stays_readable(fs: &dyn Fs, root: &Path) {
    let path = root.join("log");
    let file = fs.open(&path, OpenMode::Append).unwrap();
    file.append(&[7; LEN as usize]).unwrap();
    let view = file.map().unwrap();

    let err = file.set_len(0).unwrap_err();
    assert!(is_view_alive(&err, Op::SetLen, 0, LEN), "{err}");
    assert!(err.to_string().contains("log"), "{err}");
    assert_eq!(err.op(), Some(Op::SetLen));
    assert_eq!(
        file.len().unwrap(),
        LEN,
        "a refused set_len changed nothing"
    );
    // Reading every byte would be SIGBUS had the truncation gone through.
    assert!(view.iter().all(|&b| b == 7));
    // The handle's end is unchanged: an append lands after the old bytes.
    assert_eq!(file.append(b"x").unwrap(), LEN);

    // Shrinking to the view's length or growing is fine.
    file.set_len(LEN).unwrap();
    file.set_len(3 * LEN).unwrap();
    drop(view);
    file.set_len(0).unwrap();
    assert_eq!(file.len().unwrap(), 0);
}

fn every_clone_and_slice_of_a_view_holds_the_file(fs: &dyn Fs, root: &Path) {
    let path = root.join("table");
    let file = fs.open(&path, OpenMode::Truncate).unwrap();
    file.write_all_at(&[1; LEN as usize], 0).unwrap();
    let view = file.map().unwrap();
    let tail = view.slice(LEN as usize - 10..);
    let clone = view.clone();
    drop(view);
    assert!(is_view_alive(
        &file.set_len(1).unwrap_err(),
        Op::SetLen,
        1,
        LEN
    ));
    drop(clone);
    assert!(is_view_alive(
        &file.set_len(1).unwrap_err(),
        Op::SetLen,
        1,
        LEN
    ));
    assert_eq!(&tail[..], &[1; 10]);
    drop(tail);
    file.set_len(1).unwrap();
}

fn the_longest_view_bounds_and_views_of_other_files_do_not(fs: &dyn Fs, root: &Path) {
    let a = fs.open(&root.join("a"), OpenMode::Truncate).unwrap();
    let b = fs.open(&root.join("b"), OpenMode::Truncate).unwrap();
    a.append(&[2; 100]).unwrap();
    b.append(&[3; 100]).unwrap();
    let short = a.map().unwrap();
    a.append(&[2; 200]).unwrap();
    let long = a.map().unwrap();
    let of_b = b.map().unwrap();
    assert!(is_view_alive(
        &a.set_len(150).unwrap_err(),
        Op::SetLen,
        150,
        300
    ));
    drop(long);
    a.set_len(150).unwrap();
    assert!(is_view_alive(
        &a.set_len(99).unwrap_err(),
        Op::SetLen,
        99,
        100
    ));
    drop(short);
    a.set_len(0).unwrap();
    assert_eq!(&of_b[..], &[3; 100]);
}

fn another_handle_or_a_truncating_open_is_refused_too(fs: &dyn Fs, root: &Path) {
    let path = root.join("shared");
    let writer = fs.open(&path, OpenMode::Truncate).unwrap();
    writer.append(&[5; LEN as usize]).unwrap();
    let reader = fs.open(&path, OpenMode::Read).unwrap();
    let view = reader.map().unwrap();

    assert!(is_view_alive(
        &writer.set_len(10).unwrap_err(),
        Op::SetLen,
        10,
        LEN
    ));
    let other = fs.open(&path, OpenMode::ReadWrite).unwrap();
    assert!(is_view_alive(
        &other.set_len(0).unwrap_err(),
        Op::SetLen,
        0,
        LEN
    ));
    let err = fs.open(&path, OpenMode::Truncate).unwrap_err();
    assert!(is_view_alive(&err, Op::Open, 0, LEN), "{err}");
    // Even a read-only handle is told about the view first, as on Linux
    // `ftruncate` would otherwise say `EINVAL`.
    assert!(is_view_alive(
        &reader.set_len(0).unwrap_err(),
        Op::SetLen,
        0,
        LEN
    ));
    assert_eq!(writer.len().unwrap(), LEN);
    assert!(view.iter().all(|&b| b == 5));

    // Replacing or removing the name leaves the mapped file whole.
    let tmp = root.join("shared.tmp");
    fs.open(&tmp, OpenMode::CreateNew)
        .unwrap()
        .append(b"new")
        .unwrap();
    fs.rename(&tmp, &path).unwrap();
    fs.remove_file(&path).unwrap();
    assert!(view.iter().all(|&b| b == 5));
    drop(view);
    writer.set_len(0).unwrap();
    assert!(fs.open(&path, OpenMode::Truncate).is_ok());
}

fn on_both(body: fn(&dyn Fs, &Path)) {
    let dir = tempfile::tempdir().unwrap();
    body(&OsFs::new(), dir.path());
    let mem = MemFs::new();
    mem.create_dir(Path::new("/d")).unwrap();
    body(&mem, Path::new("/d"));
}

#[test]
fn set_len_below_a_live_view_fails_on_both() {
    on_both(set_len_below_a_live_view_fails_and_the_view_stays_readable);
}

#[test]
fn every_clone_and_slice_of_a_view_holds_the_file_on_both() {
    on_both(every_clone_and_slice_of_a_view_holds_the_file);
}

#[test]
fn the_longest_view_bounds_a_shrink_on_both() {
    on_both(the_longest_view_bounds_and_views_of_other_files_do_not);
}

#[test]
fn another_handle_or_a_truncating_open_is_refused_on_both() {
    on_both(another_handle_or_a_truncating_open_is_refused_too);
}

#[test]
fn a_view_dropped_on_another_thread_releases_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let fs = OsFs::new();
    let file = fs.open(&dir.path().join("f"), OpenMode::Truncate).unwrap();
    file.append(&[9; 4096]).unwrap();
    let view = file.map().unwrap();
    std::thread::spawn(move || assert_eq!(view.len(), 4096))
        .join()
        .unwrap();
    file.set_len(0).unwrap();
}

/// A workload of appends, maps, drops of views and shrinks: on both file
/// systems the same calls fail, and every live view reads what it read
/// when it was taken.
#[derive(Clone, Debug)]
enum Step {
    Append(u16),
    Map,
    Drop(usize),
    SetLen(u16),
    Reopen,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (1..3000u16).prop_map(Step::Append),
        Just(Step::Map),
        (0..8usize).prop_map(Step::Drop),
        (0..6000u16).prop_map(Step::SetLen),
        Just(Step::Reopen),
    ]
}

fn run(fs: &dyn Fs, root: &Path, steps: &[Step]) -> Vec<String> {
    let path: PathBuf = root.join("f");
    let mut file = fs.open(&path, OpenMode::Truncate).unwrap();
    let mut views: Vec<(bytes::Bytes, Vec<u8>)> = Vec::new();
    let mut out = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let result = match *step {
            Step::Append(n) => file
                .append(&vec![i as u8; usize::from(n)])
                .map(|at| at.to_string()),
            Step::Map => file.map().map(|view| {
                let len = view.len();
                let copy = view.to_vec();
                views.push((view, copy));
                len.to_string()
            }),
            Step::Drop(k) => {
                if !views.is_empty() {
                    views.remove(k % views.len());
                }
                Ok(String::new())
            }
            Step::SetLen(len) => file.set_len(u64::from(len)).map(|()| String::new()),
            Step::Reopen => fs.open(&path, OpenMode::Truncate).map(|f| {
                file = f;
                String::new()
            }),
        };
        for (view, copy) in &views {
            assert_eq!(&view[..], &copy[..], "a live view changed");
        }
        out.push(format!("{step:?} -> {:?}", result.map_err(|e| e.kind())));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn os_fs_and_mem_fs_refuse_the_same_shrinks(steps in prop::collection::vec(step(), 0..40)) {
        let dir = tempfile::tempdir().unwrap();
        let on_disk = run(&OsFs::new(), dir.path(), &steps);
        let mem = MemFs::new();
        let in_memory = run(&mem, Path::new("/"), &steps);
        prop_assert_eq!(on_disk, in_memory);
    }
}
