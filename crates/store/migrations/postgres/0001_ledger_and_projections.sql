-- The ledger: append-only, hash-chained. Every other table is a projection of it.
CREATE TABLE events (
    seq BIGINT PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    effective TEXT NOT NULL,
    recorded TEXT NOT NULL,
    actor TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);

-- Projections. Dates are ISO 8601 text ('YYYY-MM-DD'); booleans are 0/1 integers; an empty
-- edges.valid_from means "since always".
CREATE TABLE people (
    person_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT,
    joined_on TEXT NOT NULL,
    left_on TEXT
);

CREATE TABLE units (
    unit_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    parent_unit_id TEXT,
    valid_from TEXT NOT NULL,
    valid_to TEXT
);

CREATE TABLE unit_versions (
    unit_id TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    name TEXT NOT NULL,
    parent_unit_id TEXT,
    PRIMARY KEY (unit_id, valid_from)
);

CREATE TABLE assignments (
    person_id TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    unit_id TEXT NOT NULL,
    manager_id TEXT,
    valid_to TEXT,
    PRIMARY KEY (person_id, valid_from)
);
CREATE INDEX assignments_by_unit ON assignments (unit_id, valid_from);
CREATE INDEX assignments_by_manager ON assignments (manager_id);

CREATE TABLE nodes (
    node_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    lead_id TEXT,
    created_on TEXT NOT NULL,
    status TEXT NOT NULL,
    flagpole BIGINT NOT NULL,
    description TEXT NOT NULL,
    -- Derived: the receiving lead of the latest hand-over, else lead_id.
    current_lead_id TEXT
);

CREATE TABLE edges (
    parent_id TEXT NOT NULL,
    child_id TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    weight DOUBLE PRECISION NOT NULL,
    valid_to TEXT,
    PRIMARY KEY (parent_id, child_id, valid_from)
);
CREATE INDEX edges_by_child ON edges (child_id);

CREATE TABLE members (
    node_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    joined_on TEXT NOT NULL,
    role TEXT NOT NULL,
    left_on TEXT,
    PRIMARY KEY (node_id, person_id, joined_on)
);
CREATE INDEX members_by_person ON members (person_id);

CREATE TABLE contributions (
    contribution_id TEXT PRIMARY KEY,
    person_id TEXT NOT NULL,
    node_id TEXT NOT NULL,
    phase TEXT NOT NULL,
    date TEXT NOT NULL,
    effort DOUBLE PRECISION NOT NULL,
    description TEXT NOT NULL,
    evidence TEXT,
    confirmed BIGINT NOT NULL,
    confirmed_on TEXT,
    retracted_on TEXT,
    retraction_reason TEXT
);
CREATE INDEX contributions_by_person ON contributions (person_id);
CREATE INDEX contributions_by_node ON contributions (node_id);

CREATE TABLE outcomes (
    outcome_id TEXT PRIMARY KEY,
    node_id TEXT NOT NULL,
    date TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    description TEXT NOT NULL,
    evidence TEXT
);
CREATE INDEX outcomes_by_node ON outcomes (node_id);

CREATE TABLE handovers (
    node_id TEXT NOT NULL,
    date TEXT NOT NULL,
    from_lead_id TEXT,
    to_lead_id TEXT,
    from_unit_id TEXT,
    to_unit_id TEXT,
    note TEXT NOT NULL,
    PRIMARY KEY (node_id, date)
);
