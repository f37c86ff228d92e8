"""What the room learned about each kata, from the events in its database (:mod:`.database`).

For each kata a pair reached: how many pairs reached it and passed it, the
median time and number of runs it took them to pass, the hint level they
had when they passed, the named mistakes they hit most, and how many failing
runs no message named. That last count is the course authors' to-do list:
a failure a learner met that no mutant's message explains.

* time to pass: from the post where the kata first became the pair's
  current kata to the post where it passed (a pair that joined the room with
  the kata already passed, or passed it with ``kata catch-up``, is not counted);
* runs: the runs with the kata as the current one, the passing run included (every run counts, changed
  code or not: the database's column is named ``attempts``, as in the files of earlier rooms);
* hint level: how many hints the pair had asked for with ``kata hint`` when it passed (0: none).

Several workshops merge (``kata room report A.sqlite B.sqlite``): their
events are pooled, each pair counted once per workshop.
"""

from __future__ import annotations

import csv
import html
import io
import statistics
from collections import Counter
from pathlib import Path

from ..course.curriculum import Curriculum
from ..words import plural

TOP_MISTAKES = 5
EVENTS = "SELECT client, kata, kind, at, attempts AS runs, seconds, hints, mistake FROM events ORDER BY at, id"


def from_database(database, curriculum: Curriculum) -> dict:
    """The report of one room (a :class:`~.database.Database`)."""
    return report([dict(row) for row in database.query(EVENTS)], curriculum, workshops=1)


def from_files(paths: list[Path], curriculum: Curriculum) -> dict:
    """The report of several rooms' SQLite files (``room.sqlite`` or the copies in ``exports/``), merged."""
    from .database import connect

    events = []
    for number, path in enumerate(paths):
        connection = connect(Path(path), readonly=True)
        try:
            for row in connection.execute(EVENTS):
                events.append({**dict(row), "client": f"{number}:{row['client']}"})
        finally:
            connection.close()
    return report(events, curriculum, workshops=len(paths))


def _median(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 1) if values else None


def report(events: list[dict], curriculum: Curriculum, workshops: int) -> dict:
    """Per kata (in the course's order), from a list of events."""
    by_kata: dict[str, list[dict]] = {}
    for event in events:
        by_kata.setdefault(event["kata"], []).append(event)
    katas = [kata_row(kata, by_kata[kata.id]) for kata in curriculum.katas if kata.id in by_kata]
    return {
        "workshops": workshops,
        "pairs": len({event["client"] for event in events}),
        "katas": katas,
    }


def kata_row(kata, events: list[dict]) -> dict:
    passes = [e for e in events if e["kind"] == "passed"]
    failures = [e for e in events if e["kind"] == "failed"]
    named = [e for e in failures if e.get("mistake")]
    mistakes: dict[str, set] = {}
    hits = Counter(e["mistake"] for e in named)
    for event in named:
        mistakes.setdefault(event["mistake"], set()).add(event["client"])
    top = sorted(mistakes, key=lambda m: (-len(mistakes[m]), -hits[m], m))[:TOP_MISTAKES]
    return {
        "id": kata.id,
        "number": kata.number,
        "title": kata.title,
        "reached": len({e["client"] for e in events if e["kind"] in ("reached", "passed")}),
        "passed": len({e["client"] for e in passes}),
        "median_minutes": _median([e["seconds"] / 60 for e in passes if e.get("seconds") is not None]),
        "median_runs": _median([e.get("runs") for e in passes]),
        "hint_levels": dict(sorted(Counter(int(e.get("hints") or 0) for e in passes).items())),
        "failing_runs": len(failures),
        "unnamed_failures": len(failures) - len(named),
        "mistakes": [{"mistake": m, "pairs": len(mistakes[m]), "hits": hits[m]} for m in top],
    }


# ------------------------------------------------------------------- CSV


def as_csv(data: dict) -> str:
    from .export import spreadsheet_safe

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "kata_id",
            "kata_number",
            "kata_title",
            "pairs_reached",
            "pairs_passed",
            "median_minutes_to_pass",
            "median_runs_to_pass",
            "hint_levels_at_pass",
            "failing_runs",
            "failures_no_message_named",
            "top_mistake",
            "top_mistake_pairs",
        ]
    )
    for row in data["katas"]:
        top = row["mistakes"][0] if row["mistakes"] else {"mistake": "", "pairs": ""}
        levels = " ".join(f"{level}:{count}" for level, count in row["hint_levels"].items())
        cells = [
            row["id"],
            row["number"],
            row["title"],
            row["reached"],
            row["passed"],
            _blank(row["median_minutes"]),
            _blank(row["median_runs"]),
            levels,
            row["failing_runs"],
            row["unnamed_failures"],
            top["mistake"],
            top["pairs"],
        ]
        writer.writerow([spreadsheet_safe(cell) for cell in cells])
    return out.getvalue()


def _blank(value) -> str:
    return "" if value is None else str(value)


# ------------------------------------------------------------------ HTML

STYLE = """
body { font: 16px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1b1f24; max-width: 72rem; }
h1 { font-size: 1.5rem; } table { border-collapse: collapse; width: 100%; table-layout: fixed; }
th, td { text-align: left; padding: .35rem .5rem; border-top: 1px solid #d0d7de; vertical-align: top;
         overflow-wrap: anywhere; }
th { font-weight: 600; font-size: .85rem; color: #57606a; }
.bar { height: .7rem; background: #2f81f7; display: block; } .bar.pass { background: #1f883d; }
.bar.todo { background: #cf222e; } .note { color: #57606a; font-size: .9rem; }
ol { margin: 0; padding-left: 1.1rem; }
"""


def _bar(value: float, top: float, kind: str, label: str) -> str:
    width = 0 if not top else round(100 * value / top)
    return (
        f'<span class="bar {kind}" style="width:{width}%" title="{html.escape(label)}"></span>'
        f"<span>{html.escape(label)}</span>"
    )


def as_html(data: dict) -> str:
    """A page with a bar for each figure (plain HTML and CSS: no script, no network)."""
    rows = data["katas"]
    most = max((r["reached"] for r in rows), default=0)
    slowest = max((r["median_minutes"] or 0 for r in rows), default=0)
    unnamed = max((r["unnamed_failures"] for r in rows), default=0)
    body = []
    for row in rows:
        mistakes = "".join(
            f"<li>{html.escape(m['mistake'])} <span class='note'>({plural(m['pairs'], 'pair')}, {plural(m['hits'], 'run')})</span></li>"
            for m in row["mistakes"]
        )
        levels = ", ".join(f"level {level}: {count}" for level, count in row["hint_levels"].items()) or "–"
        minutes = row["median_minutes"]
        passed = f"{row['passed']} of {row['reached']} passed"
        took = "–" if minutes is None else f"{minutes:g} min"
        runs = "" if row["median_runs"] is None else f"{row['median_runs']:g} runs"
        body.append(
            "<tr>"
            f"<td>{html.escape(str(row['number']))} {html.escape(row['title'])}<br>"
            f"<span class='note'>{html.escape(row['id'])}</span></td>"
            f"<td>{_bar(row['passed'], most, 'pass', passed)}</td>"
            f"<td>{_bar(minutes or 0, slowest, '', took)}"
            f"<br><span class='note'>{runs}</span></td>"
            f"<td>{html.escape(levels)}</td>"
            f"<td>{_bar(row['unnamed_failures'], unnamed, 'todo', str(row['unnamed_failures']))}</td>"
            f"<td><ol>{mistakes}</ol></td>"
            "</tr>"
        )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>Neural Katas: what the room learned</title><style>{STYLE}</style></head><body>"
        f"<h1>What the room learned, kata by kata</h1><p class='note'>{plural(data['pairs'], 'pair')} in "
        f"{plural(data['workshops'], 'workshop')}. Failures no message named are "
        "the course's to-do list: a mistake learners make that no mutant explains yet.</p>"
        "<table><colgroup><col style='width:20%'><col style='width:14%'><col style='width:14%'>"
        "<col style='width:12%'><col style='width:10%'><col style='width:30%'></colgroup>"
        "<thead><tr><th>kata</th><th>passed / reached</th><th>median time to pass</th><th>hint level at pass</th>"
        "<th>failures no message named</th><th>most common named mistakes</th></tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table></body></html>\n"
    )
