"""MLflow benchmark driver: the same workload against arca and against the
real `mlflow server`, both already running (bench/mlflow.sh starts them),
and a Markdown table of arca's figures, MLflow's and the ratio.

    python -m mlflowbench --arca URL --arca-user U --arca-password P \\
        --mlflow URL --mlflow-db PATH [settings]

The URLs are tracking URIs (arca's ends in /mlflow). --mlflow-db is the
MLflow server's SQLite file; search populations larger than
--mlflow-api-fill-max runs are written into it directly, because filling
them through MLflow's API would take hours (the output says where this
happened). Each measurement runs against both servers, in alternating
order; see workload.py for how each is taken.
"""

import argparse
import os
import sys
import tempfile
import time

from . import workload as w
from .client import BenchError, Server


PHASES = ("log-batch", "create", "history", "artifacts", "search")


def parse():
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arca", required=True)
    p.add_argument("--arca-user", default="admin")
    p.add_argument("--arca-password", required=True)
    p.add_argument("--mlflow", required=True)
    p.add_argument("--mlflow-db", required=True)
    p.add_argument("--concurrency", type=int, default=int(env("BENCH_CONCURRENCY", "4")))
    p.add_argument("--log-batches", type=int, default=int(env("BENCH_LOG_BATCHES", "200")))
    p.add_argument("--create-runs", type=int, default=int(env("BENCH_CREATE_RUNS", "2000")))
    p.add_argument("--search-runs", default=env("BENCH_SEARCH_RUNS", "10000,100000"))
    p.add_argument("--searches", type=int, default=int(env("BENCH_SEARCHES", "20")))
    p.add_argument("--mlflow-api-fill-max", type=int, default=int(env("BENCH_MLFLOW_API_FILL_MAX", "10000")))
    p.add_argument("--history-points", type=int, default=int(env("BENCH_HISTORY_POINTS", "100000")))
    p.add_argument("--history-gets", type=int, default=int(env("BENCH_HISTORY_GETS", "5")))
    p.add_argument("--artifact-mb", type=int, default=int(env("BENCH_ARTIFACT_MB", "100")))
    p.add_argument("--artifact-runs", type=int, default=int(env("BENCH_ARTIFACT_RUNS", "3")))
    p.add_argument("--timeout", type=int, default=int(env("BENCH_TIMEOUT", "600")),
                   help="seconds to wait for one answer; a latency that takes longer is reported as timed out")
    p.add_argument("--phases", default=env("BENCH_PHASES", ",".join(PHASES)),
                   help="comma-separated subset of " + ",".join(PHASES))
    p.add_argument("--dir", default=env("BENCH_DIR", tempfile.gettempdir()))
    return p.parse_args()


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Bench:
    def __init__(self, args):
        self.a = args
        self.arca = Server("arca", args.arca, args.arca_user, args.arca_password, timeout=args.timeout)
        self.mlflow = Server("mlflow", args.mlflow, timeout=args.timeout)
        self.phases = {p.strip() for p in args.phases.split(",") if p.strip()}
        unknown = self.phases - set(PHASES)
        if unknown:
            raise SystemExit(f"mlflowbench: unknown phases {sorted(unknown)}; known: {', '.join(PHASES)}")
        self.rows = []  # (measurement, arca, mlflow, higher_is_better, unit)
        self.notes = []
        self.flip = False

    def both(self, what, fn):
        """Runs fn(server) for both servers, alternating which goes first."""
        order = [self.mlflow, self.arca] if self.flip else [self.arca, self.mlflow]
        self.flip = not self.flip
        got = {}
        for s in order:
            t = time.monotonic()
            got[s.name] = fn(s)
            log(f"  {what} on {s.name}: {self.fmt(got[s.name])} ({time.monotonic() - t:.1f}s)")
        return got["arca"], got["mlflow"]

    def experiment(self, s, name):
        return w.create_experiment(s.connect(), f"bench-{name}-{int(time.time())}")

    def run(self):
        a = self.a
        c = a.concurrency
        if "log-batch" in self.phases:
            log(f"log-batch: {a.log_batches} batches of 1000 metrics from {c} processes")
            arca, ml = self.both("log-batch",
                                 lambda s: w.log_batch_throughput(s, self.experiment(s, "batch"), a.log_batches, c))
            self.rows.append(("log-batch throughput (metrics/s, batches of 1000)", arca, ml, True))

        if "create" in self.phases:
            log(f"run creation: {a.create_runs} runs from {c} processes")
            arca, ml = self.both("create",
                                 lambda s: w.run_creation_rate(s, self.experiment(s, "create"), a.create_runs, c))
            self.rows.append(("run creation (runs/s)", arca, ml, True))

        if "history" in self.phases:
            log(f"metric history of {a.history_points} points")
            arca, ml = self.both("history", lambda s: w.history_latency(s, self.experiment(s, "history"),
                                                                         a.history_points, a.history_gets))
            self.rows.append((f"get_metric_history p50 (ms), {a.history_points:,} points", arca, ml, False))

        if "artifacts" in self.phases:
            self.artifacts()

        # Last: a search that times out may keep the server busy (and, for
        # MLflow on SQLite, its database locked) long after.
        self.searches()

    def searches(self):
        a = self.a
        c = a.concurrency
        sizes = [int(x) for x in a.search_runs.split(",") if x.strip()] if "search" in self.phases else []
        for n in sizes:
            log(f"search_runs over {n} runs")
            exps = {}

            def fill(s, n=n):
                exps[s.name] = self.experiment(s, f"search{n}")
                if s is self.mlflow and n > a.mlflow_api_fill_max:
                    secs = w.fill_mlflow_sqlite(a.mlflow_db, exps[s.name], n)
                    self.notes.append(f"MLflow's {n:,} runs were written straight into its SQLite database"
                                      f" ({secs:.0f}s), not through its API")
                else:
                    secs = w.fill_api(s, exps[s.name], n, c * 2)
                    self.notes.append(f"{s.name}: {n:,} runs (create + log-batch each) through the API took {secs:.0f}s"
                                      f" ({n / secs:.0f} runs/s, {c * 2} processes)")
                return secs

            self.both(f"fill {n}", fill)
            arca, ml = self.both(f"search {n}", lambda s, n=n: w.search_latency(s, exps[s.name], n, a.searches))
            self.rows.append((f"search_runs p50 (ms), {n:,} runs, metric filter + order_by, 100 results", arca, ml, False))

    def artifacts(self):
        a = self.a
        size = a.artifact_mb * 1024 * 1024
        path = os.path.join(a.dir, f"mlflowbench-{os.getpid()}.bin")
        w.write_random_file(path, size)
        try:
            log(f"artifact of {a.artifact_mb} MiB, {a.artifact_runs} uploads and downloads")
            arca, ml = self.both("artifacts", lambda s: w.artifact_throughput(s, self.experiment(s, "art"), path, size,
                                                                              a.artifact_runs))
            # The multipart upload the mlflow client makes when
            # MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD is set: arca's proxy
            # offers it; MLflow's server does over object stores only, so
            # its line is its single PUT above.
            part = 8 * 1024 * 1024
            t = time.monotonic()
            mpu = w.multipart_upload_throughput(self.arca, self.experiment(self.arca, "mpu"), path, size,
                                                a.artifact_runs, part, 4)
            log(f"  multipart upload on arca: {self.fmt(mpu)} ({time.monotonic() - t:.1f}s)")
        finally:
            os.remove(path)
        self.rows.append((f"artifact upload, {a.artifact_mb} MiB (MB/s)", arca[0], ml[0], True))
        self.rows.append((f"artifact download, {a.artifact_mb} MiB (MB/s)", arca[1], ml[1], True))
        self.rows.append((f"artifact upload, {a.artifact_mb} MiB, multipart: 8 MiB parts from 4 threads on arca,"
                          f" MLflow's single PUT (MB/s)", mpu, ml[0], True))

    def report(self):
        print("| measurement | arca | MLflow | arca faster by |")
        print("|---|---:|---:|---:|")
        for what, arca, ml, higher in self.rows:
            print(f"| {what} | {self.fmt(arca)} | {self.fmt(ml)} | {self.ratio(arca, ml, higher)} |")
        print()
        print("The last column is arca's figure over MLflow's for rates, and MLflow's over arca's for latencies.")
        for n in self.notes:
            print(f"- {n}")

    def fmt(self, v):
        """A figure; None is a latency that timed out."""
        if v is None:
            return f"timed out (> {self.a.timeout} s)"
        if isinstance(v, tuple):
            return ", ".join(self.fmt(x) for x in v)
        if v >= 100:
            return f"{v:,.0f}"
        if v >= 10:
            return f"{v:.1f}"
        return f"{v:.2f}"

    def ratio(self, arca, ml, higher):
        if arca is None:
            return "arca timed out"
        if ml is None:  # a latency: MLflow took longer than the timeout
            return f"> {self.a.timeout * 1000 / arca:,.0f}x"
        return f"{arca / ml if higher else ml / arca:.1f}x"


def main():
    b = Bench(parse())
    try:
        b.run()
    except BenchError as e:
        sys.exit(f"mlflowbench: {e}")
    b.report()


if __name__ == "__main__":
    main()
