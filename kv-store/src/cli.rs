//! The command line, declared with `clap` derive.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::codec::{Encoding, Format};
use crate::engine::EngineKind;

/// `kv-store`: a command-line tool over the `lsm` and `btree` engines.
#[derive(Debug, Parser)]
#[command(
    name = "kv-store",
    version,
    about = "Put, get, scan, load, dump, verify and benchmark a key-value store (LSM tree or B+ tree)",
    after_help = "Examples:\n  kv-store demo\n  kv-store --db ./data put user:1 alice\n  kv-store --db ./data get user:1\n  kv-store --db ./data scan --prefix user: --limit 10\n  kv-store --db ./bt --engine btree load pairs.tsv\n\nExit codes: 0 success, 1 key not found or the store is damaged (also `repair` leaving damage), 2 usage or I/O error; a piped `shell` script (or `shell --bail`) exits with the code of its first failed command.\n\nLimits: lsm keys up to 64 KiB, values up to 64 MiB; btree (4 KiB pages) keys up to 512 bytes, values up to 2 GiB - 1 byte. A longer key or value is refused (exit 2)."
)]
pub struct Cli {
    /// The store directory.
    #[arg(long, global = true, default_value = "./kv-data", value_name = "PATH")]
    pub db: PathBuf,
    /// The engine; an existing store's own marker decides, and a different
    /// value is refused. New stores default to lsm.
    #[arg(long, global = true, value_enum)]
    pub engine: Option<EngineKind>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// A line typed at the `shell` prompt: the same commands, no global options.
#[derive(Debug, Parser)]
#[command(
    name = "kv>",
    no_binary_name = true,
    disable_version_flag = true,
    about = "The commands of the command line, without `kv-store` and the global options; `exit` or `quit` leaves.",
    override_usage = "<COMMAND> [ARGS]   (e.g. `put user:1 alice`, `scan --prefix user:`, `get --help`)"
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
        after_help = "Examples:\n  kv-store put user:1 alice\n  kv-store put --hex 00ff 6869\n  kv-store put photo:1 --file photo.jpg"
    )]
    Put(PutArgs),
    /// Print the value of KEY (exit code 1 if absent).
    #[command(
        after_help = "Examples:\n  kv-store get user:1\n  kv-store get --hex 00ff\n  kv-store get photo:1 --out photo.jpg"
    )]
    Get(GetArgs),
    /// Delete KEY (no error if absent).
    #[command(after_help = "Example:\n  kv-store delete user:1")]
    Delete(KeyArgs),
    /// Print pairs in key order as `key<TAB>value` lines (escaped) or JSON lines.
    #[command(
        after_help = "Examples:\n  kv-store scan --prefix user: --limit 10\n  kv-store scan --from a --to m --reverse --keys-only\n  kv-store scan --format json"
    )]
    Scan(ScanArgs),
    /// Bulk-load `key<TAB>value` or JSON lines from FILE or `-` (stdin).
    #[command(
        after_help = "Examples:\n  kv-store load pairs.tsv\n  kv-store dump - | kv-store --db ./copy load -\n  kv-store load pairs.jsonl   (json lines, from the extension)\n\nA malformed line stops the load with its line number; every line before it is committed and durable."
    )]
    Load(LoadArgs),
    /// Write every pair to FILE or `-` (stdout) in the format `load` reads.
    #[command(
        after_help = "Examples:\n  kv-store dump backup.tsv\n  kv-store dump --format json -"
    )]
    Dump(DumpArgs),
    /// Print the engine's shape and counters.
    #[command(after_help = "Example:\n  kv-store stats")]
    Stats,
    /// Rewrite the store, dropping overwritten and deleted data.
    #[command(after_help = "Example:\n  kv-store compact")]
    Compact,
    /// Read every block or page and check its checksum (exit code 1 on corruption).
    #[command(after_help = "Example:\n  kv-store verify")]
    Verify,
    /// Repair what the engine can (drop a torn write-ahead-log tail).
    #[command(after_help = "Example:\n  kv-store repair")]
    Repair,
    /// An interactive prompt taking the same commands on one open store.
    #[command(
        after_help = "Examples:\n  kv-store shell\n  kv> put a 1\n  kv> scan\n  kv> exit\n  printf 'put a 1\\nget a\\n' | kv-store shell --bail\n\nWhen stdin is not a terminal, errors name their input line and the shell exits with the code of the first failed command (1 not found or damage, 2 otherwise)."
    )]
    Shell(ShellArgs),
    /// A quick db_bench-style run (fillrandom, readrandom, scan) on a fresh store.
    #[command(
        after_help = "Examples:\n  kv-store bench\n  kv-store --engine btree bench --num 200000 --dir /mnt/ssd/bench"
    )]
    Bench(BenchArgs),
    /// Create a store, load generated data, then get, scan, stats and verify it.
    #[command(
        after_help = "Examples:\n  kv-store demo\n  kv-store --engine btree demo --dir ./demo-store"
    )]
    Demo(DemoArgs),
    /// Explain the store's files: levels, tables, key and sequence ranges,
    /// blobs (lsm); meta pages, depth, pages by kind (btree).
    #[command(
        after_help = "Examples:\n  kv-store inspect\n  kv-store inspect --format json\n  kv-store inspect --hex   (table key ranges in hex)\n\nReads only. Exit code 1 when a part of the store cannot be read (each is named); a store that does not open is described by its file list and the reason."
    )]
    Inspect(crate::inspect::InspectArgs),
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
    /// Read the value's raw bytes from this file.
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
    /// Write the value's raw bytes to this file instead of printing it.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
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

/// Arguments of `scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Only keys starting with P.
    #[arg(long, value_name = "P", allow_hyphen_values = true)]
    pub prefix: Option<String>,
    /// Only keys >= A.
    #[arg(long, value_name = "A", allow_hyphen_values = true)]
    pub from: Option<String>,
    /// Only keys < B.
    #[arg(long, value_name = "B", allow_hyphen_values = true)]
    pub to: Option<String>,
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
    /// Encoding of --prefix/--from/--to and of tsv output.
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
    /// Pairs written per atomic batch.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub batch: usize,
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
    /// Number of keys written and read.
    #[arg(long, default_value_t = 100_000)]
    pub num: u64,
    /// Value size in bytes.
    #[arg(long, default_value_t = 100)]
    pub value_size: usize,
    /// Directory for the fresh store (default: a temporary directory, removed after).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Arguments of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Directory for the demo store (default: a temporary directory, removed after).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Number of generated pairs.
    #[arg(long, default_value_t = 20_000)]
    pub keys: u64,
}
