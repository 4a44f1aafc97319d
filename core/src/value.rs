//! Attribute values: [`Value`] (with [`Array`]), the allocation-free short string [`Text`], and
//! [`KeyValue`].

use std::borrow::Cow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// A string attribute value that does not allocate when it is short.
///
/// Most attribute values are a few bytes (`GET`, `http`, `/rides/{id}`, `127.0.0.1`); they are
/// kept inline (up to 30 bytes), so recording them costs no heap allocation — and no
/// cross-thread free when the export worker drops the span. Static strings are kept by
/// reference; longer ones are shared (`Arc<str>`), so cloning never copies them.
///
/// ```
/// use tracewire::Text;
///
/// let t = Text::new("GET");
/// assert_eq!(t.as_str(), "GET");
/// assert_eq!(t, Text::from("GET"));
/// assert_eq!(Text::new(&"x".repeat(100)).len(), 100);
/// ```
#[derive(Clone)]
pub struct Text(TextRepr);

const INLINE: usize = 30;

#[derive(Clone)]
enum TextRepr {
    Static(&'static str),
    Inline { len: u8, buf: [u8; INLINE] },
    Shared(Arc<str>),
}

impl Text {
    /// A copy of `s`, inline when it is short.
    #[inline]
    pub fn new(s: &str) -> Self {
        if s.len() <= INLINE {
            let mut buf = [0u8; INLINE];
            buf[..s.len()].copy_from_slice(s.as_bytes());
            Text(TextRepr::Inline {
                len: s.len() as u8,
                buf,
            })
        } else {
            Text(TextRepr::Shared(Arc::from(s)))
        }
    }

    /// The string.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            TextRepr::Static(s) => s,
            // Only whole `str`s are copied in, so the bytes are valid UTF-8.
            TextRepr::Inline { len, buf } => {
                std::str::from_utf8(&buf[..*len as usize]).unwrap_or("")
            }
            TextRepr::Shared(s) => s,
        }
    }

    /// The string's bytes, read from the representation: unlike `as_str` (and `str::as_bytes`
    /// through `Deref`), an inline text's bytes are not checked as UTF-8 again, so a consumer
    /// that hashes or compares bytes (an interner's lookup) pays nothing per read. They are
    /// always valid UTF-8: a `Text` is only ever made from a whole `str`.
    ///
    /// ```
    /// use tracewire::Text;
    ///
    /// assert_eq!(Text::new("GET").as_bytes(), b"GET");
    /// assert_eq!(Text::new(&"é".repeat(20)).as_bytes(), "é".repeat(20).as_bytes());
    /// ```
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            TextRepr::Static(s) => s.as_bytes(),
            TextRepr::Inline { len, buf } => &buf[..usize::from(*len)],
            TextRepr::Shared(s) => s.as_bytes(),
        }
    }

    /// The string, if it is a `&'static str` kept by reference ([`Text::from`] a literal): a
    /// consumer may then key on its address, which names its text for the whole process.
    ///
    /// ```
    /// use tracewire::Text;
    ///
    /// assert_eq!(Text::from("GET").as_static(), Some("GET"));
    /// assert_eq!(Text::new("GET").as_static(), None);
    /// ```
    pub fn as_static(&self) -> Option<&'static str> {
        match self.0 {
            TextRepr::Static(s) => Some(s),
            _ => None,
        }
    }

    /// The length in bytes (read from the representation; `str::len` through `Deref` would
    /// check an inline text's bytes first).
    #[inline]
    pub fn len(&self) -> usize {
        match &self.0 {
            TextRepr::Static(s) => s.len(),
            TextRepr::Inline { len, .. } => usize::from(*len),
            TextRepr::Shared(s) => s.len(),
        }
    }

    /// Whether the text is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes this text refers to, for memory accounting: none for a literal or a short
    /// (inline) text, the shared allocation (its two counters and the text) otherwise, counted
    /// for each clone.
    ///
    /// ```
    /// use tracewire::Text;
    ///
    /// assert_eq!(Text::from("a literal of any length, kept by reference").heap_bytes(), 0);
    /// assert_eq!(Text::new("GET").heap_bytes(), 0);
    /// assert_eq!(Text::new(&"x".repeat(100)).heap_bytes(), 116);
    /// ```
    pub fn heap_bytes(&self) -> usize {
        match &self.0 {
            TextRepr::Static(_) | TextRepr::Inline { .. } => 0,
            TextRepr::Shared(s) => 2 * std::mem::size_of::<usize>() + s.len(),
        }
    }

    /// The string as a `Cow` (borrowed when static, else owned).
    pub fn into_cow(self) -> Cow<'static, str> {
        match self.0 {
            TextRepr::Static(s) => Cow::Borrowed(s),
            _ => Cow::Owned(self.as_str().to_owned()),
        }
    }
}

impl std::ops::Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Text {}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Hash for Text {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&'static str> for Text {
    fn from(s: &'static str) -> Self {
        Text(TextRepr::Static(s))
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        if s.len() <= INLINE {
            Text::new(&s)
        } else {
            Text(TextRepr::Shared(Arc::from(s)))
        }
    }
}

impl From<Cow<'static, str>> for Text {
    fn from(s: Cow<'static, str>) -> Self {
        match s {
            Cow::Borrowed(s) => Text::from(s),
            Cow::Owned(s) => Text::from(s),
        }
    }
}

/// An attribute value: a scalar, or a homogeneous [`Array`] of scalars.
///
/// ```
/// use tracewire::{Array, Value};
///
/// // A repeated request header, as the semantic conventions record it.
/// let accept = Value::from(vec!["text/html", "application/json"]);
/// assert_eq!(accept, Value::Array(Array::String(vec!["text/html".into(), "application/json".into()])));
/// assert_eq!(accept.to_string(), r#"["text/html","application/json"]"#);
/// assert_eq!(Value::from(200i64).to_string(), "200");
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    I64(i64),
    /// A float.
    F64(f64),
    /// A string.
    String(Text),
    /// An array whose elements all have one scalar type.
    Array(Array),
}

/// A homogeneous array attribute value, as OpenTelemetry defines them (exported to OTLP as an
/// `ArrayValue`).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Array {
    /// Booleans.
    Bool(Vec<bool>),
    /// Signed integers.
    I64(Vec<i64>),
    /// Floats.
    F64(Vec<f64>),
    /// Strings, e.g. the values of an HTTP header (`http.request.header.<name>`).
    String(Vec<Text>),
}

impl Array {
    /// The number of elements.
    pub fn len(&self) -> usize {
        match self {
            Array::Bool(v) => v.len(),
            Array::I64(v) => v.len(),
            Array::F64(v) => v.len(),
            Array::String(v) => v.len(),
        }
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Writes the array as a JSON array (non-finite floats as `null`), the form OpenTelemetry
/// asks of exporters that have no array type.
impl fmt::Display for Array {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn list<T>(
            f: &mut fmt::Formatter<'_>,
            items: &[T],
            one: impl Fn(&mut fmt::Formatter<'_>, &T) -> fmt::Result,
        ) -> fmt::Result {
            f.write_str("[")?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                one(f, item)?;
            }
            f.write_str("]")
        }
        match self {
            Array::Bool(v) => list(f, v, |f, b| write!(f, "{b}")),
            Array::I64(v) => list(f, v, |f, i| write!(f, "{i}")),
            Array::F64(v) => list(f, v, |f, x| match serde_json::Number::from_f64(*x) {
                Some(n) => write!(f, "{n}"),
                None => f.write_str("null"),
            }),
            Array::String(v) => list(f, v, |f, s| {
                let quoted = serde_json::Value::from(s.as_str()).to_string();
                f.write_str(&quoted)
            }),
        }
    }
}

impl Value {
    /// The string, if this is a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// The integer, if this is an integer value.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::I64(v) => Some(*v),
            _ => None,
        }
    }

    /// The array, if this is an array value.
    pub fn as_array(&self) -> Option<&Array> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
}

impl Value {
    /// Makes this a string value holding a copy of `s`, written in place: the bytes go straight
    /// into `self` instead of into a [`Text`] on the stack that is then moved.
    #[inline]
    pub(crate) fn set_str(&mut self, s: &str) {
        if s.len() <= INLINE {
            self.set(Value::String(Text(TextRepr::Inline {
                len: s.len() as u8,
                buf: [0; INLINE],
            })));
            if let Value::String(Text(TextRepr::Inline { buf, .. })) = self {
                buf[..s.len()].copy_from_slice(s.as_bytes());
            }
        } else {
            self.set(Value::String(Text(TextRepr::Shared(Arc::from(s)))));
        }
    }

    /// Replaces this value with `new`. A value that owns no heap (a boolean or a number: the
    /// placeholder a recorded field's value is written over) is overwritten without calling
    /// `Value`'s drop, whose out-of-line call and jump on the variant would run for every
    /// recorded field.
    #[inline(always)]
    #[expect(
        clippy::mem_forget,
        reason = "only a value that owns nothing is forgotten: there is nothing to leak"
    )]
    pub(crate) fn set(&mut self, new: Value) {
        match self {
            Value::Bool(_) | Value::I64(_) | Value::F64(_) => {
                std::mem::forget(std::mem::replace(self, new))
            }
            _ => *self = new,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(v) => write!(f, "{v}"),
            Value::I64(v) => write!(f, "{v}"),
            Value::F64(v) => write!(f, "{v}"),
            Value::String(v) => f.write_str(v.as_str()),
            Value::Array(v) => v.fmt(f),
        }
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::I64(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::F64(v)
    }
}

impl From<&'static str> for Value {
    fn from(v: &'static str) -> Self {
        Value::String(Text::from(v))
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::String(Text::from(v))
    }
}

impl From<Text> for Value {
    fn from(v: Text) -> Self {
        Value::String(v)
    }
}

impl From<Array> for Value {
    fn from(v: Array) -> Self {
        Value::Array(v)
    }
}

macro_rules! array_from {
    ($($elem:ty => $variant:ident($conv:expr)),* $(,)?) => {$(
        impl From<Vec<$elem>> for Value {
            fn from(v: Vec<$elem>) -> Self {
                Value::Array(Array::$variant(v.into_iter().map($conv).collect()))
            }
        }
    )*};
}

array_from! {
    bool => Bool(std::convert::identity),
    i64 => I64(std::convert::identity),
    f64 => F64(std::convert::identity),
    Text => String(std::convert::identity),
    &'static str => String(Text::from),
    String => String(Text::from),
}

/// A key/value attribute.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyValue {
    /// The key, e.g. `http.request.method`.
    pub key: Cow<'static, str>,
    /// The value.
    pub value: Value,
}

impl KeyValue {
    /// An attribute.
    pub fn new(key: impl Into<Cow<'static, str>>, value: impl Into<Value>) -> Self {
        KeyValue {
            key: key.into(),
            value: value.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_from_vectors() {
        assert_eq!(
            Value::from(vec!["a".to_owned(), "b".to_owned()]),
            Value::Array(Array::String(vec![Text::from("a"), Text::new("b")]))
        );
        assert_eq!(
            Value::from(vec![1i64, -2]),
            Value::Array(Array::I64(vec![1, -2]))
        );
        assert_eq!(
            Value::from(vec![true]),
            Value::Array(Array::Bool(vec![true]))
        );
        assert_eq!(Value::from(vec![0.5]), Value::Array(Array::F64(vec![0.5])));
        let empty = Value::from(Vec::<i64>::new());
        assert!(empty.as_array().unwrap().is_empty());
        assert_eq!(Value::from(vec!["x"]).as_array().unwrap().len(), 1);
        assert_eq!(Value::from(vec!["x"]).as_str(), None);
    }

    #[test]
    fn strings_set_in_place_equal_new_ones() {
        for s in [
            "",
            "GET",
            &"x".repeat(INLINE),
            &"é".repeat(INLINE),
            &"y".repeat(INLINE + 1),
        ] {
            for mut v in [
                Value::I64(7),
                Value::Bool(true),
                Value::F64(0.5),
                Value::String(Text::new(&"z".repeat(64))),
                Value::from(vec!["a", "b"]),
            ] {
                v.set_str(s);
                assert_eq!(v, Value::String(Text::new(s)));
                assert_eq!(v.as_str(), Some(s));
            }
        }
    }

    #[test]
    fn arrays_display_as_json() {
        assert_eq!(Value::from(vec![true, false]).to_string(), "[true,false]");
        assert_eq!(Value::from(vec![1i64, -2]).to_string(), "[1,-2]");
        assert_eq!(
            Value::from(vec![1.5, f64::INFINITY]).to_string(),
            "[1.5,null]"
        );
        assert_eq!(
            Value::from(vec!["a\"b", "c,d"]).to_string(),
            r#"["a\"b","c,d"]"#
        );
        assert_eq!(Value::from(Vec::<bool>::new()).to_string(), "[]");
    }
}
