-- Stories drafted from the outlets' feeds: a status, the fields still as
-- drafted, each article's feed item and why it joined its story, and the
-- mapping from feed categories to topics.

-- Only published stories enter editions and the public pages. Stories
-- stored so far, like every imported one, are published.
ALTER TABLE stories ADD COLUMN status TEXT NOT NULL DEFAULT 'published'
	CHECK (status IN ('draft', 'published'));
-- Who set the status last: '' (an import or the newsroom's draft), 'auto'
-- (--auto-publish) or 'editor'. Auto-publishing leaves a story an editor
-- has published or unpublished alone.
ALTER TABLE stories ADD COLUMN status_by TEXT NOT NULL DEFAULT '';
-- JSON array of the fields still as the newsroom drafted them ("title",
-- "summary", "overview", "framing.left", "framing.center",
-- "framing.right", "topics"). An editor's change removes a field from it,
-- and later ingests redraft only what is left.
ALTER TABLE stories ADD COLUMN drafted TEXT NOT NULL DEFAULT '[]';
CREATE INDEX stories_status ON stories (status, published_at);

-- The feed item an article was made from (NULL for imported articles) and
-- why it joined its story: 'new' (it started the story), 'match' (its
-- similarity score and the terms it shared passed the threshold), 'editor'
-- (moved, split or merged by hand) or '' (imported).
ALTER TABLE articles ADD COLUMN item_id INTEGER;
ALTER TABLE articles ADD COLUMN join_by TEXT NOT NULL DEFAULT '';
ALTER TABLE articles ADD COLUMN join_score REAL NOT NULL DEFAULT 0;
ALTER TABLE articles ADD COLUMN join_shared TEXT NOT NULL DEFAULT '[]'; -- JSON array of terms
CREATE INDEX articles_item ON articles (item_id) WHERE item_id IS NOT NULL;

-- Feed categories as the operator maps them to the digest's topics
-- (`topics map`); a category with no row gives no topic.
CREATE TABLE topic_map (
	category TEXT PRIMARY KEY COLLATE NOCASE,
	topic    TEXT NOT NULL
);
INSERT INTO topic_map (category, topic) VALUES
	('politics', 'Politics'), ('election', 'Politics'), ('elections', 'Politics'), ('government', 'Politics'),
	('us', 'US'), ('u.s.', 'US'), ('national', 'US'),
	('world', 'World'), ('international', 'World'), ('europe', 'World'), ('asia', 'World'), ('middle east', 'Middle East'),
	('business', 'Business'), ('markets', 'Business'), ('economy', 'Economy'), ('finance', 'Economy'),
	('technology', 'Technology'), ('tech', 'Technology'), ('science', 'Science'),
	('health', 'Health'), ('medicine', 'Health'),
	('climate', 'Climate'), ('environment', 'Climate'), ('energy', 'Energy'),
	('sport', 'Sports'), ('sports', 'Sports'),
	('culture', 'Culture'), ('arts', 'Culture'), ('entertainment', 'Culture'),
	('education', 'Education'), ('crime', 'Justice'), ('justice', 'Justice'), ('law', 'Justice'),
	('immigration', 'Immigration'), ('defense', 'Defense'), ('military', 'Defense');
