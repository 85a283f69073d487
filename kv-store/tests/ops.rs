//! Side effects on failure, the busy exit code and `--wait`, `stats`,
//! `count`, `compact`'s report and `verify --format json`, through the
//! built binary.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{BIN, ok, run, stderr};

/// Every path under `dir`, recursively, with each file's length.
fn listing(dir: &Path) -> Vec<(PathBuf, u64)> {
    fn walk(p: &Path, out: &mut Vec<(PathBuf, u64)>) {
        let Ok(entries) = std::fs::read_dir(p) else {
            return;
        };
        for e in entries {
            let path = e.unwrap().path();
            let meta = std::fs::metadata(&path).unwrap();
            out.push((path.clone(), meta.len()));
            if meta.is_dir() {
                walk(&path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out.sort();
    out
}

fn pairs(n: u64) -> String {
    (0..n)
        .map(|i| {
            format!(
                "key{i:05}\t{:016x}{:016x}\n",
                i.wrapping_mul(0x9e37_79b9_7f4a_7c15),
                i ^ 0xdead_beef
            )
        })
        .collect()
}

/// A compacted lsm store of `n` pairs (one table at the bottom level).
fn lsm_store(dir: &Path, n: u64) -> PathBuf {
    let db = dir.join("db");
    ok(&run(&db, &["load", "-"], pairs(n).as_bytes()));
    ok(&run(&db, &["compact"], b""));
    db
}

fn the_table(db: &Path) -> PathBuf {
    std::fs::read_dir(db)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "sst"))
        .expect("a table")
}

/// Flips a byte in the middle of the table's data blocks.
fn damage_table(db: &Path) -> PathBuf {
    let table = the_table(db);
    let mut bytes = std::fs::read(&table).unwrap();
    let at = bytes.len() / 3;
    bytes[at] ^= 0x55;
    std::fs::write(&table, &bytes).unwrap();
    table
}

// ---- 7: side effects on failure -------------------------------------

#[test]
fn load_of_a_missing_file_creates_no_store() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.tsv");
    let db = dir.path().join("new");
    let out = run(&db, &["load", missing.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("missing.tsv"), "{}", stderr(&out));
    assert!(!db.exists(), "load created {}", db.display());
    // Nor in an existing empty directory; nor for `put --file`.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = run(&empty, &["load", missing.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = run(
        &empty,
        &["put", "k", "--file", missing.to_str().unwrap()],
        b"",
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(listing(&empty), []);
}

#[test]
fn a_failed_write_leaves_no_new_empty_store() {
    let dir = tempfile::tempdir().unwrap();
    let long_key = "k".repeat(600);
    let db = dir.path().join("bt");
    let out = run(&db, &["--engine", "btree", "put", &long_key, "v"], b"");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!db.exists(), "a refused put left a store");
    let db = dir.path().join("lsm");
    let out = run(&db, &["load", "-"], b"no tab here\n");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!db.exists(), "a load of nothing left a store");
    // In a directory that was there, only the lock file stays.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = run(&empty, &["load", "-"], b"no tab here\n");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let left: Vec<PathBuf> = listing(&empty).into_iter().map(|(p, _)| p).collect();
    assert_eq!(left, [empty.join("KV-LOCK")]);
    // What a failed load committed is kept.
    let db = dir.path().join("kept");
    let out = run(&db, &["load", "-"], b"a\t1\nno tab here\n");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(ok(&run(&db, &["get", "a"], b"")), "1\n");
}

#[test]
fn commands_on_an_empty_or_missing_directory_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let missing = dir.path().join("missing");
    let commands: [&[&str]; 9] = [
        &["get", "k"],
        &["scan"],
        &["dump", "-"],
        &["stats"],
        &["verify"],
        &["count"],
        &["compact"],
        &["repair"],
        &["stats", "--format", "json"],
    ];
    for args in commands {
        for db in [&empty, &missing] {
            let out = run(db, args, b"");
            assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
            assert!(stderr(&out).contains("no store at"), "{}", stderr(&out));
        }
        assert_eq!(listing(&empty), [], "{args:?} left files behind");
        assert!(!missing.exists(), "{args:?} created the directory");
    }
}

#[test]
fn a_failed_dump_leaves_no_file_and_keeps_an_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = lsm_store(dir.path(), 3000);
    damage_table(&db);
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let target = out_dir.join("x.tsv");
    let out = run(&db, &["dump", target.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("corruption in"), "{}", stderr(&out));
    assert_eq!(listing(&out_dir), [], "a failed dump left a file");

    // An older file of that name is kept whole.
    std::fs::write(&target, b"old\tdump\n").unwrap();
    let out = run(&db, &["dump", target.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(std::fs::read(&target).unwrap(), b"old\tdump\n");
    assert_eq!(listing(&out_dir).len(), 1);
}

#[test]
fn a_successful_dump_leaves_only_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = lsm_store(dir.path(), 100);
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let target = out_dir.join("x.tsv");
    ok(&run(&db, &["dump", target.to_str().unwrap()], b""));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), pairs(100));
    assert_eq!(listing(&out_dir).len(), 1);
}

// ---- 11: busy, --wait -------------------------------------------------

/// A `shell` holding the store: it has answered a first command, so it
/// holds the lock until its stdin closes.
struct Holder {
    child: std::process::Child,
    input: Option<std::process::ChildStdin>,
}

impl Holder {
    fn start(db: &Path, engine: &str) -> Holder {
        let mut child = Command::new(BIN)
            .arg("--db")
            .arg(db)
            .args(["--engine", engine, "shell"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        input.write_all(b"put ready yes\nget ready\n").unwrap();
        input.flush().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        assert_eq!(lines.next().unwrap().unwrap(), "yes");
        Holder {
            child,
            input: Some(input),
        }
    }

    fn release(mut self) {
        drop(self.input.take());
        assert!(self.child.wait().unwrap().success());
    }
}

fn busy_store_exits_3_naming_the_holder(engine: &str) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let holder = Holder::start(&db, engine);
    let pid = holder.child.id();
    for args in [
        &["get", "ready"][..],
        &["put", "a", "1"],
        &["stats"],
        &["count"],
    ] {
        let out = run(
            &db,
            &["--engine", engine]
                .iter()
                .chain(args)
                .copied()
                .collect::<Vec<_>>(),
            b"",
        );
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(&format!("a writer (pid {pid})")), "{err}");
        assert!(err.contains("--wait SECONDS"), "{err}");
    }
    // --wait that runs out: still 3, saying it waited.
    let out = run(&db, &["--wait", "0.05", "get", "ready"], b"");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("after waiting"), "{}", stderr(&out));
    holder.release();
}

#[test]
fn lsm_busy_store_exits_3_naming_the_holder() {
    busy_store_exits_3_naming_the_holder("lsm");
}

#[test]
fn btree_busy_store_exits_3_naming_the_holder() {
    busy_store_exits_3_naming_the_holder("btree");
}

/// `--wait` waits for the holder: the waiting command says it waits, the
/// holder is released only then, and the command succeeds.
fn wait_waits_for_the_store(engine: &str, args: &[&str], expect: &str) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let holder = Holder::start(&db, engine);
    let mut waiter = Command::new(BIN)
        .arg("--db")
        .arg(&db)
        .args(["--wait", "60"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(waiter.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(
        line.contains("is busy") && line.contains("waiting up to 60.0 s"),
        "{line}"
    );
    holder.release();
    let out = waiter.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expect);
}

#[test]
fn lsm_reader_waits_for_a_writer() {
    wait_waits_for_the_store("lsm", &["get", "ready"], "yes\n");
}

#[test]
fn btree_writer_waits_for_a_writer() {
    wait_waits_for_the_store("btree", &["put", "later", "1"], "");
}

#[test]
fn bad_wait_values_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["-1", "soon", "inf"] {
        let out = run(dir.path(), &[&format!("--wait={bad}"), "get", "a"], b"");
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", stderr(&out));
        assert!(stderr(&out).contains("--wait"), "{}", stderr(&out));
    }
}

// ---- 12: stats, count, compact, rates -------------------------------------

fn json(text: &str) -> serde_json::Value {
    assert_eq!(
        text.lines().count(),
        1,
        "one JSON object on one line: {text}"
    );
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn lsm_stats_show_persistent_facts_not_zero_counters() {
    let dir = tempfile::tempdir().unwrap();
    let db = lsm_store(dir.path(), 3000);
    let text = ok(&run(&db, &["stats"], b""));
    assert!(text.contains("approximate keys: 3,000"), "{text}");
    assert!(text.contains("last sequence number: 3000"), "{text}");
    assert!(text.contains("level 6: 1 file(s)"), "{text}");
    assert!(text.contains("3,000 entries"), "{text}");
    // Counters of a fresh open are all 0: not shown.
    assert!(!text.contains("gets:"), "{text}");
    assert!(!text.contains("since"), "{text}");

    let j = json(&ok(&run(&db, &["stats", "--format", "json"], b"")));
    assert_eq!(j["engine"], "lsm");
    assert_eq!(j["approximate_keys"], 3000);
    assert_eq!(j["last_sequence"], 3000);
    assert_eq!(j["table_files"], 1);
    assert_eq!(j["levels"][0]["level"], 6);
    assert_eq!(j["levels"][0]["files"], 1);
    assert_eq!(j["levels"][0]["entries"], 3000);
    assert!(j["table_bytes"].as_u64().unwrap() > 0);
    assert_eq!(j["table_bytes"], j["levels"][0]["bytes"]);
    assert_eq!(j["blob_files"], 0);
    assert!(j.get("since_open").is_none(), "{j}");

    // In the shell, after work, the counters show, labelled.
    let shell = ok(&run(&db, &["shell"], b"get key00001\nstats\n"));
    assert!(shell.contains("since this open:\n  "), "{shell}");
    assert!(shell.contains("gets: 1,"), "{shell}");
}

#[test]
fn btree_stats_json_has_the_tree_facts() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    ok(&run(
        &db,
        &["--engine", "btree", "load", "-"],
        pairs(500).as_bytes(),
    ));
    let j = json(&ok(&run(&db, &["stats", "--format", "json"], b"")));
    assert_eq!(j["engine"], "btree");
    assert_eq!(j["entries"], 500);
    assert!(j["height"].as_u64().unwrap() >= 2, "{j}");
    assert_eq!(j["page_size_bytes"], 4096);
    // The file grows ahead of the pages in use.
    assert!(j["file_size_bytes"].as_u64().unwrap() >= j["pages"].as_u64().unwrap() * 4096);
    assert!(j["free_pages"].is_u64() && j["leaf_pages"].is_u64(), "{j}");
    let text = ok(&run(&db, &["stats"], b""));
    assert!(text.contains("entries: 500\n"), "{text}");
}

#[test]
fn count_is_exact_beside_the_approximate_count() {
    let dir = tempfile::tempdir().unwrap();
    let db = lsm_store(dir.path(), 3000);
    for i in 0..10 {
        ok(&run(&db, &["delete", &format!("key{i:05}")], b""));
    }
    ok(&run(&db, &["put", "key00020", "overwritten"], b""));
    assert_eq!(ok(&run(&db, &["count"], b"")), "2990\n");
    assert_eq!(
        ok(&run(&db, &["count", "--prefix", "key001"], b"")),
        "100\n"
    );
    assert_eq!(
        ok(&run(
            &db,
            &["count", "--from", "key00005", "--to", "key00100"],
            b""
        )),
        "90\n"
    );
    let j = json(&ok(&run(&db, &["count", "--format", "json"], b"")));
    assert_eq!(j, serde_json::json!({ "count": 2990 }));
    // The estimate: 3000 table entries + 11 memtable entries - 2 * 10 tombstones.
    let j = json(&ok(&run(&db, &["stats", "--format", "json"], b"")));
    assert_eq!(j["approximate_keys"], 2991);
    assert_eq!(j["last_sequence"], 3011);
    // On btree, too.
    let bt = dir.path().join("bt");
    ok(&run(
        &bt,
        &["--engine", "btree", "load", "-"],
        pairs(300).as_bytes(),
    ));
    assert_eq!(
        ok(&run(&bt, &["count", "--prefix", "key002"], b"")),
        "100\n"
    );
}

#[test]
fn compact_reports_files_bytes_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let db = lsm_store(dir.path(), 3000);
    // The overwrites wait in the memtable (not a file); compact merges them
    // into the one table at the bottom level.
    ok(&run(&db, &["load", "-"], pairs(3000).as_bytes()));
    let out = ok(&run(&db, &["compact"], b""));
    // e.g. "compacted: 1 file 120.3 KiB -> 1 file 120.3 KiB in 35 ms"
    let rest = out
        .strip_prefix("compacted: ")
        .unwrap_or_else(|| panic!("{out}"));
    let (before, after) = rest.split_once(" -> ").unwrap_or_else(|| panic!("{out}"));
    let (after, took) = after.split_once(" in ").unwrap_or_else(|| panic!("{out}"));
    assert!(before.starts_with("1 file "), "{out}");
    assert!(after.starts_with("1 file "), "{out}");
    assert!(
        took.trim_end().ends_with(" s") || took.trim_end().ends_with(" ms"),
        "{out}"
    );
    assert!(before.ends_with("KiB"), "{out}");
}

#[test]
fn rates_print_as_whole_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let out = ok(&run(&db, &["load", "-"], pairs(2000).as_bytes()));
    // "loaded 2000 pairs (N bytes) in 12 ms, 166,667/s"
    let rate = out.trim_end().rsplit(", ").next().unwrap();
    let digits = rate.strip_suffix("/s").unwrap_or_else(|| panic!("{out}"));
    assert_grouped(digits, &out);
    let file = dir.path().join("d.tsv");
    let out = ok(&run(&db, &["dump", file.to_str().unwrap()], b""));
    let rate = out.trim_end().rsplit(", ").next().unwrap();
    let digits = rate.strip_suffix("/s").unwrap_or_else(|| panic!("{out}"));
    assert_grouped(digits, &out);
}

/// `n` is a whole number with a comma between groups of three digits.
fn assert_grouped(n: &str, context: &str) {
    let digits: String = n.chars().filter(|&c| c != ',').collect();
    assert!(
        !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()),
        "{n:?} in {context}"
    );
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    assert_eq!(n, grouped, "in {context}");
}

#[test]
fn bench_rates_are_whole_numbers_with_separators() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(&run(dir.path(), &["bench", "--num", "2000"], b""));
    let rows: Vec<&str> = out
        .lines()
        .filter(|l| {
            ["fillrandom", "readrandom", "scan"]
                .iter()
                .any(|w| l.starts_with(w))
        })
        .collect();
    assert_eq!(rows.len(), 3, "{out}");
    for row in rows {
        // workload, ops, ops/s, then latencies (with one decimal).
        let rate = row.split_whitespace().nth(2).unwrap();
        assert_grouped(rate, row);
    }
}

// ---- verify --format json ---------------------------------------------------

#[test]
fn verify_json_on_a_whole_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = lsm_store(dir.path(), 300);
    let j = json(&ok(&run(&db, &["verify", "--format", "json"], b"")));
    assert_eq!(
        j,
        serde_json::json!({
            "ok": true, "files_checked": 1, "pairs_checked": 300, "corruptions": []
        })
    );
}

#[test]
fn verify_json_on_damage_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let db = lsm_store(dir.path(), 3000);
    let table = damage_table(&db);
    let out = run(&db, &["verify", "--format", "json"], b"");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let j = json(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(j["ok"], false);
    let c = &j["corruptions"][0];
    assert_eq!(c["file"], table.to_str().unwrap());
    assert!(c["offset"].is_u64() && c["what"].is_string(), "{j}");

    // A table the engine cannot open at all: still one object, exit 1.
    std::fs::remove_file(&table).unwrap();
    let out = run(&db, &["verify", "--format", "json"], b"");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let j = json(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(j["ok"], false);
    assert_eq!(j["corruptions"].as_array().unwrap().len(), 1, "{j}");
}

// ---- exit codes are documented ------------------------------------------------

#[test]
fn help_lists_the_exit_codes() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for line in [
        "  0    success",
        "  1    key not found",
        "  2    usage error or I/O error",
        "  3    busy",
        "  130  interrupted",
        "--wait <SECONDS>",
    ] {
        assert!(help.contains(line), "{line:?} not in --help:\n{help}");
    }
}
