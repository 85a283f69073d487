//! How a database is opened.

/// When a commit becomes durable: the workspace's vocabulary, the same
/// variants with the same meaning as `lsm`'s `Durability`, which adds
/// `Group` for concurrent writers sharing one sync (a btree has one writer
/// at a time: nothing to share; see
/// [docs/api-conventions.md](https://github.com/kv-family/larder/blob/main/docs/api-conventions.md)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Durability {
    /// `commit` returns after the transaction's pages and the meta page that
    /// points at them are synced (one sync for both when few pages were
    /// written since the last durable commit): the commit is durable when it
    /// returns.
    #[default]
    Immediate,
    /// `commit` writes the pages but syncs nothing and leaves the meta pages
    /// alone: the commit is acknowledged and visible to new readers, and
    /// becomes durable at the next [`Durability::Immediate`] commit or
    /// [`Db::sync`](crate::Db::sync). A crash before then returns the file
    /// to the last durable commit.
    None,
}

/// Options for [`Db::open`](crate::Db::open).
#[derive(Clone, Debug)]
pub struct Options {
    /// Size of every page, a power of two in 512..=32768. Fixed when the
    /// file is created; opening it with another size is an error.
    pub page_size_bytes: u32,
    /// Durability of [`WriteTxn::commit`](crate::WriteTxn::commit).
    pub durability: Durability,
    /// Bytes of pages that commits made with [`Durability::None`] may hold
    /// in memory before writing them (64 MiB by default; readers see them
    /// there): a page that a later commit replaces before then is never
    /// written. They are written, each once, when this fills, at the next
    /// durable commit and at [`Db::sync`](crate::Db::sync). 0 writes every
    /// commit's pages at once.
    pub write_buffer_bytes: u64,
    /// Length the file is given when created, rounded up to whole pages (at
    /// least the two meta pages). The file grows as needed.
    pub initial_size_bytes: u64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            page_size_bytes: 4096,
            durability: Durability::Immediate,
            write_buffer_bytes: 64 << 20,
            initial_size_bytes: 1 << 20,
        }
    }
}
