"""Full-text search: the index (FTS5 or tsvector), the query language, and the bench's bulk rows."""
