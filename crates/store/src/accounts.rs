//! Accounts, sessions, API tokens and the audit log: the server's identity data. Secrets are
//! never stored: passwords as argon2id hashes (made by the caller), session ids and tokens as
//! SHA-256 digests. None of this is in the ledger.

use crate::sql::{Row, Value};
use crate::{Store, StoreError};

/// An account as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountRow {
    pub username: String,
    /// The person of the ledger the account signs in as; `None` for a service account.
    pub person_id: Option<String>,
    /// A service account's roles (space-separated names); empty for a person's account,
    /// whose roles are in the ledger.
    pub service_roles: String,
    /// The argon2id hash (PHC string), if a password was set.
    pub password_hash: Option<String>,
    pub created_at: String,
    pub disabled_at: Option<String>,
    /// Made by `serve --demo` (demo accounts exist only in demo databases).
    pub demo: bool,
    /// The interface language the person chose (a BCP 47 tag), if any.
    pub language: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRow {
    pub id_hash: String,
    pub username: String,
    pub created_at: String,
    pub last_seen: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRow {
    pub token_id: String,
    pub token_hash: String,
    pub username: String,
    pub name: String,
    pub scope: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub last_used: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRow {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
}

fn text(row: &Row, i: usize, table: &'static str) -> Result<String, StoreError> {
    match row.get(i) {
        Some(Value::Text(t)) => Ok(t.clone()),
        _ => Err(StoreError::Corrupt {
            table,
            reason: format!("column {i} is not text"),
        }),
    }
}

fn opt_text(row: &Row, i: usize) -> Option<String> {
    match row.get(i) {
        Some(Value::Text(t)) => Some(t.clone()),
        _ => None,
    }
}

const ACCOUNT_COLUMNS: &str =
    "username, person_id, service_roles, password_hash, created_at, disabled_at, demo, language";

fn account(row: &Row) -> Result<AccountRow, StoreError> {
    Ok(AccountRow {
        username: text(row, 0, "accounts")?,
        person_id: opt_text(row, 1),
        service_roles: text(row, 2, "accounts")?,
        password_hash: opt_text(row, 3),
        created_at: text(row, 4, "accounts")?,
        disabled_at: opt_text(row, 5),
        demo: matches!(row.get(6), Some(Value::Int(1))),
        language: opt_text(row, 7),
    })
}

const TOKEN_COLUMNS: &str =
    "token_id, token_hash, username, name, scope, created_at, expires_at, revoked_at, last_used";

fn token(row: &Row) -> Result<TokenRow, StoreError> {
    Ok(TokenRow {
        token_id: text(row, 0, "api_tokens")?,
        token_hash: text(row, 1, "api_tokens")?,
        username: text(row, 2, "api_tokens")?,
        name: text(row, 3, "api_tokens")?,
        scope: text(row, 4, "api_tokens")?,
        created_at: text(row, 5, "api_tokens")?,
        expires_at: opt_text(row, 6),
        revoked_at: opt_text(row, 7),
        last_used: opt_text(row, 8),
    })
}

impl Store {
    /// Runs one write statement in its own transaction; returns the rows changed.
    fn write_one(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        let mut tx = self.begin(true)?;
        let changed = tx.execute(sql, params)?;
        tx.commit()?;
        Ok(changed)
    }

    fn read_rows(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        let mut tx = self.begin(false)?;
        tx.query(sql, params)
    }

    /// Adds an account; `false` if the username is taken.
    pub fn insert_account(&mut self, a: &AccountRow) -> Result<bool, StoreError> {
        if self.account(&a.username)?.is_some() {
            return Ok(false);
        }
        self.write_one(
            &format!(
                "INSERT INTO accounts ({ACCOUNT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ),
            &[
                Value::text(&a.username),
                Value::opt_text(a.person_id.as_ref()),
                Value::text(&a.service_roles),
                Value::opt_text(a.password_hash.as_ref()),
                Value::text(&a.created_at),
                Value::opt_text(a.disabled_at.as_ref()),
                Value::Int(i64::from(a.demo)),
                Value::opt_text(a.language.as_ref()),
            ],
        )?;
        Ok(true)
    }

    pub fn account(&mut self, username: &str) -> Result<Option<AccountRow>, StoreError> {
        self.read_rows(
            &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE username = $1"),
            &[Value::text(username)],
        )?
        .first()
        .map(account)
        .transpose()
    }

    /// The accounts signing in as `person_id`.
    pub fn accounts_of_person(&mut self, person_id: &str) -> Result<Vec<AccountRow>, StoreError> {
        self.read_rows(
            &format!(
                "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE person_id = $1 ORDER BY username"
            ),
            &[Value::text(person_id)],
        )?
        .iter()
        .map(account)
        .collect()
    }

    pub fn accounts(&mut self) -> Result<Vec<AccountRow>, StoreError> {
        self.read_rows(
            &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY username"),
            &[],
        )?
        .iter()
        .map(account)
        .collect()
    }

    /// Sets (or clears) an account's password hash; `false` if there is no such account.
    pub fn set_password_hash(
        &mut self,
        username: &str,
        hash: Option<&str>,
    ) -> Result<bool, StoreError> {
        Ok(self.write_one(
            "UPDATE accounts SET password_hash = $1 WHERE username = $2",
            &[Value::opt_text(hash), Value::text(username)],
        )? > 0)
    }

    /// Sets (or clears) the language an account's person chose; `false` if there is no such
    /// account.
    pub fn set_account_language(
        &mut self,
        username: &str,
        language: Option<&str>,
    ) -> Result<bool, StoreError> {
        Ok(self.write_one(
            "UPDATE accounts SET language = $1 WHERE username = $2",
            &[Value::opt_text(language), Value::text(username)],
        )? > 0)
    }

    /// Disables (`Some(time)`) or enables (`None`) an account.
    pub fn set_account_disabled(
        &mut self,
        username: &str,
        at: Option<&str>,
    ) -> Result<bool, StoreError> {
        Ok(self.write_one(
            "UPDATE accounts SET disabled_at = $1 WHERE username = $2",
            &[Value::opt_text(at), Value::text(username)],
        )? > 0)
    }

    pub fn insert_session(&mut self, s: &SessionRow) -> Result<(), StoreError> {
        self.write_one(
            "INSERT INTO sessions (id_hash, username, created_at, last_seen) VALUES ($1, $2, $3, $4)",
            &[
                Value::text(&s.id_hash),
                Value::text(&s.username),
                Value::text(&s.created_at),
                Value::text(&s.last_seen),
            ],
        )?;
        Ok(())
    }

    pub fn session(&mut self, id_hash: &str) -> Result<Option<SessionRow>, StoreError> {
        let rows = self.read_rows(
            "SELECT id_hash, username, created_at, last_seen FROM sessions WHERE id_hash = $1",
            &[Value::text(id_hash)],
        )?;
        rows.first()
            .map(|r| {
                Ok(SessionRow {
                    id_hash: text(r, 0, "sessions")?,
                    username: text(r, 1, "sessions")?,
                    created_at: text(r, 2, "sessions")?,
                    last_seen: text(r, 3, "sessions")?,
                })
            })
            .transpose()
    }

    /// The sessions of `username`, newest first.
    pub fn sessions_of(&mut self, username: &str) -> Result<Vec<SessionRow>, StoreError> {
        self.read_rows(
            "SELECT id_hash, username, created_at, last_seen FROM sessions WHERE username = $1 ORDER BY created_at DESC",
            &[Value::text(username)],
        )?
        .iter()
        .map(|row| {
            Ok(SessionRow {
                id_hash: text(row, 0, "sessions")?,
                username: text(row, 1, "sessions")?,
                created_at: text(row, 2, "sessions")?,
                last_seen: text(row, 3, "sessions")?,
            })
        })
        .collect()
    }

    pub fn touch_session(&mut self, id_hash: &str, last_seen: &str) -> Result<(), StoreError> {
        self.write_one(
            "UPDATE sessions SET last_seen = $1 WHERE id_hash = $2",
            &[Value::text(last_seen), Value::text(id_hash)],
        )?;
        Ok(())
    }

    pub fn delete_session(&mut self, id_hash: &str) -> Result<(), StoreError> {
        self.write_one(
            "DELETE FROM sessions WHERE id_hash = $1",
            &[Value::text(id_hash)],
        )?;
        Ok(())
    }

    /// Ends every session of `username` but `keep` (a password change keeps the session it
    /// was made in).
    pub fn delete_sessions_of(
        &mut self,
        username: &str,
        keep: Option<&str>,
    ) -> Result<u64, StoreError> {
        self.write_one(
            "DELETE FROM sessions WHERE username = $1 AND id_hash <> $2",
            &[Value::text(username), Value::text(keep.unwrap_or(""))],
        )
    }

    pub fn insert_token(&mut self, t: &TokenRow) -> Result<(), StoreError> {
        self.write_one(
            &format!("INSERT INTO api_tokens ({TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"),
            &[
                Value::text(&t.token_id),
                Value::text(&t.token_hash),
                Value::text(&t.username),
                Value::text(&t.name),
                Value::text(&t.scope),
                Value::text(&t.created_at),
                Value::opt_text(t.expires_at.as_ref()),
                Value::opt_text(t.revoked_at.as_ref()),
                Value::opt_text(t.last_used.as_ref()),
            ],
        )?;
        Ok(())
    }

    pub fn token_by_hash(&mut self, token_hash: &str) -> Result<Option<TokenRow>, StoreError> {
        self.read_rows(
            &format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1"),
            &[Value::text(token_hash)],
        )?
        .first()
        .map(token)
        .transpose()
    }

    pub fn tokens_of(&mut self, username: &str) -> Result<Vec<TokenRow>, StoreError> {
        self.read_rows(
            &format!(
                "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE username = $1 ORDER BY created_at, token_id"
            ),
            &[Value::text(username)],
        )?
        .iter()
        .map(token)
        .collect()
    }

    pub fn revoke_token(&mut self, token_id: &str, at: &str) -> Result<bool, StoreError> {
        Ok(self.write_one(
            "UPDATE api_tokens SET revoked_at = $1 WHERE token_id = $2 AND revoked_at IS NULL",
            &[Value::text(at), Value::text(token_id)],
        )? > 0)
    }

    pub fn touch_token(&mut self, token_id: &str, at: &str) -> Result<(), StoreError> {
        self.write_one(
            "UPDATE api_tokens SET last_used = $1 WHERE token_id = $2",
            &[Value::text(at), Value::text(token_id)],
        )?;
        Ok(())
    }

    pub fn insert_audit(&mut self, a: &AuditRow) -> Result<(), StoreError> {
        self.write_one(
            "INSERT INTO audit_log (at, actor, action, subject, detail) VALUES ($1, $2, $3, $4, $5)",
            &[
                Value::text(&a.at),
                Value::text(&a.actor),
                Value::text(&a.action),
                Value::text(&a.subject),
                Value::text(&a.detail),
            ],
        )?;
        Ok(())
    }

    /// The audit entries about `subject` (an account or a person), newest first.
    pub fn audit_of(&mut self, subject: &str, limit: usize) -> Result<Vec<AuditRow>, StoreError> {
        self.read_rows(
            "SELECT at, actor, action, subject, detail FROM audit_log WHERE subject = $1 ORDER BY at DESC LIMIT $2",
            &[Value::text(subject), Value::Int(limit.min(10_000) as i64)],
        )?
        .iter()
        .map(|r| {
            Ok(AuditRow {
                at: text(r, 0, "audit_log")?,
                actor: text(r, 1, "audit_log")?,
                action: text(r, 2, "audit_log")?,
                subject: text(r, 3, "audit_log")?,
                detail: text(r, 4, "audit_log")?,
            })
        })
        .collect()
    }
}
