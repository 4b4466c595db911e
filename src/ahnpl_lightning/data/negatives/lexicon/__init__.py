"""The lexicon of the negatives generator: WordNet (files, fast index), word lists and morphology, inflection."""
