"""Text hard negatives: each type, the validity mask, determinism, inflection, ARO perturbations, the cache CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SHARED_DATA

from ahnpl_lightning.data import negatives as negmod
from ahnpl_lightning.data.negatives.lexicon import wordnet as wnmod
from ahnpl_lightning.data.negatives import (
    ALL_TYPES,
    NEGATIVE_TYPES,
    NegativeGenerator,
    aro_pre_caption,
    article_for,
    build_negatives_cache,
    inflect_verb,
    load_negatives_cache,
    negative_mask,
    order_perturbations,
    pluralize,
)
from ahnpl_lightning.data.negatives.lexicon.wordnet import get_wordnet
from ahnpl_lightning.data.negatives.lexicon.wordnet_index import WordNetIndex
from ahnpl_lightning.tools import negatives as negtool

SRC = Path(__file__).resolve().parents[1] / "src"
COLOURS = {"red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white", "gray", "grey",
           "silver", "gold"}
SHAPES = {"circle", "square", "triangle", "star", "rectangle", "hexagon", "pentagon", "diamond", "heart", "oval",
          "cross", "cube", "sphere", "cylinder", "cone", "pyramid"}


@pytest.fixture(scope="module")
def gen() -> NegativeGenerator:
    return NegativeGenerator(seed=0, tagger="builtin")


def _diff(a: str, b: str) -> list[tuple[str, str]]:
    """Changed words, ignoring the a/an that follows a replacement."""
    return [(x, y) for x, y in zip(a.split(), b.split()) if x != y and {x.lower(), y.lower()} != {"a", "an"}]


def test_public_contract() -> None:
    assert NEGATIVE_TYPES == ("relation", "adj_swap", "adj", "noun", "verb")
    assert ALL_TYPES == NEGATIVE_TYPES + ("relation_replace",)


def test_relation_swaps_subject_and_object_keeping_number(gen: NegativeGenerator) -> None:
    assert gen.generate("A dog chasing a cat on the grass.")["relation"] == "A cat chasing a dog on the grass."
    # each slot keeps its number (before 0.2 this test swapped anything: "Two parks play in the dog", issue 14)
    assert gen.generate("Two dogs chasing a cat.")["relation"] == "Two cats chasing a dog."
    # a/an follows the moved word
    assert gen.generate("An elephant chasing a dog.")["relation"] == "A dog chasing an elephant."


def test_relation_invalid_with_one_noun_or_coordination(gen: NegativeGenerator) -> None:
    assert gen.generate("A cat.")["relation"] is None
    assert gen.generate("An apple and a banana.")["relation"] is None  # swapping coordinated nouns is no change


def test_adj_swap_same_attribute_across_noun_phrases(gen: NegativeGenerator) -> None:
    out = gen.generate("A red circle above a blue square.")
    assert out["adj_swap"] == "A blue circle above a red square."
    assert gen.generate("A small red ball under a large blue box.")["adj_swap"] in {
        "A large red ball under a small blue box.", "A small blue ball under a large red box."}
    assert gen.generate("A small white dog sleeping on a couch.")["adj_swap"] is None  # same noun phrase


def test_adj_replacement_stays_in_family(gen: NegativeGenerator) -> None:
    caption = "A red circle above a blue square."
    for seed in range(8):
        out = NegativeGenerator(seed=seed, tagger="builtin").generate(caption)["adj"]
        (old, new), = _diff(caption, out)
        assert old in {"red", "blue"} and new in COLOURS and new != old
        assert new not in {"red", "blue"} or new != old


def test_adj_keeps_article_agreement(gen: NegativeGenerator) -> None:
    for seed in range(10):
        out = NegativeGenerator(seed=seed, tagger="builtin").generate("A small dog on a bed.")["adj"]
        assert out is not None
        art, adj = out.split()[:2]
        assert art == ("An" if adj[0] in "aeiou" else "A")
        assert adj in {"big", "large", "huge", "giant", "enormous", "massive"}


def test_noun_replacement_shapes_and_plurals(gen: NegativeGenerator) -> None:
    caption = "A red circle above a blue square."
    for seed in range(6):
        out = NegativeGenerator(seed=seed, tagger="builtin").generate(caption)["noun"]
        (old, new), = _diff(caption.rstrip("."), out.rstrip("."))
        assert old in {"circle", "square"} and new in SHAPES and new != old
    out = gen.generate("Two men are sitting on benches.")["noun"]
    changed = _diff("Two men are sitting on benches.", out)
    assert len(changed) == 1 and changed[0][1].rstrip(".").endswith(("s", "men", "people", "children"))


def test_noun_replacement_is_cohyponym_not_synonym(gen: NegativeGenerator) -> None:
    wn = get_wordnet()  # nltk's reader as the independent reference
    dog_synonyms = {n for s in wn.synsets("dog", "n") for n in s.lemma_names()}
    options = gen.alternatives.get("dog", "n")
    assert "cat" in options and not dog_synonyms & set(options)
    for lemma in ("table", "guitar", "apple", "lamp"):
        options = gen.alternatives.get(lemma, "n")
        synonyms = {n.lower() for s in wn.synsets(lemma, "n") for n in s.lemma_names()}
        assert options and lemma not in options and not synonyms & set(options)


#: Alternatives computed by GENERATOR_VERSION 1 on nltk's WordNet reader (before WordNetIndex): must not change.
NLTK_ERA_ALTERNATIVES = {
    ("table", "n"): ("line", "series", "column", "flight", "rear", "flank"),
    ("guitar", "n"): ("string", "piano", "banjo"),
    ("kitchen", "n"): ("door", "cell", "floor", "hall", "bedroom", "bar"),
    ("street", "n"): ("freeway", "highroad", "bypass", "pike", "superhighway", "thruway"),
    ("pas", "n"): ("trip", "walk", "stride", "gallop", "tread", "canter"),
    ("glasses", "n"): ("binoculars",),
    ("laptop", "n"): (),
    ("sleep", "v"): ("wake", "drowse"),
    ("park", "v"): ("stand", "sit", "throw", "rest", "lay", "arrange"),
    ("fill", "v"): ("increase", "raise", "prepare", "improve", "extend", "affect"),
    ("rest", "v"): ("cut", "pack"),
    ("beautiful", "a"): ("pleasant", "unpleasant", "ugly"),
    ("fresh", "a"): ("old", "young", "mature", "immature", "debilitating", "stale"),
    ("asleep", "a"): ("dead", "alive", "awake", "live", "sensible"),
    ("stuffed", "a"): ("full", "empty"),
    ("quiet", "a"): ("noisy", "ostentatious"),
}


def test_alternatives_unchanged_from_the_nltk_reader_era(gen: NegativeGenerator) -> None:
    """Siblings, cousins, verb antonyms, adjective antonyms and attribute values, curated families, morphy."""
    assert {key: gen.alternatives.get(*key) for key in NLTK_ERA_ALTERNATIVES} == NLTK_ERA_ALTERNATIVES


def test_generation_never_loads_nltk_wordnet(gen: NegativeGenerator, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cold generation reads WordNet through WordNetIndex only (nltk's reader costs seconds per process)."""
    def forbidden() -> None:
        raise AssertionError("nltk's WordNet reader was loaded")

    monkeypatch.setattr(wnmod, "get_wordnet", forbidden)
    captions = ["A man rides a bike down the street.", "A small white dog sleeping on a couch.",
                "A quiet kitchen with a wooden table and a fresh cake."]
    fresh = NegativeGenerator(seed=0, tagger="builtin", wordnet=WordNetIndex(wnmod.ensure_wordnet() / "corpora" /
                                                                            "wordnet"))
    assert fresh.generate_many(captions) == gen.generate_many(captions)


def test_verb_replacement_keeps_inflection(gen: NegativeGenerator) -> None:
    out = gen.generate("A man is sitting on a bench.")["verb"]
    (old, new), = _diff("A man is sitting on a bench.", out)
    assert old == "sitting" and new.endswith("ing") and new[:-3] not in {"sitt", "sit"}
    out = gen.generate("A man rides a horse.")["verb"]
    (old, new), = _diff("A man rides a horse.", out)
    assert old == "rides" and new.endswith("s") and new != "rides"


def test_relation_replace_spatial(gen: NegativeGenerator) -> None:
    out = gen.generate("A red circle above a blue square.")["relation_replace"]
    assert out is not None and out.startswith("A red circle ") and out.endswith(" a blue square.")
    middle = out[len("A red circle "):-len(" a blue square.")]
    assert middle not in {"above", "over"} and middle in {g[0] for g in negmod.SPATIAL_GROUPS}
    assert gen.generate("A cat sitting in front of a dog.")["relation_replace"] != "A cat sitting in front of a dog."
    assert gen.generate("A dog runs.")["relation_replace"] is None


def test_invalid_mask_never_fakes(gen: NegativeGenerator) -> None:
    out = gen.generate("Gray sky.")  # only the colour can change (the corpus has seen "blue sky")
    assert negative_mask(out) == [False, False, True, False, False]
    assert gen.generate("") == {k: None for k in ALL_TYPES}
    assert gen.generate("...") == {k: None for k in ALL_TYPES}


def test_negatives_always_differ_and_keys_complete(gen: NegativeGenerator) -> None:
    data = json.loads((SHARED_DATA / "coco" / "coco_karpathy_test_first100.json").read_text())
    captions = [c for item in data[:20] for c in item["caption"]]
    for caption, out in zip(captions, gen.generate_many(captions)):
        assert set(out) == set(ALL_TYPES)
        assert all(v is None or v != caption for v in out.values())


def test_deterministic_across_processes(gen: NegativeGenerator) -> None:
    captions = ["A man rides a bike down the street.", "A red circle above a blue square.",
                "Two dogs play in the park next to a small boy."]
    code = (
        "import json,sys;from ahnpl_lightning.data.negatives import NegativeGenerator;"
        f"print(json.dumps(NegativeGenerator(seed=3, tagger='builtin').generate_many({captions!r})))"
    )
    env = {"PYTHONPATH": str(SRC), "PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"}
    import os

    env["HOME"] = os.environ.get("HOME", "/root")
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, env=env,
                         check=True, timeout=120)
    assert json.loads(out.stdout) == NegativeGenerator(seed=3, tagger="builtin").generate_many(captions)
    assert NegativeGenerator(seed=4, tagger="builtin").generate_many(captions) != json.loads(out.stdout)


def test_inflection_helpers() -> None:
    assert [pluralize(w) for w in ("bus", "baby", "man", "person", "box", "dog", "knife")] == \
        ["buses", "babies", "men", "people", "boxes", "dogs", "knives"]
    assert inflect_verb("sit", "VBG") == "sitting" and inflect_verb("ride", "VBG") == "riding"
    assert inflect_verb("lie", "VBG") == "lying" and inflect_verb("run", "VBD") == "ran"
    assert inflect_verb("ride", "VBN") == "ridden" and inflect_verb("stop", "VBD") == "stopped"
    assert inflect_verb("watch", "VBZ") == "watches" and inflect_verb("carry", "VBZ") == "carries"
    assert [article_for(w) for w in ("apple", "umbrella", "unicorn", "hour", "dog", "orange")] == \
        ["an", "an", "a", "an", "a", "an"]


def test_aro_pre_caption_and_order_perturbations() -> None:
    caption = "A man (with a Red helmet) on a small moped; on a dirt road!"
    assert aro_pre_caption(caption) == "a man with a red helmet on a small moped on a dirt road"
    assert aro_pre_caption(" ".join(["w"] * 40)).count("w") == 30
    outs = order_perturbations(caption, seed=0)
    assert len(outs) == 4 and outs == order_perturbations(caption, seed=0)
    base = sorted(aro_pre_caption(caption).split())
    for out in outs:
        assert sorted(out.split()) == base  # a permutation of the same words
    # nouns/adjectives keep the positions of nouns/adjectives; the rest stays put
    words = aro_pre_caption(caption).split()
    first = outs[0].split()
    moved = {i for i, (a, b) in enumerate(zip(words, first)) if a != b}
    assert {words[i] for i in moved} <= {"man", "red", "helmet", "small", "moped", "dirt", "road"}
    # ARO shuffles raw tokens, then pre-processes: check trigrams on a caption without punctuation
    plain = "a man with a red helmet on a small moped on grass"  # 12 words: 4 full trigrams
    words = plain.split()
    within, across = order_perturbations(plain, seed=1)[2:]
    for k in range(0, len(words), 3):
        assert sorted(within.split()[k:k + 3]) == sorted(words[k:k + 3])
    trigrams = sorted(" ".join(words[k:k + 3]) for k in range(0, len(words), 3))
    assert sorted(" ".join(across.split()[k:k + 3]) for k in range(0, len(words), 3)) == trigrams


def test_cache_cli_end_to_end(tmp_path: Path) -> None:
    src = tmp_path / "caps.jsonl"
    src.write_text('{"caption": "A dog chasing a cat on the grass.", "image": "a.jpg"}\n'
                   '{"caption": ""}\n'
                   'not json\n'
                   '{"caption": "A red circle above a blue square.", "image": "b.jpg"}\n')
    out = tmp_path / "neg.parquet"
    rc = negtool.main([str(src), "--output", str(out), "--seed", "7", "--no-progress", "--tagger", "builtin"])
    assert rc == 0
    frame = load_negatives_cache(out)
    assert list(frame.columns) == ["image_id", "caption_id", "image_path", "location", "caption", *ALL_TYPES]
    assert len(frame) == 2 and frame.attrs["ahnpl_negatives_seed"] == "7"
    assert frame.attrs["ahnpl_negatives_version"] == negmod.GENERATOR_VERSION
    assert frame["relation"].tolist() == ["A cat chasing a dog on the grass.", "A red square above a blue circle."]
    assert frame["verb"].isna().tolist()[1]  # no verb in the shapes caption: never faked
    assert frame["location"].tolist() == ["caps.jsonl:line 1", "caps.jsonl:line 4"]
    generator = NegativeGenerator(seed=7, tagger="builtin")
    for i, caption in enumerate(["A dog chasing a cat on the grass.", "A red circle above a blue square."]):
        row = frame.iloc[i]
        assert {k: (row[k] if isinstance(row[k], str) else None) for k in ALL_TYPES} == generator.generate(caption)


def test_cache_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pyarrow.parquet as pq

    def boom(*args: object, **kwargs: object) -> None:
        Path(args[1]).write_bytes(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(pq, "write_table", boom)
    out = tmp_path / "neg.parquet"
    with pytest.raises(KeyboardInterrupt):
        build_negatives_cache(["A dog on a bed."], out, progress=False, tagger="builtin")
    assert list(tmp_path.iterdir()) == []


def test_cache_generation_failure_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(self: NegativeGenerator, captions: list[str]) -> list[dict]:
        raise RuntimeError("interrupted")

    monkeypatch.setattr(NegativeGenerator, "generate_many", fail)
    with pytest.raises(RuntimeError):
        build_negatives_cache(["A dog on a bed."], tmp_path / "x.parquet", progress=False, tagger="builtin")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_cache_with_worker_pool_matches_serial(tmp_path: Path) -> None:
    captions = ["A man rides a bike down the street.", "A red circle above a blue square."] * 3
    serial = build_negatives_cache(captions, tmp_path / "a.parquet", workers=1, progress=False, tagger="builtin")
    pooled = build_negatives_cache(captions, tmp_path / "b.parquet", workers=2, progress=False, tagger="builtin",
                                   chunk_size=2)
    assert load_negatives_cache(serial).equals(load_negatives_cache(pooled))


def test_adj_swap_skips_coordinated_phrases_with_the_same_noun(gen: NegativeGenerator) -> None:
    # swapping between "a red cat" and "a black cat" only reorders a conjunction: not a negative
    assert gen.generate("A red cat and a black cat.")["adj_swap"] is None
    # with a relation between them, or different nouns, the swap does change the meaning
    assert gen.generate("A red circle to the left of a blue circle.")["adj_swap"] == \
        "A blue circle to the left of a red circle."
    assert gen.generate("A red car and a black bus.")["adj_swap"] == "A black car and a red bus."
