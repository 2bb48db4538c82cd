"""``--format json`` of apply, refresh, download, validate and state list: for scripts.

Each output is a pydantic model, the single source of its JSON Schema in ``schemas/`` (see
``oneatlas_plan._schemas``); the converters below are pure (result -> model). Amounts are
decimal strings ("1145.12"), never floats. ``format_version`` changes only when a field is
removed or changes meaning; new fields may appear in any release.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

if TYPE_CHECKING:  # the models are imported by `state list`, which needs none of these
    from oneatlas_plan.applying.apply import ApplyResult
    from oneatlas_plan.applying.download import DownloadResult
    from oneatlas_plan.applying.refresh import RefreshResult
    from oneatlas_plan.spec.problems import Problem
    from oneatlas_plan.spec.validate import ValidationReport

DecimalText = Annotated[str, StringConstraints(pattern=r"^-?\d+(\.\d+)?$")]
Totals = dict[str, DecimalText]

APPLY_STATUSES = ("ordered", "quoted", "accepted", "rejected", "unknown", "skipped")


class _Output(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_json(self) -> str:
        from oneatlas_plan._canonical import dumps

        return dumps(self.model_dump(mode="json"))


# --------------------------------------------------------------------------- apply


class AppliedOrder(_Output):
    key: str = Field(description="The order's idempotency key (in its customerReference).")
    addresses: list[str]
    status: Literal["ordered", "quoted", "accepted", "rejected", "unknown", "skipped"] = Field(
        description="skipped: not submitted (a price rise, a budget, --fail-fast, Ctrl-C)."
    )
    message: str = Field(description="Why, and what to do next, for people.")
    order_id: str | None = Field(description="Airbus salesOrderId or quotation id.")
    amount: DecimalText | None
    currency: str | None


class ApplyOutput(_Output):
    """``apply --format json``: what became of each order of the plan."""

    format_version: Literal[1] = 1
    endpoint: str
    orders: list[AppliedOrder]
    forgotten: list[str] = Field(description="Addresses removed from the state (not cancelled).")
    counts: dict[str, int] = Field(description="Status -> orders, every status present.")
    planned: int = Field(description="Orders the plan asked to place.")
    submitted: int = Field(description="Orders sent to Airbus (every status but skipped).")
    not_submitted: int = Field(description="planned - submitted.")
    spent: Totals = Field(description="Currency -> amount of the orders ordered or accepted.")
    stopped: str | None = Field(description="Why the run stopped early, if it did.")
    interrupted: bool = Field(description="Stopped by Ctrl-C / SIGTERM (exit 130).")
    ok: bool = Field(description="Every order ordered, quoted or accepted (exit 0).")


def _text(amount: Decimal | None) -> str | None:
    return None if amount is None else str(amount)


def _totals(pairs: list[tuple[Decimal | None, str | None]]) -> dict[str, str]:
    totals: dict[str, Decimal] = {}
    for amount, currency in pairs:
        if amount is not None and currency:
            totals[currency] = totals.get(currency, Decimal(0)) + amount
    return {currency: str(amount) for currency, amount in sorted(totals.items())}


def apply_output(result: ApplyResult, *, endpoint: str, flags: str = "") -> ApplyOutput:
    from oneatlas_plan.render.apply_text import with_flags

    submitted = sum(1 for o in result.outcomes if o.status != "skipped")
    return ApplyOutput(
        endpoint=endpoint,
        orders=[
            AppliedOrder(
                key=o.key,
                addresses=list(o.addresses),
                status=o.status,  # type: ignore[arg-type]
                message=with_flags(o.message, flags),
                order_id=o.order_id,
                amount=_text(o.amount),
                currency=o.currency,
            )
            for o in result.outcomes
        ],
        forgotten=list(result.forgotten),
        counts={status: result.count(status) for status in APPLY_STATUSES},
        planned=result.planned,
        submitted=submitted,
        not_submitted=result.planned - submitted,
        spent=_totals(
            [(o.amount, o.currency) for o in result.outcomes if o.status in ("ordered", "accepted")]
        ),
        stopped=result.stopped,
        interrupted=result.interrupted,
        ok=not result.failed,
    )


# --------------------------------------------------------------------------- refresh


class RefreshedOrderOutput(_Output):
    addresses: list[str]
    order_id: str | None
    status: str = Field(
        description="quoted, refused, ordered, in_production, delivered, failed or cancelled."
    )
    delivered_items: int
    submitted_at: str | None
    changed: bool = Field(description="The refresh changed this order's record in the state.")


class RefreshOutput(_Output):
    """``refresh --format json``: one entry per Airbus order refreshed."""

    format_version: Literal[1] = 1
    orders: list[RefreshedOrderOutput]
    changed: int = Field(description="Orders whose record changed.")


def refresh_output(result: RefreshResult) -> RefreshOutput:
    return RefreshOutput(
        orders=[
            RefreshedOrderOutput(
                addresses=list(o.addresses),
                order_id=o.order_id,
                status=o.status,
                delivered_items=o.delivered_items,
                submitted_at=o.submitted_at,
                changed=o.changed,
            )
            for o in result.orders
        ],
        changed=result.changed,
    )


# --------------------------------------------------------------------------- download


class DownloadedFile(_Output):
    addresses: list[str]
    order_key: str
    item_id: str
    path: str
    status: Literal["downloaded", "skipped", "failed"] = Field(
        description="skipped: already downloaded and verified."
    )
    size: int | None = Field(description="Bytes.")
    md5: str | None
    message: str
    extracted: str | None = Field(description="Directory it was unpacked into (--extract).")


class DownloadOutput(_Output):
    """``download --format json``: every file, what is not delivered yet, what has no link."""

    format_version: Literal[1] = 1
    files: list[DownloadedFile]
    waiting: list[str] = Field(description="Addresses with nothing delivered recorded yet.")
    unusable: list[str] = Field(description="Delivered items without a usable link (messages).")
    counts: dict[str, int] = Field(description="downloaded, skipped, failed -> files.")
    ok: bool = Field(description="Nothing failed and every delivered item had a link (exit 0).")


def download_output(result: DownloadResult) -> DownloadOutput:
    return DownloadOutput(
        files=[
            DownloadedFile(
                addresses=list(f.task.addresses),
                order_key=f.task.order_key,
                item_id=f.task.item_id,
                path=str(f.task.path),
                status=f.status,
                size=f.size,
                md5=f.md5,
                message=f.message,
                extracted=None if f.extracted is None else str(f.extracted),
            )
            for f in result.files
        ],
        waiting=list(result.waiting),
        unusable=list(result.unusable),
        counts={status: result.count(status) for status in ("downloaded", "skipped", "failed")},
        ok=not result.failed,
    )


# --------------------------------------------------------------------------- validate


class Finding(_Output):
    file: str = Field(description="Relative to the current directory when under it.")
    line: int
    column: int
    path: str = Field(description="Dotted location in the document (orders[0].search).")
    severity: Literal["error", "warning", "note"]
    message: str


class ValidateOutput(_Output):
    """``validate --format json``: every finding, located."""

    format_version: Literal[1] = 1
    ok: bool = Field(description="No error (warnings and notes do not fail; exit 0).")
    files: list[str] = Field(description="Spec files read.")
    findings: list[Finding] = Field(description="Errors, warnings and notes, by file and line.")
    counts: dict[str, int] = Field(description="error, warning, note -> findings.")


def validate_output(report: ValidationReport) -> ValidateOutput:
    from oneatlas_plan.spec.problems import display_path

    findings = [_finding(p) for p in report.findings]
    return ValidateOutput(
        ok=report.ok,
        files=[display_path(f) for f in report.files],
        findings=findings,
        counts={
            s: sum(1 for f in findings if f.severity == s) for s in ("error", "warning", "note")
        },
    )


def _finding(problem: Problem) -> Finding:
    from oneatlas_plan.spec.problems import display_path

    return Finding(
        file=display_path(problem.file),
        line=problem.line,
        column=problem.column,
        path=problem.path,
        severity=problem.severity.value,
        message=problem.shown_message,
    )


# --------------------------------------------------------------------------- state list


class StateOrderRow(_Output):
    address: str
    order: int = Field(description="1-based number in the resource's history; 0: no order.")
    current: bool = Field(description="The resource's current order (the last one).")
    status: str
    production_status: str | None
    sales_order_id: str | None
    quotation_id: str | None
    amount: DecimalText | None
    currency: str | None
    submitted_at: str | None
    outcome_at: str | None
    delivered_items: int
    downloaded: int = Field(description="Files downloaded and verified.")
    shared_with: list[str] = Field(description="Other addresses in the same Airbus order.")
    order_key: str | None


class UnsettledOutput(_Output):
    orders: int = Field(description="Orders whose outcome is unknown or pending.")
    up_to: Totals = Field(description="Currency -> what they may have cost at most.")


class QuotedOutput(_Output):
    orders: int
    amounts: Totals


class ArrivedOutput(_Output):
    delivered_items: int
    downloaded_files: int
    downloaded_bytes: int


class RetiredRow(_Output):
    """An order of a resource that left the state (docs/SPEC.md, Budgets)."""

    address: str
    retired_at: str
    reason: str
    status: str
    counted: bool = Field(description="Whether its amount still counts as spend.")
    sales_order_id: str | None
    quotation_id: str | None
    amount: DecimalText | None
    currency: str | None
    submitted_at: str | None
    order_key: str


class StateListOutput(_Output):
    """``state list --format json``: every order of every resource and the totals."""

    version: int = Field(description="The state file's format version.")
    lineage: str | None
    serial: int
    orders: list[StateOrderRow]
    spent: Totals = Field(description="Currency -> ordered or accepted, each order once.")
    unsettled: UnsettledOutput
    quoted: QuotedOutput
    arrived: ArrivedOutput
    retired: list[RetiredRow] = Field(
        default_factory=list,
        description="Orders of resources that left the state (apply's forget, `state rm`).",
    )
