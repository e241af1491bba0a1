"""The record of a compliance program (SPEC §7): runs, their violations, and the loads they report.

A store remembers every run on it. A run appends one `runs` row and all its
violations to `run_violations` (with `status`: new, seen or waived), so the
next run can tell what is new, what is gone, and a period report can be
rebuilt from the ledger without judging again. Nothing here updates or
deletes a ledger row; `audit purge` is the one exception and leaves a
`purges` row saying so (store.py).

Which run "judged" a contact: the latest run whose `--since/--until` window
holds the contact's local date (every run judges all contacts of the dates
in its window). That rule gives `gone` and the period report alike.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone

import duckdb
import polars as pl

from . import __version__, progress
from .engine import AuditResult, ensure_facts
from .ingest import REJECTED_SCHEMA, LoadResult, TableCounts
from .schemas import VIOLATION_COLUMNS
from .store import RUN_VIOLATION_COLUMNS, frame, scalar
from .digest import local_date, of_frame
from .waivers import Waivers, apply, tally

STATUSES = ("new", "seen", "waived", "gone")
REPORT_COLUMNS = [*VIOLATION_COLUMNS, "status", "waiver_id"]
_COVERS = ('(r.since IS NULL OR r.since <= {d}) AND (r."until" IS NULL OR {d} <= r."until")')


_local_date = local_date


# ---------------------------------------------------------------- loads in a run's report

def loads_in_scope(con: duckdb.DuckDBPyConnection, *, windowed: bool, current: LoadResult | None) -> LoadResult | None:
    """The loads a run on a store reports: since the previous run when it judges a window (the
    nightly case), else all of them. Counts are summed per table; rejected rows come from the store."""
    after = scalar(con, "SELECT coalesce(max(last_load_id), 0) FROM runs") if windowed else 0
    found = _loads_between(con, after, None)
    if found is None:
        return current
    found.notes = list(current.notes) if current is not None else []
    return found


def _loads_between(con: duckdb.DuckDBPyConnection, after: int, upto: int | None) -> LoadResult | None:
    """The loads with `after` < load_id <= `upto` (no upper bound: None) as one LoadResult: counts
    summed per table, the rejected rows as the store keeps them (masked)."""
    bounds = "load_id > ? AND (? IS NULL OR load_id <= ?)"
    loads = con.execute(f"SELECT load_id, counts FROM loads WHERE {bounds} ORDER BY load_id",
                        [after, upto, upto]).fetchall()
    if not loads:
        return None
    counts: dict[str, TableCounts] = {}
    for _, text in loads:
        for table, c in json.loads(text).items():
            acc = counts.setdefault(table, TableCounts())
            for k, n in c.items():
                setattr(acc, k, getattr(acc, k) + n)
    rejected = frame(con, 'SELECT "table", source_file, "row", "key", reasons, "values" FROM rejected_rows '
                          f'WHERE {bounds} ORDER BY load_id, "table", source_file, "row"', [after, upto, upto])
    rejected = rejected.cast(REJECTED_SCHEMA) if rejected.height else pl.DataFrame(schema=REJECTED_SCHEMA)
    return LoadResult(counts=counts, rejected=rejected, load_id=int(loads[-1][0]))


# ---------------------------------------------------------------- status of a run's violations

def _seen(con, current: pl.DataFrame) -> pl.DataFrame:
    """(rule_id, event_id) of the current violations an earlier run in the ledger reported."""
    con.register("_current", current.select("rule_id", "event_id"))
    try:
        return frame(con, "SELECT c.rule_id, c.event_id FROM _current c WHERE EXISTS ("
                          "SELECT 1 FROM run_violations h WHERE h.rule_id = c.rule_id AND h.event_id = c.event_id)")
    finally:
        con.unregister("_current")


def _gone(con, current: pl.DataFrame) -> dict[str, int]:
    """Per rule: violations the latest earlier run that judged a contact reported, for contacts this
    run judged, that this run no longer reports."""
    con.register("_current", current.select("rule_id", "event_id"))
    try:
        rows = con.execute(f"""
            WITH judged AS (SELECT event_id, local_date FROM facts WHERE judged),
            prior AS (
                SELECT j.event_id, max(r.run_id) AS run_id
                FROM judged j JOIN runs r ON {_COVERS.format(d='j.local_date')}
                GROUP BY j.event_id)
            SELECT h.rule_id, count(*)
            FROM prior p JOIN run_violations h ON h.run_id = p.run_id AND h.event_id = p.event_id
            WHERE NOT EXISTS (SELECT 1 FROM _current c WHERE c.rule_id = h.rule_id AND c.event_id = h.event_id)
            GROUP BY h.rule_id""").fetchall()
    finally:
        con.unregister("_current")
    return {r: int(n) for r, n in rows}


def mark(result: AuditResult, waivers: Waivers | None, as_of: date, *, seen: pl.DataFrame | None = None) -> None:
    """status and waiver_id on the result's violations: seen where the ledger had them, else new;
    waived where a waiver applies (the run's own verdict stays in `base_status`)."""
    result.violations = marked(result.violations, waivers, as_of, seen=seen)
    result.waivers = tally(result.counted().waivers_used(), waivers, as_of)


def marked(v: pl.DataFrame, waivers: Waivers | None, as_of: date, *, seen: pl.DataFrame | None = None,
           keep: tuple[str, ...] = ()) -> pl.DataFrame:
    """Report rows with their status, waiver_id and base_status; also what the Spark executors run
    on each batch of rows (no ledger there: nothing is seen). `keep`: more columns to carry along."""
    v = v.with_columns(pl.lit("new").alias("status"))
    if seen is not None and seen.height:
        v = v.join(seen.with_columns(pl.lit(True).alias("_seen")), on=["rule_id", "event_id"], how="left") \
            .with_columns(pl.when(pl.col("_seen")).then(pl.lit("seen")).otherwise(pl.col("status")).alias("status")) \
            .drop("_seen")
    v = v.with_columns(pl.col("status").alias("base_status"))
    return apply(v, waivers, as_of).select(*REPORT_COLUMNS, "base_status", *keep)


def record(con: duckdb.DuckDBPyConnection, result: AuditResult, *, waivers: Waivers | None, as_of: date,
           engine: str) -> None:
    """Give the run's violations their status, count what is gone, and append the run to the ledger."""
    progress.step("record the run in the store")
    ensure_facts(con, result.policy, result.since, result.until)
    mark(result, waivers, as_of, seen=_seen(con, result.violations))
    gone = _gone(con, result.violations)
    result.statuses = result.counted().statuses(result.policy.rule_ids(), gone)
    v = result.violations
    con.execute("BEGIN TRANSACTION")
    try:
        run_id = scalar(con, "SELECT coalesce(max(run_id), 0) + 1 FROM runs")
        by_rule = dict.fromkeys(result.policy.rule_ids(), 0)
        by_rule.update(dict(v.group_by("rule_id").len().iter_rows()) if v.height else {})
        last_load = scalar(con, "SELECT max(load_id) FROM loads")
        agents = result.agent_contacts
        agents_json = json.dumps({("" if a is None else a): n for a, n in agents.iter_rows()}) \
            if agents is not None else None
        con.execute("INSERT INTO runs VALUES (?, ?, now(), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
            run_id, result.started_at, __version__, engine, result.policy.policy_id, result.policy.version,
            result.policy.sha256, (waivers.sha256 if waivers else None), result.since, result.until,
            (result.fingerprint or {}).get("sha256"), result.contacts_judged, last_load,
            json.dumps(by_rule), json.dumps(result.statuses), result.policy.text, agents_json])
        rows = v.with_columns(pl.lit(run_id, pl.Int64).alias("run_id"), _local_date().alias("local_date"))
        con.register("_run_rows", rows.select(RUN_VIOLATION_COLUMNS))
        con.execute("INSERT INTO run_violations SELECT * FROM _run_rows")
        con.unregister("_run_rows")
        con.execute("COMMIT")
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:
            pass
        raise
    result.run_id = run_id
    result.violations = v.drop("base_status")


# ---------------------------------------------------------------- reading the record

def history(con: duckdb.DuckDBPyConnection) -> list[dict]:
    rows = con.execute('SELECT run_id, started_at, finished_at, policy_id, policy_version, since, "until", '
                       "contacts_judged, violations, statuses, engine FROM runs ORDER BY run_id").fetchall()
    out = []
    for run_id, started, finished, pid, pver, since, until, judged, violations, statuses, engine in rows:
        st = json.loads(statuses or "{}")
        out.append({
            "run_id": run_id, "started_at": _iso(started), "finished_at": _iso(finished),
            "policy": f"{pid} {pver}", "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None, "contacts_judged": judged, "engine": engine,
            "violations": sum(json.loads(violations or "{}").values()),
            **{s: sum(c.get(s, 0) for c in st.values()) for s in STATUSES},
        })
    return out


def _iso(t: datetime | None) -> str | None:
    return t.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if t else None


def period(con: duckdb.DuckDBPyConnection, since: date | None, until: date | None) -> tuple[pl.DataFrame, list[int]]:
    """The violation rows of a period, from the ledger: for each local date in the window, those of
    the latest run that judged that date; and the runs they come from (with no row: the latest run
    that judged any of the window, if one did)."""
    params = {"since": since, "until": until}
    rows = frame(con, f"""
        SELECT v.* FROM run_violations v
        WHERE ($since IS NULL OR v.local_date >= $since) AND ($until IS NULL OR v.local_date <= $until)
          AND v.run_id = (SELECT max(r.run_id) FROM runs r WHERE {_COVERS.format(d='v.local_date')})
        ORDER BY v.ts, v.event_id, v.rule_id""", params)
    runs = sorted(set(rows["run_id"].to_list())) if rows.height else [r[0] for r in con.execute("""
        SELECT r.run_id FROM runs r
        WHERE ($since IS NULL OR r."until" IS NULL OR r."until" >= $since)
          AND ($until IS NULL OR r.since IS NULL OR r.since <= $until)
        ORDER BY r.run_id DESC LIMIT 1""", params).fetchall()]
    return rows, runs


def run_policy_text(con: duckdb.DuckDBPyConnection, run_id: int) -> str | None:
    row = con.execute("SELECT policy_text FROM runs WHERE run_id = ?", [run_id]).fetchone()
    return row[0] if row else None


def period_result(con: duckdb.DuckDBPyConnection, since: date | None, until: date | None,
                  waivers: Waivers | None, as_of: date, started: datetime) -> AuditResult:
    """Everything a period report writes, read from the ledger: the rows, the policy of the latest
    run drawn from, the loads those runs reported, and the gone counts they recorded."""
    from .policy import load_policy, parse_policy

    rows, runs = period(con, since, until)
    if runs:
        text = run_policy_text(con, runs[-1])
        policy = parse_policy(text, f"ledger run {runs[-1]}") if text else load_policy(None)
    else:
        policy = load_policy(None)
    v = rows.with_columns(pl.col("base_status").alias("status")) if waivers is not None else rows
    if waivers is not None:
        v = apply(v.drop("waiver_id"), waivers, as_of)
    info = con.execute(
        "SELECT run_id, contacts_judged, statuses, last_load_id, agents FROM runs "
        "WHERE run_id IN (SELECT unnest(?::BIGINT[])) ORDER BY run_id", [runs]).fetchall() if runs else []
    gone: dict[str, int] = {}
    per_agent: dict[str, int] = {}
    for _, _, statuses, _, agents in info:
        for a, n in json.loads(agents or "{}").items():
            per_agent[a] = per_agent.get(a, 0) + int(n)
        for rule, c in json.loads(statuses or "{}").items():
            gone[rule] = gone.get(rule, 0) + int(c.get("gone", 0))
    result = AuditResult(violations=v.select(REPORT_COLUMNS), policy=policy, started_at=started,
                         finished_at=datetime.now(timezone.utc), since=since, until=until,
                         contacts_judged=sum(int(r[1] or 0) for r in info), runs=runs)
    result.load = _loads_of_runs(con, runs)
    counted = result.counted()
    result.statuses = counted.statuses(policy.rule_ids(), gone)
    result.waivers = tally(of_frame(v).waivers_used(), waivers, as_of)
    result.trend = counted.trend()
    result.agent_contacts = pl.DataFrame(
        {"agent_id": [a or None for a in per_agent], "contacts": list(per_agent.values())},
        schema={"agent_id": pl.String, "contacts": pl.Int64})
    if not runs:
        result.notes.append("no run in the ledger judged this window: the report is empty")
    return result


def _loads_of_runs(con: duckdb.DuckDBPyConnection, runs: list[int]) -> LoadResult | None:
    """The loads reported by these runs: after the run before the first, up to the last's last load."""
    if not runs:
        return None
    before = scalar(con, "SELECT coalesce(max(last_load_id), 0) FROM runs WHERE run_id < ?", [runs[0]])
    last = scalar(con, "SELECT coalesce(last_load_id, 0) FROM runs WHERE run_id = ?", [runs[-1]])
    return _loads_between(con, before, last)
