"""An ML engineer's whole day with the unmodified mlflow client, asserted.

Run with the Python of a virtualenv that has mlflow and scikit-learn, with
MLFLOW_TRACKING_URI pointing at the server (arca's http://HOST:PORT/mlflow,
or a plain `mlflow server --serve-artifacts`) and credentials, if the
server wants them, in MLFLOW_TRACKING_USERNAME/PASSWORD or
MLFLOW_TRACKING_TOKEN:

    python workflow.py full --prefix NAME --workdir DIR
        experiment, params, 1000 metric steps, tags, a directory of
        artifacts, a scikit-learn model logged, registered, aliased
        "champion", loaded back and compared, search_runs with filter and
        order_by, delete and restore, artifact download, and bad input
    python workflow.py concurrent --prefix NAME [--writers 2 --points N]
        writer processes logging to one experiment (and one shared run) at
        the same time; every point of every writer must arrive
    python workflow.py permissions --prefix NAME --user USER
        (see permissions.py) per-experiment and per-model permissions

Every step prints "ok   <step>" or "FAIL <step>: <what differed>" (and
lines "RESULT <name> <value>" for the caller to check elsewhere); the
script exits 1 on the first failure (or, with --keep-going, after all
steps). It never relies on anything the server may do differently from
MLflow: it must pass against `mlflow server` too.
"""

import argparse
import os
import sys
import tempfile
import time
import uuid

# Before mlflow is imported: no usage reporting.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")

import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric, Param, RunTag, ViewType  # noqa: E402

from mlcheck import Failure, Steps, check, equal, expect_error, file_digest, tree_digests, write_random  # noqa: E402

LOSS_STEPS = 1000


class Workflow:
    """The `full` workflow; each method is one step, sharing state here."""

    def __init__(self, prefix, workdir):
        self.client = MlflowClient()
        self.prefix = prefix
        self.workdir = workdir
        self.exp_name = f"{prefix}-experiment"
        self.model_name = f"{prefix}-iris"
        self.t0 = int(time.time() * 1000)

    # -- server and experiment ------------------------------------------------

    def default_experiment(self):
        exp = self.client.get_experiment("0")
        equal(exp.name, "Default", "name of experiment 0")
        equal(exp.lifecycle_stage, "active", "lifecycle of experiment 0")

    def create_experiment(self):
        c = self.client
        self.exp_id = c.create_experiment(self.exp_name, tags={"team": "e2e", "purpose": "workflow"})
        check(self.exp_id and self.exp_id != "0", "create_experiment returned id %r", self.exp_id)
        exp = c.get_experiment(self.exp_id)
        equal(exp.name, self.exp_name, "experiment name")
        equal(exp.lifecycle_stage, "active", "experiment lifecycle")
        equal({k: exp.tags.get(k) for k in ("team", "purpose")}, {"team": "e2e", "purpose": "workflow"}, "experiment tags")
        check(exp.artifact_location.startswith("mlflow-artifacts:/"),
              "artifact location %r is not served by the artifact proxy (want mlflow-artifacts:/...)", exp.artifact_location)
        by_name = c.get_experiment_by_name(self.exp_name)
        check(by_name is not None, "get_experiment_by_name(%r) found nothing", self.exp_name)
        equal(by_name.experiment_id, self.exp_id, "get_experiment_by_name id")
        check(c.get_experiment_by_name(self.exp_name + "-nope") is None, "get_experiment_by_name of a missing name found one")
        found = c.search_experiments(filter_string=f"name = '{self.exp_name}'")
        equal([e.experiment_id for e in found], [self.exp_id], "search_experiments by name")
        expect_error("RESOURCE_ALREADY_EXISTS", "creating the experiment again", c.create_experiment, self.exp_name)

    # -- one training run -----------------------------------------------------

    def start_run(self):
        mlflow.set_experiment(experiment_id=self.exp_id)
        run = mlflow.start_run(run_name="train", description="e2e training run")
        self.run_id = run.info.run_id
        equal(run.info.experiment_id, self.exp_id, "run experiment")
        equal(run.info.status, "RUNNING", "new run status")
        check(run.info.artifact_uri.startswith("mlflow-artifacts:/"), "run artifact URI %r", run.info.artifact_uri)

    def log_params_metrics_tags(self):
        c = self.client
        self.params = {"alpha": "0.5", "solver": "lbfgs", "max_iter": "200", "features": "sepal+petal"}
        mlflow.log_params(self.params)
        # 1000 steps of "loss" in one batch (the per-request limit), and
        # single calls for "accuracy".
        self.loss = [Metric("loss", 1.0 / (s + 1), self.t0 + s, s) for s in range(LOSS_STEPS)]
        c.log_batch(self.run_id, metrics=self.loss)
        for s in range(10):
            mlflow.log_metric("accuracy", 0.5 + s / 20, step=s)
        mlflow.log_metrics({"f1": 0.9, "precision": 0.95}, step=3)
        self.tags = {"stage": "dev", "owner": "e2e", "dataset": "iris"}
        mlflow.set_tags(self.tags)
        mlflow.set_tag("to-delete", "x")
        c.delete_tag(self.run_id, "to-delete")

        run = c.get_run(self.run_id)
        equal(run.data.params, self.params, "run params")
        for k, v in self.tags.items():
            equal(run.data.tags.get(k), v, f"tag {k}")
        check("to-delete" not in run.data.tags, "deleted tag still there")
        equal(run.data.tags.get("mlflow.runName"), "train", "tag mlflow.runName")
        equal(run.data.metrics.get("loss"), 1.0 / LOSS_STEPS, "latest loss (value at the highest step)")
        equal(run.data.metrics.get("accuracy"), 0.5 + 9 / 20, "latest accuracy")
        equal(run.data.metrics.get("f1"), 0.9, "f1")

        hist = c.get_metric_history(self.run_id, "loss")
        equal(len(hist), LOSS_STEPS, "points in the loss history")
        got = sorted((m.step, m.value, m.timestamp) for m in hist)
        want = [(m.step, m.value, m.timestamp) for m in self.loss]
        check(got == want, "loss history differs from what was logged (first difference at step %s)",
              next((g[0] for g, w in zip(got, want) if g != w), "?"))
        acc = sorted((m.step, m.value) for m in c.get_metric_history(self.run_id, "accuracy"))
        equal(acc, [(s, 0.5 + s / 20) for s in range(10)], "accuracy history")

    def log_artifacts(self):
        src = os.path.join(self.workdir, "artifacts-src")
        self.art_src = src
        write_random(os.path.join(src, "weights.bin"), 3 * 1024 * 1024 + 17)
        write_random(os.path.join(src, "deep", "er", "blob.bin"), 4096)
        with open(os.path.join(src, "readme.txt"), "w") as f:
            f.write("artifacts logged by the arca e2e workflow\n")
        with open(os.path.join(src, "deep", "labels.csv"), "w") as f:
            f.write("id,label\n1,setosa\n2,versicolor\n3,virginica\n")
        open(os.path.join(src, "empty.txt"), "w").close()
        self.art_digests = tree_digests(src)
        mlflow.log_artifacts(src, artifact_path="data")
        notes = os.path.join(self.workdir, "notes.txt")
        with open(notes, "w") as f:
            f.write("single-file artifact\n")
        mlflow.log_artifact(notes)
        mlflow.log_dict({"layers": [4, 8, 3], "activation": "relu"}, "config.json")

        top = {f.path: f.is_dir for f in self.client.list_artifacts(self.run_id)}
        for p, is_dir in (("data", True), ("notes.txt", False), ("config.json", False)):
            check(p in top, "list_artifacts: %s missing from %s", p, sorted(top))
            equal(top[p], is_dir, f"list_artifacts: is_dir of {p}")
        data = {f.path: f for f in self.client.list_artifacts(self.run_id, "data")}
        equal(sorted(data), ["data/deep", "data/empty.txt", "data/readme.txt", "data/weights.bin"], "list_artifacts of data")
        equal(data["data/weights.bin"].file_size, 3 * 1024 * 1024 + 17, "listed size of weights.bin")
        # A size of 0 may be left out of the listing (protobuf's JSON omits zeros).
        check(data["data/empty.txt"].file_size in (0, None), "listed size of empty.txt: %r, want 0",
              data["data/empty.txt"].file_size)
        check(data["data/deep"].is_dir, "data/deep is not listed as a directory")
        # For the caller, which may look at the same bytes through another door.
        print(f"RESULT run_artifact_uri {self.client.get_run(self.run_id).info.artifact_uri}", flush=True)
        print(f"RESULT weights_sha256 {self.art_digests['weights.bin']}", flush=True)

    def log_model(self):
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression

        X, y = load_iris(return_X_y=True)
        self.X = X
        self.model = LogisticRegression(max_iter=200).fit(X, y)
        # Naming the requirements spares the client its inference, which
        # imports the model in a Python subprocess (20 s and more on a busy
        # machine) and sends the server nothing different.
        import sklearn

        self.model_info = mlflow.sklearn.log_model(self.model, name="iris-classifier", input_example=X[:5],
                                                   pip_requirements=[f"scikit-learn=={sklearn.__version__}"])
        info = self.model_info
        check(info.model_uri.startswith("models:/m-"), "model URI %r is not a logged model's", info.model_uri)
        equal(info.run_id, self.run_id, "model's run")
        lm = self.client.get_logged_model(info.model_id)
        equal(str(lm.status), "READY", "logged model status")
        equal(lm.experiment_id, self.exp_id, "logged model experiment")
        equal(lm.source_run_id, self.run_id, "logged model source run")
        check(lm.artifact_location.endswith(f"/models/{info.model_id}/artifacts"),
              "logged model artifact location %r", lm.artifact_location)
        found = self.client.search_logged_models(experiment_ids=[self.exp_id])
        equal([m.model_id for m in found], [info.model_id], "search_logged_models")

    def end_run(self):
        mlflow.end_run()
        run = self.client.get_run(self.run_id)
        equal(run.info.status, "FINISHED", "status after end_run")
        check(run.info.end_time and run.info.end_time >= run.info.start_time,
              "end_time %r before start_time %r", run.info.end_time, run.info.start_time)

    # -- registry ------------------------------------------------------------

    def register(self):
        c = self.client
        mv = mlflow.register_model(self.model_info.model_uri, self.model_name)
        equal(mv.name, self.model_name, "model version name")
        equal(str(mv.version), "1", "first model version")
        equal(mv.run_id, self.run_id, "model version run")
        mv = c.get_model_version(self.model_name, "1")
        equal(mv.status, "READY", "model version status")
        equal(mv.source, self.model_info.model_uri, "model version source (the logged model's URI)")
        rm = c.get_registered_model(self.model_name)
        equal(rm.name, self.model_name, "registered model name")
        versions = c.search_model_versions(f"name = '{self.model_name}'")
        equal([v.version for v in versions], ["1"], "search_model_versions")
        uri = c.get_model_version_download_uri(self.model_name, "1")
        lm = c.get_logged_model(self.model_info.model_id)
        equal(uri, lm.artifact_location, "download URI of version 1 (the logged model's artifacts)")
        expect_error("RESOURCE_ALREADY_EXISTS", "creating the registered model again",
                     c.create_registered_model, self.model_name)

    def alias(self):
        c = self.client
        c.set_registered_model_alias(self.model_name, "champion", "1")
        mv = c.get_model_version_by_alias(self.model_name, "champion")
        equal(str(mv.version), "1", "version of alias champion")
        equal(dict(c.get_registered_model(self.model_name).aliases), {"champion": "1"}, "registered model aliases")
        equal(list(c.get_model_version(self.model_name, "1").aliases), ["champion"], "aliases of version 1")

    def load_and_predict(self):
        import numpy as np

        loaded = mlflow.pyfunc.load_model(f"models:/{self.model_name}@champion")
        got = np.asarray(loaded.predict(self.X))
        want = self.model.predict(self.X)
        check(got.shape == want.shape and np.array_equal(got, want),
              "predictions of the loaded model differ from the in-process model's (%d of %d differ)",
              int((got.reshape(want.shape) != want).sum()) if got.size == want.size else -1, want.size)

    # -- search, delete, restore ------------------------------------------------

    def search_runs(self):
        c = self.client
        # Six sweep runs: score i/10, optimizer adam for even i, sgd for odd.
        self.sweep = []
        for i in range(6):
            r = c.create_run(self.exp_id, run_name=f"sweep-{i}", tags={"kind": "sweep"})
            c.log_batch(r.info.run_id,
                        metrics=[Metric("score", i / 10, self.t0, 0), Metric("score", i / 10 + 0.05, self.t0, 1)],
                        params=[Param("optimizer", "adam" if i % 2 == 0 else "sgd"), Param("lr", str(0.1 * (i + 1)))],
                        tags=[RunTag("index", str(i))])
            c.set_terminated(r.info.run_id, status="FAILED" if i == 5 else "FINISHED")
            self.sweep.append(r.info.run_id)

        flt = "metrics.score >= 0.2 and params.optimizer = 'adam' and tags.kind = 'sweep'"
        df = mlflow.search_runs(experiment_ids=[self.exp_id], filter_string=flt, order_by=["metrics.score DESC"])
        want = [self.sweep[4], self.sweep[2]]  # scores 0.45, 0.25 (latest values)
        equal(list(df["run_id"]), want, f"search_runs({flt!r}, order_by score DESC)")
        equal(list(df["params.optimizer"]), ["adam", "adam"], "params.optimizer column")
        equal([round(v, 6) for v in df["metrics.score"]], [0.45, 0.25], "metrics.score column")

        runs = mlflow.search_runs(experiment_ids=[self.exp_id], filter_string="attributes.status = 'FAILED'",
                                  output_format="list")
        equal([r.info.run_id for r in runs], [self.sweep[5]], "search_runs by status")
        runs = c.search_runs([self.exp_id], "attributes.run_name LIKE 'sweep-%' and metrics.score < 0.3",
                             order_by=["params.lr ASC"])
        equal([r.info.run_id for r in runs], self.sweep[:3], "search_runs by run_name LIKE, order_by params.lr")

        # Paging with max_results 2 walks every sweep run in order, once.
        seen, token = [], None
        for _ in range(10):
            page = c.search_runs([self.exp_id], "tags.kind = 'sweep'", order_by=["metrics.score ASC"],
                                 max_results=2, page_token=token)
            seen += [r.info.run_id for r in page]
            token = page.token
            if not token:
                break
        equal(seen, self.sweep, "paged search_runs ordered by score")

    def delete_restore(self):
        c = self.client
        victim = self.sweep[0]
        c.delete_run(victim)
        equal(c.get_run(victim).info.lifecycle_stage, "deleted", "lifecycle after delete_run")
        active = [r.info.run_id for r in c.search_runs([self.exp_id], "tags.kind = 'sweep'")]
        check(victim not in active, "deleted run still in an ACTIVE_ONLY search")
        deleted = [r.info.run_id for r in c.search_runs([self.exp_id], run_view_type=ViewType.DELETED_ONLY)]
        equal(deleted, [victim], "DELETED_ONLY search")
        expect_error("INVALID_PARAMETER_VALUE", "logging to a deleted run", c.log_param, victim, "late", "1")
        c.restore_run(victim)
        equal(c.get_run(victim).info.lifecycle_stage, "active", "lifecycle after restore_run")
        active = [r.info.run_id for r in c.search_runs([self.exp_id], "tags.kind = 'sweep'")]
        check(victim in active, "restored run missing from an ACTIVE_ONLY search")
        equal(c.get_run(victim).data.params.get("optimizer"), "adam", "restored run's params")

    # -- artifacts back ---------------------------------------------------------

    def download_artifacts(self):
        dst = os.path.join(self.workdir, "download")
        os.makedirs(dst)
        local = mlflow.artifacts.download_artifacts(run_id=self.run_id, artifact_path="data", dst_path=dst)
        equal(tree_digests(local), self.art_digests, "downloaded data/ (path → sha256)")
        one = mlflow.artifacts.download_artifacts(run_id=self.run_id, artifact_path="data/weights.bin",
                                                  dst_path=os.path.join(self.workdir, "one"))
        equal(file_digest(one), self.art_digests["weights.bin"], "sha256 of downloaded weights.bin")
        uri = f"runs:/{self.run_id}/notes.txt"
        equal(mlflow.artifacts.load_text(uri), "single-file artifact\n", "load_text(notes.txt)")
        equal(mlflow.artifacts.load_dict(f"runs:/{self.run_id}/config.json"),
              {"layers": [4, 8, 3], "activation": "relu"}, "load_dict(config.json)")

    def multipart_artifact(self):
        # The client uses the proxy's multipart upload above a size threshold
        # when asked to (it falls back to one PUT when a server has none).
        big = os.path.join(self.workdir, "big", "big.bin")
        write_random(big, 12 * 1024 * 1024 + 5)
        want = file_digest(big)
        env = {"MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD": "true",
               "MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE": str(5 * 1024 * 1024),
               "MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE": str(5 * 1024 * 1024)}
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            self.client.log_artifact(self.run_id, big, "multipart")
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        got = mlflow.artifacts.download_artifacts(run_id=self.run_id, artifact_path="multipart/big.bin",
                                                  dst_path=os.path.join(self.workdir, "big-back"))
        equal(file_digest(got), want, "sha256 of the multipart-uploaded file")

    # -- bad input --------------------------------------------------------------

    def bad_input(self):
        c = self.client
        before = c.get_run(self.run_id).data
        e = expect_error("INVALID_PARAMETER_VALUE", "log_param alpha with a different value",
                         c.log_param, self.run_id, "alpha", "0.75")
        check("alpha" in e.message, "the error does not name the param: %r", e.message)
        c.log_param(self.run_id, "alpha", "0.5")  # the same value again is allowed
        after = c.get_run(self.run_id).data
        equal(after.params, before.params, "params after the refused log_param")
        equal(after.metrics, before.metrics, "metrics after the refused log_param")

        # A batch over the 1000-metric limit, sent as one request (the
        # high-level client would split it), is refused whole.
        store = c._tracking_client.store
        over = [Metric("overlimit", float(i), self.t0, i) for i in range(1001)]
        expect_error("INVALID_PARAMETER_VALUE", "log_batch of 1001 metrics", store.log_batch, self.run_id, over, [], [])
        equal(c.get_metric_history(self.run_id, "overlimit"), [], "history of a metric from a refused batch")
        # A batch whose last param conflicts writes none of its metrics.
        expect_error("INVALID_PARAMETER_VALUE", "log_batch with a conflicting param", store.log_batch, self.run_id,
                     [Metric("partial", 1.0, self.t0, 0)], [Param("fresh", "1"), Param("alpha", "9")], [])
        equal(c.get_metric_history(self.run_id, "partial"), [], "history of a metric from a refused batch")
        check("fresh" not in c.get_run(self.run_id).data.params, "a param of a refused batch was written")

        expect_error("RESOURCE_DOES_NOT_EXIST", "get_run of an unknown id", c.get_run, "f" * 32)
        expect_error("RESOURCE_DOES_NOT_EXIST", "get_experiment of an unknown id", c.get_experiment, "987654321")
        expect_error("RESOURCE_DOES_NOT_EXIST", "get_registered_model of an unknown name",
                     c.get_registered_model, self.model_name + "-nope")
        expect_error("INVALID_PARAMETER_VALUE", "search_runs with a malformed filter",
                     c.search_runs, [self.exp_id], "metrics.score >>> 1")
        expect_error("INVALID_PARAMETER_VALUE", "search_runs with an unknown attribute",
                     c.search_runs, [self.exp_id], "attributes.nope = 'x'")


def full(args):
    wf = Workflow(args.prefix, args.workdir)
    steps = Steps(args.keep_going)
    for name, fn in (
        ("default experiment 0", wf.default_experiment),
        ("create experiment", wf.create_experiment),
        ("start run", wf.start_run),
        ("log params, 1000 metric steps, tags", wf.log_params_metrics_tags),
        ("log a directory of artifacts", wf.log_artifacts),
        ("train and log a scikit-learn model", wf.log_model),
        ("end run", wf.end_run),
        ("register the model", wf.register),
        ("set alias champion", wf.alias),
        ("load models:/<name>@champion and predict", wf.load_and_predict),
        ("search_runs with filter and order_by", wf.search_runs),
        ("delete and restore a run", wf.delete_restore),
        ("download artifacts", wf.download_artifacts),
        ("multipart artifact upload", wf.multipart_artifact),
        ("bad input is refused, nothing written", wf.bad_input),
    ):
        steps.run(name, fn)
    steps.finish()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("full", "concurrent", "permissions", "writer"):
        s = sub.add_parser(name)
        s.add_argument("--prefix", default=f"e2e-{uuid.uuid4().hex[:8]}")
        s.add_argument("--workdir", default=None)
        s.add_argument("--keep-going", action="store_true")
        if name in ("concurrent", "writer"):
            s.add_argument("--writers", type=int, default=2)
            s.add_argument("--points", type=int, default=3000)
            s.add_argument("--runs", type=int, default=3)
        if name == "writer":
            s.add_argument("--experiment-id", required=True)
            s.add_argument("--shared-run", required=True)
            s.add_argument("--index", type=int, required=True)
        if name == "permissions":
            s.add_argument("--user", required=True)
    args = p.parse_args()
    check_env()
    print(f"mlflow {mlflow.__version__} → {mlflow.get_tracking_uri()} ({args.cmd}, prefix {args.prefix})", flush=True)
    with tempfile.TemporaryDirectory(prefix="mlflow-e2e-") as tmp:
        args.workdir = args.workdir or tmp
        os.makedirs(args.workdir, exist_ok=True)
        if args.cmd == "full":
            full(args)
        elif args.cmd == "concurrent":
            import writers
            writers.concurrent(args)
        elif args.cmd == "writer":
            import writers
            writers.writer(args)
        else:
            import permissions
            permissions.run(args)


def check_env():
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if not uri.startswith("http"):
        sys.exit(f"MLFLOW_TRACKING_URI must name the server (http://...), not {uri!r}")


if __name__ == "__main__":
    try:
        main()
    except Failure as e:
        sys.exit(f"FAIL: {e}")
