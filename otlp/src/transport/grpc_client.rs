//! OTLP/gRPC over a tonic channel, on the same TCP (and TLS) connector as OTLP/HTTP.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use std::error::Error as _;

use tonic::Code;
use tonic::codec::CompressionEncoding;
use tonic::transport::Channel;

use super::{Accepted, AttemptError, Connector, USER_AGENT_VALUE};
use crate::config::Compression;
use crate::error::OtlpExportError;
use crate::exporter::Settings;

pub(crate) struct GrpcClient {
    client: TraceServiceClient<Channel>,
    metadata: tonic::metadata::MetadataMap,
    timeout: Duration,
    settings: Settings,
}

fn connector(settings: &Settings) -> Connector {
    let tcp = super::tcp(settings);
    // gRPC needs HTTP/2, negotiated with ALPN `h2` over TLS.
    #[cfg(feature = "tls")]
    let tcp = super::tls_builder(settings)
        .enable_http2()
        .wrap_connector(tcp);
    tcp
}

impl GrpcClient {
    pub(super) fn new(settings: &Settings) -> Result<GrpcClient, OtlpExportError> {
        let channel = tonic::transport::Endpoint::from(settings.endpoint.clone())
            .user_agent(USER_AGENT_VALUE)
            .map_err(|e| OtlpExportError::Connect(super::error_chain(&e)))?
            .connect_timeout(settings.timeout)
            .connect_with_connector_lazy(connector(settings));
        let mut client = TraceServiceClient::new(channel);
        if settings.compression == Compression::Gzip {
            client = client.send_compressed(CompressionEncoding::Gzip);
        }
        client = client.accept_compressed(CompressionEncoding::Gzip);
        Ok(GrpcClient {
            client,
            metadata: tonic::metadata::MetadataMap::from_headers(settings.headers.clone()),
            timeout: settings.timeout,
            settings: settings.clone(),
        })
    }

    pub(super) async fn send(
        &mut self,
        msg: ExportTraceServiceRequest,
    ) -> Result<Accepted, AttemptError> {
        let mut req = tonic::Request::new(msg);
        *req.metadata_mut() = self.metadata.clone();
        // Tells the server the deadline (`grpc-timeout`); the exporter enforces it itself.
        req.set_timeout(self.timeout);
        let status = match self.client.export(req).await {
            Ok(resp) => return Ok(Accepted::from_response(resp.get_ref())),
            Err(status) => status,
        };
        // A failure below gRPC (connection, TLS) arrives as a status with the cause attached;
        // `UNAVAILABLE` is tonic's code for a connection that could not be made, the others
        // for one that broke.
        let established = status.code() != Code::Unavailable;
        if status.source().is_some()
            && let Some(tls) = super::tls_failure(&status, &self.settings, established)
        {
            return Err(AttemptError::fatal(OtlpExportError::Tls(tls)));
        }
        let retryable = matches!(
            status.code(),
            Code::Unavailable
                | Code::ResourceExhausted
                | Code::Cancelled
                | Code::DeadlineExceeded
                | Code::Aborted
                | Code::OutOfRange
                | Code::DataLoss
        );
        // tonic enforces the `grpc-timeout` it sends and reports it as `CANCELLED`.
        let timed_out = status.code() == Code::DeadlineExceeded
            || (status.code() == Code::Cancelled && status.message() == "Timeout expired");
        let error = if timed_out {
            OtlpExportError::Timeout
        } else {
            OtlpExportError::GrpcStatus {
                code: status.code() as i32,
                message: status.message().to_owned(),
            }
        };
        let retry_after = if retryable {
            crate::retry::retry_info(status.details())
        } else {
            None
        };
        Err(AttemptError {
            error,
            retryable,
            retry_after,
        })
    }
}
