"""Checks of `churn` against a live MLflow server, run by scripts/test-mlflow.sh.

Every value asserted here is read back through MLflow's REST API and compared with what the
local registry recorded for the same run, so each assertion fails if logging is broken.
Environment: CHURN (binary), URI (tracking server), WORK (scratch folder).
"""
import hashlib
import http.server
import json
import os
import subprocess
import sys
import threading
import urllib.parse
import urllib.request

CHURN, URI, WORK = os.environ["CHURN"], os.environ["URI"], os.environ["WORK"]
REG = os.path.join(WORK, "registry")
TRAIN, TEST = "data/telco_train.csv", "data/telco_test.csv"
EXPERIMENT = "churn-integration"
checks = 0


def check(cond, what):
    global checks
    if not cond:
        sys.exit(f"FAILED: {what}")
    checks += 1


def churn(*args, code=0, env_uri=None):
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    if env_uri:
        env["MLFLOW_TRACKING_URI"] = env_uri
    p = subprocess.run([CHURN, *args, "--registry", REG], capture_output=True, text=True, env=env)
    if p.returncode != code:
        sys.exit(f"FAILED: churn {' '.join(args)} exited {p.returncode}, expected {code}\n{p.stdout}\n{p.stderr}")
    return p


def api(endpoint, **query):
    url = f"{URI}/api/2.0/mlflow/{endpoint}?{urllib.parse.urlencode(query)}"
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.load(r)


def local(*parts):
    with open(os.path.join(REG, *parts)) as f:
        return json.load(f)


def train(*extra, env_uri=None):
    args = ["train", "--data", TRAIN, "--out", os.path.join(WORK, "m.bin"), "--json",
            "--register", "telco", "--experiment", EXPERIMENT, *extra]
    if env_uri is None:
        args += ["--tracking-uri", URI]
    return json.loads(churn(*args, env_uri=env_uri).stdout)


# 1. Three registered versions: a modest forest (depth 4, 20 trees); a weak one (depth 1,
#    3 trees); the default (model selection), which beats the first on the test file by a clear
#    margin. The second one is logged through MLFLOW_TRACKING_URI instead of the flag.
t1 = train("--model", "rf", "--max-depth", "4", "--trees", "20")
t2 = train("--max-depth", "1", "--trees", "3", env_uri=URI)
t3 = train("--seed", "7")
for i, t in enumerate([t1, t2, t3], 1):
    check(t["registry"]["registered"] == {"name": "telco", "version": i}, f"local version {i}")
    check(t["registry"]["mlflow"]["model_version"] == str(i), f"mlflow model version {i}")

exp = api("experiments/get-by-name", experiment_name=EXPERIMENT)["experiment"]
check(exp["name"] == EXPERIMENT, "experiment exists")

for t in [t1, t2, t3]:
    rec = t["registry"]
    link = local("runs", rec["run_id"], "mlflow.json")
    check(link["experiment_id"] == exp["experiment_id"], "run in the experiment")
    run = api("runs/get", run_id=link["run_id"])["run"]
    info, data = run["info"], run["data"]
    check(info["status"] == "FINISHED", "run finished")
    check(info["run_name"] == f"telco-{rec['run_id']}", "run name")
    params = {p["key"]: p["value"] for p in data["params"]}
    card = t["card"]
    check(params["trees"] == str(card["params"]["trees"]), "param trees")
    check(params["max_depth"] == str(card["params"]["max_depth"]), "param max_depth")
    check(params["seed"] == str(card["params"]["seed"]), "param seed")
    check(params["data_sha256"] == card["data_sha256"], "param data_sha256")
    metrics = {m["key"]: m["value"] for m in data["metrics"]}
    for k in ["roc_auc", "pr_auc", "accuracy", "f1", "log_loss"]:
        check(metrics[k] == card["test_metrics"][k], f"metric {k} equals the model card's")
    check(abs(sum(v for k, v in metrics.items() if k.startswith("importance.")) - 1) < 1e-9, "importances sum to 1")
    tags = {x["key"]: x["value"] for x in data["tags"]}
    check(tags["churn.local_run_id"] == rec["run_id"], "tag local run id")
    check(tags["churn.model_version"] == card["version"], "tag model version")
    check("--register telco" in tags["churn.command_line"], "tag command line")
    # Artifacts: listed, and byte-identical to the registry's copies.
    files = {f["path"] for f in api("artifacts/list", run_id=link["run_id"]).get("files", [])}
    check({"importances.csv", "model", "run.json"} <= files, f"artifacts listed: {files}")
    model_files = {f["path"] for f in api("artifacts/list", run_id=link["run_id"], path="model")["files"]}
    check(model_files == {f"model/{n}" for n in ["model.bin", "MLmodel", "requirements.txt", "python_env.yaml", "conda.yaml"]},
          f"the MLflow Model's files listed: {model_files}")
    root = info["artifact_uri"].removeprefix("mlflow-artifacts:").lstrip("/")
    for remote, mine in [("model/model.bin", "model.bin"), ("importances.csv", "importances.csv")]:
        with urllib.request.urlopen(f"{URI}/api/2.0/mlflow-artifacts/artifacts/{root}/{remote}", timeout=30) as r:
            got = r.read()
        with open(os.path.join(REG, "runs", rec["run_id"], mine), "rb") as f:
            check(got == f.read(), f"artifact {remote} equals the registry's {mine}")
    # The registered model version points at this run and knows its local version.
    v = rec["registered"]["version"]
    mlflow_version = local("models", "telco", "versions", str(v), "mlflow.json")["model_version"]
    mv = api("model-versions/get", name="telco", version=mlflow_version)["model_version"]
    check(mv["run_id"] == link["run_id"], "model version's run")
    check(mv["status"] == "READY", "model version ready")
    check(mv["source"].endswith("/model"), "model version source")
    check({x["key"]: x["value"] for x in mv["tags"]}["churn.local_version"] == str(v), "model version tag")

check(api("registered-models/get", name="telco")["registered_model"]["name"] == "telco", "registered model")

# 1b. `churn monitor --tracking-uri`: the drift figures of recent rows go to the run that trained
#     the model (found by its tag churn.model_version), equal to what --json prints; a model that
#     MLflow never saw is an error (exit 2) naming its version.
monitored = os.path.join(REG, "models", "telco", "versions", "3", "model.bin")
env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
p = subprocess.run([CHURN, "monitor", "--model", monitored, "--data", TEST, "--json", "--tracking-uri", URI],
                   capture_output=True, text=True, env=env)
check(p.returncode == 0, f"monitor --tracking-uri: {p.stdout}{p.stderr}")
drift = json.loads(p.stdout)
run_id = local("runs", t3["registry"]["run_id"], "mlflow.json")["run_id"]
check(f"logged the drift figures to MLflow run {run_id}" in p.stderr, f"monitor names the run: {p.stderr}")
data = api("runs/get", run_id=run_id)["run"]["data"]
metrics = {m["key"]: m["value"] for m in data["metrics"]}
for f in drift["fields"]:
    check(metrics[f"drift.psi.{f['field']}"] == f["psi"], f"drift.psi.{f['field']} equals --json")
    check(metrics[f"drift.js.{f['field']}"] == f["js"], f"drift.js.{f['field']} equals --json")
check(metrics["drift.score_psi"] == drift["score"]["psi"], "drift.score_psi")
check(metrics["drift.rows"] == drift["rows"], "drift.rows")
check(metrics["drift.level"] == {"stable": 0, "watch": 1, "drifted": 2}[drift["level"]], "drift.level")
check(metrics["drift.risk.HIGH"] == drift["score"]["risk"]["HIGH"]["current"], "drift.risk.HIGH")
tags = {x["key"]: x["value"] for x in data["tags"]}
check(tags["churn.drift.level"] == drift["level"] and tags["churn.drift.source"] == TEST, "drift tags")
history = api("metrics/get-history", run_id=run_id, metric_key="drift.score_psi")["metrics"]
check(len(history) == 1, "one drift check, one point")
p = subprocess.run([CHURN, "monitor", "--model", "tests/fixtures/golden.bin", "--data", TEST, "--tracking-uri", URI],
                   capture_output=True, text=True, env=env)
check(p.returncode == 2 and "has no run of model version golden-1" in p.stderr, f"unknown model refused: {p.stderr}")


def mlflow_alias(alias="production"):
    return api("registered-models/alias", name="telco", alias=alias)["model_version"]["version"]


# 2. Promote v1, then the weak v2 must not beat it (exit 3, both AUCs shown, MLflow alias unchanged),
#    then v3 beats v1 on the test file, then roll back.
churn("promote", "telco", "--version", "1", "--alias", "production", "--tracking-uri", URI)
check(mlflow_alias() == "1", "alias production -> 1 in MLflow")
p = churn("promote", "telco", "--version", "2", "--must-beat", "production", "--data", TEST, "--tracking-uri", URI, code=3)
check("does not beat" in p.stdout + p.stderr and p.stderr.count("ROC-AUC") == 2, f"refusal shows both AUCs: {p.stderr}")
check(mlflow_alias() == "1", "refused promotion left the MLflow alias")
p = churn("promote", "telco", "--version", "3", "--must-beat", "production", "--data", TEST, "--tracking-uri", URI, "--json")
check(json.loads(p.stdout)["promoted"] is True, "v3 promoted")
check(mlflow_alias() == "3", "alias production -> 3 in MLflow")
churn("rollback", "telco", "--alias", "production", "--tracking-uri", URI)
check(mlflow_alias() == "1", "rollback moved the MLflow alias back to 1")
check(local("models", "telco", "aliases.json")["aliases"]["production"]["version"] == 1, "local alias rolled back too")

# 2b. The registered versions are MLflow Models: mlflow.pyfunc loads production (v1 again) and
#     predicts what `churn score --raw` writes with the same file, bit for bit; and the same URI
#     works as a Spark UDF. Python users log a model file the same way (churn_edge.mlflow).
import struct  # noqa: E402

import mlflow  # noqa: E402
import mlflow.pyfunc  # noqa: E402
import pandas as pd  # noqa: E402

import churn_edge  # noqa: E402
import churn_edge.mlflow  # noqa: E402

mlflow.set_tracking_uri(URI)
prod_file = os.path.join(WORK, "prod.bin")
churn("models", "get", "telco@production", "--out", prod_file)
scores = os.path.join(WORK, "prod_scores.csv")
subprocess.run([CHURN, "score", "--model", prod_file, "--data", TEST, "--out", scores, "--raw"], check=True)
cli = pd.read_csv(scores, dtype=str, keep_default_na=False)
cli_raw = [struct.pack("<d", float(x)) for x in cli["churn_probability_raw"]]
pyfunc = mlflow.pyfunc.load_model("models:/telco@production")
check(pyfunc.metadata.flavors["python_function"]["loader_module"] == "churn_edge.mlflow", "pyfunc loader module")
check(pyfunc.metadata.get_input_schema().input_names()[0] == "gender", "signature from the schema")
test_df = pd.read_csv(TEST)
pred = pyfunc.predict(test_df)
check(list(pred.columns) == ["churn_probability", "churn_prediction", "risk_level", "churn_probability_raw"], "pyfunc columns")
check([struct.pack("<d", x) for x in pred["churn_probability_raw"]] == cli_raw,
      "mlflow.pyfunc predict == churn score --raw, bit for bit")
check(list(pred["risk_level"]) == list(cli["risk_level"]), "pyfunc risk levels == the CLI's")
# params={"explain": 3}: the top factors of `churn score --explain 3`, the same fields and bits.
check([(p.name, p.dtype.name, p.default) for p in pyfunc.metadata.get_params_schema().params] == [("explain", "long", 0)],
      "params schema: explain, long, default 0")
explained = os.path.join(WORK, "prod_scores_explain.csv")
subprocess.run([CHURN, "score", "--model", prod_file, "--data", TEST, "--out", explained, "--raw", "--explain", "3"],
               check=True)
cli_ex = pd.read_csv(explained, dtype=str, keep_default_na=False)
pred_ex = pyfunc.predict(test_df, params={"explain": 3})
check(list(pred_ex.columns) == list(cli_ex.columns[1:]), "pyfunc explain columns == churn score --explain 3's")
check(all(list(pred_ex[f"why_{k}"]) == list(cli_ex[f"why_{k}"]) for k in (1, 2, 3)), "pyfunc top factors == the CLI's")
check(all([struct.pack("<d", x) for x in pred_ex[f"why_{k}_contribution"]]
          == [struct.pack("<d", float(x)) for x in cli_ex[f"why_{k}_contribution"]] for k in (1, 2, 3)),
      "pyfunc contributions == the CLI's, bit for bit")
reqs = mlflow.pyfunc.get_model_dependencies("models:/telco@production")
with open(reqs) as f:
    check(f"churn-edge=={churn_edge.__version__}" in f.read(), "requirement churn-edge==<version>")

os.environ["PYSPARK_PYTHON"] = sys.executable
from pyspark.sql import SparkSession  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
         .config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.host", "127.0.0.1").getOrCreate())
try:
    udf = mlflow.pyfunc.spark_udf(spark, "models:/telco@production", env_manager="local",
                                  result_type="churn_probability double, churn_prediction string, "
                                              "risk_level string, churn_probability_raw double")
    fields = pyfunc.metadata.get_input_schema().input_names()
    sdf = spark.createDataFrame(pd.read_csv(TEST, dtype=str, keep_default_na=False)).repartition(4)
    got = sdf.select("customerID", udf(*[F.col(c) for c in fields]).alias("s")).select("customerID", "s.*").toPandas()
    by_id = dict(zip(cli["customerID"], cli_raw))
    check(len(got) == len(cli) and all(struct.pack("<d", p) == by_id[i]
                                        for i, p in zip(got["customerID"], got["churn_probability_raw"])),
          "spark_udf(models:/telco@production) == churn score --raw, bit for bit")
finally:
    spark.stop()

with mlflow.start_run(experiment_id=exp["experiment_id"]):
    info = churn_edge.mlflow.log_model(prod_file, name="model", registered_model_name="telco-python")
loaded = mlflow.pyfunc.load_model("models:/telco-python/1")
check([struct.pack("<d", x) for x in loaded.predict(test_df)["churn_probability_raw"]] == cli_raw,
      "churn_edge.mlflow.log_model: the registered model predicts the CLI's bits")

# 3. A server that is down: clear message, exit 2, local run and version written.
with __import__("socket").socket() as s:
    s.bind(("127.0.0.1", 0))
    dead = f"http://127.0.0.1:{s.getsockname()[1]}"
p = churn("train", "--data", TEST, "--out", os.path.join(WORK, "d.bin"), "--trees", "5", "--register", "telco",
          "--tracking-uri", dead, code=2)
check(f"cannot reach the MLflow tracking server at {dead}" in p.stderr, f"down: {p.stderr}")
check("the local registry were written" in p.stderr and "telco version 4" in p.stderr, f"down: {p.stderr}")
check(os.path.exists(os.path.join(REG, "models", "telco", "versions", "4", "model.bin")), "version 4 written locally")


# 4. A server that answers errors (500 with MLflow's error shape): same.
class Broken(http.server.BaseHTTPRequestHandler):
    def reply(self):
        body = json.dumps({"error_code": "INTERNAL_ERROR", "message": "database is locked"}).encode()
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = reply

    def log_message(self, *a):
        pass


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Broken)
threading.Thread(target=srv.serve_forever, daemon=True).start()
broken = f"http://127.0.0.1:{srv.server_address[1]}"
try:
    p = churn("train", "--data", TEST, "--out", os.path.join(WORK, "e.bin"), "--trees", "5", "--register", "telco",
              "--tracking-uri", broken, code=2)
    check("answered 500" in p.stderr and "INTERNAL_ERROR: database is locked" in p.stderr, f"500: {p.stderr}")
    check("telco version 5" in p.stderr, f"500: {p.stderr}")
    p = churn("promote", "telco", "--version", "3", "--tracking-uri", URI, code=0)
    p = churn("promote", "telco", "--version", "5", "--tracking-uri", URI, code=2)
    check("never registered in MLflow" in p.stderr and "the local alias was set" in p.stderr, f"unlogged: {p.stderr}")
finally:
    srv.shutdown()
churn("registry", "check")

# 5. The retrain flow script with MLFLOW_TRACKING_URI: a good model is promoted and exported
#    (bytes = the production version's, alias set in MLflow); a weak one is refused (exit 3),
#    and production, the MLflow alias and the exported file stay as they were.
rreg, export = os.path.join(WORK, "retrain-reg"), os.path.join(WORK, "export.bin")
env = dict(os.environ, MLFLOW_TRACKING_URI=URI)
base = ["bash", "scripts/retrain.sh", "--data", TRAIN, "--eval", TEST, "--name", "retrain-it",
        "--registry", rreg, "--export", export, "--min-auc", "0.8"]
p = subprocess.run(base, capture_output=True, text=True, env=env)
check(p.returncode == 0, f"retrain ok: {p.stdout}{p.stderr}")
with open(export, "rb") as f, open(os.path.join(rreg, "models/retrain-it/versions/1/model.bin"), "rb") as g:
    first = f.read()
    check(first == g.read(), "exported file is production's")
check(api("registered-models/alias", name="retrain-it", alias="production")["model_version"]["version"] == "1", "retrain alias in MLflow")
p = subprocess.run(base + ["--", "--trees", "3", "--max-depth", "1"], capture_output=True, text=True, env=env)
check(p.returncode == 3 and "does not beat" in p.stdout + p.stderr, f"weak retrain refused: {p.stdout}{p.stderr}")
with open(export, "rb") as f:
    check(f.read() == first, "refused retrain left the exported file")
check(api("registered-models/alias", name="retrain-it", alias="production")["model_version"]["version"] == "1", "refused retrain left the MLflow alias")
check(api("model-versions/get", name="retrain-it", version="2")["model_version"]["status"] == "READY", "refused version still registered")
print(f"test-mlflow: {checks} checks passed (runs, params, metrics, tags, artifacts, versions, aliases, errors, pyfunc, spark_udf)")
