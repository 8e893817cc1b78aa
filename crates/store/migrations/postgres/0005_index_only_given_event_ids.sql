-- Generated event ids are stored as NULL since 0004, but the UNIQUE constraint's index holds
-- an entry for every NULL too: written on every append and never read (a generated id is
-- looked up by its sequence number). A partial unique index holds only the ids a client gave;
-- `WHERE event_id = $1` still uses it.
CREATE UNIQUE INDEX events_by_given_id ON events (event_id) WHERE event_id IS NOT NULL;
ALTER TABLE events DROP CONSTRAINT events_event_id_key;
