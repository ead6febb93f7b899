//! The tape as an instance representation for jsonschema, so a frame is validated in place.

/// The tape as an instance representation for jsonschema: a frame is validated in place by the
/// same compiled schema (built for this representation), with no `Value` in between.
pub struct TapeJson;

mod schema_impl {
    use std::borrow::Cow;

    use serde_json::{Number, Value};

    use super::super::{Elements, JsonRef, Members, Slot, Tape};
    use super::TapeJson;
    use jsonschema::json::{Array, Json, Node, NodeIdentity, Object};
    use jsonschema::JsonType;

    impl Json for TapeJson {
        type Node<'a> = JsonRef<'a>;
        type PreparedKey = String;
        type StringBuffer = Tape;

        // A lookup scans the members; one pass over them costs no more than one lookup.
        const KEYS_PER_LOOKUP: usize = 8;

        fn prepare_key(key: &str) -> String {
            key.to_owned()
        }

        fn with_string_node<T>(
            buffer: &mut Tape,
            string: &str,
            f: impl FnOnce(JsonRef<'_>) -> T,
        ) -> T {
            buffer.clear();
            buffer.push_str(string);
            f(buffer.root())
        }
    }

    /// An object node, as jsonschema's [`Object`].
    #[derive(Clone, Copy)]
    pub struct Obj<'a>(JsonRef<'a>);

    /// An array node, as jsonschema's [`Array`].
    #[derive(Clone, Copy)]
    pub struct Arr<'a>(Elements<'a>);

    impl<'a> Node<'a, TapeJson> for JsonRef<'a> {
        type Object = Obj<'a>;
        type Array = Arr<'a>;
        type Number = &'a Number;

        fn as_object(&self) -> Option<Obj<'a>> {
            self.is_object().then_some(Obj(*self))
        }

        fn as_array(&self) -> Option<Arr<'a>> {
            JsonRef::as_array(*self).map(Arr)
        }

        fn as_string(&self) -> Option<Cow<'a, str>> {
            self.as_str().map(Cow::Borrowed)
        }

        fn as_number(&self) -> Option<&'a Number> {
            JsonRef::as_number(*self)
        }

        fn as_boolean(&self) -> Option<bool> {
            self.as_bool()
        }

        fn is_null(&self) -> bool {
            JsonRef::is_null(*self)
        }

        fn is_number(&self) -> bool {
            JsonRef::is_number(*self)
        }

        fn is_string(&self) -> bool {
            JsonRef::is_string(*self)
        }

        fn json_type(&self) -> JsonType {
            match self.slot() {
                Slot::Null => JsonType::Null,
                Slot::Bool(_) => JsonType::Boolean,
                Slot::Num(_) => JsonType::Number,
                Slot::Str(..) => JsonType::String,
                Slot::Arr { .. } => JsonType::Array,
                Slot::Obj { .. } => JsonType::Object,
            }
        }

        fn equals_value(&self, expected: &Value) -> bool {
            match (self.slot(), expected) {
                // Strings (most `const`/`enum` checks) without building a `Value`.
                (Slot::Str(..), Value::String(s)) => self.as_str() == Some(s.as_str()),
                (Slot::Str(..), _) => false,
                _ => jsonschema::json::cmp::equal(&JsonRef::to_value(*self), expected),
            }
        }

        fn to_value(&self) -> Cow<'a, Value> {
            Cow::Owned(JsonRef::to_value(*self))
        }

        fn identity(&self) -> Option<NodeIdentity> {
            Some(NodeIdentity::tagged(
                std::ptr::from_ref::<Tape>(self.tape) as usize,
                self.at,
            ))
        }
    }

    impl<'a> Object<'a, TapeJson> for Obj<'a> {
        type Node = JsonRef<'a>;
        type MemberName = &'a str;
        type MembersIter = Members<'a>;

        fn len(&self) -> usize {
            self.0.len()
        }

        fn get(&self, key: &String) -> Option<JsonRef<'a>> {
            self.0.get(key)
        }

        fn members(&self) -> Members<'a> {
            self.0.members()
        }
    }

    impl<'a> Array<'a, TapeJson> for Arr<'a> {
        type Node = JsonRef<'a>;
        type ElementsIter = Elements<'a>;

        fn len(&self) -> usize {
            self.0.len()
        }

        fn elements(&self) -> Elements<'a> {
            self.0
        }
    }
}
