//! The erasure workload: coding throughput for the usual layouts, the store
//! end to end, and the time to rebuild a lost directory.

use std::hint::black_box;
use std::sync::Arc;

use super::structures::ns_per_op;
use super::{Cell, Context, Plot, Section, Series, Table};
use crate::SplitMix64;

fn blob(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = SplitMix64::new(seed);
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

/// GiB/s for `bytes` processed in `ns` nanoseconds.
fn gib_s(bytes: usize, ns: f64) -> f64 {
    bytes as f64 / ns * 1e9 / (1u64 << 30) as f64
}

pub(super) fn erasure(context: &Context, progress: &mut dyn FnMut(&str)) -> Section {
    use erasure::{BlobStore, Codec, Options};
    let scale = context.scale;
    progress("erasure: encode and decode throughput");
    let layouts = [(4usize, 2usize), (6, 3), (10, 4), (17, 3)];
    let stripe = scale.pick(64 << 10, 1 << 20, 1 << 20);
    let reps = scale.pick(4u64, 100, 400);
    let data = blob(stripe, 1);
    let mut rows = Vec::new();
    let mut encode_points = Vec::new();
    let mut decode_points = Vec::new();
    for (i, (k, m)) in layouts.into_iter().enumerate() {
        let Ok(codec) = Codec::new(k, m) else {
            continue;
        };
        let encode_ns = ns_per_op(reps, || {
            for _ in 0..reps {
                black_box(codec.encode(&data).expect("encodes"));
            }
        });
        let shards = codec.encode(&data).expect("encodes");
        // The worst case: the first m data shards lost.
        let degraded: Vec<_> = shards
            .iter()
            .enumerate()
            .map(|(i, s)| (i >= m).then(|| s.clone()))
            .collect();
        let decode_ns = ns_per_op(reps, || {
            for _ in 0..reps {
                black_box(codec.decode(&degraded).expect("decodes"));
            }
        });
        let (e, d) = (gib_s(stripe, encode_ns), gib_s(stripe, decode_ns));
        let name = format!("RS({k},{m})");
        encode_points.push(((i + 1) as f64, e));
        decode_points.push(((i + 1) as f64, d));
        rows.push(vec![
            Cell::Text(name),
            Cell::Num(100.0 * m as f64 / k as f64),
            Cell::Num(e),
            Cell::Num(d),
        ]);
    }

    progress("erasure: store put, get, and rebuilding a lost directory");
    let root = context.data_dir.join("erasure");
    let _ = std::fs::remove_dir_all(&root);
    let (k, m) = (4, 2);
    let dirs: Vec<_> = (0..k + m).map(|i| root.join(format!("d{i}"))).collect();
    let fs: Arc<dyn vfs::Fs> = Arc::new(vfs::OsFs::new());
    let options = Options {
        data_shards: k,
        parity_shards: m,
        stripe_size_bytes: 1 << 20,
    };
    let blobs = scale.pick(2usize, 16, 64);
    let size = scale.pick(256 << 10, 8 << 20, 8 << 20);
    let mut store_rows = Vec::new();
    if let Ok(store) = BlobStore::open_with_fs(fs.clone(), &dirs, options) {
        let payloads: Vec<Vec<u8>> = (0..blobs).map(|i| blob(size, i as u64 + 10)).collect();
        let mut ids = Vec::new();
        let t = std::time::Instant::now();
        for p in &payloads {
            ids.push(store.put(p).expect("put"));
        }
        let put_s = t.elapsed().as_secs_f64();
        let t = std::time::Instant::now();
        for id in &ids {
            black_box(store.get(*id).expect("get"));
        }
        let get_s = t.elapsed().as_secs_f64();
        let total = (blobs * size) as f64 / (1u64 << 30) as f64;
        store_rows.push(vec![
            "put (each synced)".into(),
            (put_s * 1e3).into(),
            (total / put_s).into(),
        ]);
        store_rows.push(vec![
            "get, healthy".into(),
            (get_s * 1e3).into(),
            (total / get_s).into(),
        ]);
        // Lose a whole directory, then scrub it back.
        let _ = std::fs::remove_dir_all(&dirs[0]);
        let t = std::time::Instant::now();
        for id in &ids {
            black_box(store.get(*id).expect("get with a directory lost"));
        }
        let degraded_s = t.elapsed().as_secs_f64();
        store_rows.push(vec![
            "get, one directory lost".into(),
            (degraded_s * 1e3).into(),
            (total / degraded_s).into(),
        ]);
        let t = std::time::Instant::now();
        let report = store.scrub().expect("scrub");
        let scrub_s = t.elapsed().as_secs_f64();
        assert!(report.blobs_lost.is_empty(), "scrub lost blobs");
        store_rows.push(vec![
            format!(
                "scrub: rebuild the lost directory ({} shards)",
                report.shards_repaired
            )
            .into(),
            (scrub_s * 1e3).into(),
            (total / scrub_s).into(),
        ]);
    }
    let _ = std::fs::remove_dir_all(&root);
    Section {
        name: "erasure".into(),
        title: "Erasure-coded blobs".into(),
        notes: vec![format!(
            "reed-solomon-erasure 6 with its SIMD kernels, through the crate's `Codec` (`encode`: \
             whole data shards are the caller's bytes, parity and the padded tail are \
             written). Decoding loses the first m data shards, \
             the worst case. The store runs RS(4,2) with 1 MiB stripes on {}.",
            context.data_dir.display()
        )],
        tables: vec![
            Table {
                caption: format!(
                    "Coding throughput, {} KiB stripes (best of 3).",
                    stripe >> 10
                ),
                columns: [
                    "layout",
                    "storage overhead (%)",
                    "encode (GiB/s)",
                    "decode, m lost (GiB/s)",
                ]
                .map(String::from)
                .to_vec(),
                rows,
            },
            Table {
                caption: format!("The store end to end: {blobs} blobs of {} KiB.", size >> 10),
                columns: ["operation", "time (ms)", "throughput (GiB/s)"]
                    .map(String::from)
                    .to_vec(),
                rows: store_rows,
            },
        ],
        plots: vec![Plot {
            name: "erasure_throughput".into(),
            title: "Reed-Solomon coding throughput".into(),
            x_label: "layout, RS(k data, m parity)".into(),
            y_label: "throughput (GiB/s)".into(),
            log_x: false,
            log_y: false,
            categories: layouts
                .iter()
                .map(|(k, m)| format!("RS({k},{m})"))
                .collect(),
            series: vec![
                Series {
                    name: "encode".into(),
                    points: encode_points,
                },
                Series {
                    name: "decode, m shards lost".into(),
                    points: decode_points,
                },
            ],
        }],
    }
}
