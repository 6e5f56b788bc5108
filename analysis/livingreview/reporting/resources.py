"""Reading the reporting tables of the data package (risk of bias, GRADE, PRISMA checklist).

``data.Dataset`` holds the five extraction tables; the reporting tables are read here, with the
same typing rules, so that the extraction code does not need to know about them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from livingreview.data.dataset import _read_table


def read_resource(data_dir: Path, name: str) -> pd.DataFrame:
    """One table of the data package in ``data_dir``, typed as its schema says."""
    data_dir = Path(data_dir)
    package = json.loads((data_dir / "datapackage.json").read_text(encoding="utf-8"))
    for resource in package["resources"]:
        if resource["name"] == name:
            return _read_table(data_dir / resource["path"], resource["schema"]["fields"])
    raise KeyError(f"{name} is not a resource of {data_dir / 'datapackage.json'}")
