//! `UltraLogLog` (Ertl, VLDB 2024): one byte per register holding the
//! largest update value seen and whether the two values below it were seen
//! too, estimated by maximum likelihood.

use xxhash_rust::xxh3::xxh3_64;

use crate::error::Result;
use crate::hll::{check_precision, check_reduce, check_same_precision, moved_value};

/// An UltraLogLog sketch of `m = 2^p` one-byte registers: at the same
/// memory it estimates with about 15% less error than a HyperLogLog of
/// 6-bit registers (relative standard error `0.761 / sqrt(m)` against
/// `1.04 / sqrt(m')` with `m' = 4m/3` registers in the same bytes), or
/// needs about 28% less memory for the same error.
///
/// An item's xxh3-64 hash picks a register with its top `p` bits; its
/// update value `k` is `1 +` the leading zeros of the other `64 - p` bits
/// (at most `65 - p`), exactly as in [`HyperLogLog`](crate::HyperLogLog).
/// The register keeps `u`, the largest `k` seen, in its top six bits, and
/// in its low two bits whether `u - 1` and `u - 2` were seen. The estimate
/// maximizes the likelihood of all registers (see the crate README); it
/// reads every register, so `count` is O(m), not O(1) as for `HyperLogLog`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UltraLogLog {
    precision: u8,
    registers: Vec<u8>,
}

/// The set of update values a register stands for: bit `k` for value `k`.
/// Only `u`, `u - 1` and `u - 2` survive packing.
#[inline]
fn unpack(register: u8) -> u64 {
    let u = u32::from(register >> 2);
    // Bit 0 stands for no value; clearing it makes the empty register 0.
    ((u64::from(4 | (register & 3)) << u) >> 2) & !1
}

#[inline]
fn pack(seen: u64) -> u8 {
    if seen == 0 {
        return 0;
    }
    let u = 63 - seen.leading_zeros();
    // Bits u - 1 and u - 2 of `seen` (zero below value 1).
    ((u << 2) as u8) | ((((seen << 2) >> u) & 3) as u8)
}

impl UltraLogLog {
    /// An empty sketch of `2^precision` one-byte registers.
    ///
    /// # Errors
    ///
    /// [`Error::Precision`](crate::Error::Precision) unless `4 <= precision <= 18`.
    pub fn new(precision: u8) -> Result<UltraLogLog> {
        check_precision(precision)?;
        Ok(UltraLogLog {
            precision,
            registers: vec![0; 1 << precision],
        })
    }

    pub(crate) fn from_registers(precision: u8, registers: Vec<u8>) -> UltraLogLog {
        debug_assert_eq!(registers.len(), 1 << precision);
        UltraLogLog {
            precision,
            registers,
        }
    }

    /// The precision `p`.
    pub fn precision(&self) -> u8 {
        self.precision
    }

    /// Registers `m = 2^p`.
    pub fn registers(&self) -> usize {
        self.registers.len()
    }

    /// Register `index` as stored: `u << 2 | seen(u - 1) << 1 | seen(u - 2)`.
    pub fn register(&self, index: usize) -> Option<u8> {
        self.registers.get(index).copied()
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.registers
    }

    /// Inserts an item by its bytes (hashed with xxh3-64).
    #[inline]
    pub fn insert(&mut self, item: &[u8]) {
        self.insert_hash(xxh3_64(item));
    }

    /// Inserts an item by its 64-bit hash, uniform over all 64 bits.
    #[inline]
    pub fn insert_hash(&mut self, hash: u64) {
        let p = u32::from(self.precision);
        let index = (hash >> (64 - p)) as usize;
        // A sentinel bit caps the leading zeros at 64 - p.
        let value = ((hash << p) | (1 << (p - 1))).leading_zeros() + 1;
        if let Some(register) = self.registers.get_mut(index) {
            *register = pack(unpack(*register) | (1 << value));
        }
    }

    /// Inserts many items, as [`insert`](Self::insert) on each.
    pub fn insert_all<I>(&mut self, items: I)
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        for item in items {
            self.insert(item.as_ref());
        }
    }

    /// The estimated number of distinct items (maximum likelihood).
    pub fn count(&self) -> u64 {
        self.estimate().round() as u64
    }

    /// The estimate before rounding.
    pub fn estimate(&self) -> f64 {
        let mut histogram = [0u32; 256];
        for &r in &self.registers {
            histogram[usize::from(r)] += 1;
        }
        crate::ml::estimate(&histogram, self.precision)
    }

    /// Adds every item of `other`: afterwards `self` is exactly the sketch of
    /// both item sets.
    ///
    /// # Errors
    ///
    /// [`Error::PrecisionMismatch`](crate::Error::PrecisionMismatch) unless both have the same precision;
    /// [`reduce`](Self::reduce) the larger first.
    pub fn merge(&mut self, other: &UltraLogLog) -> Result<()> {
        check_same_precision(self.precision, other.precision)?;
        for (mine, &theirs) in self.registers.iter_mut().zip(&other.registers) {
            *mine = pack(unpack(*mine) | unpack(theirs));
        }
        Ok(())
    }

    /// The sketch the same items would have made at the lower precision
    /// `precision`, register for register. The `d = p - p'` index bits
    /// that leave the index become the top bits of the value's bits: if
    /// they are all zero the register's values move up by `d`; otherwise
    /// the moved bits alone give the value, `1 +` their leading zeros.
    ///
    /// # Errors
    ///
    /// [`Error::ReduceUp`](crate::Error::ReduceUp) if `precision` is larger than the sketch's;
    /// [`Error::Precision`](crate::Error::Precision) if it is below 4.
    pub fn reduce(&self, precision: u8) -> Result<UltraLogLog> {
        check_reduce(self.precision, precision)?;
        let shift = u32::from(self.precision - precision);
        let mut reduced = UltraLogLog::new(precision)?;
        for (index, &register) in self.registers.iter().enumerate() {
            if register == 0 {
                continue;
            }
            let moved = index & ((1 << shift) - 1);
            let seen = if moved == 0 {
                unpack(register) << shift
            } else {
                1 << moved_value(moved, shift)
            };
            let target = &mut reduced.registers[index >> shift];
            *target = pack(unpack(*target) | seen);
        }
        Ok(reduced)
    }

    /// Memory the sketch holds: one byte per register.
    pub fn len_bytes(&self) -> usize {
        self.registers.len()
    }

    /// Removes every item.
    pub fn clear(&mut self) {
        self.registers.fill(0);
    }
}

impl<T: AsRef<[u8]>> Extend<T> for UltraLogLog {
    /// [`insert_all`](UltraLogLog::insert_all).
    fn extend<I: IntoIterator<Item = T>>(&mut self, items: I) {
        self.insert_all(items);
    }
}

/// Whether `register` is a state some stream of hashes can leave at
/// precision `p`: `u` at most `65 - p`, and no history bits for values
/// below 1.
pub(crate) fn valid_register(register: u8, p: u8) -> bool {
    let u = register >> 2;
    let history = register & 3;
    match u {
        0 => register == 0,
        1 => history == 0,
        2 => history & 1 == 0,
        _ => u <= 65 - p,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_keeps_the_top_value_and_the_two_below() {
        assert_eq!(pack(0), 0);
        assert_eq!(pack(1 << 1), 1 << 2);
        assert_eq!(pack((1 << 5) | (1 << 4)), (5 << 2) | 0b10);
        assert_eq!(pack((1 << 5) | (1 << 3)), (5 << 2) | 0b01);
        assert_eq!(pack((1 << 5) | (1 << 2)), 5 << 2, "value 2 is forgotten");
        for r in 0..=255u8 {
            if valid_register(r, 4) {
                assert_eq!(pack(unpack(r)), r, "register {r:#x}");
            }
        }
    }
}
