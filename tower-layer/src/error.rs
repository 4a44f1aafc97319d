//! A borrowed view of an error that hooks can downcast, and the `error.type` it maps to.

use std::any::Any;
use std::borrow::Cow;
use std::error::Error;
use std::fmt;

/// A borrowed error of any type: displayable, and downcastable to its concrete type.
///
/// Given to hooks for service errors ([`OnResponse::on_error`](crate::OnResponse::on_error))
/// and body errors ([`BodyEnd::Error`](crate::BodyEnd::Error)), so a protocol integration can
/// read what it knows (tracewire-tonic reads a `tonic::Status`'s code) and fall back to
/// [`error_type`](Self::error_type) for the rest.
///
/// ```
/// use tracewire_tower::ErrorRef;
///
/// let err = std::io::Error::from(std::io::ErrorKind::TimedOut);
/// let view = ErrorRef::new(&err);
/// assert_eq!(view.downcast_ref::<std::io::Error>().unwrap().kind(), std::io::ErrorKind::TimedOut);
/// assert_eq!(view.error_type(), "timeout");
/// assert_eq!(view.to_string(), "timed out");
/// ```
#[derive(Clone, Copy)]
pub struct ErrorRef<'a> {
    any: &'a dyn Any,
    display: &'a dyn fmt::Display,
    type_name: &'static str,
}

impl<'a> ErrorRef<'a> {
    /// A view of `error`.
    pub fn new<E: fmt::Display + 'static>(error: &'a E) -> Self {
        ErrorRef {
            any: error,
            display: error,
            type_name: std::any::type_name::<E>(),
        }
    }

    /// The error as a `T`, if that is its type.
    pub fn downcast_ref<T: 'static>(&self) -> Option<&'a T> {
        self.any.downcast_ref()
    }

    /// The error's full type name, as [`std::any::type_name`] gives it.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// The value of `error.type` for this error: low-cardinality and meaningful.
    ///
    /// - a [`std::io::Error`], directly or as the source of a boxed `dyn Error`: its kind in
    ///   snake case (`connection_refused`, `broken_pipe`, ...), `timeout` for
    ///   [`TimedOut`](std::io::ErrorKind::TimedOut);
    /// - another boxed `dyn Error`, a `String`, or any other type of the standard library (whose
    ///   name says nothing about what failed): `_OTHER`;
    /// - any other type: its path without generic arguments, e.g.
    ///   `hyper_util::client::legacy::Error`.
    pub fn error_type(&self) -> Cow<'static, str> {
        if let Some(io) = self.downcast_ref::<std::io::Error>() {
            return io_kind(io.kind());
        }
        if let Some(source) = self.boxed() {
            return match io_source(source) {
                Some(io) => io_kind(io.kind()),
                None => Cow::Borrowed(OTHER),
            };
        }
        let path = self.type_name.split('<').next().unwrap_or(self.type_name);
        let from_std = ["std::", "core::", "alloc::"]
            .iter()
            .any(|p| path.starts_with(p));
        let named = path
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        if from_std || !named {
            Cow::Borrowed(OTHER)
        } else {
            Cow::Borrowed(path)
        }
    }

    /// The boxed error, if the error is one of the usual `Box<dyn Error ...>` types.
    fn boxed(&self) -> Option<&'a (dyn Error + 'static)> {
        type SendSync = Box<dyn Error + Send + Sync>;
        type SendOnly = Box<dyn Error + Send>;
        type Plain = Box<dyn Error>;
        if let Some(b) = self.downcast_ref::<SendSync>() {
            return Some(&**b);
        }
        if let Some(b) = self.downcast_ref::<SendOnly>() {
            return Some(&**b);
        }
        self.downcast_ref::<Plain>().map(|b| &**b)
    }
}

/// The `error.type` fallback the semantic conventions define.
pub(crate) const OTHER: &str = "_OTHER";

/// The first `std::io::Error` in `error`'s source chain (the error itself included).
fn io_source<'a>(error: &'a (dyn Error + 'static)) -> Option<&'a std::io::Error> {
    let mut next = Some(error);
    // A source chain is finite in practice; the bound guards against a cyclic one.
    for _ in 0..16 {
        let e = next?;
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        next = e.source();
    }
    None
}

fn io_kind(kind: std::io::ErrorKind) -> Cow<'static, str> {
    if kind == std::io::ErrorKind::TimedOut {
        return Cow::Borrowed("timeout");
    }
    // `Debug` names the variant (`ConnectionRefused`): snake case it.
    let name = format!("{kind:?}");
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

impl fmt::Display for ErrorRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.display.fmt(f)
    }
}

impl fmt::Debug for ErrorRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrorRef")
            .field("type", &self.type_name)
            .field("message", &format_args!("{}", self.display))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    #[derive(Debug)]
    struct Refused;

    impl fmt::Display for Refused {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("refused")
        }
    }

    #[derive(Debug)]
    struct Wrapper(io::Error);

    impl fmt::Display for Wrapper {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("connect failed")
        }
    }

    impl Error for Wrapper {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    struct Generic<T>(T);

    impl<T> fmt::Display for Generic<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("generic")
        }
    }

    #[test]
    fn error_types() {
        let io_err = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(ErrorRef::new(&io_err).error_type(), "connection_refused");
        let timeout = io::Error::from(io::ErrorKind::TimedOut);
        assert_eq!(ErrorRef::new(&timeout).error_type(), "timeout");

        let boxed: Box<dyn Error + Send + Sync> =
            Box::new(Wrapper(io::Error::from(io::ErrorKind::BrokenPipe)));
        assert_eq!(ErrorRef::new(&boxed).error_type(), "broken_pipe");
        let boxed: Box<dyn Error + Send + Sync> = "no io error inside".into();
        assert_eq!(ErrorRef::new(&boxed).error_type(), "_OTHER");
        let boxed: Box<dyn Error> = Box::new(Wrapper(io::Error::other("x")));
        assert_eq!(ErrorRef::new(&boxed).error_type(), "other");

        assert_eq!(ErrorRef::new(&String::from("oops")).error_type(), "_OTHER");
        assert_eq!(ErrorRef::new(&"oops").error_type(), "_OTHER");
        assert_eq!(
            ErrorRef::new(&Refused).error_type(),
            "tracewire_tower::error::tests::Refused"
        );
        assert_eq!(
            ErrorRef::new(&Generic(Box::new(1))).error_type(),
            "tracewire_tower::error::tests::Generic"
        );
    }

    #[test]
    fn downcast_display_and_debug() {
        let view = ErrorRef::new(&Refused);
        assert!(view.downcast_ref::<Refused>().is_some());
        assert!(view.downcast_ref::<io::Error>().is_none());
        assert_eq!(view.to_string(), "refused");
        assert_eq!(
            format!("{view:?}"),
            r#"ErrorRef { type: "tracewire_tower::error::tests::Refused", message: refused }"#
        );
    }
}
