-- The reputation guard's pauses: the guard pauses an edition at most once
-- for each limit (complaints, hard bounces), so that an operator who
-- resumes it has the last word. The rows go with their edition.
CREATE TABLE reputation_pauses (
	edition_id INTEGER NOT NULL REFERENCES editions (id) ON DELETE CASCADE,
	kind       TEXT NOT NULL CHECK (kind IN ('complaint', 'bounce')),
	rate       REAL NOT NULL,  -- the rate that passed the limit
	attempted  INTEGER NOT NULL, -- the deliveries it was computed over
	at         TEXT NOT NULL,
	PRIMARY KEY (edition_id, kind)
);
