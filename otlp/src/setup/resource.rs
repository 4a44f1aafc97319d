//! The resource [`init()`](crate::init) attaches to every span: detected attributes, the
//! environment, and the code, merged in the specification's order.

use std::borrow::Cow;

use tracewire::{Resource, Value};

/// What the resource is made from.
pub(crate) struct ResourceParts<'a> {
    /// `OTEL_SERVICE_NAME`.
    pub(crate) env_service_name: Option<&'a str>,
    /// `OTEL_RESOURCE_ATTRIBUTES`.
    pub(crate) env_attributes: &'a [(String, String)],
    /// [`Setup::service_name`](super::Setup::service_name).
    pub(crate) service_name: Option<&'a str>,
    /// [`Setup::service_version`](super::Setup::service_version) (a default, like detection).
    pub(crate) service_version: Option<&'a str>,
    /// [`Setup::resource_attribute`](super::Setup::resource_attribute).
    pub(crate) attributes: &'a [(Cow<'static, str>, Value)],
    /// `host.name`, or `None` if the system would not say.
    pub(crate) host_name: Option<String>,
}

/// The host's name, if the system gives a non-empty one: the kernel's on Linux, the
/// `COMPUTERNAME` variable on Windows, the `hostname` command elsewhere. (No dependency: the
/// standard library has no call for it.)
pub(crate) fn host_name() -> Option<String> {
    let name = if cfg!(target_os = "linux") {
        std::fs::read_to_string("/proc/sys/kernel/hostname").ok()
    } else if cfg!(windows) {
        std::env::var("COMPUTERNAME").ok()
    } else {
        std::process::Command::new("hostname")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
    }?;
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// Builds the resource. Precedence, highest first:
///
/// - `service.name`: `OTEL_SERVICE_NAME`, then `service.name` in `OTEL_RESOURCE_ATTRIBUTES`,
///   then the code's, then `unknown_service:<executable>`;
/// - every other attribute: the code's, then `OTEL_RESOURCE_ATTRIBUTES` (the specification
///   merges the environment as the secondary resource), then what is detected: `host.name`,
///   `process.pid`, `service.version` (from [`init!`](crate::init!)), `telemetry.sdk.*`.
pub(crate) fn build(parts: &ResourceParts<'_>) -> Resource {
    let env_name = parts
        .env_attributes
        .iter()
        .rev()
        .find_map(|(k, v)| (k == "service.name").then_some(v.as_str()));
    let name = parts
        .env_service_name
        .or(env_name)
        .or(parts.service_name)
        .map(str::to_owned)
        .unwrap_or_else(|| Resource::default().service_name().to_owned());
    // `Resource::new` sets `service.name` and `telemetry.sdk.{name,language,version}`.
    let mut r = Resource::new(name.clone());
    if let Some(host) = &parts.host_name {
        r = r.with("host.name", host.clone());
    }
    r = r.with("process.pid", i64::from(std::process::id()));
    if let Some(v) = parts.service_version {
        r = r.with("service.version", v.to_owned());
    }
    for (k, v) in parts.env_attributes {
        r = r.with(k.clone(), v.clone());
    }
    for (k, v) in parts.attributes {
        r = r.with(k.clone(), v.clone());
    }
    r.with("service.name", name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(r: &Resource) -> Vec<(String, String)> {
        r.attributes()
            .iter()
            .map(|kv| (kv.key.to_string(), format!("{:?}", kv.value)))
            .collect()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn host_name_is_the_kernels() {
        let kernel = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        assert_eq!(host_name().as_deref(), Some(kernel.trim()));
    }

    #[test]
    fn precedence() {
        let env = vec![
            ("service.name".to_owned(), "from-attributes".to_owned()),
            ("service.version".to_owned(), "9.9.9".to_owned()),
            ("team".to_owned(), "env-team".to_owned()),
            ("region".to_owned(), "eu".to_owned()),
        ];
        let code = vec![(Cow::Borrowed("team"), Value::from("code-team"))];
        let mut parts = ResourceParts {
            env_service_name: Some("from-env"),
            env_attributes: &env,
            service_name: Some("from-code"),
            service_version: Some("1.2.3"),
            attributes: &code,
            host_name: Some("box-1".into()),
        };
        let r = build(&parts);
        assert_eq!(r.service_name(), "from-env");
        assert_eq!(r.get("service.version").unwrap().as_str(), Some("9.9.9"));
        assert_eq!(r.get("team").unwrap().as_str(), Some("code-team"));
        assert_eq!(r.get("region").unwrap().as_str(), Some("eu"));
        assert_eq!(r.get("host.name").unwrap().as_str(), Some("box-1"));
        assert_eq!(
            r.get("process.pid"),
            Some(&Value::from(i64::from(std::process::id())))
        );
        assert_eq!(
            r.get("telemetry.sdk.language").unwrap().as_str(),
            Some("rust")
        );
        parts.env_service_name = None;
        assert_eq!(build(&parts).service_name(), "from-attributes");
        parts.env_attributes = &[];
        let r = build(&parts);
        assert_eq!(r.service_name(), "from-code");
        assert_eq!(r.get("service.version").unwrap().as_str(), Some("1.2.3"));
        parts.service_name = None;
        parts.host_name = None;
        let r = build(&parts);
        assert!(
            r.service_name().starts_with("unknown_service:"),
            "{:?}",
            attrs(&r)
        );
        assert_eq!(r.get("host.name"), None);
    }
}
