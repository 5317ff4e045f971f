"""Tuning from evidence (issue 15): decisions per day for 7 or 30 days by action and by rule, the false-positive
rate per rule from triage, the detectors behind false positives, and what monitor-mode rules would have done.
Charts are SVG drawn here, inline in the page: no script, no external asset.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from html import escape
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.console.web import Console

if TYPE_CHECKING:
    from gateway.store import IncidentRecord

ACTIONS = ("pass", "tag", "encrypt", "quarantine", "reject")
COLOURS = {"pass": "#505a5f", "tag": "#1d70b8", "encrypt": "#00703c", "quarantine": "#f47738", "reject": "#d4351c"}
"""GOV.UK palette colours; each series also has a text legend and a table, so colour is never the only cue."""


@dataclass
class Trends:
    days: list[date]
    by_day_action: dict[date, Counter[str]]
    by_rule: Counter[str]
    by_rule_action: dict[str, Counter[str]]
    triaged: Counter[str] = field(default_factory=Counter)
    false_positives: Counter[str] = field(default_factory=Counter)
    fp_detectors: Counter[str] = field(default_factory=Counter)
    monitor: dict[str, Counter[str]] = field(default_factory=dict)

    def fp_rate(self, rule: str) -> float | None:
        n = self.triaged.get(rule, 0)
        return self.false_positives.get(rule, 0) / n if n else None


def compute(records: list[IncidentRecord], *, false_positive_refs: set[str], now: datetime, tz: ZoneInfo,
            days: int) -> Trends:
    """Pure: ``records`` from the window; ``false_positive_refs`` those ever marked a false positive."""
    today = now.astimezone(tz).date()
    span = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
    by_day: dict[date, Counter[str]] = {d: Counter() for d in span}
    by_rule: Counter[str] = Counter()
    by_rule_action: dict[str, Counter[str]] = defaultdict(Counter)
    t = Trends(span, by_day, by_rule, by_rule_action)
    week_ago = now - timedelta(days=7)
    for r in records:
        day = r.created_at.astimezone(tz).date()
        if day in by_day:
            by_day[day][r.action] += 1
        enforced = {str(x["rule_id"]) for x in r.rules if x.get("mode", "enforce") == "enforce"}
        for rule in enforced:
            by_rule[rule] += 1
            by_rule_action[rule][r.action] += 1
            if r.status != "new":
                t.triaged[rule] += 1
                if r.reference in false_positive_refs:
                    t.false_positives[rule] += 1
        if r.reference in false_positive_refs:
            for det in {d for e in r.entities for d in e.get("detectors", [])}:
                t.fp_detectors[det] += 1
        if r.created_at >= week_ago:
            for x in r.rules:
                if x.get("mode") == "monitor":
                    t.monitor.setdefault(str(x["rule_id"]), Counter())[str(x["action"])] += 1
    return t


def bar_chart(t: Trends, *, title: str) -> Markup:
    """Stacked bars of decisions per day by action, with axis labels and a legend."""
    width, height, left, bottom, top = 760, 260, 40, 40, 20
    n = len(t.days)
    totals = [sum(t.by_day_action[d].values()) for d in t.days]
    peak = max([*totals, 1])
    plot_h = height - bottom - top
    slot = (width - left - 10) / n
    bar = max(slot * 0.7, 2)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height + 30}" role="img" '
             f'aria-labelledby="chart-title" class="chart"><title id="chart-title">{escape(title)}</title>',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" stroke="#0b0c0c"/>',
             f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" font-size="12">{peak}</text>',
             f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" font-size="12">0</text>']
    for i, d in enumerate(t.days):
        x = left + i * slot + (slot - bar) / 2
        y: float = top + plot_h
        for action in ACTIONS:
            count = t.by_day_action[d].get(action, 0)
            if not count:
                continue
            h = plot_h * count / peak
            y -= h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                         f'fill="{COLOURS[action]}"><title>{d.isoformat()}: {count} {action}</title></rect>')
        if n <= 10 or i % max(n // 10, 1) == 0 or i == n - 1:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
                         f'font-size="11">{d.strftime("%d %b")}</text>')
    lx = left
    for action in ACTIONS:
        parts.append(f'<rect x="{lx}" y="{height + 8}" width="12" height="12" fill="{COLOURS[action]}"/>'
                     f'<text x="{lx + 16}" y="{height + 18}" font-size="12">{action}</text>')
        lx += 110
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - built here from numbers, dates and escaped text


def hbar_chart(values: list[tuple[str, float, str]], *, title: str, unit: str = "") -> Markup:
    """Horizontal bars (label, value, caption), e.g. the false-positive rate per rule."""
    if not values:
        return Markup("")
    row, left, width = 26, 260, 760
    peak = max([v for _, v, _ in values] + [1e-9])
    height = row * len(values) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
             f'class="chart"><title>{escape(title)}</title>']
    for i, (label, value, caption) in enumerate(values):
        y = 5 + i * row
        w = (width - left - 120) * value / peak
        parts.append(f'<text x="{left - 8}" y="{y + 15}" text-anchor="end" font-size="12">{escape(label)}</text>'
                     f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="16" fill="#1d70b8"/>'
                     f'<text x="{left + w + 6:.1f}" y="{y + 15}" font-size="12">{escape(caption)}{unit}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - built here from numbers and escaped text


def routes(console: Console) -> list[Route]:
    store = console.store

    async def trends(request: Request) -> Response:
        viewer = await console.require(request)
        days = 30 if request.query_params.get("days") == "30" else 7
        now = store.clock()
        since = now - timedelta(days=max(days, 7) + 1)
        records = await store.list_incidents(since=since, newest_first=False)
        fps = await store.references_marked("false_positive", since=since - timedelta(days=90))
        t = compute(records, false_positive_refs=fps, now=now, tz=console.tz, days=days)
        rates = sorted(((rule, rate) for rule in t.triaged if (rate := t.fp_rate(rule)) is not None),
                       key=lambda kv: -kv[1])
        fp_chart = hbar_chart([(rule, rate, f"{rate:.0%} of {t.triaged[rule]} triaged") for rule, rate in rates],
                              title="False-positive rate per rule")
        return console.page(request, "trends.html", viewer, t=t, days=days, rates=rates, actions=ACTIONS,
                            chart=bar_chart(t, title=f"Decisions per day, last {days} days, by action"),
                            fp_chart=fp_chart)

    return [Route("/trends", trends, methods=["GET"])]
