//! One test body, run on the real disk and on the in-memory one: both must
//! behave the same for everything the engines rely on.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use larder_vfs::{Error, Fs, MemFs, OpenMode, OsFs};

fn conformance(fs: &dyn Fs, root: &Path) {
    let p = |name: &str| -> PathBuf { root.join(name) };

    // Opening.
    assert_eq!(
        fs.open(&p("missing"), OpenMode::Read).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        fs.open(&p("missing"), OpenMode::ReadWrite)
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    let file = fs.open(&p("a"), OpenMode::CreateNew).unwrap();
    assert_eq!(
        fs.open(&p("a"), OpenMode::CreateNew).unwrap_err().kind(),
        ErrorKind::AlreadyExists
    );
    assert_eq!(file.path(), p("a"));
    assert_eq!(file.len().unwrap(), 0);
    assert!(file.is_empty().unwrap());

    // Appends return their offsets; positional reads and writes.
    assert_eq!(file.append(b"hello").unwrap(), 0);
    assert_eq!(file.append(b" world").unwrap(), 5);
    file.write_all_at(b"HELLO", 0).unwrap();
    let mut buf = [0u8; 11];
    file.read_exact_at(&mut buf, 0).unwrap();
    assert_eq!(&buf, b"HELLO world");
    let mut short = [0u8; 20];
    assert_eq!(file.read_at(&mut short, 6).unwrap(), 5);
    assert_eq!(file.read_at(&mut short, 100).unwrap(), 0);
    let err = file.read_exact_at(&mut short, 0).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
    assert!(matches!(
        err,
        Error::Io {
            op: larder_vfs::Op::Read,
            ..
        }
    ));
    // A write past the end leaves a gap of zeros; appends follow it.
    file.write_all_at(b"!", 15).unwrap();
    assert_eq!(file.len().unwrap(), 16);
    let mut gap = [9u8; 5];
    file.read_exact_at(&mut gap, 11).unwrap();
    assert_eq!(gap, [0, 0, 0, 0, b'!']);
    assert_eq!(file.append(b"?").unwrap(), 16);
    file.sync_data().unwrap();

    // Length changes, and the map sees the bytes.
    file.set_len(5).unwrap();
    assert_eq!(file.len().unwrap(), 5);
    assert_eq!(&file.map().unwrap()[..], b"HELLO");
    file.set_len(8).unwrap();
    assert_eq!(&file.map().unwrap()[..], b"HELLO\0\0\0");
    assert_eq!(file.append(b"x").unwrap(), 8);
    drop(file);

    // Modes keep or truncate contents; read-only handles refuse writes.
    let reader = fs.open(&p("a"), OpenMode::Read).unwrap();
    assert_eq!(reader.len().unwrap(), 9);
    assert!(reader.append(b"no").is_err());
    assert!(reader.write_all_at(b"no", 0).is_err());
    let appender = fs.open(&p("a"), OpenMode::Append).unwrap();
    assert_eq!(appender.append(b"y").unwrap(), 9);
    let truncated = fs.open(&p("a"), OpenMode::Truncate).unwrap();
    assert_eq!(truncated.len().unwrap(), 0);
    assert!(
        fs.open(&p("empty"), OpenMode::Truncate)
            .unwrap()
            .map()
            .unwrap()
            .is_empty()
    );

    // Renames replace atomically; open handles follow the file.
    let b = fs.open(&p("b"), OpenMode::CreateNew).unwrap();
    b.append(b"bee").unwrap();
    fs.rename(&p("b"), &p("a")).unwrap();
    assert!(!fs.exists(&p("b")).unwrap());
    let mut bee = [0u8; 3];
    fs.open(&p("a"), OpenMode::Read)
        .unwrap()
        .read_exact_at(&mut bee, 0)
        .unwrap();
    assert_eq!(&bee, b"bee");
    b.append(b"s").unwrap();
    assert_eq!(fs.open(&p("a"), OpenMode::Read).unwrap().len().unwrap(), 4);
    assert_eq!(
        fs.rename(&p("nope"), &p("a")).unwrap_err().kind(),
        ErrorKind::NotFound
    );

    // Removing a file keeps open handles working.
    fs.remove_file(&p("a")).unwrap();
    assert!(!fs.exists(&p("a")).unwrap());
    b.append(b"!").unwrap();
    assert_eq!(b.len().unwrap(), 5);
    assert_eq!(
        fs.remove_file(&p("a")).unwrap_err().kind(),
        ErrorKind::NotFound
    );

    // Directories.
    fs.create_dir(&p("d")).unwrap();
    assert_eq!(
        fs.create_dir(&p("d")).unwrap_err().kind(),
        ErrorKind::AlreadyExists
    );
    fs.create_dir_all(&p("d/e/f")).unwrap();
    fs.create_dir_all(&p("d/e/f")).unwrap();
    fs.open(&p("d/z"), OpenMode::CreateNew).unwrap();
    fs.open(&p("d/m"), OpenMode::CreateNew).unwrap();
    let names: Vec<_> = fs.list_dir(&p("d")).unwrap();
    assert_eq!(names, ["e", "m", "z"]);
    assert!(fs.remove_dir(&p("d/e")).is_err(), "not empty");
    fs.remove_dir(&p("d/e/f")).unwrap();
    fs.remove_dir(&p("d/e")).unwrap();
    assert!(!fs.exists(&p("d/e")).unwrap());
    assert_eq!(
        fs.list_dir(&p("missing")).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        fs.open(&p("nodir/x"), OpenMode::CreateNew)
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    fs.sync_dir(&p("d")).unwrap();
    fs.sync_dir(root).unwrap();

    // Locks are exclusive until dropped, even within one process.
    let lock = fs.lock(&p("LOCK")).unwrap();
    assert_eq!(lock.path(), p("LOCK"));
    let err = fs.lock(&p("LOCK")).unwrap_err();
    assert!(
        matches!(&err, Error::Locked { path } if *path == p("LOCK")),
        "{err:?}"
    );
    assert!(err.to_string().contains("locked"));
    drop(lock);
    drop(fs.lock(&p("LOCK")).unwrap());
    assert!(fs.exists(&p("LOCK")).unwrap());

    // Shared locks: many together, none beside an exclusive one, and never
    // a new file.
    let reader_1 = fs.lock_shared(&p("LOCK")).unwrap();
    let reader_2 = fs.lock_shared(&p("LOCK")).unwrap();
    assert!(matches!(fs.lock(&p("LOCK")), Err(Error::Locked { .. })));
    drop(reader_1);
    assert!(matches!(fs.lock(&p("LOCK")), Err(Error::Locked { .. })));
    drop(reader_2);
    let writer = fs.lock(&p("LOCK")).unwrap();
    assert!(matches!(
        fs.lock_shared(&p("LOCK")),
        Err(Error::Locked { .. })
    ));
    drop(writer);
    assert_eq!(
        fs.lock_shared(&p("NO-LOCK")).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert!(!fs.exists(&p("NO-LOCK")).unwrap());
}

#[test]
fn os_fs_passes_conformance() {
    let dir = tempfile::tempdir().unwrap();
    conformance(&OsFs::new(), dir.path());
}

#[test]
fn mem_fs_passes_conformance() {
    conformance(&MemFs::new(), Path::new("/"));
    let fs = MemFs::new();
    fs.create_dir_all(Path::new("/some/root")).unwrap();
    conformance(&fs, Path::new("/some/root"));
}

#[test]
fn errors_name_the_operation_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let err = OsFs::new().open(&missing, OpenMode::Read).unwrap_err();
    assert!(matches!(&err, Error::Io { op: larder_vfs::Op::Open, path, .. } if *path == missing));
    assert!(err.to_string().contains("open"));
    assert!(err.to_string().contains("missing"));
}
