"""Who runs a trial, and whether that process is gone.

A trial records its worker when it starts: `worker_host` and `worker_pid`, and where Linux's /proc tells them, the
kernel's boot id, the pid namespace and the process's start time (field 22 of /proc/<pid>/stat). Host and pid alone
can be fooled: a pid is reused after its process ends, and containers may share a host name. With the full identity
a worker of this host is dead when its pid is gone (or a zombie) or now belongs to a process started at another
time, or when the boot id differs (the host rebooted) and the storage has no heartbeat to judge it instead (with one,
another machine may have the same host name); a worker in another pid namespace (a container on this kernel) is not
this process's to judge. Without /proc, or for a trial recorded before these attributes existed, host and pid decide.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

WORKER_HOST, WORKER_PID = "worker_host", "worker_pid"
WORKER_BOOT, WORKER_PID_NS, WORKER_STARTED = "worker_boot_id", "worker_pid_ns", "worker_started"
PROC = Path("/proc")
START_FIELD = 22  # proc(5): starttime, in clock ticks after boot


@dataclass(frozen=True)
class Worker:
    """A process as a trial records it; None where /proc does not say."""

    host: str
    pid: int
    boot_id: str | None = None
    pid_ns: str | None = None
    started: int | None = None

    @classmethod
    def this(cls, proc: Path = PROC) -> Worker:
        """This process."""
        pid = os.getpid()
        return cls(socket.gethostname(), pid, boot_id(proc), pid_namespace(proc), _stat(pid, proc)[1])

    @classmethod
    def of(cls, attrs: Mapping[str, Any]) -> Worker | None:
        """The worker a trial's user attributes record; None when they do not name one."""
        host, pid = attrs.get(WORKER_HOST), attrs.get(WORKER_PID)
        if not isinstance(host, str) or not isinstance(pid, int):
            return None
        started = attrs.get(WORKER_STARTED)
        return cls(host, pid, attrs.get(WORKER_BOOT), attrs.get(WORKER_PID_NS), started)

    def attrs(self) -> dict[str, Any]:
        """The user attributes that record it (without those /proc could not give)."""
        found = {WORKER_HOST: self.host, WORKER_PID: self.pid, WORKER_BOOT: self.boot_id}
        found.update({WORKER_PID_NS: self.pid_ns, WORKER_STARTED: self.started})
        return {key: value for key, value in found.items() if value is not None}


def boot_id(proc: Path = PROC) -> str | None:
    """This kernel's boot id: another one after every boot."""
    try:
        return (proc / "sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def pid_namespace(proc: Path = PROC) -> str | None:
    """This process's pid namespace, e.g. 'pid:[4026531836]': pids mean the same only within one."""
    try:
        return os.readlink(proc / "self/ns/pid")
    except OSError:
        return None


def _stat(pid: int, proc: Path = PROC) -> tuple[str | None, int | None]:
    """Process `pid`'s state letter and start time from /proc/<pid>/stat; (None, None) if unreadable."""
    try:
        fields = (proc / str(pid) / "stat").read_text().rpartition(")")[2].split()
        return fields[0], int(fields[START_FIELD - 3])  # fields[0] is field 3, the state
    except (OSError, IndexError, ValueError):
        return None, None


def pid_alive(pid: int, proc: Path = PROC) -> bool:
    """Whether process `pid` of this host is alive; a zombie (killed, not yet reaped by its parent) is not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        pass
    return _stat(pid, proc)[0] != "Z"  # no /proc: trust kill


def is_dead(recorded: Worker, here: Worker, heartbeat: bool, proc: Path = PROC) -> bool:
    """Whether the recorded worker is certainly gone, judged from `here` (this process); False when this host
    cannot tell (another host or pid namespace; another boot where a heartbeat judges instead)."""
    if recorded.host != here.host:
        return False
    if recorded.boot_id is not None and here.boot_id is not None and recorded.boot_id != here.boot_id:
        return not heartbeat
    if recorded.pid_ns is not None and here.pid_ns is not None and recorded.pid_ns != here.pid_ns:
        return False
    if not pid_alive(recorded.pid, proc):
        return True
    started = _stat(recorded.pid, proc)[1]
    return recorded.started is not None and started is not None and started != recorded.started


def mark_worker(trial: optuna.Trial, worker: Worker | None = None) -> None:
    """Record who runs the trial, so that a later run can tell a dead worker's trial from a running one."""
    for key, value in (worker or Worker.this()).attrs().items():
        trial.set_user_attr(key, value)
