"""The training script the CI examples run: logs one MLflow run to arca.

MLFLOW_TRACKING_URI, the credentials and MLFLOW_EXPERIMENT_NAME come from
the environment (the CI job sets them)."""
import mlflow

with mlflow.start_run() as run:
    mlflow.log_param("learning_rate", 0.01)
    for step, loss in enumerate([0.9, 0.5, 0.3]):
        mlflow.log_metric("loss", loss, step=step)
    mlflow.log_text("trained by CI\n", "notes/ci.txt")
print("logged run", run.info.run_id)
