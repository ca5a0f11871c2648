"""Assertion helpers for the MLflow end-to-end scripts.

Every check raises Failure with a message that says what was expected and
what the server gave; Steps runs named steps, prints one line per step and
turns the first failure into a non-zero exit status. Plain `assert` is not
used: python -O would drop it.
"""

import hashlib
import os
import sys
import time
import traceback

from mlflow.exceptions import MlflowException


class Failure(Exception):
    """A check that did not hold."""


def check(cond, msg, *args):
    if not cond:
        raise Failure(msg % args if args else msg)


def equal(got, want, what):
    if got != want:
        raise Failure(f"{what}: got {got!r}, want {want!r}")


def expect_error(code, what, fn, *args, **kwargs):
    """Calls fn and checks that it raises MlflowException with error code
    `code`; returns the exception."""
    try:
        result = fn(*args, **kwargs)
    except MlflowException as e:
        if e.error_code != code:
            raise Failure(f"{what}: raised {e.error_code} ({e.message!r}), want {code}") from e
        return e
    raise Failure(f"{what}: succeeded (returned {result!r}), want MlflowException {code}")


class Steps:
    """Runs named steps in order. The first failing step ends the script
    with status 1, unless keep_going is set, in which case every step runs
    and the status is 1 if any failed."""

    def __init__(self, keep_going=False):
        self.keep_going = keep_going
        self.failed = []
        self.passed = []

    def run(self, name, fn, *args, **kwargs):
        start = time.monotonic()
        try:
            result = fn(*args, **kwargs)
        except Exception as e:  # every failure, whatever raised it, is this step's
            elapsed = time.monotonic() - start
            kind = "" if isinstance(e, Failure) else f"{type(e).__name__}: "
            print(f"FAIL {name} ({elapsed:.1f}s): {kind}{e}", flush=True)
            if not isinstance(e, Failure):
                traceback.print_exc(file=sys.stdout)
            self.failed.append(name)
            if not self.keep_going:
                self.finish()
            return None
        print(f"ok   {name} ({time.monotonic() - start:.1f}s)", flush=True)
        self.passed.append(name)
        return result

    def finish(self):
        if self.failed:
            print(f"FAILED: {len(self.failed)} step(s) failed: {', '.join(self.failed)}"
                  f" ({len(self.passed)} passed)", flush=True)
            sys.exit(1)
        print(f"PASSED: all {len(self.passed)} steps", flush=True)
        sys.exit(0)


def tree_digests(root):
    """Returns {relative posix path: sha256 hex} of every file below root."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = os.path.join(dirpath, f)
            rel = os.path.relpath(p, root).replace(os.sep, "/")
            out[rel] = file_digest(p)
    return out


def file_digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_random(path, size):
    """Writes size random bytes to path, creating its directory."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(left, 1 << 20)
            f.write(os.urandom(n))
            left -= n
