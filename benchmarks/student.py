"""The distilled student against its teacher: macro-F1, texts/s, latency, size and distillation time.

For each dataset: the teacher is the default recipe (`samiksha train`, a MiniLM stacked with TF-IDF), exported to
int8 ONNX; students keep K of its 6 layers (`samiksha distill --layers K`, stacked with the teacher's TF-IDF as
distill does by default) and are exported too. Then, each
setup in its own process (PyTorch and ONNX Runtime thread pools must not share one) and the setups interleaved over
``--repeats`` rounds (each round in a new order), on the same texts:
  (a) transformers.pipeline() called once per text on the teacher's folder (the classic recipe; the transformer
      alone, as a plain pipeline loads it)
  teacher (PyTorch), teacher int8 (ONNX transformer + TF-IDF), student (PyTorch + TF-IDF), student int8 (ONNX
  transformer + TF-IDF)
with macro-F1 on the test rows, texts/s (median of the rounds, with min and max), the speed-up over (a) in the same
round, texts per CPU-second, one-review latency through `Classifier` (p50/p99 of 200 calls), the size of the
weights each setup loads, and the distillation wall time. Then one-review latency through `samiksha serve` (one
client, sequential requests). Each round prints how many cores other processes kept busy (see timing.py).

Data: SentiMix, a stratified sample of ``--labelled`` train tweets for the teacher, ``--unlabelled`` other train
tweets as the unlabelled pool, dev (3,000) as test; Flipkart, a seeded stratified 80/20 split (the 80% trains the
teacher; no unlabelled pool). Speed is measured on 2,000 texts of each dataset's test side.

    python benchmarks/student.py --work /tmp/student      # models are kept in --work and reused by later runs
    python benchmarks/student.py --work /tmp/student --phase measure --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
LATENCY_CALLS = 200
sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import interleaved, peak_mb, run_worker, speeds, spread  # noqa: E402


def worker(setup: str, folder: str, speed_file: str, test_file: str, full: bool) -> None:
    """Time one setup in this process and print a JSON line (``full``: also macro-F1 and latency)."""
    import numpy as np
    import pandas as pd
    from sklearn.metrics import f1_score

    speed = pd.read_csv(speed_file)["text"].astype(str).tolist()
    if setup == "pipeline":
        from transformers import pipeline

        classify = pipeline("text-classification", model=folder, device="cpu")
        classify(speed[:8])

        def predict(texts: list[str]) -> list[str]:
            return [classify(t)[0]["label"] for t in texts]
    else:
        from samiksha.predict import Classifier

        clf = Classifier.load(folder, backend="onnx" if setup.endswith("int8") else "torch")
        clf.predict(speed[:64])

        def predict(texts: list[str]) -> list[str]:
            return clf.predict(texts, batch_size=64)
    started, cpu_started = time.perf_counter(), time.process_time()
    predict(speed)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    result = {"setup": setup, "texts_per_s": len(speed) / seconds, "texts_per_cpu_s": len(speed) / cpu}
    if full:
        test = pd.read_csv(test_file)
        gold = test["label"].tolist()
        result["macro_f1"] = f1_score(gold, predict(test["text"].astype(str).tolist()), labels=sorted(set(gold)),
                                      average="macro", zero_division=0)
        latencies = []
        for text in speed[:LATENCY_CALLS]:
            start = time.perf_counter()
            predict([text])
            latencies.append(time.perf_counter() - start)
        ms = np.array(latencies) * 1000
        result.update(p50_ms=float(np.percentile(ms, 50)), p99_ms=float(np.percentile(ms, 99)), peak_mb=peak_mb())
    print(json.dumps(result))


def prepare_data(name: str, work: Path, labelled: int, unlabelled: int, seed: int) -> dict[str, Path]:
    import pandas as pd
    from sklearn.model_selection import train_test_split

    files = {k: work / f"{k}.csv" for k in ("labelled", "unlabelled", "test", "speed")}
    if files["labelled"].exists():
        return {k: v for k, v in files.items() if v.exists()}
    work.mkdir(parents=True, exist_ok=True)
    if name == "sentimix":
        train = pd.read_csv(DATA / "sentimix-hinglish" / "train.csv")
        picked, rest = train_test_split(train, train_size=labelled, stratify=train["label"], random_state=seed)
        test = pd.read_csv(DATA / "sentimix-hinglish" / "dev.csv")
        rest.sample(min(unlabelled, len(rest)), random_state=seed)[["text"]].to_csv(files["unlabelled"], index=False)
    else:
        frame = pd.read_csv(DATA / "flipkart-reviews" / "train.csv")
        picked, test = train_test_split(frame, test_size=0.2, stratify=frame["label"], random_state=seed)
        files.pop("unlabelled")
    picked[["text", "label"]].to_csv(files["labelled"], index=False)
    test[["text", "label"]].to_csv(files["test"], index=False)
    pd.concat([test, picked]).head(2000)[["text"]].to_csv(files["speed"], index=False)
    return files


def build_models(name: str, files: dict[str, Path], work: Path, layers: list[int], seed: int) -> dict:
    """Teacher and students (reused when already in ``work``), each exported to int8 ONNX (kept even when the export
    gate would refuse it, which is printed); their training wall times."""
    from samiksha import TrainConfig, train
    from samiksha.distill import distill
    from samiksha.export import export_onnx

    times_file = work / "times.json"
    times = json.loads(times_file.read_text()) if times_file.exists() else {}
    gates = {}  # int8 is measured even where export's gate (1 point on the model's eval.csv) would refuse it
    teacher = work / "teacher"
    if not teacher.exists():
        started = time.perf_counter()
        train(files["labelled"], teacher, config=TrainConfig(seed=seed))
        times["teacher"] = time.perf_counter() - started
    times.setdefault("teacher", json.loads((teacher / "samiksha.json").read_text())["training"]["wall_seconds"])
    if not (teacher / "onnx" / "model.int8.onnx").exists():
        gates[name + "/teacher"] = export_onnx(teacher, force=True)["int8"]["reason"]
    for k in layers:
        student = work / f"student-{k}"
        if not student.exists():
            started = time.perf_counter()
            distill(teacher, student, unlabelled=[files["unlabelled"]] if "unlabelled" in files else [], layers=k)
            times[f"student-{k}"] = time.perf_counter() - started
        if not (student / "onnx" / "model.int8.onnx").exists():
            gates[f"{name}/student-{k}"] = export_onnx(student, force=True)["int8"]["reason"]
        times_file.write_text(json.dumps(times))
    for model, reason in gates.items():
        print(f"{model}: int8 gate on its eval.csv: {reason}", flush=True)
    return times


def weights_mb(folder: Path, int8: bool) -> float:
    """Megabytes of what a setup loads: the transformer (safetensors or the ONNX graph it prefers) and TF-IDF."""
    from samiksha.backends import onnx_model_file

    files = [onnx_model_file(folder) if int8 else folder / "model.safetensors", folder / "tfidf.json",
             folder / "tfidf.safetensors"]
    return sum(f.stat().st_size for f in files if f is not None and f.exists()) / 1e6


def measure(name: str, files: dict[str, Path], work: Path, layers: list[int], repeats: int, times: dict) -> None:
    import numpy as np
    import pandas as pd

    folders = {"pipeline": work / "teacher", "teacher": work / "teacher", "teacher-int8": work / "teacher"}
    for k in layers:
        folders.update({f"student-{k}": work / f"student-{k}", f"student-{k}-int8": work / f"student-{k}"})
    runs = interleaved(list(folders), repeats, lambda setup, r: run_worker(
        __file__, setup, str(folders[setup]), str(files["speed"]), str(files["test"]), "1" if r == 0 else "0"))
    base = speeds(runs, "pipeline")
    print(f"\n## {name}: speed on 2,000 texts, {repeats} interleaved rounds, medians (min-max); macro-F1 on "
          f"{files['test'].name} ({len(pd.read_csv(files['test']))} rows)")
    print(f"{'setup':<16}{'macro-F1':>9}{'texts/s':>9}{'(min-max)':>12}{'x (a)':>7}{'(min-max)':>12}"
          f"{'t/cpu-s':>9}{'p50 ms':>8}{'p99 ms':>8}{'MB':>7}{'peak MB':>8}{'train s':>9}")
    for setup, folder in folders.items():
        speed, first = speeds(runs, setup), runs[setup][0]
        mb = weights_mb(folder, setup.endswith("int8")) if setup != "pipeline" else \
            (folder / "model.safetensors").stat().st_size / 1e6
        trained = times.get(setup.removesuffix("-int8"))
        print(f"{setup:<16}{first['macro_f1']:>9.3f}{np.median(speed):>9.1f}{spread(speed):>12}"
              f"{np.median(speed / base):>7.2f}{spread(speed / base, 2):>12}"
              f"{np.median(speeds(runs, setup, 'texts_per_cpu_s')):>9.1f}{first['p50_ms']:>8.1f}"
              f"{first['p99_ms']:>8.1f}{mb:>7.1f}{first['peak_mb']:>8.0f}"
              f"{'' if trained is None else round(trained):>9}", flush=True)


def serve_latency(name: str, work: Path, layers: list[int], files: dict[str, Path]) -> None:
    """p50/p99 of one-review requests through `samiksha serve` (one client, sequential)."""
    import pandas as pd
    from serve_load import Server, run_load

    texts = pd.read_csv(files["speed"])["text"].astype(str).tolist()
    print(f"\n## {name}: one review per request through `samiksha serve` (1 client, 300 requests)")
    print(f"{'setup':<16}{'p50 ms':>8}{'p99 ms':>8}{'errors':>8}")
    for setup, folder, backend in [("teacher", work / "teacher", "torch"), ("teacher-int8", work / "teacher", "onnx"),
                                   *[(f"student-{k}-int8", work / f"student-{k}", "onnx") for k in layers]]:
        with Server(folder, work / f"serve-{setup}.log", "--backend", backend) as server:
            result = run_load(server.url, texts, 1, 300, 1)
        print(f"{setup:<16}{result['p50_ms']:>8.1f}{result['p99_ms']:>8.1f}{result['errors']:>8}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, help="Folder for data and models (reused); required.")
    parser.add_argument("--datasets", default="sentimix,flipkart")
    parser.add_argument("--layers", default="3,2,1", help="Comma-separated layer counts of the students.")
    parser.add_argument("--labelled", type=int, default=3000, help="SentiMix tweets with labels for the teacher.")
    parser.add_argument("--unlabelled", type=int, default=11000, help="SentiMix tweets in the unlabelled pool "
                        "(11,000: all train tweets the teacher did not see).")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--phase", choices=("all", "train", "measure"), default="all")
    parser.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        setup, folder, speed_file, test_file, full = args.worker
        worker(setup, folder, speed_file, test_file, full == "1")
        return
    if args.work is None:
        parser.error("--work is required")
    layers = [int(k) for k in args.layers.split(",")]
    for name in args.datasets.split(","):
        work = args.work / name
        files = prepare_data(name, work, args.labelled, args.unlabelled, args.seed)
        times = build_models(name, files, work, layers, args.seed) if args.phase != "measure" else \
            json.loads((work / "times.json").read_text())
        if args.phase != "train":
            measure(name, files, work, layers, args.repeats, times)
            serve_latency(name, work, layers, files)


if __name__ == "__main__":
    main()
