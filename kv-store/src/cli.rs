//! The command line, declared with `clap` derive.

use std::path::{Path, PathBuf};

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::codec::{Encoding, Format};
use crate::engine::EngineKind;

/// `kv-store`: a command-line tool over the `lsm` and `btree` engines.
#[derive(Debug, Parser)]
#[command(
    name = "kv-store",
    version,
    about = "Put, get, scan, load, dump, verify and benchmark a key-value store (LSM tree or B+ tree)",
    after_help = "Examples:\n  kv-store demo\n  kv-store --db ./data put user:1 alice\n  kv-store --db ./data get user:1\n  kv-store --db ./data scan --prefix user: --limit 10\n  kv-store --db ./bt --engine btree load pairs.tsv\n  AWS_ENDPOINT_URL=http://127.0.0.1:9000 kv-store --db s3://bucket/db --wal-dir ./wal load pairs.tsv\n  AWS_ENDPOINT_URL=http://127.0.0.1:9000 kv-store --db s3://bucket/db scan --limit 10\n\nExit codes:\n  0    success\n  1    key not found; damage found (verify, inspect, any command meeting it), left (repair) or in a backup (restore)\n  2    usage error or I/O error\n  3    busy: another process has the store open (--wait SECONDS waits for it)\n  130  interrupted by Ctrl-C (SIGINT) in a non-interactive command\n  A piped `shell` script (or `shell --bail`) exits with the code of its first failed command.\n\nLocks: reading commands (get, scan, dump, stats, verify, count, inspect; checkpoint and backup of a btree store) run beside each other; a writer (put, delete, load, compact, repair, shell; checkpoint and backup of an lsm store, which flush its memtable) runs alone, so readers wait for it (or exit 3) and it for them. Neither engine offers a read-only view beside a live writer in another process.\n\nLimits: lsm keys up to 64 KiB, values up to 64 MiB; btree (4 KiB pages) keys up to 512 bytes, values up to 2 GiB - 1 byte. A longer key or value is refused (exit 2)."
)]
pub struct Cli {
    /// The store directory [default: ./kv-data; for `bench` and `demo`, a
    /// new temporary directory, removed after], or `s3://BUCKET/PREFIX`: an
    /// lsm store whose tables are on S3 (credentials, region and endpoint
    /// from the AWS_* environment variables). Reading commands need nothing
    /// else; writing commands need --wal-dir.
    #[arg(
        long,
        global = true,
        default_value = DEFAULT_DB,
        hide_default_value = true,
        value_name = "PATH"
    )]
    pub db: PathBuf,
    /// Whether `--db` was given (`bench` and `demo` then use it instead of a
    /// temporary directory). Set by [`Cli::parse_env`] and
    /// [`Cli::try_parse_args`]; `false` after a plain `Cli::parse`.
    #[arg(skip)]
    pub db_given: bool,
    /// With `--db s3://...`: the local directory of the write-ahead log and
    /// the manifest, for writing commands (put, delete, load, compact,
    /// repair, shell). Keep it: writes not yet in a table are only there.
    #[arg(long, global = true, value_name = "DIR")]
    pub wal_dir: Option<PathBuf>,
    /// The engine; an existing store's own marker decides, and a different
    /// value is refused. New stores default to lsm.
    #[arg(long, global = true, value_enum)]
    pub engine: Option<EngineKind>,
    /// lsm: put, get, delete, scan, count, load, dump and compact work in
    /// keyspace NAME instead of the default one (put and load create it);
    /// the other commands work on the whole store.
    #[arg(long, global = true, value_name = "NAME")]
    pub keyspace: Option<String>,
    /// Wait up to SECONDS (e.g. 30 or 0.5) for another process to release
    /// the store, instead of exiting 3 at once.
    #[arg(long, global = true, value_name = "SECONDS", value_parser = parse_wait)]
    pub wait: Option<std::time::Duration>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The store directory of commands run without `--db`.
pub const DEFAULT_DB: &str = "./kv-data";

impl Cli {
    /// Parses the process's arguments like `Cli::parse` (printing usage and
    /// exiting on an error), and records whether `--db` was given.
    pub fn parse_env() -> Cli {
        match Cli::try_parse_args(std::env::args_os()) {
            Ok(cli) => cli,
            Err(e) => e.exit(),
        }
    }

    /// Parses `args` (the first is the binary's name) like
    /// `Cli::try_parse_from`, and records whether `--db` was given.
    ///
    /// # Errors
    ///
    /// clap's error for a bad command line, or for `--help`/`--version`.
    pub fn try_parse_args<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let matches = Cli::command().try_get_matches_from(args)?;
        let mut cli = Cli::from_arg_matches(&matches)?;
        cli.db_given = matches.value_source("db") == Some(clap::parser::ValueSource::CommandLine);
        Ok(cli)
    }

    /// The `--db` given on the command line, if any.
    pub fn db_if_given(&self) -> Option<&Path> {
        self.db_given.then_some(self.db.as_path())
    }
}

/// A line typed at the `shell` prompt: the same commands, no global options.
#[derive(Debug, Parser)]
#[command(
    name = "kv>",
    no_binary_name = true,
    disable_version_flag = true,
    about = "The commands of the command line, without `kv-store` and the global options; `exit` or `quit` leaves.",
    override_usage = "<COMMAND> [ARGS]   (e.g. `put user:1 alice`, `scan --prefix user:`, `get --help`)",
    after_help = "Shell commands:\n  .limit N, set limit N  rows a `scan` without --limit prints on a terminal (default 1000, 0 for all)\n  exit, quit             leave the shell\n\nTab completes command names and flags. Ctrl-C stops the running command; at the prompt it clears the line."
)]
pub struct ShellLine {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Every command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Set KEY to VALUE.
    #[command(
        after_help = "Examples:\n  kv-store put user:1 alice\n  kv-store put 'tab\\tkey' 'line 1\\nline 2'   (escapes as scan prints them)\n  kv-store put --hex 00ff 6869\n  kv-store put photo:1 --file photo.jpg\n  curl -s URL | kv-store put page:1 --file -\n\nKEY and VALUE are unescaped as `scan` prints them: \\\\ \\t \\n \\r \\xHH; write a literal backslash as \\\\. Any other text (UTF-8 such as é) is taken as it is."
    )]
    Put(PutArgs),
    /// Print the value of KEY (exit code 1 if absent).
    #[command(
        after_help = "Examples:\n  kv-store get user:1\n  kv-store get 'tab\\tkey'      (the key as scan prints it)\n  kv-store get --hex 00ff\n  kv-store get photo:1 --out photo.jpg\n  kv-store get photo:1 --raw | file -\n  kv-store get user:1 --format json\n\nThe value prints escaped, with a newline, like scan. --raw (or --out -) writes its bytes as they are, with no newline added. A missing key exits 1 with `error: key not found: KEY` on stderr and nothing on stdout, also with --format json."
    )]
    Get(GetArgs),
    /// Delete KEY (no error if absent).
    #[command(after_help = "Example:\n  kv-store delete user:1")]
    Delete(KeyArgs),
    /// Print pairs in key order as `key<TAB>value` lines (escaped) or JSON lines.
    #[command(
        after_help = "Examples:\n  kv-store scan --prefix user: --limit 10\n  kv-store scan --from a --to m --reverse --keys-only\n  kv-store scan --format json\n  kv-store scan --hex --format json   (key_hex / value_hex fields, which load reads)\n\nValid UTF-8 prints as text; \\, tab, newline, carriage return, other control characters and bytes that are not UTF-8 print as \\\\ \\t \\n \\r \\xHH, and --prefix/--from/--to (and get, put, delete) accept that spelling back. There is no --raw: raw bytes may hold tabs and newlines, so lines would not split back into pairs; use `get --raw` for one value or `dump` for all."
    )]
    Scan(ScanArgs),
    /// Bulk-load `key<TAB>value` or JSON lines from FILE or `-` (stdin).
    #[command(
        after_help = "Examples:\n  kv-store load pairs.tsv\n  kv-store dump - | kv-store --db ./copy load -\n  kv-store load pairs.jsonl   (json lines, from the extension)\n  kv-store load --sorted sorted.tsv   (lsm: tables written and ingested directly)\n\nA malformed line stops the load with its line number (and column); every line before it is committed and durable. A JSON line gives the key once: \"key\", \"key_base64\" or \"key_hex\" (the same for the value). A UTF-8 byte-order mark at the start of the input is skipped, and the summary says so."
    )]
    Load(LoadArgs),
    /// Write every pair to FILE or `-` (stdout) in the format `load` reads.
    #[command(
        after_help = "Examples:\n  kv-store dump backup.tsv\n  kv-store dump --format json -"
    )]
    Dump(DumpArgs),
    /// Print the store's persistent facts: approximate key count, levels, files, bytes.
    #[command(
        after_help = "Examples:\n  kv-store stats\n  kv-store stats --format json\n\nlsm: approximate keys (table and memtable entries minus two per tombstone, from metadata; `count` gives the exact number), last sequence number, files, bytes and entries per level, blob files and garbage. btree: entries (exact), height, pages by kind, free pages, file size. Counters since open (gets, filter hits, flushes) are shown only once non-zero, as in the shell."
    )]
    Stats(StatsArgs),
    /// Rewrite the store, dropping overwritten and deleted data.
    #[command(
        after_help = "Example:\n  kv-store compact\n  compacted: 12 files 34.5 MiB -> 3 files 20.1 MiB in 1.2 s\n\nFiles and bytes are the engine's: lsm tables plus blob files, the btree file."
    )]
    Compact,
    /// Read every block or page and check its checksum (exit code 1 on corruption).
    #[command(
        after_help = "Examples:\n  kv-store verify\n  kv-store verify --format json\n\nJSON: {\"ok\":bool,\"files_checked\":N,\"pairs_checked\":N,\"corruptions\":[{\"file\":..,\"offset\":..,\"what\":..}]}; the exit code is 1 on damage either way."
    )]
    Verify(VerifyArgs),
    /// Repair what the engine can (drop a torn write-ahead-log tail).
    #[command(after_help = "Example:\n  kv-store repair")]
    Repair,
    /// An interactive prompt taking the same commands on one open store.
    #[command(
        after_help = "Examples:\n  kv-store shell\n  kv> put a 1\n  kv> scan\n  kv> exit\n  printf 'put a 1\\nget a\\n' | kv-store shell --bail\n\nWhen stdin is not a terminal, errors name their input line and the shell exits with the code of the first failed command (1 not found or damage, 2 otherwise, 130 stopped by Ctrl-C).\n\nOn a terminal: Tab completes commands and flags; Ctrl-C stops the running command (at the prompt it clears the line); a scan without --limit stops after 1000 rows (`.limit N` changes it, 0 for all)."
    )]
    Shell(ShellArgs),
    /// A quick db_bench-style run (fillrandom, readrandom, scan) on a fresh store.
    #[command(
        after_help = "Examples:\n  kv-store bench\n  kv-store --engine btree --db /mnt/ssd/bench bench --num 200000\n\nWithout --db the store is made in a temporary directory and removed after; with --db PATH it is made and kept there (PATH must be absent or an empty directory)."
    )]
    Bench(BenchArgs),
    /// A guided tour: each step prints the command a user would type and runs it
    /// (put, get, delete, scan, load, dump, stats, verify, a shell script).
    #[command(
        after_help = "Examples:\n  kv-store demo\n  kv-store --engine btree --db ./demo-store demo\n\nWithout --db the demo store is made in a temporary directory and removed after; with --db PATH it is made and kept there (PATH must be absent or an empty directory)."
    )]
    Demo(DemoArgs),
    /// Count the live keys exactly (a full scan of the selected range).
    #[command(
        after_help = "Examples:\n  kv-store count\n  kv-store count --prefix user:\n  kv-store count --from a --to m --format json\n\n`stats` shows an approximate count at no cost; this one reads every key."
    )]
    Count(CountArgs),
    /// List the store's keyspaces (lsm), or drop one with everything in it.
    #[command(
        after_help = "Examples:\n  kv-store --keyspace users put u:1 ada   (creates keyspace users)\n  kv-store keyspaces\n  kv-store --keyspace users scan\n  kv-store keyspaces --drop users\n\nA keyspace (RocksDB's column family) has its own tables in the same store, log and manifest. Listing reads only; --drop is a write, and removes the keyspace's keys at once."
    )]
    Keyspaces(KeyspacesArgs),
    /// Explain the store's files: levels, tables, key and sequence ranges,
    /// blobs (lsm); meta pages, depth, pages by kind (btree).
    #[command(
        after_help = "Examples:\n  kv-store inspect\n  kv-store inspect --format json\n  kv-store inspect --hex   (table key ranges in hex)\n\nReads only. Exit code 1 when a part of the store cannot be read (each is named); a store that does not open is described by its file list and the reason."
    )]
    Inspect(crate::inspect::InspectArgs),
    /// Write a consistent copy of the store into DIR, a new store directory.
    #[command(
        after_help = "Examples:\n  kv-store --db ./data checkpoint ./data-copy\n  kv-store --db ./data-copy get user:1\n\nDIR must not exist (or be an empty directory). lsm: the memtable is flushed, tables and blob files are hard-linked (copied across file systems); the store is opened read-write, so another process holding it makes it exit 3 (busy; --wait waits). btree: the last commit, compacted into a new file; the store is opened read-only."
    )]
    Checkpoint(CheckpointArgs),
    /// Add a numbered backup of the store to DIR (`DIR/1`, `DIR/2`, ...), or list them.
    #[command(
        after_help = "Examples:\n  kv-store --db ./data backup ./backups\n  kv-store backup --list ./backups\n  kv-store backup --list --format json ./backups\n\nEach backup is a checkpoint's files, copied, with BACKUP-MANIFEST.json listing every file's size and SHA-256. Files equal to the latest backup's are hard-linked to them, so unchanged tables cost no space. Locking as for `checkpoint`."
    )]
    Backup(BackupArgs),
    /// Check a backup's every checksum, then copy it into NEWDB, a new store.
    #[command(
        after_help = "Examples:\n  kv-store restore ./backups --to ./data-restored\n  kv-store restore ./backups --id 2 --to ./data-restored\n  kv-store --db ./data-restored verify\n\nNEWDB must not exist. A file missing or differing from the manifest is named with the expected and found SHA-256, and nothing is written (exit 1). --db is not used."
    )]
    Restore(RestoreArgs),
}

/// Arguments of `keyspaces`.
#[derive(Debug, Args)]
pub struct KeyspacesArgs {
    /// Drop keyspace NAME and everything in it.
    #[arg(long, value_name = "NAME")]
    pub drop: Option<String>,
}

/// Arguments of `checkpoint`.
#[derive(Debug, Args)]
pub struct CheckpointArgs {
    /// The new store directory.
    pub dir: PathBuf,
}

/// Arguments of `backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The backup directory (created if missing).
    pub dir: PathBuf,
    /// List the backups in DIR (number, time, size, files) instead of adding one.
    #[arg(long)]
    pub list: bool,
    /// Output format of --list.
    #[arg(long, value_enum, default_value_t = ListFormat::Tsv, requires = "list")]
    pub format: ListFormat,
}

/// Output formats of `backup --list`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ListFormat {
    /// One line per backup: number, time (UTC), engine, bytes, files, tab-separated.
    #[default]
    Tsv,
    /// One JSON object per line: `id`, `created`, `created_unix_s`, `engine`, `bytes`, `files`.
    Json,
}

/// Arguments of `restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup directory.
    pub dir: PathBuf,
    /// The new store directory to restore into (must not exist).
    #[arg(long, value_name = "NEWDB")]
    pub to: PathBuf,
    /// The backup number (default: the latest).
    #[arg(long, value_name = "N")]
    pub id: Option<u64>,
}

/// How KEY and VALUE arguments are written.
#[derive(Debug, Args, Clone, Copy)]
pub struct EncodingArgs {
    /// Keys and values are hex, in arguments and output.
    #[arg(long, conflicts_with = "base64")]
    pub hex: bool,
    /// Keys and values are base64, in arguments and output.
    #[arg(long)]
    pub base64: bool,
}

impl EncodingArgs {
    /// The chosen encoding.
    pub fn encoding(self) -> Encoding {
        if self.hex {
            Encoding::Hex
        } else if self.base64 {
            Encoding::Base64
        } else {
            Encoding::Text
        }
    }
}

/// Arguments of `put`.
#[derive(Debug, Args)]
pub struct PutArgs {
    /// The key.
    #[arg(allow_hyphen_values = true)]
    pub key: String,
    /// The value (or use --file).
    #[arg(
        allow_hyphen_values = true,
        required_unless_present = "file",
        conflicts_with = "file"
    )]
    pub value: Option<String>,
    /// Read the value's raw bytes from this file, or `-` for stdin.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Key and value encoding.
    #[command(flatten)]
    pub enc: EncodingArgs,
}

/// Arguments of `get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// The key.
    #[arg(allow_hyphen_values = true)]
    pub key: String,
    /// Write the value's raw bytes to this file (`-`: stdout) instead of
    /// printing it.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["raw", "format"])]
    pub out: Option<PathBuf>,
    /// Print the value's bytes as they are: not escaped, no newline added
    /// (redis-cli's `--raw`).
    #[arg(long, conflicts_with = "format")]
    pub raw: bool,
    /// Print the pair as a line: `tsv` as `scan` prints it, `json` as
    /// `{"key":..,"value":..}` (scan's JSON fields).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Key and value encoding.
    #[command(flatten)]
    pub enc: EncodingArgs,
}

/// A key argument.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// The key.
    #[arg(allow_hyphen_values = true)]
    pub key: String,
    /// Key encoding.
    #[command(flatten)]
    pub enc: EncodingArgs,
}

/// The key range of `scan` and `count`, written in the command's encoding.
#[derive(Debug, Args, Clone, Default)]
pub struct RangeArgs {
    /// Only keys starting with P.
    #[arg(long, value_name = "P", allow_hyphen_values = true)]
    pub prefix: Option<String>,
    /// Only keys >= A.
    #[arg(long, value_name = "A", allow_hyphen_values = true)]
    pub from: Option<String>,
    /// Only keys < B.
    #[arg(long, value_name = "B", allow_hyphen_values = true)]
    pub to: Option<String>,
}

impl RangeArgs {
    /// The bounds given, in the order prefix, from, to.
    pub fn given(&self) -> impl Iterator<Item = &String> {
        [&self.prefix, &self.from, &self.to].into_iter().flatten()
    }
}

/// Arguments of `scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Which keys.
    #[command(flatten)]
    pub range: RangeArgs,
    /// Descending order.
    #[arg(long)]
    pub reverse: bool,
    /// At most N pairs.
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Print keys only.
    #[arg(long)]
    pub keys_only: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Tsv)]
    pub format: Format,
    /// Encoding of --prefix/--from/--to and of the output (JSON fields
    /// `key_hex`/`value_hex` with --hex, `key_base64`/`value_base64` with
    /// --base64).
    #[command(flatten)]
    pub enc: EncodingArgs,
}

/// Arguments of `load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Input file, or `-` for stdin.
    pub input: String,
    /// Input format (default: json for a .json/.jsonl/.ndjson file, else tsv).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Pairs written per atomic batch (at least 1).
    #[arg(
        long,
        default_value_t = 1000,
        value_name = "N",
        value_parser = batch_len
    )]
    pub batch: usize,
    /// The input is sorted: keys strictly increase, line by line. The lsm
    /// engine then writes table files directly and ingests them at the end
    /// (no log, no compaction), instead of writing batches. A line whose
    /// key does not sort after the previous line's stops the load with its
    /// line number; the lines before it are loaded. Not for the btree engine.
    #[arg(long)]
    pub sorted: bool,
}

/// Parses `--batch`: a whole number of pairs, at least 1.
fn batch_len(arg: &str) -> Result<usize, String> {
    match arg.parse::<usize>() {
        Ok(0) => Err("a batch holds at least 1 pair".to_string()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("not a whole number of pairs ({e})")),
    }
}

/// Arguments of `dump`.
#[derive(Debug, Args)]
pub struct DumpArgs {
    /// Output file, or `-` for stdout.
    pub output: String,
    /// Output format (default: json for a .json/.jsonl/.ndjson file, else tsv).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

/// Arguments of `shell`.
#[derive(Debug, Args, Clone, Copy)]
pub struct ShellArgs {
    /// Stop at the first command that fails and exit with its code
    /// (sqlite3's `-bail`).
    #[arg(long)]
    pub bail: bool,
}

/// Arguments of `bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Number of keys written and read (at least 1).
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub num: u64,
    /// Value size in bytes.
    #[arg(long, default_value_t = 100)]
    pub value_size: usize,
}

/// Arguments of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Number of generated pairs loaded (at least 10).
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(10..))]
    pub keys: u64,
}

/// Output format of `stats`, `verify` and `count`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// Lines for people.
    #[default]
    Text,
    /// One JSON object.
    Json,
}

/// Arguments of `stats`.
#[derive(Debug, Args, Clone, Copy)]
pub struct StatsArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

/// Arguments of `verify`.
#[derive(Debug, Args, Clone, Copy)]
pub struct VerifyArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

/// Arguments of `count`.
#[derive(Debug, Args)]
pub struct CountArgs {
    /// Which keys.
    #[command(flatten)]
    pub range: RangeArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
    /// Encoding of --prefix/--from/--to.
    #[command(flatten)]
    pub enc: EncodingArgs,
}

/// Parses `--wait SECONDS`: a finite, non-negative number of seconds.
fn parse_wait(s: &str) -> Result<std::time::Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("expected a number of seconds, found {s:?}"))?;
    std::time::Duration::try_from_secs_f64(secs)
        .map_err(|_| format!("expected a non-negative number of seconds, found {s:?}"))
}
