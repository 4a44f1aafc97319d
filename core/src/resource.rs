//! The [`Resource`]: attributes describing the process that produces spans.

use std::borrow::Cow;

use crate::value::{KeyValue, Text, Value};

/// Attributes of the entity producing spans: `service.name` and friends.
///
/// [`Resource::from_env`] reads `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` (whose
/// `service.name`, if any, loses to `OTEL_SERVICE_NAME`, as the specification says).
///
/// ```
/// use tracewire::Resource;
///
/// let r = Resource::new("checkout").with("deployment.environment.name", "prod");
/// assert_eq!(r.service_name(), "checkout");
/// assert_eq!(r.get("telemetry.sdk.name").unwrap().as_str(), Some("tracewire"));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    attributes: Vec<KeyValue>,
}

impl Resource {
    /// A resource for `service_name`, with the SDK attributes set.
    pub fn new(service_name: impl Into<Cow<'static, str>>) -> Self {
        Resource {
            attributes: vec![
                KeyValue::new(
                    "service.name",
                    Value::String(Text::from(service_name.into())),
                ),
                KeyValue::new("telemetry.sdk.name", "tracewire"),
                KeyValue::new("telemetry.sdk.language", "rust"),
                KeyValue::new("telemetry.sdk.version", env!("CARGO_PKG_VERSION")),
            ],
        }
    }

    /// A resource from the environment, falling back to `unknown_service:{executable}`.
    pub fn from_env() -> Self {
        Resource::from_vars(
            std::env::var("OTEL_SERVICE_NAME").ok().as_deref(),
            std::env::var("OTEL_RESOURCE_ATTRIBUTES").ok().as_deref(),
        )
    }

    pub(crate) fn from_vars(service_name: Option<&str>, attributes: Option<&str>) -> Self {
        let mut extra = Vec::new();
        let mut attr_service = None;
        for pair in attributes.unwrap_or("").split(',') {
            let Some((k, v)) = pair.split_once('=') else {
                continue;
            };
            let (k, v) = (k.trim(), v.trim());
            if k.is_empty() {
                continue;
            }
            let v = percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned();
            if k == "service.name" {
                attr_service = Some(v);
            } else {
                extra.push((k.to_owned(), v));
            }
        }
        let name = service_name
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .or(attr_service)
            .unwrap_or_else(default_service_name);
        let mut r = Resource::new(name);
        for (k, v) in extra {
            r = r.with(k, v);
        }
        r
    }

    /// The resource with `key` set to `value` (replacing an existing value).
    #[must_use]
    pub fn with(mut self, key: impl Into<Cow<'static, str>>, value: impl Into<Value>) -> Self {
        let kv = KeyValue::new(key, value);
        match self.attributes.iter_mut().find(|a| a.key == kv.key) {
            Some(a) => a.value = kv.value,
            None => self.attributes.push(kv),
        }
        self
    }

    /// The `service.name`.
    pub fn service_name(&self) -> &str {
        self.get("service.name")
            .and_then(Value::as_str)
            .unwrap_or("unknown_service")
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.attributes
            .iter()
            .find(|a| a.key == key)
            .map(|a| &a.value)
    }

    /// Every attribute.
    pub fn attributes(&self) -> &[KeyValue] {
        &self.attributes
    }
}

impl Default for Resource {
    fn default() -> Self {
        Resource::new(default_service_name())
    }
}

fn default_service_name() -> String {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    format!("unknown_service:{exe}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_precedence() {
        let r = Resource::from_vars(
            Some("checkout"),
            Some("service.name=other,team=pay%20ments, region = eu"),
        );
        assert_eq!(r.service_name(), "checkout");
        assert_eq!(r.get("team").unwrap().as_str(), Some("pay ments"));
        assert_eq!(r.get("region").unwrap().as_str(), Some("eu"));
        let r = Resource::from_vars(None, Some("service.name=other"));
        assert_eq!(r.service_name(), "other");
        let r = Resource::from_vars(Some("  "), None);
        assert!(r.service_name().starts_with("unknown_service:"));
    }
}
