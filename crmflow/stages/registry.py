"""The run's stages, in order, from the `stages:` node of the config: config group -> stage class.

```yaml
stages:
  segmentation: crmflow.segmentation.stage.SegmentationStage
  rules: crmflow.rules.stage.RulesStage
```
A new stage is a package with a `Stage` subclass, a config group, and one line here (or
`+stages.<group>=<class>` from a user's config). Classes are resolved under the `_target_` allow-list.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crmflow.config.components import resolve_target
from crmflow.errors import ConfigError
from crmflow.stages.contract import HANDOFFS, Stage

KEY = "stages"


def registered_stages(node: Any) -> list[Stage]:
    """One instance of every configured stage class, in the configured order."""
    if not isinstance(node, Mapping) or not node:
        raise ConfigError(f"{KEY}: expected a mapping of config group to stage class; got {node!r}")
    stages = []
    for group, target in node.items():
        cls = resolve_target(target, f"{KEY}.{group}", field="")
        if not issubclass(cls, Stage):
            raise ConfigError(
                f"{KEY}.{group}: {target} is not a crmflow stage (a subclass of crmflow.stages.contract.Stage)"
            )
        if getattr(cls, "name", None) != group:
            raise ConfigError(f"{KEY}.{group}: {target} is the stage of group '{getattr(cls, 'name', None)}'")
        for handoff in sorted(cls.provides - set(HANDOFFS)):
            raise ConfigError(f"{KEY}.{group}: {target} provides unknown hand-off '{handoff}'")
        stages.append(cls())
    return stages


def check_handoffs(active: list[tuple[Stage, Any]], registered: list[Stage]) -> None:
    """Every hand-off an active stage requires comes from an earlier active stage; else one line
    naming the key that asked for it, what the providing group is set to, and the ways out."""
    provided: set[str] = set()
    running = [stage.name for stage, _ in active]
    for stage, spec in active:
        for handoff, key in stage.requires(spec).items():
            if handoff not in provided:
                hint = _provider_hint(handoff, registered, running, stage.name)
                raise ConfigError(f"{key} needs {HANDOFFS.get(handoff, handoff)}: {hint} or set {key}=false")
        provided |= stage.provides


def _provider_hint(handoff: str, registered: list[Stage], running: list[str], needing: str) -> str:
    providers = [s for s in registered if handoff in s.provides]
    if not providers:
        return f"no stage under {KEY}: provides them; add one"
    later = [s.name for s in providers if s.name in running]
    if later:
        return f"{later[0]} runs after {needing}; list it before {needing} under {KEY}:"
    hints = [f"{s.name}={s.example_option}" if s.example_option else f"{s.name}=..." for s in providers]
    return f"{providers[0].name}=none; choose a {providers[0].name} option, e.g. {' or '.join(hints)},"
