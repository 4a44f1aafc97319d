#![doc = include_str!("../../SAMPLING.md")]

mod api;
mod buffer;
mod clock;
mod completion;
mod config;
mod convert;
mod decision_cache;
mod emit;
mod encode;
mod file;
mod forward;
mod handle;
mod policy;
mod size;
mod stage;
mod stats;
#[cfg(test)]
pub(crate) mod test_support;

pub(crate) use self::api::{keep_route, lookup_route, operations_route, stats_route};
pub use self::clock::{Clock, ManualClock, SystemClock};
pub use self::config::{KeyPart, SamplingConfig, SamplingConfigBuilder, SamplingConfigError};
pub use self::file::parse_size;
pub use self::forward::{ForwardConfig, ForwardStats};
pub use self::policy::{Reason, Trigger};
pub(crate) use self::stage::{Command, Reply, SamplingStage};
pub(crate) use self::stats::SamplingShared;
pub use self::stats::{KeepOutcome, OperationSampling, SamplingStats, TraceSampling};

/// The attributes the stage reads and writes, all under `tracewire.sampling.*` (outside the
/// OpenTelemetry namespaces).
pub mod attributes {
    /// On the root span of every kept trace (or its earliest span when the root had not
    /// arrived): the policy that kept it, a [`Reason`](super::Reason) name such as `error` or
    /// `dynamic`.
    pub const POLICY: &str = "tracewire.sampling.policy";
    /// On the same span: the effective sample rate, a double ≥ 1 — how many traces of its kind
    /// this one stands for. Multiply counts by it to re-weight. Rates from a sampler upstream
    /// (a tracewire agent forwarding here) are multiplied in.
    pub const RATE: &str = "tracewire.sampling.rate";
    /// On the same span: what made the stage decide when it did, a
    /// [`Trigger`](super::Trigger) name such as `idle_gap` or `at_once`.
    pub const TRIGGER: &str = "tracewire.sampling.trigger";
    /// Read on every span: `true` (or a non-zero number, or the text `true`, `1`, `yes`, `on`)
    /// keeps the whole trace. Set it as a span attribute, or as a W3C baggage entry that the
    /// SDK copies onto spans (`tracewire`'s `LayerBuilder::baggage_attributes`, OpenTelemetry's
    /// baggage span processor). The key can be changed in the configuration.
    pub const FORCE: &str = "tracewire.sampling.force";
}
