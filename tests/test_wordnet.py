"""Offline WordNet discovery/installation and the built-in tagger."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from ahnpl_lightning.data.negatives import tagger as tagmod
from ahnpl_lightning.data.negatives.lexicon import wordnet as wnmod
from ahnpl_lightning.data.negatives.lexicon.wordnet_index import WordNetIndex, get_wordnet_index, synset_id
from ahnpl_lightning.data.negatives.lexicon.words import get_lexicon
from ahnpl_lightning.data.negatives.tagger import BuiltinTagger, get_tagger, tokenize


def test_lexnames_match_wordnet_standard_order() -> None:
    lines = wnmod.lexnames_text().splitlines()
    assert len(lines) == 45
    assert lines[0] == "00\tadj.all\t3"
    assert lines[3] == "03\tnoun.Tops\t1"
    assert lines[5] == "05\tnoun.animal\t1"
    assert lines[29] == "29\tverb.body\t2"
    assert lines[44] == "44\tadj.ppl\t3"


def test_wordnet_loads_and_lexnames_resolve() -> None:
    wn = wnmod.get_wordnet()
    assert wn.synset("dog.n.01").lexname() == "noun.animal"  # lexicographer file 05
    assert wn.synset("run.v.01").lexname() == "verb.motion"  # 38
    assert wn.synset("red.a.01").lexname() == "adj.all"


def test_ensure_wordnet_builds_from_system_copy(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    for name in wnmod.WORDNET_FILES:
        (source / name).write_text(f"fake {name}\n")
    data_dir = wnmod.ensure_wordnet(tmp_path / "nltk", source=source)
    corpus = data_dir / "corpora" / "wordnet"
    assert (corpus / "lexnames").read_text() == wnmod.lexnames_text()
    assert (corpus / "data.noun").read_text() == "fake data.noun\n"
    import nltk

    assert nltk.data.path[0] == str(data_dir)
    nltk.data.path.remove(str(data_dir))


def test_missing_wordnet_names_both_install_routes(tmp_path: Path) -> None:
    with pytest.raises(wnmod.WordNetNotFoundError) as err:
        wnmod.ensure_wordnet(tmp_path / "nltk", source=tmp_path / "nowhere")
    assert "apt-get install wordnet-base wordnet-sense-index" in str(err.value)
    assert "nltk.download('wordnet')" in str(err.value)
    assert wnmod.main([]) == 0  # the default cache is already built in this environment


def test_tokenize_keeps_spans_and_splits_clitics() -> None:
    toks = tokenize("A man's hat, isn't red.")
    assert [t.text for t in toks] == ["A", "man", "'s", "hat", ",", "is", "n't", "red", "."]
    assert all("A man's hat, isn't red."[t.start:t.end] == t.text for t in toks)


@pytest.mark.parametrize(
    ("caption", "expected"),
    [
        ("A man rides a bike down the street.", "DT NN VBZ DT NN RP DT NN ."),
        ("Two dogs play in the park.", "CD NNS VBP IN DT NN ."),
        # a reduced relative after a noun is a participle (Penn: VBN); before 0.2 this said VBD
        ("A red car parked next to a blue bus.", "DT JJ NN VBN RB TO DT JJ NN ."),
        ("A small white dog sleeping on a couch.", "DT JJ JJ NN VBG IN DT NN ."),
        ("A woman is holding an umbrella.", "DT NN VBZ VBG DT NN ."),
        ("a red and white train and a man riding a bicycle", "DT JJ CC JJ NN CC DT NN VBG DT NN"),
        ("A tennis court with a net.", "DT NN NN IN DT NN ."),
        ("Glasses and bottles are placed near a kitchen sink.", "NNS CC NNS VBP VBN IN DT NN NN ."),
    ],
)
def test_builtin_tagger_on_captions(caption: str, expected: str) -> None:
    words = [t.text for t in tokenize(caption)]
    assert " ".join(BuiltinTagger().tag(words)) == expected


def test_builtin_tagger_accuracy_on_hand_tagged_captions() -> None:
    gold = [
        ("A/DT young/JJ girl/NN is/VBZ preparing/VBG to/TO blow/VB out/RP her/PRP$ candle/NN"),
        ("A/DT kitchen/NN with/IN two/CD windows/NNS and/CC two/CD metal/NN sinks/NNS"),
        ("The/DT table/NN is/VBZ full/JJ of/IN wooden/JJ spoons/NNS and/CC utensils/NNS"),
        ("there/EX is/VBZ a/DT cat/NN on/IN the/DT bed/NN"),
        ("A/DT man/NN riding/VBG a/DT bike/NN past/IN a/DT train/NN traveling/VBG along/IN tracks/NNS"),
    ]
    tagger = BuiltinTagger()
    right = total = 0
    for line in gold:
        words, tags = zip(*(pair.rsplit("/", 1) for pair in line.split()))
        predicted = tagger.tag(list(words))
        right += sum(p == g for p, g in zip(predicted, tags))
        total += len(tags)
    assert right / total >= 0.95


def test_nltk_backend_is_used_when_available(monkeypatch: pytest.MonkeyPatch) -> None:
    import nltk.tag.perceptron as perceptron

    class FakePerceptron:
        def tag(self, words: list[str]) -> list[tuple[str, str]]:
            return [(w, "NN") for w in words]

    monkeypatch.setattr(perceptron, "PerceptronTagger", FakePerceptron)
    monkeypatch.setattr(tagmod, "nltk_tagger_available", lambda: True)
    get_tagger.cache_clear()
    try:
        assert get_tagger("auto")(["a", "dog"]) == ["NN", "NN"]
        monkeypatch.setattr(tagmod, "nltk_tagger_available", lambda: False)
        get_tagger.cache_clear()
        assert get_tagger("auto")(["a", "dog"]) == ["DT", "NN"]
    finally:
        get_tagger.cache_clear()
    with pytest.raises(ValueError, match="unknown tagger backend"):
        get_tagger("spacy")


def test_lexicon_morphology() -> None:
    lex = get_lexicon()
    assert lex.lemmas("riding", "v")[0] == "ride"
    assert lex.lemmas("children", "n")[0] == "child"
    assert lex.lemmas("boxes", "n")[0] == "box"
    assert lex.count("man", "n") > lex.count("man", "v")


# --- WordNetIndex: the fast reader used by negative generation -----------------------------------------------------
def _ids(synsets: list) -> set[int]:
    return {synset_id(s.pos(), s.offset()) for s in synsets}


def test_index_agrees_with_nltk_on_a_sample() -> None:
    """Same synsets per word (morphy, sense order), lexnames, names and pointers as nltk's reader."""
    wn, index, lexicon = wnmod.get_wordnet(), get_wordnet_index(), get_lexicon()
    rng = random.Random(0)
    words = [("dogs", "n"), ("geese", "n"), ("passes", "n"), ("glasses", "n"), ("rode", "v"), ("running", "v"),
             ("bigger", "a"), ("galore", "a"), ("asleep", "a"), ("red", "a"), ("nonexistentword", "n")]
    for pos in "nva":
        words += [(w, pos) for w in rng.sample(sorted(lexicon.words[pos]), 60)]
    n_synsets = 0
    for word, pos in words:
        reference = wn.synsets(word, pos)
        sids = index.synsets(word, pos)
        assert sids == [synset_id(s.pos(), s.offset()) for s in reference], (word, pos)
        for sid, ref in zip(sids, reference):
            n_synsets += 1
            # the head-only paths first (before the full parse is memoised), then the full record
            assert index.lexname(sid) == ref.lexname() and list(index.names(sid)) == ref.lemma_names()
            record = index.synset(sid)
            assert (record.pos, record.lexname, list(record.names)) == (ref.pos(), ref.lexname(), ref.lemma_names())
            assert set(index.related(sid, "@")) == _ids(ref.hypernyms())
            assert set(index.related(sid, "@i")) == _ids(ref.instance_hypernyms())
            assert set(index.related(sid, "~", "~i")) == _ids(ref.hyponyms() + ref.instance_hyponyms())
            assert set(index.related(sid, "&")) == _ids(ref.similar_tos())
            assert set(index.related(sid, "=")) == _ids(ref.attributes())
            for lemma in ref.lemmas():
                assert index.lemma_related(sid, lemma.name(), "!") == [a.name() for a in lemma.antonyms()]
            assert index.closure(sid, ("@", "@i")) == _ids(list(ref.closure(
                lambda s: s.hypernyms() + s.instance_hypernyms())))
    assert n_synsets > 300
    assert index.synsets("nonexistentword", "n") == []


def _write_tiny_wordnet(root: Path) -> dict[str, int]:
    """A four-file WordNet in wndb(5) format: entity > animal > dog (antonym: cat), a hypernym cycle x <-> y."""
    synsets = {  # key: (lexfile, names, pointers as (symbol, target key, source/target))
        "entity": ("03", ["entity"], [("~", "animal", "0000")]),
        "animal": ("05", ["animal", "beast"], [("@", "entity", "0000"), ("~", "dog", "0000"), ("~", "cat", "0000")]),
        "dog": ("05", ["dog", "domestic_dog"], [("@", "animal", "0000"), ("!", "cat", "0101")]),
        "cat": ("05", ["cat"], [("@", "animal", "0000"), ("!", "dog", "0101")]),
        "x": ("03", ["x"], [("@", "y", "0000")]),
        "y": ("03", ["y"], [("@", "x", "0000")]),
    }
    header = "  1 a license line  \n  2 another one  \n"

    def line(key: str, offsets: dict[str, int]) -> str:
        lex, names, pointers = synsets[key]
        words = " ".join(f"{n} 0" for n in names)
        ptrs = " ".join(f"{sym} {offsets[t]:08d} n {ids}" for sym, t, ids in pointers)
        return f"{offsets[key]:08d} {lex} n {len(names):02x} {words} {len(pointers):03d} {ptrs} | a gloss  \n"

    offsets = dict.fromkeys(synsets, 0)
    at = len(header)
    for key in synsets:  # offsets are fixed-width, so line lengths do not depend on them
        offsets[key] = at
        at += len(line(key, offsets))
    (root / "data.noun").write_text(header + "".join(line(k, offsets) for k in synsets))
    index = [f"{n} n 1 1 @ 1 0 {offsets[k]:08d}  \n" for k in synsets for n in synsets[k][1]]
    (root / "index.noun").write_text(header + "".join(sorted(index)))
    (root / "noun.exc").write_text("doggies dog\n")
    return {k: synset_id("n", v) for k, v in offsets.items()}


def test_index_on_a_hand_made_database(tmp_path: Path) -> None:
    ids = _write_tiny_wordnet(tmp_path)
    index = WordNetIndex(tmp_path)
    assert index.synsets("Dogs", "n") == [ids["dog"]]  # lower-cased, rule "s" -> ""
    assert index.morphy("doggies", "n") == ["dog"]  # exception list
    assert index.synsets("beast", "n") == [ids["animal"]]
    assert index.lexname(ids["dog"]) == "noun.animal" and index.lexname(ids["entity"]) == "noun.Tops"
    assert index.names(ids["dog"]) == ("dog", "domestic_dog")
    assert index.related(ids["animal"], "~") == (ids["dog"], ids["cat"])
    assert index.related(ids["dog"], "@", "~") == (ids["animal"],)
    assert index.lemma_related(ids["dog"], "dog", "!") == ["cat"]
    assert index.lemma_related(ids["dog"], "domestic_dog", "!") == []
    assert index.synset(ids["dog"]).pointers == {"@": (ids["animal"],)}  # lexical pointers kept apart
    assert index.closure(ids["dog"], ("@",)) == {ids["animal"], ids["entity"]}
    assert index.closure(ids["x"], ("@",)) == {ids["y"]}  # a cycle ends, the start excluded
    with pytest.raises(KeyError, match="no synset at byte 3"):
        index.synset(synset_id("n", 3))


def test_index_reports_a_malformed_index_line(tmp_path: Path) -> None:
    _write_tiny_wordnet(tmp_path)
    (tmp_path / "index.noun").write_text("dog n 2 1 @ 1 0 00000099\n")  # two synsets announced, one listed
    with pytest.raises(ValueError, match="index.noun: malformed line for 'dog'"):
        WordNetIndex(tmp_path).synsets("dog", "n")
