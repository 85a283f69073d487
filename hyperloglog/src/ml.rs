//! The maximum-likelihood estimator of UltraLogLog's registers.
//!
//! Under the Poisson model (the count `n` itself Poisson, which changes
//! nothing measurable) each register sees each update value `k`
//! independently with probability `1 - exp(-λ ρ_k)`, where `λ = n / m` and
//! `ρ_k = 2^-k` for `k <= q = 64 - p`, `ρ_{q+1} = 2^-q`. A register with
//! largest value `u` and history bits for `u - 1`, `u - 2` says: no value
//! above `u` (rates summing to `2^-u`, or 0 when `u = q + 1`), `u` seen,
//! and `u - 1`, `u - 2` seen or not. The log-likelihood of all registers is
//!
//! ```text
//! ln L(λ) = -λ A + Σ_e C_e ln(1 - exp(-λ 2^-e))
//! ```
//!
//! with `A` the summed rates of the values known unseen and `C_e` the
//! number of seen values of rate `2^-e`. It is concave; its maximum solves
//! `g(λ) = Σ_e C_e 2^-e / (exp(λ 2^-e) - 1) - A = 0`, where `g` is convex
//! and decreasing. As `1/x - ρ/2 <= ρ / (exp(λρ) - 1) <= 1/x`, the root lies
//! in `[C / (A + Σ_e C_e 2^-e / 2), C / A]` with `C = Σ_e C_e`; Newton's
//! method from the lower end climbs to it without overshooting.

/// Estimates the count from `histogram[r]` = registers holding byte `r`,
/// at precision `p`.
pub(crate) fn estimate(histogram: &[u32; 256], p: u8) -> f64 {
    let q = 64 - u32::from(p);
    let m: u32 = histogram.iter().sum();
    // Rate 2^-e for e = min(k, q).
    let exponent = |k: u32| k.min(q) as usize;
    let mut unseen = 0.0f64; // A
    let mut seen = [0u64; 65]; // C_e
    for (register, &count) in histogram.iter().enumerate() {
        if count == 0 {
            continue;
        }
        let count = u64::from(count);
        let u = (register >> 2) as u32;
        if u == 0 {
            unseen += count as f64;
            continue;
        }
        if u <= q {
            unseen += count as f64 * rate(u);
        }
        seen[exponent(u)] += count;
        for (below, bit) in [(1u32, 2usize), (2, 1)] {
            if u > below {
                let k = u - below;
                if register & bit != 0 {
                    seen[exponent(k)] += count;
                } else {
                    unseen += count as f64 * rate(exponent(k) as u32);
                }
            }
        }
    }
    f64::from(m) * solve(unseen, &seen)
}

fn rate(e: u32) -> f64 {
    f64::powi(0.5, e as i32)
}

/// The root of `g(λ) = Σ_e seen[e] 2^-e / (exp(λ 2^-e) - 1) - unseen`.
fn solve(unseen: f64, seen: &[u64; 65]) -> f64 {
    let total: u64 = seen.iter().sum();
    if total == 0 {
        return 0.0;
    }
    if unseen == 0.0 {
        return f64::INFINITY;
    }
    let total = total as f64;
    let half_rates: f64 = seen
        .iter()
        .enumerate()
        .map(|(e, &c)| c as f64 * rate(e as u32) / 2.0)
        .sum();
    let (low, high) = (total / (unseen + half_rates), total / unseen);
    let mut lambda = low;
    for _ in 0..100 {
        let (mut g, mut slope) = (-unseen, 0.0);
        for (e, &c) in seen.iter().enumerate() {
            if c == 0 {
                continue;
            }
            let (c, r) = (c as f64, rate(e as u32));
            let y = lambda * r;
            g += c * r / y.exp_m1();
            // d/dλ r / (e^(λr) - 1) = -r² e^y / (e^y - 1)² = -r² / (4 sinh²(y/2))
            slope -= c * r * r / (4.0 * (y / 2.0).sinh().powi(2));
        }
        if g <= 0.0 || slope >= 0.0 {
            break;
        }
        let next = (lambda - g / slope).min(high);
        if next - lambda <= lambda * 1e-14 {
            lambda = next;
            break;
        }
        lambda = next;
    }
    lambda
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_solves_the_likelihood_equation() {
        let mut seen = [0u64; 65];
        seen[3] = 700;
        seen[4] = 500;
        seen[5] = 200;
        seen[9] = 3;
        let unseen = 90.0;
        let lambda = solve(unseen, &seen);
        let g: f64 = seen
            .iter()
            .enumerate()
            .map(|(e, &c)| c as f64 * rate(e as u32) / (lambda * rate(e as u32)).exp_m1())
            .sum::<f64>()
            - unseen;
        assert!(g.abs() < 1e-9 * unseen, "g(λ) = {g}");
    }

    #[test]
    fn an_empty_sketch_estimates_zero_and_a_full_one_infinity() {
        let mut histogram = [0u32; 256];
        histogram[0] = 1024;
        assert_eq!(estimate(&histogram, 10), 0.0);
        let mut full = [0u32; 256];
        full[(55 << 2) | 3] = 1024; // u = q + 1 = 55 at p = 10, both below seen
        assert_eq!(estimate(&full, 10), f64::INFINITY);
    }

    /// The published constant, recomputed: the Fisher information of one
    /// register's state `(u, seen(u - 1), seen(u - 2))` under the Poisson
    /// model, averaged over a period of log2 λ, gives the ML estimator's
    /// asymptotic relative variance `0.5789 / m` (Ertl: MVP 4.631 bits).
    #[test]
    fn cramer_rao_bound_is_the_published_constant() {
        fn information(lambda: f64) -> f64 {
            let inv_expm1 = |y: f64| if y > 700.0 { 0.0 } else { 1.0 / y.exp_m1() };
            // u = 0: score -1 (every rate unseen), probability e^-λ.
            let mut total = (-lambda).exp();
            for u in 1..70 {
                let r = rate(u);
                let base = (-lambda * r).exp() * -(-lambda * r).exp_m1();
                let score_u = -r + r * inv_expm1(lambda * r);
                // The history bits: each seen (probability 1 - e^-λρ) or not.
                let mut outcomes = vec![(1.0, 0.0)];
                for d in 1..=2 {
                    if u > d {
                        let rk = rate(u - d);
                        let p_seen = -(-lambda * rk).exp_m1();
                        outcomes = outcomes
                            .iter()
                            .flat_map(|&(p, s)| {
                                [
                                    (p * p_seen, s + rk * inv_expm1(lambda * rk)),
                                    (p * (1.0 - p_seen), s - rk),
                                ]
                            })
                            .collect();
                    }
                }
                for (p, s) in outcomes {
                    total += base * p * (score_u + s).powi(2);
                }
            }
            total
        }
        let steps = 64;
        let variance: f64 = (0..steps)
            .map(|i| {
                let lambda = 2f64.powf(10.0 + f64::from(i) / f64::from(steps));
                1.0 / (lambda * lambda * information(lambda))
            })
            .sum::<f64>()
            / f64::from(steps);
        assert!(
            (variance - 0.5789).abs() < 0.0005,
            "variance × m = {variance}"
        );
        assert!((8.0 * variance - 4.631).abs() < 0.005);
    }
}
