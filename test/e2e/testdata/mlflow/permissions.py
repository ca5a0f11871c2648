"""Per-experiment and per-registered-model permissions, set with the client
that MLflow's authentication app ships (mlflow.server.get_app_client
("basic-auth")), checked with the tracking client.

The script runs as a non-admin user (--user, credentials in the MLFLOW_
TRACKING_* variables) whose default permission is EDIT (arca: developer
on the mlflow repository; MLflow: default_permission = EDIT), and acts as
an administrator where needed with E2E_ADMIN_USERNAME and
E2E_ADMIN_PASSWORD:

  - on the admin's experiment and model, the default EDIT lets the user
    read and log but not delete (PERMISSION_DENIED);
  - MANAGE granted (grant_user_permission, the API of MLflow 3.17's
    client; a grant adds to the default, it cannot take it away) on the experiment and the model allows deleting them;
  - what the user creates, the user manages.
"""

import contextlib
import os

from mlflow import MlflowClient
from mlflow.server import get_app_client

from mlcheck import Steps, equal, expect_error

CRED_VARS = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")


@contextlib.contextmanager
def as_admin():
    """Sends the requests made inside as the administrator (the client
    reads the credential variables on every request)."""
    saved = {k: os.environ.get(k) for k in CRED_VARS}
    for k in CRED_VARS:
        os.environ.pop(k, None)
    os.environ["MLFLOW_TRACKING_USERNAME"] = os.environ["E2E_ADMIN_USERNAME"]
    os.environ["MLFLOW_TRACKING_PASSWORD"] = os.environ["E2E_ADMIN_PASSWORD"]
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run(args):
    for k in ("E2E_ADMIN_USERNAME", "E2E_ADMIN_PASSWORD"):
        if not os.environ.get(k):
            raise SystemExit(f"permissions: {k} must name the administrator")
    c = MlflowClient()
    auth = get_app_client("basic-auth", tracking_uri=os.environ["MLFLOW_TRACKING_URI"])
    user = args.user
    steps = Steps(args.keep_going)
    st = {}

    def setup():
        with as_admin():
            st["exp"] = c.create_experiment(f"{args.prefix}-admins")
            st["model"] = f"{args.prefix}-admins-model"
            c.create_registered_model(st["model"])

    def default_edit():
        equal(c.get_experiment(st["exp"]).name, f"{args.prefix}-admins", "the user reads the admin's experiment")
        r = c.create_run(st["exp"], run_name="by-user")
        c.log_metric(r.info.run_id, "m", 1.0)
        c.update_registered_model(st["model"], description="edited by the user")
        equal(c.get_registered_model(st["model"]).description, "edited by the user", "model description")
        expect_error("PERMISSION_DENIED", "deleting the admin's experiment with EDIT", c.delete_experiment, st["exp"])
        expect_error("PERMISSION_DENIED", "deleting the admin's model with EDIT", c.delete_registered_model, st["model"])

    def grant_manage():
        with as_admin():
            equal(auth.get_user_permission(user, "experiment", st["exp"]).permission, "EDIT",
                  "the user's permission on the experiment before the grant (the default)")
            auth.grant_user_permission(user, "experiment", st["exp"], "MANAGE")
            auth.grant_user_permission(user, "registered_model", st["model"], "MANAGE")
            equal(auth.get_user_permission(user, "experiment", st["exp"]).permission, "MANAGE",
                  "the user's permission on the experiment after the grant")
            equal(auth.get_user_permission(user, "registered_model", st["model"]).permission, "MANAGE",
                  "the user's permission on the model after the grant")
        c.delete_registered_model(st["model"])
        expect_error("RESOURCE_DOES_NOT_EXIST", "the deleted model", c.get_registered_model, st["model"])
        c.delete_experiment(st["exp"])
        equal(c.get_experiment(st["exp"]).lifecycle_stage, "deleted", "experiment after delete by the user")

    def creator_manages():
        mine = c.create_experiment(f"{args.prefix}-mine")
        c.create_registered_model(f"{args.prefix}-mine-model")
        c.delete_registered_model(f"{args.prefix}-mine-model")
        c.delete_experiment(mine)
        equal(c.get_experiment(mine).lifecycle_stage, "deleted", "own experiment after delete")

    steps.run("admin creates an experiment and a model", setup)
    steps.run("default EDIT: read and log, not delete", default_edit)
    steps.run("MANAGE granted: the user deletes the model and experiment", grant_manage)
    steps.run("the creator manages what it creates", creator_manages)
    steps.finish()
