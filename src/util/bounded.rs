//! Lists and maps read with a cap on their entries: a file under its size limit can still hold
//! millions of tiny entries, each costing far more in memory than its bytes on disk. The cap is
//! checked as each entry is read, so nothing past it is ever held.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, Error, MapAccess, SeqAccess, Visitor};

/// A budget shared by every list read with [`Shared`] on this thread while it is open: the cap
/// on a count summed over several lists (every response's chunks in one file).
pub struct Budget {
    left: &'static std::thread::LocalKey<Cell<Option<usize>>>,
}

impl Budget {
    /// Opens `key` with `n` entries to spend until the returned guard is dropped; outside it,
    /// lists read with the key are not limited.
    pub fn open(key: &'static std::thread::LocalKey<Cell<Option<usize>>>, n: usize) -> Budget {
        key.with(|c| c.set(Some(n)));
        Budget { left: key }
    }
}

impl Drop for Budget {
    fn drop(&mut self) {
        self.left.with(|c| c.set(None));
    }
}

struct SeqVisitor<T> {
    limit: usize,
    what: &'static str,
    shared: Option<&'static std::thread::LocalKey<Cell<Option<usize>>>>,
    _t: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for SeqVisitor<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a list of at most {} {}", self.limit, self.what)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(x) = seq.next_element()? {
            if out.len() == self.limit {
                return Err(A::Error::custom(format_args!(
                    "more than {} {} (the limit)",
                    self.limit, self.what
                )));
            }
            if let Some(key) = self.shared {
                let spent = key.with(|c| match c.get() {
                    Some(0) => true,
                    Some(n) => {
                        c.set(Some(n - 1));
                        false
                    }
                    None => false,
                });
                if spent {
                    return Err(A::Error::custom(format_args!(
                        "more than {} {} in the file (the limit)",
                        self.limit, self.what
                    )));
                }
            }
            out.push(x);
        }
        Ok(out)
    }
}

/// A list of at most `limit` entries (`what` names them in the error).
pub fn seq<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
    limit: usize,
    what: &'static str,
) -> Result<Vec<T>, D::Error> {
    d.deserialize_seq(SeqVisitor {
        limit,
        what,
        shared: None,
        _t: PhantomData,
    })
}

/// A list of at most `limit` entries, each also spent from the open [`Budget`] of `key` (whose
/// total is `limit` too: the error names it so).
pub fn shared_seq<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
    key: &'static std::thread::LocalKey<Cell<Option<usize>>>,
    limit: usize,
    what: &'static str,
) -> Result<Vec<T>, D::Error> {
    d.deserialize_seq(SeqVisitor {
        limit,
        what,
        shared: Some(key),
        _t: PhantomData,
    })
}

struct MapVisitor<V> {
    limit: usize,
    what: &'static str,
    _v: PhantomData<V>,
}

impl<'de, V: Deserialize<'de>> Visitor<'de> for MapVisitor<V> {
    type Value = BTreeMap<String, V>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a map of at most {} {}", self.limit, self.what)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        let mut n = 0usize;
        while let Some((k, v)) = map.next_entry::<String, V>()? {
            n += 1;
            if n > self.limit {
                return Err(A::Error::custom(format_args!(
                    "more than {} {} (the limit)",
                    self.limit, self.what
                )));
            }
            out.insert(k, v);
        }
        Ok(out)
    }
}

/// A map with string keys of at most `limit` entries.
pub fn map<'de, D: Deserializer<'de>, V: Deserialize<'de>>(
    d: D,
    limit: usize,
    what: &'static str,
) -> Result<BTreeMap<String, V>, D::Error> {
    d.deserialize_map(MapVisitor {
        limit,
        what,
        _v: PhantomData,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        static LEFT: Cell<Option<usize>> = const { Cell::new(None) };
    }

    #[derive(serde::Deserialize, Debug)]
    struct Doc {
        #[serde(deserialize_with = "three")]
        xs: Vec<u8>,
        #[serde(default, deserialize_with = "two_keys")]
        m: BTreeMap<String, u8>,
    }
    fn three<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        shared_seq(d, &LEFT, 3, "xs")
    }
    fn two_keys<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, u8>, D::Error> {
        map(d, 2, "keys")
    }

    #[test]
    fn caps_are_checked_as_entries_are_read() {
        let ok: Doc = serde_json::from_str(r#"{"xs":[1,2,3],"m":{"a":1,"b":2}}"#).unwrap();
        assert_eq!((ok.xs.len(), ok.m.len()), (3, 2));
        let e = serde_json::from_str::<Doc>(r#"{"xs":[1,2,3,4]}"#).unwrap_err();
        assert!(e.to_string().contains("more than 3 xs (the limit)"), "{e}");
        let e = serde_json::from_str::<Doc>(r#"{"xs":[],"m":{"a":1,"b":2,"c":3}}"#).unwrap_err();
        assert!(e.to_string().contains("more than 2 keys"), "{e}");
        // A shared budget spans lists while it is open, and only then.
        #[derive(serde::Deserialize)]
        struct Two {
            #[allow(dead_code)]
            a: Doc,
            #[allow(dead_code)]
            b: Doc,
        }
        let two = r#"{"a":{"xs":[1,2]},"b":{"xs":[3,4]}}"#;
        assert!(serde_json::from_str::<Two>(two).is_ok());
        {
            let _b = Budget::open(&LEFT, 3);
            let e = serde_json::from_str::<Two>(two).err().unwrap();
            assert!(e.to_string().contains("more than 3 xs in the file"), "{e}");
        }
        assert!(serde_json::from_str::<Two>(two).is_ok());
    }
}
