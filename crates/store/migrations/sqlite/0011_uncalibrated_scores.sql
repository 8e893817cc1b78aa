-- A calibrated score whose ratings were too few to calibrate (docs/calibration.md, "Too little
-- data"): its calibrated value is the raw mean, its standard error as wide as the scale allows.
ALTER TABLE calibrated_scores ADD COLUMN uncalibrated INTEGER NOT NULL DEFAULT 0;
