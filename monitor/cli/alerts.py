"""``monitor alerts``: what was sent, what waits, what failed; and sending failed ones again."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import click

from monitor.alerts.delivery import alerts_with_status, deliver_alert, reset_for_retry
from monitor.alerts.make import Alert
from monitor.cli.common import opened_context, rules_option
from monitor.cli.table import Row, echo_table, last_error_notes, status_cell
from monitor.console import local_time

STATUSES = ("pending", "held", "sent", "failed", "digested")
HEADER = ("id", "status", "time", "rule", "channel", "attempts", "title")
# An error is the alert's state while it waits or once it has failed; a held or sent alert's
# error is the past.
SHOWS_ITS_ERROR = frozenset({"pending", "failed"})


def _row(alert: Alert, zone: str) -> Row:
    """One alert in the table; errors were stored without secrets (``monitor.alerts.delivery``)."""
    title = alert.title if not alert.items else f"digest of {len(alert.items)} articles"
    error = alert.last_error if alert.status in SHOWS_ITS_ERROR else None
    cells = (
        alert.id,
        status_cell(alert.status),
        local_time(alert.sent_at or alert.created, zone),
        alert.rule,
        f"{alert.channel}#{alert.target}",
        str(alert.attempts),
        title,
    )
    return Row(cells, last_error_notes(error))


@click.group("alerts", invoke_without_command=True)
@rules_option
@click.option("--status", type=click.Choice(STATUSES), multiple=True, help="Only these.")
@click.option("--limit", type=int, default=20, show_default=True, help="Recent alerts shown.")
@click.pass_context
def alerts(
    click_ctx: click.Context, rules: Path | None, status: tuple[str, ...], limit: int
) -> None:
    """Recent, pending and failed alerts (failed ones are the dead letter)."""
    if click_ctx.invoked_subcommand is not None:
        return
    with opened_context(rules) as ctx:
        found = alerts_with_status(ctx, *status)
        zone = ctx.settings.timezone
    counts = Counter(a.status for a in found)
    click.echo(", ".join(f"{counts[s]} {s}" for s in STATUSES if counts[s]) or "no alerts")
    always = [a for a in found if a.status in ("pending", "failed")]
    recent = [a for a in found if a.status not in ("pending", "failed")][:limit]
    shown = sorted(always + recent, key=lambda a: a.created, reverse=True)
    if shown:
        echo_table(HEADER, [_row(a, zone) for a in shown], fit_last=True)


@alerts.command("retry")
@rules_option
@click.option("--all-failed", is_flag=True, help="Every failed alert.")
@click.argument("ids", nargs=-1)
def retry(rules: Path | None, all_failed: bool, ids: tuple[str, ...]) -> None:
    """Send failed alerts again, once each, in this process; a refusal leaves them failed."""
    if not ids and not all_failed:
        raise click.UsageError("name alert IDs or pass --all-failed")
    with opened_context(rules) as ctx:
        chosen = list(ids) + [a.id for a in alerts_with_status(ctx, "failed") if all_failed]
        failed = False
        for alert_id in dict.fromkeys(chosen):
            if not reset_for_retry(ctx, alert_id):
                click.echo(f"{alert_id}: not a failed alert; left as it is", err=True)
                failed = True
                continue
            status = deliver_alert(ctx, alert_id, last_attempt=True)
            data = ctx.store.get(f"alert:{alert_id}") or {}
            error = f": {data['last_error']}" if status != "sent" and data.get("last_error") else ""
            click.echo(f"{alert_id}: {status}{error}")
            failed = failed or status != "sent"
    if failed:
        raise SystemExit(1)
