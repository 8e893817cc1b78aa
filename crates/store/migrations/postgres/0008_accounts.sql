-- Credentials and sessions: secrets, never in the ledger (a backup of the ledger holds none).
-- An account signs in as a person of the ledger (person_id), or is a service account
-- (person_id NULL) for an integration, whose roles are kept here.
CREATE TABLE accounts (
    username TEXT PRIMARY KEY,
    person_id TEXT,
    service_roles TEXT NOT NULL DEFAULT '',
    password_hash TEXT,
    created_at TEXT NOT NULL,
    disabled_at TEXT,
    demo BIGINT NOT NULL DEFAULT 0
);

-- Server-side sessions: only the SHA-256 of the cookie's secret is kept.
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_seen TEXT NOT NULL
);
CREATE INDEX sessions_by_username ON sessions (username);

-- API tokens for integrations: only the SHA-256 of the token is kept.
CREATE TABLE api_tokens (
    token_id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    username TEXT NOT NULL,
    name TEXT NOT NULL,
    scope TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked_at TEXT,
    last_used TEXT
);

-- Who did what to accounts, and who looked at whose private record (never a secret).
CREATE TABLE audit_log (
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_log_by_subject ON audit_log (subject, at);
