use std::collections::BTreeMap;
use std::ops::Range;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::{Error, ObjectMeta, PutMode, Result, Store, check_name};

/// Objects in memory: for tests, and as the model other stores are checked
/// against. Every put makes a new version (`1`, `2`, ...).
#[derive(Debug, Default)]
pub struct MemStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    objects: BTreeMap<String, (Bytes, u64)>,
    next_version: u64,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

fn meta(name: &str, data: &Bytes, version: u64) -> ObjectMeta {
    ObjectMeta {
        name: name.to_owned(),
        size: data.len() as u64,
        version: Some(version.to_string()),
    }
}

impl Store for MemStore {
    fn put(&self, name: &str, data: Bytes, mode: PutMode) -> Result<ObjectMeta> {
        check_name(name)?;
        let mut inner = self.inner.lock();
        let current = inner.objects.get(name).map(|(_, version)| *version);
        match (&mode, current) {
            (PutMode::Create, Some(found)) => {
                return Err(Error::Precondition {
                    name: name.to_owned(),
                    reason: format!("it exists (version {found})"),
                });
            }
            (PutMode::Update { version }, found)
                if found.map(|v| v.to_string()).as_ref() != Some(version) =>
            {
                return Err(Error::Precondition {
                    name: name.to_owned(),
                    reason: match found {
                        Some(found) => format!("version {found}, not {version}"),
                        None => "it does not exist".to_owned(),
                    },
                });
            }
            _ => {}
        }
        inner.next_version += 1;
        let version = inner.next_version;
        let meta = meta(name, &data, version);
        inner.objects.insert(name.to_owned(), (data, version));
        Ok(meta)
    }

    fn get(&self, name: &str) -> Result<(Bytes, ObjectMeta)> {
        check_name(name)?;
        let inner = self.inner.lock();
        let (data, version) = inner.objects.get(name).ok_or_else(|| Error::NotFound {
            name: name.to_owned(),
        })?;
        Ok((data.clone(), meta(name, data, *version)))
    }

    fn get_range(&self, name: &str, range: Range<u64>) -> Result<Bytes> {
        let (data, meta) = self.get(name)?;
        if range.start > range.end || range.end > meta.size {
            return Err(Error::OutOfRange {
                name: name.to_owned(),
                size: meta.size,
                range,
            });
        }
        // Both ends are at most `data.len()`, checked above.
        Ok(data.slice(range.start as usize..range.end as usize))
    }

    fn head(&self, name: &str) -> Result<ObjectMeta> {
        self.get(name).map(|(_, meta)| meta)
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        let inner = self.inner.lock();
        Ok(inner
            .objects
            .range(prefix.to_owned()..)
            .take_while(|(name, _)| name.starts_with(prefix))
            .map(|(name, (data, version))| meta(name, data, *version))
            .collect())
    }

    fn delete(&self, name: &str) -> Result<()> {
        check_name(name)?;
        self.inner.lock().objects.remove(name);
        Ok(())
    }

    fn location(&self) -> String {
        "memory".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditional_puts_fence_a_second_writer() {
        let store = MemStore::new();
        let a = store
            .put("m", Bytes::from_static(b"a"), PutMode::Create)
            .unwrap();
        let b = store
            .put(
                "m",
                Bytes::from_static(b"b"),
                PutMode::Update {
                    version: a.version.clone().unwrap(),
                },
            )
            .unwrap();
        let stale = store.put(
            "m",
            Bytes::from_static(b"c"),
            PutMode::Update {
                version: a.version.unwrap(),
            },
        );
        assert!(
            matches!(stale, Err(Error::Precondition { .. })),
            "{stale:?}"
        );
        assert_eq!(store.get("m").unwrap().0, "b");
        assert_ne!(b.version, None);
    }

    #[test]
    fn ranged_reads_never_come_back_short() {
        let store = MemStore::new();
        store
            .put("t", Bytes::from_static(b"0123456789"), PutMode::Overwrite)
            .unwrap();
        assert_eq!(store.get_range("t", 2..5).unwrap(), "234");
        assert!(matches!(
            store.get_range("t", 8..11),
            Err(Error::OutOfRange { .. })
        ));
        assert!(matches!(
            store.get_range("nope", 0..1),
            Err(Error::NotFound { .. })
        ));
    }

    #[test]
    fn listing_is_by_prefix_and_sorted() {
        let store = MemStore::new();
        for name in ["b/2", "a/1", "b/1", "c"] {
            store.put(name, Bytes::new(), PutMode::Overwrite).unwrap();
        }
        let names: Vec<_> = store
            .list("b/")
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(names, ["b/1", "b/2"]);
        assert!(matches!(
            store.put("a/../b", Bytes::new(), PutMode::Overwrite),
            Err(Error::BadName { .. })
        ));
    }
}
