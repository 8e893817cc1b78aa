//! Single sign-on with OpenID Connect: the authorization code flow with PKCE.
//!
//! `GET /auth/oidc/login` sends the browser to the provider with a fresh state, nonce and
//! PKCE challenge, which it also keeps in a short-lived HttpOnly cookie on this path (so the
//! callback may land on any server of a pool). `GET /auth/oidc/callback` checks the state,
//! exchanges the code (with the client secret and the PKCE verifier) for an ID token, has
//! the `openidconnect` crate verify it (signature against the provider's published keys,
//! issuer, audience, expiry, nonce, and the access-token hash when present) and signs in the
//! person its claim names, through the app. Nothing secret (code, tokens, verifier) is
//! logged or put into an error.

use crate::error::ApiError;
use crate::{ServerState, blocking};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde::Deserialize;
use std::time::{Duration, Instant};
use valuetree_app::accounts::SsoClaim;

/// The cookie holding a sign-in in progress (state, nonce, PKCE verifier).
const PENDING_COOKIE: &str = "vt_oidc";
/// A sign-in left at the provider longer than this must start again.
const PENDING_SECONDS: u64 = 600;
/// The provider's metadata and keys are fetched again after this long (key rotation).
const METADATA_TTL: Duration = Duration::from_secs(3600);
/// Where the browser goes once signed in.
pub const AFTER_SIGN_IN: &str = "/";

/// The ID-token claim that names the person signing in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PersonClaim {
    /// `email`: the person whose e-mail address in the ledger it is (and not when the
    /// provider says the address is unverified).
    Email,
    /// `preferred_username`: a person id.
    PreferredUsername,
    /// `sub`: a person id.
    Subject,
}

impl std::str::FromStr for PersonClaim {
    type Err = String;
    fn from_str(text: &str) -> Result<PersonClaim, String> {
        match text {
            "email" => Ok(PersonClaim::Email),
            "preferred_username" => Ok(PersonClaim::PreferredUsername),
            "sub" => Ok(PersonClaim::Subject),
            other => Err(format!(
                "the OIDC claim {other:?} is not one valuetree maps to a person; use email (the person's e-mail address in the ledger), preferred_username or sub (their person id)"
            )),
        }
    }
}

/// Single sign-on settings.
#[derive(Clone, Debug)]
pub struct OidcConfig {
    /// The provider's issuer URL (its discovery document is under
    /// `/.well-known/openid-configuration`).
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub claim: PersonClaim,
    /// Make an account at the first sign-in of a person of the ledger who has none.
    pub auto_create: bool,
}

/// A client of a provider known by discovery: authorization URL set, token and user-info
/// endpoints as the provider publishes them.
type ProviderClient = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// The provider as this server speaks to it.
pub(crate) struct Sso {
    config: OidcConfig,
    redirect: RedirectUrl,
    http: openidconnect::reqwest::Client,
    metadata: tokio::sync::Mutex<Option<(Instant, CoreProviderMetadata)>>,
}

fn unavailable(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_GATEWAY, "sso_unavailable", message)
}

fn refused(message: impl Into<String>) -> ApiError {
    let message = message.into();
    tracing::warn!(reason = %message, "single sign-on refused");
    ApiError::new(StatusCode::UNAUTHORIZED, "sso_refused", message)
}

impl Sso {
    pub(crate) fn new(config: OidcConfig, public_url: &str) -> Result<Sso, String> {
        IssuerUrl::new(config.issuer.clone())
            .map_err(|e| format!("the OIDC issuer {:?} is not a URL: {e}", config.issuer))?;
        let redirect = RedirectUrl::new(format!(
            "{}/auth/oidc/callback",
            public_url.trim_end_matches('/')
        ))
        .map_err(|e| format!("the public URL {public_url:?} is not a URL: {e}"))?;
        let http = openidconnect::reqwest::Client::builder()
            // Following redirects would let the provider's answers point the server anywhere.
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("cannot make the HTTP client for single sign-on: {e}"))?;
        Ok(Sso {
            config,
            redirect,
            http,
            metadata: tokio::sync::Mutex::new(None),
        })
    }

    async fn metadata(&self) -> Result<CoreProviderMetadata, ApiError> {
        let mut cached = self.metadata.lock().await;
        if let Some((at, metadata)) = cached.as_ref()
            && at.elapsed() < METADATA_TTL
        {
            return Ok(metadata.clone());
        }
        let issuer = IssuerUrl::new(self.config.issuer.clone())
            .map_err(|e| unavailable(format!("the OIDC issuer is not a URL: {e}")))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "cannot read the identity provider's discovery document");
                unavailable("the identity provider cannot be reached; try again later")
            })?;
        *cached = Some((Instant::now(), metadata.clone()));
        Ok(metadata)
    }

    async fn client(&self) -> Result<ProviderClient, ApiError> {
        let metadata = self.metadata().await?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            self.config.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(self.redirect.clone()))
    }
}

fn sso(state: &ServerState) -> Result<&Sso, ApiError> {
    state.sso.as_deref().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "single sign-on is not configured on this server (see `valuetree serve --help`, OIDC)",
        )
    })
}

fn pending_cookie(state: &ServerState, value: &str, max_age: u64) -> HeaderValue {
    let mut cookie = format!(
        "{PENDING_COOKIE}={value}; Path=/auth/oidc; HttpOnly; SameSite=Lax; Max-Age={max_age}"
    );
    if state.config.secure_cookies() {
        cookie.push_str("; Secure");
    }
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn redirect(location: &str) -> Result<Response, ApiError> {
    let location = HeaderValue::from_str(location)
        .map_err(|_| ApiError::internal("a redirect location is not a header value"))?;
    Ok((StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response())
}

/// `GET /auth/oidc/login`: off to the identity provider.
pub(crate) async fn login(State(state): State<ServerState>) -> Result<Response, ApiError> {
    let sso = sso(&state)?;
    let client = sso.client().await?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let pending = format!("{}.{}.{}", csrf.secret(), nonce.secret(), verifier.secret());
    let mut response = redirect(url.as_str())?;
    response.headers_mut().insert(
        header::SET_COOKIE,
        pending_cookie(&state, &pending, PENDING_SECONDS),
    );
    Ok(response)
}

#[derive(Deserialize)]
pub(crate) struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

fn pending(headers: &HeaderMap) -> Option<(String, String, String)> {
    let value = crate::auth::cookie(headers, PENDING_COOKIE)?;
    let mut parts = value.split('.');
    let (state, nonce, verifier) = (parts.next()?, parts.next()?, parts.next()?);
    Some((state.into(), nonce.into(), verifier.into()))
}

/// Compares two secrets without leaking, through timing, how much of them matches.
fn same_secret(a: &str, b: &str) -> bool {
    use sha2::{Digest, Sha256};
    Sha256::digest(a.as_bytes()) == Sha256::digest(b.as_bytes())
}

/// `GET /auth/oidc/callback`: the provider sends the browser back with a code.
pub(crate) async fn callback(
    State(state): State<ServerState>,
    headers: HeaderMap,
    crate::Params(callback): crate::Params<Callback>,
) -> Result<Response, ApiError> {
    let sso = sso(&state)?;
    if let Some(error) = callback.error {
        return Err(refused(format!(
            "the identity provider did not sign you in: {error}{}",
            callback
                .error_description
                .map(|d| format!(" ({d})"))
                .unwrap_or_default()
        )));
    }
    let (Some(code), Some(returned_state)) = (callback.code, callback.state) else {
        return Err(ApiError::bad_request(
            "the callback needs the provider's `code` and `state`",
        ));
    };
    let Some((expected_state, nonce, verifier)) = pending(&headers) else {
        return Err(refused(
            "no sign-in is in progress in this browser (or it took over ten minutes); start again at /auth/oidc/login",
        ));
    };
    if !same_secret(&returned_state, &expected_state) {
        return Err(refused(
            "the provider's answer is not for the sign-in this browser started; start again",
        ));
    }
    let client = sso.client().await?;
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| unavailable(format!("the identity provider has no token endpoint: {e}")))?
        .set_pkce_verifier(PkceCodeVerifier::new(verifier))
        .request_async(&sso.http)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "the identity provider refused the code");
            refused("the identity provider did not accept the sign-in's code; start again")
        })?;
    let id_token = tokens
        .id_token()
        .ok_or_else(|| refused("the identity provider sent no ID token"))?;
    let verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &Nonce::new(nonce))
        .map_err(|e| {
            refused(format!(
                "the identity provider's ID token is not valid: {e}"
            ))
        })?;
    if let Some(expected) = claims.access_token_hash() {
        let algorithm = id_token
            .signing_alg()
            .map_err(|e| refused(format!("the ID token's signing algorithm: {e}")))?;
        let key = id_token
            .signing_key(&verifier)
            .map_err(|e| refused(format!("the ID token's signing key: {e}")))?;
        let actual = AccessTokenHash::from_token(tokens.access_token(), algorithm, key)
            .map_err(|e| refused(format!("the access token's hash: {e}")))?;
        if actual != *expected {
            return Err(refused(
                "the ID token does not belong with the access token sent with it",
            ));
        }
    }
    let (claim, value) = match sso.config.claim {
        PersonClaim::Email => {
            if claims.email_verified() == Some(false) {
                return Err(refused(
                    "the identity provider has not verified your e-mail address",
                ));
            }
            let email = claims
                .email()
                .ok_or_else(|| refused("the ID token carries no e-mail address (claim email)"))?;
            (SsoClaim::Email, email.as_str().to_string())
        }
        PersonClaim::PreferredUsername => (
            SsoClaim::PersonId,
            claims
                .preferred_username()
                .ok_or_else(|| refused("the ID token carries no preferred_username"))?
                .as_str()
                .to_string(),
        ),
        PersonClaim::Subject => (SsoClaim::PersonId, claims.subject().as_str().to_string()),
    };
    let auto_create = sso.config.auto_create;
    let (secret, identity) = blocking(&state, move |app| app.sso_login(claim, &value, auto_create))
        .await
        .map_err(|e| {
            if e.status == StatusCode::UNAUTHORIZED {
                refused(e.message)
            } else {
                e
            }
        })?;
    tracing::info!(username = %identity.username, "signed in with single sign-on");
    let absolute = state.app.account_policy().absolute.num_seconds();
    let mut response = redirect(AFTER_SIGN_IN)?;
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        crate::routes::session_cookie_header(&state, &secret.0, Some(absolute)),
    );
    headers.append(header::SET_COOKIE, pending_cookie(&state, "", 0));
    Ok(response)
}
