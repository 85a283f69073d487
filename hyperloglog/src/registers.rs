//! Dense registers packed six bits each, as Redis and most HyperLogLogs
//! store them: register `i` is bits `6i .. 6i + 6` of the array, least
//! significant bit first.

/// Bits per register: enough for values up to 63 (`64 - p + 1 <= 61`).
pub(crate) const REGISTER_BITS: usize = 6;
const MASK: u16 = (1 << REGISTER_BITS) - 1;

/// Bytes holding `m` packed registers (plus one spare byte so every
/// register can be read as a 16-bit window).
pub(crate) const fn packed_len(m: usize) -> usize {
    (m * REGISTER_BITS).div_ceil(8) + 1
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Registers {
    bytes: Vec<u8>,
    m: usize,
}

impl Registers {
    pub(crate) fn new(m: usize) -> Registers {
        Registers {
            bytes: vec![0; packed_len(m)],
            m,
        }
    }

    pub(crate) fn from_packed(bytes: Vec<u8>, m: usize) -> Registers {
        debug_assert_eq!(bytes.len(), packed_len(m));
        Registers { bytes, m }
    }

    pub(crate) fn as_packed(&self) -> &[u8] {
        &self.bytes
    }

    pub(crate) fn len(&self) -> usize {
        self.m
    }

    #[inline]
    pub(crate) fn get(&self, index: usize) -> u8 {
        get(&self.bytes, index)
    }

    #[inline]
    pub(crate) fn set(&mut self, index: usize, value: u8) {
        set(&mut self.bytes, index, value);
    }

    /// The packed bytes, for loops that keep them in a local.
    pub(crate) fn packed_mut(&mut self) -> &mut [u8] {
        &mut self.bytes
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = u8> + '_ {
        (0..self.m).map(|i| self.get(i))
    }
}

/// Register `index` of packed bytes. Panics past the end: callers index
/// with at most `m - 1`.
#[inline]
pub(crate) fn get(bytes: &[u8], index: usize) -> u8 {
    let bit = index * REGISTER_BITS;
    let at = bit / 8;
    let window = match bytes.get(at..at + 2) {
        Some(&[lo, hi]) => u16::from_le_bytes([lo, hi]),
        _ => panic!("register index out of range"),
    };
    ((window >> (bit % 8)) & MASK) as u8
}

/// Sets register `index` of packed bytes to `value` (< 64).
#[inline]
pub(crate) fn set(bytes: &mut [u8], index: usize, value: u8) {
    debug_assert!(u16::from(value) <= MASK);
    let bit = index * REGISTER_BITS;
    let at = bit / 8;
    let shift = bit % 8;
    let Some(pair) = bytes.get_mut(at..at + 2) else {
        panic!("register index out of range");
    };
    let mut window = u16::from_le_bytes([pair[0], pair[1]]);
    window = (window & !(MASK << shift)) | (u16::from(value) << shift);
    pair.copy_from_slice(&window.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_registers_keep_every_value_apart() {
        let m = 1 << 10;
        let mut r = Registers::new(m);
        for i in 0..m {
            r.set(i, (i % 64) as u8);
        }
        for i in 0..m {
            assert_eq!(r.get(i), (i % 64) as u8, "register {i}");
        }
        r.set(5, 0);
        assert_eq!((r.get(4), r.get(5), r.get(6)), (4, 0, 6));
        assert_eq!(r.as_packed().len(), 1024 * 6 / 8 + 1);
    }
}
