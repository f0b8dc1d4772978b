"""The data lifecycle over every table and blob: export, erasure, retention, backup and restore.

Each concern is a module of its own (``export``, ``erasure``, ``retention``,
``backup``); ``schema`` holds the tables they add (migration 17) and
``ledger`` the salted hashes of erased identities that outlive any backup.
Provider clean-up (Slack posts, Twilio's copies) is ``notifier``'s, the
orchestration ``workers``', the commands and routes ``ingest``'s.
"""
