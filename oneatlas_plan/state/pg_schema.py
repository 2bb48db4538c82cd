"""The PostgreSQL backend's tables, as numbered migrations applied in order by the tool.

Each migration runs once, in one transaction, recorded in ``schema_migrations``; the whole
run holds a transaction-level advisory lock so two processes never migrate at once. A
database migrated by a newer oneatlas-plan is refused, never downgraded.

``{schema}`` is replaced by the quoted schema name.
"""

from __future__ import annotations

from dataclasses import dataclass

# The advisory lock key spaces (first key) of oneatlas-plan ("oa" + n); locks are
# database-wide, so every class the tool takes is listed here, once.
STATE_LOCK_CLASS = 0x6F610001  # the run lock (second key: the schema)
MIGRATION_LOCK_CLASS = 0x6F610002  # migrations (second key: the schema)
GATE_LOCK_CLASS = 0x6F610003  # the ordering gates (second key: the API key's fingerprint)


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "state tables: one row per resource and one per order record",
        """
        CREATE TABLE {schema}.state_meta (
            singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
            version integer NOT NULL,
            lineage text NOT NULL,
            serial bigint NOT NULL CHECK (serial >= 0),
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE {schema}.resources (
            address text PRIMARY KEY,
            config_digest text NOT NULL,
            spec_file text,
            status text NOT NULL
        );
        CREATE TABLE {schema}.orders (
            address text NOT NULL REFERENCES {schema}.resources ON DELETE CASCADE,
            position integer NOT NULL CHECK (position >= 0),
            order_key text NOT NULL,
            status text NOT NULL,
            record jsonb NOT NULL,
            PRIMARY KEY (address, position)
        );
        CREATE INDEX orders_order_key ON {schema}.orders (order_key);
        CREATE TABLE {schema}.lock_holder (
            singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
            lock_id text NOT NULL,
            holder_user text NOT NULL,
            host text NOT NULL,
            pid integer NOT NULL,
            process_start text,
            created_at text NOT NULL,
            backend_pid integer NOT NULL
        );
        """,
    ),
    Migration(
        2,
        "ordering gates: one row per API key fingerprint, shared by every process",
        """
        CREATE TABLE {schema}.ordering_gate_salt (
            singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
            salt bytea NOT NULL CHECK (length(salt) = 32)
        );
        CREATE TABLE {schema}.ordering_gates (
            fingerprint text PRIMARY KEY
                CHECK (fingerprint ~ '^[0-9a-f]+$' AND length(fingerprint) = 32),
            idle_at timestamptz,
            banned_until timestamptz,
            updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
        );
        """,
    ),
    Migration(
        3,
        "retired orders: the orders of resources that left the state (state format 4)",
        """
        CREATE TABLE {schema}.retired_orders (
            position integer PRIMARY KEY CHECK (position >= 0),
            address text NOT NULL,
            order_key text NOT NULL,
            status text NOT NULL,
            record jsonb NOT NULL
        );
        CREATE INDEX retired_orders_order_key ON {schema}.retired_orders (order_key);
        UPDATE {schema}.state_meta SET version = 4 WHERE version = 3;
        """,
    ),
)

LATEST = MIGRATIONS[-1].version

BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
    version integer PRIMARY KEY,
    description text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""
