//! The span-name hook.

use std::borrow::Cow;

use http::request::Parts;

use crate::attrs::span_method;

/// Names the server span. Called only for sampled spans (unsampled ones are never exported),
/// with the protocol's name key: the route template for HTTP (when one is known), the method
/// (`package.Service/Method`) for gRPC.
///
/// Implemented for [`DefaultSpanName`] (HTTP), tracewire-tonic's `GrpcSpanName`, and closures
/// `Fn(&Parts, Option<&str>) -> impl Into<Cow<'static, str>>`.
pub trait MakeSpanName {
    /// The span name for a request and its name key.
    fn span_name<'a>(&self, parts: &'a Parts, key: Option<&'a str>) -> Cow<'a, str>;
}

/// The HTTP semantic-convention span name: `{METHOD} {route}` when a route template is known, else
/// `{METHOD}` (`HTTP` for a non-standard method). Never the raw path, whose cardinality is
/// unbounded.
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct DefaultSpanName;

impl MakeSpanName for DefaultSpanName {
    fn span_name<'a>(&self, parts: &'a Parts, route: Option<&'a str>) -> Cow<'a, str> {
        let method = span_method(&parts.method);
        match route {
            Some(route) => {
                // Joined by hand: `format!` costs several times the copy.
                let mut name = String::with_capacity(method.len() + 1 + route.len());
                name.push_str(method);
                name.push(' ');
                name.push_str(route);
                Cow::Owned(name)
            }
            None => Cow::Borrowed(method),
        }
    }
}

impl<F, R> MakeSpanName for F
where
    F: Fn(&Parts, Option<&str>) -> R,
    R: Into<Cow<'static, str>>,
{
    fn span_name<'a>(&self, parts: &'a Parts, key: Option<&'a str>) -> Cow<'a, str> {
        self(parts, key).into()
    }
}
