//! Leveled compaction: choosing what to compact, and doing it.
//!
//! - `picker.rs`: picks the next compaction by score, or a blob collection.
//! - `job.rs`: runs one compaction, writing the next level's tables.

pub(crate) mod job;
pub(crate) mod picker;
pub(crate) mod run;
