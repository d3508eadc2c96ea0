"""The libFuzzer targets of tests/fuzz/: built (make fuzz-bin, clang with
ASan+UBSan into build-fuzz/), every file of tests/fuzz/regress/ replayed
through each target, then a short smoke run of each over its seed
corpus (longer runs: make fuzz FUZZTIME=...). Any crash, sanitizer
report or leak fails the test.
"""

import glob
import os
import re
import subprocess
import time

TARGETS = ("fuzz_pop3", "fuzz_imap", "fuzz_config", "fuzz_state")
SMOKE_SECONDS = 10.0  # in all, shared by the targets


def build(env):
    e = dict(os.environ)
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
        e.pop(k, None)
    p = subprocess.run(["make", "-C", env.root, "fuzz-bin"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       env=e, timeout=900)
    assert p.returncode == 0, "make fuzz-bin failed (is clang installed? " \
        "sh tests/deps.sh):\n%s" % p.stdout.decode("utf-8", "replace")[-4000:]
    bins = {}
    for t in TARGETS:
        path = os.path.join(env.root, "build-fuzz", t)
        assert os.access(path, os.X_OK), "%s was not built" % path
        bins[t] = path
    return bins


def fuzz_env():
    e = dict(os.environ)
    e["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0"
    e["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    return e


def test_fuzz_regressions_and_smoke(env):
    bins = build(env)
    regress = sorted(p for p in glob.glob(os.path.join(
        env.root, "tests", "fuzz", "regress", "*")) if os.path.isfile(p))
    assert regress, "tests/fuzz/regress/ is empty"
    for t, path in bins.items():
        p = subprocess.run([path] + regress, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=fuzz_env(),
                           cwd=env.tmp, timeout=120)
        out = p.stdout.decode("utf-8", "replace")
        assert p.returncode == 0, "%s failed on a regression input:\n%s" % (
            t, out[-4000:])
        assert out.count("Executed ") == len(regress), out[-2000:]
    each = SMOKE_SECONDS / len(bins)
    for t, path in bins.items():
        seeds = os.path.join(env.root, "tests", "fuzz", "corpus", t)
        assert os.listdir(seeds), "no seeds for %s" % t
        work = env.path("corpus-" + t)
        os.mkdir(work)
        t0 = time.monotonic()
        p = subprocess.run([path, "-max_total_time=%d" % max(1, each),
                            "-print_final_stats=1", "-timeout=10",
                            "-rss_limit_mb=1024",
                            "-artifact_prefix=%s/%s-" % (env.tmp, t),
                            work, seeds], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=fuzz_env(),
                           cwd=env.tmp, timeout=each + 120)
        out = p.stdout.decode("utf-8", "replace")
        assert p.returncode == 0, "%s crashed (input kept in %s):\n%s" % (
            t, env.tmp, out[-4000:])
        m = re.search(r"stat::number_of_executed_units: (\d+)", out)
        cov = re.findall(r"cov: (\d+)", out)
        assert m and int(m.group(1)) > 0, out[-2000:]
        print("%s: %s executions, coverage %s, %.1fs" % (
            t, m.group(1), cov[-1] if cov else "?",
            time.monotonic() - t0))
