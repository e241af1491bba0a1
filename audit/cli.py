"""Click commands only: parse options, call the library, map errors to exit codes.

Exit codes: 0 audit ran; 1 --fail-on threshold reached; 2 usage or policy
error (also a report target or store the tool refuses to touch); 3 input or
store could not be loaded, or the disk or memory ran out; 4 --fail-on given
but no contact was judged; 130 interrupted. Errors are one line on stderr.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import sys
from datetime import date

import click

from . import __version__, api, progress
from .errors import AuditError, NothingJudged, PolicyError, UsageError
from .policy import BUILTIN_PREFIX, SEVERITY_RANK, builtin_names, load_policy

SEVERITY = click.Choice(list(SEVERITY_RANK), case_sensitive=False)


def _fail(message: str, code: int) -> None:
    click.echo(f"audit: {message}", err=True)
    sys.exit(code)


def handle_errors(fn):
    """Turn the library's errors into a one-line message and the contract's exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except PolicyError as e:
            click.echo(f"audit: {e.kind} {e.source} is invalid ({len(e.problems)} problem(s)):", err=True)
            for p in e.problems:
                click.echo(f"  {p}", err=True)
            sys.exit(2)
        except AuditError as e:
            _fail(str(e), e.exit_code)
        except KeyboardInterrupt:  # outside a load or an audit (those say what the store holds)
            _fail("interrupted", 130)
        except MemoryError:
            _fail("out of memory; try --memory-limit to let the engine spill to disk", 3)

    return wrapper


class OneLineGroup(click.Group):
    """Click's usage errors as one line on stderr (exit 2), like every other error of the tool."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        os.umask(0o077)  # everything the tool writes is private from its first byte (store, WAL, spill, reports)
        try:
            code = super().main(args, prog_name or "audit", complete_var, False, **extra)
        except click.UsageError as e:
            hint = f" (see '{e.ctx.command_path} --help')" if e.ctx is not None else ""
            _fail(" ".join(e.format_message().split()) + hint, 2)
        except click.ClickException as e:
            _fail(" ".join(e.format_message().split()), e.exit_code)
        except click.Abort:
            _fail("interrupted", 130)
        sys.exit(code if isinstance(code, int) else 0)


def output_options(fn):
    """--quiet and --verbose, and a step reporter around the command."""

    @click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors (no progress, no totals).")
    @click.option("--verbose", "-v", is_flag=True,
                  help="Log each step with its duration (never message text). On a terminal a progress bar with "
                       "percentage and ETA is shown on stderr either way.")
    @functools.wraps(fn)
    def wrapper(*args, quiet: bool, verbose: bool, **kwargs):
        reporter = progress.reporter(quiet=quiet, verbose=verbose)
        ctx = click.get_current_context()
        ctx.meta["quiet"] = quiet
        try:
            with progress.reporting(reporter):
                return fn(*args, **kwargs)
        finally:
            reporter.close()

    return wrapper


def waiver_options(fn):
    """--waivers and --as-of, shared by `run` and `report`."""
    fn = click.option("--as-of", "as_of", callback=_date,
                      help="The date waivers are judged on (default: today, UTC); one past its expiry does not apply.")(fn)
    return click.option("--waivers", type=click.Path(dir_okay=False), envvar="AUDIT_WAIVERS", show_envvar=True,
                        help="Waivers file (YAML, SPEC §7): signed-off violations, kept but not failing --fail-on.")(fn)


def _say_statuses(result) -> None:
    s = result.statuses
    if s and (result.run_id is not None or result.runs or any(c.get("waived") for c in s.values())):
        total = {k: sum(c.get(k, 0) for c in s.values()) for k in ("new", "seen", "waived", "gone")}
        run = f"run {result.run_id}: " if result.run_id is not None else ""
        _say(f"{run}{total['new']} new, {total['seen']} seen, {total['waived']} waived, {total['gone']} gone")
    w = result.waivers
    if w and (w.get("expired") or w.get("unused")):
        from . import pii

        _say(f"waivers: expired {', '.join(pii.mask_strings([e['id'] for e in w['expired']])) or '-'}; "
             f"unused {', '.join(pii.mask_strings(w['unused'])) or '-'}")


def _say(message: str) -> None:
    if not click.get_current_context().meta.get("quiet"):
        click.echo(message)


def _date(ctx, param, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date YYYY-MM-DD") from None


@click.group(cls=OneLineGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="contact-audit")
def main() -> None:
    """Audit a lender's collection contact logs against a compliance policy."""


@main.command()
@click.argument("data_dir", type=click.Path(file_okay=False))
@click.option("--db", type=click.Path(dir_okay=False), envvar="AUDIT_DB", show_envvar=True, help="Store file (DuckDB). Without it: validate and count only.")
@click.option("--timezone", "zone", help="IANA zone of timestamps written without a UTC offset.")
@click.option("--encoding", default="utf-8", show_default=True, help="Encoding of CSV files (e.g. gb18030).")
@click.option("--lock-timeout", default=60.0, show_default=True, help="Seconds to wait for a store in use.")
@click.option("--mapping", type=click.Path(dir_okay=False),
              help="Mapping file (YAML, SPEC §8): read a lender's own export; see `audit mapping draft`.")
@output_options
@handle_errors
def load(data_dir: str, db: str | None, zone: str | None, encoding: str, lock_timeout: float,
         mapping: str | None) -> None:
    """Load DATA_DIR into the store, accounting for every row.

    Rows are loaded, updated (snapshot tables), skipped as identical
    duplicates, or rejected with every reason; one load is one transaction.

    \b
    Example:
      audit load exports/2026-11-29 --db store.duckdb
      AUDIT_DB=store.duckdb audit load exports/2026-11-29 --verbose
    """
    from .schemas import TABLES

    progress.expect(len(TABLES) + 1)  # validate each table, then merge
    result = api.load(data_dir, db=db, timezone=zone, encoding=encoding, lock_timeout=lock_timeout, mapping=mapping)
    progress.finish()
    _say(f"{'table':<20}{'read':>10}{'loaded':>10}{'updated':>10}{'duplicates':>12}{'rejected':>10}")
    for name, c in result.counts.items():
        _say(f"{name:<20}{c.read:>10}{c.loaded:>10}{c.updated:>10}{c.duplicates:>12}{c.rejected:>10}")
    if result.rejected.height:
        _say(f"{result.rejected.height} rejected row(s); see them with `audit run ... --out DIR` (rejected.csv)")


@main.command()
@click.option("--db", type=click.Path(dir_okay=False), envvar="AUDIT_DB", show_envvar=True, help="Store file (DuckDB) to audit (and load into).")
@click.option("--data", type=click.Path(file_okay=False), help="Dataset directory to load first.")
@click.option("--policy", "policy", envvar="AUDIT_POLICY", show_envvar=True, help="Policy YAML file, or builtin:NAME. Default: the built-in default policy.")
@click.option("--out", required=True, type=click.Path(), help="Directory for the reports: new, or an earlier report of this tool.")
@click.option("--timezone", "zone", help="IANA zone of timestamps written without a UTC offset.")
@click.option("--encoding", default="utf-8", show_default=True, help="Encoding of CSV files (e.g. gb18030).")
@click.option("--fail-on", type=SEVERITY, help="Exit 1 when a violation at or above this severity exists.")
@click.option("--since", callback=_date, help="First local date of the contacts to judge (inclusive).")
@click.option("--until", callback=_date, help="Last local date of the contacts to judge (inclusive).")
@click.option("--lock-timeout", default=60.0, show_default=True, help="Seconds to wait for a store in use.")
@click.option("--threads", type=click.IntRange(1), help="Engine threads (default: all cores).")
@click.option("--memory-limit", help="Engine memory limit, e.g. 3GB; beyond it the engine spills to disk.")
@click.option("--engine", type=click.Choice(["duckdb", "spark"]), default="duckdb", show_default=True,
              help="Where the rules run: DuckDB in this process, or Apache Spark (needs the spark extra).")
@click.option("--spark-master", default="local[*]", show_default=True,
              help="Spark master: local[*], spark://host:port, yarn, or a Spark Connect sc:// URL.")
@click.option("--max-csv-rows", type=click.IntRange(0), default=None,
              help="Spark engine: read back and write violations.csv only up to this many violations "
                   "(default 1000000); above it, violations/ (Parquet by month) holds them all.")
@click.option("--junit", "junit", type=click.Path(dir_okay=False),
              help="Also write JUnit XML here: a test per rule, a failure per violation (100 per rule at most).")
@click.option("--mapping", type=click.Path(dir_okay=False),
              help="Mapping file (YAML, SPEC §8): read a lender's own export; see `audit mapping draft`.")
@click.option("--format", "fmt", default="text", show_default=True, type=click.Choice(["text", "json"]),
              help="json: the terminal summary as one JSON object on stdout (counts, outputs, exit reasons).")
@waiver_options
@output_options
@handle_errors
def run(db, data, policy, out, zone, encoding, mapping, fail_on, since, until, lock_timeout, threads,
        memory_limit,
        engine, spark_master, max_csv_rows, junit, waivers, as_of, fmt) -> None:
    """Audit the contacts and write violations, rejected rows and a summary to --out.

    With --data the dataset is loaded first (into --db, or into memory);
    with --db alone the stored contacts are audited (the store must exist).
    --since/--until limit which contacts are judged; every rule still sees
    the full history.

    --out: a new directory or an earlier report is replaced whole; in another
    directory the report goes beside its files (never over one of them). It
    may not hold or lie inside the dataset, nor hold the store.

    On a store (--db) the run is recorded in its ledger: each violation is
    new, seen (an earlier run reported it) or waived (--waivers), and the
    summary counts those gone since the last run that judged the contact.

    \b
    Example:
      audit run --data sample_data --out reports/2026-11-30 --fail-on high
      audit run --db store.duckdb --since 2026-11-29 --until 2026-11-29 \\
          --waivers waivers.yaml --out reports/2026-11-29 --fail-on high
      audit run --db store.duckdb --out reports/today --format json > run.json
      audit run --engine spark --spark-master spark://host:7077 \\
          --data s3a://lake/contact-logs --out reports/lake

    Exit status: 0 ran; 1 --fail-on met; 2 usage; 3 input, store, disk or
    memory; 4 --fail-on given but nothing was judged; 130 interrupted.
    """
    if junit:
        from .reports.target import check_junit_target

        check_junit_target(junit, out=out, data=data, db=db)
    progress.expect(_expected_run_steps(policy, data=data, db=db, out=out, engine=engine))
    result = api.audit(db=db, data=data, policy=policy, out=out, timezone=zone, encoding=encoding,
                       mapping=mapping,
                       since=since, until=until, lock_timeout=lock_timeout, threads=threads,
                       memory_limit=memory_limit, engine=engine, spark_master=spark_master,
                       waivers=waivers, as_of=as_of, max_csv_rows=max_csv_rows)
    progress.finish()
    from . import pii

    if fmt == "text":
        counted = result.counted()
        _say(f"{counted.total} violation(s) in {result.contacts_judged} contact(s) judged; reports in {out}")
        _say_statuses(result)
        for rule_id, n in sorted(counted.counts("rule_id").iter_rows()):
            _say(f"  {rule_id:<28}{n:>8}")
        for note in pii.mask_strings(result.notes + (result.load.notes if result.load is not None else [])):
            _say(f"note: {note}")
    if junit:
        from .reports.junit import run_junit
        from .reports.target import private_file

        with private_file(junit, flag="--junit") as tmp:
            run_junit(result, tmp)
    status, reasons, warnings = 0, [], []
    if not result.contacts_judged:
        window = " in the --since/--until window" if since or until else ""
        message = f"nothing was judged: no contact{window} in the {'dataset' if data else 'store'}"
        if fail_on:
            status, reasons = 4, [message + "; a run that judges nothing cannot pass --fail-on"]
        else:
            warnings.append(message)
    if not status and fail_on and result.worst_at_or_above(fail_on.lower()):
        status, reasons = 1, [f"violations at or above {fail_on} exist (--fail-on)"]
    if fmt == "json":
        from .reports.summary import run_summary

        click.echo(json.dumps(run_summary(result, out=out, junit=junit, exit_status=status, reasons=reasons,
                                          warnings=warnings), indent=2, ensure_ascii=False, default=str))
    for w in warnings:
        click.echo(f"audit: warning: {w}", err=True)
    if status == 4:
        raise NothingJudged(reasons[0])
    if status == 1:
        click.echo(f"audit: {reasons[0]}", err=True)
        sys.exit(1)


def _expected_run_steps(policy, *, data, db, out, engine) -> int | None:
    """The steps `audit run` will announce, for the progress bar's percentage (None if the policy is bad:
    the run itself then says why)."""
    from .rules import sql_rules
    from .schemas import TABLES

    try:
        pol = load_policy(policy)
    except AuditError:
        return None
    steps = len(sql_rules(pol, has_emergency_contacts=True)) + 3  # facts, text rules, collect
    steps += (len(TABLES) + 1) if data else 0                      # validate each table, merge
    steps += 2 if engine == "spark" else 0                         # start Spark, hand the store over
    steps += 5 if out else 0                                       # fingerprint, four report files
    steps += 1 if db else 0                                        # record the run in the ledger
    return steps


@main.command()
@click.option("--db", required=True, type=click.Path(dir_okay=False), envvar="AUDIT_DB", show_envvar=True, help="Store file (DuckDB) with runs in its ledger.")
@click.option("--since", callback=_date, help="First local date of the period (inclusive).")
@click.option("--until", callback=_date, help="Last local date of the period (inclusive).")
@click.option("--out", required=True, type=click.Path(), help="Directory for the reports: new, or an earlier report.")
@click.option("--lock-timeout", default=60.0, show_default=True, help="Seconds to wait for a store in use.")
@waiver_options
@output_options
@handle_errors
def report(db, since, until, out, lock_timeout, waivers, as_of) -> None:
    """Write the reports of a period from the store's ledger, without judging again.

    For each contact whose local date lies in the period: the verdicts of the
    latest run that judged it. Where nightly runs judged each day once with
    one policy, a month's report equals one run over that month.

    \b
    Example:
      audit report --db store.duckdb --since 2026-11-01 --until 2026-11-30 --out reports/2026-11
    """
    progress.expect(4)  # the report's four writing steps (reports/__init__.py)
    result = api.report(db, out=out, since=since, until=until, waivers=waivers, as_of=as_of,
                        lock_timeout=lock_timeout)
    progress.finish()
    _say(f"{result.violations.height} violation(s) from run(s) {', '.join(map(str, result.runs)) or '-'}; "
         f"reports in {out}")
    _say_statuses(result)
    if not result.runs:
        click.echo("audit: warning: no run in the ledger judged this period; the report is empty", err=True)


@main.command()
@click.argument("event_id")
@click.option("--db", required=True, type=click.Path(dir_okay=False), envvar="AUDIT_DB", show_envvar=True, help="Store file (DuckDB).")
@click.option("--policy", envvar="AUDIT_POLICY", show_envvar=True, help="Policy YAML file or builtin:NAME. Default: the policy of the store's latest run.")
@click.option("--format", "fmt", default="text", show_default=True, type=click.Choice(["text", "json"]),
              help="json: one object a case-management system can store.")
@click.option("--lock-timeout", default=60.0, show_default=True, help="Seconds to wait for a store in use.")
@handle_errors
def explain(event_id, db, policy, fmt, lock_timeout) -> None:
    """Why EVENT_ID was flagged: its facts, every rule's verdict, and the loan's timeline.

    The verdicts come from the same rule SQL as a run. Identifiers are masked.

    \b
    Example:
      audit explain E000000088 --db store.duckdb
      audit explain E000000088 --db store.duckdb --format json
    """
    from .explain import render_text

    e = api.explain(db, event_id, policy=policy, lock_timeout=lock_timeout)
    if fmt == "json":
        click.echo(json.dumps(e, indent=2, ensure_ascii=False, default=str))
        return
    tty = sys.stdout.isatty()
    click.echo(render_text(e, color=tty, width=shutil.get_terminal_size().columns if tty else None), nl=False)


@main.command()
@click.option("--db", required=True, type=click.Path(dir_okay=False), envvar="AUDIT_DB", show_envvar=True, help="Store file (DuckDB).")
@click.option("--format", "fmt", default="text", show_default=True, type=click.Choice(["text", "json"]))
@click.option("--lock-timeout", default=60.0, show_default=True, help="Seconds to wait for a store in use.")
@handle_errors
def history(db, fmt, lock_timeout) -> None:
    """List the runs recorded in the store's ledger, one line each.

    \b
    Example:
      audit history --db store.duckdb --format json
    """
    runs = api.history(db, lock_timeout=lock_timeout)
    if fmt == "json":
        click.echo(json.dumps(runs, indent=2))
        return
    click.echo(f"{'run':>5}  {'started (UTC)':<21}{'policy':<28}{'window':<24}{'violations':>11}"
               f"{'new':>8}{'gone':>8}")
    for r in runs:
        window = "all dates" if not (r["since"] or r["until"]) else f"{r['since'] or '…'} to {r['until'] or '…'}"
        click.echo(f"{r['run_id']:>5}  {(r['started_at'] or '')[:19]:<21}{r['policy'][:27]:<28}{window:<24}"
                   f"{r['violations']:>11}{r['new']:>8}{r['gone']:>8}")


@main.command()
@click.option("--db", required=True, type=click.Path(dir_okay=False), envvar="AUDIT_DB", show_envvar=True, help="Store file (DuckDB).")
@click.option("--borrower", "borrower_id", required=True, help="The borrower whose data to delete.")
@click.option("--dry-run", is_flag=True, help="Print what would be deleted; delete nothing.")
@click.option("--lock-timeout", default=60.0, show_default=True, help="Seconds to wait for a store in use.")
@handle_errors
def purge(db: str, borrower_id: str, dry_run: bool, lock_timeout: float) -> None:
    """Delete every row about one borrower from the store (erasure requests).

    \b
    Example:
      audit purge --db store.duckdb --borrower B0000109 --dry-run
    """
    from .api import purge as purge_rows

    deleted = purge_rows(db, borrower_id, dry_run=dry_run, lock_timeout=lock_timeout)
    counts = ", ".join(f"{t}: {n}" for t, n in deleted.items())
    if not any(deleted.values()):
        click.echo(f"audit: borrower {borrower_id!r} has no rows in the store {db}; nothing "
                   f"{'would be' if dry_run else 'was'} deleted (check the id)", err=True)
        return
    click.echo(f"{counts} row(s) {'would be deleted (dry run; nothing deleted)' if dry_run else 'deleted'}")


@main.group()
def policy() -> None:
    """Work with policy files: list the built-in presets, validate, diff and unit-test them."""


@policy.command("list")
def policy_list() -> None:
    """List the built-in policies, usable as --policy builtin:NAME."""
    for name in builtin_names():
        p = load_policy(BUILTIN_PREFIX + name)
        click.echo(f"builtin:{name:<16} {p.policy_id} {p.version}  rules: {', '.join(p.rule_ids())}")


@policy.command("validate")
@click.argument("file")
@click.option("--format", "fmt", default="text", show_default=True, type=click.Choice(["text", "github"]),
              help="github: each problem as a GitHub Actions annotation on its line of FILE.")
@handle_errors
def policy_validate(file: str, fmt: str) -> None:
    """Check FILE against the policy contract: exit 0, or 2 with every problem and its path."""
    from .annotations import annotation, policy_problem_lines
    from .policy import builtin_namesake

    try:
        p = load_policy(file)
    except PolicyError as e:
        if fmt != "github":
            raise
        for problem, line in zip(e.problems, policy_problem_lines(file, e.problems)):
            click.echo(annotation(problem, file=file, line=line, title=f"invalid {e.kind}"))
        _fail(f"{e.kind} {file} is invalid ({len(e.problems)} problem(s), annotated above)", 2)
    click.echo(f"{file}: valid ({p.policy_id} {p.version}; rules: {', '.join(p.rule_ids())})")
    namesake = builtin_namesake(p)
    if namesake:  # reports name a policy by id and version: two contents must not share them
        warning = (f"policy {p.policy_id} version {p.version} differs from the built-in "
                   f"{namesake} with the same id and version; give it a new version")
        if fmt == "github":
            line = policy_problem_lines(file, ["version"])[0]
            click.echo(annotation(warning, file=file, line=line, title="policy version", level="warning"))
        else:
            click.echo(f"audit: warning: {warning}", err=True)


@policy.command("diff")
@click.argument("old")
@click.argument("new")
@click.option("--data", type=click.Path(file_okay=False), help="Dataset to compare on (loaded once, into memory).")
@click.option("--db", type=click.Path(dir_okay=False), help="Store to compare on (instead of --data).")
@click.option("--format", "fmt", default="text", show_default=True, type=click.Choice(["text", "json", "markdown"]),
              help="markdown suits a pull-request comment.")
@click.option("--fail-on-new", type=SEVERITY, help="Exit 1 when the change adds violations at or above this severity.")
@click.option("--examples", default=3, show_default=True, type=click.IntRange(0), help="Examples per rule and side.")
@click.option("--timezone", "zone", help="IANA zone of timestamps written without a UTC offset.")
@click.option("--encoding", default="utf-8", show_default=True, help="Encoding of CSV files (e.g. gb18030).")
@click.option("--since", callback=_date, help="First local date of the contacts to judge (inclusive).")
@click.option("--until", callback=_date, help="Last local date of the contacts to judge (inclusive).")
@click.option("--lock-timeout", default=60.0, show_default=True, help="Seconds to wait for a store in use.")
@click.option("--mapping", type=click.Path(dir_okay=False),
              help="Mapping file (YAML, SPEC §8): read a lender's own export; see `audit mapping draft`.")
@handle_errors
def policy_diff(old, new, data, db, fmt, fail_on_new, examples, zone, encoding, mapping, since, until,
                lock_timeout) -> None:
    """Audit the same data with policy OLD and policy NEW; show the violations the change adds and removes.

    OLD and NEW are files or builtin:NAME. Examples are masked.
    """
    from .api import require_store
    from .policy_tools import diff_policies, render_json, render_markdown, render_text

    if db is not None and data is None:
        require_store(db)
    d = diff_policies(old, new, data=data, db=db, timezone=zone, encoding=encoding, mapping=mapping, since=since,
                      until=until,
                      examples=examples, lock_timeout=lock_timeout)
    click.echo({"text": render_text, "json": render_json, "markdown": render_markdown}[fmt](d), nl=False)
    if fail_on_new:
        n = d.new_at_or_above(fail_on_new.lower())
        if n:
            click.echo(f"audit: the change adds {n} violation(s) at or above {fail_on_new} (--fail-on-new)", err=True)
            sys.exit(1)


@policy.command("test")
@click.argument("cases", type=click.Path(exists=True))
@click.option("--junit", "junit", type=click.Path(dir_okay=False), help="Also write JUnit XML here.")
@click.option("--format", "fmt", default="text", show_default=True, type=click.Choice(["text", "github"]),
              help="github: each failing case as a GitHub Actions annotation on its line of the cases file.")
@handle_errors
def policy_test(cases: str, junit: str | None, fmt: str) -> None:
    """Run policy unit tests: YAML cases (a file, or a directory of them) with data and expected violations.

    Exit 0 when every case passes, 1 when one fails.
    """
    from .annotations import annotation
    from .policy_tools import run_policy_tests

    results = run_policy_tests(cases)
    for r in results:
        if fmt == "github" and not r.passed:
            message = "\n".join([f"policy test case failed: {r.name}", *r.explain()])
            click.echo(annotation(message, file=r.path, line=r.line, title=f"policy test {r.name}"))
            continue
        click.echo(f"{'PASS' if r.passed else 'FAIL'} {r.file}::{r.name}")
        for line in [] if r.passed else r.explain():
            click.echo(f"     {line}")
    failed = sum(1 for r in results if not r.passed)
    click.echo(f"{len(results) - failed} passed, {failed} failed")
    if junit:
        from .reports.junit import cases_junit

        cases_junit(results, junit)
    if failed:
        sys.exit(1)


@main.group()
def mapping() -> None:
    """Read a lender's own export (SPEC §8): draft a mapping file, then check it against the files."""


@mapping.command("check")
@click.argument("data_dir", type=click.Path(file_okay=False))
@click.option("--mapping", "mapping_file", required=True, type=click.Path(dir_okay=False), help="The mapping file.")
@click.option("--encoding", default="utf-8", show_default=True, help="Encoding of sources that name none.")
@handle_errors
def mapping_check(data_dir: str, mapping_file: str, encoding: str) -> None:
    """Per source: files matched, rows, missing columns, and each unmapped value with its count; loads nothing.

    Exit 0 when a load would take every source as it is, 1 when something
    is missing or unmapped, 2 when the mapping itself is invalid.

    \b
    Example:
      audit mapping check exports/2026-06 --mapping lender.yaml
    """
    from .mapping import load_mapping
    from .mapping_tools import check_mapping, render_check

    checks = check_mapping(data_dir, load_mapping(mapping_file), encoding)
    click.echo(render_check(checks), nl=False)
    if not all(c.clean for c in checks):
        sys.exit(1)


@mapping.command("draft")
@click.argument("data_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--out", "out_file", type=click.Path(dir_okay=False),
              help="Write the draft to this new file (never an existing one); without it, print it.")
@click.option("--encoding", default="utf-8", show_default=True,
              help="Encoding of CSV files (utf-8 and gb18030 are also tried).")
@handle_errors
def mapping_draft(data_dir: str, out_file: str | None, encoding: str) -> None:
    """Draft a starting mapping from DATA_DIR's headers (names and Chinese/English synonyms).

    Each top-level file or directory is one source. Each enum column's
    distinct values are listed to map, with a first guess where one is
    known; a value left "" is refused until it is filled in.

    \b
    Example:
      audit mapping draft exports/2026-06 --out lender.yaml
      audit mapping check exports/2026-06 --mapping lender.yaml
      audit run --data exports/2026-06 --mapping lender.yaml --out reports/2026-06
    """
    from .mapping_tools import draft_mapping, write_new_file

    text = draft_mapping(data_dir, encoding)
    if out_file:
        write_new_file(out_file, text)
        click.echo(f"draft written to {out_file}; check it with: audit mapping check {data_dir} --mapping {out_file}")
    else:
        click.echo(text, nl=False)


@main.command()
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False))
@handle_errors
def verify(out_dir: str) -> None:
    """Check a report directory against its manifest.json: exit 0 when no byte changed, else 1.

    Names every file that changed, is missing, or was added. A directory
    without a manifest.json is no report of this tool (exit 2).
    """
    from pathlib import Path

    from .reports.manifest import MANIFEST, verify as verify_dir

    if not (Path(out_dir) / MANIFEST).is_file():
        raise UsageError(f"{out_dir} has no {MANIFEST}: it is not a report directory of this tool")

    problems, checked = verify_dir(out_dir)
    if problems:
        for p in problems:
            click.echo(f"{p.status}: {p.path}", err=True)
        click.echo(f"audit: {out_dir} does not match its manifest ({len(problems)} problem(s))", err=True)
        sys.exit(1)
    click.echo(f"{out_dir}: all {checked} files match manifest.json")


@main.group()
def pii() -> None:
    """Find personal identifiers in any text column, with the detector the audit uses."""


@pii.command("scan")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--column", default="content", show_default=True, help="The text column to scan.")
@click.option("--out", "out_file", type=click.Path(dir_okay=False),
              help="Write the findings here (CSV); without it, print them.")
@click.option("--encoding", default="utf-8", show_default=True, help="Encoding of a CSV file.")
@handle_errors
def pii_scan(file: str, column: str, out_file: str | None, encoding: str) -> None:
    """Scan FILE (CSV, Parquet or JSONL) and list each full, valid ID number, bank card or mobile.

    Findings carry the kind, the masked value, the 1-based row and the span
    (character offsets in the NFKC-normalised text); never the full value.
    """
    from pathlib import Path

    import polars as pl

    from . import pii as detector
    from .ingest import read_file

    df = read_file(Path(file), encoding)
    if column.lower() not in df.columns:
        raise UsageError(f"{file} has no column {column!r}")
    found = detector.find_identifiers(df.select("_row", pl.col(column.lower()).alias("text")), key="_row", text="text")
    report = found.select(
        pl.col("kind"),
        detector.mask_text(pl.col("value")).alias("masked_value"),
        pl.col("_row").alias("row"), pl.col("start"), pl.col("end"),
    )
    if out_file:
        from .reports.target import private_file

        with private_file(out_file, recognise=lambda head: head.startswith(b"kind,masked_value,row,")) as tmp:
            report.write_csv(tmp)
        click.echo(f"{report.height} finding(s) in {df.height} row(s); written to {out_file}")
    else:
        click.echo(report.write_csv(), nl=False)


@main.command()
@click.option("--loans", default=300, show_default=True, type=click.IntRange(1), help="Number of loans.")
@click.option("--seed", default=0, show_default=True, help="Random seed (same seed, same files).")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Directory to write the dataset to.")
@click.option("--format", "fmt", default="mixed", show_default=True,
              type=click.Choice(["mixed", "parquet", "csv"]), help="File format of the tables.")
@click.option("--export", "shape", type=click.Choice(["cn-callcenter", "us-dialer"]),
              help="Write the dataset's events as a lender's own export, with its mapping (mapping.yaml).")
@handle_errors
def sample(loans: int, seed: int, out: str, fmt: str, shape: str | None) -> None:
    """Write a realistic synthetic dataset (with deliberate violations and bad rows).

    With --export, the same events as a lender's systems write them (SPEC §8):
    cn-callcenter (Chinese headers, GB18030, slash dates; calls, SMS gateway
    and other channels apart) or us-dialer (disposition codes, 12-hour times).

    \b
    Example:
      audit sample --loans 300 --seed 7 --export cn-callcenter --out exports/cn
      audit run --data exports/cn --mapping exports/cn/mapping.yaml --out reports/cn
    """
    from .reports.target import private_umask

    if shape and fmt != "mixed":
        raise UsageError("--format applies to the SPEC §1 dataset; an --export has its own formats")
    with private_umask():
        if shape:
            from .sample.export import export

            counts = export(out, shape, loans=loans, seed=seed)
        else:
            from .sample import generate

            counts = generate(out, loans=loans, seed=seed, fmt=fmt)
    click.echo(json.dumps(counts, ensure_ascii=False))


def _option_envvars(group: click.Group, prefix: str = "AUDIT") -> None:
    """Every option of every command can come from the environment, named after the command path and
    the long flag: AUDIT_RUN_OUT, AUDIT_RUN_FAIL_ON, AUDIT_POLICY_DIFF_DATA. An option that names its own
    variable keeps it (AUDIT_DB, AUDIT_POLICY, AUDIT_WAIVERS, shared by the commands that take them).
    Set here, after every command is defined, so a new option is covered too; shown in --help."""
    for name, command in group.commands.items():
        path = f"{prefix}_{name.upper().replace('-', '_')}"
        for param in command.params:
            if isinstance(param, click.Option):
                if not param.envvar:
                    flag = max((o for o in param.opts if o.startswith("--")), key=len)
                    param.envvar = f"{path}_{flag[2:].upper().replace('-', '_')}"
                param.show_envvar = True
        if isinstance(command, click.Group):
            _option_envvars(command, path)


_option_envvars(main)

if __name__ == "__main__":
    main()
