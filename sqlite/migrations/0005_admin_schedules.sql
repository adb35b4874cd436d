-- Each schedule sends at most one edition per date. schedule_runs records
-- what happened to every run that fell due: claimed and sending (started),
-- done, failed, stopped by an admin, or missed while the server was down.
-- Its key is also the claim that stops a run being sent twice.
CREATE TABLE schedule_runs (
	id         INTEGER PRIMARY KEY,
	schedule   TEXT NOT NULL,
	date       TEXT NOT NULL,              -- YYYY-MM-DD in the schedule's zone
	due_at     TEXT NOT NULL,
	status     TEXT NOT NULL
	           CHECK (status IN ('started', 'done', 'failed', 'stopped', 'missed')),
	detail     TEXT NOT NULL DEFAULT '',
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	UNIQUE (schedule, date)
);
CREATE INDEX schedule_runs_due ON schedule_runs (due_at);

-- Admin console sessions. Only a SHA-256 of the cookie is stored.
CREATE TABLE admin_sessions (
	token_hash TEXT PRIMARY KEY,
	csrf       TEXT NOT NULL,
	created_at TEXT NOT NULL,
	expires_at TEXT NOT NULL
);
CREATE INDEX admin_sessions_expiry ON admin_sessions (expires_at);
