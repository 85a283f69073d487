//! [`Db::describe`]: the file explained, as `ldb manifest_dump` explains
//! an LSM store: both meta pages as they are on disk (valid or not, which
//! one is current) and, from one walk of the last commit, the tree's depth
//! and its pages by kind.

use std::path::Path;

use vfs::OpenMode;

use crate::db::Db;
use crate::meta::{self, Meta, MetaProblem};
use crate::page;
use crate::{Result, Stats};

/// One meta page as it is on disk ([`Description::meta_pages`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetaPageDescription {
    /// 0 or 1: the page number.
    pub slot: u64,
    /// Whether an open now would take this page: the valid one with the
    /// higher transaction id (the newest durable commit).
    pub current: bool,
    /// Why the page is not valid (`None`: checksum, magic, version and
    /// ranges hold). A zero page beside commit 0 (creation cut short) is
    /// reported here too.
    pub problem: Option<MetaProblem>,
    /// The format version the page names (`None` without the magic).
    pub format_version: Option<u32>,
    /// Its commit's transaction id (read even when the page is invalid, so
    /// treat it as a hint then).
    pub txn: u64,
    /// The main tree's root page (`None`: empty tree).
    pub root_page: Option<u64>,
    /// The free tree's root page (`None`: no free pages recorded).
    pub free_root_page: Option<u64>,
    /// Pages in use as of that commit.
    pub page_count: u64,
    /// Entries as of that commit.
    pub entry_count: u64,
}

/// The file and its pages ([`Db::describe`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Description {
    /// The database file.
    pub path: std::path::PathBuf,
    /// Length of the file.
    pub file_size_bytes: u64,
    /// Bytes per page.
    pub page_size_bytes: u32,
    /// Both meta pages, slot 0 first.
    pub meta_pages: Vec<MetaPageDescription>,
    /// The walk of the last commit (depth, pages by kind, free pages, fill
    /// factor), or why it stopped (a damaged page on the way).
    pub stats: std::result::Result<Stats, String>,
}

impl Db {
    /// Describes the file: both meta pages as read from disk now (each
    /// decoded and checked, the current one marked) and the walk of
    /// [`Db::stats`]. Writes nothing; works on a read-only handle. Damage
    /// is described, not returned: a bad meta page has its
    /// [`MetaPageDescription::problem`], a bad page met by the walk is
    /// [`Description::stats`]'s `Err`.
    ///
    /// A commit on another thread may rewrite a meta page while it is read;
    /// the description is then of a moment, as any is.
    ///
    /// # Errors
    ///
    /// An I/O error opening or reading the file.
    pub fn describe(&self) -> Result<Description> {
        let inner = &*self.inner;
        let ps = inner.limits.page_size as u32;
        let (file_size_bytes, meta_pages) = read_meta_pages(&*inner.fs, &inner.path, ps)?;
        Ok(Description {
            path: inner.path.clone(),
            file_size_bytes,
            page_size_bytes: ps,
            meta_pages,
            stats: self.stats().map_err(|e| e.to_string()),
        })
    }
}

/// Both meta pages of the file at `path`, read as pages of
/// `page_size_bytes` without opening it as a database: for a file that
/// [`Db::open_read_only`] refuses (a damaged newest meta page), so a tool
/// can still show what each page holds. `current` marks the valid page
/// with the higher transaction id. Reads only; takes no lock.
///
/// # Errors
///
/// An I/O error opening or reading the file (a missing file is one).
pub fn describe_meta_pages(
    fs: &dyn vfs::Fs,
    path: &Path,
    page_size_bytes: u32,
) -> Result<Vec<MetaPageDescription>> {
    Ok(read_meta_pages(fs, path, page_size_bytes)?.1)
}

/// The file's length and both meta pages.
fn read_meta_pages(
    fs: &dyn vfs::Fs,
    path: &Path,
    page_size_bytes: u32,
) -> Result<(u64, Vec<MetaPageDescription>)> {
    let ps = u64::from(page_size_bytes);
    let file = fs.open(path, OpenMode::Read)?;
    let file_size_bytes = file.len()?;
    let mut buf = vec![0u8; page_size_bytes as usize];
    let mut meta_pages = Vec::with_capacity(2);
    for slot in 0..2u64 {
        let start = slot * ps;
        if file_size_bytes < start + ps {
            meta_pages.push(MetaPageDescription {
                slot,
                current: false,
                problem: Some(MetaProblem::Malformed),
                format_version: None,
                txn: 0,
                root_page: None,
                free_root_page: None,
                page_count: 0,
                entry_count: 0,
            });
            continue;
        }
        file.read_exact_at(&mut buf, start)?;
        meta_pages.push(describe_meta(&buf, slot));
    }
    let newest = meta_pages
        .iter()
        .filter(|m| m.problem.is_none())
        .max_by_key(|m| m.txn)
        .map(|m| m.slot);
    for m in &mut meta_pages {
        m.current = Some(m.slot) == newest;
    }
    Ok((file_size_bytes, meta_pages))
}

/// Reads meta page `slot` from `buf` (one page), valid or not.
fn describe_meta(buf: &[u8], slot: u64) -> MetaPageDescription {
    let problem = Meta::decode(buf, slot).and_then(|m| m.check_ranges()).err();
    let has_magic = buf.get(meta::MAGIC_OFFSET..meta::VERSION_OFFSET) == Some(&meta::MAGIC[..]);
    let page_opt = |at: usize| Some(page::get_u64(buf, at)).filter(|&p| p != meta::NO_PAGE);
    MetaPageDescription {
        slot,
        current: false,
        problem,
        format_version: has_magic.then(|| page::get_u32(buf, meta::VERSION_OFFSET)),
        txn: page::get_u64(buf, page::TXN_OFFSET),
        root_page: page_opt(meta::ROOT_OFFSET),
        free_root_page: page_opt(meta::FREE_ROOT_OFFSET),
        page_count: page::get_u64(buf, meta::PAGE_COUNT_OFFSET),
        entry_count: page::get_u64(buf, meta::ENTRY_COUNT_OFFSET),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::Options;

    fn db_with(n: u32) -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open_with_fs(
            Arc::new(vfs::OsFs::new()),
            dir.path().join("t.db"),
            Options::default(),
        )
        .expect("open");
        for i in 0..n {
            let mut w = db.begin_write().expect("write");
            w.insert(format!("key{i:05}").as_bytes(), &[b'v'; 100])
                .expect("put");
            w.commit().expect("commit");
        }
        (dir, db)
    }

    #[test]
    fn describe_shows_both_meta_pages_and_the_current_one() {
        let (dir, db) = db_with(300);
        let d = db.describe().expect("describe");
        assert_eq!(d.meta_pages.len(), 2);
        let cur: Vec<_> = d.meta_pages.iter().filter(|m| m.current).collect();
        assert_eq!(cur.len(), 1);
        for m in &d.meta_pages {
            assert_eq!(m.problem, None);
            assert_eq!(m.format_version, Some(meta::FORMAT_VERSION));
        }
        let (a, b) = (&d.meta_pages[0], &d.meta_pages[1]);
        assert_eq!(a.txn.abs_diff(b.txn), 1, "the two newest commits");
        let newest = if a.txn > b.txn { a } else { b };
        assert!(newest.current);
        assert_eq!(newest.entry_count, 300);
        let stats = d.stats.as_ref().expect("stats");
        assert_eq!(stats.entries, 300);
        assert!(stats.height >= 2);
        let len = std::fs::metadata(dir.path().join("t.db"))
            .expect("meta")
            .len();
        assert_eq!(d.file_size_bytes, len);
    }

    #[test]
    fn describe_reports_a_damaged_meta_page_instead_of_failing() {
        let (dir, db) = db_with(3);
        let d = db.describe().expect("describe");
        let ps = u64::from(d.page_size_bytes);
        let other = d
            .meta_pages
            .iter()
            .find(|m| !m.current)
            .expect("older")
            .slot;
        drop(db);
        let path = dir.path().join("t.db");
        let mut bytes = std::fs::read(&path).expect("read");
        bytes[(other * ps) as usize + 100] ^= 0xff;
        std::fs::write(&path, &bytes).expect("write");
        let db = Db::open_read_only_with_fs(Arc::new(vfs::OsFs::new()), &path, Options::default())
            .expect("open passes over the older damaged page");
        let d = db.describe().expect("describe");
        let bad = &d.meta_pages[other as usize];
        assert!(!bad.current);
        assert!(
            matches!(bad.problem, Some(MetaProblem::Checksum { .. })),
            "{:?}",
            bad.problem
        );
        assert_eq!(d.meta_pages[(other ^ 1) as usize].problem, None);
    }

    #[test]
    fn meta_pages_are_described_when_open_refuses_the_file() {
        let (dir, db) = db_with(3);
        let d = db.describe().expect("describe");
        let ps = u64::from(d.page_size_bytes);
        let newest = d
            .meta_pages
            .iter()
            .find(|m| m.current)
            .expect("current")
            .slot;
        drop(db);
        let path = dir.path().join("t.db");
        let mut bytes = std::fs::read(&path).expect("read");
        bytes[(newest * ps) as usize + 100] ^= 0xff;
        std::fs::write(&path, &bytes).expect("write");
        let fs = Arc::new(vfs::OsFs::new());
        assert!(
            Db::open_read_only_with_fs(fs.clone(), &path, Options::default()).is_err(),
            "a damaged newest meta page is refused"
        );
        let metas = describe_meta_pages(&*fs, &path, d.page_size_bytes).expect("describe");
        let bad = &metas[newest as usize];
        assert!(matches!(bad.problem, Some(MetaProblem::Checksum { .. })));
        assert!(!bad.current);
        assert!(metas[(newest ^ 1) as usize].current);
    }
}
