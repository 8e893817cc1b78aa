//! valuetree's server: the JSON API over the application layer. It adds HTTP, identity and
//! sessions, nothing that decides about performance data: every handler parses, calls the
//! app (on a blocking thread: the app is synchronous) and renders what it returns.

mod auth;
pub mod error;
pub mod oidc;
mod routes;
pub mod web;
mod writes;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::{HeaderName, HeaderValue, Request};
use error::ApiError;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use valuetree_app::{App, AppResult};

/// How the server is reached and what it accepts.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The URL people and browsers use (behind a proxy, the proxy's); sets the cookie's
    /// `Secure` flag when https and the origin a cookie-authenticated change must come from.
    pub public_url: String,
    /// Peers whose `X-Forwarded-For` is believed (reverse proxies terminating TLS).
    pub trusted_proxies: Vec<IpAddr>,
    /// The largest request body (an import upload), in bytes.
    pub body_limit: usize,
    /// A request taking longer is answered 408 (its write, if it reached the writer,
    /// completes or not as a whole).
    pub request_timeout: Duration,
    /// Single sign-on with an OpenID Connect provider, if configured.
    pub oidc: Option<oidc::OidcConfig>,
}

impl ServerConfig {
    pub fn new(public_url: impl Into<String>) -> ServerConfig {
        ServerConfig {
            public_url: public_url.into(),
            trusted_proxies: Vec::new(),
            body_limit: 32 << 20,
            request_timeout: Duration::from_secs(60),
            oidc: None,
        }
    }

    /// `scheme://host[:port]` of the public URL.
    pub fn public_origin(&self) -> String {
        let url = self.public_url.trim_end_matches('/');
        match url.find("://") {
            Some(i) => match url[i + 3..].find('/') {
                Some(j) => url[..i + 3 + j].to_string(),
                None => url.to_string(),
            },
            None => url.to_string(),
        }
    }

    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

/// What every handler holds.
#[derive(Clone)]
pub struct ServerState {
    pub app: Arc<App>,
    pub config: Arc<ServerConfig>,
    sso: Option<Arc<oidc::Sso>>,
    ready: Arc<AtomicBool>,
}

impl ServerState {
    /// The state of a server with `config`; an error says which setting is wrong.
    pub fn new(app: Arc<App>, config: ServerConfig) -> Result<ServerState, String> {
        let sso = match &config.oidc {
            Some(oidc) => Some(Arc::new(oidc::Sso::new(oidc.clone(), &config.public_url)?)),
            None => None,
        };
        Ok(ServerState {
            app,
            config: Arc::new(config),
            sso,
            ready: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Builds the snapshot and warms the writer before the server says it is ready.
    pub async fn warm_up(&self) -> Result<(), ApiError> {
        blocking(self, |app| app.warm_up()).await?;
        self.ready.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Whether single sign-on is configured (the sign-in page offers it).
    pub fn has_sso(&self) -> bool {
        self.sso.is_some()
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
}

/// Runs `work` with the app on a blocking thread (never on the async runtime's threads).
pub async fn blocking<T: Send + 'static>(
    state: &ServerState,
    work: impl FnOnce(&App) -> AppResult<T> + Send + 'static,
) -> Result<T, ApiError> {
    let app = state.app.clone();
    tokio::task::spawn_blocking(move || work(&app))
        .await
        .map_err(|e| ApiError::internal(format!("a request's worker failed: {e}")))?
        .map_err(ApiError::from)
}

/// Runs a write with the app and answers with its receipt: 201, or 200 when the same write
/// had been recorded before (a retry).
pub(crate) async fn record(
    state: &ServerState,
    work: impl FnOnce(&App) -> AppResult<valuetree_app::Receipt> + Send + 'static,
) -> Result<axum::response::Response, ApiError> {
    let receipt = blocking(state, work).await?;
    let status = if receipt.already_recorded {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::CREATED
    };
    Ok(axum::response::IntoResponse::into_response((
        status,
        axum::Json(receipt),
    )))
}

/// An amount in a body, given as a JSON number or as a decimal string ("2.5"); a bad one is
/// a 400 naming the field.
pub(crate) fn amount<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<valuetree_core::Amount, D::Error> {
    use serde::Deserialize;
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumberOrText {
        Number(f64),
        Text(String),
    }
    match NumberOrText::deserialize(deserializer)? {
        NumberOrText::Number(n) => valuetree_core::Amount::parse(&n.to_string()),
        NumberOrText::Text(t) => valuetree_core::Amount::parse(&t),
    }
    .map_err(serde::de::Error::custom)
}

/// [`amount`] for a field that may be left out.
pub(crate) fn optional_amount<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<valuetree_core::Amount>, D::Error> {
    amount(deserializer).map(Some)
}

/// A JSON body whose errors are the API's (a 400 naming the field).
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Body<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> ApiError {
        ApiError::bad_request(format!("the request body: {}", rejection.body_text()))
    }
}

/// Query parameters whose errors are the API's.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Params<T>(pub T);

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> ApiError {
        ApiError::bad_request(format!("the query: {}", rejection.body_text()))
    }
}

/// The whole service: routes, request ids, logs, limits and security headers.
pub fn router(state: ServerState) -> axum::Router {
    let request_id = HeaderName::from_static("x-request-id");
    let config = state.config.clone();
    routes::routes()
        .merge(web::routes())
        .with_state(state)
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            config.body_limit,
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            config.request_timeout,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                axum::response::IntoResponse::into_response(ApiError::internal(
                    "a handler panicked",
                ))
            },
        ))
        .layer(SetResponseHeaderLayer::overriding(
            axum::http::header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
            ),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            axum::http::header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            axum::http::header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            axum::http::header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(
            TraceLayer::new_for_http()
                .on_response(
                    tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO),
                )
                .make_span_with(|request: &Request<_>| {
                    let id = request
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    // The path only: a query string could carry something private.
                    tracing::info_span!(
                        "request",
                        request_id = %id,
                        method = %request.method(),
                        path = %request.uri().path(),
                    )
                }),
        )
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

/// Serves until `shutdown` completes; requests in flight finish first.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ServerState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let service = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(shutdown)
        .await
}
