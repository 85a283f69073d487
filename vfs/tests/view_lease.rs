//! A view of a deleted file, dropped while another thread creates files:
//! the unmap frees the deleted file's inode, and a file created at that
//! moment may get it. Its truncation must not be refused by the old
//! view's lease (`ViewAlive`): the unmap and the lease's release are one
//! step under the views' lock (`mmap.rs`, `Lease::unmap_then_release`).
//! Found by the lsm soak (`stress`), where a flush's new table was
//! refused and the database stopped. Before the fix this test failed
//! within a second in the run that found it; it is a race, and a quieter
//! or busier machine may not hit the window.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use larder_vfs::{Fs, OpenMode, OsFs};

/// Rounds of each side, at most.
const ROUNDS_MAX: usize = 20_000;

/// Creates, maps, deletes and then drops the view of file after file.
fn map_and_delete(fs: &OsFs, dir: &Path, stop: &AtomicBool) {
    for i in 0..ROUNDS_MAX {
        if stop.load(Ordering::Acquire) {
            return;
        }
        let path = dir.join(format!("mapped-{i}"));
        let f = fs.open(&path, OpenMode::Truncate).expect("create");
        f.append(&[7u8; 4096]).expect("append");
        let view = f.map().expect("map");
        drop(f);
        fs.remove_file(&path).expect("remove");
        drop(view);
    }
}

/// Creates file after file with `Truncate`, as a flush creates a table;
/// the first refusal, if any.
fn create(fs: &OsFs, dir: &Path, stop: &AtomicBool) -> Option<larder_vfs::Error> {
    for i in 0..ROUNDS_MAX {
        if stop.load(Ordering::Acquire) {
            return None;
        }
        let path = dir.join(format!("created-{i}"));
        match fs.open(&path, OpenMode::Truncate) {
            Ok(f) => drop(f),
            Err(e) => return Some(e),
        }
        fs.remove_file(&path).expect("remove");
    }
    None
}

#[test]
fn a_file_created_while_a_deleted_files_view_is_dropped_opens() {
    let dir = tempfile::tempdir().expect("dir");
    let stop = Arc::new(AtomicBool::new(false));
    let mapper = {
        let (dir, stop) = (dir.path().to_path_buf(), Arc::clone(&stop));
        std::thread::spawn(move || map_and_delete(&OsFs::new(), &dir, &stop))
    };
    let refused = create(&OsFs::new(), dir.path(), &stop);
    stop.store(true, Ordering::Release);
    mapper.join().expect("the mapping thread");
    assert!(refused.is_none(), "a new file was refused: {refused:?}");
}
