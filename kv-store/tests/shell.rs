//! The shell as scripts and terminals use it: every line given runs, in
//! order (piped, and typed ahead on a terminal); a piped script exits with
//! the code of its first failure and names each failing line; `--bail`
//! stops at the first failure.

mod common;
use common::{spawn_piped, stderr};

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_kv-store");

/// Waits for `child` to exit; a watchdog kills it after `limit`, so a hang
/// fails the test instead of stalling it. Returns `None` if it was killed.
/// The waiting blocks in `wait`: nothing polls.
fn wait_or_kill(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let pid = child.id().to_string();
    let (done, exited) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        let timed_out = matches!(
            exited.recv_timeout(limit),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout)
        );
        if timed_out {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
        }
        timed_out
    });
    let status = child.wait().unwrap();
    let _ = done.send(());
    let killed = watchdog.join().unwrap();
    (!killed).then_some(status)
}

fn shell(db: &Path, args: &[&str], script: &str) -> Output {
    let all: Vec<&str> = ["shell"].into_iter().chain(args.iter().copied()).collect();
    common::run(db, &all, script.as_bytes())
}

fn keys(db: &Path) -> String {
    let out = Command::new(BIN)
        .arg("--db")
        .arg(db)
        .args(["scan", "--keys-only"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn piped_shell_runs_every_line_in_order_and_stops_at_exit() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let out = shell(
        &db,
        &[],
        "put p1 1\nput p2 2\nput p3 3\ndelete p2\nput x 1\nexit\nput after-exit 1\n",
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(keys(&db), "p1\np3\nx\n");
}

#[test]
fn piped_shell_without_a_final_newline_runs_the_last_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let out = shell(&db, &[], "put a 1\r\nput b 2");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(keys(&db), "a\nb\n");
}

/// Runs the shell on a pseudo-terminal (`script` from util-linux) with
/// `typed` already waiting in its input, as keys typed ahead or a paste
/// without bracketed paste. The shell is killed after 20 s, so a lost
/// `exit` fails the test instead of hanging it.
fn shell_on_terminal(db: &Path, typed: &str) -> Option<std::process::ExitStatus> {
    let mut child = spawn_on_terminal(db);
    let mut input = child.stdin.take().unwrap();
    input.write_all(typed.as_bytes()).unwrap();
    input.flush().unwrap();
    let mut output = child.stdout.take().unwrap();
    let drain = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let _ = output.read_to_end(&mut seen);
    });
    let status = wait_or_kill(&mut child, Duration::from_secs(20));
    drop(input);
    drain.join().unwrap();
    status
}

#[test]
fn terminal_shell_runs_lines_typed_ahead_including_exit() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let status = shell_on_terminal(&db, "put p1 1\rput p2 2\rput p3 3\rexit\r");
    assert!(
        status.is_some_and(|s| s.success()),
        "the typed-ahead `exit` was lost: {status:?}"
    );
    assert_eq!(keys(&db), "p1\np2\np3\n");
}

#[test]
fn piped_script_exits_with_the_first_failures_code_naming_each_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let out = shell(&db, &[], "put a 1\nget nokey\nbogus\nget a\n");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1\n");
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 3, "{err}");
    // One prefix for every error, as clap's: `error: `, then the line.
    assert_eq!(lines[0], "error: line 2: key not found: nokey");
    assert!(
        lines[1].starts_with("error: line 3: unrecognized subcommand 'bogus' "),
        "{err}"
    );
    assert_eq!(
        lines[2],
        "error: 2 shell command(s) failed, the first on input line 2"
    );

    let out = shell(&db, &[], "bogus\nget nokey\n");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn bail_stops_at_the_first_failure() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let out = shell(&db, &["--bail"], "put a 1\nput --hex zz 1\nput b 2\n");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = stderr(&out);
    assert!(err.starts_with("error: line 2: "), "{err}");
    assert!(err.contains("1 shell command(s) failed"), "{err}");
    assert_eq!(keys(&db), "a\n");
}

#[test]
fn terminal_shell_runs_each_line_of_a_bracketed_paste() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    // The terminal wraps a paste in ESC [200~ ... ESC [201~; rustyline hands
    // the pasted lines over as one string, which used to run as one command.
    let paste = "\x1b[200~put p1 1\rput p2 2\rput p3 3\x1b[201~\r";
    let status = shell_on_terminal(&db, &format!("{paste}exit\r"));
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    assert_eq!(keys(&db), "p1\np2\np3\n");
}

#[test]
fn load_dash_in_a_piped_script_reads_the_lines_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let mut child = spawn_piped(&db, &["shell"]);
    let mut input = child.stdin.take().unwrap();
    input.write_all(b"put z 9\nload -\na\t1\nb\t2\n").unwrap();
    drop(input);
    // The shell used to hold the stdin lock across commands, so `load -`
    // waited for it forever.
    let stdout = child.stdout.take().unwrap();
    let stderr_pipe = child.stderr.take().unwrap();
    let read_all = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let (out_reader, err_reader) = (read_all(Box::new(stdout)), read_all(Box::new(stderr_pipe)));
    let status =
        wait_or_kill(&mut child, Duration::from_secs(20)).expect("the shell hung on `load -`");
    let (stdout, stderr) = (out_reader.join().unwrap(), err_reader.join().unwrap());
    let out = Output {
        status,
        stdout,
        stderr,
    };
    assert!(out.status.success(), "{out:?}");
    assert_eq!(keys(&db), "a\nb\nz\n");
}

/// Writes `n` pairs `k0000001<TAB>1` ... into a new store at `db`.
fn store_of(db: &Path, n: u64) {
    let mut tsv = String::new();
    for i in 1..=n {
        tsv.push_str(&format!("k{i:07}\t{i}\n"));
    }
    let out = common::run(db, &["load", "-"], tsv.as_bytes());
    assert!(out.status.success(), "{out:?}");
}

/// Sends SIGINT to `child`, as Ctrl-C on its terminal would.
fn interrupt(child: &std::process::Child) {
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn ctrl_c_stops_a_long_scan_and_the_shell_goes_on() {
    const KEYS: u64 = 200_000;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    store_of(&db, KEYS);
    let mut child = spawn_piped(&db, &["shell"]);
    let mut input = child.stdin.take().unwrap();
    input.write_all(b"scan\n").unwrap();
    input.flush().unwrap();
    let mut output = std::io::BufReader::new(child.stdout.take().unwrap());
    // The scan is running (and soon blocked on the full pipe): Ctrl-C.
    let mut first = String::new();
    std::io::BufRead::read_line(&mut output, &mut first).unwrap();
    assert_eq!(first, "k0000001\t1\n");
    interrupt(&child);
    input.write_all(b"get k0000007\nexit\n").unwrap();
    drop(input);
    let mut rest = String::new();
    output.read_to_string(&mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    // The shell outlived the signal, stopped the scan well before its end,
    // and ran the next command.
    let lines: Vec<&str> = rest.lines().collect();
    assert_eq!(lines.last(), Some(&"7"), "{err}");
    assert!(
        (lines.len() as u64) < KEYS / 2,
        "the scan ran on for {} rows",
        lines.len()
    );
    assert!(err.starts_with("error: line 1: interrupted\n"), "{err}");
    // A piped script reports the interrupted command as its failure.
    assert_eq!(out.status.code(), Some(130), "{err}");
}

#[test]
fn ctrl_c_outside_the_shell_stops_a_scan_with_exit_130() {
    const KEYS: u64 = 200_000;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    store_of(&db, KEYS);
    let mut child = spawn_piped(&db, &["scan"]);
    let mut output = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut output, &mut first).unwrap();
    interrupt(&child);
    let mut rest = String::new();
    output.read_to_string(&mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{out:?}");
    assert!((rest.lines().count() as u64) < KEYS / 2);
    assert_eq!(stderr(&out), "error: interrupted\n");
    // The store was closed cleanly: a writer opens it at once.
    let out = common::run(&db, &["put", "after", "1"], b"");
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn shell_help_lists_only_what_the_shell_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = shell(&dir.path().join("db"), &[], "help\n");
    assert!(out.status.success(), "{out:?}");
    let help = String::from_utf8_lossy(&out.stdout);
    let commands: Vec<&str> = help
        .split("Commands:")
        .nth(1)
        .unwrap()
        .split("Options:")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for name in ["put", "get", "delete", "scan", "load", "dump", "verify"] {
        assert!(commands.contains(&name), "{name} missing: {help}");
    }
    for name in ["shell", "bench", "demo"] {
        assert!(!commands.contains(&name), "{name} listed: {help}");
    }
    assert!(help.contains(".limit N"), "{help}");
    assert!(help.contains("Ctrl-C"), "{help}");
}

/// Starts `kv-store shell` on a pseudo-terminal (`script` from util-linux),
/// its input and output piped to the test. `script -e` exits with the
/// shell's code.
fn spawn_on_terminal(db: &Path) -> Child {
    // `exec`: the `sh -c` that `script` starts (dash forks for a lone
    // command) must not stay in between. Ctrl-C on the terminal signals the
    // whole foreground group, and a `sh` killed by SIGINT makes `script -e`
    // exit 130 whatever kv-store did.
    let command = format!("exec '{BIN}' --db '{}' shell", db.display());
    Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .env("SHELL", "/bin/sh")
        .env("TERM", "xterm")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("`script` (util-linux) runs the shell on a pseudo-terminal")
}

/// The shell on a pseudo-terminal (`script` from util-linux), driven by
/// keys typed after seeing its output.
struct Terminal {
    child: std::process::Child,
    keys: std::process::ChildStdin,
    output: std::sync::mpsc::Receiver<Vec<u8>>,
    seen: String,
}

impl Terminal {
    fn open(db: &Path) -> Terminal {
        let mut child = spawn_on_terminal(db);
        let keys = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let (send, output) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1 << 16];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 || send.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Terminal {
            child,
            keys,
            output,
            seen: String::new(),
        }
    }

    fn type_keys(&mut self, keys: &str) {
        self.keys.write_all(keys.as_bytes()).unwrap();
        self.keys.flush().unwrap();
    }

    /// Reads output until it holds `marker` after what was seen before;
    /// returns the output up to and including it. Gives up after 20 s so
    /// that a broken shell fails the test instead of hanging it.
    fn wait_for(&mut self, marker: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(i) = self.seen.find(marker) {
                let upto: String = self.seen.drain(..i + marker.len()).collect();
                return upto;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(chunk) => self.seen.push_str(&String::from_utf8_lossy(&chunk)),
                Err(e) => {
                    let tail: String = self.seen.chars().rev().take(400).collect();
                    let tail: String = tail.chars().rev().collect();
                    panic!("no {marker:?} on the terminal ({e}); the last output: {tail:?}")
                }
            }
        }
    }

    fn exit(mut self) -> std::process::ExitStatus {
        self.type_keys("exit\r");
        self.wait_for("exit");
        drop(self.keys);
        self.child.wait().unwrap()
    }
}

#[test]
fn on_a_terminal_a_scan_stops_at_the_row_limit_and_tab_completes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    store_of(&db, 1500);
    let mut term = Terminal::open(&db);
    term.wait_for("kv> ");
    term.type_keys("scan\r");
    let shown = term.wait_for("kv> ");
    assert!(shown.contains("k0001000\t1000"));
    assert!(!shown.contains("k0001001\t"));
    assert!(shown.contains("... stopped after 1000 rows"));
    // Tab completes the command and the flag: `sc<Tab>--pre<Tab>`.
    term.type_keys("sc\t--pre\tk000150\r");
    let shown = term.wait_for("k0001500\t1500");
    // The line as completed, redrawn after each Tab.
    assert!(shown.contains("kv> scan --prefix "), "{shown}");
    assert!(term.exit().success());
}

#[test]
fn on_a_terminal_ctrl_c_stops_a_scan_and_returns_to_the_prompt() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    store_of(&db, 200_000);
    let mut term = Terminal::open(&db);
    term.wait_for("kv> ");
    term.type_keys(".limit 0\r");
    term.wait_for("prints every row");
    term.type_keys("scan\r");
    term.wait_for("k0000100\t100");
    // The terminal turns Ctrl-C into SIGINT for the running shell.
    term.type_keys("\x03");
    let shown = term.wait_for("interrupted");
    assert!(!shown.contains("k0200000"), "the scan ran to its end");
    term.wait_for("kv> ");
    term.type_keys("get k0000007\r");
    term.wait_for("\n7\r\n");
    term.wait_for("kv> ");
    // Ctrl-C at the prompt clears the line; the shell stays.
    term.type_keys("get k0000008\x03");
    term.wait_for("kv> ");
    term.type_keys("get k0000009\r");
    let shown = term.wait_for("\n9\r\n");
    assert!(!shown.contains("\n8\r\n"), "{shown}");
    assert!(term.exit().success());
}
