//! `inspect`: the store's files explained, as RocksDB's `ldb manifest_dump`
//! and `sst_dump --show_properties` explain theirs: for `lsm` the manifest,
//! the logs, every table per level and the blob files; for `btree` both
//! meta pages, the tree's depth and its pages by kind.
//!
//! It runs on the read-only open every reading command uses and writes
//! nothing. On a damaged store it prints what it could read, names what it
//! could not, and exits 1; a store that does not open at all is described
//! by its directory listing and the reason it did not open.

use std::io::Write;
use std::path::Path;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::cli::EncodingArgs;
use crate::codec::Encoding;
use crate::engine::Engine;
use crate::{Error, Result};

/// What an engine's files hold ([`Engine::inspect`]).
#[derive(Clone, Debug)]
pub enum Inspection {
    /// An `lsm` store; with the published manifest it was read from, for
    /// a reader of a remote store (`--db s3://...`).
    Lsm(lsm::StoreDescription, Option<Published>),
    /// A `btree` store.
    Btree(btree::Description),
}

/// The published manifest a remote reader's view comes from.
#[derive(Clone, Debug)]
pub struct Published {
    /// Where it is: `s3://bucket/prefix/manifest/NNNNNNNNNNNNNNNNNNNN`.
    pub location: String,
    /// Its number.
    pub number: u64,
    /// The epoch of the writer that published it.
    pub writer_epoch: u64,
}

/// Output format of `inspect`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum InspectFormat {
    /// Aligned lines for people; sizes in binary units with exact bytes.
    #[default]
    Text,
    /// One JSON document (field names in the README, section "inspect").
    Json,
}

/// Arguments of `inspect`.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = InspectFormat::Text)]
    pub format: InspectFormat,
    /// Print table key ranges in hex (text output).
    #[arg(long, conflicts_with = "base64")]
    pub hex: bool,
    /// Print table key ranges in base64 (text output).
    #[arg(long)]
    pub base64: bool,
}

impl InspectArgs {
    /// How keys are printed in text output, as `scan` prints them.
    pub fn encoding(&self) -> Encoding {
        EncodingArgs {
            hex: self.hex,
            base64: self.base64,
        }
        .encoding()
    }
}

impl Inspection {
    /// What could not be read: each names its file or page. Empty when the
    /// store is whole as far as inspect looked.
    pub fn problems(&self) -> Vec<String> {
        match self {
            Inspection::Lsm(d, _) => d.problems.clone(),
            Inspection::Btree(d) => {
                let mut p: Vec<String> = d
                    .meta_pages
                    .iter()
                    .filter_map(|m| {
                        m.problem.map(|problem| {
                            format!("{} meta page {}: {problem}", d.path.display(), m.slot)
                        })
                    })
                    .collect();
                if let Err(e) = &d.stats {
                    p.push(format!("page walk stopped: {e}"));
                }
                if let Err(e) = &d.tables {
                    p.push(format!("table catalogue not read: {e}"));
                }
                if let Err(e) = &d.savepoints {
                    p.push(format!("persistent savepoints not read: {e}"));
                }
                p
            }
        }
    }

    /// The JSON document `inspect --format json` prints.
    pub fn to_json(&self) -> Value {
        match self {
            Inspection::Lsm(d, p) => lsm_json(d, p.as_ref()),
            Inspection::Btree(d) => btree_json(d),
        }
    }

    /// The text `inspect` prints, keys encoded with `enc`.
    pub fn to_text(&self, enc: Encoding) -> String {
        match self {
            Inspection::Lsm(d, p) => lsm_text(d, p.as_ref(), enc),
            Inspection::Btree(d) => btree_text(d),
        }
    }
}

/// Runs `inspect` on an open engine.
///
/// # Errors
///
/// [`Error::InspectFoundDamage`] (exit 1) after printing, when something
/// could not be read; the engine's error if it could not describe itself.
pub(crate) fn run(engine: &dyn Engine, args: &InspectArgs, out: &mut dyn Write) -> Result<()> {
    let inspection = engine.inspect()?;
    let problems = inspection.problems();
    let w = |r: std::io::Result<()>| r.map_err(Error::Output);
    match args.format {
        InspectFormat::Json => {
            let mut doc = inspection.to_json();
            doc["opened"] = json!(true);
            w(writeln!(out, "{doc}"))?;
        }
        InspectFormat::Text => {
            w(write!(out, "{}", inspection.to_text(args.encoding())))?;
            for p in &problems {
                w(writeln!(out, "damaged: {p}"))?;
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::InspectFoundDamage {
            count: problems.len(),
        })
    }
}

/// `inspect` of a store the engine refused to open (`open_error`, damage):
/// lists the directory's files with their sizes and says why it did not
/// open.
///
/// # Errors
///
/// [`Error::InspectFoundDamage`] (exit 1) after printing; an I/O error
/// listing the directory.
pub(crate) fn run_unopened(
    dir: &Path,
    open_error: &Error,
    args: &InspectArgs,
    out: &mut dyn Write,
) -> Result<()> {
    let mut files = Vec::new();
    list_files(dir, dir, &mut files)?;
    files.sort();
    let engine = std::fs::read_to_string(dir.join(crate::store::MARKER_FILE))
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    // A btree file the engine refused may still show its meta pages.
    let metas = (engine == "btree")
        .then(|| {
            let fs = vfs::OsFs::new();
            let path = dir.join(crate::btree_engine::FILE_NAME);
            let page_size_bytes = btree::Options::default().page_size_bytes;
            let mut metas = btree::describe_meta_pages(&fs, &path, page_size_bytes).ok()?;
            // The engine refused the file: no page is the one it opened.
            for m in &mut metas {
                m.current = false;
            }
            Some(metas)
        })
        .flatten();
    let w = |r: std::io::Result<()>| r.map_err(Error::Output);
    match args.format {
        InspectFormat::Json => {
            let mut doc = json!({
                "engine": engine,
                "dir": dir.display().to_string(),
                "opened": false,
                "open_error": open_error.to_string(),
                "files": files
                    .iter()
                    .map(|(name, size)| json!({"name": name, "size_bytes": size}))
                    .collect::<Vec<_>>(),
                "problems": [open_error.to_string()],
            });
            if let Some(metas) = &metas {
                doc["meta_pages"] = meta_pages_json(metas);
            }
            w(writeln!(out, "{doc}"))?;
        }
        InspectFormat::Text => {
            let mut t = Text::default();
            t.line(format!("engine: {engine} ({})", dir.display()));
            t.line("the store does not open; its files:".to_string());
            let width = files.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
            for (name, size) in &files {
                t.line(format!("  {name:<width$}  {}", human(*size)));
            }
            if let Some(metas) = &metas {
                meta_pages_text(&mut t, metas);
            }
            t.line(format!("damaged: {open_error}"));
            w(write!(out, "{}", t.0))?;
        }
    }
    Err(Error::InspectFoundDamage { count: 1 })
}

/// Every file under `dir` (relative to `root`) with its size.
fn list_files(root: &Path, dir: &Path, files: &mut Vec<(String, u64)>) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        let meta = entry.metadata().map_err(|e| Error::io(&path, e))?;
        if meta.is_dir() {
            list_files(root, &path, files)?;
        } else {
            let name = path.strip_prefix(root).unwrap_or(&path);
            files.push((name.display().to_string(), meta.len()));
        }
    }
    Ok(())
}

/// `1.5 KiB (1536 bytes)`; under 1 KiB just `512 bytes`.
pub(crate) fn human(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {} ({bytes} bytes)", UNITS[unit])
}

/// A key as JSON: the string when it is UTF-8, else base64 under
/// `<name>_base64` (as `scan --format json` does).
fn key_json(obj: &mut serde_json::Map<String, Value>, name: &str, key: &[u8]) {
    match std::str::from_utf8(key) {
        Ok(s) => obj.insert(name.to_string(), s.into()),
        Err(_) => obj.insert(
            format!("{name}_base64"),
            base64::engine::general_purpose::STANDARD.encode(key).into(),
        ),
    };
}

fn lsm_json(d: &lsm::StoreDescription, published: Option<&Published>) -> Value {
    let levels: Vec<Value> = d
        .levels
        .iter()
        .map(|l| {
            let tables: Vec<Value> = l
                .tables
                .iter()
                .map(|t| {
                    let mut o = serde_json::Map::new();
                    o.insert("name".into(), t.name.clone().into());
                    o.insert("location".into(), t.location.display().to_string().into());
                    o.insert("number".into(), t.number.into());
                    o.insert("size_bytes".into(), t.size_bytes.into());
                    o.insert("entries".into(), t.entries.into());
                    o.insert("tombstones".into(), t.tombstones.into());
                    key_json(&mut o, "smallest_key", &t.smallest_key);
                    key_json(&mut o, "largest_key", &t.largest_key);
                    o.insert("smallest_seqno".into(), t.seq_min.into());
                    o.insert("largest_seqno".into(), t.seq_max.into());
                    o.insert("blocks".into(), t.blocks.into());
                    o.insert("blocks_lz4".into(), t.blocks_lz4.into());
                    o.insert("compression".into(), t.compression().into());
                    o.insert("data_bytes".into(), t.data_bytes.into());
                    o.insert("index_bytes".into(), t.index_bytes.into());
                    let filter = if t.filter_bytes == 0 {
                        Value::Null
                    } else {
                        json!({
                            "kind": "blocked-bloom",
                            "size_bytes": t.filter_bytes,
                            "bits_per_key": round2(t.filter_bits_per_key()),
                        })
                    };
                    o.insert("filter".into(), filter);
                    Value::Object(o)
                })
                .collect();
            json!({
                "level": l.level,
                "table_count": l.tables.len(),
                "size_bytes": l.size_bytes(),
                "entries": l.entries(),
                "tables": tables,
            })
        })
        .collect();
    let all = d.levels.iter().flat_map(|l| &l.tables);
    let blobs = d.blobs.as_ref().map_or(Value::Null, |b| {
        json!({
            "data_shards": b.data_shards,
            "parity_shards": b.parity_shards,
            "files": b.files.iter().map(|f| json!({
                "id": f.id,
                "values": f.values,
                "value_bytes": f.value_bytes,
                "live_values": f.live_values,
                "live_bytes": f.live_bytes,
                "garbage_bytes": f.garbage_bytes,
                "shard_files": f.shard_files,
                "size_bytes": f.size_bytes,
            })).collect::<Vec<_>>(),
        })
    });
    json!({
        "engine": "lsm",
        "dir": d.dir.display().to_string(),
        "manifest": d.manifest.as_ref().map_or(Value::Null, |m| json!({
            "name": m.name,
            "number": m.number,
            "size_bytes": m.size_bytes,
            "edits": m.edits,
        })),
        "published_manifest": published.map_or(Value::Null, |p| json!({
            "location": p.location,
            "number": p.number,
            "writer_epoch": p.writer_epoch,
        })),
        "next_file_number": d.next_file_number,
        "last_sequence": d.last_seq,
        "log_number": d.log_number,
        "memtable_entries": d.memtable_entries,
        "logs": d.logs.iter().map(|l| json!({
            "name": l.name,
            "number": l.number,
            "size_bytes": l.size_bytes,
            "live": l.live,
            "records": l.records,
            "torn_at": l.torn_at,
        })).collect::<Vec<_>>(),
        "levels": levels,
        "totals": {
            "table_count": all.clone().count(),
            "size_bytes": all.clone().map(|t| t.size_bytes).sum::<u64>(),
            "entries": all.map(|t| t.entries).sum::<u64>(),
        },
        "blobs": blobs,
        "problems": d.problems,
    })
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Lines of `label: value`, the labels padded so the values line up.
#[derive(Default)]
struct Text(String);

impl Text {
    fn line(&mut self, s: String) {
        self.0.push_str(&s);
        self.0.push('\n');
    }

    fn fields(&mut self, indent: &str, fields: &[(&str, String)]) {
        let width = fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
        for (k, v) in fields {
            self.line(format!("{indent}{:<width$} {v}", format!("{k}:")));
        }
    }
}

fn lsm_text(d: &lsm::StoreDescription, published: Option<&Published>, enc: Encoding) -> String {
    let mut t = Text::default();
    t.line(format!("engine: lsm ({})", d.dir.display()));
    let manifest = match (&d.manifest, published) {
        (_, Some(p)) => format!(
            "{} (published, writer epoch {}; read-only view)",
            p.location, p.writer_epoch
        ),
        (Some(m), None) => format!(
            "{}, {}, {} edit(s)",
            m.name,
            human(m.size_bytes),
            m.edits.map_or("?".to_string(), |n| n.to_string())
        ),
        (None, None) => "none (no store written yet)".to_string(),
    };
    t.fields(
        "",
        &[
            ("manifest", manifest),
            ("next file number", d.next_file_number.to_string()),
            ("last sequence", d.last_seq.to_string()),
            ("log number", d.log_number.to_string()),
            (
                "memtable",
                format!("{} entries replayed from the logs", d.memtable_entries),
            ),
        ],
    );
    t.line(format!("write-ahead logs: {}", d.logs.len()));
    for l in &d.logs {
        let mut s = format!(
            "  {}  {}  {}, {} record(s)",
            l.name,
            if l.live { "live    " } else { "obsolete" },
            human(l.size_bytes),
            l.records.map_or("?".to_string(), |n| n.to_string())
        );
        if let Some(at) = l.torn_at {
            s += &format!(", torn tail at offset {at} (dropped)");
        }
        t.line(s);
    }
    for l in d.levels.iter().filter(|l| !l.tables.is_empty()) {
        t.line(format!(
            "level {}: {} table(s), {}, {} entries",
            l.level,
            l.tables.len(),
            human(l.size_bytes()),
            l.entries()
        ));
        for tb in &l.tables {
            t.line(format!("  {}  {}", tb.name, human(tb.size_bytes)));
            let filter = if tb.filter_bytes == 0 {
                "none".to_string()
            } else {
                format!(
                    "blocked bloom, {}, {:.1} bits/key",
                    human(tb.filter_bytes),
                    tb.filter_bits_per_key()
                )
            };
            t.fields(
                "    ",
                &[
                    (
                        "entries",
                        format!("{} ({} deletions)", tb.entries, tb.tombstones),
                    ),
                    (
                        "keys",
                        format!(
                            "{} .. {}",
                            enc.encode(&tb.smallest_key),
                            enc.encode(&tb.largest_key)
                        ),
                    ),
                    ("seqnos", format!("{} .. {}", tb.seq_min, tb.seq_max)),
                    (
                        "blocks",
                        format!(
                            "{} ({} lz4), data {}, index {}",
                            tb.blocks,
                            tb.blocks_lz4,
                            human(tb.data_bytes),
                            human(tb.index_bytes)
                        ),
                    ),
                    ("compression", tb.compression().to_string()),
                    ("location", tb.location.display().to_string()),
                    ("filter", filter),
                ],
            );
        }
    }
    let all: Vec<_> = d.levels.iter().flat_map(|l| &l.tables).collect();
    t.line(format!(
        "tables: {}, {}, {} entries",
        all.len(),
        human(all.iter().map(|x| x.size_bytes).sum()),
        all.iter().map(|x| x.entries).sum::<u64>()
    ));
    match &d.blobs {
        None => t.line("blob files: none".to_string()),
        Some(b) => {
            t.line(format!(
                "blob files: {} (erasure code k={} + m={})",
                b.files.len(),
                b.data_shards,
                b.parity_shards
            ));
            for f in &b.files {
                t.line(format!(
                    "  blob {} ({}.shard)  {}, {} shard file(s)",
                    f.id,
                    erasure_id(f.id),
                    human(f.size_bytes),
                    f.shard_files
                ));
                t.fields(
                    "    ",
                    &[
                        ("values", format!("{}, {}", f.values, human(f.value_bytes))),
                        (
                            "live",
                            format!("{}, {}", f.live_values, human(f.live_bytes)),
                        ),
                        ("garbage", human(f.garbage_bytes)),
                    ],
                );
            }
        }
    }
    t.0
}

/// A blob id as its shard files name it.
fn erasure_id(id: u64) -> String {
    format!("{id:016x}")
}

fn btree_json(d: &btree::Description) -> Value {
    let current = d.meta_pages.iter().find(|m| m.current);
    let tree = match &d.stats {
        Ok(s) => json!({
            "entries": s.entries,
            "depth": s.height,
            "page_count": s.page_count,
            "pages": {
                "branch": s.branch_pages,
                "leaf": s.leaf_pages,
                "overflow": s.overflow_pages,
                "free_tree": s.free_tree_pages,
                "free": s.free_pages,
                "tables": s.table_pages,
                "savepoint_tree": s.savepoint_pages,
            },
            "fill_factor": round2(s.fill_factor),
        }),
        Err(_) => Value::Null,
    };
    json!({
        "engine": "btree",
        "file": d.path.display().to_string(),
        "file_size_bytes": d.file_size_bytes,
        "page_size_bytes": d.page_size_bytes,
        "format_version": current.and_then(|m| m.format_version),
        "meta_pages": meta_pages_json(&d.meta_pages),
        "tree": tree,
        "tables": d.tables.as_ref().ok().map(|ts| ts.iter().map(|t| json!({
            "name": t.name,
            "multimap": t.multimap,
            "entries": t.entries,
            "root_page": t.root_page,
        })).collect::<Vec<_>>()),
        "persistent_savepoints": d.savepoints.as_ref().ok().map(|ss| ss.iter().map(|sp| json!({
            "id": sp.id,
            "txn": sp.txn,
            "entries": sp.entries,
            "root_page": sp.root_page,
            "catalog_root_page": sp.catalog_root_page,
            "page_count": sp.page_count,
        })).collect::<Vec<_>>()),
        "problems": Inspection::Btree(d.clone()).problems(),
    })
}

fn meta_pages_json(metas: &[btree::MetaPageDescription]) -> Value {
    metas
        .iter()
        .map(|m| {
            json!({
                "slot": m.slot,
                "current": m.current,
                "valid": m.problem.is_none(),
                "problem": m.problem.map(|p| p.to_string()),
                "format_version": m.format_version,
                "txn": m.txn,
                "root_page": m.root_page,
                "free_root_page": m.free_root_page,
                "catalog_root_page": m.catalog_root_page,
                "savepoint_root_page": m.savepoint_root_page,
                "page_count": m.page_count,
                "entry_count": m.entry_count,
            })
        })
        .collect()
}

fn meta_pages_text(t: &mut Text, metas: &[btree::MetaPageDescription]) {
    let page = |p: Option<u64>| p.map_or("none".to_string(), |p| p.to_string());
    for m in metas {
        let state = match (&m.problem, m.current) {
            (None, true) => "valid, current".to_string(),
            (None, false) => "valid, not current".to_string(),
            (Some(p), _) => format!("INVALID: {p}"),
        };
        t.line(format!("meta page {}: {state}", m.slot));
        t.fields(
            "  ",
            &[
                ("txn", m.txn.to_string()),
                ("root page", page(m.root_page)),
                ("free-tree root", page(m.free_root_page)),
                ("table catalogue root", page(m.catalog_root_page)),
                ("savepoint tree root", page(m.savepoint_root_page)),
                ("page count", m.page_count.to_string()),
                ("entries", m.entry_count.to_string()),
            ],
        );
    }
}

fn btree_text(d: &btree::Description) -> String {
    let mut t = Text::default();
    t.line(format!("engine: btree ({})", d.path.display()));
    let current = d.meta_pages.iter().find(|m| m.current);
    t.fields(
        "",
        &[
            ("file size", human(d.file_size_bytes)),
            ("page size", human(u64::from(d.page_size_bytes))),
            (
                "format version",
                current
                    .and_then(|m| m.format_version)
                    .map_or("?".to_string(), |v| v.to_string()),
            ),
        ],
    );
    meta_pages_text(&mut t, &d.meta_pages);
    match &d.stats {
        Ok(s) => {
            t.line("tree (the current commit):".to_string());
            let pages_bytes = |n: u64| human(n.saturating_mul(u64::from(s.page_size_bytes)));
            t.fields(
                "  ",
                &[
                    ("entries", s.entries.to_string()),
                    ("depth", s.height.to_string()),
                    (
                        "branch pages",
                        format!("{}, {}", s.branch_pages, pages_bytes(s.branch_pages)),
                    ),
                    (
                        "leaf pages",
                        format!("{}, {}", s.leaf_pages, pages_bytes(s.leaf_pages)),
                    ),
                    (
                        "overflow pages",
                        format!("{}, {}", s.overflow_pages, pages_bytes(s.overflow_pages)),
                    ),
                    ("free-tree pages", s.free_tree_pages.to_string()),
                    (
                        "named-table pages",
                        format!("{} in {} tables", s.table_pages, s.tables),
                    ),
                    (
                        "savepoint-tree pages",
                        format!("{} for {} savepoints", s.savepoint_pages, s.savepoints),
                    ),
                    (
                        "free pages",
                        format!("{}, {}", s.free_pages, pages_bytes(s.free_pages)),
                    ),
                    ("pages in use", s.page_count.to_string()),
                    (
                        "fill factor",
                        format!("{:.0}% of branch and leaf bytes", s.fill_factor * 100.0),
                    ),
                ],
            );
        }
        Err(_) => t.line("tree: not described (see below)".to_string()),
    }
    let page = |p: Option<u64>| p.map_or("none".to_string(), |p| format!("page {p}"));
    match &d.tables {
        Ok(tables) if tables.is_empty() => t.line("named tables: none".to_string()),
        Ok(tables) => {
            t.line(format!("named tables: {}", tables.len()));
            for tb in tables {
                let kind = if tb.multimap { "multimap" } else { "plain" };
                t.line(format!(
                    "  {:?}: {kind}, {} entries, root {}",
                    tb.name,
                    tb.entries,
                    page(tb.root_page)
                ));
            }
        }
        Err(_) => t.line("named tables: not read (see below)".to_string()),
    }
    match &d.savepoints {
        Ok(sps) if sps.is_empty() => t.line("persistent savepoints: none".to_string()),
        Ok(sps) => {
            t.line(format!("persistent savepoints: {}", sps.len()));
            for sp in sps {
                t.line(format!(
                    "  {}: keeps commit {}, {} entries in the default table, root {}, catalogue {}, {} pages",
                    sp.id,
                    sp.txn,
                    sp.entries,
                    page(sp.root_page),
                    page(sp.catalog_root_page),
                    sp.page_count
                ));
            }
        }
        Err(_) => t.line("persistent savepoints: not read (see below)".to_string()),
    }
    t.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes_keep_the_exact_bytes() {
        assert_eq!(human(0), "0 bytes");
        assert_eq!(human(1023), "1023 bytes");
        assert_eq!(human(1536), "1.5 KiB (1536 bytes)");
        assert_eq!(human(3 << 20), "3.0 MiB (3145728 bytes)");
    }
}
