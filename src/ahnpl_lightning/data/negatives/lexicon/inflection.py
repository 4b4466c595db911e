"""English inflection for replacements: noun plurals, verb forms by Penn tag (lemminflect), a/an, letter case."""

from __future__ import annotations

import functools

from ahnpl_lightning.data.negatives.lexicon.words import IRREGULAR_PLURALS, Lexicon

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


@functools.lru_cache(maxsize=65536)
def _lemminflect(lemma: str, tag: str) -> str | None:
    """lemminflect's first form of ``lemma`` for Penn ``tag`` (its shipped tables, then its rules), or None."""
    from lemminflect import getInflection

    forms = getInflection(lemma, tag=tag)
    return forms[0] if forms else None


def pluralize(noun: str) -> str:
    """English plural of a singular noun: curated irregulars, then lemminflect; a collocation inflects its head."""
    if " " in noun or "_" in noun:
        *head, last = noun.replace("_", " ").split(" ")
        return " ".join([*head, pluralize(last)])
    if noun in _SINGULAR_TO_PLURAL:
        return _SINGULAR_TO_PLURAL[noun]
    if noun.endswith("man") and len(noun) > 3 and noun not in {"human", "german", "shaman"}:
        return noun[:-3] + "men"
    form = _lemminflect(noun, "NNS")
    if form:
        return form
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and len(noun) > 1 and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    if noun in _O_ES:
        return noun + "es"
    return noun + "s"


_SINGULAR_TO_PLURAL = {singular: plural for plural, singular in reversed(IRREGULAR_PLURALS.items())}


def inflect_verb(lemma: str, tag: str, lexicon: Lexicon | None = None) -> str:
    """``lemma`` in the form of Penn tag ``tag`` (VB/VBP, VBZ, VBG, VBD, VBN): curated irregulars, then lemminflect
    ("spread" -> "spread", never "spreaded"); a phrasal lemma ("pick_up") inflects its first word."""
    if "_" in lemma or " " in lemma:
        first, *rest = lemma.replace("_", " ").split(" ")
        return " ".join([inflect_verb(first, tag, lexicon), *rest])
    if tag in {"VB", "VBP"}:
        return lemma
    if tag in {"VBD", "VBN"} and lemma in _VERB_IRREGULAR:
        return _VERB_IRREGULAR[lemma][1 if tag == "VBN" else 0]
    form = _lemminflect(lemma, tag)
    if form:
        return form
    if tag == "VBZ":
        return lemma + ("es" if lemma.endswith(("s", "x", "z", "ch", "sh", "o")) else "s")
    if tag == "VBG":
        return (lemma[:-1] if lemma.endswith("e") and not lemma.endswith("ee") else lemma) + "ing"
    return lemma + ("d" if lemma.endswith("e") else "ed")


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

