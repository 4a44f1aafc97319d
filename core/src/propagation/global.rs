//! The process-wide propagation formats: what the server and client layers use when they are
//! given none. `tracewire::init()` and `tracewire_otlp::init()` set them from `OTEL_PROPAGATORS`.

use std::sync::RwLock;

use super::Propagators;

static GLOBAL: RwLock<Option<Propagators>> = RwLock::new(None);

impl Propagators {
    /// The process-wide formats: the last ones [`set_global`](Propagators::set_global) installed
    /// (the set-up installs `OTEL_PROPAGATORS`), or W3C Trace Context and Baggage before that.
    /// Layers read them once, when they are built: build them after the set-up.
    ///
    /// ```
    /// use tracewire::propagation::Propagators;
    ///
    /// Propagators::set_global(Propagators::from_names("b3multi").unwrap());
    /// assert_eq!(Propagators::global().fields()[0], "x-b3-traceid");
    /// ```
    pub fn global() -> Propagators {
        let guard = GLOBAL
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.clone().unwrap_or_else(Propagators::w3c)
    }

    /// Makes `self` the process-wide formats (see [`global`](Propagators::global)).
    pub fn set_global(self) {
        let mut guard = GLOBAL
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *guard = Some(self);
    }
}
