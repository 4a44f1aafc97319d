//! The client layer and the propagation-only interceptor.

mod interceptor;
mod layer;
mod service;

pub use self::interceptor::PropagationInterceptor;
pub use self::layer::GrpcClientLayer;
pub use self::service::GrpcClient;

#[cfg(test)]
mod tests;
