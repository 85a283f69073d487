//! `checkpoint`, `backup` and `restore` through the real binary, for both
//! engines.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use common::{ok, run, stderr};

const ENGINES: [&str; 2] = ["lsm", "btree"];

/// A store of `engine` in `dir` holding k000..k199 and a deleted key.
fn make_store(dir: &Path, engine: &str) {
    let mut tsv = String::new();
    for i in 0..200 {
        tsv.push_str(&format!("k{i:03}\tvalue {i}\n"));
    }
    ok(&run(
        dir,
        &["--engine", engine, "load", "-"],
        tsv.as_bytes(),
    ));
    ok(&run(dir, &["delete", "k007"], b""));
    // Large enough for an lsm blob file (a file in a subdirectory, `blobs/`)
    // and a btree overflow run.
    let big = dir.parent().unwrap().join(format!("big-{engine}.bin"));
    std::fs::write(&big, vec![b'b'; 10_000]).unwrap();
    ok(&run(
        dir,
        &["put", "big", "--file", big.to_str().unwrap()],
        b"",
    ));
}

fn scan(db: &Path) -> String {
    ok(&run(db, &["scan"], b""))
}

/// Every file under `dir`, relative, sorted (the lock files aside).
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

fn ino(p: &Path) -> u64 {
    std::fs::metadata(p).unwrap().ino()
}

#[test]
fn checkpoint_opens_on_its_own_with_the_same_contents_and_later_writes_stay_out() {
    for engine in ENGINES {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        let cp = tmp.path().join("cp");
        make_store(&src, engine);
        let before = scan(&src);
        let text = ok(&run(&src, &["checkpoint", cp.to_str().unwrap()], b""));
        assert!(text.contains("checkpoint written to"), "{engine}: {text}");
        assert_eq!(scan(&cp), before, "{engine}");
        assert_eq!(ok(&run(&cp, &["get", "k042"], b"")), "value 42\n");
        assert_eq!(run(&cp, &["get", "k007"], b"").status.code(), Some(1));
        ok(&run(&cp, &["verify"], b""));
        // The source keeps working; its later writes do not reach the copy,
        // nor the copy's writes the source.
        ok(&run(&src, &["put", "later", "x"], b""));
        ok(&run(&src, &["compact"], b""));
        ok(&run(&cp, &["put", "mine", "y"], b""));
        assert_eq!(
            run(&cp, &["get", "later"], b"").status.code(),
            Some(1),
            "{engine}"
        );
        assert_eq!(
            run(&src, &["get", "mine"], b"").status.code(),
            Some(1),
            "{engine}"
        );
        assert_eq!(ok(&run(&src, &["get", "later"], b"")), "x\n");
        ok(&run(&src, &["verify"], b""));
        ok(&run(&cp, &["verify"], b""));
        // The marker names the engine: a different --engine is refused.
        let other = if engine == "lsm" { "btree" } else { "lsm" };
        assert_eq!(
            run(&cp, &["--engine", other, "get", "k001"], b"")
                .status
                .code(),
            Some(2)
        );
    }
}

#[test]
fn lsm_checkpoint_hard_links_the_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let cp = tmp.path().join("cp");
    make_store(&src, "lsm");
    let text = ok(&run(&src, &["checkpoint", cp.to_str().unwrap()], b""));
    assert!(text.contains("hard-linked"), "{text}");
    let tables: Vec<_> = files(&cp)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "sst"))
        .collect();
    assert!(!tables.is_empty());
    for t in tables {
        assert_eq!(ino(&cp.join(&t)), ino(&src.join(&t)), "{}", t.display());
    }
    // The blob file too.
    let shards: Vec<_> = files(&cp)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "shard"))
        .collect();
    assert_eq!(shards.len(), 1, "{shards:?}");
    assert_eq!(ino(&cp.join(&shards[0])), ino(&src.join(&shards[0])));
}

#[test]
fn checkpoint_into_an_existing_destination_is_refused_and_changes_nothing() {
    for engine in ENGINES {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        make_store(&src, engine);
        let dest = tmp.path().join("dest");
        std::fs::create_dir(&dest).unwrap();
        std::fs::write(dest.join("notes.txt"), b"mine").unwrap();
        let out = run(&src, &["checkpoint", dest.to_str().unwrap()], b"");
        assert_eq!(out.status.code(), Some(2), "{engine}: {}", stderr(&out));
        assert!(stderr(&out).contains("exists"), "{}", stderr(&out));
        assert_eq!(files(&dest), [PathBuf::from("notes.txt")]);
        assert_eq!(std::fs::read(dest.join("notes.txt")).unwrap(), b"mine");
        // A file in the way is refused too.
        let file = tmp.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        let out = run(&src, &["checkpoint", file.to_str().unwrap()], b"");
        assert_eq!(out.status.code(), Some(2), "{engine}: {}", stderr(&out));
        assert_eq!(std::fs::read(&file).unwrap(), b"x");
    }
}

#[test]
fn checkpoint_of_a_missing_store_creates_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("nothing");
    let cp = tmp.path().join("cp");
    let out = run(&src, &["checkpoint", cp.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!src.exists());
    assert!(!cp.exists());
}

#[test]
fn second_backup_shares_unchanged_files_and_both_restore() {
    for engine in ENGINES {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        let bk = tmp.path().join("backups");
        let bk_s = bk.to_str().unwrap();
        make_store(&src, engine);
        let first_scan = scan(&src);
        ok(&run(&src, &["backup", bk_s], b""));
        // btree: an unchanged store gives an identical file, shared whole.
        if engine == "btree" {
            let text = ok(&run(&src, &["backup", bk_s], b""));
            assert!(text.contains("shared with backup 1"), "{text}");
            assert_eq!(ino(&bk.join("1/btree.db")), ino(&bk.join("2/btree.db")));
        }
        ok(&run(&src, &["put", "new", "value"], b""));
        let text = ok(&run(&src, &["backup", bk_s], b""));
        assert!(text.contains("shared with backup"), "{engine}: {text}");
        let ids: Vec<&str> = if engine == "btree" {
            vec!["1", "2", "3"]
        } else {
            vec!["1", "2"]
        };
        let last = *ids.last().unwrap();
        let prev = ids[ids.len() - 2];
        if engine == "lsm" {
            // Every table of the first backup is in the second, same inode.
            let tables: Vec<_> = files(&bk.join(prev))
                .into_iter()
                .filter(|p| p.extension().is_some_and(|e| e == "sst"))
                .collect();
            assert!(!tables.is_empty());
            for t in tables {
                assert_eq!(
                    ino(&bk.join(prev).join(&t)),
                    ino(&bk.join(last).join(&t)),
                    "{}",
                    t.display()
                );
            }
        }
        // Backups are copies, never links to the live store.
        for f in files(&bk.join("1")) {
            if src.join(&f).exists() {
                assert_ne!(
                    ino(&bk.join("1").join(&f)),
                    ino(&src.join(&f)),
                    "{}",
                    f.display()
                );
            }
        }
        // Nothing but the numbered backups is left in the directory.
        let mut names: Vec<String> = std::fs::read_dir(&bk)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ids, "{engine}");
        let list = ok(&run(&src, &["backup", "--list", bk_s], b""));
        let lines: Vec<&str> = list.lines().collect();
        assert_eq!(lines.len(), ids.len(), "{list}");
        for (line, id) in lines.iter().zip(&ids) {
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(cols[0], *id, "{line}");
            assert!(cols[1].ends_with('Z'), "{line}");
            assert_eq!(cols[2], engine, "{line}");
            assert!(
                cols[3].ends_with(" bytes") && cols[4].ends_with(" files"),
                "{line}"
            );
        }
        let json = ok(&run(
            &src,
            &["backup", "--list", "--format", "json", bk_s],
            b"",
        ));
        for line in json.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert!(v["bytes"].as_u64().unwrap() > 0, "{line}");
            assert!(v["files"].as_u64().unwrap() >= 2, "{line}");
        }

        // Restore the latest (default) and the first (--id 1).
        let latest = tmp.path().join("latest");
        let text = ok(&run(
            &src,
            &["restore", bk_s, "--to", latest.to_str().unwrap()],
            b"",
        ));
        assert!(text.contains(&format!("restored backup {last}")), "{text}");
        ok(&run(&latest, &["verify"], b""));
        assert_eq!(scan(&latest), scan(&src), "{engine}");
        let first = tmp.path().join("first");
        ok(&run(
            &src,
            &[
                "restore",
                bk_s,
                "--id",
                "1",
                "--to",
                first.to_str().unwrap(),
            ],
            b"",
        ));
        ok(&run(&first, &["verify"], b""));
        assert_eq!(scan(&first), first_scan, "{engine}");
        // The restored store is a store of its own.
        ok(&run(&first, &["put", "after-restore", "1"], b""));
        assert_eq!(
            run(&src, &["get", "after-restore"], b"").status.code(),
            Some(1)
        );
    }
}

#[test]
fn restore_refuses_a_damaged_backup_naming_the_file_and_writes_nothing() {
    for engine in ENGINES {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        let bk = tmp.path().join("backups");
        make_store(&src, engine);
        ok(&run(&src, &["backup", bk.to_str().unwrap()], b""));
        // The largest file: a table or the btree file.
        let victim = files(&bk.join("1"))
            .into_iter()
            .filter(|p| p.file_name().unwrap() != "BACKUP-MANIFEST.json")
            .max_by_key(|p| std::fs::metadata(bk.join("1").join(p)).unwrap().len())
            .unwrap();
        let path = bk.join("1").join(&victim);
        let mut bytes = std::fs::read(&path).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x01;
        std::fs::write(&path, &bytes).unwrap();
        let to = tmp.path().join("restored");
        let out = run(
            &src,
            &[
                "restore",
                bk.to_str().unwrap(),
                "--to",
                to.to_str().unwrap(),
            ],
            b"",
        );
        assert_eq!(out.status.code(), Some(1), "{engine}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(victim.to_str().unwrap()), "{err}");
        assert!(err.contains("expected") && err.contains("found"), "{err}");
        assert!(err.contains("sha256"), "{err}");
        assert!(!to.exists(), "{engine}: restore wrote into the target");
        let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n.to_string_lossy().contains("restore"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");

        // A missing file is named the same way.
        std::fs::remove_file(&path).unwrap();
        let out = run(
            &src,
            &[
                "restore",
                bk.to_str().unwrap(),
                "--to",
                to.to_str().unwrap(),
            ],
            b"",
        );
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(stderr(&out).contains("missing"), "{}", stderr(&out));
    }
}

#[test]
fn restore_refuses_an_existing_target_and_a_missing_backup() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let bk = tmp.path().join("backups");
    make_store(&src, "lsm");
    ok(&run(&src, &["backup", bk.to_str().unwrap()], b""));
    let out = run(
        &src,
        &[
            "restore",
            bk.to_str().unwrap(),
            "--to",
            src.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("exists"), "{}", stderr(&out));
    ok(&run(&src, &["verify"], b""));
    let to = tmp.path().join("to");
    let out = run(
        &src,
        &[
            "restore",
            bk.to_str().unwrap(),
            "--id",
            "9",
            "--to",
            to.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no backup 9"), "{}", stderr(&out));
    assert!(!to.exists());
}

#[test]
fn checkpoint_and_backup_run_inside_the_shell() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let cp = tmp.path().join("cp");
    let bk = tmp.path().join("bk");
    let script = format!(
        "put a 1\ncheckpoint {}\nbackup {}\nput b 2\n",
        cp.display(),
        bk.display()
    );
    ok(&run(&src, &["shell"], script.as_bytes()));
    assert_eq!(scan(&cp), "a\t1\n");
    let to = tmp.path().join("to");
    ok(&run(
        &src,
        &[
            "restore",
            bk.to_str().unwrap(),
            "--to",
            to.to_str().unwrap(),
        ],
        b"",
    ));
    assert_eq!(scan(&to), "a\t1\n");
}
