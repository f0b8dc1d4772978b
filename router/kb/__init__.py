"""Suggested answers: BM25 retrieval of articles and resolved tickets, their text, and the retrieval figures."""
