//! `HyperLogLog`: dense 6-bit registers and a running register histogram.

use xxhash_rust::xxh3::xxh3_64;

use crate::error::{Error, Result};
use crate::estimator::estimate;
use crate::registers::{Registers, packed_len};
use crate::sparse::Sparse;

/// How items become registers. Sketches of different modes never merge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashMode {
    /// xxh3-64 of the item; the hash's top `p` bits pick the register, and
    /// the leading zeros of the rest give its value.
    Xxh3,
    /// Redis' scheme: MurmurHash64A (seed `0xadc83b19`) of the item; the low
    /// `p` bits pick the register, and the trailing zeros of the rest give
    /// its value. With `p = 14` the registers equal Redis' after `PFADD`.
    Redis,
}

/// Where `insert_hash` sends a hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum InsertPath {
    Sparse,
    DenseXxh3,
    DenseRedis,
}

fn dense_path(mode: HashMode) -> InsertPath {
    match mode {
        HashMode::Xxh3 => InsertPath::DenseXxh3,
        HashMode::Redis => InsertPath::DenseRedis,
    }
}

/// Entries of the register histogram: one per 6-bit register value.
const HISTOGRAM_LEN: usize = 64;

/// The smallest precision: 16 registers.
pub const PRECISION_MIN: u8 = 4;
/// The largest precision: 262,144 registers.
pub const PRECISION_MAX: u8 = 18;

/// A HyperLogLog sketch (Flajolet et al., 2007) of `m = 2^p` registers
/// estimating the number of distinct items inserted, with a relative
/// standard error of about `1.04 / sqrt(m)` (0.81% at p = 14, 12 KiB).
///
/// The top `p` bits of an item's 64-bit xxh3 hash pick a register, which
/// keeps the largest `1 +` (leading zeros of the other `64 - p` bits) seen.
/// A histogram of register values is kept as registers change, so
/// [`count`](Self::count) reads `p + 2` numbers instead of `m` registers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HyperLogLog {
    mode: HashMode,
    /// Derived from `mode` and `sparse`, kept so `insert_hash` dispatches once.
    path: InsertPath,
    precision: u8,
    /// While set, the sketch is sparse and `registers` is empty.
    sparse: Option<Box<Sparse>>,
    registers: Registers,
    /// How many registers hold each value.
    histogram: Histogram,
}

impl HyperLogLog {
    /// An empty sketch of `2^precision` registers.
    ///
    /// # Errors
    ///
    /// [`Error::Precision`] unless `4 <= precision <= 18`.
    pub fn new(precision: u8) -> Result<HyperLogLog> {
        HyperLogLog::with_mode(precision, HashMode::Xxh3)
    }

    /// An empty sketch that hashes and places items as Redis does, at
    /// Redis' precision 14: after the same `PFADD`s its registers equal
    /// Redis', and `count()` equals `PFCOUNT`.
    pub fn redis() -> HyperLogLog {
        HyperLogLog::with_mode(crate::redis::REDIS_PRECISION, HashMode::Redis)
            .unwrap_or_else(|_| unreachable!("14 is a valid precision"))
    }

    /// An empty sketch of `2^precision` registers in the given mode.
    ///
    /// # Errors
    ///
    /// [`Error::Precision`] unless `4 <= precision <= 18`.
    pub fn with_mode(precision: u8, mode: HashMode) -> Result<HyperLogLog> {
        check_precision(precision)?;
        let m = 1usize << precision;
        let histogram = Histogram::empty(m);
        // xxh3 sketches start sparse; Redis ones dense, as Redis' registers
        // are what they mirror.
        let sparse = (mode == HashMode::Xxh3).then(|| Box::new(Sparse::new()));
        let registers = Registers::new(if sparse.is_some() { 0 } else { m });
        Ok(HyperLogLog {
            mode,
            path: if sparse.is_some() {
                InsertPath::Sparse
            } else {
                dense_path(mode)
            },
            precision,
            sparse,
            registers,
            histogram,
        })
    }

    pub(crate) fn from_registers(
        mode: HashMode,
        precision: u8,
        registers: Registers,
    ) -> HyperLogLog {
        let histogram = Histogram::of(registers.iter());
        HyperLogLog {
            mode,
            path: dense_path(mode),
            precision,
            sparse: None,
            registers,
            histogram,
        }
    }

    /// How items become registers.
    pub fn mode(&self) -> HashMode {
        self.mode
    }

    /// The precision `p`.
    pub fn precision(&self) -> u8 {
        self.precision
    }

    /// Registers `m = 2^p`.
    pub fn registers(&self) -> usize {
        1 << self.precision
    }

    /// Whether the sketch is still sparse (few registers set).
    pub fn is_sparse(&self) -> bool {
        self.sparse.is_some()
    }

    pub(crate) fn sparse(&self) -> Option<&Sparse> {
        self.sparse.as_deref()
    }

    pub(crate) fn from_sparse(precision: u8, sparse: Sparse) -> HyperLogLog {
        let mut s = HyperLogLog::with_mode(precision, HashMode::Xxh3)
            .unwrap_or_else(|_| unreachable!("precision was checked"));
        s.sparse = Some(Box::new(sparse));
        s.path = InsertPath::Sparse;
        s.densify_if_larger();
        s
    }

    /// Switches to dense registers once the sparse entries would take more
    /// bytes than the packed registers do.
    fn densify_if_larger(&mut self) {
        if self
            .sparse
            .as_ref()
            .is_some_and(|sp| sp.len_bytes() > packed_len(self.registers()))
        {
            self.densify();
        }
    }

    fn densify(&mut self) {
        if let Some(sparse) = self.sparse.take() {
            self.path = dense_path(self.mode);
            self.registers = Registers::new(self.registers());
            for (index, value) in sparse.folded(self.precision) {
                self.raise(index, value);
            }
        }
    }

    /// The value of register `index`.
    pub fn register(&self, index: usize) -> Option<u8> {
        if index >= self.registers() {
            return None;
        }
        Some(match &self.sparse {
            Some(sparse) => sparse.register(index, self.precision),
            None => self.registers.get(index),
        })
    }

    pub(crate) fn packed(&self) -> &[u8] {
        self.registers.as_packed()
    }

    /// Inserts an item by its bytes (hashed with xxh3-64, or
    /// MurmurHash64A in [`HashMode::Redis`]).
    #[inline]
    pub fn insert(&mut self, item: &[u8]) {
        // One dispatch picks the hash and the representation together.
        match self.path {
            InsertPath::DenseXxh3 => self.insert_dense_xxh3(xxh3_64(item)),
            InsertPath::DenseRedis => self
                .insert_dense_redis(crate::redis::murmur_hash64a(item, crate::redis::REDIS_SEED)),
            // Only xxh3 sketches are ever sparse.
            InsertPath::Sparse => self.insert_sparse(xxh3_64(item)),
        }
    }

    /// Inserts an item by its 64-bit hash (of the sketch's mode), for callers
    /// that hashed already. The hash must be uniform over all 64 bits.
    #[inline]
    pub fn insert_hash(&mut self, hash: u64) {
        match self.path {
            InsertPath::DenseXxh3 => self.insert_dense_xxh3(hash),
            InsertPath::DenseRedis => self.insert_dense_redis(hash),
            InsertPath::Sparse => self.insert_sparse(hash),
        }
    }

    /// xxh3 mode: the top `p` bits pick the register, the leading zeros of
    /// the rest give its value.
    #[inline]
    fn insert_dense_xxh3(&mut self, hash: u64) {
        let p = u32::from(self.precision);
        // A sentinel bit caps the count of leading zeros at 64 - p.
        let rest = (hash << p) | (1 << (p - 1));
        self.raise((hash >> (64 - p)) as usize, rest.leading_zeros() as u8 + 1);
    }

    /// Redis mode: the low `p` bits pick the register, the trailing zeros of
    /// the rest give its value.
    #[inline]
    fn insert_dense_redis(&mut self, hash: u64) {
        let p = u32::from(self.precision);
        let rest = (hash >> p) | (1 << (64 - p));
        self.raise(
            (hash & ((1 << p) - 1)) as usize,
            rest.trailing_zeros() as u8 + 1,
        );
    }

    /// Inserts many items; the same as calling [`insert`](Self::insert) on
    /// each, but once the sketch is dense the loop keeps the registers,
    /// the histogram and the precision in locals instead of re-reading the
    /// sketch for every item.
    pub fn insert_all<I>(&mut self, items: I)
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let mut items = items.into_iter();
        while self.path == InsertPath::Sparse {
            match items.next() {
                Some(item) => self.insert_sparse(xxh3_64(item.as_ref())),
                None => return,
            }
        }
        let (packed, histogram) = (self.registers.packed_mut(), &mut self.histogram);
        // One copy of the loop per precision, so shifts are constants and
        // the register array's length is known (no bounds checks).
        macro_rules! by_precision {
            ($($p:literal)*) => {
                match self.precision {
                    $($p => dense_loop::<$p, _>(packed, histogram, self.mode, items),)*
                    _ => unreachable!("precision is checked on construction"),
                }
            };
        }
        by_precision!(4 5 6 7 8 9 10 11 12 13 14 15 16 17 18);
    }

    /// The sparse path, out of line: it runs for the first few thousand
    /// items at most, and keeping it out of `insert_hash` keeps the dense
    /// path small enough to inline into callers' loops.
    #[cold]
    #[inline(never)]
    fn insert_sparse(&mut self, hash: u64) {
        if let Some(sparse) = &mut self.sparse {
            let (index, value) = crate::sparse::split_hash(hash);
            sparse.raise(index, value);
        }
        self.densify_if_larger();
    }

    #[inline]
    fn raise(&mut self, index: usize, value: u8) {
        // No register is below the minimum: a value at or under it changes
        // nothing, and needs no register read.
        if value > self.histogram.min {
            raise(
                self.registers.packed_mut(),
                &mut self.histogram,
                index,
                value,
            );
        }
    }

    /// The estimated number of distinct items, with Ertl's improved raw
    /// estimator (see the crate README for the formula). O(p), not O(m).
    pub fn count(&self) -> u64 {
        self.estimate().round() as u64
    }

    /// The estimate before rounding.
    pub fn estimate(&self) -> f64 {
        match &self.sparse {
            Some(sparse) => sparse.estimate(),
            None => estimate(
                &self.histogram.counts[..=usize::from(max_value(self.precision))],
                self.registers.len(),
            ),
        }
    }

    /// Adds every item of `other`: afterwards `self` is exactly the sketch of
    /// both item sets (register-wise maximum).
    ///
    /// # Errors
    ///
    /// [`Error::PrecisionMismatch`] unless both have the same precision;
    /// [`reduce`](Self::reduce) the larger first.
    pub fn merge(&mut self, other: &HyperLogLog) -> Result<()> {
        if self.mode != other.mode {
            return Err(Error::ModeMismatch);
        }
        check_same_precision(self.precision, other.precision)?;
        if let (Some(mine), Some(theirs)) = (&mut self.sparse, &other.sparse) {
            mine.merge(theirs);
            self.densify_if_larger();
            return Ok(());
        }
        self.densify();
        match &other.sparse {
            Some(theirs) => {
                for (index, value) in theirs.folded(self.precision) {
                    self.raise(index, value);
                }
            }
            None => {
                for index in 0..self.registers.len() {
                    self.raise(index, other.registers.get(index));
                }
            }
        }
        Ok(())
    }

    /// The sketch the same items would have made at the lower precision
    /// `precision`: register `i` of the new sketch gathers the `2^(p - p')`
    /// old registers whose index starts with `i`, and the index bits that
    /// move into the hash's tail are counted as the leading zeros they are.
    /// Equal, register for register, to a sketch built at that precision.
    ///
    /// # Errors
    ///
    /// [`Error::ReduceUp`] if `precision` is larger than the sketch's;
    /// [`Error::Precision`] if it is below 4.
    pub fn reduce(&self, precision: u8) -> Result<HyperLogLog> {
        check_reduce(self.precision, precision)?;
        if let Some(sparse) = &self.sparse {
            // Sparse entries do not depend on the precision.
            return Ok(HyperLogLog::from_sparse(precision, Sparse::clone(sparse)));
        }
        let shift = u32::from(self.precision - precision);
        let mut reduced = HyperLogLog::with_mode(precision, self.mode)?;
        reduced.densify();
        for index in 0..self.registers.len() {
            let value = self.registers.get(index);
            if value == 0 {
                continue;
            }
            // The index bits that leave the index join the bits the value is
            // counted from, nearest to it: the low bits of the index for
            // leading zeros (xxh3 mode), the high bits for trailing zeros
            // (Redis mode).
            let (new_index, moved) = match self.mode {
                HashMode::Xxh3 => (index >> shift, index & ((1 << shift) - 1)),
                HashMode::Redis => (index & ((1 << precision) - 1), index >> precision),
            };
            let new_value = if moved == 0 {
                shift as u8 + value
            } else {
                match self.mode {
                    HashMode::Xxh3 => moved_value(moved, shift),
                    HashMode::Redis => moved.trailing_zeros() as u8 + 1,
                }
            };
            reduced.raise(new_index, new_value);
        }
        Ok(reduced)
    }

    /// Memory the sketch holds: packed registers and the histogram.
    pub fn len_bytes(&self) -> usize {
        self.sparse.as_deref().map_or(0, Sparse::len_bytes)
            + self.registers.as_packed().len()
            + size_of_val(&self.histogram)
    }

    /// Removes every item.
    pub fn clear(&mut self) {
        *self = HyperLogLog::with_mode(self.precision, self.mode)
            .unwrap_or_else(|_| unreachable!("valid precision"));
    }
}

impl<T: AsRef<[u8]>> Extend<T> for HyperLogLog {
    /// [`insert_all`](HyperLogLog::insert_all).
    fn extend<I: IntoIterator<Item = T>>(&mut self, items: I) {
        self.insert_all(items);
    }
}

/// `insert_all`'s dense loop at precision `P`.
fn dense_loop<const P: u32, I>(
    packed: &mut [u8],
    histogram: &mut Histogram,
    mode: HashMode,
    items: I,
) where
    I: Iterator,
    I::Item: AsRef<[u8]>,
{
    let packed = &mut packed[..const { packed_len(1 << P) }];
    match mode {
        HashMode::Xxh3 => {
            for item in items {
                let hash = xxh3_64(item.as_ref());
                let rest = (hash << P) | (1 << (P - 1));
                let value = rest.leading_zeros() as u8 + 1;
                // No register is below the minimum: a value at or under it
                // changes nothing, and needs no register read.
                if value > histogram.min {
                    raise(packed, histogram, (hash >> (64 - P)) as usize, value);
                }
            }
        }
        HashMode::Redis => {
            for item in items {
                let hash = crate::redis::murmur_hash64a(item.as_ref(), crate::redis::REDIS_SEED);
                let rest = (hash >> P) | (1 << (64 - P));
                let value = rest.trailing_zeros() as u8 + 1;
                if value > histogram.min {
                    raise(packed, histogram, (hash & ((1 << P) - 1)) as usize, value);
                }
            }
        }
    }
}

/// How many registers hold each value, and the smallest value held.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Histogram {
    /// `counts[k]` = registers holding `k`, for `k` in `0..=65 - p`; the
    /// rest stay zero. 64 entries, so a 6-bit value indexes it unchecked.
    counts: [u32; HISTOGRAM_LEN],
    /// The smallest `k` with `counts[k] > 0`.
    min: u8,
}

impl Histogram {
    fn empty(m: usize) -> Histogram {
        let mut counts = [0; HISTOGRAM_LEN];
        counts[0] = m as u32;
        Histogram { counts, min: 0 }
    }

    fn of(values: impl Iterator<Item = u8>) -> Histogram {
        let mut counts = [0; HISTOGRAM_LEN];
        for value in values {
            counts[usize::from(value) % HISTOGRAM_LEN] += 1;
        }
        let min = counts.iter().position(|&c| c > 0).unwrap_or(0) as u8;
        Histogram { counts, min }
    }

    /// A register went from `old` to the larger `new`.
    #[inline]
    fn moved(&mut self, old: u8, new: u8) {
        // Both are 6-bit values: the modulo only removes bounds checks.
        let left = &mut self.counts[usize::from(old) % HISTOGRAM_LEN];
        *left -= 1;
        self.counts[usize::from(new) % HISTOGRAM_LEN] += 1;
        if old == self.min && self.counts[usize::from(old) % HISTOGRAM_LEN] == 0 {
            self.raise_min();
        }
    }

    #[cold]
    fn raise_min(&mut self) {
        // Some count is positive (they sum to m), so this stops.
        while self.min < 63 && self.counts[usize::from(self.min)] == 0 {
            self.min += 1;
        }
    }
}

/// Raises register `index` to `value` if that is larger, keeping the
/// histogram in step.
#[inline]
fn raise(packed: &mut [u8], histogram: &mut Histogram, index: usize, value: u8) {
    let old = crate::registers::get(packed, index);
    if value > old {
        crate::registers::set(packed, index, value);
        histogram.moved(old, value);
    }
}

/// `merge`'s check: both sketches at one precision.
pub(crate) fn check_same_precision(left: u8, right: u8) -> Result<()> {
    if left != right {
        return Err(Error::PrecisionMismatch { left, right });
    }
    Ok(())
}

/// `reduce`'s check: a valid precision, not above the sketch's.
pub(crate) fn check_reduce(from: u8, to: u8) -> Result<()> {
    check_precision(to)?;
    if to > from {
        return Err(Error::ReduceUp { from, to });
    }
    Ok(())
}

/// The update value of a hash whose `shift` index bits that leave the index
/// (`moved`, nonzero) now lead its tail: `1 +` their leading zeros.
pub(crate) fn moved_value(moved: usize, shift: u32) -> u8 {
    (shift - (usize::BITS - moved.leading_zeros())) as u8 + 1
}

pub(crate) fn check_precision(precision: u8) -> Result<()> {
    if !(PRECISION_MIN..=PRECISION_MAX).contains(&precision) {
        return Err(Error::Precision {
            precision,
            min: PRECISION_MIN,
            max: PRECISION_MAX,
        });
    }
    Ok(())
}

/// The largest register value at precision `p`: `64 - p + 1`.
pub(crate) fn max_value(precision: u8) -> u8 {
    65 - precision
}
