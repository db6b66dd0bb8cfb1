"""PNG plots logged as run artifacts (matplotlib, headless, imported only when a plot is drawn).

One module per subject: `segments`, `rules`, `prediction`, `forecasts`, `tuning`.
"""

from __future__ import annotations

from crmflow.plots.base import pyplot, save_figure

__all__ = ["pyplot", "save_figure"]
