-- Personal data out of the hash chain (docs/privacy.md). The chained payload of an event holds,
-- for each personal value, a commitment (HMAC-SHA-256 under the key of the person the value is
-- about); the values and the keys live here, where erasure can delete them.

-- A person's key (64 hex digits). Erasing the person deletes the row.
CREATE TABLE person_keys (
    person_id TEXT PRIMARY KEY,
    key TEXT NOT NULL
) WITHOUT ROWID;

-- One personal value of one event: the member of its payload, whom it is about (whose key
-- committed it), the value, and the review cycle the payload names (what retention of review
-- texts counts from).
CREATE TABLE personal_values (
    seq BIGINT NOT NULL,
    member TEXT NOT NULL,
    subject TEXT NOT NULL,
    value TEXT NOT NULL,
    cycle_id TEXT,
    PRIMARY KEY (seq, member)
) WITHOUT ROWID;
CREATE INDEX personal_values_by_subject ON personal_values (subject);
CREATE INDEX personal_values_by_cycle ON personal_values (cycle_id) WHERE cycle_id IS NOT NULL;

-- When a person's personal data was erased (person_erased).
ALTER TABLE people ADD COLUMN erased_on TEXT;

-- The form the ledger's events are in: 1, personal values inside the chained payloads (written
-- before this migration; `valuetree upgrade` re-encodes it), 2, personal values out of it.
CREATE TABLE ledger_form (form INTEGER NOT NULL);
INSERT INTO ledger_form (form) SELECT CASE WHEN EXISTS (SELECT 1 FROM events) THEN 1 ELSE 2 END;
