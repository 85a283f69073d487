//! `demo` and `bench`: what their help says, that they honour `--db`, and
//! that the demo shows every command it is there to teach.

mod common;

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_kv-store");

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `kv-store ARGS` without a `--db`.
fn kv(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

#[test]
fn bench_and_demo_help_say_what_they_do_with_db() {
    for command in ["bench", "demo"] {
        let out = kv(&[command, "--help"]);
        assert!(out.status.success(), "{out:?}");
        let help = text(&out.stdout);
        assert!(help.contains("--db <PATH>"), "{help}");
        assert!(help.contains("temporary directory"), "{help}");
        assert!(
            help.contains("--db ./demo-store demo") || help.contains("--db /mnt/ssd/bench bench"),
            "{help}"
        );
        assert!(!help.contains("--dir"), "{help}");
    }
}

#[test]
fn bench_refuses_num_zero() {
    let out = kv(&["bench", "--num", "0"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(text(&out.stderr).contains("--num"), "{out:?}");
}

#[test]
fn bench_makes_and_keeps_its_store_in_db() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bench");
    let out = common::run(&db, &["bench", "--num", "300"], b"");
    assert!(out.status.success(), "{out:?}");
    assert!(text(&out.stdout).contains("fillrandom"), "{out:?}");
    let out = common::run(&db, &["scan", "--keys-only"], b"");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(text(&out.stdout).lines().count(), 300, "{out:?}");
}

#[test]
fn bench_and_demo_refuse_a_db_that_holds_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("precious.txt"), "keep me").unwrap();
    for args in [&["bench", "--num", "10"][..], &["demo"][..]] {
        let out = common::run(dir.path(), args, b"");
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        assert!(text(&out.stderr).contains("is not empty"), "{out:?}");
    }
    // `--db` is global: given after the command it is the same.
    let out = kv(&[
        "bench",
        "--num",
        "10",
        "--db",
        &dir.path().display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(text(&out.stderr).contains("is not empty"), "{out:?}");
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(names.len(), 1);
}

/// The commands the demo teaches, as they appear in its output.
const TAUGHT: [&str; 12] = [
    " put greeting ",
    " put --hex 00ff 6869",
    " get greeting",
    " get --hex 00ff",
    " delete greeting",
    " scan",
    " load ",
    " dump ",
    "$ head -3 ",
    " stats",
    " verify",
    " shell",
];

fn demo_in(db: &Path, engine: &str) -> String {
    let out = common::run(db, &["--engine", engine, "demo", "--keys", "200"], b"");
    assert!(out.status.success(), "{out:?}");
    text(&out.stdout)
}

#[test]
fn the_demo_teaches_each_command_on_both_engines_and_keeps_its_store_in_db() {
    for engine in ["lsm", "btree"] {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("demo");
        let shown = demo_in(&db, engine);
        let commands: Vec<&str> = shown.lines().filter(|l| l.starts_with("$ ")).collect();
        for taught in TAUGHT {
            assert!(
                commands.iter().any(|c| c.contains(taught)),
                "{engine}: no `{taught}` step in\n{shown}"
            );
        }
        // The delete has a visible effect: the get after it finds nothing.
        let after_delete = shown.split(" delete greeting").nth(1).unwrap();
        assert!(after_delete.contains("key not found"), "{shown}");
        // The dump's first lines are shown.
        assert!(shown.contains("user:000000\t{\"name\""), "{shown}");
        // The shell step ran its script: its get and its stats printed.
        let shell = shown.split("| kv-store --db").nth(1).unwrap();
        assert!(shell.contains("\nRome\n"), "{shown}");
        assert!(shell.contains(&format!("engine: {engine}")), "{shown}");
        // Each command line printed is the one that ran, on `--db`.
        assert!(
            shown.contains(&format!("# the store is kept at {}", db.display())),
            "{shown}"
        );
        let out = common::run(&db, &["get", "city:1"], b"");
        assert_eq!(text(&out.stdout), "Paris\n", "{out:?}");
    }
}

#[test]
fn the_demo_without_db_leaves_nothing_in_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["demo", "--keys", "50"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(text(&out.stdout).contains("the temporary store was removed"));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
