//! `valuetree serve`: the HTTP server (crate `valuetree-server`) on this database, with its
//! configuration from flags, the environment (`VALUETREE_…`) and an optional TOML file, in
//! that order of precedence. `--demo` serves the demo organisation with a fresh password for
//! each persona's account at every start.

use super::demo::{head_or_empty, load_demo};
use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Deserialize;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use valuetree_app::accounts::{AccountPolicy, NewAccount, random_password};
use valuetree_app::{Actor, App};
use valuetree_core::domain::Role;
use valuetree_server::oidc::{OidcConfig, PersonClaim};
use valuetree_server::{ServerConfig, ServerState};

#[derive(Args, Debug)]
#[command(after_help = "\
Every setting may also come from the environment (VALUETREE_ADDR, VALUETREE_PUBLIC_URL, …, as
named on each option) or from a TOML file given to --config, whose keys are the options' names
with underscores (addr, db, public_url, trusted_proxies = [\"10.0.0.1\"], log, body_limit_mb,
request_timeout_secs, session_idle_minutes, session_days, oidc_issuer, oidc_client_id,
oidc_client_secret, oidc_claim, oidc_auto_create). A flag wins over the environment,
which wins over the file.

The first administrator of a fresh database (then sign in at the printed URL):
  valuetree user add alice --person P01 --role admin && valuetree user passwd alice")]
pub struct ServeArgs {
    /// The address to listen on (`127.0.0.1:0` picks a free port; the bound one is printed).
    #[arg(long, env = "VALUETREE_ADDR")]
    addr: Option<SocketAddr>,
    /// Serve the demo organisation: loaded into an empty database (`demo.db` unless --db
    /// says otherwise), reused when it already holds the demo, refused when it holds
    /// anything else; prints a fresh login for each persona.
    #[arg(long)]
    demo: bool,
    /// A TOML file with any of the settings.
    #[arg(long, env = "VALUETREE_CONFIG")]
    config: Option<PathBuf>,
    /// The URL people reach the server at (behind a TLS proxy: the proxy's https URL, which
    /// makes the session cookie `Secure`); default `http://<address>`.
    #[arg(long, env = "VALUETREE_PUBLIC_URL")]
    public_url: Option<String>,
    /// A reverse proxy whose `X-Forwarded-For` is believed (repeat, or comma-separated in
    /// the environment); nobody else's is.
    #[arg(
        long = "trusted-proxy",
        env = "VALUETREE_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    trusted_proxies: Vec<IpAddr>,
    /// What to log (`info`, `debug`, or a tracing filter such as `valuetree_server=debug`).
    #[arg(long, env = "VALUETREE_LOG")]
    log: Option<String>,
    /// The largest request body (import uploads), in MiB (default 32).
    #[arg(long, env = "VALUETREE_BODY_LIMIT_MB")]
    body_limit_mb: Option<usize>,
    /// A request taking longer is answered 408 (default 60).
    #[arg(long, env = "VALUETREE_REQUEST_TIMEOUT_SECS")]
    request_timeout_secs: Option<u64>,
    /// A session unused this long ends (default 480).
    #[arg(long, env = "VALUETREE_SESSION_IDLE_MINUTES")]
    session_idle_minutes: Option<i64>,
    /// A session ends this long after sign-in (default 7).
    #[arg(long, env = "VALUETREE_SESSION_DAYS")]
    session_days: Option<i64>,
    /// Single sign-on: the OpenID Connect provider's issuer URL (its discovery document is
    /// under `/.well-known/openid-configuration`). People then sign in at /auth/oidc/login.
    /// The client secret comes from VALUETREE_OIDC_CLIENT_SECRET or the file's
    /// `oidc_client_secret`, never from a flag (a command line is visible to other users).
    #[arg(long, env = "VALUETREE_OIDC_ISSUER")]
    oidc_issuer: Option<String>,
    /// The client id this server is registered with at the provider (its redirect URL is
    /// `<public URL>/auth/oidc/callback`).
    #[arg(long, env = "VALUETREE_OIDC_CLIENT_ID")]
    oidc_client_id: Option<String>,
    /// The ID-token claim naming the person: `email` (default; matched with the e-mail
    /// addresses in the ledger), `preferred_username` or `sub` (holding a person id).
    #[arg(long, env = "VALUETREE_OIDC_CLAIM")]
    oidc_claim: Option<String>,
    /// Make an account at the first single sign-on of an employed person of the ledger who
    /// has none (otherwise an administrator makes it with `valuetree user add`).
    #[arg(long, env = "VALUETREE_OIDC_AUTO_CREATE")]
    oidc_auto_create: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    addr: Option<SocketAddr>,
    db: Option<String>,
    public_url: Option<String>,
    trusted_proxies: Option<Vec<IpAddr>>,
    log: Option<String>,
    body_limit_mb: Option<usize>,
    request_timeout_secs: Option<u64>,
    session_idle_minutes: Option<i64>,
    session_days: Option<i64>,
    oidc_issuer: Option<String>,
    oidc_client_id: Option<String>,
    oidc_client_secret: Option<String>,
    oidc_claim: Option<String>,
    oidc_auto_create: Option<bool>,
}

/// The demo personas, in the order they are printed; their accounts' usernames.
const PERSONAS: [&str; 5] = ["employee", "lead", "manager", "hr", "admin"];

fn username_of(persona: &str) -> String {
    format!("demo-{persona}")
}

/// Writes a line to standard output now (the server runs until stopped: nothing may wait
/// for the end of the command).
fn announce(line: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}

/// Makes sure `app` holds the demo and its persona accounts; returns (persona, username,
/// a fresh password) for each.
fn prepare_demo(app: &App) -> Result<Vec<(String, String, String)>> {
    let operator = Actor::Operator;
    let head = head_or_empty(app, &operator)?;
    let has_demo_accounts = head.is_some() && app.accounts(&operator)?.iter().any(|a| a.demo);
    match (head, has_demo_accounts) {
        (None, _) => {
            eprintln!("loading the demo organisation into {} …", app.location());
            let loaded = load_demo(app, &operator)?;
            for persona in PERSONAS {
                let person = loaded
                    .summary
                    .personas
                    .iter()
                    .find(|p| p.role == persona)
                    .with_context(|| format!("the demo has no {persona} persona"))?;
                let roles = match persona {
                    "hr" => vec![Role::Hr],
                    "admin" => vec![Role::Admin],
                    _ => Vec::new(),
                };
                app.add_account(
                    &operator,
                    NewAccount {
                        username: username_of(persona),
                        person_id: Some(person.person_id.clone()),
                        roles,
                        demo: true,
                    },
                )?;
            }
        }
        (Some(head), false) => bail!(
            "{} holds {} events that are not the demo; `serve --demo` serves only a demo \
             database (give another --db, or serve this one without --demo)",
            app.location(),
            head.seq
        ),
        (Some(_), true) => eprintln!("serving the demo already in {}", app.location()),
    }
    PERSONAS
        .iter()
        .map(|persona| {
            let username = username_of(persona);
            let password = random_password()?;
            app.set_password(&operator, &username, &password, None)?;
            Ok((persona.to_string(), username, password))
        })
        .collect()
}

/// The single-sign-on settings from one source (flags and environment, or the file).
struct OidcSettings {
    issuer: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    claim: Option<String>,
    auto_create: Option<bool>,
}

/// Single sign-on, if an issuer is set: the first source wins setting by setting.
fn oidc_config(first: OidcSettings, then: OidcSettings) -> Result<Option<OidcConfig>> {
    let Some(issuer) = first.issuer.or(then.issuer) else {
        return Ok(None);
    };
    let client_id = first.client_id.or(then.client_id).context(
        "single sign-on needs the client id the provider registered this server with (--oidc-client-id)",
    )?;
    let claim = first
        .claim
        .or(then.claim)
        .unwrap_or_else(|| "email".into())
        .parse::<PersonClaim>()
        .map_err(anyhow::Error::msg)?;
    Ok(Some(OidcConfig {
        issuer,
        client_id,
        client_secret: first.client_secret.or(then.client_secret),
        claim,
        auto_create: first.auto_create.or(then.auto_create).unwrap_or(false),
    }))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("stopping: finishing the requests in flight");
}

pub fn run(db: Option<String>, as_person: Option<&str>, args: ServeArgs) -> Result<ExitCode> {
    if as_person.is_some() {
        bail!("`serve` acts as whoever signs in; it takes no --as");
    }
    let file: FileConfig = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the configuration {}", path.display()))?;
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        }
        None => FileConfig::default(),
    };
    let log = args.log.or(file.log).unwrap_or_else(|| "info".into());
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&log)
                .map_err(|e| anyhow::anyhow!("--log {log}: {e}"))?,
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let db = db.or(file.db).unwrap_or_else(|| {
        if args.demo {
            "demo.db".to_string()
        } else {
            valuetree_store::DEFAULT_DB.to_string()
        }
    });
    let defaults = AccountPolicy::default();
    let policy = AccountPolicy {
        idle: args
            .session_idle_minutes
            .or(file.session_idle_minutes)
            .map_or(defaults.idle, chrono::Duration::minutes),
        absolute: args
            .session_days
            .or(file.session_days)
            .map_or(defaults.absolute, chrono::Duration::days),
        ..defaults
    };
    let app = Arc::new(App::new(&db, crate::clock()?).with_account_policy(policy));
    let logins = if args.demo {
        prepare_demo(&app)?
    } else {
        Vec::new()
    };
    let addr = args
        .addr
        .or(file.addr)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
    let trusted = if args.trusted_proxies.is_empty() {
        file.trusted_proxies.unwrap_or_default()
    } else {
        args.trusted_proxies
    };
    let public_url = args.public_url.or(file.public_url);
    let body_limit = args.body_limit_mb.or(file.body_limit_mb).unwrap_or(32) << 20;
    let timeout = Duration::from_secs(
        args.request_timeout_secs
            .or(file.request_timeout_secs)
            .unwrap_or(60),
    );
    let oidc = oidc_config(
        OidcSettings {
            issuer: args.oidc_issuer,
            client_id: args.oidc_client_id,
            client_secret: std::env::var("VALUETREE_OIDC_CLIENT_SECRET").ok(),
            claim: args.oidc_claim,
            auto_create: args.oidc_auto_create,
        },
        OidcSettings {
            issuer: file.oidc_issuer,
            client_id: file.oidc_client_id,
            client_secret: file.oidc_client_secret,
            claim: file.oidc_claim,
            auto_create: file.oidc_auto_create,
        },
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the server's runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let bound = listener.local_addr()?;
        let mut config = ServerConfig::new(public_url.unwrap_or_else(|| format!("http://{bound}")));
        config.trusted_proxies = trusted;
        config.body_limit = body_limit;
        config.request_timeout = timeout;
        config.oidc = oidc;
        let state = ServerState::new(app, config).map_err(anyhow::Error::msg)?;
        let server = tokio::spawn(valuetree_server::serve(
            listener,
            state.clone(),
            shutdown_signal(),
        ));
        for (persona, username, password) in &logins {
            announce(&format!("demo login: {persona} {username} {password}"))?;
        }
        announce(&format!("listening on http://{bound}"))?;
        tracing::info!(database = %db, address = %bound, "serving");
        let warm = state.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            match warm.warm_up().await {
                Ok(()) => tracing::info!(
                    seconds = started.elapsed().as_secs_f64(),
                    "ready: the snapshot is loaded"
                ),
                Err(e) => tracing::error!(error = %e.message, "cannot load the snapshot"),
            }
        });
        server
            .await
            .context("the server stopped unexpectedly")?
            .context("the server failed")?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}
