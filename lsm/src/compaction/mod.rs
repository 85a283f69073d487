//! Leveled compaction: choosing what to compact, and doing it.

pub(crate) mod job;
pub(crate) mod picker;
pub(crate) mod run;
