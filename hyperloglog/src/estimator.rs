//! Otmar Ertl's improved raw estimator ("New cardinality estimation
//! algorithms for HyperLogLog sketches", 2017, Algorithm 6): unbiased over
//! the whole range from the register histogram alone, with no empirical bias
//! tables and no switch to linear counting.

/// `alpha_inf = 1 / (2 ln 2)`, the constant for `m -> infinity`.
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// σ(x) = x + Σ_{k>=1} x^(2^k) 2^(k-1), the correction for empty registers.
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let previous = z;
        z += x * y;
        y += y;
        if z == previous {
            return z;
        }
    }
}

/// τ(x) = (1 - x - Σ_{k>=1} (1 - x^(2^-k))² 2^-k) / 3, the correction for
/// saturated registers.
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let previous = z;
        y *= 0.5;
        z -= (1.0 - x).powi(2) * y;
        if z == previous {
            return z / 3.0;
        }
    }
}

/// The estimate from `histogram[k]` = registers holding `k`, for `k` in
/// `0..=q + 1` where `q = 64 - p`, and `m` registers.
pub(crate) fn estimate(histogram: &[u32], m: usize) -> f64 {
    let q = histogram.len() - 2;
    let m = m as f64;
    // `(m - C) / m` rather than `1 - C / m`: the same value, computed as
    // Redis' hllCount does, so Redis-mode counts equal PFCOUNT to the bit.
    let mut z = m * tau((m - f64::from(histogram[q + 1])) / m);
    for k in (1..=q).rev() {
        z = 0.5 * (z + f64::from(histogram[k]));
    }
    z += m * sigma(f64::from(histogram[0]) / m);
    ALPHA_INF * m * m / z
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_sketch_estimates_zero() {
        let mut h = vec![0u32; 52];
        h[0] = 4096;
        assert_eq!(estimate(&h, 4096), 0.0);
    }

    #[test]
    fn sigma_and_tau_match_their_series() {
        // σ(0.5) = 0.5 + 0.25 + 2 * 0.0625 + 4 * 0.00390625 + ...
        let direct: f64 = 0.5
            + (1..20)
                .map(|k| 0.5f64.powi(1 << k) * 2f64.powi(k - 1))
                .sum::<f64>();
        assert!((sigma(0.5) - direct).abs() < 1e-12);
        let direct_tau = (1.0
            - 0.5
            - (1..60)
                .map(|k| (1.0 - 0.5f64.powf(2f64.powi(-k))).powi(2) * 2f64.powi(-k))
                .sum::<f64>())
            / 3.0;
        assert!((tau(0.5) - direct_tau).abs() < 1e-12);
    }
}
