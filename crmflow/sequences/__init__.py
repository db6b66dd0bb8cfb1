"""Sequential patterns over customers' baskets in time order."""

from __future__ import annotations
