//! Traced channels whose spans know the server they talk to.

use tonic::transport::{Channel, Endpoint};

use crate::{Grpc, GrpcClient, GrpcClientLayer};

/// A traced channel to `endpoint`, connecting on first use; its client spans record the
/// endpoint's host and port as `server.address`/`server.port` (a `Channel` hides them from
/// layers above it).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let endpoint = tonic::transport::Endpoint::from_static("http://dispatch:50051");
/// let channel = tracewire_tonic::connect_lazy(&endpoint);
/// // let client = DispatchClient::new(channel);
/// # let _ = channel;
/// # }
/// ```
pub fn connect_lazy(endpoint: &Endpoint) -> GrpcClient<Channel> {
    traced(endpoint, endpoint.connect_lazy())
}

/// Like [`connect_lazy`], connecting now.
///
/// # Errors
///
/// When the connection cannot be made ([`Endpoint::connect`]).
pub async fn connect(endpoint: &Endpoint) -> Result<GrpcClient<Channel>, tonic::transport::Error> {
    Ok(traced(endpoint, endpoint.connect().await?))
}

fn traced(endpoint: &Endpoint, channel: Channel) -> GrpcClient<Channel> {
    let protocol = Grpc::new().server_uri(endpoint.uri());
    tower_layer::Layer::layer(&GrpcClientLayer::for_protocol(protocol), channel)
}
