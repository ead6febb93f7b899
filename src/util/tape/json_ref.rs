//! Reading a tape: [`JsonRef`], one value of a [`Tape`] read like a `&serde_json::Value`, and
//! the iterators over its members and elements.

use std::borrow::Cow;
use std::fmt;

use serde_json::{Map, Number, Value};

use super::{Slot, Tape};

/// One value of a [`Tape`], read like a `&serde_json::Value`.
#[derive(Clone, Copy)]
pub struct JsonRef<'a> {
    pub(super) tape: &'a Tape,
    pub(super) at: u32,
}

impl fmt::Debug for JsonRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_value())
    }
}

impl<'a> JsonRef<'a> {
    pub(super) fn slot(&self) -> &'a Slot {
        self.tape.slot(self.at)
    }

    /// The member named `key`, for an object.
    pub fn get(self, key: &str) -> Option<JsonRef<'a>> {
        let Slot::Obj { len, .. } = self.slot() else {
            return None;
        };
        let tape = self.tape;
        let mut k = self.at + 1;
        for _ in 0..*len {
            if let Slot::Str(s, e) = tape.slot(k) {
                if (e - s) as usize == key.len() && tape.str_at(*s, *e) == key {
                    return Some(JsonRef { tape, at: k + 1 });
                }
            }
            k = tape.after(k + 1);
        }
        None
    }

    /// Members of an object, in document order (none for anything else).
    pub fn members(self) -> Members<'a> {
        let (left, next) = match self.slot() {
            Slot::Obj { len, .. } => (*len, self.at + 1),
            _ => (0, 0),
        };
        Members {
            tape: self.tape,
            next,
            left,
        }
    }

    /// The elements of an array.
    pub fn as_array(self) -> Option<Elements<'a>> {
        match self.slot() {
            Slot::Arr { len, .. } => Some(Elements {
                tape: self.tape,
                next: self.at + 1,
                left: *len,
            }),
            _ => None,
        }
    }

    /// A JSON pointer (RFC 6901) from this value.
    pub fn pointer(self, pointer: &str) -> Option<JsonRef<'a>> {
        if pointer.is_empty() {
            return Some(self);
        }
        let rest = pointer.strip_prefix('/')?;
        let mut here = self;
        for token in rest.split('/') {
            // Unescaped only when it holds an escape (grammars look up plain paths per frame).
            let token = if token.contains('~') {
                Cow::Owned(token.replace("~1", "/").replace("~0", "~"))
            } else {
                Cow::Borrowed(token)
            };
            here = match here.slot() {
                Slot::Obj { .. } => here.get(&token)?,
                Slot::Arr { .. } => {
                    let i: usize = token.parse().ok()?;
                    here.as_array()?.into_iter().nth(i)?
                }
                _ => return None,
            };
        }
        Some(here)
    }

    pub fn as_str(self) -> Option<&'a str> {
        match self.slot() {
            Slot::Str(s, e) => Some(self.tape.str_at(*s, *e)),
            _ => None,
        }
    }

    pub fn as_number(self) -> Option<&'a Number> {
        match self.slot() {
            Slot::Num(n) => Some(n),
            _ => None,
        }
    }

    pub fn as_u64(self) -> Option<u64> {
        self.as_number().and_then(Number::as_u64)
    }

    pub fn as_bool(self) -> Option<bool> {
        match self.slot() {
            Slot::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn is_null(self) -> bool {
        matches!(self.slot(), Slot::Null)
    }

    pub fn is_object(self) -> bool {
        matches!(self.slot(), Slot::Obj { .. })
    }

    pub fn is_array(self) -> bool {
        matches!(self.slot(), Slot::Arr { .. })
    }

    pub fn is_string(self) -> bool {
        matches!(self.slot(), Slot::Str(..))
    }

    pub fn is_number(self) -> bool {
        matches!(self.slot(), Slot::Num(_))
    }

    /// Members of an object, elements of an array; 0 for scalars.
    pub fn len(self) -> usize {
        match self.slot() {
            Slot::Obj { len, .. } | Slot::Arr { len, .. } => *len as usize,
            _ => 0,
        }
    }

 #[cfg(any(test, feature = "testkit"))]
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// Whether two scalars (or containers: `false`) are equal, as two `Value`s would compare.
    pub fn scalar_eq(self, other: JsonRef<'_>) -> bool {
        match (self.slot(), other.slot()) {
            (Slot::Null, Slot::Null) => true,
            (Slot::Bool(a), Slot::Bool(b)) => a == b,
            (Slot::Num(a), Slot::Num(b)) => a == b,
            (Slot::Str(..), Slot::Str(..)) => self.as_str() == other.as_str(),
            _ => false,
        }
    }

    /// The value as a `serde_json::Value` (a copy; for the cold paths).
    pub fn to_value(self) -> Value {
        match self.slot() {
            Slot::Null => Value::Null,
            Slot::Bool(b) => Value::Bool(*b),
            Slot::Num(n) => Value::Number(n.clone()),
            Slot::Str(..) => Value::String(self.as_str().unwrap_or_default().to_string()),
            Slot::Arr { .. } => Value::Array(
                self.as_array()
                    .into_iter()
                    .flatten()
                    .map(JsonRef::to_value)
                    .collect(),
            ),
            Slot::Obj { .. } => {
                let mut map = Map::new();
                for (k, v) in self.members() {
                    map.insert(k.to_string(), v.to_value());
                }
                Value::Object(map)
            }
        }
    }
}

/// An object's members, in document order.
#[derive(Clone)]
pub struct Members<'a> {
    tape: &'a Tape,
    next: u32,
    left: u32,
}

impl<'a> Iterator for Members<'a> {
    type Item = (&'a str, JsonRef<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let key = match self.tape.slot(self.next) {
            Slot::Str(s, e) => self.tape.str_at(*s, *e),
            _ => "",
        };
        let value = JsonRef {
            tape: self.tape,
            at: self.next + 1,
        };
        self.next = self.tape.after(self.next + 1);
        Some((key, value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left as usize, Some(self.left as usize))
    }
}

/// An array's elements.
#[derive(Clone, Copy)]
pub struct Elements<'a> {
    tape: &'a Tape,
    next: u32,
    left: u32,
}

impl<'a> Elements<'a> {
    pub fn len(&self) -> usize {
        self.left as usize
    }

    pub fn is_empty(&self) -> bool {
        self.left == 0
    }

    pub fn iter(&self) -> Elements<'a> {
        *self
    }
}

impl<'a> Iterator for Elements<'a> {
    type Item = JsonRef<'a>;

    fn next(&mut self) -> Option<JsonRef<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let item = JsonRef {
            tape: self.tape,
            at: self.next,
        };
        self.next = self.tape.after(self.next);
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left as usize, Some(self.left as usize))
    }
}

impl ExactSizeIterator for Elements<'_> {}
impl ExactSizeIterator for Members<'_> {}
