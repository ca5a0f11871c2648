"""Train a small scikit-learn model and track it in arca's MLflow server.

    export MLFLOW_TRACKING_URI=http://localhost:8080/mlflow
    export MLFLOW_TRACKING_USERNAME=admin MLFLOW_TRACKING_PASSWORD=...
    python examples/mlflow/train.py

Logs parameters, per-epoch metrics and the model, and registers the model
as "iris-classifier" (a new version on every run).
"""

import mlflow
import sklearn
from sklearn.datasets import load_iris
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split

params = {"alpha": 0.001, "epochs": 10, "random_state": 7}

X, y = load_iris(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=params["random_state"])

mlflow.set_experiment("arca-example")
with mlflow.start_run() as run:
    mlflow.log_params(params)
    model = SGDClassifier(loss="log_loss", alpha=params["alpha"], random_state=params["random_state"])
    for epoch in range(params["epochs"]):
        model.partial_fit(X_train, y_train, classes=[0, 1, 2])
        mlflow.log_metric("train_loss", log_loss(y_train, model.predict_proba(X_train)), step=epoch)
        mlflow.log_metric("test_accuracy", accuracy_score(y_test, model.predict(X_test)), step=epoch)
    info = mlflow.sklearn.log_model(
        model,
        name="model",
        input_example=X_test[:3],
        # Naming the requirements spares the client inferring them in a subprocess.
        pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
        registered_model_name="iris-classifier",
    )
    print(f"run {run.info.run_id}: test accuracy {accuracy_score(y_test, model.predict(X_test)):.3f}")
    print(f"registered iris-classifier version {info.registered_model_version}")
