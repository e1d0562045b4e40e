"""Benchmark data readers: SMART, TREC and BEIR collections, translations, SQuAD, JSON Lines.

The collections are tiny hand-written fixtures under ``tests/data/``; malformed input is
written to a temporary directory by each test.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from agents.documents import Document
from orchestrator.errors import UserError
from orchestrator.eval.datasets import (
    DatasetError,
    Format,
    Question,
    RetrievalSet,
    detect_format,
    load_jsonl_pairs,
    load_retrieval,
    load_squad,
    read_lines,
)

DATA = Path(__file__).resolve().parents[2] / "data"
SMART = DATA / "smart"
TREC = DATA / "trec"
BEIR = DATA / "beir"

SMART_DOCUMENTS = [
    Document(
        id="1",
        title="experimental investigation of the aerodynamics of a wing in a slipstream .",
        text="experimental investigation of the aerodynamics of a wing in a slipstream . "
        "an experimental study of a wing in a propeller slipstream was made .",
    ),
    Document(
        id="2",
        title="simple shear flow past a flat plate in an incompressible fluid of small viscosity .",
        text="simple shear flow past a flat plate in an incompressible fluid of small viscosity .",
    ),
    Document(
        id="3",
        title="the boundary layer in simple shear flow past a flat plate .",
        text="the boundary-layer equations are presented for steady incompressible flow with no "
        "pressure gradient .",
    ),
    # No .W: the title stands in for the text.
    Document(
        id="4",
        title="approximate solutions of the incompressible laminar boundary layer equations for "
        "a plate in shear flow .",
        text="approximate solutions of the incompressible laminar boundary layer equations for "
        "a plate in shear flow .",
    ),
]
# .I 001, 002, 004: ids are numbers, and the gap is kept.
SMART_QUERIES = {
    "1": "what similarity laws must be obeyed when constructing aeroelastic models of heated "
    "high speed aircraft .",
    "2": "what are the structural and aeroelastic problems associated with flight of high speed "
    "aircraft .",
    "4": "what problems of heat conduction in composite slabs have been solved so far .",
}


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def raised(call: Callable[[], object]) -> str:
    """The message of the DatasetError that ``call`` raises."""
    with pytest.raises(DatasetError) as info:
        call()
    return str(info.value)


# -- format detection ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("corpus", "expected"),
    [
        (SMART / "docs.all", "smart"),
        (SMART / "crlf.all", "smart"),
        (TREC / "docs.trec", "trec"),
        (BEIR / "corpus.jsonl", "beir"),
    ],
)
def test_detect_format_of_the_fixtures(corpus: Path, expected: Format) -> None:
    assert detect_format(corpus) == expected


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("leading-space.all", "\n\n   .I 1\n.W\ntext\n", "smart"),
        ("lower.trec", "  <doc>\n<docno> D1 </docno>\n</doc>\n", "trec"),
        # A .jsonl file is BEIR by its name, whatever it holds.
        ("corpus.jsonl", ".I 1\n.W\ntext\n", "beir"),
    ],
)
def test_detect_format_from_first_characters(
    tmp_path: Path, name: str, text: str, expected: Format
) -> None:
    assert detect_format(write(tmp_path, name, text)) == expected


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("corpus.txt", "Hello world.\n.I 1\n"),
        ("corpus.json", '{"_id": "d1", "text": "a"}\n'),
        ("empty.txt", ""),
    ],
)
def test_detect_format_of_an_unknown_corpus(tmp_path: Path, name: str, text: str) -> None:
    corpus = write(tmp_path, name, text)
    assert raised(lambda: detect_format(corpus)) == (
        f"cannot tell the format of {corpus}: pass --format smart, trec or beir "
        "(SMART starts with '.I', TREC with '<DOC>', BEIR is corpus.jsonl)"
    )


def test_a_corpus_of_unknown_format_is_not_loaded(tmp_path: Path) -> None:
    corpus = write(tmp_path, "corpus.txt", "Just some prose.\n")
    message = raised(lambda: load_retrieval(corpus, TREC / "topics.txt", TREC / "qrels.txt", None))
    assert message.startswith(f"cannot tell the format of {corpus}: pass --format")


# -- RetrievalSet -------------------------------------------------------------------


def test_judged_are_the_queries_with_a_positive_grade() -> None:
    found = RetrievalSet(
        documents=[Document(id="a", title="", text="a")],
        queries={"1": "one", "2": "two", "3": "three", "4": "four", "5": "five"},
        qrels={
            "1": {"a": 0, "b": 2},
            "2": {"a": 0},  # judged, none relevant
            "4": {"a": -1},
            "5": {"c": 1},
            "9": {"a": 1},  # not a query of the set
        },
    )
    assert found.judged == {"1": "one", "5": "five"}


def test_judged_without_qrels_is_empty() -> None:
    assert RetrievalSet(documents=[], queries={"1": "one"}).judged == {}


# -- SMART --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["smart", None])
def test_smart_documents_and_queries(fmt: Format | None) -> None:
    found = load_retrieval(SMART / "docs.all", SMART / "queries.qry", SMART / "cranfield.rel", fmt)
    assert found.documents == SMART_DOCUMENTS
    assert found.queries == SMART_QUERIES


def test_smart_cranfield_relevance_numbers_queries_by_position() -> None:
    found = load_retrieval(SMART / "docs.all", SMART / "queries.qry", SMART / "cranfield.rel", None)
    # Codes 1-4 are grades 4-1, code 5 is grade 0, the -1 lines are not judgments; the
    # third query of the file (position 3) is .I 004.
    assert found.qrels == {
        "1": {"2": 4, "3": 1},
        "2": {"4": 3, "1": 0},
        "4": {"3": 2},
    }
    assert found.judged == SMART_QUERIES


def test_smart_trec_relevance_layout() -> None:
    found = load_retrieval(
        SMART / "docs.all", SMART / "queries.qry", SMART / "trec_layout.rel", None
    )
    # "004" is query 4: the query column is read as .I ids, not positions.
    assert found.qrels == {"1": {"2": 1, "3": 0}, "2": {"4": 2}, "4": {"1": 1}}
    assert found.judged == SMART_QUERIES


def test_smart_presence_relevance_layout() -> None:
    found = load_retrieval(SMART / "docs.all", SMART / "queries.qry", SMART / "presence.rel", None)
    assert found.qrels == {"1": {"2": 1, "3": 1}, "4": {"1": 1}}
    assert found.judged == {"1": SMART_QUERIES["1"], "4": SMART_QUERIES["4"]}


def test_smart_with_crlf_line_endings() -> None:
    for name in ("crlf.all", "crlf.qry", "crlf.rel"):
        assert b"\r\n" in (SMART / name).read_bytes()  # the fixture really is CRLF
    found = load_retrieval(SMART / "crlf.all", SMART / "crlf.qry", SMART / "crlf.rel", None)
    assert found.documents == [
        Document(id="1", title="wing in a slipstream .", text="an experimental study of a wing ."),
        Document(id="2", title="shear flow .", text="shear flow ."),
        Document(id="3", title="", text="no title here ."),
    ]
    # A query without .W is its .T.
    assert found.queries == {"1": "wing in a slipstream", "2": "shear flow"}
    assert found.qrels == {"1": {"1": 1}, "2": {"2": 1}}


@pytest.mark.parametrize(
    ("qrels", "expected"),
    [
        ("1 0005 1\n", {"1": {"5": 4}}),  # Cranfield
        ("1 0005 0 0.000000\n", {"1": {"5": 1}}),  # presence
        # BUG: the TREC layout keeps the document id "0005" as written, so it never
        # matches the document .I 0005 (read as "5") the other layouts find.
        ("1 0 0005 1\n", {"1": {"5": 1}}),
    ],
)
def test_smart_document_ids_in_relevance_are_numbers_in_every_layout(
    tmp_path: Path, qrels: str, expected: dict[str, dict[str, int]]
) -> None:
    corpus = write(tmp_path, "docs.all", ".I 0005\n.W\nwing flutter\n.I 0006\n.W\nshear\n")
    queries = write(tmp_path, "queries.qry", ".I 1\n.W\nflutter\n")
    found = load_retrieval(corpus, queries, write(tmp_path, "smart.rel", qrels), "smart")
    assert [document.id for document in found.documents] == ["5", "6"]
    assert found.qrels == expected


@pytest.mark.parametrize(
    ("qrels", "message"),
    [
        (
            "1 2\n1 3\n",
            "{path}: unknown relevance layout (columns per line: [2]); expected "
            "'query doc code', 'query 0 doc grade' or 'query doc 0 0.0'",
        ),
        (
            "1 2 1\n1 0 3 1\n",
            "{path}: unknown relevance layout (columns per line: [3, 4]); expected "
            "'query doc code', 'query 0 doc grade' or 'query doc 0 0.0'",
        ),
        ("1 2 1\n1 3 high\n", "{path}:2: 'high' is not a number"),
        ("1 0 2 1\n1 0 3 yes\n", "{path}:2: 'yes' is not a number"),
        # Three queries: positions 1-3 (5 and 0 are no .I id either).
        ("1 2 1\n\n5 3 2\n", "{path}:3: no query number 5"),
        ("0 2 1\n", "{path}:1: no query number 0"),
    ],
)
def test_bad_smart_relevance(tmp_path: Path, qrels: str, message: str) -> None:
    path = write(tmp_path, "smart.rel", qrels)
    assert raised(
        lambda: load_retrieval(SMART / "docs.all", SMART / "queries.qry", path, None)
    ) == message.format(path=path)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "docs.all",
            "\nPreface to the collection\n.I 1\n.W\ntext\n",
            "{path}:2: text before the first '.I' record",
        ),
        ("docs.all", ".I 1\n.W\ntext\n.I\n.W\nmore\n", "{path}:4: '.I' without an id"),
        (
            "queries.qry",
            "what is flutter\n.I 1\n.W\nflutter\n",
            "{path}:1: text before the first '.I' record",
        ),
    ],
)
def test_bad_smart_records(tmp_path: Path, name: str, text: str, message: str) -> None:
    files = {"docs.all": SMART / "docs.all", "queries.qry": SMART / "queries.qry"}
    files[name] = path = write(tmp_path, name, text)
    found = raised(
        lambda: load_retrieval(
            files["docs.all"], files["queries.qry"], SMART / "cranfield.rel", "smart"
        )
    )
    assert found == message.format(path=path)


def test_smart_relevance_that_judges_none_of_the_queries(tmp_path: Path) -> None:
    # Queries 7 and 8 are not in the query file; query 2's only document is not relevant.
    qrels = write(tmp_path, "smart.rel", "7 0 1 1\n8 0 2 2\n2 0 3 0\n")
    queries = SMART / "queries.qry"
    assert raised(lambda: load_retrieval(SMART / "docs.all", queries, qrels, None)) == (
        f"no query of {queries} has a relevant document in {qrels}: check that the files "
        "belong together and the --format"
    )


def test_a_smart_corpus_without_records(tmp_path: Path) -> None:
    corpus = write(tmp_path, "docs.all", "\n\n")
    queries, qrels = SMART / "queries.qry", SMART / "cranfield.rel"
    message = raised(lambda: load_retrieval(corpus, queries, qrels, "smart"))
    assert message == f"no documents in {corpus} (read as SMART)"


def test_empty_smart_documents_are_left_out_and_listed(tmp_path: Path) -> None:
    # Cranfield's 471 and 995 are records with nothing in their .T and .W fields.
    docs = (SMART / "docs.all").read_text() + ".I 471\n.T\n.A\n.B\n.W\n"
    corpus = write(tmp_path, "docs.all", docs)
    found = load_retrieval(corpus, SMART / "queries.qry", SMART / "cranfield.rel", "smart")
    assert found.empty == ["471"] and "471" not in {d.id for d in found.documents}
    assert found.documents

    only_empty = write(tmp_path, "empty.all", ".I 471\n.T\n.W\n.I 995\n.W\n")
    message = raised(
        lambda: load_retrieval(only_empty, SMART / "queries.qry", SMART / "cranfield.rel", "smart")
    )
    assert message == f"no documents in {only_empty} (read as SMART, only 2 empty ones)"


# -- TREC ---------------------------------------------------------------------------


def test_trec_collection() -> None:
    found = load_retrieval(TREC / "docs.trec", TREC / "topics.txt", TREC / "qrels.txt", None)
    assert found.documents == [
        # The title is also part of the text; tags go, entities are decoded.
        Document(
            id="FT911-1",
            title="Turks in Germany",
            text="Turks in Germany Foreign minorities in Germany face language and cultural "
            "barriers & discrimination.",
        ),
        Document(id="FT911-2", title="", text="Twin studies in behavioral genetics."),
        Document(id="LA010189-0003", title="", text="Quotas on imports of steel."),
    ]
    # The <title> is the query; <desc> and <narr> are not.
    assert found.queries == {
        "401": "foreign minorities, Germany",
        "402": "behavioral genetics",
        "403": "osteoporosis",
    }
    assert found.qrels == {
        "401": {"FT911-1": 1, "FT911-2": 0},
        "402": {"FT911-2": 2, "LA010189-0003": 0},
        "403": {"LA010189-0003": 0},
    }
    assert found.judged == {"401": "foreign minorities, Germany", "402": "behavioral genetics"}


def test_trec_topic_title_without_its_topic_prefix(tmp_path: Path) -> None:
    topics = write(
        tmp_path,
        "topics.txt",
        "<top>\n<head> Tipster Topic Description\n<num> Number: 151\n"
        "<dom> Domain: Law and Government\n<title> Topic:  Coping with\n overcrowded prisons\n\n"
        "<desc> Description:\nThe document will provide information.\n</top>\n",
    )
    qrels = write(tmp_path, "qrels.txt", "151 0 FT911-2 1\n")
    found = load_retrieval(TREC / "docs.trec", topics, qrels, "trec")
    assert found.queries == {"151": "Coping with overcrowded prisons"}


@pytest.mark.parametrize("qrels_query", ["51", "051"])
def test_trec_topic_numbers_with_leading_zeros_match_their_qrels(
    tmp_path: Path, qrels_query: str
) -> None:
    # TREC-1 and TREC-2 topic files write "Number: 051"; NIST's qrels write "51".
    # BUG: the qrels' query ids are read as numbers ("051" -> "51") but the topics' are
    # kept as written, so no topic is judged: load_retrieval raises "no query of ... has a
    # relevant document", even when both files say "051".
    topics = write(
        tmp_path,
        "topics.51-100",
        "<top>\n<num> Number: 051\n<title> Topic: Airbus Subsidies\n\n<desc> Description:\n"
        "Document will discuss government assistance to Airbus Industrie.\n</top>\n",
    )
    qrels = write(tmp_path, "qrels.51-100", f"{qrels_query} 0 FT911-1 1\n")
    found = load_retrieval(TREC / "docs.trec", topics, qrels, "trec")
    assert list(found.judged.values()) == ["Airbus Subsidies"]
    assert found.qrels.keys() == found.queries.keys()


def test_trec_headline_in_paragraphs_is_the_title(tmp_path: Path) -> None:
    # The LA Times (TREC disk 5) puts every field's text in <P> elements.
    # BUG: the title is read up to the first closing tag, so it keeps the "<P>" tag:
    # "<P> WORLD IN BRIEF: QUOTAS ON STEEL".
    corpus = write(
        tmp_path,
        "la.trec",
        "<DOC>\n<DOCNO> LA010189-0001 </DOCNO>\n<DOCID> 1 </DOCID>\n"
        "<HEADLINE>\n<P>\nWORLD IN BRIEF: QUOTAS ON STEEL\n</P>\n</HEADLINE>\n"
        "<TEXT>\n<P>\nImports fell.\n</P>\n</TEXT>\n</DOC>\n",
    )
    found = load_retrieval(corpus, TREC / "topics.txt", TREC / "qrels.txt", None)
    assert found.documents == [
        Document(
            id="LA010189-0001",
            title="WORLD IN BRIEF: QUOTAS ON STEEL",
            text="1 WORLD IN BRIEF: QUOTAS ON STEEL Imports fell.",
        )
    ]


def test_trec_title_entities_are_decoded_as_in_the_text(tmp_path: Path) -> None:
    # BUG: html.unescape is applied to the text only; the title stays "AT&amp;T profits rise".
    corpus = write(
        tmp_path,
        "ft.trec",
        "<DOC>\n<DOCNO>FT911-9</DOCNO>\n<HEAD>AT&amp;T profits rise</HEAD>\n"
        "<TEXT>Shares &lt;up&gt;.</TEXT>\n</DOC>\n",
    )
    found = load_retrieval(corpus, TREC / "topics.txt", TREC / "qrels.txt", None)
    assert found.documents == [
        Document(id="FT911-9", title="AT&T profits rise", text="AT&T profits rise Shares <up>.")
    ]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "docs.trec",
            "<DOC>\n<TEXT>No number.</TEXT>\n</DOC>\n",
            "{path}: a <DOC> without a <DOCNO>",
        ),
        ("topics.txt", "401 foreign minorities\n", "{path}: no <top> topics"),
        (
            "topics.txt",
            "<top>\n<num> Number: 401\n<desc> Description:\nx\n</top>\n",
            "{path}: a <top> without <num> or <title>",
        ),
        ("qrels.txt", "401 0 FT911-1 1\n401 FT911-2 1\n", "{path}:2: expected 'query 0 doc grade'"),
        ("qrels.txt", "\n401 0 FT911-1 high\n", "{path}:2: 'high' is not a number"),
    ],
)
def test_bad_trec_input(tmp_path: Path, name: str, text: str, message: str) -> None:
    files = {
        "docs.trec": TREC / "docs.trec",
        "topics.txt": TREC / "topics.txt",
        "qrels.txt": TREC / "qrels.txt",
    }
    files[name] = path = write(tmp_path, name, text)
    assert raised(
        lambda: load_retrieval(files["docs.trec"], files["topics.txt"], files["qrels.txt"], None)
    ) == message.format(path=path)


def test_a_trec_corpus_without_documents(tmp_path: Path) -> None:
    corpus = write(tmp_path, "docs.txt", "no documents here\n")
    message = raised(
        lambda: load_retrieval(corpus, TREC / "topics.txt", TREC / "qrels.txt", "trec")
    )
    assert message == f"no documents in {corpus} (read as TREC)"


def test_trec_qrels_that_judge_no_topic(tmp_path: Path) -> None:
    qrels = write(tmp_path, "qrels.txt", "401 0 FT911-1 0\n999 0 FT911-2 1\n")
    topics = TREC / "topics.txt"
    assert raised(lambda: load_retrieval(TREC / "docs.trec", topics, qrels, None)) == (
        f"no query of {topics} has a relevant document in {qrels}: check that the files "
        "belong together and the --format"
    )


# -- BEIR ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["beir", None])
def test_beir_collection(fmt: Format | None) -> None:
    found = load_retrieval(
        BEIR / "corpus.jsonl", BEIR / "queries.jsonl", BEIR / "qrels" / "test.tsv", fmt
    )
    # Blank lines and other keys are skipped; a missing or null title is "", ids are strings.
    assert found.documents == [
        Document(id="d1", title="Aspirin", text="Aspirin reduces the risk of heart attacks."),
        Document(id="d2", title="", text="Vitamin C does not prevent colds."),
        Document(id="3", title="", text="Statins lower cholesterol."),
        Document(id="d4", title="Sleep", text="Adults need seven hours of sleep."),
    ]
    assert found.queries == {
        "q1": "Does aspirin prevent heart attacks?",
        "q2": "Does vitamin C prevent colds?",
        "q3": "How much sleep do adults need?",
    }
    # The header line is not a judgment.
    assert found.qrels == {"q1": {"d1": 1}, "q2": {"d2": 2, "3": 0}, "q3": {"d4": 0}}
    assert found.judged == {
        "q1": "Does aspirin prevent heart attacks?",
        "q2": "Does vitamin C prevent colds?",
    }


def test_beir_qrels_without_a_header(tmp_path: Path) -> None:
    qrels = write(tmp_path, "qrels/test.tsv", "q1\td1\t1\nq3\td4\t2\n")
    found = load_retrieval(BEIR / "corpus.jsonl", BEIR / "queries.jsonl", qrels, None)
    assert found.qrels == {"q1": {"d1": 1}, "q3": {"d4": 2}}


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "corpus.jsonl",
            '{"_id": "d1", "text": "a"}\n{"_id": "d2", "text": \n',
            "{path}:2: not JSON: Expecting value",
        ),
        ("corpus.jsonl", '{"title": "t", "text": "a"}\n', "{path}:1: missing _id"),
        ("corpus.jsonl", '\n{"title": "t"}\n', "{path}:2: missing _id, text"),
        ("corpus.jsonl", '["d1", "a"]\n', "{path}:1: each line must be a JSON object"),
        ("queries.jsonl", '{"_id": "q1", "text": "a"}\n{"text": "b"}\n', "{path}:2: missing _id"),
        ("queries.jsonl", "q1\tDoes aspirin work?\n", "{path}:1: not JSON: Expecting value"),
        (
            "qrels/test.tsv",
            "query-id\tcorpus-id\tscore\nq1 d1 1\n",
            "{path}:2: expected 'query-id<TAB>corpus-id<TAB>score'",
        ),
        (
            "qrels/test.tsv",
            "query-id\tcorpus-id\tscore\nq1\td1\tyes\n",
            "{path}:2: 'yes' is not a number",
        ),
    ],
)
def test_bad_beir_input(tmp_path: Path, name: str, text: str, message: str) -> None:
    files = {
        "corpus.jsonl": BEIR / "corpus.jsonl",
        "queries.jsonl": BEIR / "queries.jsonl",
        "qrels/test.tsv": BEIR / "qrels" / "test.tsv",
    }
    files[name] = path = write(tmp_path, name, text)
    found = raised(
        lambda: load_retrieval(
            files["corpus.jsonl"], files["queries.jsonl"], files["qrels/test.tsv"], None
        )
    )
    assert found == message.format(path=path)


# -- unreadable files ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("missing", "call"),
    [
        ("corpus.trec", lambda path: detect_format(path)),
        (
            "docs.all",
            lambda path: load_retrieval(
                path, SMART / "queries.qry", SMART / "cranfield.rel", "smart"
            ),
        ),
        (
            "queries.qry",
            lambda path: load_retrieval(SMART / "docs.all", path, SMART / "cranfield.rel", None),
        ),
        (
            "qrels.txt",
            lambda path: load_retrieval(TREC / "docs.trec", TREC / "topics.txt", path, None),
        ),
        (
            "corpus.jsonl",
            lambda path: load_retrieval(
                path, BEIR / "queries.jsonl", BEIR / "qrels" / "test.tsv", None
            ),
        ),
        ("news.es", lambda path: read_lines(path)),
        ("squad.json", lambda path: load_squad(path)),
        ("summaries.jsonl", lambda path: load_jsonl_pairs(path, "article", ["highlights"])),
    ],
)
def test_a_missing_file(tmp_path: Path, missing: str, call: Callable[[Path], object]) -> None:
    path = tmp_path / "absent" / missing
    assert raised(lambda: call(path)) == f"cannot read {path}: No such file or directory"


def test_dataset_errors_are_user_errors() -> None:
    assert issubclass(DatasetError, UserError)


# -- translations -------------------------------------------------------------------


def test_read_lines() -> None:
    assert read_lines(DATA / "translation" / "news.en") == [
        "The cat is on the mat.",
        "It is sunny today.",
        "Good morning!",
    ]


def test_read_lines_with_crlf_line_endings() -> None:
    path = DATA / "translation" / "news.es"
    assert b"\r\n" in path.read_bytes()  # the fixture really is CRLF
    assert read_lines(path) == ["El gato está en la alfombra.", "Hoy hace sol.", "¡Buenos días!"]


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        ("one\ntwo", ["one", "two"]),  # no final newline
        ("one\n\nthree\n", ["one", "", "three"]),  # an empty segment inside is kept
        ("  padded  \n", ["  padded  "]),
    ],
)
def test_read_lines_keeps_segments_as_written(tmp_path: Path, text: str, lines: list[str]) -> None:
    assert read_lines(write(tmp_path, "segments.txt", text)) == lines


# -- SQuAD --------------------------------------------------------------------------


def test_load_squad() -> None:
    documents, questions = load_squad(DATA / "squad.json")
    assert documents == [
        Document(
            id="0-0",
            title="Normans",
            text="The Normans were the people who in the 10th and 11th centuries gave their name "
            "to Normandy, a region in France.",
        ),
        Document(
            id="0-1",
            title="Normans",
            text="The Norman dynasty had a major political, cultural and military impact.",
        ),
        Document(
            id="1-0",
            title="Computational complexity theory",
            text="Computational complexity theory classifies problems by their difficulty.",
        ),
    ]
    assert questions == [
        Question(
            id="56ddde6b9a695914005b9628",
            question="In what country is Normandy located?",
            answers=["France", "France."],
            paragraph="0-0",
        ),
        Question(
            id="56ddde6b9a695914005b9629",
            question="When were the Normans in Normandy?",
            answers=["10th and 11th centuries"],
            paragraph="0-0",
        ),
        Question(
            id="56dddf4066d3e219004dad5f",
            question="What kind of impact did the Norman dynasty have?",
            answers=["major political, cultural and military"],
            paragraph="0-1",
        ),
        Question(
            id="56e16182e3433e1400422e28",
            question="What does complexity theory classify?",
            answers=["problems"],
            paragraph="1-0",
        ),
    ]


@pytest.mark.parametrize(
    "text",
    [
        '{"version": "1.1", "data": [',  # not JSON
        '{"version": "1.1"}',  # no "data"
        '[{"title": "Normans"}]',  # not an object
    ],
)
def test_squad_that_is_not_squad(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, "squad.json", text)
    assert raised(lambda: load_squad(path)).startswith(f"{path}: not SQuAD v1.1 JSON (")


@pytest.mark.parametrize(
    "text",
    [
        '{"data": [{"title": "Normans"}]}',  # an article without paragraphs
        '{"data": [{"title": "Normans", "paragraphs": [{"context": "The Normans."}]}]}',  # no qas
    ],
)
def test_squad_with_a_malformed_article(tmp_path: Path, text: str) -> None:
    # BUG: only the top level is checked; a KeyError escapes from inside "data" instead of
    # a DatasetError naming the file.
    path = write(tmp_path, "squad.json", text)
    assert raised(lambda: load_squad(path)).startswith(f"{path}: ")


# -- JSON Lines pairs ---------------------------------------------------------------


def test_load_jsonl_pairs() -> None:
    pairs = load_jsonl_pairs(DATA / "summaries.jsonl", "article", ["highlights"])
    # Blank lines are skipped, other keys ignored, values made strings.
    assert pairs == [
        ("The council approved the new park on Monday.", ["Council approves park."]),
        ("Heavy rain flooded the main road.", ["Rain floods road."]),
        ("Schools reopen after the holiday.", ["42"]),
    ]


def test_load_jsonl_pairs_with_several_references() -> None:
    pairs = load_jsonl_pairs(DATA / "summaries.jsonl", "highlights", ["article", "id"])
    assert pairs == [
        ("Council approves park.", ["The council approved the new park on Monday.", "a1"]),
        ("Rain floods road.", ["Heavy rain flooded the main road.", "a2"]),
        ("42", ["Schools reopen after the holiday.", "3"]),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"article": "a", "highlights": "h"}\n{"article": "b"}\n', "{path}:2: missing highlights"),
        ('{"id": 1}\n', "{path}:1: missing article, highlights"),
        (
            '{"article": "a", "highlights": "h"}\n\nnot json\n',
            "{path}:3: not JSON: Expecting value",
        ),
        ('"just a string"\n', "{path}:1: each line must be a JSON object"),
    ],
)
def test_bad_jsonl_pairs(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, "summaries.jsonl", text)
    assert raised(lambda: load_jsonl_pairs(path, "article", ["highlights"])) == message.format(
        path=path
    )
