//! A store seen through a name prefix: several databases (or a database
//! and other data) share one bucket, each under its own prefix.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use objstore::{ObjectMeta, PutMode, Result, Store};

/// The objects of `store` whose names start with `prefix/`, named without
/// it: what [`Options::table_store`](crate::Options::table_store) and
/// [`Reader::open`](crate::Reader::open) take to keep a database under a
/// prefix. An empty prefix (or `/`) is the whole store.
pub fn scoped_store(store: Arc<dyn Store>, prefix: &str) -> Arc<dyn Store> {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() {
        return store;
    }
    Arc::new(Scoped {
        inner: store,
        prefix: format!("{prefix}/"),
    })
}

#[derive(Debug)]
struct Scoped {
    inner: Arc<dyn Store>,
    /// Ends with `/`.
    prefix: String,
}

impl Scoped {
    fn full(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn strip(&self, mut m: ObjectMeta) -> ObjectMeta {
        if let Some(rest) = m.name.strip_prefix(&self.prefix) {
            m.name = rest.to_owned();
        }
        m
    }
}

impl Store for Scoped {
    fn put(&self, name: &str, data: Bytes, mode: PutMode) -> Result<ObjectMeta> {
        objstore::check_name(name)?;
        self.inner
            .put(&self.full(name), data, mode)
            .map(|m| self.strip(m))
    }

    fn get(&self, name: &str) -> Result<(Bytes, ObjectMeta)> {
        objstore::check_name(name)?;
        self.inner
            .get(&self.full(name))
            .map(|(b, m)| (b, self.strip(m)))
    }

    fn get_range(&self, name: &str, range: Range<u64>) -> Result<Bytes> {
        objstore::check_name(name)?;
        self.inner.get_range(&self.full(name), range)
    }

    fn head(&self, name: &str) -> Result<ObjectMeta> {
        objstore::check_name(name)?;
        self.inner.head(&self.full(name)).map(|m| self.strip(m))
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        Ok(self
            .inner
            .list(&self.full(prefix))?
            .into_iter()
            .map(|m| self.strip(m))
            .collect())
    }

    fn delete(&self, name: &str) -> Result<()> {
        objstore::check_name(name)?;
        self.inner.delete(&self.full(name))
    }

    fn location(&self) -> String {
        format!(
            "{}/{}",
            self.inner.location().trim_end_matches('/'),
            self.prefix.trim_end_matches('/')
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scoped_store_names_objects_under_its_prefix() {
        let root: Arc<dyn Store> = Arc::new(objstore::MemStore::new());
        let a = scoped_store(Arc::clone(&root), "db/a");
        let b = scoped_store(Arc::clone(&root), "/db/b/");
        a.put(
            "tables/000001.sst",
            Bytes::from_static(b"x"),
            PutMode::Create,
        )
        .expect("put");
        assert!(root.head("db/a/tables/000001.sst").is_ok());
        assert!(b.head("tables/000001.sst").is_err());
        let listed = a.list("tables/").expect("list");
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].name, "tables/000001.sst");
        assert!(a.location().ends_with("/db/a"));
        assert!(a.put("../x", Bytes::new(), PutMode::Overwrite).is_err());
    }
}
