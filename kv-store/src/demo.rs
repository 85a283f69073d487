//! `demo`: a tour of the tool. Each step prints the command a user would
//! type, then runs exactly that command line and prints what it printed:
//! `put` (text and `--hex`), `get`, `scan`, `delete` and the `get` that no
//! longer finds the key, `load` of generated data, `dump` to a file and its
//! first lines, `compact`, `stats`, `verify`, and a `shell` fed a script.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::cli::{Cli, DemoArgs};
use crate::engine::EngineKind;
use crate::{Error, Result};

/// The script the demo's last step pipes into `kv-store shell`.
pub(crate) const SHELL_SCRIPT: &str =
    "put city:1 Paris\nput city:2 Rome\nget city:2\nscan --prefix city:\nstats\n";

/// Lines of the dump file the demo shows.
const DUMP_LINES_SHOWN: usize = 3;

/// Runs the demo for `engine` (lsm when `None`) on a new store at `db`
/// (kept) or, when `None`, in a temporary directory (removed after).
///
/// # Errors
///
/// The first failing step's error; [`Error::BadArgument`] when `db` exists
/// and is not an empty directory; [`Error::Interrupted`] after Ctrl-C.
pub(crate) fn run(
    args: &DemoArgs,
    db: Option<&Path>,
    engine: Option<EngineKind>,
    out: &mut dyn Write,
) -> Result<()> {
    let _interruptible = crate::interrupt::Guard::new();
    let (db, _temp_store) = crate::bench::fresh_dir(db, "kv-store-demo")?;
    let kept = _temp_store.is_none();
    // The input and output files of the tour live apart from the store.
    let files = tempfile::Builder::new()
        .prefix("kv-store-demo-files")
        .tempdir()
        .map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let engine = engine.unwrap_or(EngineKind::Lsm);
    let data = files.path().join("users.tsv");
    let backup = files.path().join("backup.tsv");
    let keys = args.keys;
    write_data(&data, keys)?;
    let tour = Tour {
        db: db.display().to_string(),
    };
    let data_s = data.display().to_string();
    let backup_s = backup.display().to_string();
    let probe = format!("user:{:06}", keys / 2);
    let probe_prefix = format!("user:{:05}", keys / 20);

    tour.say(out, &format!("a new {engine} store at {}", tour.db))?;
    tour.step(
        out,
        "put a pair; the first write creates the store",
        &[
            "--engine",
            engine.as_str(),
            "put",
            "greeting",
            "hello, world",
        ],
    )?;
    tour.step(out, "read it back", &["get", "greeting"])?;
    tour.step(
        out,
        "--hex: keys and values as hex bytes (or --base64)",
        &["put", "--hex", "00ff", "6869"],
    )?;
    tour.step(
        out,
        "the same pair read back in hex",
        &["get", "--hex", "00ff"],
    )?;
    tour.step(
        out,
        "every pair in key order, `key<TAB>value`, bytes that are not text escaped as \\xHH",
        &["scan"],
    )?;
    tour.step(out, "delete a key", &["delete", "greeting"])?;
    tour.step(
        out,
        "it is gone: `get` says so and exits 1",
        &["get", "greeting"],
    )?;
    tour.say(
        out,
        &format!("{keys} generated pairs are in {data_s}, `key<TAB>value` lines"),
    )?;
    tour.step(
        out,
        "bulk-load them (a progress bar shows on a terminal)",
        &["load", &data_s],
    )?;
    tour.step(out, "read one key", &["get", &probe])?;
    tour.step(
        out,
        "the first 5 keys with a prefix",
        &["scan", "--prefix", &probe_prefix, "--limit", "5"],
    )?;
    tour.step(
        out,
        "the last 3 pairs as JSON lines",
        &["scan", "--reverse", "--limit", "3", "--format", "json"],
    )?;
    tour.step(
        out,
        "write every pair to a file `load` reads back",
        &["dump", &backup_s],
    )?;
    show_head(out, &backup)?;
    tour.step(
        out,
        "rewrite the store, dropping the deleted pair",
        &["compact"],
    )?;
    tour.step(out, "the engine's shape and counters (counted since the store was opened: the shell below shows them move)", &["stats"])?;
    tour.step(
        out,
        "read every block and check every checksum",
        &["verify"],
    )?;
    tour.shell(out)?;
    w(writeln!(out))?;
    if kept {
        w(writeln!(
            out,
            "# the store is kept at {}; try `kv-store --db {} shell`",
            tour.db, tour.db
        ))
    } else {
        w(writeln!(
            out,
            "# the temporary store was removed; `kv-store --db DIR demo` keeps it in DIR"
        ))
    }
}

fn w(r: std::io::Result<()>) -> Result<()> {
    r.map_err(Error::Output)
}

/// The store the tour runs its commands on.
struct Tour {
    db: String,
}

impl Tour {
    fn say(&self, out: &mut dyn Write, text: &str) -> Result<()> {
        w(writeln!(out, "\n# {text}"))
    }

    /// Prints `why` and the command line `kv-store --db DB REST`, then runs
    /// it. A command that fails with exit code 1 (`get` of a deleted key)
    /// prints its error as the binary would, and the tour goes on.
    fn step(&self, out: &mut dyn Write, why: &str, rest: &[&str]) -> Result<()> {
        crate::interrupt::check()?;
        let mut argv = vec!["kv-store", "--db", &self.db];
        argv.extend(rest);
        w(writeln!(out, "\n# {why}\n$ {}", quote_line(&argv)))?;
        w(out.flush())?;
        let cli = Cli::try_parse_args(&argv).map_err(|e| Error::Internal(e.to_string()))?;
        match crate::run::run(&cli, out) {
            Err(e) if e.exit_code() == 1 => {
                w(writeln!(out, "error: {e}\n(exit code {})", e.exit_code()))
            }
            other => other,
        }
    }

    /// Pipes [`SHELL_SCRIPT`] into `kv-store --db DB shell`, run as its own
    /// process (this executable), and prints what it printed.
    fn shell(&self, out: &mut dyn Write) -> Result<()> {
        crate::interrupt::check()?;
        let script = SHELL_SCRIPT.replace('\n', "\\n");
        w(writeln!(
            out,
            "\n# the shell: one open store, one command a line (on a terminal: line editing, Tab completion, history)\n$ printf '{script}' | {} shell",
            quote_line(&["kv-store", "--db", &self.db])
        ))?;
        w(out.flush())?;
        let exe = std::env::current_exe().map_err(|e| Error::io("<current executable>", e))?;
        let mut child = Command::new(&exe)
            .args(["--db", &self.db, "shell"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::io(&exe, e))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(SHELL_SCRIPT.as_bytes())
                .map_err(|e| Error::io(&exe, e))?;
        }
        let done = child.wait_with_output().map_err(|e| Error::io(&exe, e))?;
        w(out.write_all(&done.stdout))?;
        w(out.write_all(&done.stderr))?;
        if done.status.success() {
            Ok(())
        } else {
            Err(Error::Internal(format!(
                "the demo's shell step failed ({})",
                done.status
            )))
        }
    }
}

/// Prints `head -N FILE` and the first lines of `path`.
fn show_head(out: &mut dyn Write, path: &Path) -> Result<()> {
    let shown = path.display().to_string();
    w(writeln!(
        out,
        "\n# its first lines\n$ {}",
        quote_line(&["head", &format!("-{DUMP_LINES_SHOWN}"), &shown])
    ))?;
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    for line in BufReader::new(f).lines().take(DUMP_LINES_SHOWN) {
        let line = line.map_err(|e| Error::io(path, e))?;
        w(writeln!(out, "{line}"))?;
    }
    Ok(())
}

fn write_data(path: &Path, keys: u64) -> Result<()> {
    let f = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut f = BufWriter::new(f);
    let colors = ["red", "green", "blue", "amber", "violet"];
    for i in 0..keys {
        let color = colors[(i % colors.len() as u64) as usize];
        writeln!(
            f,
            "user:{i:06}\t{{\"name\":\"user {i}\",\"color\":\"{color}\",\"score\":{}}}",
            i * 7919 % 1000
        )
        .map_err(|e| Error::io(path, e))?;
    }
    f.flush().map_err(|e| Error::io(path, e))
}

fn quote_line(argv: &[&str]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@".contains(c))
            {
                (*a).to_string()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
