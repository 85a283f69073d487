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
//! The public modules are what an embedder needs:
//!
//! - [`engine`]: the [`Engine`] trait and the scan, batch and verify types
//!   (also re-exported here).
//! - [`store`]: the store directory (engine marker, lock) and opening an
//!   engine on one.
//! - [`codec`]: escaping, hex, base64, and the tsv / JSON line formats.
//! - [`transfer`]: `load` and `dump` of line files.
//! - [`remote`]: `--db s3://bucket/prefix`, tables on S3.
//! - [`cli`] and [`run`]: the `clap` declaration of every command, and
//!   executing one, as the binary does.
//! - [`interrupt`]: Ctrl-C stops the running command, not the process.
//!
//! Private to the tool: one adapter per engine (`lsm_engine`,
//! `btree_engine`), dump's write-then-rename (`atomic_file`), `inspect`,
//! `stats` (reports and number formats), `backup` (`checkpoint`, `backup`,
//! `restore`), `shell`, `completion`, `bench`, `demo` and `progress` (bars
//! hidden when stderr is not a terminal).
//!
//! Limits: keys and values are those of the engine underneath (see each
//! engine's `FORMAT.md`); `load` lines are read whole into memory. The store
//! directory's own files (engine marker, lock, shell history) are described
//! in `FORMAT.md`.

#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used)]

mod atomic_file;
mod backup;
mod bench;
mod btree_engine;
pub mod cli;
pub mod codec;
mod completion;
mod demo;
pub mod engine;
mod error;
mod inspect;
pub mod interrupt;
mod lsm_engine;
mod progress;
pub mod remote;
pub mod run;
mod shell;
mod stats;
pub mod store;
pub mod transfer;

pub use engine::{
    Corruption, Direction, Engine, EngineKind, Flow, Op, ScanSpec, SortedLoader, VerifyReport,
    Visitor,
};
pub use error::{EXIT_BUSY, Error, Result};
