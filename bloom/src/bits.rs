//! Bit arrays stored as little-endian `u64` words, and the optimal-shape math.

/// Number of `u64` words holding `bits` bits.
pub(crate) fn words_for(bits: u64) -> usize {
    // Filters are built in memory, so `bits / 64` fits in `usize` once the
    // constructor's allocation succeeded; constructors bound `bits` first.
    bits.div_ceil(64) as usize
}

/// Sets bit `index` of `words`.
#[inline(always)]
pub(crate) fn set(words: &mut [u64], index: u64) {
    words[(index >> 6) as usize] |= 1 << (index & 63);
}

/// Bits set in `words`.
pub(crate) fn count_ones(words: &[u64]) -> u64 {
    words.iter().map(|w| u64::from(w.count_ones())).sum()
}

/// Bits per key and probe count that minimise the false-positive rate of a
/// classic filter for `items` keys at rate `fpr`: `m = -n ln p / ln² 2`,
/// `k = (m / n) ln 2`.
pub(crate) fn optimal_bits(items: u64, fpr: f64) -> u64 {
    let ln2 = std::f64::consts::LN_2;
    let bits = -(items as f64) * fpr.ln() / (ln2 * ln2);
    (bits.ceil() as u64).max(64)
}

/// The probe count that minimises the rate for `bits` bits and `items` keys.
pub(crate) fn optimal_probes(bits: u64, items: u64) -> u32 {
    let k = (bits as f64 / items.max(1) as f64) * std::f64::consts::LN_2;
    (k.round() as u32).clamp(1, MAX_PROBES)
}

/// The most probes a filter may use: past this the rate only gets worse for
/// any useful number of bits per key, and time grows.
pub(crate) const MAX_PROBES: u32 = 32;

/// The largest filter, in bits, a constructor accepts: 2^40 bits = 128 GiB.
pub(crate) const MAX_BITS: u64 = 1 << 40;

/// Checks the arguments of a `with_rate` constructor.
pub(crate) fn check_rate(items: u64, fpr: f64) -> crate::Result<()> {
    if items == 0 {
        return Err(crate::error::invalid(
            "expected_items",
            items,
            "must be at least 1",
        ));
    }
    if !(fpr > 0.0 && fpr < 1.0) {
        return Err(crate::error::invalid(
            "false_positive_rate",
            fpr,
            "must be in (0, 1)",
        ));
    }
    Ok(())
}

/// Checks a bit count and probe count.
pub(crate) fn check_shape(bits: u64, probes: u32) -> crate::Result<()> {
    if bits == 0 || bits > MAX_BITS {
        return Err(crate::error::invalid("bits", bits, "must be in 1..=2^40"));
    }
    if probes == 0 || probes > MAX_PROBES {
        return Err(crate::error::invalid("probes", probes, "must be in 1..=32"));
    }
    Ok(())
}
