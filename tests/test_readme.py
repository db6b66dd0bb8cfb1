"""The examples in README.md work as written."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

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
