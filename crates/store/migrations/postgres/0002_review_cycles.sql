-- Review cycles (projections of the cycle_*, goal_*, reviewer_*, self_review_*, behaviour_*,
-- rating_*, calibration_* and score_* events). Dates are ISO 8601 text; booleans 0/1; an empty
-- dimension means the overall score (all dimensions pooled).
CREATE TABLE cycles (
    cycle_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    starts_on TEXT NOT NULL,
    ends_on TEXT NOT NULL,
    phase TEXT NOT NULL,
    -- The cycle's settings as opened: the canonical JSON of the cycle_opened payload.
    settings TEXT NOT NULL
);

CREATE TABLE goals (
    goal_id TEXT PRIMARY KEY,
    cycle_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    node_id TEXT NOT NULL,
    title TEXT NOT NULL,
    -- JSON list of {"metric", "target"}.
    key_results TEXT NOT NULL
);
CREATE INDEX goals_by_person ON goals (person_id, cycle_id);

CREATE TABLE key_result_measurements (
    goal_id TEXT NOT NULL,
    metric TEXT NOT NULL,
    measured_on TEXT NOT NULL,
    actual DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (goal_id, metric, measured_on)
);

CREATE TABLE reviewers (
    cycle_id TEXT NOT NULL,
    ratee_id TEXT NOT NULL,
    reviewer_id TEXT NOT NULL,
    included BIGINT NOT NULL,
    by_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (cycle_id, ratee_id, reviewer_id)
);

CREATE TABLE self_reviews (
    cycle_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    entry_id TEXT NOT NULL,
    circle TEXT NOT NULL,
    contribution_id TEXT NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (cycle_id, person_id, entry_id)
);
CREATE INDEX self_reviews_by_contribution ON self_reviews (contribution_id);

CREATE TABLE behaviour_assessments (
    cycle_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    value TEXT NOT NULL,
    behaviour TEXT NOT NULL,
    met BIGINT NOT NULL,
    evidence TEXT NOT NULL,
    assessed_by TEXT NOT NULL,
    PRIMARY KEY (cycle_id, person_id, value, behaviour)
);

CREATE TABLE ratings (
    cycle_id TEXT NOT NULL,
    rater_id TEXT NOT NULL,
    ratee_id TEXT NOT NULL,
    dimension TEXT NOT NULL,
    relationship TEXT NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    status TEXT NOT NULL,
    comment TEXT NOT NULL,
    PRIMARY KEY (cycle_id, rater_id, ratee_id, dimension)
);
CREATE INDEX ratings_by_ratee ON ratings (ratee_id, cycle_id);

CREATE TABLE calibrated_scores (
    cycle_id TEXT NOT NULL,
    dimension TEXT NOT NULL,
    person_id TEXT NOT NULL,
    raw_mean DOUBLE PRECISION NOT NULL,
    calibrated DOUBLE PRECISION NOT NULL,
    std_error DOUBLE PRECISION NOT NULL,
    n_ratings BIGINT NOT NULL,
    PRIMARY KEY (cycle_id, dimension, person_id)
);

CREATE TABLE score_overrides (
    cycle_id TEXT NOT NULL,
    dimension TEXT NOT NULL,
    person_id TEXT NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    previous DOUBLE PRECISION NOT NULL,
    reason TEXT NOT NULL,
    by_id TEXT NOT NULL,
    PRIMARY KEY (cycle_id, dimension, person_id)
);
