from bot.knowledge.language import analyse, build_lexicon, normalise, words


def test_normalise_folds_accents_case_and_contractions() -> None:
    assert normalise("Café’s WE’VE can't") == "cafe we have ca not"


def test_words_drop_punctuation_emoji_and_control_characters() -> None:
    assert words("Ofsted!!! 🙏\x00 rang\u202e today <b>") == ["ofsted", "rang", "today", "b"]


def test_right_to_left_text_yields_no_words_rather_than_failing() -> None:
    assert words("مرحبا שלום") == []


def test_synonym_phrases_map_to_their_canonical_stems_on_both_sides() -> None:
    lexicon = build_lexicon(
        ["the", "a", "for"], [["headteacher", "ht", "head teacher"], ["cost", "how much"]]
    )
    assert analyse(words("How much for the HT"), lexicon) == analyse(
        words("cost headteacher"), lexicon
    )
    assert analyse(words("a head teacher"), lexicon) == ["headteach"]


def test_stopwords_are_dropped_but_phrases_containing_them_still_match() -> None:
    lexicon = build_lexicon(["how", "much", "is"], [["cost", "how much"]])
    assert analyse(words("how much is it"), lexicon) == ["cost", "it"]
    assert analyse(words("how is it"), lexicon) == ["it"]


def test_a_variant_of_a_stopword_is_dropped_too() -> None:
    lexicon = build_lexicon(["please"], [["please", "pls"]])
    assert analyse(words("pls help"), lexicon) == ["help"]
