"""Migration 7: teams, agents and memberships; ticket routing state and SLA clocks.

Frozen: the DDL below is what this version created, for each engine; never edit it."""

from __future__ import annotations

import peewee as pw

from helpline.store.migrations.ddl import run

NAME = "teams, agents, ticket routing and SLA clocks"

SQLITE = [
    (
        'CREATE TABLE IF NOT EXISTS "agent" ("id" INTEGER NOT NULL PRIMARY KEY, '
        '"email" VARCHAR(255) NOT NULL, "name" VARCHAR(255) NOT NULL, "slack_user" VARCHAR(255) NOT NULL, '
        '"tier" INTEGER NOT NULL, "capacity" INTEGER NOT NULL, "availability" VARCHAR(255) NOT NULL, '
        '"skills" TEXT NOT NULL, "open_count" INTEGER NOT NULL, "last_assigned_at" DATETIME, '
        '"active" INTEGER NOT NULL, "updated_at" DATETIME NOT NULL)'
    ),
    'CREATE UNIQUE INDEX IF NOT EXISTS "agent_email" ON "agent" ("email")',
    (
        'CREATE TABLE IF NOT EXISTS "team" ("id" INTEGER NOT NULL PRIMARY KEY, '
        '"name" VARCHAR(64) NOT NULL, "slack_channel" VARCHAR(255) NOT NULL, '
        '"lead_email" VARCHAR(255) NOT NULL, "addresses" TEXT NOT NULL, '
        '"business_hours" VARCHAR(255) NOT NULL, "categories" TEXT NOT NULL, "languages" TEXT NOT NULL, '
        '"strategy" VARCHAR(255) NOT NULL, "is_default" INTEGER NOT NULL, '
        '"notify_outside_hours" INTEGER NOT NULL, "active" INTEGER NOT NULL, '
        '"updated_at" DATETIME NOT NULL)'
    ),
    'CREATE UNIQUE INDEX IF NOT EXISTS "team_name" ON "team" ("name")',
    (
        'CREATE TABLE IF NOT EXISTS "team_member" ("id" INTEGER NOT NULL PRIMARY KEY, '
        '"team_id" INTEGER NOT NULL, "agent_id" INTEGER NOT NULL, '
        'FOREIGN KEY ("team_id") REFERENCES "team" ("id") ON DELETE CASCADE, '
        'FOREIGN KEY ("agent_id") REFERENCES "agent" ("id") ON DELETE CASCADE)'
    ),
    'CREATE INDEX IF NOT EXISTS "team_member_team_id" ON "team_member" ("team_id")',
    'CREATE INDEX IF NOT EXISTS "team_member_agent_id" ON "team_member" ("agent_id")',
    ('CREATE UNIQUE INDEX IF NOT EXISTS "team_member_team_id_agent_id" ON "team_member" ("team_id", "agent_id")'),
    (
        'CREATE TABLE IF NOT EXISTS "ticket_routing" ("ticket_id" INTEGER NOT NULL PRIMARY KEY, '
        '"queued_at" DATETIME, "queue_reason" TEXT NOT NULL, "min_tier" INTEGER NOT NULL, '
        '"sla_policy" VARCHAR(255) NOT NULL, "waiting_since" DATETIME, "reminded_at" DATETIME, '
        '"updated_at" DATETIME NOT NULL, '
        'FOREIGN KEY ("ticket_id") REFERENCES "ticket" ("id") ON DELETE CASCADE)'
    ),
    'CREATE INDEX IF NOT EXISTS "ticket_routing_queued_at" ON "ticket_routing" ("queued_at")',
    'CREATE INDEX IF NOT EXISTS "ticket_routing_waiting_since" ON "ticket_routing" ("waiting_since")',
    (
        'CREATE TABLE IF NOT EXISTS "ticket_sla" ("id" INTEGER NOT NULL PRIMARY KEY, '
        '"ticket_id" INTEGER NOT NULL, "target" VARCHAR(20) NOT NULL, "policy" VARCHAR(255) NOT NULL, '
        '"calendar" VARCHAR(255) NOT NULL, "budget_s" REAL NOT NULL, "warn_fraction" REAL NOT NULL, '
        '"consumed_s" REAL NOT NULL, "clock_from" DATETIME, "warn_at" DATETIME, "due_at" DATETIME, '
        '"warned_at" DATETIME, "breached_at" DATETIME, "stopped_at" DATETIME, '
        '"outcome" VARCHAR(255) NOT NULL, "created_at" DATETIME NOT NULL, "updated_at" DATETIME NOT NULL, '
        'FOREIGN KEY ("ticket_id") REFERENCES "ticket" ("id") ON DELETE CASCADE)'
    ),
    'CREATE INDEX IF NOT EXISTS "ticket_sla_ticket_id" ON "ticket_sla" ("ticket_id")',
    'CREATE INDEX IF NOT EXISTS "ticket_sla_warn_at" ON "ticket_sla" ("warn_at")',
    'CREATE INDEX IF NOT EXISTS "ticket_sla_due_at" ON "ticket_sla" ("due_at")',
    ('CREATE UNIQUE INDEX IF NOT EXISTS "ticket_sla_ticket_id_target" ON "ticket_sla" ("ticket_id", "target")'),
]

POSTGRES = [
    (
        'CREATE TABLE IF NOT EXISTS "agent" ("id" SERIAL NOT NULL PRIMARY KEY, '
        '"email" VARCHAR(255) NOT NULL, "name" VARCHAR(255) NOT NULL, "slack_user" VARCHAR(255) NOT NULL, '
        '"tier" INTEGER NOT NULL, "capacity" INTEGER NOT NULL, "availability" VARCHAR(255) NOT NULL, '
        '"skills" TEXT NOT NULL, "open_count" INTEGER NOT NULL, "last_assigned_at" TIMESTAMP, '
        '"active" BOOLEAN NOT NULL, "updated_at" TIMESTAMP NOT NULL)'
    ),
    'CREATE UNIQUE INDEX IF NOT EXISTS "agent_email" ON "agent" ("email")',
    (
        'CREATE TABLE IF NOT EXISTS "team" ("id" SERIAL NOT NULL PRIMARY KEY, "name" VARCHAR(64) NOT NULL, '
        '"slack_channel" VARCHAR(255) NOT NULL, "lead_email" VARCHAR(255) NOT NULL, '
        '"addresses" TEXT NOT NULL, "business_hours" VARCHAR(255) NOT NULL, "categories" TEXT NOT NULL, '
        '"languages" TEXT NOT NULL, "strategy" VARCHAR(255) NOT NULL, "is_default" BOOLEAN NOT NULL, '
        '"notify_outside_hours" BOOLEAN NOT NULL, "active" BOOLEAN NOT NULL, '
        '"updated_at" TIMESTAMP NOT NULL)'
    ),
    'CREATE UNIQUE INDEX IF NOT EXISTS "team_name" ON "team" ("name")',
    (
        'CREATE TABLE IF NOT EXISTS "team_member" ("id" SERIAL NOT NULL PRIMARY KEY, '
        '"team_id" INTEGER NOT NULL, "agent_id" INTEGER NOT NULL, '
        'FOREIGN KEY ("team_id") REFERENCES "team" ("id") ON DELETE CASCADE, '
        'FOREIGN KEY ("agent_id") REFERENCES "agent" ("id") ON DELETE CASCADE)'
    ),
    'CREATE INDEX IF NOT EXISTS "team_member_team_id" ON "team_member" ("team_id")',
    'CREATE INDEX IF NOT EXISTS "team_member_agent_id" ON "team_member" ("agent_id")',
    ('CREATE UNIQUE INDEX IF NOT EXISTS "team_member_team_id_agent_id" ON "team_member" ("team_id", "agent_id")'),
    (
        'CREATE TABLE IF NOT EXISTS "ticket_routing" ("ticket_id" INTEGER NOT NULL PRIMARY KEY, '
        '"queued_at" TIMESTAMP, "queue_reason" TEXT NOT NULL, "min_tier" INTEGER NOT NULL, '
        '"sla_policy" VARCHAR(255) NOT NULL, "waiting_since" TIMESTAMP, "reminded_at" TIMESTAMP, '
        '"updated_at" TIMESTAMP NOT NULL, '
        'FOREIGN KEY ("ticket_id") REFERENCES "ticket" ("id") ON DELETE CASCADE)'
    ),
    'CREATE INDEX IF NOT EXISTS "ticket_routing_queued_at" ON "ticket_routing" ("queued_at")',
    'CREATE INDEX IF NOT EXISTS "ticket_routing_waiting_since" ON "ticket_routing" ("waiting_since")',
    (
        'CREATE TABLE IF NOT EXISTS "ticket_sla" ("id" SERIAL NOT NULL PRIMARY KEY, '
        '"ticket_id" INTEGER NOT NULL, "target" VARCHAR(20) NOT NULL, "policy" VARCHAR(255) NOT NULL, '
        '"calendar" VARCHAR(255) NOT NULL, "budget_s" REAL NOT NULL, "warn_fraction" REAL NOT NULL, '
        '"consumed_s" REAL NOT NULL, "clock_from" TIMESTAMP, "warn_at" TIMESTAMP, "due_at" TIMESTAMP, '
        '"warned_at" TIMESTAMP, "breached_at" TIMESTAMP, "stopped_at" TIMESTAMP, '
        '"outcome" VARCHAR(255) NOT NULL, "created_at" TIMESTAMP NOT NULL, '
        '"updated_at" TIMESTAMP NOT NULL, '
        'FOREIGN KEY ("ticket_id") REFERENCES "ticket" ("id") ON DELETE CASCADE)'
    ),
    'CREATE INDEX IF NOT EXISTS "ticket_sla_ticket_id" ON "ticket_sla" ("ticket_id")',
    'CREATE INDEX IF NOT EXISTS "ticket_sla_warn_at" ON "ticket_sla" ("warn_at")',
    'CREATE INDEX IF NOT EXISTS "ticket_sla_due_at" ON "ticket_sla" ("due_at")',
    ('CREATE UNIQUE INDEX IF NOT EXISTS "ticket_sla_ticket_id_target" ON "ticket_sla" ("ticket_id", "target")'),
]


def upgrade(db: pw.Database) -> None:
    run(db, SQLITE, POSTGRES)
