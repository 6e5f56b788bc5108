"""Running the analysis notebooks' code cells in this process (a fast stand-in for ``execute`` in tests)."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import nbformat

matplotlib.use("Agg")

DATA_NOTEBOOKS = ("01-studies", "02-synthesis", "03-evidence", "05-versions", "06-reporting")


def run_notebooks(root: Path, names: tuple[str, ...] = DATA_NOTEBOOKS) -> int:
    """Execute every code cell of ``analysis/<name>.ipynb`` of the project at ``root``; return cells run.

    The last expression of each cell is evaluated and rendered as a notebook would show it
    (``_repr_html_`` of tables, PNG of figures), so display-time failures surface too.
    """
    import ast
    import io

    import matplotlib.pyplot as plt

    old_cwd, old_root = Path.cwd(), os.environ.get("LIVINGREVIEW_ROOT")
    os.environ["LIVINGREVIEW_ROOT"] = str(root)
    os.chdir(root / "analysis")
    cells = 0
    try:
        for name in names:
            nb = nbformat.read(root / "analysis" / f"{name}.ipynb", as_version=4)
            scope: dict = {"__name__": "__main__"}
            for cell in nb.cells:
                if cell.cell_type != "code":
                    continue
                source = "\n".join(
                    "" if line.lstrip().startswith(("%", "!")) else line for line in cell.source.splitlines()
                )
                tree = ast.parse(source)
                last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
                exec(compile(tree, f"{name}.ipynb", "exec"), scope)
                if last is not None:
                    value = eval(compile(ast.Expression(last.value), f"{name}.ipynb", "eval"), scope)
                    if hasattr(value, "_repr_html_"):
                        value._repr_html_()
                    if hasattr(value, "savefig"):
                        value.savefig(io.BytesIO(), format="png")
                for number in plt.get_fignums():
                    plt.figure(number).savefig(io.BytesIO(), format="png")
                plt.close("all")
                cells += 1
    finally:
        os.chdir(old_cwd)
        if old_root is None:
            os.environ.pop("LIVINGREVIEW_ROOT", None)
        else:
            os.environ["LIVINGREVIEW_ROOT"] = old_root
    return cells
