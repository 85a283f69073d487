//! Random workloads give the same results, call for call, on the real disk
//! and on `MemFs`; and `MemFs` refuses files past its size cap instead of
//! allocating them.

use std::io::ErrorKind;
use std::path::Path;

use larder_vfs::{Fs, MEM_FILE_MAX_BYTES, MemFs, OpenMode, OsFs};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Step {
    Open {
        file: usize,
        mode: u8,
    },
    Write {
        file: usize,
        offset: u64,
        len: usize,
        byte: u8,
    },
    Append {
        file: usize,
        len: usize,
        byte: u8,
    },
    SetLen {
        file: usize,
        len: u64,
    },
    Read {
        file: usize,
        offset: u64,
        len: usize,
    },
    Sync {
        file: usize,
    },
    Rename {
        from: usize,
        to: usize,
    },
    Remove {
        file: usize,
    },
    List,
}

fn step() -> impl Strategy<Value = Step> {
    let file = 0..3usize;
    prop_oneof![
        (file.clone(), 0..5u8).prop_map(|(file, mode)| Step::Open { file, mode }),
        (file.clone(), 0..6000u64, 0..3000usize, any::<u8>()).prop_map(
            |(file, offset, len, byte)| Step::Write {
                file,
                offset,
                len,
                byte
            }
        ),
        (file.clone(), 0..3000usize, any::<u8>()).prop_map(|(file, len, byte)| Step::Append {
            file,
            len,
            byte
        }),
        (file.clone(), 0..8000u64).prop_map(|(file, len)| Step::SetLen { file, len }),
        (file.clone(), 0..8000u64, 0..4000usize).prop_map(|(file, offset, len)| Step::Read {
            file,
            offset,
            len
        }),
        file.clone().prop_map(|file| Step::Sync { file }),
        (file.clone(), file.clone()).prop_map(|(from, to)| Step::Rename { from, to }),
        file.prop_map(|file| Step::Remove { file }),
        Just(Step::List),
    ]
}

const MODES: [OpenMode; 5] = [
    OpenMode::Read,
    OpenMode::ReadWrite,
    OpenMode::Append,
    OpenMode::CreateNew,
    OpenMode::Truncate,
];

/// Runs the steps on one file system and records every observable result:
/// an error's kind, bytes read, lengths, directory listings.
fn run(fs: &dyn Fs, root: &Path, steps: &[Step]) -> Vec<String> {
    let name = |i: usize| root.join(format!("f{i}"));
    let mut handles: Vec<Option<Box<dyn larder_vfs::File>>> = (0..3).map(|_| None).collect();
    let mut out = Vec::new();
    for step in steps {
        let result: Result<String, ErrorKind> = match *step {
            Step::Open { file, mode } => fs
                .open(&name(file), MODES[usize::from(mode)])
                .map(|h| {
                    handles[file] = Some(h);
                    "opened".to_string()
                })
                .map_err(|e| e.kind()),
            Step::Write {
                file,
                offset,
                len,
                byte,
            } => match &handles[file] {
                Some(h) => h
                    .write_all_at(&vec![byte; len], offset)
                    .map(|()| String::new())
                    .map_err(|e| e.kind()),
                None => continue,
            },
            Step::Append { file, len, byte } => match &handles[file] {
                Some(h) => h
                    .append(&vec![byte; len])
                    .map(|at| at.to_string())
                    .map_err(|e| e.kind()),
                None => continue,
            },
            Step::SetLen { file, len } => match &handles[file] {
                Some(h) => h.set_len(len).map(|()| String::new()).map_err(|e| e.kind()),
                None => continue,
            },
            Step::Read { file, offset, len } => match &handles[file] {
                Some(h) => {
                    let mut buf = vec![0; len];
                    h.read_at(&mut buf, offset)
                        .map(|n| format!("{:?}", &buf[..n]))
                        .map_err(|e| e.kind())
                }
                None => continue,
            },
            Step::Sync { file } => match &handles[file] {
                Some(h) => h
                    .sync_data()
                    .and_then(|()| h.len())
                    .map(|len| len.to_string())
                    .map_err(|e| e.kind()),
                None => continue,
            },
            Step::Rename { from, to } => fs
                .rename(&name(from), &name(to))
                .map(|()| String::new())
                .map_err(|e| e.kind()),
            Step::Remove { file } => fs
                .remove_file(&name(file))
                .map(|()| String::new())
                .map_err(|e| e.kind()),
            Step::List => fs
                .list_dir(root)
                .map(|mut names| {
                    names.sort();
                    format!("{names:?}")
                })
                .map_err(|e| e.kind()),
        };
        out.push(format!("{step:?} -> {result:?}"));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn os_fs_and_mem_fs_agree_on_random_workloads(steps in prop::collection::vec(step(), 0..60)) {
        let dir = tempfile::tempdir().unwrap();
        let on_disk = run(&OsFs::new(), dir.path(), &steps);
        let mem = MemFs::new();
        let root = Path::new("/d");
        mem.create_dir(root).unwrap();
        let in_memory = run(&mem, root, &steps);
        prop_assert_eq!(on_disk, in_memory);
    }
}

#[test]
fn mem_fs_refuses_files_past_its_cap_without_allocating() {
    let fs = MemFs::new();
    let file = fs.open(Path::new("/big"), OpenMode::CreateNew).unwrap();
    for (what, result) in [
        ("write", file.write_all_at(b"x", MEM_FILE_MAX_BYTES)),
        ("write at u64::MAX", file.write_all_at(b"x", u64::MAX)),
        ("set_len", file.set_len(MEM_FILE_MAX_BYTES + 1)),
        ("set_len u64::MAX", file.set_len(u64::MAX)),
    ] {
        assert_eq!(
            result.unwrap_err().kind(),
            ErrorKind::FileTooLarge,
            "{what}"
        );
    }
    assert_eq!(file.len().unwrap(), 0);
    file.write_all_at(b"x", MEM_FILE_MAX_BYTES - 1).unwrap();
    assert_eq!(file.len().unwrap(), MEM_FILE_MAX_BYTES);
    assert_eq!(
        file.append(b"y").unwrap_err().kind(),
        ErrorKind::FileTooLarge
    );
}
