-- Generated event ids are stored as NULL since 0004, but a UNIQUE column constraint indexes
-- NULLs too: one index entry per generated event, written on every append and never read
-- (a generated id is looked up by its sequence number). A partial unique index holds only the
-- ids a client gave; `WHERE event_id = ?` still uses it. SQLite cannot drop a column
-- constraint, so the table is copied once.
CREATE TABLE events_given_ids (
    seq INTEGER PRIMARY KEY,
    event_id TEXT,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    effective TEXT NOT NULL,
    recorded TEXT NOT NULL,
    actor TEXT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO events_given_ids
SELECT seq, event_id, kind, payload, effective, recorded, actor, hash FROM events ORDER BY seq;
DROP TABLE events;
ALTER TABLE events_given_ids RENAME TO events;
CREATE UNIQUE INDEX events_by_given_id ON events (event_id) WHERE event_id IS NOT NULL;
