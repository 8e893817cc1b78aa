//! Accounts, sign-in, sessions and API tokens: who a request is, turned into an [`Actor`].
//! Secrets never leave this module except once, to the person they are made for: passwords
//! are kept as argon2id hashes, session ids and tokens as SHA-256 digests.

use crate::error::{AppError, AppResult};
use crate::queries::PersonRef;
use crate::{Actor, App, authz};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use valuetree_core::domain::Role;
use valuetree_store::accounts::{AccountRow, AuditRow, SessionRow, TokenRow};

/// How long sessions live and how sign-in failures are throttled.
#[derive(Clone, Debug)]
pub struct AccountPolicy {
    /// A session unused this long ends.
    pub idle: chrono::Duration,
    /// A session ends this long after sign-in, used or not.
    pub absolute: chrono::Duration,
    /// The last-seen time is written at most this often (not on every request).
    pub touch_every: chrono::Duration,
    /// Failed sign-ins allowed per username and client address before a lock-out.
    pub max_failures: u32,
    pub lockout: Duration,
    pub min_password_chars: usize,
}

impl Default for AccountPolicy {
    fn default() -> Self {
        AccountPolicy {
            idle: chrono::Duration::hours(8),
            absolute: chrono::Duration::days(7),
            touch_every: chrono::Duration::minutes(5),
            max_failures: 5,
            lockout: Duration::from_secs(15 * 60),
            min_password_chars: 10,
        }
    }
}

/// Who signed in: an account, the person it is (if any), and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub username: String,
    pub person_id: Option<String>,
    pub via: Via,
    /// The interface language the person chose, if any.
    pub language: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Via {
    /// A session cookie (its id's digest, to end it).
    Session { id_hash: String },
    /// An API token, with what it may do.
    Token { token_id: String, scope: TokenScope },
    /// The command line (`valuetree user …`).
    Local,
}

/// What an API token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenScope {
    Read,
    Write,
}

impl TokenScope {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Read => "read",
            TokenScope::Write => "write",
        }
    }
}

/// What a single-sign-on claim names: a person's e-mail address in the ledger, or their
/// person id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SsoClaim {
    Email,
    PersonId,
}

impl SsoClaim {
    fn describe(self) -> &'static str {
        match self {
            SsoClaim::Email => "e-mail address",
            SsoClaim::PersonId => "person id",
        }
    }
}

/// A read of someone's private record: who, when (RFC 3339), and what.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RecordRead {
    pub reader: PersonRef,
    pub at: String,
    pub what: String,
}

/// An account as an administrator sees it (never its secrets).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AccountView {
    pub username: String,
    pub person: Option<PersonRef>,
    /// For a person: the roles the ledger gives them today; for a service account, its own.
    pub roles: Vec<Role>,
    pub created_at: String,
    pub disabled: bool,
    pub has_password: bool,
    pub demo: bool,
}

/// A new account: a person's (`person_id`) or a service account's (`roles`).
#[derive(Clone, Debug, Default)]
pub struct NewAccount {
    pub username: String,
    pub person_id: Option<String>,
    /// For a person, roles granted in the ledger if not held yet; for a service account,
    /// the account's roles.
    pub roles: Vec<Role>,
    pub demo: bool,
}

/// A live session of an account, as an administrator sees it (never its secret).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SessionView {
    pub created_at: String,
    pub last_seen: String,
}

/// An API token as its owner sees it afterwards (the secret is shown once, at creation).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TokenView {
    pub token_id: String,
    pub name: String,
    pub scope: TokenScope,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub last_used: Option<String>,
}

/// A secret made for someone: shown to them once, kept only as its digest.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Failed sign-ins by (username, client address).
#[derive(Default)]
pub(crate) struct Throttle {
    failures: Mutex<HashMap<(String, String), (u32, Instant)>>,
}

fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// 32 random bytes, as hex.
fn random_secret() -> AppResult<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| AppError::Internal(format!("no randomness from the system: {e}")))?;
    Ok(hex::encode(bytes))
}

/// A random password for a demo persona: 20 characters, no whitespace.
pub fn random_password() -> AppResult<String> {
    Ok(random_secret()?[..20].to_string())
}

fn hash_password(password: &str) -> AppResult<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt)
        .map_err(|e| AppError::Internal(format!("no randomness from the system: {e}")))?;
    let salt = SaltString::encode_b64(&salt)
        .map_err(|e| AppError::Internal(format!("cannot encode a salt: {e}")))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("cannot hash the password: {e}")))
}

fn password_matches(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash to check against when the account does not exist, so that an unknown username
/// takes as long to refuse as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    // If hashing failed, an empty hash refuses every password (without the equal timing).
    DECOY.get_or_init(|| hash_password("not the password of anyone").unwrap_or_default())
}

fn valid_username(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
}

const REFUSED: &str = "the username or password is wrong";

impl App {
    fn now_text(&self) -> String {
        self.clock()
            .now()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }

    fn audit(&self, actor: &Actor, action: &str, subject: &str, detail: String) -> AppResult<()> {
        let row = AuditRow {
            at: self.now_text(),
            actor: actor.ledger_name(),
            action: action.to_string(),
            subject: subject.to_string(),
            detail,
        };
        self.write(move |store| Ok(store.insert_audit(&row)?))
    }

    /// Leaves the entry "who looked at my record" shows: `actor` read `subject`'s private
    /// data (ratings, feedback, scores, credit). A person reading their own leaves none, nor
    /// does the operator (who holds the database file itself, on the command line).
    pub(crate) fn note_private_read(
        &self,
        actor: &Actor,
        subject: &str,
        what: String,
    ) -> AppResult<()> {
        if actor.is(subject) || actor.is_operator() {
            return Ok(());
        }
        let row = AuditRow {
            at: self.now_text(),
            actor: actor.ledger_name(),
            action: "private_record_read".into(),
            subject: subject.to_string(),
            detail: what,
        };
        self.write_later(move |store| Ok(store.insert_audit(&row)?));
        Ok(())
    }

    fn account_row(&self, username: &str) -> AppResult<AccountRow> {
        let name = username.to_string();
        self.read(|store| Ok(store.account(&name)?))?
            .ok_or_else(|| {
                AppError::not_found(format!("account {username}"), "`valuetree user list`")
            })
    }

    fn account_view(&self, row: &AccountRow) -> AppResult<AccountView> {
        let (person, roles) = match &row.person_id {
            Some(id) => {
                let snapshot = self.snapshot()?;
                let roles = snapshot.state.roles_of(id, self.today());
                (Some(PersonRef::of(&snapshot.state, id)), roles)
            }
            None => (None, service_roles(&row.service_roles)),
        };
        Ok(AccountView {
            username: row.username.clone(),
            person,
            roles,
            created_at: row.created_at.clone(),
            disabled: row.disabled_at.is_some(),
            has_password: row.password_hash.is_some(),
            demo: row.demo,
        })
    }

    /// Adds an account (administrators). A person's account signs in as that person, with
    /// the roles the ledger gives them (`roles` are granted there if not held yet); a service
    /// account keeps its roles on the account.
    pub fn add_account(&self, actor: &Actor, new: NewAccount) -> AppResult<AccountView> {
        authz::administer(actor)?;
        if !valid_username(&new.username) {
            return Err(AppError::rejected(
                "username",
                Some(&new.username),
                "use 1 to 64 letters, digits, '.', '_', '-' or '@'",
            ));
        }
        if let Some(person) = &new.person_id {
            let snapshot = self.snapshot()?;
            if !snapshot.state.people.contains_key(person) {
                return Err(AppError::not_found(
                    format!("person {person}"),
                    "an account signs in as a person of the ledger (`valuetree org`)",
                ));
            }
            for role in &new.roles {
                if *role != Role::Employee
                    && !snapshot.state.holds_role(person, *role, self.today())
                {
                    self.grant_role(actor, person, *role)?;
                }
            }
        }
        let row = AccountRow {
            username: new.username.clone(),
            person_id: new.person_id.clone(),
            service_roles: if new.person_id.is_none() {
                new.roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            } else {
                String::new()
            },
            password_hash: None,
            created_at: self.now_text(),
            disabled_at: None,
            demo: new.demo,
            language: None,
        };
        let inserted = {
            let row = row.clone();
            self.write(move |store| Ok(store.insert_account(&row)?))?
        };
        if !inserted {
            return Err(AppError::Conflict(format!(
                "the username {} is taken",
                new.username
            )));
        }
        self.audit(
            actor,
            "account_added",
            &new.username,
            format!(
                "person {}, roles {}",
                new.person_id.as_deref().unwrap_or("none (service account)"),
                new.roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        )?;
        self.account_view(&row)
    }

    /// Every account (administrators).
    pub fn accounts(&self, actor: &Actor) -> AppResult<Vec<AccountView>> {
        authz::administer(actor)?;
        let rows = self.read(|store| Ok(store.accounts()?))?;
        rows.iter().map(|r| self.account_view(r)).collect()
    }

    /// The account of `username` (administrators, or the account's own person).
    pub fn account(&self, actor: &Actor, username: &str) -> AppResult<AccountView> {
        let row = self.account_row(username)?;
        if !(row.person_id.as_deref().is_some_and(|p| actor.is(p))) {
            authz::administer(actor)?;
        }
        self.account_view(&row)
    }

    /// Sets a password (an administrator, or the account's own person). Every other session
    /// of the account ends (`keep`: the one the change was made in).
    pub fn set_password(
        &self,
        actor: &Actor,
        username: &str,
        password: &str,
        keep: Option<&Identity>,
    ) -> AppResult<()> {
        let row = self.account_row(username)?;
        if !(row.person_id.as_deref().is_some_and(|p| actor.is(p))) {
            authz::administer(actor)?;
        }
        let min = self.account_policy().min_password_chars;
        if password.chars().count() < min || password.trim().is_empty() {
            return Err(AppError::rejected(
                "password",
                None,
                format!("use at least {min} characters"),
            ));
        }
        let hash = hash_password(password)?;
        let keep = match keep.map(|i| &i.via) {
            Some(Via::Session { id_hash }) => Some(id_hash.clone()),
            _ => None,
        };
        let name = username.to_string();
        self.write(move |store| {
            store.set_password_hash(&name, Some(&hash))?;
            store.delete_sessions_of(&name, keep.as_deref())?;
            Ok(())
        })?;
        self.audit(actor, "password_set", username, String::new())
    }

    /// Changes the signed-in account's own password: the current one must be given (and
    /// counts as a sign-in attempt from `client`); every other session of the account ends.
    pub fn change_own_password(
        &self,
        actor: &Actor,
        identity: &Identity,
        current: &str,
        new: &str,
        client: &str,
    ) -> AppResult<()> {
        let (_, checked) = self.login(&identity.username, current, client)?;
        self.logout(&checked)?;
        self.set_password(actor, &identity.username, new, Some(identity))
    }

    /// Keeps the interface language the signed-in person chose (a tag the interface speaks,
    /// checked by the caller), or forgets it (`None`: the browser's preference decides).
    pub fn set_own_language(&self, identity: &Identity, language: Option<&str>) -> AppResult<()> {
        let (name, language) = (identity.username.clone(), language.map(str::to_string));
        self.write(move |store| Ok(store.set_account_language(&name, language.as_deref())?))?;
        Ok(())
    }

    /// Disables (or enables again) an account; a disabled account's sessions end and its
    /// tokens stop working (administrators).
    pub fn set_account_disabled(
        &self,
        actor: &Actor,
        username: &str,
        disabled: bool,
    ) -> AppResult<()> {
        authz::administer(actor)?;
        self.account_row(username)?;
        let (name, at) = (username.to_string(), disabled.then(|| self.now_text()));
        self.write(move |store| {
            store.set_account_disabled(&name, at.as_deref())?;
            if at.is_some() {
                store.delete_sessions_of(&name, None)?;
            }
            Ok(())
        })?;
        self.audit(
            actor,
            if disabled {
                "account_disabled"
            } else {
                "account_enabled"
            },
            username,
            String::new(),
        )
    }

    /// Signs in with a password from `client` (an address, for throttling); returns the new
    /// session's secret (for the cookie) and who signed in.
    pub fn login(
        &self,
        username: &str,
        password: &str,
        client: &str,
    ) -> AppResult<(Secret, Identity)> {
        let policy = self.account_policy();
        let key = (username.to_string(), client.to_string());
        if let Some(wait) = self.locked_out(&key, &policy) {
            return Err(AppError::TooManyAttempts(format!(
                "too many failed sign-ins for {username} from this address; try again in {} minute(s)",
                wait.as_secs().div_ceil(60)
            )));
        }
        let name = username.to_string();
        let row = self.read(|store| Ok(store.account(&name)?))?;
        let usable = row
            .as_ref()
            .filter(|r| r.disabled_at.is_none())
            .and_then(|r| r.password_hash.as_deref().map(|h| (r, h)));
        let ok = match usable {
            Some((_, hash)) => password_matches(password, hash),
            None => {
                password_matches(password, decoy_hash());
                false
            }
        };
        let row = match (ok, row) {
            (true, Some(row)) => row,
            _ => {
                self.record_failure(key, &policy);
                return Err(AppError::Unauthenticated(REFUSED.into()));
            }
        };
        self.clear_failures(&key);
        self.open_session(row)
    }

    /// A new session for `row`'s account: its secret (for the cookie) and who it is.
    fn open_session(&self, row: AccountRow) -> AppResult<(Secret, Identity)> {
        let secret = random_secret()?;
        let id_hash = digest(&secret);
        let now = self.now_text();
        let session = SessionRow {
            id_hash: id_hash.clone(),
            username: row.username.clone(),
            created_at: now.clone(),
            last_seen: now,
        };
        self.write(move |store| Ok(store.insert_session(&session)?))?;
        Ok((
            Secret(secret),
            Identity {
                username: row.username,
                person_id: row.person_id,
                via: Via::Session { id_hash },
                language: row.language,
            },
        ))
    }

    /// Signs in someone a single-sign-on provider vouched for: `value` is the claim that
    /// names them (their e-mail address in the ledger for [`SsoClaim::Email`], else their
    /// person id). Their account, or with `auto_create` a new one named `value` for a person
    /// of the ledger without one, gets a session. Who is unknown is refused.
    pub fn sso_login(
        &self,
        claim: SsoClaim,
        value: &str,
        auto_create: bool,
    ) -> AppResult<(Secret, Identity)> {
        let person = {
            let snapshot = self.snapshot()?;
            let state = &snapshot.state;
            match claim {
                SsoClaim::Email => state
                    .people
                    .values()
                    .find(|p| {
                        p.email
                            .as_deref()
                            .is_some_and(|e| e.trim().eq_ignore_ascii_case(value.trim()))
                    })
                    .map(|p| p.person_id.clone()),
                SsoClaim::PersonId => state.people.contains_key(value).then(|| value.to_string()),
            }
        };
        let Some(person) = person else {
            return Err(AppError::Unauthenticated(format!(
                "the identity provider signed in {value}, who is nobody in the ledger; ask HR to record your {} there",
                claim.describe()
            )));
        };
        let id = person.clone();
        let accounts = self.read(|store| Ok(store.accounts_of_person(&id)?))?;
        if let Some(row) = accounts.iter().find(|a| a.disabled_at.is_none()) {
            return self.open_session(row.clone());
        }
        if !accounts.is_empty() {
            return Err(AppError::Unauthenticated(
                "your account is disabled; ask an administrator".into(),
            ));
        }
        if !auto_create {
            return Err(AppError::Unauthenticated(format!(
                "{person} has no account here; ask an administrator to make one (`valuetree user add <name> --person {person}`)"
            )));
        }
        let employed = {
            let snapshot = self.snapshot()?;
            snapshot
                .state
                .people
                .get(&person)
                .is_some_and(|p| p.left_on.is_none_or(|left| left >= self.today()))
        };
        if !employed {
            return Err(AppError::Unauthenticated(format!(
                "{person} has left and has no account here; ask an administrator"
            )));
        }
        let row = AccountRow {
            username: value.trim().to_ascii_lowercase(),
            person_id: Some(person.clone()),
            service_roles: String::new(),
            password_hash: None,
            created_at: self.now_text(),
            disabled_at: None,
            demo: false,
            language: None,
        };
        if !valid_username(&row.username) {
            return Err(AppError::Unauthenticated(format!(
                "cannot make an account named {value}; ask an administrator to make one for {person}"
            )));
        }
        let inserted = {
            let row = row.clone();
            self.write(move |store| Ok(store.insert_account(&row)?))?
        };
        if !inserted {
            return Err(AppError::Unauthenticated(format!(
                "the username {} belongs to someone else; ask an administrator to make an account for {person}",
                row.username
            )));
        }
        self.audit(
            &Actor::Person {
                person_id: person.clone(),
                roles: Vec::new(),
            },
            "account_added",
            &row.username,
            format!("person {person}, made at its first single sign-on"),
        )?;
        self.open_session(row)
    }

    /// Who holds the session `secret`, if it is live; its last-seen time is written at most
    /// every few minutes.
    pub fn session_identity(&self, secret: &str) -> AppResult<Option<Identity>> {
        let id_hash = digest(secret);
        let hash = id_hash.clone();
        let Some(session) = self.read(|store| Ok(store.session(&hash)?))? else {
            return Ok(None);
        };
        let policy = self.account_policy();
        let now = self.clock().now();
        let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).map(|d| d.to_utc());
        let (Ok(created), Ok(seen)) = (parse(&session.created_at), parse(&session.last_seen))
        else {
            return Ok(None);
        };
        if now - created > policy.absolute || now - seen > policy.idle {
            let hash = id_hash.clone();
            self.write(move |store| Ok(store.delete_session(&hash)?))?;
            return Ok(None);
        }
        let name = session.username.clone();
        let Some(account) = self.read(|store| Ok(store.account(&name)?))? else {
            return Ok(None);
        };
        if account.disabled_at.is_some() {
            return Ok(None);
        }
        if now - seen > policy.touch_every {
            let (hash, at) = (id_hash.clone(), self.now_text());
            self.write(move |store| Ok(store.touch_session(&hash, &at)?))?;
        }
        Ok(Some(Identity {
            username: account.username,
            person_id: account.person_id,
            via: Via::Session { id_hash },
            language: account.language,
        }))
    }

    /// Ends a session.
    pub fn logout(&self, identity: &Identity) -> AppResult<()> {
        if let Via::Session { id_hash } = &identity.via {
            let hash = id_hash.clone();
            self.write(move |store| Ok(store.delete_session(&hash)?))?;
        }
        Ok(())
    }

    /// Makes an API token for `username` (their own person, or an administrator for any
    /// account): the secret is returned once.
    pub fn create_token(
        &self,
        actor: &Actor,
        username: &str,
        name: &str,
        scope: TokenScope,
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> AppResult<(Secret, TokenView)> {
        let row = self.account_row(username)?;
        if !(row.person_id.as_deref().is_some_and(|p| actor.is(p))) {
            authz::administer(actor)?;
        }
        if name.trim().is_empty() || name.len() > 200 {
            return Err(AppError::rejected(
                "name",
                None,
                "say what the token is for (1 to 200 characters)",
            ));
        }
        let secret = format!("vt_{}", random_secret()?);
        let token = TokenRow {
            token_id: random_secret()?[..16].to_string(),
            token_hash: digest(&secret),
            username: username.to_string(),
            name: name.trim().to_string(),
            scope: scope.as_str().to_string(),
            created_at: self.now_text(),
            expires_at: expires_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            revoked_at: None,
            last_used: None,
        };
        let stored = token.clone();
        self.write(move |store| Ok(store.insert_token(&stored)?))?;
        self.audit(
            actor,
            "token_created",
            username,
            format!("token {} ({}, {})", token.token_id, token.name, token.scope),
        )?;
        Ok((Secret(secret), token_view(&token)))
    }

    /// The tokens of `username` (their own person, or an administrator).
    pub fn tokens(&self, actor: &Actor, username: &str) -> AppResult<Vec<TokenView>> {
        let row = self.account_row(username)?;
        if !(row.person_id.as_deref().is_some_and(|p| actor.is(p))) {
            authz::administer(actor)?;
        }
        let name = username.to_string();
        Ok(self
            .read(|store| Ok(store.tokens_of(&name)?))?
            .iter()
            .map(token_view)
            .collect())
    }

    /// The live sessions of `username` (administrators), newest first; expired ones are not
    /// listed (they end at their next use).
    pub fn sessions(&self, actor: &Actor, username: &str) -> AppResult<Vec<SessionView>> {
        authz::administer(actor)?;
        self.account_row(username)?;
        let policy = self.account_policy();
        let now = self.clock().now();
        let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).map(|d| d.to_utc());
        let name = username.to_string();
        Ok(self
            .read(|store| Ok(store.sessions_of(&name)?))?
            .into_iter()
            .filter(|s| match (parse(&s.created_at), parse(&s.last_seen)) {
                (Ok(created), Ok(seen)) => {
                    now - created <= policy.absolute && now - seen <= policy.idle
                }
                _ => false,
            })
            .map(|s| SessionView {
                created_at: s.created_at,
                last_seen: s.last_seen,
            })
            .collect())
    }

    /// Ends every session of `username` (administrators); they sign in again.
    pub fn end_sessions(&self, actor: &Actor, username: &str) -> AppResult<()> {
        authz::administer(actor)?;
        self.account_row(username)?;
        let name = username.to_string();
        self.write(move |store| Ok(store.delete_sessions_of(&name, None)?))?;
        self.audit(actor, "sessions_ended", username, String::new())
    }

    /// Revokes a token of `username` (their own person, or an administrator).
    pub fn revoke_token(&self, actor: &Actor, username: &str, token_id: &str) -> AppResult<()> {
        let tokens = self.tokens(actor, username)?;
        if !tokens.iter().any(|t| t.token_id == token_id) {
            return Err(AppError::not_found(format!("token {token_id}"), ""));
        }
        let (id, at) = (token_id.to_string(), self.now_text());
        self.write(move |store| Ok(store.revoke_token(&id, &at)?))?;
        self.audit(
            actor,
            "token_revoked",
            username,
            format!("token {token_id}"),
        )
    }

    /// Who holds the API token `secret`, if it is live.
    pub fn token_identity(&self, secret: &str) -> AppResult<Option<Identity>> {
        let hash = digest(secret);
        let Some(token) = self.read(|store| Ok(store.token_by_hash(&hash)?))? else {
            return Ok(None);
        };
        let now = self.clock().now();
        let expired = token.expires_at.as_deref().is_some_and(|t| {
            chrono::DateTime::parse_from_rfc3339(t).map_or(true, |t| t.to_utc() <= now)
        });
        if token.revoked_at.is_some() || expired {
            return Ok(None);
        }
        let name = token.username.clone();
        let Some(account) = self.read(|store| Ok(store.account(&name)?))? else {
            return Ok(None);
        };
        if account.disabled_at.is_some() {
            return Ok(None);
        }
        let stale = token.last_used.as_deref().is_none_or(|t| {
            chrono::DateTime::parse_from_rfc3339(t).map_or(true, |t| {
                now - t.to_utc() > self.account_policy().touch_every
            })
        });
        if stale {
            let (id, at) = (token.token_id.clone(), self.now_text());
            self.write(move |store| Ok(store.touch_token(&id, &at)?))?;
        }
        let scope = if token.scope == "write" {
            TokenScope::Write
        } else {
            TokenScope::Read
        };
        Ok(Some(Identity {
            username: account.username,
            person_id: account.person_id,
            via: Via::Token {
                token_id: token.token_id,
                scope,
            },
            language: account.language,
        }))
    }

    /// The actor an identity acts as: the person with the ledger's roles today, or the
    /// service account with its own roles.
    pub fn actor_of(&self, identity: &Identity) -> AppResult<Actor> {
        match &identity.person_id {
            Some(person) => self.actor_for(person),
            None => {
                let name = identity.username.clone();
                let row = self
                    .read(|store| Ok(store.account(&name)?))?
                    .ok_or_else(|| AppError::Unauthenticated("the account is gone".into()))?;
                Ok(Actor::Service {
                    username: row.username,
                    roles: service_roles(&row.service_roles),
                })
            }
        }
    }

    /// The audit entries about `subject` (an account or a person): administrators, or the
    /// person themself ("who looked at my record").
    pub fn audit_log(&self, actor: &Actor, subject: &str) -> AppResult<Vec<AuditRow>> {
        if !actor.is(subject) {
            authz::administer(actor)?;
        }
        let subject = subject.to_string();
        self.read(|store| Ok(store.audit_of(&subject, 500)?))
    }

    /// Who read `person_id`'s private record, newest first: the person themself (or an
    /// administrator). A reader who is a person is named; a service account by its name.
    pub fn record_readers(&self, actor: &Actor, person_id: &str) -> AppResult<Vec<RecordRead>> {
        let rows = self.audit_log(actor, person_id)?;
        let snapshot = self.snapshot()?;
        let state = &snapshot.state;
        Ok(rows
            .into_iter()
            .filter(|r| r.action == "private_record_read")
            .map(|r| RecordRead {
                reader: if state.people.contains_key(&r.actor) {
                    PersonRef::of(state, &r.actor)
                } else {
                    PersonRef {
                        person_id: String::new(),
                        name: r.actor.clone(),
                    }
                },
                at: r.at,
                what: r.detail,
            })
            .collect())
    }

    fn locked_out(&self, key: &(String, String), policy: &AccountPolicy) -> Option<Duration> {
        let failures = self.throttle().failures.lock().ok()?;
        let (count, since) = failures.get(key)?;
        let elapsed = since.elapsed();
        (*count >= policy.max_failures && elapsed < policy.lockout)
            .then(|| policy.lockout - elapsed)
    }

    fn record_failure(&self, key: (String, String), policy: &AccountPolicy) {
        if let Ok(mut failures) = self.throttle().failures.lock() {
            let entry = failures.entry(key).or_insert((0, Instant::now()));
            if entry.1.elapsed() >= policy.lockout {
                *entry = (0, Instant::now());
            }
            entry.0 += 1;
            entry.1 = Instant::now();
        }
    }

    fn clear_failures(&self, key: &(String, String)) {
        if let Ok(mut failures) = self.throttle().failures.lock() {
            failures.remove(key);
        }
    }
}

fn service_roles(text: &str) -> Vec<Role> {
    text.split_whitespace()
        .filter_map(|r| r.parse().ok())
        .collect()
}

fn token_view(t: &TokenRow) -> TokenView {
    TokenView {
        token_id: t.token_id.clone(),
        name: t.name.clone(),
        scope: if t.scope == "write" {
            TokenScope::Write
        } else {
            TokenScope::Read
        },
        created_at: t.created_at.clone(),
        expires_at: t.expires_at.clone(),
        revoked_at: t.revoked_at.clone(),
        last_used: t.last_used.clone(),
    }
}
