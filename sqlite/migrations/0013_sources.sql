-- Outlets with their ratings, their feeds with the fetcher's state, and the
-- articles read from them (package feeds owns all three).

CREATE TABLE sources (
	id         INTEGER PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE COLLATE NOCASE,
	domain     TEXT NOT NULL,
	-- the seven-point scale, or unrated: counted in the articles but not in
	-- the left/center/right split
	bias       TEXT NOT NULL CHECK (bias IN ('far-left', 'left', 'lean-left', 'center',
	                                         'lean-right', 'right', 'far-right', 'unrated')),
	factuality TEXT NOT NULL DEFAULT '',
	owner      TEXT NOT NULL DEFAULT '',
	rated_by   TEXT NOT NULL DEFAULT '',
	rated_on   TEXT NOT NULL DEFAULT '', -- YYYY-MM-DD or empty
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
);

CREATE TABLE source_feeds (
	id            INTEGER PRIMARY KEY,
	source_id     INTEGER NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
	url           TEXT NOT NULL UNIQUE,
	position      INTEGER NOT NULL DEFAULT 0,
	-- validators for the next conditional GET
	etag          TEXT NOT NULL DEFAULT '',
	last_modified TEXT NOT NULL DEFAULT '',
	last_fetch    TEXT,
	last_success  TEXT,
	last_error    TEXT NOT NULL DEFAULT '',
	-- item-level problems of the last fetch (a bad date, an item without a link)
	notes         TEXT NOT NULL DEFAULT '',
	failures      INTEGER NOT NULL DEFAULT 0, -- in a row, for the backoff
	next_fetch    TEXT,                       -- not before (Retry-After, backoff)
	item_count    INTEGER NOT NULL DEFAULT 0  -- items stored from this feed
);
CREATE INDEX source_feeds_source ON source_feeds (source_id);

CREATE TABLE items (
	id          INTEGER PRIMARY KEY,
	source_id   INTEGER NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
	feed_id     INTEGER REFERENCES source_feeds (id) ON DELETE SET NULL,
	url         TEXT NOT NULL UNIQUE, -- canonical
	guid        TEXT NOT NULL,
	title       TEXT NOT NULL,
	description TEXT NOT NULL DEFAULT '',
	categories  TEXT NOT NULL DEFAULT '[]', -- JSON array of strings
	published   TEXT NOT NULL,
	first_seen  TEXT NOT NULL,
	-- when the grouping into stories took the item; NULL until then, so
	-- that items stored by an ingest whose grouping failed are handed over
	-- by the next one
	grouped_at  TEXT,
	UNIQUE (source_id, guid)
);
CREATE INDEX items_published ON items (published);
CREATE INDEX items_ungrouped ON items (first_seen) WHERE grouped_at IS NULL;
