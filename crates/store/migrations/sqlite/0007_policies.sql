-- The organisation-wide policies in force (policy_set), by kind: the settings as written.
CREATE TABLE policies (
    kind TEXT PRIMARY KEY,
    text TEXT NOT NULL,
    set_on TEXT NOT NULL,
    set_by TEXT
);
