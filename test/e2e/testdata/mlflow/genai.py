"""MLflow 3's GenAI surface with the real mlflow client: the prompt
registry, trace assessments (feedback and expectations) and evaluation
datasets. Every step checks what the server answered; the script prints
one line per step and exits non-zero at the first failure.

Usage: genai.py --prefix NAME (against MLFLOW_TRACKING_URI). The same
script runs against arca and against a real `mlflow server`; the steps
and their outcomes are the same on both.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import AssessmentSource, Feedback  # noqa: E402
from mlcheck import Steps, check, equal, expect_error  # noqa: E402


def prompts(steps, prefix):
    name = f"{prefix}-greeting"
    client = MlflowClient()

    def register():
        v1 = mlflow.genai.register_prompt(name=name, template="Hello {{name}}!", commit_message="first",
                                          tags={"team": "genai"})
        equal(v1.version, 1, "first prompt version")
        v2 = mlflow.genai.register_prompt(name=name, template="Hi {{name}}, welcome to {{place}}.")
        equal(v2.version, 2, "second prompt version")
        chat = mlflow.genai.register_prompt(name=f"{name}-chat",
                                            template=[{"role": "user", "content": "Summarize {{text}}"}])
        equal(chat.template, [{"role": "user", "content": "Summarize {{text}}"}], "chat template")

    def load_by_version():
        p = mlflow.genai.load_prompt(f"prompts:/{name}/1")
        equal(p.template, "Hello {{name}}!", "template of version 1")
        equal(p.format(name="Ada"), "Hello Ada!", "formatted version 1")
        equal(mlflow.genai.load_prompt(f"prompts:/{name}/2").variables, {"name", "place"}, "variables of version 2")

    def alias():
        mlflow.genai.set_prompt_alias(name, alias="production", version=1)
        equal(mlflow.genai.load_prompt(f"prompts:/{name}@production").version, 1, "version by alias")
        mlflow.genai.set_prompt_alias(name, alias="production", version=2)
        p = mlflow.genai.load_prompt(f"prompts:/{name}@production")
        equal(p.format(name="Ada", place="arca"), "Hi Ada, welcome to arca.", "formatted by alias")
        equal(mlflow.genai.load_prompt(f"prompts:/{name}@latest").version, 2, "latest version")
        mlflow.genai.delete_prompt_alias(name, "production")
        expect_error("INVALID_PARAMETER_VALUE", "deleted alias",
                     lambda: MlflowClient().get_model_version_by_alias(name, "production"))

    def search_and_tags():
        found = {p.name for p in mlflow.genai.search_prompts(filter_string=f"name LIKE '{prefix}-%'")}
        equal(found, {name, f"{name}-chat"}, "prompts found")
        models = {m.name for m in client.search_registered_models(filter_string=f"name LIKE '{prefix}-%'")}
        equal(models, set(), "registered models (prompts are left out)")
        client.set_prompt_tag(name, "owner", "ada")
        tags = client.get_prompt(name).tags
        equal((tags.get("team"), tags.get("owner")), ("genai", "ada"), "prompt tags")
        versions = client.search_prompt_versions(name)
        equal(sorted(v.version for v in versions), [1, 2], "prompt versions")

    def delete():
        client.delete_prompt_version(f"{name}-chat", 1)
        client.delete_prompt(f"{name}-chat")
        found = {p.name for p in mlflow.genai.search_prompts(filter_string=f"name LIKE '{prefix}-%'")}
        equal(found, {name}, "prompts after deleting one")

    steps.run("register prompts", register)
    steps.run("load prompts by version", load_by_version)
    steps.run("prompt aliases", alias)
    steps.run("search prompts, prompt tags", search_and_tags)
    steps.run("delete a prompt", delete)


def assessments(steps, prefix):
    mlflow.set_experiment(f"{prefix}-genai")
    state = {}

    @mlflow.trace
    def answer(question):
        return "Paris" if "France" in question else "I don't know"

    def trace():
        answer("Capital of France?")
        mlflow.flush_trace_async_logging()
        state["trace"] = mlflow.get_last_active_trace_id()
        check(state["trace"], "no trace id after a traced call")
        equal(mlflow.get_trace(state["trace"]).info.state.value, "OK", "trace state")

    def log():
        tid = state["trace"]
        fb = mlflow.log_feedback(trace_id=tid, name="correct", value=True, rationale="matches",
                                 source=AssessmentSource(source_type="HUMAN", source_id="ada"))
        ex = mlflow.log_expectation(trace_id=tid, name="expected_answer", value={"answer": "Paris", "aliases": ["paris"]})
        check(fb.assessment_id and ex.assessment_id, "assessments without ids: %r %r", fb, ex)
        state["feedback"], state["expectation"] = fb.assessment_id, ex.assessment_id

    def read_back():
        tid = state["trace"]
        got = mlflow.get_assessment(tid, state["feedback"])
        equal((got.name, got.value, got.rationale, got.source.source_id), ("correct", True, "matches", "ada"), "feedback")
        by_name = {a.name: a for a in mlflow.get_trace(tid).info.assessments}
        equal(sorted(by_name), ["correct", "expected_answer"], "assessments in the trace")
        equal(by_name["expected_answer"].value, {"answer": "Paris", "aliases": ["paris"]}, "expectation value")
        found = mlflow.search_traces(locations=[mlflow.get_experiment_by_name(f"{prefix}-genai").experiment_id],
                                     return_type="list")
        equal([len(t.info.assessments) for t in found], [2], "assessments in searched traces")

    def update_override_delete():
        tid = state["trace"]
        upd = mlflow.update_assessment(tid, state["feedback"], Feedback(name="correct", value=False))
        equal(upd.value, False, "updated feedback")
        ov = mlflow.override_feedback(trace_id=tid, assessment_id=state["feedback"], value=0.5, rationale="partly")
        valid = {a.assessment_id: a.valid for a in mlflow.get_trace(tid).info.assessments if a.name == "correct"}
        equal(valid, {state["feedback"]: False, ov.assessment_id: True}, "validity after an override")
        mlflow.delete_assessment(tid, ov.assessment_id)
        valid = {a.assessment_id: a.valid for a in mlflow.get_trace(tid).info.assessments if a.name == "correct"}
        equal(valid, {state["feedback"]: True}, "validity after deleting the override")
        expect_error("RESOURCE_DOES_NOT_EXIST", "deleted assessment", mlflow.get_assessment, tid, ov.assessment_id)

    def prompt_link():
        # A traced call that loads a prompt links the trace to the prompt
        # version (LinkPromptsToTrace); a search finds it by the version.
        name = f"{prefix}-traced-prompt"
        mlflow.genai.register_prompt(name=name, template="Answer {{q}}")

        @mlflow.trace
        def ask(q):
            return mlflow.genai.load_prompt(f"prompts:/{name}/1").format(q=q)

        ask("why?")
        mlflow.flush_trace_async_logging()
        tid = mlflow.get_last_active_trace_id()
        exp = mlflow.get_experiment_by_name(f"{prefix}-genai").experiment_id
        found = mlflow.search_traces(locations=[exp], filter_string=f'prompt = "{name}/1"', return_type="list")
        equal([t.info.trace_id for t in found], [tid], "traces linked to the prompt version")
        equal(mlflow.search_traces(locations=[exp], filter_string=f'prompt = "{name}/2"', return_type="list"), [],
              "traces linked to a version never loaded")

    steps.run("trace a call", trace)
    steps.run("log feedback and expectations", log)
    steps.run("read assessments back", read_back)
    steps.run("update, override and delete assessments", update_override_delete)
    steps.run("link a trace to the prompt it loaded", prompt_link)


def datasets(steps, prefix):
    from mlflow.genai.datasets import create_dataset, delete_dataset, get_dataset, search_datasets
    state = {}

    def create():
        exp = mlflow.set_experiment(f"{prefix}-genai").experiment_id
        ds = create_dataset(name=f"{prefix}-qa", experiment_id=exp, tags={"stage": "dev"})
        check(ds.dataset_id.startswith("d-"), "dataset id %r", ds.dataset_id)
        state["id"], state["exp"] = ds.dataset_id, exp

    def upsert():
        ds = get_dataset(dataset_id=state["id"])
        ds.merge_records([
            {"inputs": {"question": "Capital of France?"}, "expectations": {"answer": "Paris"}},
            {"inputs": {"question": "2+2?"}, "expectations": {"answer": "4"}, "outputs": "4"},
        ])
        ds.merge_records([{"inputs": {"question": "2+2?"}, "expectations": {"note": "arithmetic"}}])
        df = get_dataset(dataset_id=state["id"]).to_df()
        equal(len(df), 2, "records after two upserts")
        by_q = {r["inputs"]["question"]: r for r in df.to_dict("records")}
        equal(by_q["2+2?"]["expectations"], {"answer": "4", "note": "arithmetic"}, "merged expectations")
        equal(by_q["Capital of France?"]["expectations"], {"answer": "Paris"}, "expectations")

    def search_and_tags():
        found = [d.name for d in search_datasets(experiment_ids=[state["exp"]])]
        equal(found, [f"{prefix}-qa"], "datasets of the experiment")
        found = [d.name for d in search_datasets(experiment_ids=[state["exp"]], filter_string=f"name = '{prefix}-qa'")]
        equal(found, [f"{prefix}-qa"], "datasets by name")
        mlflow.genai.datasets.set_dataset_tags(dataset_id=state["id"], tags={"owner": "ada"})
        mlflow.genai.datasets.delete_dataset_tag(dataset_id=state["id"], key="stage")
        tags = get_dataset(dataset_id=state["id"]).tags
        equal((tags.get("owner"), tags.get("stage")), ("ada", None), "dataset tags")

    def delete():
        delete_dataset(dataset_id=state["id"])
        expect_error("RESOURCE_DOES_NOT_EXIST", "deleted dataset", get_dataset, dataset_id=state["id"])

    steps.run("create a dataset", create)
    steps.run("upsert and read records", upsert)
    steps.run("search datasets, dataset tags", search_and_tags)
    steps.run("delete a dataset", delete)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--prefix", required=True)
    args = p.parse_args()
    print(f"mlflow {mlflow.__version__} → {mlflow.get_tracking_uri()} (genai, prefix {args.prefix})", flush=True)
    steps = Steps()
    prompts(steps, args.prefix)
    assessments(steps, args.prefix)
    datasets(steps, args.prefix)
    steps.finish()


if __name__ == "__main__":
    main()
