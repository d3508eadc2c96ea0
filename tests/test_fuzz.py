"""The libFuzzer targets of tests/fuzz/: built (make fuzz-bin, clang with
ASan+UBSan into build-fuzz/), every file of tests/fuzz/regress/ replayed
through each target, then a short smoke run of each over its seed
corpus. Any crash, sanitizer report or leak fails the test.

The smoke run gives the same answer every time: a fixed -seed, a fixed
-runs count (no time box), no corpus reload, and address-space layout
randomisation off (setarch -R), and the same environment, arguments and
working directory names every time, so the stack lies at the same
address. The last two matter: the targets compare pointers, libFuzzer's
comparison tracing feeds those values into its mutations, and with
addresses that change two runs with one seed explore differently.

Its memory is bounded, and measured, for known reasons:
- libFuzzer's -rss_limit_mb reads getrusage(RUSAGE_SELF).ru_maxrss, and
  Linux carries that high-water mark across fork and exec: a target
  started straight from this test runner inherits the runner's own peak
  (700 MB here after the integration tests; 1 GB once in CI, which ended
  a smoke run as "out-of-memory" with an empty input). So the target is
  started by /usr/bin/time, a small process whose child starts from
  nothing, and whose %M is the target's real peak.
- ASan keeps freed chunks in a quarantine of 256 MB by default, so a
  target's own RSS climbs with the number of executions (past 600 MB
  for fuzz_pop3 by 700 000 runs) whatever the inputs; with
  quarantine_size_mb=16 these runs stay under 100 MB.
Exploration (time-boxed, random) is `make fuzz`.
"""

import glob
import os
import re
import subprocess
import time

TARGETS = ("fuzz_pop3", "fuzz_imap", "fuzz_config", "fuzz_state",
           "fuzz_inflate")
# Executions per target in the smoke run: about 2-3 s each on one core.
SMOKE_RUNS = {"fuzz_pop3": 100000, "fuzz_imap": 30000,
              "fuzz_config": 10000, "fuzz_state": 8000,
              "fuzz_inflate": 8000}
SMOKE_SEED = 1
SMOKE_RSS_MB = 384
# The small parent every target is started from (see above).
TIME = ["/usr/bin/time", "-f", "peak RSS %M KB"]


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
    e = {"PATH": "/usr/bin:/bin"}
    e["ASAN_OPTIONS"] = ("detect_leaks=1:abort_on_error=0:"
                         "quarantine_size_mb=16")
    e["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    return e


def test_fuzz_regressions_and_smoke(env):
    bins = build(env)
    regress = sorted(p for p in glob.glob(os.path.join(
        env.root, "tests", "fuzz", "regress", "*")) if os.path.isfile(p))
    assert regress, "tests/fuzz/regress/ is empty"
    for t, path in bins.items():
        p = subprocess.run(TIME + [path, "-rss_limit_mb=%d" % SMOKE_RSS_MB]
                           + regress, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=fuzz_env(),
                           cwd=env.tmp, timeout=120)
        out = p.stdout.decode("utf-8", "replace")
        assert p.returncode == 0, "%s failed on a regression input:\n%s" % (
            t, out[-4000:])
        assert out.count("Executed ") == len(regress), out[-2000:]
    for t, path in bins.items():
        seeds = os.path.join(env.root, "tests", "fuzz", "corpus", t)
        assert os.listdir(seeds), "no seeds for %s" % t
        # Fixed names relative to a directory of its own (see above).
        run_dir = env.path("smoke-" + t)
        os.mkdir(run_dir)
        os.mkdir(os.path.join(run_dir, "work"))
        os.symlink(path, os.path.join(run_dir, "target"))
        os.symlink(seeds, os.path.join(run_dir, "seeds"))
        runs = SMOKE_RUNS[t]
        t0 = time.monotonic()
        p = subprocess.run(TIME + ["setarch", "-R", "./target",
                            "-seed=%d" % SMOKE_SEED, "-runs=%d" % runs,
                            "-reload=0", "-max_len=4096",
                            "-print_final_stats=1", "-timeout=120",
                            "-rss_limit_mb=%d" % SMOKE_RSS_MB,
                            "-malloc_limit_mb=128", "-artifact_prefix=./",
                            "work", "seeds"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=fuzz_env(),
                           cwd=run_dir, timeout=600)
        out = p.stdout.decode("utf-8", "replace")
        assert p.returncode == 0, "%s crashed (input kept in %s):\n%s" % (
            t, run_dir, out[-4000:])
        m = re.search(r"stat::number_of_executed_units: *(\d+)", out)
        assert m and int(m.group(1)) == runs, out[-2000:]
        rss = re.search(r"^peak RSS (\d+) KB$", out, re.M)
        done = re.search(r"DONE +cov: (\d+) ft: (\d+) corp: (\d+)", out)
        assert rss and int(rss.group(1)) < SMOKE_RSS_MB * 1024, out[-2000:]
        print("%s: %d executions, cov %s, ft %s, corpus %s, peak RSS %s MB, "
              "%.1fs" % (t, runs, done.group(1), done.group(2),
                         done.group(3), int(rss.group(1)) // 1024,
                         time.monotonic() - t0))
