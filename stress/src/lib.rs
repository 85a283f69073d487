//! A crash soak for the workspace's engines, in the spirit of RocksDB's
//! `db_stress` and `db_crashtest.py`: several threads write, read and scan
//! a bounded key space on `lsm` or `btree` while the expected state of
//! every key lives in a file of its own; a driver SIGKILLs the process at
//! random moments and every restart first checks that the database holds a
//! state its history allows.
//!
//! ```
//! use stress::{legal, Slot};
//!
//! // Sync on: after a crash a key holds its last acknowledged write, or
//! // the write that was in flight.
//! let slot = Slot { committed: 5, pending: 9, in_flight: true, ..Slot::default() };
//! assert!(legal(&slot, true, 0, Some(9)));
//! assert!(!legal(&slot, true, 0, None));
//! ```
//!
//! - [`value`]: self-describing values (key, write id, CRC).
//! - [`expected`]: the expected-state file and the legal-state rule.
//! - [`engine`]: the two engines behind one interface, with small buffers.
//! - [`lsm_engine`]: lsm's keys spread over the default and three named
//!   keyspaces, so batches span keyspaces.
//! - [`run`](mod@run): one run: verify, then the multi-threaded workload.
//! - `txn`: lsm's optimistic transactions in that workload, each commit's
//!   outcome checked against what its keys went through.
//! - [`crashtest`](mod@crashtest): the kill-and-restart driver.
//!
//! Usage and the soak results: `stress/README.md`.

mod btree_engine;
pub mod crashtest;
pub mod engine;
pub mod expected;
pub mod lsm_engine;
pub mod run;
mod txn;
pub mod value;

pub use crashtest::{CrashOptions, Summary, crashtest};
pub use engine::Kind;
pub use expected::{Slot, legal};
pub use run::{RunOptions, Verified, Workload, run, verify};

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
