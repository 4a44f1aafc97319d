//! Serving a demo service until it is told to stop: bind and announce the address, stop
//! accepting on [`Stopped`], let requests in flight finish within [`DRAIN`].

use std::future::{Future, IntoFuture};
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;

use crate::control::{self, Stopped};
use crate::services::BoxError;

/// How long in-flight requests may take to finish once a service is asked to stop.
pub const DRAIN: Duration = Duration::from_secs(3);

/// The future a server's graceful shutdown waits for.
pub(crate) fn shutdown_signal(stopped: &Stopped) -> impl Future<Output = ()> + Send + 'static {
    let stopped = stopped.clone();
    async move {
        let reason = stopped.wait().await;
        tracing::info!(%reason, "stopping: no new connections, finishing requests in flight");
    }
}

/// Runs `server` (which stops accepting when `stopped` fires and returns once its requests are
/// done), giving up on requests still running [`DRAIN`] after the stop.
pub(crate) async fn until_stopped<E: Into<BoxError>>(
    server: impl Future<Output = Result<(), E>>,
    stopped: Stopped,
) -> Result<(), BoxError> {
    let deadline = async {
        stopped.wait().await;
        tokio::time::sleep(DRAIN).await;
    };
    tokio::select! {
        done = server => done.map_err(Into::into),
        () = deadline => {
            tracing::warn!("requests still in flight {DRAIN:?} after the stop; abandoning them");
            Ok(())
        }
    }
}

/// Serves `router` on `listener` until `stopped`, then drains.
pub(crate) async fn serve_http(
    router: Router,
    listener: TcpListener,
    stopped: Stopped,
) -> Result<(), BoxError> {
    let server = axum::serve(listener, router).with_graceful_shutdown(shutdown_signal(&stopped));
    until_stopped(server.into_future(), stopped).await
}

/// Binds the service's listener and announces it to the supervisor.
pub async fn bind() -> Result<TcpListener, BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "listening");
    control::announce_listening(addr);
    Ok(listener)
}
