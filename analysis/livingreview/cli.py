"""Command-line interface: ``livingreview`` / ``python -m livingreview``.

Only argparse is imported up front: each command imports what it uses when it runs, so that
``--help`` and ``validate`` answer at once (the ``meta`` command is handed to ``meta_cli`` whole).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

META = "meta"
FORCE_HELP = "re-execute every notebook, also those whose declared inputs are unchanged"


class Parser(argparse.ArgumentParser):
    """argparse with a suggestion for a mistyped command (``did you mean 'validate'?``)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        if "invalid choice:" in message:
            import difflib

            typed = message.split("invalid choice: ", 1)[1].split("'")[1]
            choices = [c for a in self._actions if a.choices for c in a.choices]  # type: ignore[union-attr]
            close = difflib.get_close_matches(typed, choices, n=1, cutoff=0.5)
            if close:
                message += f"; did you mean '{close[0]}'?"
        super().error(message)


def _stop(problems: Sequence[object], what: str) -> int:
    """Invalid data: every problem, then one line saying nothing was done, all on stderr."""
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{what} stopped: data invalid; nothing was executed or written", file=sys.stderr)
    return 1


def _cmd_validate(args: argparse.Namespace) -> int:
    from livingreview.checks.gate import check_project, is_project
    from livingreview.checks.validate import validate_data
    from livingreview.project.paths import Project

    if args.data_dir:
        data_dir = Path(args.data_dir).resolve()
        root = data_dir.parent
        if is_project(root) and data_dir == root / "data":  # the whole project's gate
            report = check_project(Project(root))
        else:
            report = validate_data(data_dir, root / "references.bib")
    else:
        report = check_project(Project.locate())
    # Problems and summary go to one stream (stdout) so that they stay in order when redirected.
    for problem in report.problems:
        print(problem)
    print(report.summary())
    return 0 if report.ok else 1


def _timed(log_done: str, func) -> int:  # noqa: ANN001 - a callable returning an exit status
    start = time.perf_counter()
    code = func()
    if code == 0:
        print(f"{log_done} in {time.perf_counter() - start:.1f} s")
    return code


def _cmd_execute(args: argparse.Namespace) -> int:
    from livingreview.book.execute import execute_project
    from livingreview.project.paths import Project

    def run() -> int:
        problems = execute_project(Project.locate(), force=args.force)
        return _stop(problems, "execute") if problems else 0

    return _timed("execute finished", run)


def _cmd_build(args: argparse.Namespace) -> int:
    from livingreview.book.build import BuildError, build
    from livingreview.project.paths import Project

    shots = Path(args.screenshots) if args.screenshots else None

    def run() -> int:
        try:
            build(Project.locate(), use_quarto=not args.preview, force=args.force, screenshots=shots)
        except Exception as err:  # the render's errors: their modules load after the kernels start
            from livingreview.book.pandoc import PandocError
            from livingreview.book.preview import PreviewError
            from livingreview.book.screenshots import ScreenshotError

            if not isinstance(err, BuildError | PreviewError | PandocError | ScreenshotError):
                raise
            print(err, file=sys.stderr)
            return 1
        return 0

    return _timed("build finished", run)


def _cmd_release(args: argparse.Namespace) -> int:
    from livingreview.project.paths import Project
    from livingreview.releases.release import ReleaseError, next_steps, plan_release, write_release

    project = Project.locate()
    try:
        plan = plan_release(
            project, args.version, trigger=args.trigger, date=args.date, protocol_change=args.protocol_change
        )
    except ReleaseError as err:
        print(f"release refused: {err}; nothing was written", file=sys.stderr)
        return 1
    written = write_release(project, plan)
    print(f"released {plan.version} ({plan.level}) on {plan.date}: {plan.trigger}")
    for path in written:
        print(f"  wrote {path.relative_to(project.root)}")
    print(plan.comparison.report())
    print(next_steps(plan.version))
    return 0


def _cmd_whats_new(args: argparse.Namespace) -> int:
    import json

    from livingreview.checks.gate import check_project
    from livingreview.project.paths import Project
    from livingreview.project.snapshots import VersionError
    from livingreview.versions.citation import read_cff
    from livingreview.versions.compare import whats_new

    project = Project.locate()
    report = check_project(project)
    if not report.ok:
        for problem in report.problems:
            print(problem, file=sys.stderr)
        print("whats-new stopped: the project is invalid (see above)", file=sys.stderr)
        return 1
    try:
        comparison = whats_new(project, str(read_cff(project.citation_cff)["version"]), args.since)
    except VersionError as err:
        print(f"whats-new: {err}", file=sys.stderr)
        return 1
    from livingreview.project.snapshots import snapshot
    from livingreview.versions.results import diff_results, results_report

    changed = diff_results(snapshot(project, comparison.before), project.root) if comparison.before else []
    if args.json:
        record = {**comparison.to_dict(), "results_changed": changed}
        print(json.dumps(record, indent=2, ensure_ascii=False))
    else:
        print(comparison.report(), end="")
        print(results_report(comparison.before, changed), end="")
    return 0


def _cmd_search(args: argparse.Namespace) -> int:
    from livingreview.project.paths import Project
    from livingreview.search.clients import SearchError
    from livingreview.search.runner import run_search

    project = Project.locate()
    try:
        outcome = run_search(project.data, dry_run=args.dry_run)
    except SearchError as err:
        print(f"search failed: {err}; nothing was written", file=sys.stderr)
        return 1
    new = sum(len(r.new) for r in outcome.runs)
    print(
        f"{len(outcome.runs)} searches run, {new} new records "
        + (
            "(dry run: nothing written)"
            if args.dry_run
            else "queued in data/candidates.csv; next: livingreview screen"
        )
    )
    return 0


def _cmd_screen(args: argparse.Namespace) -> int:
    from livingreview.project.paths import Project
    from livingreview.search import screen

    project = Project.locate()
    if args.reasons:
        print(screen.vocabulary_text())
        return 0
    if args.list:
        from livingreview.search.candidates import QUEUE_FILE, read_csv

        for row in read_csv(project.data / QUEUE_FILE):
            print(f"{row['record_id']}\t{row['year']}\t{row['title']}")
        return 0
    if args.id is None:
        if args.decision:
            print("screen: --decision needs --id RECORD_ID", file=sys.stderr)
            return 1
        screen.interactive(project.data)
        return 0
    try:
        row = screen.record_decision(
            project.data,
            screen.Decision(
                args.id, args.decision or "", args.reason, args.note, args.study_id, full_text=args.full_text
            ),
        )
    except screen.ScreenError as err:
        print(f"screen: {err}; nothing was written", file=sys.stderr)
        return 1
    print(f"{row['record_id']}: {row['decision']}" + (f" ({row['reason']})" if row["reason"] else ""))
    return 0


class _Version(argparse.Action):
    """``--version``: the installed package's version, looked up only when asked for."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from livingreview import __version__

        print(f"{parser.prog} {__version__}")  # on stdout, as argparse's own version action does
        parser.exit()


def make_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top-level parser and each subcommand's own parser (for its usage in error messages)."""
    parser = Parser(
        prog="livingreview",
        description="Build and check the living review: validate the data, execute the analysis "
        "notebooks, render the book (or a pandoc preview where Quarto is absent).",
    )
    parser.add_argument("--version", action=_Version, nargs=0, help="show the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    subs: dict[str, argparse.ArgumentParser] = {}

    p = subs["validate"] = sub.add_parser(
        "validate", help="check data/ against its schema and cross-table rules"
    )
    p.add_argument("data_dir", nargs="?", help="data directory (default: the project's data/)")
    p.set_defaults(func=_cmd_validate)

    p = subs["execute"] = sub.add_parser(
        "execute", help="write _variables.yml and execute analysis/*.ipynb in place"
    )
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    p.set_defaults(func=_cmd_execute)

    p = subs["build"] = sub.add_parser(
        "build", help="validate → execute → quarto render (or the pandoc HTML book and PDF)"
    )
    p.add_argument(
        "--preview",
        action="store_true",
        help="write the pandoc HTML book and Typst PDF (_preview/) even where quarto is installed",
    )
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    p.add_argument(
        "--screenshots",
        metavar="DIR",
        help="also write PNG screenshots of the first page of every chapter (PDF and HTML) into DIR",
    )
    p.set_defaults(func=_cmd_build)

    p = subs["release"] = sub.add_parser(
        "release",
        help="cut release X.Y.Z: snapshot data/ under releases/; update CITATION.cff, CHANGELOG.md, "
        ".zenodo.json",
        description="Cut a release. Refused (exit 1, nothing written) when the data are invalid, the version "
        "does not increase, or the bump contradicts the changes since the last snapshot: MAJOR = protocol "
        "change (a breaking data-schema change or --protocol-change), MINOR = new searches or studies, an "
        "additive schema change or a changed conclusion, PATCH = corrections that change no conclusion.",
    )
    p.add_argument("version", help="the new version, X.Y.Z")
    p.add_argument("--trigger", help="what prompted this version (default: described from the changes)")
    p.add_argument("--date", help="release date YYYY-MM-DD (default: today)")
    p.add_argument(
        "--protocol-change", action="store_true", help="this release changes the protocol (a MAJOR release)"
    )
    p.set_defaults(func=_cmd_release)

    p = subs["whats-new"] = sub.add_parser(
        "whats-new",
        help="what changed since the previous release (from the snapshots under releases/)",
        description="Studies and associations added, removed or corrected, and every headline result "
        "before → after, between a released snapshot and the working data.",
    )
    p.add_argument("--since", metavar="vX.Y.Z", help="compare with this release (default: the previous one)")
    p.add_argument("--json", action="store_true", help="print JSON instead of the readable report")
    p.set_defaults(func=_cmd_whats_new)

    p = subs["search"] = sub.add_parser(
        "search",
        help="re-run the stored search strategies since their last run; queue new records",
        description="Run every strategy in data/search_strategies.csv (PubMed through Bio.Entrez, Europe PMC "
        "through its REST API) for the entry dates since its last run, add records not already screened or "
        "queued to data/candidates.csv and log each run in data/searches.csv. On any failure nothing is "
        "written. Settings: LIVINGREVIEW_EUTILS_URL, LIVINGREVIEW_EUROPEPMC_URL, NCBI_EMAIL, NCBI_API_KEY, "
        "LIVINGREVIEW_TIMEOUT, LIVINGREVIEW_RETRIES, LIVINGREVIEW_BACKOFF, LIVINGREVIEW_PAGE_SIZE.",
    )
    p.add_argument("--dry-run", action="store_true", help="run and report, but write nothing")
    p.set_defaults(func=_cmd_search)

    p = subs["screen"] = sub.add_parser(
        "screen",
        help="decide on the queued records (interactively, or one with --id/--decision)",
        description="Without --id: show each record of data/candidates.csv and ask for a decision. "
        "With --id: record one decision. Each decision moves the record from the queue into "
        "data/screening.csv.",
    )
    p.add_argument("--id", help="record_id of the queued record")
    p.add_argument("--decision", choices=["include", "exclude", "adjacent", "synthesis", "awaiting"])
    p.add_argument("--reason", help="reason code (see --reasons); required unless included")
    p.add_argument("--note", help="free text added to the reason")
    p.add_argument("--study-id", help="study_id for an included or adjacent record")
    p.add_argument(
        "--full-text",
        action="store_true",
        help="the full report was retrieved and read (recorded as full_text_retrieved=yes; default: no)",
    )
    p.add_argument("--list", action="store_true", help="list the queued records")
    p.add_argument("--reasons", action="store_true", help="print the reason vocabulary")
    p.set_defaults(func=_cmd_screen)

    # `meta` is parsed by meta_cli itself (see main); listed here for the help and the suggestions.
    subs[META] = sub.add_parser(
        META, help="meta-analysis of a CSV of yi, vi (metafor-compatible); see `livingreview meta -h`"
    )
    return parser, subs


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == META:
        from livingreview.meta import cli as meta_cli

        return meta_cli.main(argv)
    parser, subs = make_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # a wrong flag: the subcommand's own usage, not the top-level one
        subs[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    from livingreview.data.cells import DataError
    from livingreview.project.paths import ProjectNotFoundError

    try:
        return _run(args)
    except ProjectNotFoundError as err:
        print(f"livingreview: {err}", file=sys.stderr)
        return 2
    except DataError as err:  # a table the gate did not see (e.g. a snapshot): one line, no traceback
        print(err, file=sys.stderr)
        return 1


WRITERS = ("execute", "build", "release")  # hold the project lock; recover an interrupted command first


def _run(args: argparse.Namespace) -> int:
    from livingreview.project.paths import Project
    from livingreview.project.transaction import LockedError, exclusive, settle

    if args.command in WRITERS:
        try:
            with exclusive(Project.locate().root, args.command) as recovered:
                if recovered:
                    print(f"livingreview: {recovered}", file=sys.stderr)
                return int(args.func(args))
        except LockedError as err:
            print(err, file=sys.stderr)
            return 1
    if args.command in ("validate", "whats-new") and not getattr(args, "data_dir", None):
        settle(Project.locate().root)
    return int(args.func(args))


def run() -> NoReturn:
    """The ``livingreview`` program: :func:`main`, then exit without collecting garbage.

    Everything is written by then; a final collection of the many objects that pandas, matplotlib
    and the notebook client leave would only add about 0.2 s to every command (``gc.freeze``).
    """
    code = main()
    gc.freeze()
    sys.exit(code)
