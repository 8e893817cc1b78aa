-- Peer allocations (peer_points_given): a member's 100 points for the others on a node, for
-- the period ending on `date`. `points` is the JSON list of {"person_id", "points"}.
CREATE TABLE peer_points (
    node_id TEXT NOT NULL,
    giver_id TEXT NOT NULL,
    date TEXT NOT NULL,
    points TEXT NOT NULL,
    PRIMARY KEY (node_id, giver_id, date)
);
