//! Time to live ([`Options::ttl`](crate::Options::ttl)): entries written
//! while a TTL is set carry their write time, reads hide them once it is
//! past, and compaction drops them.
//!
//! A put made while `ttl` is set is stored under
//! [`ValueKind::TimedInline`] (or, once separated into a blob,
//! [`ValueKind::TimedBlobRef`]) with its value prefixed by the write time:
//! 8 bytes, little-endian milliseconds since the Unix epoch, read from
//! [`Options::clock`](crate::Options::clock) when the batch is committed.
//! The kind, not a store-wide setting, says whether a value has the prefix,
//! so turning TTL on or off across reopens never misreads a value (RocksDB's
//! `DBWithTTL` appends a 4-byte time to every value and must always be
//! opened as a TTL database).
//!
//! An entry is expired when `write time + ttl <= now`, judged with the
//! TTL of the handle reading it: entries written without a time (before
//! TTL was enabled) never expire, and disabling TTL makes every entry
//! compaction has not dropped yet visible again. An expired entry reads as
//! a tombstone: it hides older versions of its key, so one written before
//! TTL was enabled (or under a longer TTL) cannot resurface, and
//! compaction rewrites it into a tombstone (dropped outright where no
//! deeper level may hold the key) for the same reason.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::batch::WriteBatch;
use crate::key::ValueKind;
use crate::{Error, Result};

/// Bytes of the write time in front of a timed value.
pub(crate) const TIME_LEN: usize = 8;

/// Where the engine reads the time for [`Options::ttl`](crate::Options::ttl):
/// [`SystemClock`] by default, a [`ManualClock`] in tests, or any source
/// of wall-clock time the application trusts.
pub trait Clock: Send + Sync {
    /// The time now, as the duration since the Unix epoch.
    fn now(&self) -> Duration;
}

impl fmt::Debug for dyn Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Clock({:?})", self.now())
    }
}

/// The system's wall clock ([`SystemTime::now`]). A clock set before the
/// epoch reads as the epoch.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
    }
}

/// A clock that moves only when told to: tests advance it instead of
/// sleeping. Millisecond resolution, as the stored write times.
#[derive(Debug, Default)]
pub struct ManualClock {
    millis: AtomicU64,
}

impl ManualClock {
    /// A clock reading `start` (since the Unix epoch).
    pub fn new(start: Duration) -> Arc<ManualClock> {
        Arc::new(ManualClock {
            millis: AtomicU64::new(millis(start)),
        })
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = millis(by);
        let _ = self
            .millis
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |m| {
                Some(m.saturating_add(by))
            });
    }

    /// Sets the clock to `to` (since the Unix epoch), backwards too: a
    /// test of a wall clock that steps back.
    pub fn set(&self, to: Duration) {
        self.millis.store(millis(to), Ordering::Release);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_millis(self.millis.load(Ordering::Acquire))
    }
}

/// `d` in whole milliseconds, saturating.
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Rewrites the puts of `batch` into timed puts written at `now_ms`.
pub(crate) fn stamp(batch: &mut WriteBatch, now_ms: u64) {
    let time = now_ms.to_le_bytes();
    for (kind, _, v) in &mut batch.ops {
        if *kind == ValueKind::Inline {
            let mut b = BytesMut::with_capacity(TIME_LEN + v.len());
            b.put_slice(&time);
            b.put_slice(v);
            *kind = ValueKind::TimedInline;
            *v = b.freeze();
            batch.size_bytes += TIME_LEN;
        }
    }
}

/// When entries expire for one read or one compaction: every timed entry
/// written at or before `cutoff_ms` is expired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Expiry {
    cutoff_ms: u64,
}

impl Expiry {
    /// The expiry `ttl` gives at `now`; `None` (nothing expires) without a
    /// TTL, or while less than `ttl` has passed since the epoch.
    pub(crate) fn at(ttl: Option<Duration>, now: Duration) -> Option<Expiry> {
        let cutoff_ms = millis(now).checked_sub(millis(ttl?))?;
        Some(Expiry { cutoff_ms })
    }

    /// Whether an entry written at `write_ms` is expired.
    pub(crate) fn expired(&self, write_ms: u64) -> bool {
        write_ms <= self.cutoff_ms
    }
}

/// The expiry for a read or compaction starting now under `opts`.
pub(crate) fn expiry(opts: &crate::Options) -> Option<Expiry> {
    opts.ttl?;
    Expiry::at(opts.ttl, opts.clock.now())
}

/// Whether `kind` carries a write time in front of its value.
pub(crate) fn is_timed(kind: ValueKind) -> bool {
    matches!(kind, ValueKind::TimedInline | ValueKind::TimedBlobRef)
}

/// The write time and the rest of a timed value; [`Error::BadTimedValue`]
/// naming `key` if it is too short to hold the time.
pub(crate) fn split(key: &[u8], value: &Bytes) -> Result<(u64, Bytes)> {
    let Some(time) = value.get(..TIME_LEN) else {
        return Err(Error::BadTimedValue {
            key: key.to_vec(),
            len: value.len(),
        });
    };
    let mut t = [0u8; TIME_LEN];
    t.copy_from_slice(time);
    Ok((u64::from_le_bytes(t), value.slice(TIME_LEN..)))
}

/// `value` prefixed with the write time `write_ms`.
pub(crate) fn join(write_ms: u64, value: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(TIME_LEN + value.len());
    b.put_slice(&write_ms.to_le_bytes());
    b.put_slice(value);
    b.freeze()
}

/// The untimed kind a timed kind stores.
pub(crate) fn untimed(kind: ValueKind) -> ValueKind {
    match kind {
        ValueKind::TimedInline => ValueKind::Inline,
        ValueKind::TimedBlobRef => ValueKind::BlobRef,
        k => k,
    }
}

/// What a read sees of the newest version of `key` it found: a timed entry
/// as its untimed kind and value, or `None` (as a tombstone) once expired
/// under `expiry`. Other entries pass unchanged.
pub(crate) fn visible(
    key: &[u8],
    found: Option<(ValueKind, Bytes)>,
    expiry: Option<Expiry>,
) -> Result<Option<(ValueKind, Bytes)>> {
    match found {
        Some((kind, mut v)) if is_timed(kind) => {
            let Some(time) = v.get(..TIME_LEN) else {
                return Err(Error::BadTimedValue {
                    key: key.to_vec(),
                    len: v.len(),
                });
            };
            let mut t = [0u8; TIME_LEN];
            t.copy_from_slice(time);
            if expiry.is_some_and(|e| e.expired(u64::from_le_bytes(t))) {
                return Ok(None);
            }
            // The value owned: no second handle on its buffer to count.
            v.advance(TIME_LEN);
            Ok(Some((untimed(kind), v)))
        }
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_write_time_plus_ttl() {
        let ttl = Some(Duration::from_secs(10));
        assert_eq!(Expiry::at(ttl, Duration::from_secs(5)), None);
        assert_eq!(Expiry::at(None, Duration::from_secs(50)), None);
        let e = Expiry::at(ttl, Duration::from_secs(50)).expect("expiry");
        assert!(e.expired(40_000));
        assert!(!e.expired(40_001));
    }

    #[test]
    fn stamp_and_split_round_trip() {
        let mut b = WriteBatch::new();
        b.put("k", "value");
        b.delete("d");
        stamp(&mut b, 1234);
        assert_eq!(b.ops[0].0, ValueKind::TimedInline);
        assert_eq!(b.ops[1].0, ValueKind::Delete);
        let (t, v) = split(b"k", &b.ops[0].2).expect("split");
        assert_eq!((t, &v[..]), (1234, &b"value"[..]));
        assert_eq!(join(t, &v), b.ops[0].2);
        assert!(matches!(
            split(b"k", &Bytes::from_static(b"short")),
            Err(Error::BadTimedValue { len: 5, .. })
        ));
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(Duration::from_secs(100));
        assert_eq!(c.now(), Duration::from_secs(100));
        c.advance(Duration::from_millis(1500));
        assert_eq!(c.now(), Duration::from_millis(101_500));
        c.set(Duration::from_secs(7));
        assert_eq!(c.now(), Duration::from_secs(7));
    }
}
