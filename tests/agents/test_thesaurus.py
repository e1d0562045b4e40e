import threading

import pytest

from agents import thesaurus
from agents.bm25 import content_terms
from agents.thesaurus import expansions, normalise, same_terms


def terms(text: str) -> set[str]:
    return same_terms(content_terms(normalise(text)))


def test_synonyms_and_phrases_are_one_term() -> None:
    assert terms("I want my money back") == terms("I want a refund") == terms("I want credit")
    assert terms("Wi-Fi") == terms("wifi") == terms("wireless network")
    assert terms("after a crash") == terms("after an accident")
    assert terms("at least 16") == terms("minimum 16")
    # What customers write: "nicked" for stolen, "pause" for freeze, a "mate" for a guest.
    assert terms("my phone was nicked") == terms("my phone was stolen")
    assert terms("pause my membership") == terms("freeze my membership")
    assert terms("bring a mate") == terms("bring a guest")
    assert terms("share it with a colleague") == terms("share it with a person")


def test_irregular_verb_forms_are_the_verb() -> None:
    assert terms("it was paid") == terms("you pay")
    assert terms("the receipt is sent") == terms("we send the receipt")


def test_a_phrase_keeps_its_own_meaning() -> None:
    # A credit card is no refund, though "credit" alone is.
    assert terms("pay by credit card") != terms("pay by refund card")
    assert "refund" not in terms("pay by credit card")


def test_words_of_no_group_are_left_as_they_are() -> None:
    assert terms("the router's lights") == content_terms("the router's lights")
    assert expansions("router") == ["modem"]
    assert expansions("lighthouse") == []


def test_a_phrasal_verb_is_one_term_with_its_object_between() -> None:
    assert terms("drop my books off") == terms("return my books")
    assert terms("push the installation back") == terms("reschedule the installation")
    assert terms("sign my son up") == terms("register my son")
    # Too far apart, or a verb whose split form means something else, stays as it is.
    assert "return" not in terms("drop a line to the front desk and walk off")
    assert "arrive" not in terms("turn the heating up")


def test_a_workers_threads_build_the_tables_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import agents.bm25

    calls = []
    real = agents.bm25.content_terms

    def counted(text: str) -> set[str]:
        calls.append(text)
        return real(text)

    monkeypatch.setattr(agents.bm25, "content_terms", counted)
    thesaurus._built_tables.cache_clear()
    thesaurus.load()
    once = len(calls)
    thesaurus._built_tables.cache_clear()
    calls.clear()
    start = threading.Barrier(16)

    def search() -> None:
        start.wait()
        thesaurus.normalise("how do I get my money back")

    threads = [threading.Thread(target=search) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert once > 0 and len(calls) == once
    thesaurus._built_tables.cache_clear()
