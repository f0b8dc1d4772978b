"""Migration 17: legal holds, the erasure ledger and its salt, and provider clean-up tasks.

- ``legal_hold``: one row per customer whose data must be kept (litigation,
  an authority's request); erasure and retention skip them.
- ``lifecycle_secret``: the salt of the ledger's hashes, made once by this
  migration, so it travels inside every backup taken afterwards.
- ``erasure_ledger``: the salted SHA-256 of each erased identity. A restore
  from an older backup hashes every identity it brings back and erases the
  customers that match, so an erasure is never undone by a restore.
- ``erasure_task``: what must still be done at a provider after the database
  part of an erasure (a Slack post to overwrite, a Twilio message or media to
  delete). The targets are provider ids, not personal data; a task that
  failed is retried by running the erasure again.

The DDL is frozen here, per engine, never derived from the live models.
"""

from __future__ import annotations


import peewee as pw

from helpline.store.models import Base, utcnow


class LegalHold(Base):
    customer_id = pw.IntegerField(primary_key=True)
    actor = pw.CharField(default="")
    reason = pw.TextField(default="")
    set_at = pw.DateTimeField(default=utcnow)


class LifecycleSecret(Base):
    name = pw.CharField(max_length=64, primary_key=True)
    value = pw.TextField()


class ErasureLedger(Base):
    hash = pw.CharField(max_length=64, primary_key=True)
    erased_at = pw.DateTimeField(default=utcnow)


class ErasureTask(Base):
    id = pw.AutoField()  # peewee's implicit key, spelt out so the type checker knows it
    customer_id = pw.IntegerField(index=True)
    kind = pw.CharField(max_length=40)  # slack_update, twilio_message, twilio_media
    target = pw.TextField()  # channel:ts, or the Twilio Message SID (and /Media SID)
    status = pw.CharField(max_length=16, default="pending")  # pending, done, failed
    attempts = pw.IntegerField(default=0)
    last_error = pw.TextField(default="")
    created_at = pw.DateTimeField(default=utcnow)
    done_at = pw.DateTimeField(null=True)


MODELS: list[type[Base]] = [LegalHold, LifecycleSecret, ErasureLedger, ErasureTask]
