"""Command-line interface: ``livingreview`` / ``python -m livingreview``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from livingreview import __version__, meta_cli
from livingreview.paths import Project, ProjectNotFoundError


def _cmd_validate(args: argparse.Namespace) -> int:
    from livingreview.validate import validate_data

    if args.data_dir:
        data_dir = Path(args.data_dir)
        bib = data_dir.resolve().parent / "references.bib"
    else:
        project = Project.locate()
        data_dir, bib = project.data, project.bibliography
    report = validate_data(data_dir, bib)
    for problem in report.problems:
        print(problem)
    print(report.summary(), file=sys.stdout if report.ok else sys.stderr)
    return 0 if report.ok else 1


def _cmd_execute(args: argparse.Namespace) -> int:
    from livingreview.execute import execute_all
    from livingreview.validate import validate_data

    project = Project.locate()
    report = validate_data(project.data, project.bibliography)
    if not report.ok:
        for problem in report.problems:
            print(problem, file=sys.stderr)
        print("execute stopped: data invalid; nothing was executed or written", file=sys.stderr)
        return 1
    execute_all(project, force=args.force)
    return 0


def _cmd_build(args: argparse.Namespace) -> int:
    from livingreview.build import BuildError, build
    from livingreview.preview import PreviewError

    try:
        build(Project.locate(), use_quarto=not args.preview, force=args.force)
    except (BuildError, PreviewError) as err:
        print(err, file=sys.stderr)
        return 1
    return 0


def _cmd_release(args: argparse.Namespace) -> int:
    from livingreview.release import ReleaseError, next_steps, plan_release, write_release

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

    from livingreview.release import read_cff
    from livingreview.versions import VersionError, whats_new

    project = Project.locate()
    try:
        comparison = whats_new(project, str(read_cff(project.citation_cff)["version"]), args.since)
    except VersionError as err:
        print(f"whats-new: {err}", file=sys.stderr)
        return 1
    from livingreview.results import diff_results, results_report
    from livingreview.versions import snapshot

    changed = diff_results(snapshot(project, comparison.before), project.root) if comparison.before else []
    if args.json:
        record = {**comparison.to_dict(), "results_changed": changed}
        print(json.dumps(record, indent=2, ensure_ascii=False))
    else:
        print(comparison.report(), end="")
        print(results_report(comparison.before, changed), end="")
    return 0


def _cmd_search(args: argparse.Namespace) -> int:
    from livingreview.search import run_search
    from livingreview.search_clients import SearchError

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
    from livingreview import screen

    project = Project.locate()
    if args.reasons:
        print(screen.vocabulary_text())
        return 0
    if args.list:
        from livingreview.candidates import QUEUE_FILE, read_csv

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
            project.data, screen.Decision(args.id, args.decision or "", args.reason, args.note, args.study_id)
        )
    except screen.ScreenError as err:
        print(f"screen: {err}; nothing was written", file=sys.stderr)
        return 1
    print(f"{row['record_id']}: {row['decision']}" + (f" ({row['reason']})" if row["reason"] else ""))
    return 0


FORCE_HELP = "re-execute every notebook, also those whose declared inputs are unchanged"


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="livingreview",
        description="Build and check the living review: validate the data, execute the analysis "
        "notebooks, render the book (or a pandoc preview where Quarto is absent).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="check data/ against its schema and cross-table rules")
    p.add_argument("data_dir", nargs="?", help="data directory (default: the project's data/)")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("execute", help="write _variables.yml and execute analysis/*.ipynb in place")
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    p.set_defaults(func=_cmd_execute)

    p = sub.add_parser("build", help="validate → execute → quarto render (or the pandoc preview)")
    p.add_argument(
        "--preview",
        action="store_true",
        help="write the pandoc preview even where quarto is installed",
    )
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    p.set_defaults(func=_cmd_build)

    p = sub.add_parser(
        "release",
        help="cut release X.Y.Z: snapshot data/ under releases/; update CITATION.cff, CHANGELOG.md, "
        ".zenodo.json",
        description="Cut a release. Refused (exit 1, nothing written) when the data are invalid, the version "
        "does not increase, or the bump contradicts the changes since the last snapshot: MAJOR = protocol "
        "change (data schema or --protocol-change), MINOR = new searches or studies or a changed conclusion, "
        "PATCH = corrections that change no conclusion.",
    )
    p.add_argument("version", help="the new version, X.Y.Z")
    p.add_argument("--trigger", help="what prompted this version (default: described from the changes)")
    p.add_argument("--date", help="release date YYYY-MM-DD (default: today)")
    p.add_argument(
        "--protocol-change", action="store_true", help="this release changes the protocol (a MAJOR release)"
    )
    p.set_defaults(func=_cmd_release)

    p = sub.add_parser(
        "whats-new",
        help="what changed since the previous release (from the snapshots under releases/)",
        description="Studies and associations added, removed or corrected, and every headline result "
        "before → after, between a released snapshot and the working data.",
    )
    p.add_argument("--since", metavar="vX.Y.Z", help="compare with this release (default: the previous one)")
    p.add_argument("--json", action="store_true", help="print JSON instead of the readable report")
    p.set_defaults(func=_cmd_whats_new)

    p = sub.add_parser(
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

    p = sub.add_parser(
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
    p.add_argument("--list", action="store_true", help="list the queued records")
    p.add_argument("--reasons", action="store_true", help="print the reason vocabulary")
    p.set_defaults(func=_cmd_screen)

    meta_cli.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ProjectNotFoundError as err:
        print(f"livingreview: {err}", file=sys.stderr)
        return 2
