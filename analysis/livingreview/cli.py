"""Command-line interface: ``livingreview`` / ``python -m livingreview``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from livingreview import __version__, meta_cli
from livingreview.cells import DataError
from livingreview.paths import Project, ProjectNotFoundError


def _cmd_validate(args: argparse.Namespace) -> int:
    from livingreview.gate import check_project, is_project
    from livingreview.validate import validate_data

    if args.data_dir:
        data_dir = Path(args.data_dir)
        root = data_dir.resolve().parent
        if is_project(root) and data_dir.resolve() == (root / "data"):
            report = check_project(Project(root))
        else:
            report = validate_data(data_dir, root / "references.bib")
    else:
        report = check_project(Project.locate())
    for problem in report.problems:
        print(problem)
    print(report.summary(), file=sys.stdout if report.ok else sys.stderr)
    return 0 if report.ok else 1


def _cmd_execute(args: argparse.Namespace) -> int:
    from livingreview.execute import execute_all
    from livingreview.gate import check_project

    project = Project.locate()
    report = check_project(project)
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

    from livingreview.gate import check_project
    from livingreview.release import read_cff
    from livingreview.versions import VersionError, whats_new

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
    if args.json:
        print(json.dumps(comparison.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(comparison.report(), end="")
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

    meta_cli.add_parser(sub)
    return parser


WRITERS = ("execute", "build", "release")  # hold the project lock; recover an interrupted command first


def _run(args: argparse.Namespace) -> int:
    from livingreview.transaction import LockedError, exclusive, settle

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


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    try:
        return _run(args)
    except ProjectNotFoundError as err:
        print(f"livingreview: {err}", file=sys.stderr)
        return 2
    except DataError as err:  # a table the gate did not see (e.g. a snapshot): one line, no traceback
        print(err, file=sys.stderr)
        return 1
