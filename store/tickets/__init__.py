"""Tickets and what hangs on them: their rows, lookups, merges, notes, tags, customers, routing and SLA state, near-duplicates and incidents, triage reads, surveys, reports."""
