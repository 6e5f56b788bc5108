"""Command-line interface: ``livingreview`` / ``python -m livingreview``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from livingreview import __version__
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
    execute_all(project)
    return 0


def _cmd_build(args: argparse.Namespace) -> int:
    from livingreview.build import BuildError, build
    from livingreview.preview import PreviewError

    try:
        build(Project.locate(), use_quarto=not args.preview)
    except (BuildError, PreviewError) as err:
        print(err, file=sys.stderr)
        return 1
    return 0


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
    p.set_defaults(func=_cmd_execute)

    p = sub.add_parser("build", help="validate → execute → quarto render (or the pandoc preview)")
    p.add_argument(
        "--preview",
        action="store_true",
        help="write the pandoc preview even where quarto is installed",
    )
    p.set_defaults(func=_cmd_build)

    try:
        from livingreview import meta_cli
    except ImportError:  # pragma: no cover - engine not installed
        meta_cli = None
    if meta_cli is not None and hasattr(meta_cli, "add_parser"):
        meta_cli.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ProjectNotFoundError as err:
        print(f"livingreview: {err}", file=sys.stderr)
        return 2
