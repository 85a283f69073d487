#![allow(
    clippy::print_stdout,
    reason = "the accuracy table is printed for the README; run with --nocapture"
)]

//! Accuracy against theory, with fixed seeds: relative RMSE under
//! 1.10 × 1.04/√m and bias under 0.3 × 1.04/√m at every cardinality.

use hyperloglog::HyperLogLog;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Cardinalities from 1 to `max`, about five per decade.
fn checkpoints(max: u64) -> Vec<u64> {
    let mut out = Vec::new();
    let mut n = 1.0f64;
    while (n as u64) <= max {
        let c = n.round() as u64;
        if out.last() != Some(&c) {
            out.push(c);
        }
        n *= 10f64.powf(0.2);
    }
    out
}

/// Relative errors at each checkpoint for `runs` independent hash streams.
fn errors(precision: u8, max: u64, runs: u64) -> Vec<(u64, f64, f64)> {
    let points = checkpoints(max);
    let mut sum = vec![0.0; points.len()];
    let mut sum_sq = vec![0.0; points.len()];
    for run in 0..runs {
        let mut rng = SmallRng::seed_from_u64(0x5EED_0000 + run);
        let mut sketch = HyperLogLog::new(precision).unwrap();
        let mut inserted = 0;
        for (i, &n) in points.iter().enumerate() {
            while inserted < n {
                // Random 64-bit values stand for the hashes of distinct items.
                sketch.insert_hash(rng.random());
                inserted += 1;
            }
            let e = sketch.estimate() / n as f64 - 1.0;
            sum[i] += e;
            sum_sq[i] += e * e;
        }
    }
    points
        .iter()
        .enumerate()
        .map(|(i, &n)| (n, sum[i] / runs as f64, (sum_sq[i] / runs as f64).sqrt()))
        .collect()
}

fn check(precision: u8, max: u64, runs: u64) {
    let theory = 1.04 / ((1u64 << precision) as f64).sqrt();
    for (n, bias, rmse) in errors(precision, max, runs) {
        println!(
            "p={precision} n={n:>9}: bias {bias:+.5} rmse {rmse:.5} (1.04/sqrt(m) = {theory:.5})"
        );
        assert!(
            rmse < 1.10 * theory,
            "p={precision} n={n}: rmse {rmse} >= 1.10 x {theory}"
        );
        assert!(
            bias.abs() < 0.3 * theory,
            "p={precision} n={n}: bias {bias} >= 0.3 x {theory}"
        );
    }
}

#[test]
fn error_stays_within_theory_up_to_a_million() {
    for precision in [10, 12, 14] {
        check(precision, 1_000_000, 250);
    }
}

/// The full range the issue names, 1 to 10,000,000 (about a minute).
#[test]
#[ignore]
fn error_stays_within_theory_up_to_ten_million() {
    for precision in [10, 12, 14] {
        check(precision, 10_000_000, 250);
    }
}
