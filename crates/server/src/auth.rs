//! Who is calling: an API token (`Authorization: Bearer …`) or the session cookie, turned
//! into the app's [`Actor`]. A cookie-authenticated change must come from the server's own
//! origin (CSRF); a read-only token may not change anything.

use crate::error::ApiError;
use crate::{ServerState, blocking};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use std::net::{IpAddr, SocketAddr};
use valuetree_app::Actor;
use valuetree_app::accounts::{Identity, TokenScope, Via};

pub const SESSION_COOKIE: &str = "vt_session";

/// The signed-in caller of a request.
pub struct Caller {
    pub identity: Identity,
    pub actor: Actor,
}

/// The client's address: the peer, or the first `X-Forwarded-For` entry when the peer is a
/// trusted reverse proxy (never believed from anyone else).
pub fn client_address(parts: &Parts, state: &ServerState) -> String {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    match peer {
        Some(ip) if state.config.trusted_proxies.contains(&ip) => parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok())
            .unwrap_or(ip)
            .to_string(),
        Some(ip) => ip.to_string(),
        None => "unknown".to_string(),
    }
}

/// The value of the cookie `name`, if the request carries it.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value)
}

pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    cookie(headers, SESSION_COOKIE).map(str::to_string)
}

fn bearer(headers: &HeaderMap) -> Option<Result<String, ApiError>> {
    let value = headers.get(header::AUTHORIZATION)?;
    Some(
        value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    "the Authorization header must be `Bearer <token>`",
                )
            }),
    )
}

fn is_change(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// A cookie-authenticated change must say it comes from this server's pages: an `Origin`
/// equal to the public URL's, or `Sec-Fetch-Site: same-origin`.
pub fn same_origin(headers: &HeaderMap, state: &ServerState) -> bool {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    match (origin, fetch_site) {
        (Some(origin), _) => origin.trim_end_matches('/') == state.config.public_origin(),
        (None, Some(site)) => site == "same-origin",
        (None, None) => false,
    }
}

impl FromRequestParts<ServerState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ServerState,
    ) -> Result<Caller, ApiError> {
        let identity = match bearer(&parts.headers) {
            Some(token) => {
                let token = token?;
                let identity = blocking(state, move |app| app.token_identity(&token))
                    .await?
                    .ok_or_else(|| {
                        ApiError::new(
                            StatusCode::UNAUTHORIZED,
                            "unauthenticated",
                            "the API token is unknown, expired or revoked",
                        )
                    })?;
                if let Via::Token {
                    scope: TokenScope::Read,
                    ..
                } = identity.via
                    && is_change(&parts.method)
                {
                    return Err(ApiError::new(
                        StatusCode::FORBIDDEN,
                        "token_scope",
                        "this API token may only read; make one with the write scope",
                    ));
                }
                identity
            }
            None => {
                let Some(secret) = session_cookie(&parts.headers) else {
                    return Err(ApiError::unauthenticated());
                };
                let identity = blocking(state, move |app| app.session_identity(&secret))
                    .await?
                    .ok_or_else(|| {
                        ApiError::new(
                            StatusCode::UNAUTHORIZED,
                            "unauthenticated",
                            "the session has ended; sign in again",
                        )
                    })?;
                if is_change(&parts.method) && !same_origin(&parts.headers, state) {
                    return Err(ApiError::new(
                        StatusCode::FORBIDDEN,
                        "csrf",
                        "a change made with the session cookie must come from this server's pages (Origin); scripts use API tokens",
                    ));
                }
                identity
            }
        };
        let lookup = identity.clone();
        let actor = blocking(state, move |app| app.actor_of(&lookup)).await?;
        Ok(Caller { identity, actor })
    }
}
