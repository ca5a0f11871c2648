"""The measured workloads, each run the same way against either server.

Throughputs run in worker processes (one connection each) that prepare
their request bodies, wait at a barrier, and report when they started and
finished: the figure is the work divided by the span from the first start
to the last finish. Latencies are sequential requests from this process,
timed from sending to the last byte of the answer; decoding and checking
the answer happen outside the timed region. Every answer is checked, so a
server that drops or garbles work cannot look fast.
"""

import hashlib
import http.client
import json
import multiprocessing as mp
import os
import statistics
import time
import uuid

from .client import API, ARTIFACTS, BenchError

_CTX = mp.get_context("fork")

RUN_TAGS = [("mlflow.user", "bench"), ("mlflow.source.name", "mlflowbench"), ("mlflow.source.type", "LOCAL")]


def now_ms():
    return int(time.time() * 1000)


# -- running workers ----------------------------------------------------------


def _worker(server, prepare, run, task, barrier, out):
    try:
        conn = server.connect()
        state = prepare(task)
        conn.call("GET", API + "/experiments/get?experiment_id=0")  # connect and authenticate
        barrier.wait(timeout=600)
        t0 = time.time()
        result = run(conn, state)
        out.put((t0, time.time(), result, None))
    except Exception as e:  # reported to the parent, which fails the benchmark
        try:
            barrier.abort()
        except Exception:
            pass
        out.put((0, 0, None, f"{type(e).__name__}: {e}"))


def parallel(server, prepare, run, tasks):
    """Runs run(conn, prepare(task)) for every task in its own process, all
    starting together. Returns (seconds from first start to last finish,
    [results])."""
    barrier = _CTX.Barrier(len(tasks))
    out = _CTX.Queue()
    procs = [_CTX.Process(target=_worker, args=(server, prepare, run, t, barrier, out)) for t in tasks]
    for p in procs:
        p.start()
    got = [out.get(timeout=7200) for _ in procs]
    for p in procs:
        p.join()
    errors = [e for _, _, _, e in got if e]
    if errors:
        raise BenchError(f"{server.name}: {errors[0]}")
    span = max(t1 for _, t1, _, _ in got) - min(t0 for t0, _, _, _ in got)
    return span, [r for _, _, r, _ in got]


def split(n, parts):
    """n items as `parts` nearly equal counts."""
    return [n // parts + (1 if i < n % parts else 0) for i in range(parts)]


# -- experiments and runs -----------------------------------------------------


def create_experiment(conn, name):
    return conn.call("POST", API + "/experiments/create", {"name": name})["experiment_id"]


def create_run_body(exp_id, name, ts):
    return {"experiment_id": exp_id, "run_name": name, "start_time": ts,
            "tags": [{"key": k, "value": v} for k, v in RUN_TAGS + [("mlflow.runName", name)]]}


def create_run(conn, exp_id, name):
    return conn.call("POST", API + "/runs/create", create_run_body(exp_id, name, now_ms()))["run"]["info"]["run_id"]


def history_len(conn, run_id, key):
    r = conn.call("GET", API + f"/metrics/get-history?run_id={run_id}&metric_key={key}")
    return len(r.get("metrics", []))


# -- log-batch throughput -----------------------------------------------------

KEYS_PER_BATCH = 10  # each batch: 10 metrics x 100 steps


def _prep_batches(task):
    run_id, count, ts = task
    bodies = []
    for b in range(count):
        metrics = [{"key": f"k{k}", "value": (b * 100 + s) / 7.0, "timestamp": ts + s, "step": b * 100 + s}
                   for k in range(KEYS_PER_BATCH) for s in range(100)]
        bodies.append(json.dumps({"run_id": run_id, "metrics": metrics}).encode())
    return bodies


def _send_batches(conn, bodies):
    for body in bodies:
        conn.call("POST", API + "/runs/log-batch", body)
    return len(bodies)


def log_batch_throughput(server, exp_id, batches, concurrency):
    """metrics/s logging `batches` batches of 1000 metrics from
    `concurrency` processes, each into its own run."""
    conn = server.connect()
    counts = [c for c in split(batches, concurrency) if c]
    runs = [create_run(conn, exp_id, f"log-batch-{i}") for i in range(len(counts))]
    span, _ = parallel(server, _prep_batches, _send_batches, [(r, c, now_ms()) for r, c in zip(runs, counts)])
    for r, c in zip(runs, counts):
        got = history_len(conn, r, "k0")
        if got != c * 100:
            raise BenchError(f"{server.name}: run {r} holds {got} points of k0 after the batches, want {c * 100}")
    return batches * 1000 / span


# -- run creation ---------------------------------------------------------------


def _prep_creates(task):
    exp_id, first, count, ts = task
    return [json.dumps(create_run_body(exp_id, f"create-{first + i}", ts)).encode() for i in range(count)]


def _send_creates(conn, bodies):
    return [conn.call("POST", API + "/runs/create", b)["run"]["info"]["run_id"] for b in bodies]


def run_creation_rate(server, exp_id, n, concurrency):
    """runs/s creating n runs from `concurrency` processes."""
    tasks, first = [], 0
    for c in split(n, concurrency):
        if c:
            tasks.append((exp_id, first, c, now_ms()))
            first += c
    span, results = parallel(server, _prep_creates, _send_creates, tasks)
    ids = {r for rs in results for r in rs}
    if len(ids) != n:
        raise BenchError(f"{server.name}: {len(ids)} distinct run ids for {n} creations")
    return n / span


# -- populating an experiment for search ---------------------------------------


def score_of(i, n):
    """A permutation of 0..n-1 over n, so the scores are distinct and the
    expected top of any search is known."""
    return ((i * 7919) % n) / n


def _fill_body(i, n, run_id, ts):
    s = score_of(i, n)
    return json.dumps({"run_id": run_id,
                       "metrics": [{"key": "score", "value": s, "timestamp": ts, "step": 0},
                                   {"key": "loss", "value": 1 - s, "timestamp": ts, "step": 0}],
                       "params": [{"key": "lr", "value": str(i % 10)}, {"key": "batch", "value": str(32 << (i % 3))}],
                       "tags": [{"key": "group", "value": str(i % 100)}]}).encode()


def _prep_fill(task):
    return task


def _send_fill(conn, task):
    exp_id, first, count, n, ts = task
    for i in range(first, first + count):
        name = f"run-{i}"
        run_id = conn.call("POST", API + "/runs/create", create_run_body(exp_id, name, ts))["run"]["info"]["run_id"]
        conn.call("POST", API + "/runs/log-batch", _fill_body(i, n, run_id, ts))
    return count


def fill_api(server, exp_id, n, concurrency):
    """Creates n runs, each with metrics score and loss, two params and a
    tag, through the API; returns the seconds it took."""
    tasks, first, ts = [], 0, now_ms()
    for c in split(n, concurrency):
        if c:
            tasks.append((exp_id, first, c, n, ts))
            first += c
    span, _ = parallel(server, _prep_fill, _send_fill, tasks)
    return span


def fill_mlflow_sqlite(db_path, exp_id, n):
    """Writes the same n runs as fill_api straight into MLflow's SQLite
    database (its tables: runs, tags, params, metrics, latest_metrics);
    returns the seconds it took."""
    import sqlite3

    start = time.monotonic()
    ts = now_ms()
    db = sqlite3.connect(db_path, timeout=600)
    with db:
        for lo in range(0, n, 10000):
            runs, tags, params, metrics = [], [], [], []
            for i in range(lo, min(n, lo + 10000)):
                rid = uuid.uuid4().hex
                name = f"run-{i}"
                s = score_of(i, n)
                runs.append((rid, name, "UNKNOWN", "mlflowbench", "", "bench", "FINISHED", ts, ts, "", "active",
                             f"mlflow-artifacts:/{exp_id}/{rid}/artifacts", int(exp_id)))
                tags += [(k, v, rid) for k, v in RUN_TAGS + [("mlflow.runName", name), ("group", str(i % 100))]]
                params += [("lr", str(i % 10), rid), ("batch", str(32 << (i % 3)), rid)]
                metrics += [("score", s, ts, rid, 0, 0), ("loss", 1 - s, ts, rid, 0, 0)]
            db.executemany("INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status,"
                           " start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id)"
                           " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", runs)
            db.executemany('INSERT INTO tags ("key", value, run_uuid) VALUES (?,?,?)', tags)
            db.executemany('INSERT INTO params ("key", value, run_uuid) VALUES (?,?,?)', params)
            db.executemany('INSERT INTO metrics ("key", value, timestamp, run_uuid, step, is_nan) VALUES (?,?,?,?,?,?)',
                           metrics)
            db.executemany('INSERT INTO latest_metrics ("key", value, timestamp, run_uuid, step, is_nan)'
                           " VALUES (?,?,?,?,?,?)", metrics)
    db.close()
    return time.monotonic() - start


# -- latencies ------------------------------------------------------------------


class TimedOut(Exception):
    """A request got no answer within the server's timeout."""


def timed(conn, method, path, body=None):
    t = time.perf_counter()
    try:
        status, data = conn.request(method, path, body)
    except TimeoutError as e:
        conn.close()
        raise TimedOut() from e
    elapsed = (time.perf_counter() - t) * 1000
    if status != 200:
        raise BenchError(f"{conn.s.name}: {method} {path}: HTTP {status}: {data[:300]!r}")
    return elapsed, data


def latency(conn, method, path, body, repeats, check):
    """p50 ms of `repeats` requests after one untimed warm-up, each answer
    passed to check(data); None if a request timed out (the remaining
    ones are not sent)."""
    times = []
    for i in range(repeats + 1):
        try:
            ms, data = timed(conn, method, path, body)
        except TimedOut:
            return None
        check(data)
        if i:  # the first request warms the server's caches
            times.append(ms)
    return statistics.median(times)


def search_latency(server, exp_id, n, repeats):
    """p50 ms of search_runs with a metric filter and an order_by on a
    metric, 100 results, over an experiment filled with n runs."""
    conn = server.connect()
    body = json.dumps({"experiment_ids": [exp_id], "filter": "metrics.score > 0.5",
                       "order_by": ["metrics.score DESC"], "max_results": 100, "run_view_type": "ACTIVE_ONLY"}).encode()
    want = [(n - 1 - j) / n for j in range(min(100, sum(1 for k in range(n) if k / n > 0.5)))]

    def check(data):
        # (protobuf's JSON may leave out fields that are zero)
        got = [next(float(m.get("value", 0)) for m in r["data"]["metrics"] if m["key"] == "score")
               for r in json.loads(data).get("runs", [])]
        if [round(v, 9) for v in got] != [round(v, 9) for v in want]:
            raise BenchError(f"{server.name}: search over {n} runs returned scores {got[:5]}... ({len(got)}),"
                             f" want {want[:5]}... ({len(want)})")

    return latency(conn, "POST", API + "/runs/search", body, repeats, check)


def history_latency(server, exp_id, points, repeats):
    """p50 ms of get-history of one metric with `points` points."""
    conn = server.connect()
    run_id = create_run(conn, exp_id, "history")
    ts = now_ms()
    for lo in range(0, points, 1000):
        metrics = [{"key": "history", "value": s / 3.0, "timestamp": ts + s, "step": s}
                   for s in range(lo, min(points, lo + 1000))]
        conn.call("POST", API + "/runs/log-batch", {"run_id": run_id, "metrics": metrics})
    path = API + f"/metrics/get-history?run_id={run_id}&metric_key=history"

    def check(data):
        got = json.loads(data).get("metrics", [])
        if len(got) != points or {int(m.get("step", 0)) for m in got} != set(range(points)):
            raise BenchError(f"{server.name}: get-history returned {len(got)} points, want {points}")

    return latency(conn, "GET", path, None, repeats, check)


def artifact_throughput(server, exp_id, path, size, repeats):
    """MB/s (10^6 bytes/s) of PUT and of GET of the file at path through
    the artifact proxy (medians over `repeats`), each to a new name."""
    conn = server.connect()
    run_id = create_run(conn, exp_id, "artifacts")
    want = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            want.update(chunk)
    up, down = [], []
    for i in range(repeats):
        key = f"{ARTIFACTS}/{exp_id}/{run_id}/artifacts/big-{i}.bin"
        with open(path, "rb") as f:
            t = time.perf_counter()
            conn.stream("PUT", key, f, size)
            up.append(size / (time.perf_counter() - t) / 1e6)
        got = hashlib.sha256()
        t = time.perf_counter()
        conn.stream("GET", key, sink=got.update)
        down.append(size / (time.perf_counter() - t) / 1e6)
        if got.hexdigest() != want.hexdigest():
            raise BenchError(f"{server.name}: the downloaded artifact differs from the uploaded one")
    return statistics.median(up), statistics.median(down)


def write_random_file(path, size):
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(left, 1 << 20)
            f.write(os.urandom(n))
            left -= n


def multipart_upload_throughput(server, exp_id, path, size, repeats, part_size, threads):
    """MB/s (median over `repeats`) of the proxied multipart upload the
    mlflow client makes with MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD: mpu/create,
    the parts PUT to their URLs from `threads` threads at once, mpu/complete.
    MLflow's own server offers it only over object stores, not over the
    local artifact root the benchmark gives it."""
    import concurrent.futures
    import urllib.parse

    conn = server.connect()
    run_id = create_run(conn, exp_id, "mpu")
    nparts = max(1, -(-size // part_size))
    rates = []
    for i in range(repeats):
        d = f"{exp_id}/{run_id}/artifacts/mpu-{i}"
        t = time.perf_counter()
        created = conn.call("POST", f"/api/2.0/mlflow-artifacts/mpu/create/{d}",
                            {"path": "big.bin", "num_parts": nparts})
        upload_id = created["upload_id"]

        def put(cred):
            n = int(cred["part_number"])
            off = (n - 1) * part_size
            length = min(part_size, size - off)
            with open(path, "rb") as f:
                f.seek(off)
                body = f.read(length)
            u = urllib.parse.urlsplit(cred["url"])
            c = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=server.timeout)
            try:
                c.request("PUT", u.path + ("?" + u.query if u.query else ""), body=body,
                          headers={"Content-Length": str(length), **(cred.get("headers") or {})})
                r = c.getresponse()
                r.read()
                if r.status != 200:
                    raise BenchError(f"{server.name}: part {n}: HTTP {r.status}")
                return {"part_number": n, "etag": r.getheader("ETag", "")}
            finally:
                c.close()

        with concurrent.futures.ThreadPoolExecutor(threads) as pool:
            parts = list(pool.map(put, created["credentials"]))
        conn.call("POST", f"/api/2.0/mlflow-artifacts/mpu/complete/{d}",
                  {"path": "big.bin", "upload_id": upload_id, "parts": parts})
        rates.append(size / (time.perf_counter() - t) / 1e6)
    return statistics.median(rates)
