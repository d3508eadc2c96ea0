#!/usr/bin/env python3
"""The test runner of mailfetch: `python3 tests/run.py --build build`.

Runs, in order:
  1. the style check, one case "style: clang-format";
  2. every unit test binary BUILD/test_* (each case "unit/test_x: NAME");
  3. every function test_* of every tests/test_*.py module, in file
     order, each called with a harness.Env (case "test_x: test_name").

Prints "ok NAME (1.2s)" or "FAIL NAME" per case, details under a
failure, and finally "N passed, M failed". Exits 1 when a case failed or
none ran. Options: -k SUBSTRING (repeatable: cases whose name contains
any), --build DIR, -v (details of passing cases too), --timeout SECONDS
(per integration test, default 120).
"""

import argparse
import glob
import importlib
import os
import re
import signal
import subprocess
import sys
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.join(ROOT, "tests")
sys.path.insert(0, TESTS)
STYLE_GLOBS = ("tls/*.[ch]", "proto/*.[ch]", "cmd/*.[ch]", "tests/*.c",
               "tests/unit/*.[ch]")


class TestTimeout(BaseException):
    """Raised in a test by the watchdog when its time is up."""


class Runner:
    def __init__(self, args):
        self.args = args
        self.passed = 0
        self.failed = 0
        self.failures = []

    def selected(self, name):
        if not self.args.k:
            return True
        return any(k in name for k in self.args.k)

    def report(self, name, ok, elapsed=None, details=""):
        when = " (%.1fs)" % elapsed if elapsed is not None else ""
        if ok:
            self.passed += 1
            print("ok %s%s" % (name, when))
        else:
            self.failed += 1
            self.failures.append(name)
            print("FAIL %s%s" % (name, when))
        if details and (not ok or self.args.v):
            for line in details.rstrip("\n").split("\n"):
                print("    " + line)
        sys.stdout.flush()


def tail(text, n=40):
    import harness
    return harness.condense(text, n)


# --- 1. style --------------------------------------------------------------

def run_style(r):
    name = "style: clang-format"
    if not r.selected(name):
        return
    files = []
    for g in STYLE_GLOBS:
        files += sorted(glob.glob(os.path.join(ROOT, g)))
    files = [os.path.relpath(f, ROOT) for f in files]
    t0 = time.monotonic()
    if not files:
        r.report(name, False, 0.0, "no C files found under " + ROOT)
        return
    try:
        p = subprocess.run(["clang-format", "--dry-run", "--Werror"] + files,
                           cwd=ROOT, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=300)
    except FileNotFoundError:
        r.report(name, False, 0.0, "clang-format is not installed "
                 "(run: sh tests/deps.sh)")
        return
    elapsed = time.monotonic() - t0
    if p.returncode == 0:
        r.report(name, True, elapsed)
        return
    err = p.stderr.decode("utf-8", "replace")
    bad = []
    for line in err.splitlines():
        m = re.match(r"^(\S+?):\d+:\d+: (?:error|warning):", line)
        if m and m.group(1) not in bad:
            bad.append(m.group(1))
    if bad:
        msg = ("not formatted (fix with clang-format -i FILE):\n  " +
               "\n  ".join(bad))
    else:
        msg = "clang-format failed (%d):\n%s" % (p.returncode, tail(err))
    r.report(name, False, elapsed, msg)


# --- 2. unit test binaries --------------------------------------------------

def unit_binaries(build):
    out = []
    for path in sorted(glob.glob(os.path.join(build, "test_*"))):
        if (os.path.isfile(path) and os.access(path, os.X_OK) and
                not path.endswith((".o", ".d", ".c"))):
            out.append(path)
    return out


def run_unit(r, build):
    # With -k, every binary still runs (they are fast); only the cases
    # selected are reported.
    for path in unit_binaries(build):
        base = os.path.basename(path)
        prefix = "unit/%s" % base
        t0 = time.monotonic()
        try:
            p = subprocess.run([path], cwd=ROOT, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=600)
            rc, out, err = p.returncode, p.stdout, p.stderr
        except subprocess.TimeoutExpired as e:
            rc, out, err = "timeout (600s)", e.stdout or b"", e.stderr or b""
        elapsed = time.monotonic() - t0
        out = out.decode("utf-8", "replace")
        err = err.decode("utf-8", "replace")
        cases = []
        summary = None
        for line in out.splitlines():
            m = re.match(r"^(ok|FAIL) (.+)$", line)
            if m:
                cases.append((m.group(1) == "ok", m.group(2)))
            elif re.match(r"^\d+ passed, \d+ failed$", line):
                summary = line
        any_fail = False
        shown = False
        for ok, cname in cases:
            name = "%s: %s" % (prefix, cname)
            if not r.selected(name):
                continue
            details = ""
            if not ok:
                any_fail = True
                if not shown:
                    details = tail(err) if err.strip() else "(no stderr)"
                    shown = True
            r.report(name, ok, None, details)
        if (rc != 0 and not any_fail) or summary is None:
            if r.selected(prefix):
                what = ("exit status %s" % rc if rc != 0 else
                        "no final 'N passed, M failed' line")
                if isinstance(rc, int) and rc < 0:
                    what = "killed by signal %d" % -rc
                r.report(prefix, False, elapsed,
                         "%s after %d cases\n--- stderr:\n%s" % (
                             what, len(cases),
                             tail(err) if err.strip() else "(empty)"))


# --- 3. integration tests ----------------------------------------------------

def _alarm(signum, frame):
    raise TestTimeout()


def _term(signum, frame):
    raise KeyboardInterrupt()


def format_failure(exc, env, tb_exc):
    lines = []
    if isinstance(exc, TestTimeout):
        lines.append("timed out (watchdog)")
    elif isinstance(exc, AssertionError):
        lines.append("assertion failed: %s" % (exc,) if str(exc)
                     else "assertion failed")
    else:
        lines.append("%s: %s" % (type(exc).__name__, exc))
    # Where it failed: frames in the test modules and the harness.
    frames = [f for f in traceback.extract_tb(tb_exc)
              if f.filename.startswith(TESTS) and
              os.path.basename(f.filename) != "run.py"]
    for f in frames[-4:]:
        lines.append("  at %s:%d in %s: %s" % (
            os.path.relpath(f.filename, ROOT), f.lineno, f.name,
            (f.line or "").strip()))
    if not isinstance(exc, (AssertionError, TestTimeout)) and not frames:
        lines.append("".join(traceback.format_exception(
            type(exc), exc, tb_exc)).rstrip())
    if env is not None and env.runs:
        last = env.runs[-1]
        lines.append("last mailfetch run (%d in this test):" % len(env.runs))
        lines.append(tail(str(last), 60))
    if env is not None:
        lines.append("test directory kept: %s" % env.tmp)
    return "\n".join(lines)


def run_integration(r, build):
    import harness
    modules = sorted(glob.glob(os.path.join(TESTS, "test_*.py")))
    try:
        for mpath in modules:
            mname = os.path.splitext(os.path.basename(mpath))[0]
            try:
                mod = importlib.import_module(mname)
            except Exception:
                if r.selected(mname):
                    r.report("%s: import" % mname, False, None,
                             traceback.format_exc())
                continue
            for fname, fn in list(vars(mod).items()):
                if not fname.startswith("test_") or not callable(fn):
                    continue
                if getattr(fn, "__module__", None) != mname:
                    continue
                name = "%s: %s" % (mname, fname)
                if not r.selected(name):
                    continue
                run_one(r, harness, name, fn, build)
    finally:
        harness.shutdown()


def run_one(r, harness, name, fn, build):
    env = None
    t0 = time.monotonic()
    old = signal.signal(signal.SIGALRM, _alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, r.args.timeout)
        env = harness.Env(ROOT, build, name)
        fn(env)
        signal.setitimer(signal.ITIMER_REAL, 0)
        ok, details = True, ""
        if r.args.v and env.runs:
            details = "\n".join(str(x) for x in env.runs)
    except (KeyboardInterrupt, SystemExit):
        signal.setitimer(signal.ITIMER_REAL, 0)
        if env is not None:
            env.close(keep_tmp=True)
        raise
    except BaseException as e:
        signal.setitimer(signal.ITIMER_REAL, 0)
        ok, details = False, format_failure(e, env, e.__traceback__)
    finally:
        signal.signal(signal.SIGALRM, old)
    if env is not None:
        env.close(keep_tmp=not ok)
    r.report(name, ok, time.monotonic() - t0, details)


def main():
    ap = argparse.ArgumentParser(description="Run mailfetch's tests.")
    ap.add_argument("--build", default="build",
                    help="build directory (default: build)")
    ap.add_argument("-k", action="append", default=[],
                    help="run only cases whose name contains this")
    ap.add_argument("-v", action="store_true", help="more detail")
    ap.add_argument("--timeout", type=float, default=120.0,
                    help="seconds per integration test (default 120)")
    args = ap.parse_args()
    build = args.build
    if not os.path.isabs(build):
        build = os.path.join(ROOT, build)
    build = os.path.normpath(build)
    if "san" in os.path.basename(build):
        os.environ["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0"
        os.environ["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    sys.stdout.reconfigure(line_buffering=True)
    # Killed (CI's time limit): stop like on ^C, so Dovecot is stopped.
    signal.signal(signal.SIGTERM, _term)
    r = Runner(args)
    try:
        run_style(r)
        run_unit(r, build)
        run_integration(r, build)
    except KeyboardInterrupt:
        print("interrupted")
        r.failed += 1
    if r.failures:
        print("failed:")
        for n in r.failures:
            print("  " + n)
    print("%d passed, %d failed" % (r.passed, r.failed))
    return 1 if r.failed or not r.passed else 0


if __name__ == "__main__":
    sys.exit(main())
