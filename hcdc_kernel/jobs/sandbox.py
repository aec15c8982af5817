"""Confine a job's writes to its own directory with Linux Landlock.

A job reads whatever its account may read (its inputs, the software) but writes only beneath
its job directory (which holds its temporary folder) and to a few device files such as
``/dev/null``: not to the data directory, the database, another job's folder or a user's
upload. Landlock (Linux 5.13 and later) needs no privilege; once applied it binds the job
process and every program it starts (esorex), and cannot be lifted.

The three system calls are made through :mod:`ctypes` (no compiled dependency). Where the
kernel lacks Landlock (another OS, an old kernel, Landlock not enabled at boot, a container
that filters the calls), :func:`confine_writes` raises :class:`SandboxUnavailableError` with
the reason, and the job runner decides (``HCDC_JOB_SANDBOX``: warn and go on, or refuse).
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Sequence
from pathlib import Path

_SYS_CREATE_RULESET = 444
_SYS_ADD_RULE = 445
_SYS_RESTRICT_SELF = 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

_WRITE_FILE = 1 << 1
_REMOVE_DIR = 1 << 4
_REMOVE_FILE = 1 << 5
_MAKE_CHAR = 1 << 6
_MAKE_DIR = 1 << 7
_MAKE_REG = 1 << 8
_MAKE_SOCK = 1 << 9
_MAKE_FIFO = 1 << 10
_MAKE_BLOCK = 1 << 11
_MAKE_SYM = 1 << 12
_REFER = 1 << 13  # ABI 2
_TRUNCATE = 1 << 14  # ABI 3

#: Device files every program may write (beneath nothing else outside the job directory).
_WRITABLE_DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/tty")
#: Folders of shared memory (POSIX semaphores of ``multiprocessing``), when present.
_WRITABLE_SHARED = ("/dev/shm",)  # noqa: S108 (a device folder, not a temporary file)


class SandboxUnavailableError(RuntimeError):
    """Landlock cannot be used here; the message says why."""


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def _error(call: str) -> str:
    errno = ctypes.get_errno()
    return f"{call} failed: {os.strerror(errno)} (errno {errno})"


def landlock_abi() -> int:
    """The Landlock ABI version of this kernel; :class:`SandboxUnavailableError` when none."""
    if not sys.platform.startswith("linux"):
        raise SandboxUnavailableError(f"Landlock is a Linux feature (this is {sys.platform})")
    abi = _libc().syscall(
        ctypes.c_long(_SYS_CREATE_RULESET),
        None,
        ctypes.c_size_t(0),
        ctypes.c_uint32(_CREATE_RULESET_VERSION),
    )
    if abi < 1:
        reason = _error("landlock_create_ruleset")
        raise SandboxUnavailableError(
            f"the kernel offers no Landlock ({reason}): it needs Linux 5.13 or later with "
            "Landlock among the enabled security modules (lsm=...,landlock)"
        )
    return int(abi)


def _write_rights(abi: int) -> int:
    rights = (
        _WRITE_FILE
        | _REMOVE_DIR
        | _REMOVE_FILE
        | _MAKE_CHAR
        | _MAKE_DIR
        | _MAKE_REG
        | _MAKE_SOCK
        | _MAKE_FIFO
        | _MAKE_BLOCK
        | _MAKE_SYM
    )
    if abi >= 2:
        rights |= _REFER
    if abi >= 3:
        rights |= _TRUNCATE
    return rights


def confine_writes(writable: Sequence[Path]) -> str:
    """Allow this process (and its future children) to write only beneath ``writable``.

    Reading and executing stay as they were. Returns a description of what was applied, e.g.
    ``landlock ABI 7: writes only beneath /data/jobs/12/a1``.

    Raises
    ------
    SandboxUnavailableError
        When the kernel has no Landlock or refuses a call; nothing is applied then.
    """
    abi = landlock_abi()
    libc = _libc()
    handled = _write_rights(abi)
    file_rights = _WRITE_FILE | (_TRUNCATE if abi >= 3 else 0)
    attr = _RulesetAttr(handled_access_fs=handled)
    ruleset = libc.syscall(
        ctypes.c_long(_SYS_CREATE_RULESET),
        ctypes.byref(attr),
        ctypes.c_size_t(ctypes.sizeof(attr)),
        ctypes.c_uint32(0),
    )
    if ruleset < 0:
        raise SandboxUnavailableError(_error("landlock_create_ruleset"))
    try:
        rules: list[tuple[str, int]] = [(str(path), handled) for path in writable]
        rules += [(device, file_rights) for device in _WRITABLE_DEVICES]
        rules += [(folder, handled) for folder in _WRITABLE_SHARED]
        for path, rights in rules:
            _add_rule(libc, int(ruleset), path, rights)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise SandboxUnavailableError(_error("prctl(PR_SET_NO_NEW_PRIVS)"))
        restricted = libc.syscall(
            ctypes.c_long(_SYS_RESTRICT_SELF), ctypes.c_int(ruleset), ctypes.c_uint32(0)
        )
        if restricted != 0:
            raise SandboxUnavailableError(_error("landlock_restrict_self"))
    finally:
        os.close(int(ruleset))
    where = ", ".join(str(path) for path in writable)
    return f"landlock ABI {abi}: writes only beneath {where}"


def _add_rule(libc: ctypes.CDLL, ruleset: int, path: str, rights: int) -> None:
    """Allow ``rights`` beneath ``path``; a device or folder this machine lacks is skipped."""
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        if path in _WRITABLE_DEVICES or path in _WRITABLE_SHARED:
            return
        raise SandboxUnavailableError(f"cannot open {path} for a Landlock rule") from None
    except OSError:
        if path in _WRITABLE_DEVICES or path in _WRITABLE_SHARED:
            return  # e.g. /dev/tty without a controlling terminal
        raise
    try:
        if not Path(path).is_dir():
            rights &= _WRITE_FILE | _TRUNCATE
        rule = _PathBeneathAttr(allowed_access=rights, parent_fd=fd)
        done = libc.syscall(
            ctypes.c_long(_SYS_ADD_RULE),
            ctypes.c_int(ruleset),
            ctypes.c_uint32(_RULE_PATH_BENEATH),
            ctypes.byref(rule),
            ctypes.c_uint32(0),
        )
        if done != 0:
            raise SandboxUnavailableError(_error(f"landlock_add_rule({path})"))
    finally:
        os.close(fd)
