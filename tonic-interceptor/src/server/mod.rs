//! The server layer.

mod layer;
mod service;

pub use self::layer::GrpcServerLayer;
pub use self::service::GrpcServer;

#[cfg(test)]
mod tests;
