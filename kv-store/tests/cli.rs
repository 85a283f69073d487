//! Runs the built `kv-store` binary: every command on both engines, exit
//! codes and one-line errors, load/dump round trips, corruption, locking,
//! the shell through stdin, and the demo.

mod common;
use common::{ok, stderr};

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_kv-store");

fn kv(db: &Path, engine: &str, args: &[&str]) -> Output {
    kv_stdin(db, engine, args, b"")
}

fn kv_stdin(db: &Path, engine: &str, args: &[&str], stdin: &[u8]) -> Output {
    let all: Vec<&str> = ["--engine", engine]
        .into_iter()
        .chain(args.iter().copied())
        .collect();
    common::run(db, &all, stdin)
}

/// Asserts an error exit: `code`, one stderr line containing `needle`.
fn fails(out: &Output, code: i32, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one error line expected: {err}");
    assert!(err.contains(needle), "{needle:?} not in {err:?}");
    assert!(!err.contains("panicked"), "{err}");
}

fn store(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("db")
}

/// Pairs with every byte value in keys and values, tabs, newlines, backslashes.
fn binary_pairs() -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = (0..=255u8)
        .map(|b| (vec![b, b'k', 255 - b], vec![b'\\', b, b'\t', b'\n', 0, b]))
        .collect();
    pairs.push((b"plain".to_vec(), Vec::new()));
    pairs.push((
        b"{json-looking".to_vec(),
        "caf\u{e9} \u{1f600}".as_bytes().to_vec(),
    ));
    pairs
}

fn put_get_delete_round_trip(engine: &str) {
    let dir = tempfile::tempdir().unwrap();
    let db = store(&dir);
    ok(&kv(&db, engine, &["put", "user:1", "alice"]));
    ok(&kv(&db, engine, &["put", "-dash", "--", "-value"]));
    assert_eq!(ok(&kv(&db, engine, &["get", "user:1"])), "alice\n");
    assert_eq!(ok(&kv(&db, engine, &["get", "-dash"])), "-value\n");
    ok(&kv(&db, engine, &["delete", "user:1"]));
    fails(&kv(&db, engine, &["get", "user:1"]), 1, "key not found");
    ok(&kv(&db, engine, &["delete", "never-there"]));
    // FORMAT.md: the marker is the engine name and a newline, nothing else.
    assert_eq!(
        std::fs::read(db.join("KV-ENGINE")).unwrap(),
        format!("{engine}\n").into_bytes()
    );
}

fn binary_keys_through_hex_and_base64(engine: &str) {
    let dir = tempfile::tempdir().unwrap();
    let db = store(&dir);
    ok(&kv(&db, engine, &["put", "--hex", "00ff0a", "090a5c"]));
    assert_eq!(
        ok(&kv(&db, engine, &["get", "--hex", "00FF0A"])),
        "090a5c\n"
    );
    assert_eq!(ok(&kv(&db, engine, &["get", "--base64", "AP8K"])), "CQpc\n");
    assert_eq!(
        ok(&kv(&db, engine, &["scan"])),
        "\\x00\\xff\\n\t\\t\\n\\\\\n"
    );
    assert_eq!(
        ok(&kv(&db, engine, &["scan", "--hex", "--prefix", "00"])),
        "00ff0a\t090a5c\n"
    );
    assert_eq!(
        ok(&kv(&db, engine, &["scan", "--base64", "--keys-only"])),
        "AP8K\n"
    );
    fails(&kv(&db, engine, &["get", "--hex", "0g"]), 2, "bad argument");
    fails(
        &kv(&db, engine, &["get", "--base64", "!!"]),
        2,
        "bad argument",
    );
}

fn large_value_through_files(engine: &str) {
    let dir = tempfile::tempdir().unwrap();
    let db = store(&dir);
    let value: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let src = dir.path().join("in.bin");
    let dst = dir.path().join("out.bin");
    std::fs::write(&src, &value).unwrap();
    ok(&kv(
        &db,
        engine,
        &["put", "blob", "--file", src.to_str().unwrap()],
    ));
    ok(&kv(
        &db,
        engine,
        &["get", "blob", "--out", dst.to_str().unwrap()],
    ));
    assert_eq!(std::fs::read(&dst).unwrap(), value);
    fails(
        &kv(
            &db,
            engine,
            &[
                "put",
                "x",
                "--file",
                dir.path().join("missing").to_str().unwrap(),
            ],
        ),
        2,
        "missing",
    );
}

fn scan_selects_by_prefix_range_order_and_limit(engine: &str) {
    let dir = tempfile::tempdir().unwrap();
    let db = store(&dir);
    let input: String = ["a", "b1", "b2", "b3", "c", "d"]
        .iter()
        .map(|k| format!("{k}\tv{k}\n"))
        .collect();
    ok(&kv_stdin(&db, engine, &["load", "-"], input.as_bytes()));
    let scan = |args: &[&str]| ok(&kv(&db, engine, &[&["scan"], args].concat()));
    assert_eq!(scan(&["--prefix", "b"]), "b1\tvb1\nb2\tvb2\nb3\tvb3\n");
    assert_eq!(
        scan(&["--from", "b2", "--to", "d", "--keys-only"]),
        "b2\nb3\nc\n"
    );
    assert_eq!(
        scan(&["--reverse", "--limit", "2", "--keys-only"]),
        "d\nc\n"
    );
    assert_eq!(
        scan(&["--prefix", "b", "--reverse", "--from", "b2", "--keys-only"]),
        "b3\nb2\n"
    );
    assert_eq!(scan(&["--from", "z"]), "");
    assert_eq!(
        scan(&["--prefix", "c", "--format", "json"]),
        "{\"key\":\"c\",\"value\":\"vc\"}\n"
    );
}

fn load_then_dump_round_trips_binary_pairs(engine: &str) {
    for format in ["tsv", "json"] {
        let dir = tempfile::tempdir().unwrap();
        let db = store(&dir);
        let pairs = binary_pairs();
        // Write the input through a first store's dump, so the test does not
        // depend on the escaping it checks.
        let seed = dir.path().join("seed");
        let puts: String = pairs
            .iter()
            .map(|(k, v)| format!("put --hex {} '{}'\n", hex(k), hex(v)))
            .collect();
        ok(&kv_stdin(&seed, engine, &["shell"], puts.as_bytes()));
        let file = dir.path().join(format!("pairs.{format}"));
        ok(&kv(
            &seed,
            engine,
            &["dump", "--format", format, file.to_str().unwrap()],
        ));
        let text = std::fs::read(&file).unwrap();
        assert_eq!(text.iter().filter(|&&b| b == b'\n').count(), pairs.len());
        let loaded = ok(&kv(
            &db,
            engine,
            &["load", "--format", format, file.to_str().unwrap()],
        ));
        assert!(
            loaded.contains(&format!("loaded {} pairs", pairs.len())),
            "{loaded}"
        );
        let dumped = ok(&kv(&db, engine, &["dump", "--format", format, "-"]));
        assert_eq!(dumped.as_bytes(), &text[..], "{format}");
        let gets: String = pairs
            .iter()
            .map(|(k, _)| format!("get --hex {}\n", hex(k)))
            .collect();
        let want: String = pairs.iter().map(|(_, v)| format!("{}\n", hex(v))).collect();
        assert_eq!(
            ok(&kv_stdin(&db, engine, &["shell"], gets.as_bytes())),
            want
        );
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn load_stops_at_first_bad_line_keeping_the_lines_before(engine: &str) {
    let dir = tempfile::tempdir().unwrap();
    let db = store(&dir);
    let mut input = String::new();
    for i in 0..2500 {
        input += &format!("k{i:05}\tv{i}\n");
    }
    input += "no tab on this line\nk99999\tafter\n";
    let out = kv_stdin(
        &db,
        engine,
        &["load", "--batch", "1000", "-"],
        input.as_bytes(),
    );
    fails(&out, 2, "line 2501");
    let keys = ok(&kv(&db, engine, &["scan", "--keys-only"]));
    assert_eq!(keys.lines().count(), 2500);
    fails(&kv(&db, engine, &["get", "k99999"]), 1, "not found");
    let out = kv_stdin(
        &db,
        engine,
        &["load", "--format", "json", "-"],
        b"{\"key\":\"j\",\"value\":\"1\"}\n[1]\n",
    );
    fails(&out, 2, "line 2");
    assert_eq!(ok(&kv(&db, engine, &["get", "j"])), "1\n");
    fails(
        &kv_stdin(&db, engine, &["load", "-"], b"bad\\q\tx\n"),
        2,
        "line 1",
    );
}

fn load_names_the_line_of_a_pair_the_engine_refuses(engine: &str) {
    let dir = tempfile::tempdir().unwrap();
    let db = store(&dir);
    let mut input = String::new();
    for i in 0..1500 {
        input += &format!("r{i:05}\tv\n");
    }
    // Over both engines' key limits (lsm 64 KiB, btree an eighth of a page).
    input += &format!("{}\tv\n", "k".repeat(70_000));
    input += "zzz\tafter\n";
    let out = kv_stdin(
        &db,
        engine,
        &["load", "--batch", "1000", "-"],
        input.as_bytes(),
    );
    fails(&out, 2, "line 1501");
    assert!(
        stderr(&out).contains("key of 70000 bytes"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("1500 line(s) before it are committed"),
        "{}",
        stderr(&out)
    );
    let keys = ok(&kv(&db, engine, &["scan", "--keys-only"]));
    assert_eq!(keys.lines().count(), 1500);
    fails(&kv(&db, engine, &["get", "zzz"]), 1, "not found");
}

fn sigkill_during_load_leaves_a_prefix_of_whole_batches(engine: &str) {
    let dir = tempfile::tempdir().unwrap();
    let db = store(&dir);
    ok(&kv(&db, engine, &["put", "a-first", "x"]));
    // A load that returned is durable: the kill of a later one keeps it.
    let earlier = dir.path().join("earlier.tsv");
    let lines: String = (0..1000).map(|i| format!("j{i:06}\tv{i}\n")).collect();
    std::fs::write(&earlier, lines).unwrap();
    ok(&kv(&db, engine, &["load", earlier.to_str().unwrap()]));
    let mut child = Command::new(BIN)
        .arg("--db")
        .arg(&db)
        .args(["--engine", engine, "load", "--batch", "100", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    // Every write below returns only once the child has taken all but a
    // pipe's worth of the input (64 KiB on Linux) into its 64 KiB read
    // buffer, and it reads a line past a batch only after committing that
    // batch: so when the last write returns, every batch ending before the
    // last `UNREAD_BYTES_MAX` bytes is committed, whatever the timing. The
    // kill then lands while the child works through the rest. A committed
    // batch survives the kill of the process in lsm (its log write reached
    // the kernel); the btree adapter's commits wait for the load's next
    // sync (one a second), so there the surviving prefix is timing's.
    const LINES: usize = 20_000;
    const UNREAD_BYTES_MAX: usize = 2 * 64 * 1024;
    let mut written = 0;
    for i in 0..LINES {
        let line = format!("k{i:06}\tvalue {i}\n");
        input.write_all(line.as_bytes()).unwrap();
        written += line.len();
    }
    child.kill().unwrap();
    drop(input);
    child.wait().unwrap();
    // Lines are at least 16 bytes: at most this many lines were not yet
    // read, and one batch more may be uncommitted.
    let committed_min = match engine {
        "lsm" => LINES - UNREAD_BYTES_MAX.div_ceil(16) - 100,
        _ => 0,
    };
    assert!(written > UNREAD_BYTES_MAX + 100 * 32, "{written} bytes");
    let keys = ok(&kv(&db, engine, &["scan", "--keys-only", "--prefix", "k"]));
    let n = keys.lines().count();
    assert_eq!(n % 100, 0, "{n} keys: a torn batch");
    assert!(
        n >= committed_min,
        "{n} keys, but the child had taken in all but the last {UNREAD_BYTES_MAX} bytes"
    );
    for (i, k) in keys.lines().enumerate() {
        assert_eq!(k, format!("k{i:06}"), "gap in the loaded prefix");
    }
    assert_eq!(ok(&kv(&db, engine, &["get", "a-first"])), "x\n");
    let earlier = ok(&kv(&db, engine, &["scan", "--keys-only", "--prefix", "j"]));
    assert_eq!(earlier.lines().count(), 1000, "the earlier load lost pairs");
    assert!(ok(&kv(&db, engine, &["verify"])).starts_with("ok: "));
}

fn stats_compact_verify_repair_succeed(engine: &str) {
    let dir = tempfile::tempdir().unwrap();
    let db = store(&dir);
    let input: String = (0..5000)
        .map(|i| format!("key{i:05}\t{}\n", "x".repeat(i % 97)))
        .collect();
    ok(&kv_stdin(&db, engine, &["load", "-"], input.as_bytes()));
    for i in (0..5000).step_by(3) {
        if i > 300 {
            break;
        }
        ok(&kv(&db, engine, &["delete", &format!("key{i:05}")]));
    }
    let stats = ok(&kv(&db, engine, &["stats"]));
    assert!(stats.contains(&format!("engine: {engine}")), "{stats}");
    let compacted = ok(&kv(&db, engine, &["compact"]));
    assert!(compacted.starts_with("compacted: "), "{compacted}");
    let verify = ok(&kv(&db, engine, &["verify"]));
    assert!(verify.starts_with("ok: 4899 pairs"), "{verify}");
    let repair = ok(&kv(&db, engine, &["repair"]));
    assert!(repair.contains("\nverified: 4899 pairs"), "{repair}");
    assert_eq!(
        ok(&kv(&db, engine, &["scan", "--keys-only"]))
            .lines()
            .count(),
        4899
    );
}

fn wrong_engine_is_refused(engine: &str) {
    let dir = tempfile::tempdir().unwrap();
    let db = store(&dir);
    ok(&kv(&db, engine, &["put", "a", "1"]));
    let other = if engine == "lsm" { "btree" } else { "lsm" };
    for args in [
        &["get", "a"][..],
        &["put", "b", "2"],
        &["load", "-"],
        &["shell"],
    ] {
        fails(
            &kv(&db, other, args),
            2,
            &format!("created by engine {engine}"),
        );
    }
    // Without --engine the marker decides.
    let out = Command::new(BIN)
        .arg("--db")
        .arg(&db)
        .args(["get", "a"])
        .output()
        .unwrap();
    assert_eq!(ok(&out), "1\n");
}

fn missing_store_and_foreign_directory_are_refused(engine: &str) {
    let dir = tempfile::tempdir().unwrap();
    let db = store(&dir);
    for args in [
        &["get", "a"][..],
        &["scan"],
        &["dump", "-"],
        &["stats"],
        &["verify"],
        &["compact"],
    ] {
        fails(&kv(&db, engine, args), 2, "no store at");
    }
    assert!(!db.exists(), "a read must not create the store");
    std::fs::create_dir_all(&db).unwrap();
    std::fs::write(db.join("notes.txt"), "mine").unwrap();
    fails(
        &kv(&db, engine, &["put", "a", "1"]),
        2,
        "not a kv-store store",
    );
    let file = db.join("notes.txt");
    fails(
        &kv(&file, engine, &["put", "a", "1"]),
        2,
        "is not a directory",
    );
    fails(&kv(&file, engine, &["get", "a"]), 2, "is not a directory");
}

fn locked_store_is_refused(engine: &str) {
    let dir = tempfile::tempdir().unwrap();
    let db = store(&dir);
    let mut shell = Command::new(BIN)
        .arg("--db")
        .arg(&db)
        .args(["--engine", engine, "shell"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = shell.stdin.take().unwrap();
    input.write_all(b"put ready yes\nget ready\n").unwrap();
    input.flush().unwrap();
    let mut lines = BufReader::new(shell.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "yes");
    fails(
        &kv(&db, engine, &["get", "ready"]),
        3,
        &format!("is busy: a writer (pid {}) has it open", shell.id()),
    );
    drop(input);
    assert!(shell.wait().unwrap().success());
    assert_eq!(ok(&kv(&db, engine, &["get", "ready"])), "yes\n");
}

/// Reading commands open read-only and share the lock: they run while
/// another reader holds the store, a writer is refused beside it, and they
/// leave every file byte for byte as it was.
fn readers_run_beside_a_reader_and_write_nothing(engine: &str) {
    let dir = tempfile::tempdir().unwrap();
    let db = store(&dir);
    ok(&kv_stdin(
        &db,
        engine,
        &["load", "-"],
        b"a\t1\nb\t2\nc\t3\n",
    ));
    let files = |db: &Path| -> Vec<(PathBuf, Vec<u8>)> {
        let mut out: Vec<_> = std::fs::read_dir(db)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
            .collect();
        out.sort();
        out
    };
    let before = files(&db);
    let reader = kv_store::store::Store::open_read_only(&db, None).unwrap();
    assert_eq!(ok(&kv(&db, engine, &["get", "b"])), "2\n");
    assert!(ok(&kv(&db, engine, &["scan"])).contains("c"));
    assert!(ok(&kv(&db, engine, &["verify"])).starts_with("ok"));
    ok(&kv(&db, engine, &["stats"]));
    ok(&kv(&db, engine, &["dump", "-"]));
    fails(
        &kv(&db, engine, &["put", "d", "4"]),
        3,
        "is busy: a reading command",
    );
    reader.close().unwrap();
    assert!(files(&db) == before, "a reading command changed a file");
}

fn shell_runs_commands_from_stdin(engine: &str) {
    let dir = tempfile::tempdir().unwrap();
    let db = store(&dir);
    let script = "put a 1\nput 'b c' \"two words\"\n\nget a\nget 'b c'\nget missing\nfrobnicate\nscan --keys-only\ndelete a\nscan\nstats\nverify\nexit\nput after exit\n";
    let out = kv_stdin(&db, engine, &["shell"], script.as_bytes());
    // The script goes on after `get missing` and `frobnicate`, then exits
    // with the first failure's code (1, not found).
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        &lines[..6],
        [
            "1",
            "two words",
            "a",
            "b c",
            "b c\ttwo words",
            &format!("engine: {engine}")
        ]
    );
    assert!(lines.last().unwrap().starts_with("ok: 1 pairs"), "{text}");
    let err = stderr(&out);
    assert!(
        err.contains("key not found") && err.contains("frobnicate"),
        "{err}"
    );
    fails(&kv(&db, engine, &["get", "put"]), 1, "not found");
}

fn demo_runs_every_step(engine: &str) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(format!("{engine}-store"));
    let out = Command::new(BIN)
        .args(["--engine", engine, "demo", "--keys", "3000", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let text = ok(&out);
    for step in ["load", "get user:", "scan --prefix", "stats", "verify"] {
        let typed = text
            .lines()
            .any(|l| l.starts_with("$ kv-store --db ") && l.contains(step));
        assert!(typed, "{step}: {text}");
    }
    assert!(text.contains("loaded 3000 pairs"), "{text}");
    // 3000 loaded, the hex pair put before them; `greeting` was deleted.
    assert!(text.contains("ok: 3001 pairs"), "{text}");
    assert_eq!(
        ok(&kv(&db, engine, &["get", "user:000001"]))
            .lines()
            .count(),
        1
    );
}

fn bench_prints_percentiles(engine: &str) {
    let out = Command::new(BIN)
        .args(["--engine", engine, "bench", "--num", "2000"])
        .output()
        .unwrap();
    let text = ok(&out);
    for w in ["fillrandom", "readrandom", "scan100", "p99 us"] {
        assert!(text.contains(w), "{w}: {text}");
    }
}

macro_rules! on_engine {
    ($module:ident, $engine:literal) => {
        mod $module {
            #[test]
            fn put_get_delete_round_trip() {
                super::put_get_delete_round_trip($engine);
            }
            #[test]
            fn binary_keys_through_hex_and_base64() {
                super::binary_keys_through_hex_and_base64($engine);
            }
            #[test]
            fn large_value_through_files() {
                super::large_value_through_files($engine);
            }
            #[test]
            fn scan_selects_by_prefix_range_order_and_limit() {
                super::scan_selects_by_prefix_range_order_and_limit($engine);
            }
            #[test]
            fn load_then_dump_round_trips_binary_pairs() {
                super::load_then_dump_round_trips_binary_pairs($engine);
            }
            #[test]
            fn load_stops_at_first_bad_line_keeping_the_lines_before() {
                super::load_stops_at_first_bad_line_keeping_the_lines_before($engine);
            }
            #[test]
            fn load_names_the_line_of_a_pair_the_engine_refuses() {
                super::load_names_the_line_of_a_pair_the_engine_refuses($engine);
            }
            #[test]
            fn sigkill_during_load_leaves_a_prefix_of_whole_batches() {
                super::sigkill_during_load_leaves_a_prefix_of_whole_batches($engine);
            }
            #[test]
            fn stats_compact_verify_repair_succeed() {
                super::stats_compact_verify_repair_succeed($engine);
            }
            #[test]
            fn wrong_engine_is_refused() {
                super::wrong_engine_is_refused($engine);
            }
            #[test]
            fn missing_store_and_foreign_directory_are_refused() {
                super::missing_store_and_foreign_directory_are_refused($engine);
            }
            #[test]
            fn locked_store_is_refused() {
                super::locked_store_is_refused($engine);
            }
            #[test]
            fn shell_runs_commands_from_stdin() {
                super::shell_runs_commands_from_stdin($engine);
            }
            #[test]
            fn readers_run_beside_a_reader_and_write_nothing() {
                super::readers_run_beside_a_reader_and_write_nothing($engine);
            }
            #[test]
            fn demo_runs_every_step() {
                super::demo_runs_every_step($engine);
            }
            #[test]
            fn bench_prints_percentiles() {
                super::bench_prints_percentiles($engine);
            }
        }
    };
}

on_engine!(lsm, "lsm");

/// `--help` states each engine's key and value limits, and they hold:
/// on btree a 512-byte key is stored and a 513-byte one refused.
#[test]
fn help_states_the_engine_limits_and_they_hold() {
    let help = ok(&Command::new(BIN).arg("--help").output().unwrap());
    for limit in ["64 KiB", "64 MiB", "512 bytes", "2 GiB"] {
        assert!(help.contains(limit), "{limit:?} not in --help: {help}");
    }
    let dir = tempfile::tempdir().unwrap();
    let db = store(&dir);
    ok(&kv(&db, "btree", &["put", &"k".repeat(512), "v"]));
    let out = kv(&db, "btree", &["put", &"k".repeat(513), "v"]);
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
    assert_eq!(ok(&kv(&db, "btree", &["get", &"k".repeat(512)])), "v\n");
}

#[test]
fn help_and_version_exit_0_and_usage_errors_exit_2() {
    let run = |args: &[&str]| Command::new(BIN).args(args).output().unwrap();
    assert!(ok(&run(&["--version"])).starts_with("kv-store "));
    for cmd in [
        "put", "get", "delete", "scan", "load", "dump", "stats", "compact", "verify", "repair",
        "shell", "bench", "demo",
    ] {
        let help = ok(&run(&[cmd, "--help"]));
        assert!(help.contains("Example"), "{cmd}: {help}");
    }
    let out = run(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["put", "--hex", "--base64", "a", "b"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["--engine", "sqlite", "get", "a"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn lsm_corrupted_sstable_is_reported_with_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let db = store(&dir);
    // Incompressible values so the table has many data blocks.
    let input: String = (0..3000u64)
        .map(|i| {
            format!(
                "key{i:05}\t{:016x}{:016x}\n",
                i.wrapping_mul(0x9e37_79b9_7f4a_7c15),
                i ^ 0xdead_beef
            )
        })
        .collect();
    ok(&kv_stdin(&db, "lsm", &["load", "-"], input.as_bytes()));
    ok(&kv(&db, "lsm", &["compact"]));
    let table = std::fs::read_dir(&db)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "sst"))
        .expect("a table");
    let mut bytes = std::fs::read(&table).unwrap();
    // Two data blocks (they fill the file up to the filter and index).
    bytes[100] ^= 0x55;
    let third = bytes.len() / 3;
    bytes[third] ^= 0x55;
    std::fs::write(&table, &bytes).unwrap();
    let out = kv(&db, "lsm", &["verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = String::from_utf8(out.stdout.clone()).unwrap();
    let name = table.file_name().unwrap().to_str().unwrap();
    // The flipped byte is in the first data block, which starts at or before it.
    let offset: u64 = report
        .split(" at offset ")
        .nth(1)
        .and_then(|r| r.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no offset in {report:?}"));
    assert!(offset <= 100, "{report}");
    assert!(
        report.starts_with("corrupt: ") && report.contains(name),
        "{report}"
    );
    assert!(report.contains("checksum"), "{report}");
    // Each bad block is reported, not only the first.
    assert_eq!(report.lines().count(), 2, "{report}");
    fails(&out, 1, "verify found 2 corruption");
    fails(&kv(&db, "lsm", &["get", "key00000"]), 1, "corruption in");
    fails(&kv(&db, "lsm", &["dump", "-"]), 1, "corruption in");
    // Repair cannot rebuild a table block: it used to exit 0 regardless.
    let out = kv(&db, "lsm", &["repair"]);
    fails(
        &out,
        1,
        &format!(
            "repair left 2 damaged place(s), the first in {}",
            table.display()
        ),
    );
    let report = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(report.matches("not repaired: ").count(), 2, "{report}");
    assert!(report.contains(name), "{report}");
}

on_engine!(btree, "btree");

#[test]
fn btree_corrupted_page_is_reported_with_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let db = store(&dir);
    let input: String = (0..3000u64)
        .map(|i| {
            format!(
                "key{i:05}\t{:016x}\n",
                i.wrapping_mul(0x9e37_79b9_7f4a_7c15)
            )
        })
        .collect();
    ok(&kv_stdin(&db, "btree", &["load", "-"], input.as_bytes()));
    let file = db.join("btree.db");
    let mut bytes = std::fs::read(&file).unwrap();
    // Page 2 is the first data page (0 and 1 are the meta pages); 4 KiB pages.
    let page = 2;
    bytes[page * 4096 + 100] ^= 0x55;
    std::fs::write(&file, &bytes).unwrap();
    let out = kv(&db, "btree", &["verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(
        report.starts_with("corrupt: ") && report.contains("btree.db at offset 8192"),
        "{report}"
    );
    fails(&out, 1, "verify found 1 corruption");
    fails(&kv(&db, "btree", &["dump", "-"]), 1, "corruption in");
    // Repair cannot rebuild a data page: it used to exit 0 regardless.
    let out = kv(&db, "btree", &["repair"]);
    fails(&out, 1, "repair left 1 damaged place(s), the first in ");
    let report = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(
        report.contains("not repaired: ") && report.contains("btree.db at offset 8192"),
        "{report}"
    );
}

#[test]
fn lsm_repair_drops_a_torn_log_tail_keeping_earlier_writes() {
    let dir = tempfile::tempdir().unwrap();
    let db = store(&dir);
    ok(&kv_stdin(&db, "lsm", &["shell"], b"put a 1\nput b 2\n"));
    let log = std::fs::read_dir(&db)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .max()
        .expect("a log");
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    f.write_all(b"\x13\x37 half of a record").unwrap();
    drop(f);
    let out = ok(&kv(&db, "lsm", &["repair"]));
    assert!(out.contains("torn tail"), "{out}");
    assert_eq!(ok(&kv(&db, "lsm", &["scan"])), "a\t1\nb\t2\n");
    assert!(ok(&kv(&db, "lsm", &["verify"])).starts_with("ok: 2 pairs"));
}

#[test]
fn lsm_corrupted_log_record_is_reported_by_verify_and_refused_by_repair() {
    let dir = tempfile::tempdir().unwrap();
    let db = store(&dir);
    ok(&kv_stdin(
        &db,
        "lsm",
        &["shell"],
        b"put a 1\nput b 2\nput c 3\n",
    ));
    let log = std::fs::read_dir(&db)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .max()
        .expect("a log");
    let mut bytes = std::fs::read(&log).unwrap();
    // Inside the first put's record; later records are intact, so this is
    // damage in the middle of the log, not a torn tail.
    bytes[0x24] ^= 0x55;
    std::fs::write(&log, &bytes).unwrap();
    let name = log.file_name().unwrap().to_str().unwrap().to_string();
    let out = kv(&db, "lsm", &["verify"]);
    fails(&out, 1, "verify found 1 corruption");
    let report = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(
        report.starts_with("corrupt: ") && report.contains(&name),
        "{report}"
    );
    fails(&kv(&db, "lsm", &["repair"]), 1, &name);
    fails(&kv(&db, "lsm", &["get", "c"]), 1, "corruption in");
}

/// A store of large values (over lsm's 4 KiB blob threshold, so they live in
/// blob files) and small ones, compacted so tables and blobs exist.
fn lsm_store_with_tables_and_blobs(db: &Path) {
    let input: String = (0..200u64)
        .map(|i| {
            let len = if i % 2 == 0 { 5000 } else { 40 };
            format!("key{i:05}\t{}\n", "v".repeat(len))
        })
        .collect();
    ok(&kv_stdin(db, "lsm", &["load", "-"], input.as_bytes()));
    ok(&kv(db, "lsm", &["compact"]));
}

#[test]
fn lsm_missing_table_is_damage_exit_1_naming_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let db = store(&dir);
    lsm_store_with_tables_and_blobs(&db);
    let table = std::fs::read_dir(&db)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "sst"))
        .expect("a table");
    std::fs::remove_file(&table).unwrap();
    let name = table.file_name().unwrap().to_str().unwrap().to_string();
    // Damage, not a usage error: exit 1, naming the missing table.
    for cmd in [&["get", "key00001"][..], &["dump", "-"], &["verify"]] {
        let out = kv(&db, "lsm", cmd);
        assert_eq!(out.status.code(), Some(1), "{cmd:?}: {}", stderr(&out));
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
        assert!(text.contains(&name), "{cmd:?}: {text}");
    }
}

#[test]
fn lsm_bad_blob_manifest_is_damage_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let db = store(&dir);
    lsm_store_with_tables_and_blobs(&db);
    let manifest = db.join("blobs").join("MANIFEST");
    let mut bytes = std::fs::read(&manifest).expect("the blob store's manifest");
    bytes[10] ^= 0x55;
    std::fs::write(&manifest, &bytes).unwrap();
    for cmd in [&["get", "key00000"][..], &["dump", "-"], &["verify"]] {
        let out = kv(&db, "lsm", cmd);
        assert_eq!(out.status.code(), Some(1), "{cmd:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    }
}
