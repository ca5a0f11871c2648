"""Builds oracle.json: a fixture and the answers of real MLflow to searches over it.

Run with the Python that has mlflow installed, from this directory:

    python oracle.py > oracle.json

It creates the fixture below in MLflow's own SQLAlchemy stores (on a
temporary SQLite database), reads every entity back, and asks MLflow each
search case; oracle.json holds the entities as MLflow stored them and, per
case, the names MLflow returned in order, or that it rejected the case.
search_oracle_test.go loads the same entities into arca's schema and must
return the same answers on SQLite and PostgreSQL. (MLflow on SQLite folds
case in LIKE; the cases avoid depending on that, and case-sensitivity is
tested separately.)
"""

import json
import math
import sys
import tempfile

import mlflow.store.model_registry.sqlalchemy_store as registry_mod
import mlflow.store.tracking.sqlalchemy_store as tracking_mod
from mlflow.entities import (
    Dataset,
    DatasetInput,
    ExperimentTag,
    InputTag,
    Metric,
    Param,
    RunStatus,
    RunTag,
    ViewType,
)
from mlflow.entities.model_registry import ModelVersionTag, RegisteredModelTag
from mlflow.exceptions import MlflowException

# Deterministic clocks: every call returns the next millisecond.
clock = [1_700_000_000_000]


def tick():
    clock[0] += 1000
    return clock[0]


tracking_mod.get_current_time_millis = tick
registry_mod.get_current_time_millis = tick

tmp = tempfile.mkdtemp()
uri = f"sqlite:///{tmp}/mlflow.db"
tracking = tracking_mod.SqlAlchemyStore(uri, f"{tmp}/artifacts")
registry = registry_mod.SqlAlchemyStore(uri)

NAN = float("nan")
INF = float("inf")

# name, experiment, start, end, status, user, metrics [(key, value, step, ts)], params, tags, datasets, deleted
RUNS = [
    ("alpha", "exp-a", 1000, 2000, "FINISHED", "alice",
     [("acc", 0.5, 0, 1), ("acc", 0.9, 1, 2), ("loss", 0.3, 0, 1)],
     {"lr": "0.01", "model": "CNN"}, {"env": "prod", "team": "vision"},
     [("train-ds", "d1", "training")], False),
    ("beta", "exp-a", 1000, None, "RUNNING", "bob",
     [("acc", 0.7, 0, 1)],
     {"lr": "0.1", "model": "cnn"}, {"env": "dev"}, [], False),
    ("gamma", "exp-a", 3000, 3500, "FAILED", "alice",
     [("acc", NAN, 0, 1), ("loss", 0.1, 0, 1)],
     {"lr": "0.01"}, {"env": "staging"}, [("train-ds", "d1", "training")], False),
    ("delta", "exp-a", 4000, 4100, "FINISHED", "carol",
     [], {"model": "RNN"}, {"team": "vision", "note": "50 percent"}, [], False),
    ("epsilon", "exp-a", 5000, 5200, "KILLED", "bob",
     [("acc", INF, 0, 1), ("loss", -1.5, 3, 1)],
     {"lr": "1e-3"}, {}, [], False),
    ("zeta", "exp-a", 6000, 6600, "FINISHED", "dave",
     [("acc", 0.9, 0, 5), ("loss", 0.2, 0, 1), ("x-y", 3, 0, 1)],
     {"lr": "0.001", "cat dog": "pets"}, {"mlflow.user": "zed", "with space": "x y"},
     [("eval-ds", "d2", "eval")], False),
    ("eta", "exp-a", 7000, 7100, "FINISHED", "alice",
     [("acc", 0.95, 0, 1)], {"lr": "0.01"}, {"env": "prod"}, [], True),
    ("theta", "exp-b", 8000, 8100, "FINISHED", "erin",
     [("acc", 0.99, 0, 1)], {"lr": "0.01"}, {"env": "prod"},
     [("train-ds", "d9", "training")], False),
    ("iota", "exp-a", 2000, 2500, "FINISHED", "frank",
     [("acc", -1, 0, 1), ("acc", 0.2, 0, 0)], {"model": "MLP"}, {"env": "prod"}, [], False),
]

# Each case: entity, filter, order_by, extra. Names in {braces} are replaced by the
# id of the run or model of that name (in the Go test as well).
RUN_CASES = [
    ("", []),
    ("metrics.acc > 0.6", []),
    ("metrics.acc > 0.6", ["metrics.acc DESC"]),
    ("metrics.acc >= 0.9", ["metrics.acc ASC"]),
    ("metrics.acc = 0.9", []),
    ("metrics.acc != 0.9", []),
    ("metrics.acc != 0.9", ["metrics.acc DESC"]),
    ("metrics.acc < 1", ["metrics.acc"]),
    ("metrics.acc > -5", ["metrics.acc DESC"]),
    ("metrics.acc <= 0", []),
    ("metrics.loss < 0", []),
    ('metrics."x-y" = 3', []),
    ("metrics.`x-y` >= 3.0", []),
    ("metrics.acc > 1e300", []),
    ("", ["metrics.acc DESC"]),
    ("", ["metrics.acc ASC"]),
    ("", ["metrics.loss DESC", "metrics.acc"]),
    ("metrics.acc > 0 AND metrics.loss > 0", ["metrics.loss"]),
    ("params.lr = '0.01'", []),
    ('params.lr = "0.01"', []),
    ("params.lr != '0.01'", []),
    ("params.model LIKE 'R%'", []),
    ("params.model ILIKE '%nn'", ["params.model DESC"]),
    ("params.model ILIKE 'C_N'", []),
    ("params.model IS NULL", []),
    ("params.model IS NOT NULL", ["params.model"]),
    ("params.`cat dog` = 'pets'", []),
    ("params.lr = '0.01' AND metrics.acc > 0", []),
    ("param.lr = '0.01' and tags.env = 'prod'", []),
    ("tags.env = 'prod'", []),
    ("tags.env != 'prod'", []),
    ("tags.env ILIKE 'PROD'", []),
    ("tags.env LIKE '%a%'", []),
    ("tags.env IS NULL", []),
    ("tags.env IS NOT NULL", ["tags.env DESC"]),
    ("tags.mlflow.user = 'zed'", []),
    ('tags."mlflow.user" = \'zed\'', []),
    ("tags.`with space` = 'x y'", []),
    ("tags.team = 'vision' AND tags.note LIKE '50%'", []),
    ("attributes.status = 'FINISHED'", []),
    ("status != 'RUNNING'", ["status"]),
    ("attribute.status = 'KILLED'", []),
    ("run.status ILIKE 'f%'", []),
    ("attr.user_id = 'alice'", []),
    ("attributes.run_name = 'alpha'", []),
    ("run_name LIKE '%ta'", ["run_name DESC"]),
    ("`Run name` = 'beta'", []),
    ("attributes.run_id = '{alpha}'", []),
    ("attributes.run_id IN ('{alpha}', '{zeta}', '{theta}')", []),
    ("attributes.run_id NOT IN ('{alpha}', '{zeta}')", []),
    ("attributes.start_time > 1000", []),
    ("attributes.start_time >= 1000 AND attributes.start_time < 4000", ["start_time ASC"]),
    ("created >= 3000", []),
    ("Created = 1000", []),
    ("attributes.start_time > 1000.5", []),
    ("attributes.end_time < 3000", []),
    ("attributes.end_time != 2000", []),
    ("attributes.artifact_uri LIKE '%{gamma}%'", []),
    ("datasets.name = 'train-ds'", []),
    ("datasets.name != 'train-ds'", []),
    ("datasets.context = 'eval'", []),
    ("datasets.digest IN ('d1', 'd2', 'd9')", []),
    ("datasets.digest NOT IN ('d1')", []),
    ("dataset.name LIKE '%-ds'", []),
    ("", ["start_time ASC"]),
    ("", ["attributes.end_time DESC"]),
    ("", ["end_time"]),
    ("", ["params.lr DESC"]),
    ("", ["tags.env"]),
    ("", ["run_name"]),
    ("", ["attributes.run_id"]),
    ("", ["params.lr", "metrics.acc DESC"]),
    ("", ["user_id DESC", "created"]),
    # Rejected.
    ("metrics.acc LIKE '1'", []),
    ("metrics.acc = '1'", []),
    ("metrics.acc == 1", []),
    ("metrics.acc IS NULL", []),
    ("params.lr = 0.01", []),
    ("params.lr > '1'", []),
    ("params.lr IN ('1')", []),
    ("attributes.status IN ('FINISHED')", []),
    ("attributes.start_time = '1'", []),
    ("attributes.start_time LIKE 1", []),
    ("attributes.experiment_id = '1'", []),
    ("attributes.end_time IS NULL", []),
    ("foo.bar = '1'", []),
    ("datasets.foo = 'x'", []),
    ("metrics.acc > 1 OR metrics.acc < 0", []),
    ("(metrics.acc > 1)", []),
    ("params.lr = abc", []),
    ("metrics.acc > 1;", []),
    ("", ["metrics.acc DESC NULLS LAST"]),
    ("", ["metrics.acc UP"]),
    ("", ["datasets.name"]),
    ("", ["attributes.experiment_id"]),
    ("", ["metrics.acc", "metrics.acc DESC"]),
    ("", ["created", "start_time"]),
]
RUN_VIEW_CASES = [
    ("", [], "DELETED_ONLY", ["exp-a"]),
    ("", [], "ALL", ["exp-a"]),
    ("", ["metrics.acc DESC"], "ACTIVE_ONLY", ["exp-a", "exp-b"]),
    ("params.lr = '0.01'", [], "ALL", ["exp-a", "exp-b"]),
    ("", [], "ACTIVE_ONLY", []),
]

EXPERIMENTS = [
    ("exp-a", {"group": "x"}, False),
    ("exp-b", {"group": "y", "owner": "ann"}, False),
    ("Exp-C", {}, False),
    ("old-exp", {"group": "x"}, True),
]
EXPERIMENT_CASES = [
    ("", [], "ACTIVE_ONLY"),
    ("", [], "ALL"),
    ("", [], "DELETED_ONLY"),
    ("name = 'exp-a'", [], "ACTIVE_ONLY"),
    ("attribute.name != 'exp-a'", [], "ACTIVE_ONLY"),
    ("name LIKE 'exp-%'", [], "ACTIVE_ONLY"),
    ("name ILIKE 'exp-%'", ["name"], "ACTIVE_ONLY"),
    ("tags.group = 'x'", [], "ALL"),
    ("tags.group != 'x'", [], "ALL"),
    ("tag.group IS NULL", [], "ACTIVE_ONLY"),
    ("tags.owner IS NOT NULL", [], "ACTIVE_ONLY"),
    ("tags.group ILIKE 'X'", [], "ACTIVE_ONLY"),
    ("creation_time > {exp-a:creation_time}", [], "ACTIVE_ONLY"),
    ("creation_time >= {exp-a:creation_time} AND last_update_time < {Exp-C:creation_time}", [], "ALL"),
    ("experiment_id = '{exp-b}'", [], "ACTIVE_ONLY"),
    ("experiment_id IN ('{exp-a}', '{exp-b}', '0')", [], "ACTIVE_ONLY"),
    ("experiment_id NOT IN ('{exp-a}')", [], "ACTIVE_ONLY"),
    ("experiment_id != '0'", [], "ALL"),
    ("", ["name DESC"], "ALL"),
    ("", ["name"], "ALL"),
    ("", ["last_update_time DESC"], "ALL"),
    ("", ["experiment_id"], "ACTIVE_ONLY"),
    ("", ["attribute.creation_time"], "ACTIVE_ONLY"),
    # Rejected.
    ("attributes.name = 'x'", [], "ACTIVE_ONLY"),
    ("metrics.x > 1", [], "ACTIVE_ONLY"),
    ("name IN ('a')", [], "ACTIVE_ONLY"),
    ("name IS NULL", [], "ACTIVE_ONLY"),
    ("creation_time > 1.5", [], "ACTIVE_ONLY"),
    ("creation_time > '1'", [], "ACTIVE_ONLY"),
    ("experiment_id = 'abc'", [], "ACTIVE_ONLY"),
    ("experiment_id > '1'", [], "ACTIVE_ONLY"),
    ("lifecycle_stage = 'active'", [], "ACTIVE_ONLY"),
    ("", ["tags.group"], "ACTIVE_ONLY"),
    ("", ["lifecycle_stage"], "ACTIVE_ONLY"),
]

# name, tags, versions [(source, run name, tags, deleted)]
MODELS = [
    ("m-alpha", {"team": "vision"}, [
        ("s3://bucket/alpha/1", "alpha", {"stage": "prod"}, False),
        ("s3://bucket/alpha/2", "zeta", {"stage": "dev"}, False),
        ("s3://bucket/alpha/3", "alpha", {}, True),
        ("s3://bucket/alpha/4", "gamma", {"stage": "prod", "q": "1"}, False),
    ]),
    ("m-beta", {"team": "nlp", "tier": "gold"}, [
        ("mlflow-artifacts:/beta/1", "beta", {}, False),
        ("mlflow-artifacts:/beta/2", "alpha", {"stage": "prod"}, False),
    ]),
    ("M-Gamma", {}, [
        ("runs:/x/model", None, {}, False),
    ]),
    ("p-one", {"mlflow.prompt.is_prompt": "true", "team": "vision"}, [
        ("prompt:/one/1", None, {"mlflow.prompt.is_prompt": "true"}, False),
    ]),
]
MODEL_CASES = [
    ("", []),
    ("name = 'm-alpha'", []),
    ("name != 'm-alpha'", []),
    ("name LIKE 'm-%'", []),
    ("name ILIKE 'm-%'", ["name DESC"]),
    ("name IN ('m-alpha', 'p-one', 'M-Gamma')", []),
    ("name NOT IN ('m-alpha')", []),
    ("tags.team = 'vision'", []),
    ("tag.team != 'vision'", []),
    ("tags.tier LIKE 'g%'", []),
    ("tags.team ILIKE 'VISION'", []),
    ("tags.`mlflow.prompt.is_prompt` = 'true'", []),
    ("tags.`mlflow.prompt.is_prompt` = 'false'", []),
    ("tags.`mlflow.prompt.is_prompt` != 'false' AND tags.team = 'vision'", []),
    ("attribute.name = 'm-beta'", []),
    ("", ["name DESC"]),
    ("", ["timestamp DESC"]),
    ("", ["last_updated_timestamp"]),
    ("", ["timestamp DESC", "name"]),
    # Rejected.
    ("name > 'a'", []),
    ("creation_timestamp > 1", []),
    ("tags.team IS NULL", []),
    ("tags.team IN ('a')", []),
    ("metrics.x > 1", []),
    ("name = 1", []),
    ("", ["tags.team"]),
    ("", ["timestamp", "last_updated_timestamp"]),
    ("", ["owner"]),
]
VERSION_CASES = [
    ("", []),
    ("name = 'm-alpha'", []),
    ("name = 'm-alpha'", ["version_number ASC"]),
    ("name IN ('m-alpha', 'm-beta')", ["name", "version_number"]),
    ("name LIKE 'm-%'", []),
    ("name ILIKE 'm-%'", []),
    ("version_number >= 2", []),
    ("version_number = '2'", []),
    ("name = 'm-alpha' AND version_number < 4", []),
    ("run_id = '{alpha}'", []),
    ("run_id IN ('{alpha}', '{zeta}')", []),
    ("run_id != '{alpha}'", []),
    ("source_path LIKE 's3://%'", []),
    ("source_path = 'runs:/x/model'", []),
    ("tags.stage = 'prod'", []),
    ("tags.stage = 'prod' AND tags.q = '1'", []),
    ("tags.stage ILIKE 'PR%'", []),
    ("tags.`mlflow.prompt.is_prompt` = 'true'", []),
    ("", ["creation_timestamp"]),
    ("", ["name DESC"]),
    ("", ["version_number"]),
    ("", ["attribute.last_updated_timestamp"]),
    # Rejected.
    ("version_number = 1.5", []),
    ("version_number = 'x'", []),
    ("version_number LIKE '1'", []),
    ("source_path IN ('x')", []),
    ("run_id = 1", []),
    ("tags.stage IS NULL", []),
    ("creation_timestamp > 1", []),
    ("metrics.x > 1", []),
    ("", ["run_id"]),
    ("", ["tags.stage"]),
    ("", ["name", "name DESC"]),
]


def run_tags(tags, name):
    return [RunTag(k, v) for k, v in tags.items()] + [RunTag("mlflow.runName", name)]


def main():
    exps = {}
    for name, tags, deleted in EXPERIMENTS:
        exps[name] = tracking.create_experiment(name, tags=[ExperimentTag(k, v) for k, v in tags.items()])
    for name, _, deleted in EXPERIMENTS:
        if deleted:
            tracking.delete_experiment(exps[name])

    runs = {}
    for name, exp, start, end, status, user, metrics, params, tags, datasets, deleted in RUNS:
        run = tracking.create_run(exps[exp], user, start, [], name)
        rid = run.info.run_id
        runs[name] = rid
        tracking.log_batch(
            rid,
            [Metric(k, v, ts, step) for k, v, step, ts in metrics],
            [Param(k, v) for k, v in params.items()],
            run_tags(tags, name),
        )
        if datasets:
            tracking.log_inputs(rid, [
                DatasetInput(Dataset(n, d, "local", "src"), [InputTag("mlflow.data.context", c)])
                for n, d, c in datasets
            ])
        tracking.update_run_info(rid, RunStatus.from_string(status), end, name)
        if deleted:
            tracking.delete_run(rid)

    for name, tags, versions in MODELS:
        registry.create_registered_model(name, [RegisteredModelTag(k, v) for k, v in tags.items()])
        for source, run, vtags, deleted in versions:
            mv = registry.create_model_version(
                name, source, runs.get(run), [ModelVersionTag(k, v) for k, v in vtags.items()]
            )
            if deleted:
                registry.delete_model_version(name, mv.version)

    out = {"experiments": [], "runs": [], "models": [], "cases": []}
    ids = {name: runs[name] for name in runs}
    for e in tracking.search_experiments(view_type=ViewType.ALL, max_results=1000):
        out["experiments"].append({
            "id": int(e.experiment_id), "name": e.name, "artifact_location": e.artifact_location,
            "lifecycle_stage": e.lifecycle_stage, "creation_time": e.creation_time,
            "last_update_time": e.last_update_time, "tags": e.tags,
        })
        ids[e.name] = e.experiment_id
        ids[e.name + ":creation_time"] = str(e.creation_time)
    for name, rid in runs.items():
        r = tracking.get_run(rid)
        hist = {}
        for key in r.data.metrics:
            hist[key] = [
                {"value": enc(m.value), "step": m.step, "timestamp": m.timestamp}
                for m in tracking.get_metric_history(rid, key)
            ]
        out["runs"].append({
            "run_uuid": rid, "name": r.info.run_name, "experiment_id": int(r.info.experiment_id),
            "user_id": r.info.user_id, "status": r.info.status, "start_time": r.info.start_time,
            "end_time": r.info.end_time, "lifecycle_stage": r.info.lifecycle_stage,
            "artifact_uri": r.info.artifact_uri, "params": r.data.params, "tags": r.data.tags,
            "metrics": hist,
            "inputs": [
                {"name": d.dataset.name, "digest": d.dataset.digest,
                 "context": next((t.value for t in d.tags if t.key == "mlflow.data.context"), "")}
                for d in r.inputs.dataset_inputs
            ],
        })
    from mlflow.store.model_registry.dbmodels.models import SqlModelVersion, SqlRegisteredModel
    with registry.ManagedSessionMaker() as session:
        for rm in session.query(SqlRegisteredModel).all():
            out["models"].append({
                "name": rm.name, "creation_timestamp": rm.creation_time,
                "last_updated_timestamp": rm.last_updated_time,
                "tags": {t.key: t.value for t in rm.registered_model_tags},
                "versions": [
                    {"version": v.version, "source": v.source, "run_id": v.run_id or "",
                     "creation_timestamp": v.creation_time, "last_updated_timestamp": v.last_updated_time,
                     "deleted": v.current_stage == "Deleted_Internal",
                     "tags": {t.key: t.value for t in v.model_version_tags}}
                    for v in session.query(SqlModelVersion).filter(SqlModelVersion.name == rm.name).all()
                ],
            })

    def subst(s):
        for k, v in sorted(ids.items(), key=lambda kv: -len(kv[0])):
            s = s.replace("{" + k + "}", str(v))
        return s

    def record(entity, filt, order, view, exps_, fn, name_of):
        case = {"entity": entity, "filter": filt, "order_by": order, "view_type": view, "experiments": exps_}
        try:
            case["result"] = [name_of(x) for x in fn(subst(filt), [subst(o) for o in order])]
        except MlflowException as e:
            case["error"] = e.message[:300]
        except Exception as e:  # MLflow fails with a server error; arca must reject it
            case["error"] = f"{type(e).__name__}: {e}"[:300]
        out["cases"].append(case)

    name_by_run = {v: k for k, v in runs.items()}
    for filt, order in RUN_CASES:
        record("runs", filt, order, "ACTIVE_ONLY", ["exp-a"],
               lambda f, o: tracking.search_runs([exps["exp-a"]], f, ViewType.ACTIVE_ONLY, 1000, o),
               lambda r: name_by_run[r.info.run_id])
    for filt, order, view, ex in RUN_VIEW_CASES:
        record("runs", filt, order, view, ex,
               lambda f, o: tracking.search_runs([exps[x] for x in ex], f, ViewType.from_string(view.lower()), 1000, o),
               lambda r: name_by_run[r.info.run_id])
    for filt, order, view in EXPERIMENT_CASES:
        record("experiments", filt, order, view, [],
               lambda f, o: tracking.search_experiments(ViewType.from_string(view.lower()), 1000, f, o),
               lambda e: e.name)
    for filt, order in MODEL_CASES:
        record("registered_models", filt, order, "", [],
               lambda f, o: registry.search_registered_models(f, 1000, o),
               lambda m: m.name)
    for filt, order in VERSION_CASES:
        record("model_versions", filt, order, "", [],
               lambda f, o: registry.search_model_versions(f, 1000, o),
               lambda v: f"{v.name}/{v.version}")
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


def enc(v):
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return v


if __name__ == "__main__":
    main()
