"""Tests of teaching the bot its gaps (bot/teaching, /teach, the `hotline faq` commands)."""


def clash_with(question: str) -> str:
    """Another entry's question with one more stopword: the same words to the matcher and nearly
    the same sentence to the embedding model, so taught to another entry it takes that entry's
    answer away (with either matcher)."""
    assert " is " in question
    return question.replace(" is ", " is so ", 1)
