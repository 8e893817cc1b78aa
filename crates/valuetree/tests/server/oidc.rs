//! Single sign-on against an OpenID Connect provider the test runs itself on 127.0.0.1, with
//! its own signing key (`tests/fixtures/oidc-provider-key.pem`). The provider plays fair or
//! plays one trick per test: a token signed with another key, for another nonce, audience or
//! issuer, already expired, or naming somebody the ledger does not know. The server must
//! let the fair sign-in in and refuse each trick.

use super::{Server, http_request, json};
use crate::common::*;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use openidconnect::core::{
    CoreIdToken, CoreIdTokenClaims, CoreIdTokenFields, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
    CoreProviderMetadata, CoreResponseType, CoreRsaPrivateSigningKey, CoreSubjectIdentifierType,
    CoreTokenResponse, CoreTokenType,
};
use openidconnect::{
    AccessToken, Audience, AuthUrl, EmptyAdditionalClaims, EmptyAdditionalProviderMetadata,
    EmptyExtraTokenFields, EndUserEmail, IssuerUrl, JsonWebKeyId, JsonWebKeySetUrl,
    PkceCodeChallenge, PkceCodeVerifier, PrivateSigningKey, ResponseTypes, StandardClaims,
    SubjectIdentifier, TokenUrl,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const CLIENT_ID: &str = "valuetree";
const CLIENT_SECRET: &str = "the-client-secret-of-the-test";

/// What the provider does wrong, if anything.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Trick {
    None,
    ImpostorKey,
    WrongNonce,
    WrongAudience,
    WrongIssuer,
    Expired,
}

/// What the provider remembers of an authorization until its code is redeemed.
struct Grant {
    nonce: String,
    challenge: String,
    redirect_uri: String,
}

struct ProviderState {
    issuer: String,
    key: CoreRsaPrivateSigningKey,
    impostor: CoreRsaPrivateSigningKey,
    trick: Trick,
    email: String,
    grants: HashMap<String, Grant>,
    codes_issued: u64,
}

type Shared = Arc<Mutex<ProviderState>>;

/// The test's identity provider, serving until dropped.
struct Provider {
    url: String,
    state: Shared,
    _runtime: tokio::runtime::Runtime,
}

fn key(file: &str) -> CoreRsaPrivateSigningKey {
    let pem = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(file),
    )
    .expect("the test's signing key");
    // Both keys claim the same id: the impostor's token points at the provider's key.
    CoreRsaPrivateSigningKey::from_pem(&pem, Some(JsonWebKeyId::new("k1".into())))
        .expect("a PKCS#1 RSA key")
}

impl Provider {
    fn start(trick: Trick, email: &str) -> Provider {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime for the provider");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind the provider");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let state = Arc::new(Mutex::new(ProviderState {
            issuer: url.clone(),
            key: key("oidc-provider-key.pem"),
            impostor: key("oidc-impostor-key.pem"),
            trick,
            email: email.into(),
            grants: HashMap::new(),
            codes_issued: 0,
        }));
        let app = axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                axum::routing::get(discovery),
            )
            .route("/jwks", axum::routing::get(jwks))
            .route("/authorize", axum::routing::get(authorize))
            .route("/token", axum::routing::post(token))
            .with_state(state.clone());
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Provider {
            url,
            state,
            _runtime: runtime,
        }
    }

    fn host(&self) -> &str {
        self.url.trim_start_matches("http://")
    }
}

async fn discovery(State(state): State<Shared>) -> Response {
    let issuer = state.lock().expect("provider state").issuer.clone();
    let metadata = CoreProviderMetadata::new(
        IssuerUrl::new(issuer.clone()).expect("issuer"),
        AuthUrl::new(format!("{issuer}/authorize")).expect("authorize url"),
        JsonWebKeySetUrl::new(format!("{issuer}/jwks")).expect("jwks url"),
        vec![ResponseTypes::new(vec![CoreResponseType::Code])],
        vec![CoreSubjectIdentifierType::Public],
        vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256],
        EmptyAdditionalProviderMetadata {},
    )
    .set_token_endpoint(Some(
        TokenUrl::new(format!("{issuer}/token")).expect("token url"),
    ));
    axum::Json(metadata).into_response()
}

async fn jwks(State(state): State<Shared>) -> Response {
    let state = state.lock().expect("provider state");
    axum::Json(CoreJsonWebKeySet::new(vec![
        state.key.as_verification_key(),
    ]))
    .into_response()
}

/// Approves at once (the test's user is always signed in at the provider) and sends the
/// browser back with a code.
async fn authorize(
    State(state): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let field = |name: &str| query.get(name).cloned().unwrap_or_default();
    if field("client_id") != CLIENT_ID
        || field("response_type") != "code"
        || field("code_challenge_method") != "S256"
        || field("code_challenge").is_empty()
        || field("nonce").is_empty()
        || !field("scope").split(' ').any(|s| s == "openid")
    {
        return (StatusCode::BAD_REQUEST, "a malformed authorization request").into_response();
    }
    let mut state = state.lock().expect("provider state");
    state.codes_issued += 1;
    let code = format!("code-{}-never-logged", state.codes_issued);
    state.grants.insert(
        code.clone(),
        Grant {
            nonce: field("nonce"),
            challenge: field("code_challenge"),
            redirect_uri: field("redirect_uri"),
        },
    );
    let location = format!(
        "{}?code={code}&state={}",
        field("redirect_uri"),
        field("state")
    );
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

fn token_error(error: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(serde_json::json!({ "error": error })),
    )
        .into_response()
}

/// Redeems a code: checks the client's secret, the redirect URI and the PKCE verifier, then
/// signs an ID token (with the test's trick, if any).
async fn token(
    State(state): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .map(str::to_string)
        .unwrap_or_default();
    let expected = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{CLIENT_ID}:{CLIENT_SECRET}"),
    );
    if basic != expected {
        return token_error("invalid_client");
    }
    let mut state = state.lock().expect("provider state");
    let Some(grant) = state.grants.remove(&field("code")) else {
        return token_error("invalid_grant");
    };
    let verifier = PkceCodeVerifier::new(field("code_verifier"));
    if field("grant_type") != "authorization_code"
        || field("redirect_uri") != grant.redirect_uri
        || PkceCodeChallenge::from_code_verifier_sha256(&verifier).as_str() != grant.challenge
    {
        return token_error("invalid_grant");
    }
    let now = chrono::Utc::now();
    let (issued, expires) = match state.trick {
        Trick::Expired => (
            now - chrono::Duration::hours(2),
            now - chrono::Duration::hours(1),
        ),
        _ => (now, now + chrono::Duration::minutes(5)),
    };
    let issuer = match state.trick {
        Trick::WrongIssuer => "https://impostor.example".to_string(),
        _ => state.issuer.clone(),
    };
    let audience = match state.trick {
        Trick::WrongAudience => "another-application",
        _ => CLIENT_ID,
    };
    let nonce = match state.trick {
        Trick::WrongNonce => "a-nonce-from-another-sign-in".to_string(),
        _ => grant.nonce,
    };
    let claims = CoreIdTokenClaims::new(
        IssuerUrl::new(issuer).expect("issuer"),
        vec![Audience::new(audience.into())],
        expires,
        issued,
        StandardClaims::new(SubjectIdentifier::new(format!("sub-{}", state.email)))
            .set_email(Some(EndUserEmail::new(state.email.clone())))
            .set_email_verified(Some(true)),
        EmptyAdditionalClaims {},
    )
    .set_nonce(Some(openidconnect::Nonce::new(nonce)));
    let access_token = AccessToken::new("an-access-token-never-logged".into());
    let signer = match state.trick {
        Trick::ImpostorKey => &state.impostor,
        _ => &state.key,
    };
    let id_token = CoreIdToken::new(
        claims,
        signer,
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        Some(&access_token),
        None,
    )
    .expect("sign the ID token");
    let response = CoreTokenResponse::new(
        access_token,
        CoreTokenType::Bearer,
        CoreIdTokenFields::new(Some(id_token), EmptyExtraTokenFields {}),
    );
    axum::Json(response).into_response()
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// The example organisation with Chloe (P04, chloe@shop.example) holding an account, and a
/// server whose single sign-on is this provider.
fn server_with_sso(provider: &Provider, auto_create: bool) -> (Db, Server) {
    let db = Db::sqlite().with_examples();
    db.ok(&["user", "add", "chloe", "--person", "P04"]);
    let config = db.write(
        "sso.toml",
        &format!(
            "oidc_issuer = \"{}\"\noidc_client_id = \"{CLIENT_ID}\"\noidc_client_secret = \"{CLIENT_SECRET}\"\noidc_auto_create = {auto_create}\n",
            provider.url
        ),
    );
    let server = Server::start(&db.url, &["--config", &config], db.dir().join("server.log"));
    (db, server)
}

/// What the browser sees of a sign-in: the callback's answer (status, headers, body).
fn sign_in(server: &Server, provider: &Provider) -> (u16, Vec<(String, String)>, String) {
    let (status, headers, body) = server.request("GET", "/auth/oidc/login", &[], None);
    assert_eq!(status, 303, "{body}");
    let location = header(&headers, "location")[0].to_string();
    let pending = header(&headers, "set-cookie")
        .into_iter()
        .find(|c| c.starts_with("vt_oidc="))
        .expect("the sign-in in progress is kept in a cookie")
        .to_string();
    assert!(pending.contains("HttpOnly") && pending.contains("Path=/auth/oidc"));
    let authorize = location
        .strip_prefix(&provider.url)
        .expect("the browser is sent to the provider");
    assert!(
        authorize.contains("code_challenge_method=S256"),
        "{authorize}"
    );
    let (status, headers, body) = http_request(provider.host(), "GET", authorize, &[], None);
    assert_eq!(status, 303, "the provider: {body}");
    let back = header(&headers, "location")[0].to_string();
    let callback = back
        .strip_prefix(&server.url)
        .expect("the provider sends the browser back to the server");
    let cookie = pending.split(';').next().unwrap_or_default().to_string();
    server.request("GET", callback, &[("Cookie", cookie.as_str())], None)
}

fn session_of(headers: &[(String, String)]) -> Option<String> {
    header(headers, "set-cookie")
        .into_iter()
        .find(|c| c.starts_with("vt_session=") && !c.starts_with("vt_session=;"))
        .map(|c| c.split(';').next().unwrap_or_default().to_string())
}

/// The provider's trick is refused with a 401 saying why, no session is made, and nothing
/// secret reaches the log.
fn assert_refused(trick: Trick, email: &str, why: &str) {
    let provider = Provider::start(trick, email);
    let (_db, server) = server_with_sso(&provider, false);
    let (status, headers, body) = sign_in(&server, &provider);
    assert_eq!(status, 401, "{body}");
    let error = json(&body);
    assert_eq!(error["error"]["code"], "sso_refused", "{body}");
    let message = error["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.to_lowercase().contains(why),
        "the refusal should say {why:?}: {message}"
    );
    assert_eq!(
        session_of(&headers),
        None,
        "no session for a refused sign-in"
    );
    assert_no_secret_logged(&server, &provider);
}

fn assert_no_secret_logged(server: &Server, provider: &Provider) {
    let log = server.log_text();
    let state = provider.state.lock().expect("provider state");
    assert!(state.codes_issued > 0);
    for secret in [
        "never-logged",
        CLIENT_SECRET,
        "code_verifier",
        "vt_oidc=",
        "eyJ",
    ] {
        assert!(!log.contains(secret), "{secret} is in the log:\n{log}");
    }
}

#[test]
fn a_person_the_provider_vouches_for_signs_in_as_their_own_account() {
    // The address is matched whatever its case.
    let provider = Provider::start(Trick::None, "Chloe@Shop.Example");
    let (_db, server) = server_with_sso(&provider, false);
    let (status, headers, body) = sign_in(&server, &provider);
    assert_eq!(status, 303, "{body}");
    assert_eq!(header(&headers, "location"), ["/"]);
    let session = session_of(&headers).expect("a session cookie");
    let (status, me) = server.get("/api/me", &[("Cookie", session.as_str())]);
    assert_eq!(status, 200, "{me}");
    let me = json(&me);
    assert_eq!(me["person_id"], "P04");
    assert_eq!(me["username"], "chloe");
    assert_no_secret_logged(&server, &provider);

    // Ben (P03) is in the ledger but has no account: refused unless accounts are made at
    // the first sign-in.
    provider.state.lock().expect("provider state").email = "ben@shop.example".into();
    let (status, _, body) = sign_in(&server, &provider);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("has no account"), "{body}");
    drop(server);
    let (_db, server) = server_with_sso(&provider, true);
    let (status, headers, body) = sign_in(&server, &provider);
    assert_eq!(status, 303, "{body}");
    let session = session_of(&headers).expect("a session cookie");
    let (_, me) = server.get("/api/me", &[("Cookie", session.as_str())]);
    let me = json(&me);
    assert_eq!(me["person_id"], "P03");
    assert_eq!(me["username"], "ben@shop.example");
}

#[test]
fn a_token_signed_with_another_key_is_refused() {
    assert_refused(Trick::ImpostorKey, "chloe@shop.example", "signature");
}

#[test]
fn a_token_for_another_sign_in_nonce_is_refused() {
    assert_refused(Trick::WrongNonce, "chloe@shop.example", "nonce");
}

#[test]
fn a_token_for_another_audience_is_refused() {
    assert_refused(Trick::WrongAudience, "chloe@shop.example", "audience");
}

#[test]
fn a_token_from_another_issuer_is_refused() {
    assert_refused(Trick::WrongIssuer, "chloe@shop.example", "issuer");
}

#[test]
fn an_expired_token_is_refused() {
    assert_refused(Trick::Expired, "chloe@shop.example", "expired");
}

#[test]
fn a_person_unknown_to_the_ledger_is_refused() {
    assert_refused(
        Trick::None,
        "mallory@elsewhere.example",
        "nobody in the ledger",
    );
}
