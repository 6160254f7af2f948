//! Lenient streaming JSON reading with serde visitors, so a 5 MB dump is read in one
//! pass without building a [`serde_json::Value`] tree. This file owns the building
//! blocks: [`Key`] (a field's snake_case and camelCase spellings), [`Scalar`] (a leaf of
//! any JSON type), and the [`Object`] / [`List`] / [`ObjectOrList`] seeds that hand each
//! field or element to a [`Sink`].
//!
//! Nothing here fails on a value of the wrong type: a seed that expected an object and
//! met something else reports [`Found::Other`] (with the value, containers skipped) and
//! the caller turns that into an issue. Only malformed JSON is an error.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A field's two spellings: Envoy's proto name and the camelCase JSON name istioctl
/// and protojson print.
#[derive(Debug, Clone, Copy)]
pub(super) struct Key {
    snake: &'static str,
    camel: &'static str,
}

impl Key {
    pub(super) const fn new(snake: &'static str, camel: &'static str) -> Self {
        Key { snake, camel }
    }

    /// A key spelled the same both ways (`name`, `value`).
    pub(super) const fn plain(name: &'static str) -> Self {
        Key { snake: name, camel: name }
    }

    pub(super) fn matches(self, key: &str) -> bool {
        key == self.snake || key == self.camel
    }

    pub(super) fn snake(self) -> &'static str {
        self.snake
    }
}

/// An object key, borrowed from the input unless it holds escapes.
pub(super) struct JsonKey<'de>(pub(super) Cow<'de, str>);

impl<'de> Deserialize<'de> for JsonKey<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = JsonKey<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(JsonKey(Cow::Borrowed(text)))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(JsonKey(Cow::Owned(text.to_owned())))
    }
}

/// A JSON value of any type; lists and objects are skipped and only their kind kept.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Scalar<'de> {
    Text(Cow<'de, str>),
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Bool(bool),
    Null,
    List,
    Object,
}

impl Scalar<'_> {
    /// A whole number: a non-negative integer, an integral float, or a decimal string
    /// (protobuf JSON prints 64-bit integers as strings).
    pub(super) fn whole(&self) -> Option<u64> {
        match self {
            Scalar::Unsigned(number) => Some(*number),
            Scalar::Signed(number) => u64::try_from(*number).ok(),
            Scalar::Float(number) => integral(*number),
            Scalar::Text(text) => text.parse().ok(),
            _ => None,
        }
    }

    /// A number, or a string holding one.
    pub(super) fn float(&self) -> Option<f64> {
        match self {
            Scalar::Unsigned(number) => Some(*number as f64),
            Scalar::Signed(number) => Some(*number as f64),
            Scalar::Float(number) => Some(*number),
            Scalar::Text(text) => text.parse().ok(),
            _ => None,
        }
    }

    pub(super) fn as_str(&self) -> Option<&str> {
        match self {
            Scalar::Text(text) => Some(text),
            _ => None,
        }
    }

    /// A string, number or boolean as text.
    pub(super) fn text(&self) -> Option<String> {
        match self {
            Scalar::Text(text) => Some(text.clone().into_owned()),
            Scalar::Unsigned(number) => Some(number.to_string()),
            Scalar::Signed(number) => Some(number.to_string()),
            Scalar::Float(number) => Some(number.to_string()),
            Scalar::Bool(flag) => Some(flag.to_string()),
            Scalar::Null | Scalar::List | Scalar::Object => None,
        }
    }

    /// A short rendering for an issue's excerpt.
    pub(super) fn excerpt(&self) -> String {
        match self {
            Scalar::Text(text) => format!("{text:?}"),
            Scalar::Null => "null".to_owned(),
            Scalar::List => "[…]".to_owned(),
            Scalar::Object => "{…}".to_owned(),
            other => other.text().unwrap_or_default(),
        }
    }
}

/// `3.0` as 3; negative, fractional and too large numbers are refused.
fn integral(number: f64) -> Option<u64> {
    let fits = number.fract() == 0.0 && (0.0..1.8e19).contains(&number);
    fits.then_some(number as u64)
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Borrowed(text)))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Owned(text.to_owned())))
    }

    fn visit_u64<E: de::Error>(self, number: u64) -> Result<Self::Value, E> {
        Ok(Scalar::Unsigned(number))
    }

    fn visit_i64<E: de::Error>(self, number: i64) -> Result<Self::Value, E> {
        Ok(Scalar::Signed(number))
    }

    fn visit_f64<E: de::Error>(self, number: f64) -> Result<Self::Value, E> {
        Ok(Scalar::Float(number))
    }

    fn visit_bool<E: de::Error>(self, flag: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Bool(flag))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::List)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Object)
    }
}

/// What a container seed met.
#[derive(Debug, PartialEq)]
pub(super) enum Found<'de> {
    /// The container it expected; its contents went to the sink.
    Expected,
    /// `null`, read as missing.
    Null,
    /// Something else, skipped.
    Other(Scalar<'de>),
}

/// Receives the fields of an object or the elements of a list. The defaults skip them.
pub(super) trait Sink<'de> {
    /// Reads (or skips) the value of `key`.
    fn field<A: MapAccess<'de>>(&mut self, _key: &str, map: &mut A) -> Result<(), A::Error> {
        map.next_value::<IgnoredAny>().map(drop)
    }

    /// Reads (or skips) the next element; `false` once the list has ended.
    fn item<A: SeqAccess<'de>>(&mut self, _index: usize, seq: &mut A) -> Result<bool, A::Error> {
        Ok(seq.next_element::<IgnoredAny>()?.is_some())
    }
}

/// Expects an object and hands its fields to the sink.
pub(super) struct Object<'s, S>(pub(super) &'s mut S);

/// Expects a list and hands its elements to the sink.
pub(super) struct List<'s, S>(pub(super) &'s mut S);

/// Takes either an object or a list.
pub(super) struct ObjectOrList<'s, S>(pub(super) &'s mut S);

impl<'de, S: Sink<'de>> DeserializeSeed<'de> for Object<'_, S> {
    type Value = Found<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(Container { sink: self.0, objects: true, lists: false })
    }
}

impl<'de, S: Sink<'de>> DeserializeSeed<'de> for List<'_, S> {
    type Value = Found<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(Container { sink: self.0, objects: false, lists: true })
    }
}

impl<'de, S: Sink<'de>> DeserializeSeed<'de> for ObjectOrList<'_, S> {
    type Value = Found<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(Container { sink: self.0, objects: true, lists: true })
    }
}

/// The visitor behind the three seeds.
struct Container<'s, S> {
    sink: &'s mut S,
    objects: bool,
    lists: bool,
}

impl<'de, S: Sink<'de>> Visitor<'de> for Container<'_, S> {
    type Value = Found<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object or list")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        if !self.objects {
            return ScalarVisitor.visit_map(map).map(Found::Other);
        }
        while let Some(JsonKey(key)) = map.next_key()? {
            self.sink.field(&key, &mut map)?;
        }
        Ok(Found::Expected)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        if !self.lists {
            return ScalarVisitor.visit_seq(seq).map(Found::Other);
        }
        let mut index = 0;
        while self.sink.item(index, &mut seq)? {
            index += 1;
        }
        Ok(Found::Expected)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Found::Null)
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
        ScalarVisitor.visit_borrowed_str(text).map(Found::Other)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        ScalarVisitor.visit_str(text).map(Found::Other)
    }

    fn visit_u64<E: de::Error>(self, number: u64) -> Result<Self::Value, E> {
        Ok(Found::Other(Scalar::Unsigned(number)))
    }

    fn visit_i64<E: de::Error>(self, number: i64) -> Result<Self::Value, E> {
        Ok(Found::Other(Scalar::Signed(number)))
    }

    fn visit_f64<E: de::Error>(self, number: f64) -> Result<Self::Value, E> {
        Ok(Found::Other(Scalar::Float(number)))
    }

    fn visit_bool<E: de::Error>(self, flag: bool) -> Result<Self::Value, E> {
        Ok(Found::Other(Scalar::Bool(flag)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(json: &str) -> Scalar<'_> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn scalars_of_every_type() {
        assert_eq!(scalar(r#""a""#), Scalar::Text(Cow::Borrowed("a")));
        assert_eq!(scalar(r#""a\"b""#), Scalar::Text(Cow::Owned("a\"b".to_owned())));
        assert_eq!(scalar("-3"), Scalar::Signed(-3));
        assert_eq!(scalar("null"), Scalar::Null);
        assert_eq!(scalar("[1, [2]]"), Scalar::List);
        assert_eq!(scalar(r#"{"a": {"b": 1}}"#), Scalar::Object);
    }

    #[test]
    fn whole_numbers() {
        assert_eq!(scalar(r#""18446744073709551615""#).whole(), Some(u64::MAX));
        assert_eq!(scalar("42").whole(), Some(42));
        assert_eq!(scalar("42.0").whole(), Some(42));
        assert_eq!(scalar("42.5").whole(), None);
        assert_eq!(scalar("-1").whole(), None);
        assert_eq!(scalar("1e300").whole(), None);
        assert_eq!(scalar(r#""x""#).whole(), None);
        assert_eq!(scalar("true").whole(), None);
    }

    #[test]
    fn floats_texts_and_excerpts() {
        assert_eq!(scalar(r#""87.5""#).float(), Some(87.5));
        assert_eq!(scalar("6").float(), Some(6.0));
        assert_eq!(scalar("6.5").text().as_deref(), Some("6.5"));
        assert_eq!(scalar("false").text().as_deref(), Some("false"));
        assert_eq!(scalar("[]").text(), None);
        assert_eq!(scalar("[1]").excerpt(), "[…]");
        assert_eq!(scalar(r#""x""#).excerpt(), "\"x\"");
    }

    #[test]
    fn keys_match_either_spelling() {
        let key = Key::new("host_statuses", "hostStatuses");
        assert!(
            key.matches("host_statuses") && key.matches("hostStatuses") && !key.matches("hosts")
        );
        assert_eq!(key.snake(), "host_statuses");
    }

    /// Counts fields and elements.
    #[derive(Debug, Default, PartialEq)]
    struct Counter {
        fields: Vec<String>,
        items: usize,
    }

    impl<'de> Sink<'de> for Counter {
        fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
            self.fields.push(key.to_owned());
            map.next_value::<IgnoredAny>().map(drop)
        }

        fn item<A: SeqAccess<'de>>(
            &mut self,
            _index: usize,
            seq: &mut A,
        ) -> Result<bool, A::Error> {
            let more = seq.next_element::<IgnoredAny>()?.is_some();
            self.items += usize::from(more);
            Ok(more)
        }
    }

    fn read<'de>(json: &'de str, objects: bool, lists: bool) -> (Found<'de>, Counter) {
        let mut counter = Counter::default();
        let mut deserializer = serde_json::Deserializer::from_str(json);
        let found = match (objects, lists) {
            (true, false) => Object(&mut counter).deserialize(&mut deserializer),
            (false, true) => List(&mut counter).deserialize(&mut deserializer),
            _ => ObjectOrList(&mut counter).deserialize(&mut deserializer),
        };
        (found.unwrap(), counter)
    }

    #[test]
    fn seeds_take_what_they_expect_and_skip_the_rest() {
        let (found, counter) = read(r#"{"a": [1], "b": {}}"#, true, false);
        assert_eq!(
            (found, counter.fields),
            (Found::Expected, vec!["a".to_owned(), "b".to_owned()])
        );
        assert_eq!(read("[1, 2, 3]", false, true).1.items, 3);
        assert_eq!(read("[1, 2]", true, false).0, Found::Other(Scalar::List));
        assert_eq!(read(r#"{"a": 1}"#, false, true).0, Found::Other(Scalar::Object));
        assert_eq!(read("null", true, true).0, Found::Null);
        assert_eq!(read("7", true, true).0, Found::Other(Scalar::Unsigned(7)));
        assert_eq!(read(r#""s""#, true, true).0, Found::Other(Scalar::Text(Cow::Borrowed("s"))));
        assert_eq!(read("[]", true, true), (Found::Expected, Counter::default()));
    }
}
