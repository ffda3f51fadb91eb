"""scripts/test-arm64's bookkeeping on the host (standard library only): what to run, and x86 against arm64.

  check.py requirements SETUP_CFG          the device and test extras without LiteRT (for tflite-runtime)
  check.py models MODELS_DIR DATA          "idx NAME" or "folder NAME SUBDIR" per bundled model with its test set
                                           in DATA
  check.py photos MANIFEST DATA SUBDIR STRIDE  every STRIDE-th photo of each label's folder, relative to DATA
  check.py answers X86.jsonl ARM.jsonl     `piclassify predict --json` answers: equal per photo (exit 1 if not)
  check.py idx X86.json ARM.json           scripts/arm64/accuracy.py results: same answers, within 3 SE of the manifest
  check.py folder MANIFEST X86.jsonl ARM.jsonl   the same for a folder test set predicted with the CLI
  check.py failed JUNIT.xml SRC            the node ids of the tests that failed, one a line
  check.py counts JUNIT.xml [RETRY.xml]    "N passed, M skipped[, K FAILED]", counting a second try's passes
"""

from __future__ import annotations

import configparser
import json
import math
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def requirements(setup_cfg: str) -> int:
    config = configparser.ConfigParser()
    config.read(setup_cfg)
    for extra in ("device", "test"):
        for line in config["options.extras_require"][extra].strip().splitlines():
            if not line.strip().lower().replace("_", "-").startswith(("ai-edge-litert", "tflite-runtime")):
                print(line.strip())
    return 0


def models(models_dir: str, data: str) -> int:
    for path in sorted(p for p in Path(models_dir).glob("*.json") if not p.name.endswith(".backbone.json")):
        manifest = json.loads(path.read_text())
        test_set = str(manifest.get("metrics", {}).get("test_set", ""))
        subdir = (test_set.split("datasets/", 1)[1] if "datasets/" in test_set else test_set).strip("/")
        if test_set.endswith(" test") and (Path(data) / test_set[:-5] / "t10k-images-idx3-ubyte.gz").is_file():
            print("idx", path.stem)  # "mnist test" -> DATA/mnist/t10k-*
        elif subdir and any((Path(data) / subdir / label).is_dir() for label in manifest.get("labels", [])):
            print("folder", path.stem, subdir)  # a folder per label under DATA ("x/validation", as manifests name it)
        else:
            print("none", path.stem)  # a table model, say, or its test set is not in DATA
    return 0


def photos(manifest: str, data: str, subdir: str, stride: str) -> int:
    for label in json.loads(Path(manifest).read_text())["labels"]:
        if not (Path(data) / subdir / label).is_dir():
            continue
        files = sorted(p for p in (Path(data) / subdir / label).iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)
        for path in files[:: int(stride)]:
            print(path.relative_to(data))
    return 0


def _answers(path: str) -> dict[str, dict]:
    """One answer per model and photo, keyed by the model and the photo's path below the data or samples folder."""
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.startswith("{")]
    return {"/".join((str(row.get("model")), *Path(row["source"]).parts[-3:])): row for row in rows}


def answers(x86_path: str, arm_path: str) -> int:
    x86, arm = _answers(x86_path), _answers(arm_path)

    def same(a: dict, b: dict) -> bool:
        """The label, the score to 0.03, and the order of the top labels that x86 gives at least 5%: the backbone's
        int8 kernels round differently on a Cortex-A72 than on x86 (a score of 0.92 is 0.90 there, and labels of
        0.2% swap places), which no answer may feel."""
        likely = [t[0] for t in a.get("top") or [] if t[1] >= 0.05]
        return (a.get("label") == b.get("label") and [t[0] for t in b.get("top") or []][:len(likely)] == likely
                and abs((a.get("score") or 0) - (b.get("score") or 0)) <= 0.03)

    differ = [name for name in x86 if name not in arm or not same(x86[name], arm[name])]
    exact = sum(arm.get(name, {}).get("top") == x86[name].get("top") for name in x86)
    detail = "; ".join(f"{Path(n).name}: x86 {x86[n].get('label')} {x86[n].get('top')}, "
                       f"arm64 {arm.get(n, {}).get('label')} {arm.get(n, {}).get('top')}" for n in differ)
    print(f"{len(x86) - len(differ)}/{len(x86)} equal ({exact} to every digit)"
          + (f"; differ: {detail}" if differ else ""))
    return 1 if differ or not x86 else 0


def _verdict(model: str, n: int, correct: int, expected: float, x86_correct: int, differ: int, what: str) -> int:
    """Two lines: the whole story, then a short one for the summary."""
    accuracy, se = correct / n, math.sqrt(expected * (1 - expected) / n)
    ok = abs(accuracy - expected) <= 3 * se and differ == 0
    print(f"{model}: {100 * accuracy:.2f}% on {what}, n={n}; the manifest says {100 * expected:.2f}% on all"
          f" (standard error for n={n}: {100 * se:.2f}%); x86 {100 * x86_correct / n:.2f}%, {differ} answers differ"
          + ("" if ok else " FAILED"))
    print(f"{model} {100 * accuracy:.2f}% n={n} (manifest {100 * expected:.2f}%, SE {100 * se:.2f}%), "
          + ("x86's answers" if not differ else f"{differ} answers differ from x86") + ("" if ok else " FAILED"))
    return 0 if ok else 1


def idx(x86_path: str, arm_path: str) -> int:
    x86, arm = json.loads(Path(x86_path).read_text()), json.loads(Path(arm_path).read_text())
    differ = sum(a != b for a, b in zip(x86["predictions"], arm["predictions"])) + abs(x86["n"] - arm["n"])
    return _verdict(arm["model"], arm["n"], arm["correct"], arm["manifest_accuracy"], x86["correct"], differ,
                    f"every {arm['stride']}th of {arm['test_set']}")


def folder(manifest_path: str, x86_path: str, arm_path: str, stride: str) -> int:
    manifest = json.loads(Path(manifest_path).read_text())
    x86, arm = _answers(x86_path), _answers(arm_path)
    truth = {name: Path(name).parent.name for name in x86}
    differ = sum(arm.get(name, {}).get("label") != row.get("label") for name, row in x86.items())
    arm_right = sum(arm.get(n, {}).get("label") == t for n, t in truth.items())
    x86_right = sum(x86[n].get("label") == t for n, t in truth.items())
    return _verdict(manifest["name"], len(x86), arm_right, float(manifest["metrics"]["tflite_accuracy"]), x86_right,
                    differ, f"every {stride}th photo of {'/'.join(Path(manifest['metrics']['test_set']).parts[-2:])}")


def _cases(junit: str) -> list[ET.Element]:
    try:
        return list(ET.parse(junit).getroot().iter("testcase"))
    except (OSError, ET.ParseError):
        return []


def _outcome(case: ET.Element) -> str:
    tags = {child.tag for child in case}
    return "failed" if tags & {"failure", "error"} else "skipped" if "skipped" in tags else "passed"


def failed(junit: str, src: str) -> int:
    """1 if some failure is no test's (a collection error, say), which a second try cannot mend."""
    unplaced = 0
    for case in _cases(junit):
        if _outcome(case) == "failed":
            parts = case.get("classname", "").split(".")  # tests.test_x[.Class] -> tests/test_x.py[::Class]
            for cut in range(len(parts), 0, -1):
                if (Path(src) / ("/".join(parts[:cut]) + ".py")).is_file():
                    print("::".join(["/".join(parts[:cut]) + ".py", *parts[cut:], case.get("name", "")]))
                    break
            else:
                unplaced += 1
                print(f"not a test that can be tried again: {case.get('classname')} {case.get('name')}",
                      file=sys.stderr)
    return 1 if unplaced else 0


def counts(junit: str, retry: str = "") -> int:
    cases = _cases(junit)
    if not cases:
        print("no results")
        return 1
    outcomes = [_outcome(case) for case in cases]
    again = [_outcome(case) for case in _cases(retry)] if retry else []
    bad = outcomes.count("failed")
    second = again.count("passed") if bad and len(again) == bad else 0
    print(f"{outcomes.count('passed') + second} passed" + (f" ({second} on a second try)" if second else "")
          + f", {outcomes.count('skipped')} skipped" + (f", {bad - second} FAILED" if bad - second else ""))
    return 0


if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    sys.exit(globals()[command](*arguments))
