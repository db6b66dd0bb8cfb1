"""The examples in README.md work as written."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser

from crmflow.data.files import load_transactions
from crmflow.preprocessing import build_preprocessor

README = Path(__file__).resolve().parents[1] / "README.md"


def yaml_block(first_line: str) -> dict:
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), flags=re.DOTALL)
    (block,) = [b for b in blocks if b.startswith(first_line)]
    return yaml.safe_load(block)


def test_custom_preprocessing_example_builds_and_fits() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "monetary": rng.lognormal(3, 1, 200),
            "frequency": rng.poisson(4, 200).astype(float),
            "recency": rng.uniform(0, 300, 200),
            "tenure": np.full(200, 5.0),
        }
    )
    frame.loc[3, "recency"] = np.nan
    out = build_preprocessor(yaml_block("# conf/preprocessing/my_steps.yaml")).fit_transform(frame)
    assert out.shape == (200, 3)  # tenure is constant: dropped by the variance threshold
    assert not out.isna().any().any()


def readme_bash_line(piece: str) -> list[str]:
    """The words of the one README ```bash line (continuations joined) that contains `piece`, as bash splits them."""
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.DOTALL)
    lines = [line for block in blocks for line in re.sub(r"[ \t]*\\\n[ \t]*", " ", block).splitlines()]
    (line,) = [line for line in lines if piece in line]
    return shlex.split(line, comments=True)


def test_german_csv_example_reads_the_row_readme_shows(tmp_path: Path) -> None:
    words = readme_bash_line("data.transactions.thousands=.")
    overrides = OverridesParser.create().parse_overrides(words[1:])  # Hydra's grammar, as the CLI parses them
    prefix = "data.transactions."
    spec: dict = {"columns": {}}
    for override in overrides:
        key = override.key_or_group
        if key.startswith(prefix + "columns."):
            spec["columns"][key.removeprefix(prefix + "columns.")] = override.value()
        elif key.startswith(prefix):
            spec[key.removeprefix(prefix)] = override.value()
    assert (spec["sep"], spec["decimal"], spec["thousands"]) == (";", ",", ".")
    (tmp_path / spec["path"]).write_text("customer_id;timestamp;amount;product\nc1;01.01.2023;1.071,79;bread\n")
    tx, _ = load_transactions({**spec, "path": str(tmp_path / spec["path"])})
    assert tx["amount"].tolist() == [1071.79]
    assert tx["timestamp"].tolist() == [pd.Timestamp("2023-01-01")]
    assert tx["item"].tolist() == ["bread"]
    assert "`c1;01.01.2023;1.071,79;bread`" in README.read_text()
