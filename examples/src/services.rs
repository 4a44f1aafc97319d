//! The ride-hailing services. Each runs in its own process with its own `service.name`:
//!
//! ```text
//! gateway (axum)  GET /ride?lat=..&lon=..
//!   ├── dispatch (tonic)  ride.v1.Dispatch/NearbyCars
//!   │     └── ranking (axum, via the traced hyper client)  POST /rank
//!   └── pricing (axum)  GET /price?lat=..&lon=..      (in parallel with dispatch)
//! ```
//!
//! Tracing takes one layer per server and one wrapper per client; everything else here is
//! business logic. `#[instrument]` marks some inner work so in-process spans appear under the
//! request spans.

use std::net::SocketAddr;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::{MethodRouter, get, post};
use axum::{Json, Router};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde::{Deserialize, Serialize};
use tonic::transport::{Channel, Server};
use tower_layer::Layer as _;
use tracewire::SpanExt;
use tracewire::propagation::Propagators;
use tracing::instrument;

use crate::control::Stopped;
use crate::faults::Faults;
use crate::proto::dispatch_client::DispatchClient;
use crate::proto::dispatch_server::{Dispatch, DispatchServer};
use crate::proto::{Car, NearbyCarsRequest, NearbyCarsResponse};
use crate::serve::{bind, serve_http, shutdown_signal, until_stopped};
use crate::telemetry::RIDER_TIER;

/// A boxed error for the services' plumbing.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// One of the four services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum ServiceName {
    /// The edge: `GET /ride`.
    Gateway,
    /// Nearby cars, over gRPC.
    Dispatch,
    /// Fares.
    Pricing,
    /// Sorting cars by distance and rating.
    Ranking,
}

impl ServiceName {
    /// Every service, callees before callers (the order they start in).
    pub const ALL: [ServiceName; 4] = [
        ServiceName::Ranking,
        ServiceName::Pricing,
        ServiceName::Dispatch,
        ServiceName::Gateway,
    ];

    /// The name, which is also the `service.name`.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceName::Gateway => "gateway",
            ServiceName::Dispatch => "dispatch",
            ServiceName::Pricing => "pricing",
            ServiceName::Ranking => "ranking",
        }
    }

    /// The name of the service's server spans: `{method} {route}` for HTTP,
    /// `{package.Service}/{Method}` for gRPC.
    pub fn server_operation(self) -> &'static str {
        match self {
            ServiceName::Gateway => "GET /ride",
            ServiceName::Dispatch => "ride.v1.Dispatch/NearbyCars",
            ServiceName::Pricing => "GET /price",
            ServiceName::Ranking => "POST /rank",
        }
    }
}

impl std::fmt::Display for ServiceName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// What a service should get wrong and where its callees are.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Injected faults.
    pub faults: Faults,
    /// The dispatch service's address (gateway only).
    pub dispatch: Option<SocketAddr>,
    /// The pricing service's address (gateway only).
    pub pricing: Option<SocketAddr>,
    /// The ranking service's address (dispatch only).
    pub ranking: Option<SocketAddr>,
    /// The propagation formats every server and client layer uses (`OTEL_PROPAGATORS`).
    pub propagators: Propagators,
}

/// Runs `service` until `stopped`, then lets in-flight requests finish (at most
/// [`DRAIN`](crate::serve::DRAIN)).
pub async fn run(
    service: ServiceName,
    cfg: ServiceConfig,
    stopped: Stopped,
) -> Result<(), BoxError> {
    match service {
        ServiceName::Gateway => gateway(cfg, stopped).await,
        ServiceName::Dispatch => dispatch(cfg, stopped).await,
        ServiceName::Pricing => pricing(cfg, stopped).await,
        ServiceName::Ranking => ranking(cfg, stopped).await,
    }
}

/// The server layer every HTTP service uses: spans named from axum's route templates.
fn http_layer(cfg: &ServiceConfig) -> tracewire_axum::AxumLayer {
    tracewire_axum::layer().propagators(cfg.propagators.clone())
}

/// Serves the one route of a leaf HTTP service (ranking, pricing), with its faults as state,
/// behind [`http_layer`].
async fn serve_route(
    cfg: ServiceConfig,
    stopped: Stopped,
    path: &str,
    route: MethodRouter<Faults>,
) -> Result<(), BoxError> {
    let router = Router::new()
        .route(path, route)
        .with_state(cfg.faults)
        .layer(http_layer(&cfg));
    serve_http(router, bind().await?, stopped).await
}

/// The traced HTTP client the gateway and dispatch call their callees with.
fn http_client(cfg: &ServiceConfig) -> tracewire_hyper::Client {
    tracewire_hyper::Client::new().propagators(cfg.propagators.clone())
}

/// Waits `by` if the faults say this request is slow; returns whether it should fail.
async fn apply(faults: &Faults) -> bool {
    let (slow, fail) = faults.draw();
    if let Some(by) = slow {
        tracing::info!(delay_ms = by.as_millis() as u64, "injected latency");
        tokio::time::sleep(by).await;
    }
    if fail {
        tracing::warn!("injected failure");
    }
    fail
}

/// A 502 for a failed call, logged with the request's trace id.
fn bad_gateway(what: &str, error: impl std::fmt::Display) -> (StatusCode, String) {
    let message = format!("{what}: {error}");
    tracing::warn!(error = %message, "ride request failed");
    (StatusCode::BAD_GATEWAY, message)
}

// --- gateway ---------------------------------------------------------------------------------

#[derive(Clone)]
struct Gateway {
    dispatch: DispatchClient<tracewire_tonic::GrpcClient<Channel>>,
    pricing: SocketAddr,
    http: tracewire_hyper::Client,
    faults: Faults,
}

/// The rider's position.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
pub struct Position {
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
}

/// A quote for a ride.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Price {
    /// The fare in the local currency.
    pub fare: f64,
    /// The surge multiplier applied.
    pub surge: f64,
}

/// What the rider gets back.
#[derive(Debug, Serialize, Deserialize)]
pub struct RideOffer {
    /// The best cars, best first.
    pub cars: Vec<CarView>,
    /// The price.
    pub price: Price,
    /// The trace id, so a rider's complaint can be looked up.
    pub trace_id: String,
}

/// A car as the rider sees it.
#[derive(Debug, Serialize, Deserialize)]
pub struct CarView {
    /// The car.
    pub id: String,
    /// How far away it is.
    pub distance_km: f64,
    /// Its rating.
    pub rating: f64,
}

async fn ride(
    State(g): State<Gateway>,
    Query(pos): Query<Position>,
) -> Result<Json<RideOffer>, (StatusCode, String)> {
    if apply(&g.faults).await {
        return Err((StatusCode::INTERNAL_SERVER_ERROR, "gateway fault".into()));
    }
    // Baggage set at the edge labels every downstream span (the services copy this key onto
    // their spans), so latency can be broken down by customer tier.
    if let Err(e) = tracing::Span::current().set_baggage(RIDER_TIER, rider_tier(pos)) {
        tracing::warn!(error = %e, "rider tier not set");
    }
    let mut dispatch = g.dispatch.clone();
    let (cars, price) = tokio::join!(
        dispatch.nearby_cars(NearbyCarsRequest {
            lat: pos.lat,
            lon: pos.lon,
            limit: 3,
        }),
        quote(&g.http, g.pricing, pos),
    );
    let cars = cars.map_err(|s| bad_gateway("dispatch", s.message()))?;
    let price = price.map_err(|e| bad_gateway("pricing", e))?;
    let cars = cars.into_inner().cars;
    tracing::info!(cars = cars.len(), fare = price.fare, "ride offered");
    Ok(Json(RideOffer {
        cars: cars
            .into_iter()
            .map(|c| CarView {
                id: c.id,
                distance_km: c.distance_km,
                rating: c.rating,
            })
            .collect(),
        price,
        trace_id: tracewire::current()
            .trace_id()
            .map(|t| t.to_string())
            .unwrap_or_default(),
    }))
}

/// Riders in the city centre are "gold" customers in this story.
#[instrument(level = "info")]
fn rider_tier(pos: Position) -> &'static str {
    if pos.lat.abs() < 1.0 {
        "gold"
    } else {
        "standard"
    }
}

async fn quote(
    http: &tracewire_hyper::Client,
    pricing: SocketAddr,
    pos: Position,
) -> Result<Price, BoxError> {
    let uri = format!("http://{pricing}/price?lat={}&lon={}", pos.lat, pos.lon).parse()?;
    let res = http.get(uri).await?;
    let status = res.status();
    let body = res.into_body().collect().await?.to_bytes();
    if !status.is_success() {
        return Err(format!("status {status}").into());
    }
    Ok(serde_json::from_slice(&body)?)
}

/// Runs the gateway.
pub async fn gateway(cfg: ServiceConfig, stopped: Stopped) -> Result<(), BoxError> {
    let dispatch_addr = cfg.dispatch.ok_or("gateway needs --dispatch")?;
    let endpoint = Channel::from_shared(format!("http://{dispatch_addr}"))?;
    // The traced channel records the endpoint as `server.address`/`server.port`.
    let grpc = tracewire_tonic::Grpc::new().server_uri(endpoint.uri());
    let dispatch = DispatchClient::new(
        tracewire_tonic::GrpcClientLayer::for_protocol(grpc)
            .propagators(cfg.propagators.clone())
            .layer(endpoint.connect_lazy()),
    );
    let state = Gateway {
        dispatch,
        pricing: cfg.pricing.ok_or("gateway needs --pricing")?,
        http: http_client(&cfg),
        faults: cfg.faults,
    };
    let router = Router::new()
        .route("/ride", get(ride))
        .route("/health", get(|| async { "ok" }))
        .with_state(state)
        .layer(http_layer(&cfg));
    serve_http(router, bind().await?, stopped).await
}

// --- dispatch ----------------------------------------------------------------------------------

struct DispatchService {
    ranking: SocketAddr,
    http: tracewire_hyper::Client,
    faults: Faults,
}

/// The request `ranking` serves.
#[derive(Debug, Serialize, Deserialize)]
pub struct RankRequest {
    /// The rider's position.
    pub rider: Position,
    /// The candidates.
    pub cars: Vec<RankCar>,
}

/// A candidate car for ranking.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RankCar {
    /// Its id.
    pub id: String,
    /// Where it is.
    pub lat: f64,
    /// Where it is.
    pub lon: f64,
    /// Its rating, 1–5.
    pub rating: f64,
    /// Filled in by ranking.
    #[serde(default)]
    pub distance_km: f64,
}

/// Cars around the rider, from a deterministic "fleet" so the demo needs no data.
#[instrument(level = "info", skip(pos), fields(candidates))]
fn find_candidates(pos: Position, limit: usize) -> Vec<RankCar> {
    let seed = ((pos.lat * 1000.0) as i64 ^ (pos.lon * 1000.0) as i64).unsigned_abs();
    let cars: Vec<RankCar> = (0..(limit * 4))
        .map(|i| {
            let k = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(i as u64 * 1442695040888963407);
            let dx = ((k >> 16) % 2000) as f64 / 100_000.0 - 0.01;
            let dy = ((k >> 32) % 2000) as f64 / 100_000.0 - 0.01;
            RankCar {
                id: format!("car-{:04}", (k >> 48) % 10_000),
                lat: pos.lat + dx,
                lon: pos.lon + dy,
                rating: 3.5 + ((k >> 8) % 150) as f64 / 100.0,
                distance_km: 0.0,
            }
        })
        .collect();
    tracing::Span::current().record("candidates", cars.len());
    cars
}

#[tonic::async_trait]
impl Dispatch for DispatchService {
    async fn nearby_cars(
        &self,
        request: tonic::Request<NearbyCarsRequest>,
    ) -> Result<tonic::Response<NearbyCarsResponse>, tonic::Status> {
        let req = request.into_inner();
        if apply(&self.faults).await {
            return Err(tonic::Status::unavailable("dispatch fault"));
        }
        let pos = Position {
            lat: req.lat,
            lon: req.lon,
        };
        let limit = req.limit.clamp(1, 10) as usize;
        let candidates = find_candidates(pos, limit);
        let body = serde_json::to_vec(&RankRequest {
            rider: pos,
            cars: candidates,
        })
        .map_err(|e| tonic::Status::internal(e.to_string()))?;
        let req = http::Request::post(format!("http://{}/rank", self.ranking))
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| tonic::Status::internal(e.to_string()))?;
        let res = self
            .http
            .request(req)
            .await
            .map_err(|e| tonic::Status::unavailable(format!("ranking: {e}")))?;
        if !res.status().is_success() {
            return Err(tonic::Status::unavailable(format!(
                "ranking answered {}",
                res.status()
            )));
        }
        let bytes = res
            .into_body()
            .collect()
            .await
            .map_err(|e| tonic::Status::unavailable(format!("ranking: {e}")))?
            .to_bytes();
        let ranked: Vec<RankCar> =
            serde_json::from_slice(&bytes).map_err(|e| tonic::Status::internal(e.to_string()))?;
        tracing::info!(candidates = ranked.len(), "nearby cars ranked");
        Ok(tonic::Response::new(NearbyCarsResponse {
            cars: ranked
                .into_iter()
                .take(limit)
                .map(|c| Car {
                    id: c.id,
                    lat: c.lat,
                    lon: c.lon,
                    rating: c.rating,
                    distance_km: c.distance_km,
                })
                .collect(),
        }))
    }
}

/// Runs dispatch.
pub async fn dispatch(cfg: ServiceConfig, stopped: Stopped) -> Result<(), BoxError> {
    let svc = DispatchService {
        ranking: cfg.ranking.ok_or("dispatch needs --ranking")?,
        http: http_client(&cfg),
        faults: cfg.faults,
    };
    let listener = bind().await?;
    let server = Server::builder()
        .layer(tracewire_tonic::GrpcServerLayer::new().propagators(cfg.propagators.clone()))
        .add_service(DispatchServer::new(svc))
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            shutdown_signal(&stopped),
        );
    until_stopped(server, stopped).await
}

// --- ranking -----------------------------------------------------------------------------------

/// Distance on a sphere, in km.
fn haversine_km(a: Position, lat: f64, lon: f64) -> f64 {
    let (p1, p2) = (a.lat.to_radians(), lat.to_radians());
    let dp = p2 - p1;
    let dl = (lon - a.lon).to_radians();
    let h = (p1.cos() * p2.cos()).mul_add((dl / 2.0).sin().powi(2), (dp / 2.0).sin().powi(2));
    2.0 * 6371.0 * h.sqrt().asin()
}

/// Sorts cars by a blend of closeness and rating.
#[instrument(level = "info", skip_all, fields(cars = cars.len()))]
fn score(rider: Position, mut cars: Vec<RankCar>) -> Vec<RankCar> {
    for c in &mut cars {
        c.distance_km = haversine_km(rider, c.lat, c.lon);
    }
    cars.sort_by(|a, b| {
        let sa = 0.3f64.mul_add(-a.rating, a.distance_km);
        let sb = 0.3f64.mul_add(-b.rating, b.distance_km);
        sa.total_cmp(&sb)
    });
    cars
}

async fn rank(
    State(faults): State<Faults>,
    Json(req): Json<RankRequest>,
) -> Result<Json<Vec<RankCar>>, (StatusCode, String)> {
    if apply(&faults).await {
        return Err((StatusCode::INTERNAL_SERVER_ERROR, "ranking fault".into()));
    }
    let ranked = score(req.rider, req.cars);
    tracing::info!(
        cars = ranked.len(),
        best = ranked.first().map(|c| c.id.as_str()),
        "ranked"
    );
    Ok(Json(ranked))
}

/// Runs ranking.
pub async fn ranking(cfg: ServiceConfig, stopped: Stopped) -> Result<(), BoxError> {
    serve_route(cfg, stopped, "/rank", post(rank)).await
}

// --- pricing -----------------------------------------------------------------------------------

/// Demand is higher near the centre.
#[instrument(level = "info")]
fn surge_multiplier(pos: Position) -> f64 {
    let d = (pos.lat * pos.lat + pos.lon * pos.lon).sqrt();
    if d < 0.05 { 1.8 } else { 1.0 + 0.2 / (1.0 + d) }
}

async fn price(
    State(faults): State<Faults>,
    Query(pos): Query<Position>,
) -> Result<Json<Price>, (StatusCode, String)> {
    if apply(&faults).await {
        return Err((StatusCode::INTERNAL_SERVER_ERROR, "pricing fault".into()));
    }
    let surge = surge_multiplier(pos);
    let fare = ((4.5 + 7.0) * surge * 100.0).round() / 100.0;
    tracing::info!(fare, surge, "priced");
    Ok(Json(Price { fare, surge }))
}

/// Runs pricing.
pub async fn pricing(cfg: ServiceConfig, stopped: Stopped) -> Result<(), BoxError> {
    serve_route(cfg, stopped, "/price", get(price)).await
}
