"""SQLite persistence of the sandbox world: the order ledger, quotations and deliveries."""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from pathlib import Path
from typing import Any

DB_NAME = "sandbox.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint TEXT NOT NULL,
    received_at REAL NOT NULL,
    contract_id TEXT NOT NULL,
    backend TEXT NOT NULL,
    customer_reference TEXT,
    sales_order_id TEXT,
    quotation_id TEXT,
    quotation_status TEXT,
    status TEXT NOT NULL,
    total_amount REAL NOT NULL,
    currency TEXT NOT NULL,
    body TEXT NOT NULL,
    lines TEXT NOT NULL,
    accepted_at REAL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    item_id TEXT PRIMARY KEY,
    order_seq INTEGER NOT NULL,
    workspace_id TEXT NOT NULL,
    ready_at REAL NOT NULL,
    feature TEXT NOT NULL
);
"""


class Store:
    """Thread-safe wrapper around one SQLite file in the data dir."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / DB_NAME
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- meta and counters -------------------------------------------------------------------

    def secret(self) -> str:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key='secret'").fetchone()
            if row is not None:
                return str(row["value"])
            value = secrets.token_hex(32)
            self._db.execute("INSERT INTO meta VALUES ('secret', ?)", (value,))
            return value

    def next_number(self, name: str) -> int:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            row = self._db.execute("SELECT value FROM meta WHERE key=?", (name,)).fetchone()
            value = 1 if row is None else int(row["value"]) + 1
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, str(value)))
            self._db.execute("COMMIT")
            return value

    # --- orders ------------------------------------------------------------------------------

    def insert_order(self, row: dict[str, Any]) -> int:
        cols = (
            "endpoint",
            "received_at",
            "contract_id",
            "backend",
            "customer_reference",
            "sales_order_id",
            "quotation_id",
            "quotation_status",
            "status",
            "total_amount",
            "currency",
            "body",
            "lines",
            "accepted_at",
            "updated_at",
        )
        values = [json.dumps(row[c]) if c in ("body", "lines") else row.get(c) for c in cols]
        with self._lock:
            cur = self._db.execute(
                f"INSERT INTO orders ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                values,
            )
            return int(cur.lastrowid or 0)

    def update_order(self, seq: int, **fields: Any) -> None:
        sets = ", ".join(f"{k}=?" for k in fields)
        with self._lock:
            self._db.execute(f"UPDATE orders SET {sets} WHERE seq=?", [*fields.values(), seq])

    def orders(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM orders ORDER BY seq").fetchall()
        return [_order(r) for r in rows]

    def order_by_quotation(self, quotation_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM orders WHERE quotation_id=?", (quotation_id,)
            ).fetchone()
        return None if row is None else _order(row)

    # --- deliveries --------------------------------------------------------------------------

    def insert_delivery(
        self,
        item_id: str,
        order_seq: int,
        workspace_id: str,
        ready_at: float,
        feature: dict[str, Any],
    ) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO deliveries VALUES (?, ?, ?, ?, ?)",
                (item_id, order_seq, workspace_id, ready_at, json.dumps(feature)),
            )

    def deliveries(self, ready_before: float | None = None) -> list[dict[str, Any]]:
        query, args = "SELECT * FROM deliveries", []
        if ready_before is not None:
            query += " WHERE ready_at <= ?"
            args.append(ready_before)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY item_id", args).fetchall()
        return [
            {
                "item_id": r["item_id"],
                "order_seq": r["order_seq"],
                "ready_at": r["ready_at"],
                "workspace_id": r["workspace_id"],
                "feature": json.loads(r["feature"]),
            }
            for r in rows
        ]

    def deliveries_of(self, order_seq: int) -> list[dict[str, Any]]:
        return [d for d in self.deliveries() if d["order_seq"] == order_seq]


def _order(row: sqlite3.Row) -> dict[str, Any]:
    out = dict(row)
    out["body"] = json.loads(row["body"])
    out["lines"] = json.loads(row["lines"])
    return out


def read_ledger(data_dir: Path) -> list[dict[str, Any]]:
    """The ledger of a data dir, readable without a running server."""
    if not (data_dir / DB_NAME).exists():
        return []
    store = Store(data_dir)
    try:
        return ledger(store)
    finally:
        store.close()


def ledger(store: Store) -> list[dict[str, Any]]:
    """Every order (and quotation) the sandbox ever received, oldest first."""
    return [
        {
            "sequence": o["seq"],
            "endpoint": o["endpoint"],
            "receivedAt": o["received_at"],
            "contractId": o["contract_id"],
            "customerReference": o["customer_reference"],
            "salesOrderId": o["sales_order_id"],
            "quotationId": o["quotation_id"],
            "quotationStatus": o["quotation_status"],
            "status": o["status"],
            "totalAmount": o["total_amount"],
            "currency": o["currency"],
            "body": o["body"],
        }
        for o in store.orders()
    ]
