-- Roles granted in the ledger (role_granted / role_revoked): hr and admin. Everyone employed
-- is an employee without a row here. A revoked role keeps its row with revoked_on set.
CREATE TABLE roles (
    person_id TEXT NOT NULL,
    role TEXT NOT NULL,
    granted_on TEXT NOT NULL,
    granted_by TEXT,
    revoked_on TEXT,
    revoked_by TEXT,
    PRIMARY KEY (person_id, role)
);

-- Requests to join a node (join_requested / join_answered): the latest per person and node.
CREATE TABLE join_requests (
    node_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    requested_on TEXT NOT NULL,
    role TEXT NOT NULL,
    message TEXT NOT NULL,
    status TEXT NOT NULL,
    answered_on TEXT,
    answered_by TEXT,
    PRIMARY KEY (node_id, person_id)
);

-- A flagpole's open roles (JSON list of role names) and the need it says it serves.
ALTER TABLE nodes ADD COLUMN roles_wanted TEXT NOT NULL DEFAULT '[]';
ALTER TABLE nodes ADD COLUMN serves_id TEXT;
