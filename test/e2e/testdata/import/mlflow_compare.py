"""Compares two MLflow tracking servers with the mlflow client: the source
(SRC_URI) and arca after the import (DST_URI, with the credentials in
MLFLOW_TRACKING_USERNAME/PASSWORD). Every experiment, run (info, params,
tags, inputs, each metric's whole history point for point, artifact
bytes), logged model, registered model and version, and the files an
alias resolves to must be the same. Exits non-zero naming the first
difference."""

import filecmp
import math
import os
import sys
import tempfile

import mlflow
from mlflow.entities import ViewType
from mlflow.tracking import MlflowClient

SRC = os.environ["SRC_URI"]
DST = os.environ["DST_URI"]


def fail(msg):
    print("DIFF " + msg)
    sys.exit(1)


def same(what, a, b):
    if a != b:
        fail(f"{what}: source {a!r}, arca {b!r}")


def client(uri):
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def points(hist):
    out = []
    for m in hist:
        v = "nan" if isinstance(m.value, float) and math.isnan(m.value) else m.value
        out.append((m.key, v, m.step, m.timestamp))
    return sorted(out, key=lambda p: (p[2], p[3], str(p[1])))


def files(c, run_id, path=None):
    out = []
    for f in c.list_artifacts(run_id, path):
        if f.is_dir:
            out += files(c, run_id, f.path)
        else:
            out.append((f.path, f.file_size))
    return sorted(out)


def download(uri_root, artifact_uri, dst):
    mlflow.set_tracking_uri(uri_root)
    mlflow.set_registry_uri(uri_root)
    return mlflow.artifacts.download_artifacts(artifact_uri=artifact_uri, dst_path=dst)


def same_tree(what, a, b):
    cmp = filecmp.dircmp(a, b)
    if cmp.left_only or cmp.right_only or cmp.diff_files or cmp.funny_files:
        fail(f"{what}: trees differ: only source {cmp.left_only}, only arca {cmp.right_only}, differ {cmp.diff_files}")
    _, mismatch, errors = filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)
    if mismatch or errors:
        fail(f"{what}: files differ: {mismatch} {errors}")
    for d in cmp.common_dirs:
        same_tree(what, os.path.join(a, d), os.path.join(b, d))


def main():
    s, d = client(SRC), client(DST)
    n_runs = n_points = n_files = 0
    exps = s.search_experiments(view_type=ViewType.ALL)
    for e in exps:
        de = d.get_experiment_by_name(e.name)
        if de is None:
            fail(f"experiment {e.name} missing")
        same(f"experiment {e.name} id", e.experiment_id, de.experiment_id)
        same(f"experiment {e.name} lifecycle", e.lifecycle_stage, de.lifecycle_stage)
        same(f"experiment {e.name} tags", e.tags, de.tags)
        if e.experiment_id != "0":  # arca has its own Default experiment
            same(f"experiment {e.name} creation_time", e.creation_time, de.creation_time)
        for r in s.search_runs([e.experiment_id], run_view_type=ViewType.ALL, max_results=50000):
            rid = r.info.run_id
            dr = d.get_run(rid)
            for f in ("run_name", "status", "start_time", "end_time", "lifecycle_stage", "user_id", "experiment_id"):
                same(f"run {rid} {f}", getattr(r.info, f), getattr(dr.info, f))
            same(f"run {rid} params", r.data.params, dr.data.params)
            same(f"run {rid} tags", r.data.tags, dr.data.tags)
            same(f"run {rid} latest metrics", {k: str(v) for k, v in r.data.metrics.items()},
                 {k: str(v) for k, v in dr.data.metrics.items()})
            sin = sorted((i.dataset.name, i.dataset.digest, i.dataset.source, i.dataset.schema,
                          tuple(sorted((t.key, t.value) for t in i.tags))) for i in r.inputs.dataset_inputs)
            din = sorted((i.dataset.name, i.dataset.digest, i.dataset.source, i.dataset.schema,
                          tuple(sorted((t.key, t.value) for t in i.tags))) for i in dr.inputs.dataset_inputs)
            same(f"run {rid} dataset inputs", sin, din)
            for key in r.data.metrics:
                a = points(s.get_metric_history(rid, key))
                b = points(d.get_metric_history(rid, key))
                same(f"run {rid} metric {key} points", len(a), len(b))
                same(f"run {rid} metric {key} history", a, b)
                n_points += len(a)
            fa, fb = files(s, rid), files(d, rid)
            same(f"run {rid} artifact listing", fa, fb)
            if fa:
                with tempfile.TemporaryDirectory() as ta, tempfile.TemporaryDirectory() as tb:
                    mlflow.set_tracking_uri(SRC)
                    pa = mlflow.artifacts.download_artifacts(run_id=rid, dst_path=ta)
                    mlflow.set_tracking_uri(DST)
                    pb = mlflow.artifacts.download_artifacts(run_id=rid, dst_path=tb)
                    same_tree(f"run {rid} artifacts", pa, pb)
                n_files += len(fa)
            n_runs += 1
        sm = s.search_logged_models(experiment_ids=[e.experiment_id])
        dm = d.search_logged_models(experiment_ids=[de.experiment_id])
        same(f"experiment {e.name} logged models", sorted(m.model_id for m in sm), sorted(m.model_id for m in dm))
        for m in sm:
            dmm = d.get_logged_model(m.model_id)
            for f in ("name", "status", "source_run_id", "creation_timestamp", "model_type"):
                same(f"logged model {m.model_id} {f}", getattr(m, f), getattr(dmm, f))
            same(f"logged model {m.model_id} params", m.params, dmm.params)
            same(f"logged model {m.model_id} tags",
                 {k: v for k, v in m.tags.items() if k != "mlflow.modelVersions"},
                 {k: v for k, v in dmm.tags.items() if k != "mlflow.modelVersions"})
    for rm in s.search_registered_models():
        drm = d.get_registered_model(rm.name)
        same(f"model {rm.name} tags", rm.tags, drm.tags)
        same(f"model {rm.name} aliases", rm.aliases, drm.aliases)
        same(f"model {rm.name} description", rm.description, drm.description)
        same(f"model {rm.name} creation", rm.creation_timestamp, drm.creation_timestamp)
        for v in s.search_model_versions(f"name='{rm.name}'"):
            dv = d.get_model_version(rm.name, v.version)
            for f in ("source", "run_id", "current_stage", "description", "status", "creation_timestamp", "tags", "model_id"):
                same(f"version {rm.name}/{v.version} {f}", getattr(v, f), getattr(dv, f))
        for alias in rm.aliases:
            sv = s.get_model_version_by_alias(rm.name, alias)
            dv = d.get_model_version_by_alias(rm.name, alias)
            same(f"alias {alias} version", sv.version, dv.version)
            with tempfile.TemporaryDirectory() as ta, tempfile.TemporaryDirectory() as tb:
                pa = download(SRC, f"models:/{rm.name}@{alias}", ta)
                pb = download(DST, f"models:/{rm.name}@{alias}", tb)
                same_tree(f"models:/{rm.name}@{alias}", pa, pb)
                n = sum(len(fs) for _, _, fs in os.walk(pa))
                if n == 0:
                    fail(f"models:/{rm.name}@{alias} downloaded no files")
                print(f"RESULT alias_{alias}_files {n}")
    print(f"RESULT compared_runs {n_runs}")
    print(f"RESULT compared_points {n_points}")
    print(f"RESULT compared_files {n_files}")


if __name__ == "__main__":
    main()
