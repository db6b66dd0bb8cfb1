"""`crmflow predict|compare|report ...`: the subcommands that take `key=value` arguments and no Hydra composition.

One table, name -> (where its usage text lives, its handler); each handler imports its module when it runs, so
`crmflow --help` and the other commands stay quick. A handler returns the text to print.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from importlib import import_module
from typing import NoReturn

from crmflow.errors import ConfigError, CrmflowError
from crmflow.redact import redact

Handler = Callable[[list[str]], str]


def _predict(args: list[str]) -> str:
    """`crmflow predict model=... (input=... | transactions=... as_of=...) output=...`: batch scoring; from raw
    transactions, the features are built first as the model's run built them."""
    from crmflow.scoring import PredictRequest, score_file

    request = PredictRequest.parse(args)
    if request.transactions is None:
        scored = score_file(request)
        return f"crmflow: wrote {len(scored)} predictions to {redact(str(request.output))}"
    from crmflow.raw_scoring import score_raw

    raw = score_raw(request)
    return (
        f"crmflow: wrote predictions for {len(raw.predictions)} customers to {redact(str(request.output))} "
        f"and their features to {redact(str(raw.features_path))}"
    )


def _compare(args: list[str]) -> str:
    """`crmflow compare [sweep=...] [metric=...] ...`: rank the runs of a sweep (or write the sweep page)."""
    from crmflow.compare import CompareRequest, compare

    request = CompareRequest.parse(args)
    if request.output is not None and request.format != "html":
        raise ConfigError(f"compare.output: only with format=html (the sweep page); got format={request.format}")
    if request.format == "html" and request.register:
        raise ConfigError("compare.register: not with format=html; register from the table format")
    if request.format == "html":
        from crmflow.report.sweep import write_sweep_report

        return write_sweep_report(request)
    return compare(request)


def _report(args: list[str]) -> str:
    """`crmflow report run=ID | sweep=ID ...`: a run's report.html again, or a sweep's page."""
    from crmflow.report.command import report_command

    return report_command(args)


SUBCOMMANDS: dict[str, tuple[str, Handler]] = {
    "predict": ("crmflow.scoring:USAGE", _predict),
    "compare": ("crmflow.compare:USAGE", _compare),
    "report": ("crmflow.report.command:USAGE", _report),
}


def usage(name: str) -> str:
    """The usage text of a subcommand, from its module."""
    module, _, attribute = SUBCOMMANDS[name][0].partition(":")
    return str(getattr(import_module(module), attribute))


def dispatch(args: list[str], fail: Callable[[BaseException], NoReturn], quiet: Callable[[], None]) -> bool:
    """Run `args` as a subcommand when its first word names one (False otherwise): `-h` prints its usage, bad
    input goes to `fail` (one line, exit 2), `quiet` hides passwords in what it prints."""
    if not args or args[0] not in SUBCOMMANDS:
        return False
    name, rest = args[0], args[1:]
    if {"-h", "--help"} & set(rest):
        print(usage(name))
        return True
    quiet()
    try:
        text = SUBCOMMANDS[name][1](rest)
    except CrmflowError as error:
        fail(error)
    try:
        print(text, flush=True)
    except BrokenPipeError:  # `crmflow compare | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return True
