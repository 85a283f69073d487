//! Every damage the suite does, for every kind of file of a store: where the
//! records of a log, the edits of a manifest and the pages of a B+ tree are
//! (parsed from the bytes, following each crate's `FORMAT.md`), and the list
//! of cases built from them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::Engine;
use super::build::Built;

/// One damage to one file.
#[derive(Clone, Debug)]
pub(crate) enum Damage {
    /// Nothing: the control case.
    None,
    /// XOR one byte with 0x55.
    Flip { offset: u64 },
    /// Cut the file to `len` bytes.
    Truncate { len: u64 },
    /// Zero `len` bytes from `offset`.
    Zero { offset: u64, len: u64 },
    /// Remove the file.
    Delete,
    /// Append these bytes.
    Append { bytes: Vec<u8> },
    /// Put an older valid version of the whole file back.
    OlderCopy { bytes: Vec<u8>, step: usize },
    /// Put an older valid version of the bytes at `offset` back (a page).
    OlderRange {
        offset: u64,
        bytes: Vec<u8>,
        step: usize,
    },
}

/// One case: which file, what kind it is, what is done to it.
#[derive(Clone, Debug)]
pub(crate) struct Case {
    /// The kind of file (the table's row), e.g. `WAL (*.log)`.
    pub(crate) kind: String,
    /// The file, relative to the store directory.
    pub(crate) file: PathBuf,
    /// Where in the file, in words (`record 5 of 10`, `leaf page 7`).
    pub(crate) place: String,
    /// The damage.
    pub(crate) damage: Damage,
    /// Damage `verify` must report even though every key still reads right
    /// (the older meta page of a B+ tree: the only fallback must not rot
    /// unseen).
    pub(crate) must_report: bool,
    /// Why no format can tell this damage from an earlier healthy state, when
    /// that is so: the whole B+ tree file, or its newest meta page, put back
    /// as an older valid copy is the store as that earlier commit left it (a
    /// restored backup). A stale read then counts as a rollback, not a
    /// failure; every other outcome is judged as usual.
    pub(crate) rollback: Option<&'static str>,
}

impl Case {
    pub(crate) fn control() -> Case {
        Case {
            kind: "none (control)".to_string(),
            file: PathBuf::new(),
            place: String::new(),
            damage: Damage::None,
            must_report: false,
            rollback: None,
        }
    }

    /// The damage in words, for the report.
    pub(crate) fn what(&self) -> String {
        let d = match &self.damage {
            Damage::None => "no damage".to_string(),
            Damage::Flip { offset } => format!("flip byte {offset}"),
            Damage::Truncate { len } => format!("truncate to {len}"),
            Damage::Zero { offset, len } => format!("zero {len} bytes at {offset}"),
            Damage::Delete => "delete".to_string(),
            Damage::Append { bytes } => format!("append {} garbage bytes", bytes.len()),
            Damage::OlderCopy { step, .. } => format!("older copy (after step {step})"),
            Damage::OlderRange { offset, step, .. } => {
                format!("older copy of bytes at {offset} (after step {step})")
            }
        };
        if self.place.is_empty() {
            d
        } else {
            format!("{d} ({})", self.place)
        }
    }

    /// Applies the damage to the copy of the store in `dir`.
    pub(crate) fn apply(&self, dir: &Path) {
        let path = dir.join(&self.file);
        let read = || std::fs::read(&path).unwrap();
        match &self.damage {
            Damage::None => {}
            Damage::Flip { offset } => {
                let mut b = read();
                b[*offset as usize] ^= 0x55;
                std::fs::write(&path, b).unwrap();
            }
            Damage::Truncate { len } => {
                let mut b = read();
                b.truncate(*len as usize);
                std::fs::write(&path, b).unwrap();
            }
            Damage::Zero { offset, len } => {
                let mut b = read();
                let end = (*offset + *len).min(b.len() as u64) as usize;
                b[*offset as usize..end].fill(0);
                std::fs::write(&path, b).unwrap();
            }
            Damage::Delete => std::fs::remove_file(&path).unwrap(),
            Damage::Append { bytes } => {
                let mut b = read();
                b.extend_from_slice(bytes);
                std::fs::write(&path, b).unwrap();
            }
            Damage::OlderCopy { bytes, .. } => std::fs::write(&path, bytes).unwrap(),
            Damage::OlderRange { offset, bytes, .. } => {
                let mut b = read();
                let at = *offset as usize;
                b[at..at + bytes.len()].copy_from_slice(bytes);
                std::fs::write(&path, b).unwrap();
            }
        }
    }
}

/// Deterministic garbage.
fn garbage(len: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// The start of every logical record (`Full` or `First` fragment) of a file
/// in lsm's log format (WAL and manifest): 32 KiB blocks of fragments with
/// a 7-byte header (CRC u32, length u16, type u8).
pub(crate) fn log_record_starts(bytes: &[u8]) -> Vec<u64> {
    const BLOCK: usize = 32 * 1024;
    const HEADER: usize = 7;
    let mut starts = Vec::new();
    let mut at = 0usize;
    while at + HEADER <= bytes.len() {
        let left = BLOCK - at % BLOCK;
        if left < HEADER {
            at += left;
            continue;
        }
        let len = usize::from(u16::from_le_bytes([bytes[at + 4], bytes[at + 5]]));
        match bytes[at + 6] {
            1 | 2 => starts.push(at as u64),
            3 | 4 => {}
            _ => break,
        }
        at += HEADER + len;
    }
    starts
}

/// The pages of a B+ tree file, found by walking from the newest meta page.
#[derive(Debug, Default)]
pub(crate) struct Pages {
    pub(crate) page_size: u64,
    /// Meta slot of the newest commit, then the other one.
    pub(crate) meta_newest: u64,
    pub(crate) meta_older: u64,
    pub(crate) branches: Vec<u64>,
    pub(crate) leaves: Vec<u64>,
    pub(crate) overflow: Vec<u64>,
    pub(crate) free_tree: Vec<u64>,
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8)
        .map_or(u64::MAX, |s| u64::from_le_bytes(s.try_into().unwrap()))
}

fn u16_at(b: &[u8], at: usize) -> usize {
    b.get(at..at + 2)
        .map_or(0, |s| usize::from(u16::from_le_bytes([s[0], s[1]])))
}

/// Walks the btree file (`btree/FORMAT.md`, version 1).
pub(crate) fn btree_pages(file: &[u8]) -> Pages {
    let page_size = u64::from(u32::from_le_bytes(file[44..48].try_into().unwrap()));
    let ps = page_size as usize;
    let txn = |slot: usize| u64_at(file, slot * ps + 16);
    let (newest, older) = if txn(1) > txn(0) { (1, 0) } else { (0, 1) };
    let meta = &file[newest * ps..(newest + 1) * ps];
    let mut pages = Pages {
        page_size,
        meta_newest: newest as u64,
        meta_older: older as u64,
        ..Pages::default()
    };
    let walk = |root: u64, free: bool, pages: &mut Pages| {
        let mut stack = vec![root];
        let mut seen = std::collections::BTreeSet::new();
        while let Some(p) = stack.pop() {
            let at = p as usize * ps;
            if p == u64::MAX || at + ps > file.len() || !seen.insert(p) {
                continue;
            }
            let page = &file[at..at + ps];
            let count = (u64_at(page, 24) & 0xffff) as usize;
            match page[4] {
                2 => {
                    if free {
                        &mut pages.free_tree
                    } else {
                        &mut pages.branches
                    }
                    .push(p);
                    for i in 0..count {
                        let entry = u16_at(page, 32 + 6 * i);
                        stack.push(u64_at(page, entry + 2));
                    }
                }
                3 => {
                    if free {
                        &mut pages.free_tree
                    } else {
                        &mut pages.leaves
                    }
                    .push(p);
                    for i in 0..count {
                        let entry = u16_at(page, 32 + 6 * i);
                        // Flag 1 (format 1) and 2 (format 2, the run's
                        // CRC-32 follows the page number) both start with
                        // the run's first page.
                        if matches!(page.get(entry), Some(&1 | &2)) {
                            let key_len = u16_at(page, entry + 1);
                            pages.overflow.push(u64_at(page, entry + 7 + key_len));
                        }
                    }
                }
                _ => {}
            }
        }
    };
    let version = u32::from_le_bytes(meta[40..44].try_into().unwrap());
    // Formats 1 and 2 share these offsets: the meta page's roots at 48
    // and 56, a branch entry's child right after its key length.
    if version == 1 || version == 2 {
        walk(u64_at(meta, 48), false, &mut pages);
        walk(u64_at(meta, 56), true, &mut pages);
    }
    if pages.leaves.is_empty() {
        // A format this walk does not know (a later version's entries): take pages by their header alone. Some may be free
        // pages, whose damage is harmless; none is mislabeled.
        for p in 2..(file.len() / ps) as u64 {
            let page = &file[p as usize * ps..(p as usize + 1) * ps];
            if u64_at(page, 8) != p {
                continue;
            }
            match page[4] {
                2 => pages.branches.push(p),
                3 => pages.leaves.push(p),
                4 => pages.overflow.push(p),
                _ => {}
            }
        }
    }
    for list in [
        &mut pages.branches,
        &mut pages.leaves,
        &mut pages.overflow,
        &mut pages.free_tree,
    ] {
        list.sort_unstable();
    }
    pages
}

/// Whether `page` is a valid page `n` of kind `kind` (CRC of bytes 4.. of
/// a one-page unit, kind byte, own page number).
fn valid_page(page: &[u8], n: u64, kind: u8) -> bool {
    page.len() > 32
        && page[4] == kind
        && u64_at(page, 8) == n
        && u32::from_le_bytes(page[0..4].try_into().unwrap()) == crc32fast::hash(&page[4..])
}

/// The cases for one file.
struct FileCases<'a> {
    out: &'a mut Vec<Case>,
    kind: String,
    file: PathBuf,
}

impl FileCases<'_> {
    fn push(&mut self, place: impl Into<String>, damage: Damage) {
        self.out.push(Case {
            kind: self.kind.clone(),
            file: self.file.clone(),
            place: place.into(),
            damage,
            must_report: false,
            rollback: None,
        });
    }

    /// Flips at `flips`, truncations at `cuts`, a zeroed 4 KiB range, delete,
    /// appended garbage, and the newest older copy of the file that differs.
    fn common(
        &mut self,
        len: u64,
        flips: &[(String, u64)],
        cuts: &[(String, u64)],
        history: &[BTreeMap<PathBuf, Vec<u8>>],
        current: &[u8],
    ) {
        let mut done = std::collections::BTreeSet::new();
        for (place, offset) in flips {
            if *offset < len && done.insert(("flip", *offset)) {
                self.push(place.clone(), Damage::Flip { offset: *offset });
            }
        }
        for (place, cut) in cuts {
            if *cut < len && done.insert(("cut", *cut)) {
                self.push(place.clone(), Damage::Truncate { len: *cut });
            }
        }
        if len > 0 {
            let offset = (len / 2) & !4095;
            self.push(
                "4 KiB range at the middle",
                Damage::Zero { offset, len: 4096 },
            );
        }
        self.push("", Damage::Delete);
        self.push(
            "",
            Damage::Append {
                bytes: garbage(100),
            },
        );
        let older = history.iter().enumerate().rev().find_map(|(step, tree)| {
            tree.get(&self.file)
                .filter(|b| b.as_slice() != current)
                .map(|b| (step, b.clone()))
        });
        if let Some((step, bytes)) = older {
            self.push("", Damage::OlderCopy { bytes, step });
        }
    }
}

/// The kind of an lsm store's file (`lsm/FORMAT.md`, `erasure/FORMAT.md`),
/// or of a kv-store file of either engine.
fn kind_of(engine: Engine, rel: &Path) -> String {
    let name = super::base_name(rel);
    let in_blobs = rel.components().count() > 1;
    match engine {
        _ if name == "KV-ENGINE" => "kv-store marker (KV-ENGINE)",
        _ if name == "KV-LOCK" || name == "LOCK" || name.ends_with(".lock") => "lock files",
        Engine::Lsm if in_blobs && name == "MANIFEST" => "blob store MANIFEST",
        Engine::Lsm if in_blobs && name.ends_with(".shard") => "blob shard (*.shard)",
        Engine::Lsm if name.ends_with(".log") => "WAL (*.log)",
        Engine::Lsm if name.starts_with("MANIFEST-") => "MANIFEST-*",
        Engine::Lsm if name == "CURRENT" => "CURRENT",
        Engine::Lsm if name.ends_with(".sst") => "table (*.sst)",
        Engine::Btree if name == "btree.db" => "btree.db",
        _ => "other",
    }
    .to_string()
}

/// Every case for the store `built`.
pub(crate) fn cases(engine: Engine, built: &Built) -> Vec<Case> {
    let mut by_kind: BTreeMap<String, Vec<&PathBuf>> = BTreeMap::new();
    for rel in built.tree.keys() {
        by_kind.entry(kind_of(engine, rel)).or_default().push(rel);
    }
    let mut out = Vec::new();
    for (kind, files) in by_kind {
        // Files of one kind: the oldest and the newest (names carry numbers).
        let mut chosen = vec![files[0]];
        if files.len() > 1 && !kind.starts_with("lock") {
            chosen.push(files[files.len() - 1]);
        } else if kind.starts_with("lock") {
            chosen = files.clone();
        }
        for rel in chosen {
            let bytes = &built.tree[rel];
            let mut fc = FileCases {
                out: &mut out,
                kind: kind.clone(),
                file: rel.clone(),
            };
            let len = bytes.len() as u64;
            let (flips, cuts) = match kind.as_str() {
                "WAL (*.log)" | "MANIFEST-*" => log_places(bytes),
                "table (*.sst)" => (
                    vec![
                        ("header".to_string(), 4),
                        ("first data block".to_string(), 20),
                        ("middle".to_string(), len / 2),
                        ("footer".to_string(), len.saturating_sub(20)),
                        ("last byte".to_string(), len.saturating_sub(1)),
                    ],
                    vec![
                        ("empty".to_string(), 0),
                        ("half".to_string(), len / 2),
                        ("footer cut".to_string(), len.saturating_sub(10)),
                    ],
                ),
                "btree.db" => {
                    btree_cases(&mut fc, bytes, &built.history);
                    continue;
                }
                _ => (
                    vec![
                        ("start".to_string(), 0),
                        ("middle".to_string(), len / 2),
                        ("last byte".to_string(), len.saturating_sub(1)),
                    ],
                    vec![
                        ("empty".to_string(), 0),
                        ("half".to_string(), len / 2),
                        ("last byte cut".to_string(), len.saturating_sub(1)),
                    ],
                ),
            };
            fc.common(len, &flips, &cuts, &built.history, bytes);
        }
    }
    out
}

type Places = Vec<(String, u64)>;

/// Flips in the header, the first, a middle and the last record; cuts at
/// the start, after the header, inside a middle record, at the start of the
/// last record, and one byte short of the end.
fn log_places(bytes: &[u8]) -> (Places, Places) {
    let starts = log_record_starts(bytes);
    let len = bytes.len() as u64;
    let records = starts.len().saturating_sub(1);
    let mut flips = vec![("header".to_string(), 8)];
    let mut cuts = vec![("empty".to_string(), 0)];
    if records > 0 {
        let nth = |i: usize| format!("record {i} of {records}");
        let mid = starts.len() / 2;
        let last = starts.len() - 1;
        flips.push((nth(1), starts[1] + 12));
        flips.push((nth(mid), starts[mid] + 12));
        flips.push((nth(last), starts[last] + 12));
        cuts.push(("after the header".to_string(), starts[1]));
        cuts.push((format!("inside {}", nth(mid)), starts[mid] + 20));
        cuts.push((format!("start of {}", nth(last)), starts[last]));
    }
    cuts.push(("last byte cut".to_string(), len.saturating_sub(1)));
    (flips, cuts)
}

/// The B+ tree file: both meta pages, a leaf, a branch, a free-tree page, an
/// overflow run (flip, zero, and the page's own older valid copy), then
/// truncations, delete, garbage and an older copy of the whole file.
fn btree_cases(fc: &mut FileCases<'_>, bytes: &[u8], history: &[BTreeMap<PathBuf, Vec<u8>>]) {
    let pages = btree_pages(bytes);
    let ps = pages.page_size;
    let pick = |list: &[u64]| list.get(list.len() / 2).copied();
    let mut targets: Vec<(String, u64, u8)> = vec![
        ("newest meta page".to_string(), pages.meta_newest, 1),
        ("older meta page".to_string(), pages.meta_older, 1),
    ];
    for (name, list, kind) in [
        ("leaf", &pages.leaves, 3u8),
        ("branch", &pages.branches, 2),
        ("free-tree", &pages.free_tree, 0),
        ("overflow", &pages.overflow, 4),
    ] {
        if let Some(p) = pick(list) {
            targets.push((format!("{name} page {p}"), p, kind));
        }
    }
    for (place, page, kind) in &targets {
        let at = page * ps;
        fc.push(place.clone(), Damage::Flip { offset: at + 72 });
        fc.push(
            place.clone(),
            Damage::Zero {
                offset: at,
                len: ps,
            },
        );
        if *page == pages.meta_older {
            // The only fallback: damage to it must be reported.
            let n = fc.out.len();
            for case in &mut fc.out[n - 2..] {
                case.must_report = true;
            }
        }
        // The page's own older copy, valid on its own (CRC, kind, number).
        let current = &bytes[at as usize..(at + ps) as usize];
        let kind = if *kind == 0 { current[4] } else { *kind };
        let older = history.iter().enumerate().rev().find_map(|(step, tree)| {
            let old = tree.get(&fc.file)?.get(at as usize..(at + ps) as usize)?;
            (old != current && (kind == 4 || valid_page(old, *page, kind)))
                .then(|| (step, old.to_vec()))
        });
        if let Some((step, old)) = older {
            fc.push(
                place.clone(),
                Damage::OlderRange {
                    offset: at,
                    bytes: old,
                    step,
                },
            );
            if *page == pages.meta_newest {
                // Both slots then hold valid commits, the newer of them an
                // earlier durable one, as after that commit; format 2's child
                // checksums find it only once a later commit reused a page.
                let last = fc.out.len() - 1;
                fc.out[last].rollback = Some("both meta slots valid and older");
            }
        }
    }
    let len = bytes.len() as u64;
    let cuts = vec![
        ("empty".to_string(), 0),
        ("meta pages only".to_string(), 2 * ps),
        ("half".to_string(), (len / 2) / ps * ps),
        ("last page cut".to_string(), len.saturating_sub(ps)),
        ("last byte cut".to_string(), len.saturating_sub(1)),
    ];
    fc.common(len, &[], &cuts, history, bytes);
    for case in fc.out.iter_mut() {
        if case.file == fc.file && matches!(case.damage, Damage::OlderCopy { .. }) {
            case.rollback = Some("the whole file is an earlier healthy state");
        }
    }
}
