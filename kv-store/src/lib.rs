//! The `kv-store` command-line tool over the `lsm` and `btree` engines, as a
//! library: every command is written once against the [`Engine`] trait, and
//! the binary (`src/main.rs`) only parses arguments and maps errors to exit
//! codes (0 success, 1 not found or damage, 2 usage or I/O error, 3 busy).
//!
//! ```
//! use kv_store::{Engine, ScanSpec, Flow};
//! use kv_store::store::{Create, Store};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let store = Store::open(&dir.path().join("db"), None, Create::IfMissing)?;
//! store.engine().put(b"user:1", b"alice")?;
//! assert_eq!(store.engine().get(b"user:1")?.as_deref(), Some(&b"alice"[..]));
//! let mut keys = Vec::new();
//! let spec = ScanSpec { prefix: Some(b"user:".to_vec()), ..ScanSpec::default() };
//! store.engine().scan(&spec, &mut |k, _| { keys.push(k.to_vec()); Ok(Flow::Continue) })?;
//! assert_eq!(keys, [b"user:1".to_vec()]);
//! store.close()?;
//! # Ok(())
//! # }
//! ```
//!
//! - `cli`: the `clap` declaration of every command.
//! - `run`: opening the store a command needs and executing it.
//! - `engine`: the [`Engine`] trait and the scan, batch and verify types.
//! - `lsm_engine`, `btree_engine`: one adapter per engine.
//! - `store`: the store directory (engine marker, lock).
//! - `codec`: escaping, hex, base64, and the tsv / JSON line formats.
//! - `transfer`: `load` and `dump`; `atomic_file`: dump's write-then-rename.
//! - `inspect`: the store's files explained (`inspect`).
//! - `progress`: progress bars (hidden when stderr is not a terminal).
//! - `stats`: what `stats` and `compact` report; number formats.
//! - `backup`: `checkpoint`, `backup` and `restore`.
//! - `shell`, `bench`, `demo`: the interactive prompt, the benchmark, the tour.
//! - `completion`: Tab completion at the shell prompt.
//! - `interrupt`: Ctrl-C stops the running command, not the process.
//!
//! Limits: keys and values are those of the engine underneath (see each
//! engine's `FORMAT.md`); `load` lines are read whole into memory. The store
//! directory's own files (engine marker, lock, shell history) are described
//! in `FORMAT.md`.

#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used)]

pub mod atomic_file;
pub mod backup;
pub mod bench;
pub mod btree_engine;
pub mod cli;
pub mod codec;
pub mod completion;
pub mod demo;
pub mod engine;
mod error;
pub mod inspect;
pub mod interrupt;
pub mod lsm_engine;
pub mod progress;
pub mod run;
pub mod shell;
pub mod stats;
pub mod store;
pub mod transfer;

pub use engine::{
    Corruption, Direction, Engine, EngineKind, Flow, Op, ScanSpec, VerifyReport, Visitor,
};
pub use error::{EXIT_BUSY, Error, Result};
