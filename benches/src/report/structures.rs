//! The data-structure workloads: bloom, hyperloglog and ultraloglog,
//! merkle. Peers join under `--features peers`.

use std::hint::black_box;
use std::time::Instant;

use super::{Cell, Context, Plot, Section, Series, Table, Workload, thousands};
use crate::SplitMix64;

pub(super) fn workloads() -> Vec<Workload> {
    vec![
        Workload {
            name: "bloom",
            run: bloom,
            steps: 2,
        },
        Workload {
            name: "hyperloglog",
            run: hyperloglog,
            steps: 2,
        },
        Workload {
            name: "merkle",
            run: merkle,
            steps: 3,
        },
    ]
}

/// Nanoseconds per operation of `f`, which performs `ops` operations: the
/// best of three runs, so a busy moment on a shared machine does not count.
pub(super) fn ns_per_op(ops: u64, mut f: impl FnMut()) -> f64 {
    (0..3)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_nanos() as f64 / ops as f64
        })
        .fold(f64::MAX, f64::min)
}

fn keys(n: u64, seed: u64) -> Vec<[u8; 8]> {
    let mut rng = SplitMix64::new(seed);
    (0..n).map(|_| rng.next_u64().to_le_bytes()).collect()
}

fn bloom(context: &Context, progress: &mut dyn FnMut(&str)) -> Section {
    let scale = context.scale;
    use bloom::{BlockedBloomFilter, BloomFilter, CountingBloomFilter, SplitBlockBloomFilter};
    progress("bloom: false-positive rate against bits per key");
    let n = scale.pick(10_000u64, 1_000_000, 10_000_000);
    let present = keys(n, 1);
    // Distinct from `present` with overwhelming probability (64-bit keys).
    let absent = keys(n, 2);
    let fpr = |contains: &dyn Fn(&[u8]) -> bool| {
        absent.iter().filter(|k| contains(&k[..])).count() as f64 / n as f64
    };
    let bits_per_key = [4u64, 6, 8, 10, 12, 14, 16, 20];
    let mut classic = Vec::new();
    let mut blocked = Vec::new();
    let mut split = Vec::new();
    let mut theory = Vec::new();
    for &b in &bits_per_key {
        let probes = ((b as f64) * std::f64::consts::LN_2).round().max(1.0) as u32;
        let (Ok(mut c), Ok(mut k)) = (
            BloomFilter::with_bits(n * b, probes),
            BlockedBloomFilter::with_bits(n * b, probes),
        ) else {
            continue;
        };
        // Split-block filters come in whole 32-byte blocks.
        let Ok(mut s) = SplitBlockBloomFilter::with_bytes(((n * b / 8).div_ceil(32) * 32) as usize)
        else {
            continue;
        };
        for key in &present {
            c.insert(key);
            k.insert(key);
            s.insert(key);
        }
        classic.push((b as f64, fpr(&|x| c.contains(x))));
        blocked.push((b as f64, fpr(&|x| k.contains(x))));
        split.push((b as f64, fpr(&|x| s.contains(x))));
        let kf = f64::from(probes);
        theory.push((b as f64, (1.0 - (-kf / b as f64).exp()).powf(kf)));
    }
    let rows = bits_per_key
        .iter()
        .zip(&classic)
        .zip(&blocked)
        .zip(&split)
        .zip(&theory)
        .map(|((((b, c), k), s), t)| {
            vec![
                Cell::Num(*b as f64),
                Cell::Num(100.0 * c.1),
                Cell::Num(100.0 * k.1),
                Cell::Num(100.0 * s.1),
                Cell::Num(100.0 * t.1),
            ]
        })
        .collect();
    let fpr_table = Table {
        caption: format!(
            "False-positive rate, {} keys inserted, {} absent keys probed.",
            thousands(n),
            thousands(n)
        ),
        columns: [
            "bits per key",
            "classic (%)",
            "blocked (%)",
            "split-block (%)",
            "classic, theory (%)",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    };
    let fpr_plot = Plot {
        name: "bloom_fpr".into(),
        title: "Bloom filters: false-positive rate".into(),
        x_label: "bits per key".into(),
        y_label: "false-positive rate (fraction, log)".into(),
        log_x: false,
        log_y: true,
        categories: Vec::new(),
        series: vec![
            Series {
                name: "classic".into(),
                points: classic,
            },
            Series {
                name: "blocked (one 64-byte line)".into(),
                points: blocked,
            },
            Series {
                name: "split-block (Parquet)".into(),
                points: split,
            },
            Series {
                name: "classic, theory".into(),
                points: theory,
            },
        ],
    };

    progress("bloom: insert and lookup time");
    let mut speed = Vec::new();
    let mut measure = |name: &str, insert: f64, hit: f64, miss: f64| {
        speed.push(vec![name.into(), insert.into(), hit.into(), miss.into()]);
    };
    {
        let mut f = BloomFilter::with_rate(n, 0.01).expect("valid rate");
        let insert = ns_per_op(n, || present.iter().for_each(|k| f.insert(k)));
        let hit = ns_per_op(n, || {
            present.iter().for_each(|k| _ = black_box(f.contains(k)))
        });
        let miss = ns_per_op(n, || {
            absent.iter().for_each(|k| _ = black_box(f.contains(k)))
        });
        measure("classic", insert, hit, miss);
    }
    {
        let mut f = BlockedBloomFilter::with_rate(n, 0.01).expect("valid rate");
        let insert = ns_per_op(n, || present.iter().for_each(|k| f.insert(k)));
        let hit = ns_per_op(n, || {
            present.iter().for_each(|k| _ = black_box(f.contains(k)))
        });
        let miss = ns_per_op(n, || {
            absent.iter().for_each(|k| _ = black_box(f.contains(k)))
        });
        measure("blocked", insert, hit, miss);
    }
    {
        let mut f = SplitBlockBloomFilter::with_rate(n, 0.01).expect("valid rate");
        let insert = ns_per_op(n, || present.iter().for_each(|k| f.insert(k)));
        let hit = ns_per_op(n, || {
            present.iter().for_each(|k| _ = black_box(f.contains(k)))
        });
        let miss = ns_per_op(n, || {
            absent.iter().for_each(|k| _ = black_box(f.contains(k)))
        });
        measure("split-block", insert, hit, miss);
    }
    {
        let mut f = CountingBloomFilter::with_rate(n, 0.01).expect("valid rate");
        let insert = ns_per_op(n, || present.iter().for_each(|k| f.insert(k)));
        let hit = ns_per_op(n, || {
            present.iter().for_each(|k| _ = black_box(f.contains(k)))
        });
        let miss = ns_per_op(n, || {
            absent.iter().for_each(|k| _ = black_box(f.contains(k)))
        });
        measure("counting", insert, hit, miss);
    }
    #[cfg(feature = "peers")]
    {
        let mut f = fastbloom::BloomFilter::with_false_pos(0.01).expected_items(n as usize);
        let insert = ns_per_op(n, || present.iter().for_each(|k| _ = f.insert(k)));
        let hit = ns_per_op(n, || {
            present.iter().for_each(|k| _ = black_box(f.contains(k)))
        });
        let miss = ns_per_op(n, || {
            absent.iter().for_each(|k| _ = black_box(f.contains(k)))
        });
        measure("fastbloom 0.17 (peer)", insert, hit, miss);
    }
    let speed_table = Table {
        caption: format!(
            "Time per key, 8-byte keys, filters sized for {} keys at 1%, hashing included (best of 3).",
            thousands(n)
        ),
        columns: [
            "filter",
            "insert (ns)",
            "lookup, present (ns)",
            "lookup, absent (ns)",
        ]
        .map(String::from)
        .to_vec(),
        rows: speed,
    };
    Section {
        name: "bloom".into(),
        title: "Bloom filters".into(),
        notes: vec![
            "Classic and blocked filters use round(bits per key × ln 2) probes; split-block \
             filters always set 8 bits in one 32-byte block, as Parquet specifies."
                .into(),
        ],
        tables: vec![fpr_table, speed_table],
        plots: vec![fpr_plot],
    }
}

fn hyperloglog(context: &Context, progress: &mut dyn FnMut(&str)) -> Section {
    let scale = context.scale;
    use hyperloglog::{HyperLogLog, UltraLogLog};
    progress("hyperloglog: relative error against cardinality");
    let (runs, max) = scale.pick((5u64, 10_000u64), (60, 1_000_000), (250, 10_000_000));
    let p = 12u8;
    let mut points = Vec::new();
    let mut n = 1.0f64;
    while n <= max as f64 {
        let c = n.round() as u64;
        if points.last() != Some(&c) {
            points.push(c);
        }
        n *= 10f64.powf(0.25);
    }
    let mut sq_h = vec![0.0; points.len()];
    let mut sq_u = vec![0.0; points.len()];
    for run in 0..runs {
        let mut rng = SplitMix64::new(0x5EED + run);
        let mut h = HyperLogLog::new(p).expect("valid precision");
        let mut u = UltraLogLog::new(p).expect("valid precision");
        let mut inserted = 0;
        for (i, &n) in points.iter().enumerate() {
            while inserted < n {
                let hash = rng.next_u64();
                h.insert_hash(hash);
                u.insert_hash(hash);
                inserted += 1;
            }
            sq_h[i] += (h.estimate() / n as f64 - 1.0).powi(2);
            sq_u[i] += (u.estimate() / n as f64 - 1.0).powi(2);
        }
    }
    let (hll_bytes, ull_bytes) = (3072.0f64, 4096.0f64);
    let rmse = |sq: &[f64]| -> Vec<(f64, f64)> {
        points
            .iter()
            .zip(sq)
            .map(|(&n, s)| (n as f64, (s / runs as f64).sqrt()))
            .collect()
    };
    let (hll, ull) = (rmse(&sq_h), rmse(&sq_u));
    // Errors go as 1/sqrt(memory): UltraLogLog's error at HyperLogLog's bytes.
    let ull_equal: Vec<(f64, f64)> = ull
        .iter()
        .map(|&(n, e)| (n, e * (ull_bytes / hll_bytes).sqrt()))
        .collect();
    let rows = hll
        .iter()
        .zip(&ull)
        .zip(&ull_equal)
        .map(|((h, u), q)| {
            vec![
                h.0.into(),
                (100.0 * h.1).into(),
                (100.0 * u.1).into(),
                (100.0 * q.1).into(),
            ]
        })
        .collect();
    let error_table = Table {
        caption: format!(
            "Relative RMSE over {runs} seeded streams, precision {p}: HyperLogLog 3 KiB of 6-bit \
             registers, UltraLogLog 4 KiB of 8-bit registers, and UltraLogLog scaled to 3 KiB."
        ),
        columns: [
            "distinct items",
            "HyperLogLog (%)",
            "UltraLogLog (%)",
            "UltraLogLog at 3 KiB (%)",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    };
    let error_plot = Plot {
        name: "hyperloglog_error".into(),
        title: "Cardinality sketches: relative error at equal memory".into(),
        x_label: "distinct items (log)".into(),
        y_label: "relative RMSE (fraction)".into(),
        log_x: true,
        log_y: false,
        categories: Vec::new(),
        series: vec![
            Series {
                name: "HyperLogLog, 3 KiB".into(),
                points: hll,
            },
            Series {
                name: "UltraLogLog, 3 KiB (scaled from 4 KiB)".into(),
                points: ull_equal,
            },
        ],
    };

    progress("hyperloglog: insert time");
    let n = scale.pick(100_000u64, 10_000_000, 10_000_000);
    let mut speed: Vec<Vec<Cell>> = Vec::new();
    let mut h = HyperLogLog::new(14).expect("valid precision");
    speed.push(vec![
        "HyperLogLog p=14, insert_all".into(),
        ns_per_op(n, || {
            h.clear();
            h.insert_all((0..n).map(u64::to_le_bytes));
        })
        .into(),
    ]);
    speed.push(vec![
        "HyperLogLog p=14, insert".into(),
        ns_per_op(n, || {
            h.clear();
            (0..n).for_each(|k| h.insert(&k.to_le_bytes()));
        })
        .into(),
    ]);
    let mut u = UltraLogLog::new(14).expect("valid precision");
    speed.push(vec![
        "UltraLogLog p=14, insert_all".into(),
        ns_per_op(n, || {
            u.clear();
            u.insert_all((0..n).map(u64::to_le_bytes));
        })
        .into(),
    ]);
    #[cfg(feature = "peers")]
    {
        use hyperloglogplus::HyperLogLog as _;
        speed.push(vec![
            "hyperloglogplus 0.4 p=14 (peer)".into(),
            ns_per_op(n, || {
                let mut s = hyperloglogplus::HyperLogLogPlus::<u64, _>::new(
                    14,
                    std::collections::hash_map::RandomState::new(),
                )
                .expect("valid precision");
                (0..n).for_each(|k| s.insert(&k));
                black_box(&mut s);
            })
            .into(),
        ]);
    }
    Section {
        name: "hyperloglog".into(),
        title: "HyperLogLog and UltraLogLog".into(),
        notes: vec![
            "Random 64-bit values stand for the hashes of distinct items. Below about m/2 items \
             HyperLogLog is sparse (near-exact, and smaller than either dense sketch)."
                .into(),
        ],
        tables: vec![
            error_table,
            Table {
                caption: format!(
                    "Time per item, {n} distinct 8-byte items, hashing included (best of 3)."
                ),
                columns: ["sketch", "insert (ns)"].map(String::from).to_vec(),
                rows: speed,
            },
        ],
        plots: vec![error_plot],
    }
}

fn merkle(context: &Context, progress: &mut dyn FnMut(&str)) -> Section {
    let scale = context.scale;
    use merkle::{Hasher, MerkleTree, Sha256};
    progress("merkle: build time against leaves");
    let sizes: Vec<u64> = scale.pick(
        vec![1_000, 10_000],
        vec![1_000, 10_000, 100_000, 1_000_000],
        vec![1_000, 10_000, 100_000, 1_000_000, 4_000_000],
    );
    let mut build = Vec::new();
    #[cfg(feature = "peers")]
    let mut peer_build = Vec::new();
    let mut trees = Vec::new();
    for &n in &sizes {
        let hashes: Vec<[u8; 32]> = (0..n)
            .map(|i| Sha256::hash_leaf(&i.to_le_bytes()))
            .collect();
        let ms = ns_per_op(1, || {
            _ = black_box(MerkleTree::<Sha256>::from_leaf_hashes(hashes.clone()))
        }) / 1e6;
        build.push((n as f64, ms));
        #[cfg(feature = "peers")]
        {
            let ms = ns_per_op(1, || {
                _ = black_box(
                    rs_merkle::MerkleTree::<rs_merkle::algorithms::Sha256>::from_leaves(&hashes),
                )
            }) / 1e6;
            peer_build.push((n as f64, ms));
        }
        trees.push((n, MerkleTree::<Sha256>::from_leaf_hashes(hashes)));
    }
    #[allow(unused_mut, reason = "peers add a series")]
    let mut build_series = vec![Series {
        name: "merkle (ours)".into(),
        points: build.clone(),
    }];
    #[cfg(feature = "peers")]
    build_series.push(Series {
        name: "rs_merkle 1.5".into(),
        points: peer_build.clone(),
    });

    progress("merkle: proof sizes");
    let mut sizes_rows = Vec::new();
    let mut inclusion_bytes = Vec::new();
    let mut consistency_bytes = Vec::new();
    for (n, tree) in &trees {
        let inc = tree
            .inclusion_proof(n / 3, *n)
            .expect("in range")
            .to_bytes()
            .len();
        let con = tree
            .consistency_proof(n / 3 + 1, *n)
            .expect("in range")
            .to_bytes()
            .len();
        inclusion_bytes.push((*n as f64, inc as f64));
        consistency_bytes.push((*n as f64, con as f64));
        sizes_rows.push(vec![
            Cell::Num(*n as f64),
            Cell::Num(inc as f64),
            Cell::Num(con as f64),
        ]);
    }

    progress("merkle: proof generation and verification");
    let (n, tree) = trees.last().expect("at least one size");
    let root = tree.root();
    let reps = scale.pick(1_000u64, 100_000, 200_000);
    let mut rng = SplitMix64::new(9);
    let leaves: Vec<u64> = (0..reps).map(|_| rng.next_u64() % n).collect();
    let inclusion = ns_per_op(reps, || {
        for &i in &leaves {
            let proof = tree.inclusion_proof(i, *n).expect("in range");
            proof
                .verify(&Sha256::hash_leaf(&i.to_le_bytes()), &root)
                .expect("verifies");
        }
    }) / 1e3;
    let consistency = ns_per_op(reps, || {
        for &i in &leaves {
            let old = i + 1;
            let proof = tree.consistency_proof(old, *n).expect("in range");
            black_box(&proof);
        }
    }) / 1e3;
    #[allow(unused_mut, reason = "peers add a row")]
    let mut times = vec![
        vec![
            "inclusion: generate + verify (ours)".into(),
            inclusion.into(),
        ],
        vec!["consistency: generate (ours)".into(), consistency.into()],
    ];
    #[allow(unused_mut, reason = "peers add a column")]
    let mut build_rows: Vec<Vec<Cell>> = build
        .iter()
        .map(|&(n, ms)| vec![Cell::Num(n), Cell::Num(ms)])
        .collect();
    #[allow(unused_mut, reason = "peers add a column")]
    let mut build_columns = vec!["leaves".to_string(), "build, ours (ms)".to_string()];
    #[cfg(feature = "peers")]
    {
        build_columns.push("build, rs_merkle 1.5 (ms)".into());
        build_columns.push("rs_merkle / ours (×)".into());
        for (row, &(_, ms)) in build_rows.iter_mut().zip(&peer_build) {
            let ours = match row[1] {
                Cell::Num(v) => v,
                Cell::Text(_) => f64::NAN,
            };
            row.push(Cell::Num(ms));
            row.push(Cell::Num(ms / ours));
        }
    }
    #[cfg(feature = "peers")]
    {
        let hashes: Vec<[u8; 32]> = (0..*n)
            .map(|i| Sha256::hash_leaf(&i.to_le_bytes()))
            .collect();
        let peer = rs_merkle::MerkleTree::<rs_merkle::algorithms::Sha256>::from_leaves(&hashes);
        let peer_root = peer.root().expect("non-empty");
        let us = ns_per_op(reps, || {
            for &i in &leaves {
                let i = i as usize;
                let proof = peer.proof(&[i]);
                assert!(proof.verify(peer_root, &[i], &[hashes[i]], *n as usize));
            }
        }) / 1e3;
        times.push(vec![
            "inclusion: generate + verify (rs_merkle 1.5)".into(),
            us.into(),
        ]);
    }
    Section {
        name: "merkle".into(),
        title: "Merkle trees (SHA-256, RFC 9162)".into(),
        notes: vec!["Builds start from leaf hashes (rs_merkle takes only those).".into()],
        tables: vec![
            Table {
                caption: "Build time from leaf hashes (best of 3).".into(),
                columns: build_columns,
                rows: build_rows,
            },
            Table {
                caption: "Serialized proof sizes (FORMAT.md envelope included).".into(),
                columns: [
                    "leaves",
                    "inclusion proof (bytes)",
                    "consistency proof (bytes)",
                ]
                .map(String::from)
                .to_vec(),
                rows: sizes_rows,
            },
            Table {
                caption: format!(
                    "Proof time over {} leaves, random leaves (best of 3).",
                    thousands(*n)
                ),
                columns: ["operation", "time (µs)"].map(String::from).to_vec(),
                rows: times,
            },
        ],
        plots: vec![
            Plot {
                name: "merkle_build".into(),
                title: "Merkle tree build time".into(),
                x_label: "leaves (log)".into(),
                y_label: "build time (ms, log)".into(),
                log_x: true,
                log_y: true,
                categories: Vec::new(),
                series: build_series,
            },
            Plot {
                name: "merkle_proof_size".into(),
                title: "Merkle proof sizes".into(),
                x_label: "leaves (log)".into(),
                y_label: "serialized proof (bytes)".into(),
                log_x: true,
                log_y: false,
                categories: Vec::new(),
                series: vec![
                    Series {
                        name: "inclusion".into(),
                        points: inclusion_bytes,
                    },
                    Series {
                        name: "consistency".into(),
                        points: consistency_bytes,
                    },
                ],
            },
        ],
    }
}
