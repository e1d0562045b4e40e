"""Reading public benchmark data: retrieval test collections (SMART, TREC, BEIR), line-
aligned translations, SQuAD v1.1 questions, and JSON Lines summaries.

Retrieval collections come in three formats:

- **SMART** (Cranfield, CISI, MEDLINE): records start with ``.I ID``, then field markers
  on their own lines (``.T`` title, ``.A`` authors, ``.B`` source, ``.W`` text, ``.X``
  citations). Queries use the same layout. Relevance files differ by collection and are
  recognised by their layout: ``query doc code`` (Cranfield: codes 1-4 relevant, 1 the
  best, so the grade is 5 - code; ``-1`` marks a query's source paper, not a judgment;
  queries are numbered by their position in the query file, not by ``.I``), ``query 0
  doc grade`` (TREC's), or ``query doc 0 0.0`` (a listed pair is relevant).
- **TREC**: ``<DOC><DOCNO>ID</DOCNO>...</DOC>`` documents, ``<top><num>`` topic files (the
  ``<title>`` is the query), ``query 0 doc grade`` relevance.
- **BEIR**: ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl`` (``_id``,
  ``text``) and a ``qrels/*.tsv`` file (``query-id corpus-id score`` with a header).

Problems are ``DatasetError``s naming the file and line.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from agents.documents import Document, without_empty
from orchestrator.errors import UserError

Format = Literal["smart", "trec", "beir"]


class DatasetError(UserError):
    """Benchmark data that cannot be read; the message names the file (and line)."""


@dataclass
class RetrievalSet:
    documents: list[Document]
    queries: dict[str, str]  # query id -> text
    qrels: dict[str, dict[str, int]] = field(default_factory=dict)  # query -> doc -> grade
    empty: list[str] = field(default_factory=list)  # ids of empty documents, left out

    @property
    def judged(self) -> dict[str, str]:
        """The queries that have at least one relevant document: the ones evaluated."""
        return {
            qid: text
            for qid, text in self.queries.items()
            if any(grade > 0 for grade in self.qrels.get(qid, {}).values())
        }


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig", errors="replace").replace("\r\n", "\n")
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc.strerror or exc}") from None


def detect_format(corpus: Path) -> Format:
    """The format of a corpus file, from its name and first characters."""
    if corpus.suffix == ".jsonl":
        return "beir"
    head = _read(corpus)[:2000].lstrip()
    if head.startswith(".I"):
        return "smart"
    if head.upper().startswith("<DOC"):
        return "trec"
    raise DatasetError(
        f"cannot tell the format of {corpus}: pass --format smart, trec or beir "
        "(SMART starts with '.I', TREC with '<DOC>', BEIR is corpus.jsonl)"
    )


def load_retrieval(corpus: Path, queries: Path, qrels: Path, fmt: Format | None) -> RetrievalSet:
    fmt = fmt or detect_format(corpus)
    if fmt == "smart":
        documents = [_smart_document(i, fields) for i, fields in _smart_records(corpus)]
        query_records = list(_smart_records(queries))
        texts = {_number(i): " ".join(f.get("W", f.get("T", "")).split()) for i, f in query_records}
        ordinal = [_number(i) for i, _ in query_records]
        found = RetrievalSet(documents, texts, _smart_qrels(qrels, ordinal))
    elif fmt == "trec":
        found = RetrievalSet(_trec_documents(corpus), _trec_topics(queries), _trec_qrels(qrels))
    else:
        found = RetrievalSet(_beir_corpus(corpus), _beir_queries(queries), _beir_qrels(qrels))
    found.documents, found.empty = without_empty(found.documents)
    if not found.documents:
        empty = f", only {len(found.empty)} empty ones" if found.empty else ""
        raise DatasetError(f"no documents in {corpus} (read as {fmt.upper()}{empty})")
    if not found.judged:
        raise DatasetError(
            f"no query of {queries} has a relevant document in {qrels}: check that the "
            "files belong together and the --format"
        )
    return found


# -- SMART --------------------------------------------------------------------------


def _smart_records(path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """(``.I`` id, {field letter: text}) for each record."""
    record: str | None = None
    fields: dict[str, list[str]] = {}
    current = ""
    for number, line in enumerate(_read(path).split("\n"), start=1):
        marker = re.match(r"^\.([A-Z])(?:\s+(\S+))?\s*$", line)
        if marker and marker.group(1) == "I":
            if record is not None:
                yield record, {k: "\n".join(v).strip() for k, v in fields.items()}
            if not marker.group(2):
                raise DatasetError(f"{path}:{number}: '.I' without an id")
            record, fields, current = marker.group(2), {}, ""
        elif marker:
            current = marker.group(1)
            fields.setdefault(current, [])
        elif record is None:
            if line.strip():
                raise DatasetError(f"{path}:{number}: text before the first '.I' record")
        elif current:
            fields[current].append(line)
    if record is not None:
        yield record, {k: "\n".join(v).strip() for k, v in fields.items()}


def _number(record_id: str) -> str:
    """SMART ids as numbers ("001" and "1" are the same query)."""
    return str(int(record_id)) if record_id.isdigit() else record_id


def _smart_document(record_id: str, fields: dict[str, str]) -> Document:
    title = " ".join(fields.get("T", "").split())
    text = " ".join(fields.get("W", "").split())
    return Document(id=_number(record_id), title=title, text=text or title)


def _smart_qrels(path: Path, ordinal: Sequence[str]) -> dict[str, dict[str, int]]:
    rows = _rows(path)
    widths = {len(row) for _, row in rows}
    qrels: dict[str, dict[str, int]] = {}
    if widths == {3}:  # Cranfield: query doc code
        ids = {row[0] for _, row in rows}
        by_position = not ids <= set(ordinal)
        for number, (query, doc, code) in rows:
            grade = _int(code, path, number)
            if grade < 0:
                continue  # the paper the question came from, not a judgment
            if by_position:
                position = _int(query, path, number)
                if not 1 <= position <= len(ordinal):
                    raise DatasetError(f"{path}:{number}: no query number {position}")
                query = ordinal[position - 1]
            qrels.setdefault(_number(query), {})[_number(doc)] = max(0, 5 - grade)
        return qrels
    if widths == {4} and all(row[1] == "0" for _, row in rows):
        return _trec_qrels(path, numbered_docs=True)
    if widths == {4}:  # query doc 0 0.0: every pair listed is relevant
        for _, (query, doc, _, _) in rows:
            qrels.setdefault(_number(query), {})[_number(doc)] = 1
        return qrels
    raise DatasetError(
        f"{path}: unknown relevance layout (columns per line: {sorted(widths)}); expected "
        "'query doc code', 'query 0 doc grade' or 'query doc 0 0.0'"
    )


# -- TREC ---------------------------------------------------------------------------


def _trec_documents(path: Path) -> list[Document]:
    documents = []
    for body in re.findall(r"<DOC>(.*?)</DOC>", _read(path), flags=re.S | re.I):
        docno = re.search(r"<DOCNO>\s*(.*?)\s*</DOCNO>", body, flags=re.S | re.I)
        if docno is None:
            raise DatasetError(f"{path}: a <DOC> without a <DOCNO>")
        rest = body[: docno.start()] + body[docno.end() :]
        title = re.search(r"<(HEAD|TITLE|HEADLINE)>(.*?)</\1>", rest, flags=re.S | re.I)
        documents.append(
            Document(
                id=docno.group(1),
                title=_plain(title.group(2)) if title else "",
                text=_plain(rest),
            )
        )
    return documents


def _plain(markup: str) -> str:
    """Text without its tags and entities, its white space collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def _trec_topics(path: Path) -> dict[str, str]:
    topics = {}
    for body in re.findall(r"<top>(.*?)</top>", _read(path), flags=re.S | re.I):
        num = re.search(r"<num>\s*(?:Number:)?\s*([^\s<]+)", body, flags=re.I)
        title = re.search(r"<title>\s*(?:Topic:)?(.*?)(?=<|$)", body, flags=re.S | re.I)
        if num is None or title is None:
            raise DatasetError(f"{path}: a <top> without <num> or <title>")
        topics[_number(num.group(1))] = " ".join(title.group(1).split())
    if not topics:
        raise DatasetError(f"{path}: no <top> topics")
    return topics


def _trec_qrels(path: Path, *, numbered_docs: bool = False) -> dict[str, dict[str, int]]:
    """``query 0 doc grade`` lines; ``numbered_docs`` for SMART's numbers as document ids."""
    qrels: dict[str, dict[str, int]] = {}
    for number, row in _rows(path):
        if len(row) != 4:
            raise DatasetError(f"{path}:{number}: expected 'query 0 doc grade'")
        doc = _number(row[2]) if numbered_docs else row[2]
        qrels.setdefault(_number(row[0]), {})[doc] = _int(row[3], path, number)
    return qrels


# -- BEIR ---------------------------------------------------------------------------


def _jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(_read(path).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}:{number}: not JSON: {exc.msg}") from None
        if not isinstance(value, dict):
            raise DatasetError(f"{path}:{number}: each line must be a JSON object")
        yield number, value


def _beir_corpus(path: Path) -> list[Document]:
    return [
        Document(id=str(row["_id"]), title=str(row.get("title") or ""), text=str(row["text"]))
        for _, row in _required(path, "_id", "text")
    ]


def _beir_queries(path: Path) -> dict[str, str]:
    return {str(row["_id"]): str(row["text"]) for _, row in _required(path, "_id", "text")}


def _beir_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    for number, row in _rows(path, separator="\t"):
        if number == 1 and not row[-1].lstrip("-").isdigit():
            continue  # the header
        if len(row) != 3:
            raise DatasetError(f"{path}:{number}: expected 'query-id<TAB>corpus-id<TAB>score'")
        qrels.setdefault(row[0], {})[row[1]] = _int(row[2], path, number)
    return qrels


def _required(path: Path, *keys: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, row in _jsonl(path):
        missing = [key for key in keys if key not in row]
        if missing:
            raise DatasetError(f"{path}:{number}: missing {', '.join(missing)}")
        yield number, row


# -- shared -------------------------------------------------------------------------


def _rows(path: Path, separator: str | None = None) -> list[tuple[int, list[str]]]:
    rows = []
    for number, line in enumerate(_read(path).split("\n"), start=1):
        if line.strip():
            rows.append((number, line.strip().split(separator)))
    return rows


def _int(value: str, path: Path, number: int) -> int:
    try:
        return int(float(value))
    except ValueError:
        raise DatasetError(f"{path}:{number}: {value!r} is not a number") from None


def read_lines(path: Path) -> list[str]:
    """A line-aligned text file (one segment per line) as its lines."""
    return _read(path).rstrip("\n").split("\n")


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answers: list[str]
    paragraph: str  # the id of the paragraph that holds the answer


def load_squad(path: Path) -> tuple[list[Document], list[Question]]:
    """SQuAD v1.1 JSON: its paragraphs as documents and its questions."""
    try:
        data = json.loads(_read(path))["data"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DatasetError(f"{path}: not SQuAD v1.1 JSON ({exc})") from None
    try:
        return _squad_items(data)
    except (KeyError, TypeError, AttributeError) as exc:
        raise DatasetError(
            f"{path}: not SQuAD v1.1 JSON (no {exc} where one was expected)"
        ) from None


def _squad_items(data: Any) -> tuple[list[Document], list[Question]]:
    documents, questions = [], []
    for a, article in enumerate(data):
        for p, paragraph in enumerate(article["paragraphs"]):
            pid = f"{a}-{p}"
            documents.append(
                Document(id=pid, title=article.get("title", ""), text=paragraph["context"])
            )
            for qa in paragraph["qas"]:
                answers = [answer["text"] for answer in qa["answers"]]
                questions.append(Question(str(qa["id"]), qa["question"], answers, pid))
    return documents, questions


def load_jsonl_pairs(
    path: Path, text_field: str, reference_fields: Sequence[str]
) -> list[tuple[str, list[str]]]:
    """(text, references) from each line of a JSON Lines file."""
    return [
        (str(row[text_field]), [str(row[name]) for name in reference_fields])
        for _, row in _required(path, text_field, *reference_fields)
    ]


def load_claims(path: Path) -> list[tuple[str, str, bool]]:
    """(document, claim, consistent) from SummEval-style JSON (an object or list of
    ``{document, claim, label}``, label 1 = consistent) or JSON Lines of the same."""
    text = _read(path)
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError:
        data = [row for _, row in _jsonl(path)]
    rows = list(data.values()) if isinstance(data, dict) else data
    claims = []
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict) or not {"document", "claim", "label"} <= set(row):
            raise DatasetError(f"{path}: item {number} needs 'document', 'claim' and 'label'")
        claims.append((str(row["document"]), str(row["claim"]), str(row["label"]) == "1"))
    if not claims:
        raise DatasetError(f"{path}: no claims")
    return claims
