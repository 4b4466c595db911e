"""English inflection for replacements: noun plurals, verb forms by Penn tag, the a/an article, letter case."""

from __future__ import annotations

from ahnpl_lightning.data.negatives.lexicon.words import IRREGULAR_PLURALS, Lexicon, get_lexicon

__all__ = ["pluralize", "inflect_verb", "article_for", "match_case"]

_O_ES = {"tomato", "potato", "hero", "echo", "volcano", "mosquito", "torpedo", "veto"}
_VERB_IRREGULAR: dict[str, tuple[str, str]] = {  # lemma -> (past, past participle)
    "sit": ("sat", "sat"), "stand": ("stood", "stood"), "run": ("ran", "run"), "ride": ("rode", "ridden"),
    "eat": ("ate", "eaten"), "drink": ("drank", "drunk"), "hold": ("held", "held"), "lie": ("lay", "lain"),
    "fly": ("flew", "flown"), "swim": ("swam", "swum"), "throw": ("threw", "thrown"), "catch": ("caught", "caught"),
    "hit": ("hit", "hit"), "take": ("took", "taken"), "give": ("gave", "given"), "make": ("made", "made"),
    "go": ("went", "gone"), "see": ("saw", "seen"), "wear": ("wore", "worn"), "hang": ("hung", "hung"),
    "lead": ("led", "led"), "feed": ("fed", "fed"), "fall": ("fell", "fallen"), "draw": ("drew", "drawn"),
    "drive": ("drove", "driven"), "break": ("broke", "broken"), "blow": ("blew", "blown"), "grow": ("grew", "grown"),
    "build": ("built", "built"), "bring": ("brought", "brought"), "buy": ("bought", "bought"), "cut": ("cut", "cut"),
    "put": ("put", "put"), "set": ("set", "set"), "lay": ("laid", "laid"), "leave": ("left", "left"),
    "sleep": ("slept", "slept"), "swing": ("swung", "swung"), "kneel": ("knelt", "knelt"), "bite": ("bit", "bitten"),
    "shake": ("shook", "shaken"), "slide": ("slid", "slid"), "light": ("lit", "lit"), "dig": ("dug", "dug"),
    "get": ("got", "gotten"), "spin": ("spun", "spun"), "sing": ("sang", "sung"), "shoot": ("shot", "shot"),
    "lean": ("leaned", "leaned"), "smell": ("smelled", "smelled"), "cry": ("cried", "cried"),
}


def pluralize(noun: str) -> str:
    """English plural of a singular noun (curated irregulars, then the regular spelling rules)."""
    if noun in IRREGULAR_PLURALS.values():
        return next(p for p, s in IRREGULAR_PLURALS.items() if s == noun)
    if noun.endswith("man") and len(noun) > 3 and noun not in {"human", "german", "shaman"}:
        return noun[:-3] + "men"
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and len(noun) > 1 and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    if noun in _O_ES:
        return noun + "es"
    return noun + "s"


def _third_person(verb: str) -> str:
    if verb in {"have", "be", "do", "go"}:
        return {"have": "has", "be": "is", "do": "does", "go": "goes"}[verb]
    if verb.endswith(("s", "x", "z", "ch", "sh", "o")):
        return verb + "es"
    if verb.endswith("y") and verb[-2:-1] not in ("a", "e", "i", "o", "u"):
        return verb[:-1] + "ies"
    return verb + "s"


def inflect_verb(lemma: str, tag: str, lexicon: Lexicon | None = None) -> str:
    """``lemma`` in the form of Penn tag ``tag`` (VB/VBP, VBZ, VBG, VBD, VBN); WordNet's verb.exc for the rest."""
    if tag in {"VB", "VBP"}:
        return lemma
    if tag == "VBZ":
        return _third_person(lemma)
    exceptions = _inverse_verb_exceptions(lexicon).get(lemma, ())
    if tag == "VBG":
        for form in exceptions:
            if form.endswith("ing"):
                return form
        if lemma.endswith("ie"):
            return lemma[:-2] + "ying"
        if lemma.endswith("e") and not lemma.endswith(("ee", "ye", "oe")) and len(lemma) > 2:
            return lemma[:-1] + "ing"
        return lemma + "ing"
    if lemma in _VERB_IRREGULAR:
        return _VERB_IRREGULAR[lemma][1 if tag == "VBN" else 0]
    past = [f for f in exceptions if not f.endswith(("ing", "s"))]
    if past:
        participles = [f for f in past if f.endswith("n")]
        return (participles or past)[0] if tag == "VBN" else ([f for f in past if f not in participles] or past)[0]
    if lemma.endswith("e"):
        return lemma + "d"
    if lemma.endswith("y") and lemma[-2:-1] not in ("a", "e", "i", "o", "u"):
        return lemma[:-1] + "ied"
    return lemma + "ed"


_INVERSE_EXC: dict[int, dict[str, tuple[str, ...]]] = {}


def _inverse_verb_exceptions(lexicon: Lexicon | None) -> dict[str, tuple[str, ...]]:
    lex = lexicon or get_lexicon()
    hit = _INVERSE_EXC.get(id(lex))
    if hit is None:
        inverse: dict[str, list[str]] = {}
        for form, lemmas in sorted(lex.exceptions["v"].items()):
            for lemma in lemmas:
                inverse.setdefault(lemma, []).append(form)
        hit = _INVERSE_EXC[id(lex)] = {k: tuple(v) for k, v in inverse.items()}
    return hit


def article_for(word: str) -> str:
    """'a' or 'an' for the following ``word`` (by its first sound, with the common exceptions)."""
    w = word.lower()
    if w.startswith(("hour", "honest", "honor", "honour", "heir")):
        return "an"
    if w.startswith(("uni", "use", "usu", "uti", "ute", "eu", "one", "once", "ewe", "ur")):
        return "a"
    return "an" if w[:1] in set("aeiou") else "a"


def match_case(template: str, word: str) -> str:
    if template.isupper() and len(template) > 1:
        return word.upper()
    if template[:1].isupper():
        return word[:1].upper() + word[1:]
    return word

