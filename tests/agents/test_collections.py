"""Collections on disk: building, atomic rebuilds, listing and loading."""

from __future__ import annotations

import json
import shutil
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agents.collections import (
    CURRENT,
    FORMAT,
    build_collection,
    collection_names,
    collections_dir,
    current_version,
    list_collections,
    load_collection,
    searchable,
    unknown_collection,
    write_collection,
)
from agents.documents import Document
from agents.errors import CollectionError, PermanentError


def docs(*texts: str, prefix: str = "d") -> list[Document]:
    return [Document(id=f"{prefix}{i}", title=f"T{i}", text=t) for i, t in enumerate(texts)]


def sources(tmp_path: Path) -> Path:
    root = tmp_path / "kb"
    root.mkdir()
    (root / "reset.md").write_text("# Reset a password\n\nUse the forgotten password link.")
    (root / "billing.txt").write_text("Billing\nInvoices go out monthly.")
    (root / "faq.jsonl").write_text(
        json.dumps({"id": "f1", "title": "Login", "text": "Log in with your email."}) + "\n"
    )
    (root / "logo.png").write_bytes(b"\x89PNG")
    return root


def refused(data_dir: Path, name: str, paths: list[Path]) -> str:
    with pytest.raises(CollectionError) as caught:
        build_collection(data_dir, name, paths)
    return str(caught.value)


def test_build_stores_documents_index_and_manifest(tmp_path: Path) -> None:
    data = tmp_path / "data"
    before = datetime.now(UTC).replace(microsecond=0)
    built = build_collection(data, "support", [sources(tmp_path)])

    assert built.path == data / "collections" / "support"
    assert built.skipped == [tmp_path / "kb" / "logo.png"]
    manifest = built.manifest
    assert (manifest.name, manifest.documents, manifest.format) == ("support", 3, FORMAT)
    assert (manifest.stemmer, manifest.stopwords) == ("english", "en")
    assert before <= manifest.built_at <= datetime.now(UTC) + timedelta(seconds=1)
    version = current_version(data, "support")
    assert version is not None
    assert sorted(p.name for p in built.path.iterdir()) == [".lock", CURRENT, version]
    assert sorted(p.name for p in (built.path / version).iterdir()) == [
        "bm25",
        "documents.jsonl",
        "manifest.json",
    ]
    assert list((data / "collections" / ".building").iterdir()) == []  # nothing left over

    collection = load_collection(data, "support")
    assert [d.id for d in collection.documents] == ["billing", "f1", "reset"]
    assert collection.documents[2].title == "Reset a password"
    [(best, score)] = collection.search(["password"], 1)
    assert best.id == "reset" and score > 0


def test_list_collections_by_name(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert list_collections(data) == []
    write_collection(data, "zeta", docs("one", "two"))
    write_collection(data, "alpha-1_b", docs("three"))
    (collections_dir(data) / "not-built").mkdir()  # no CURRENT: not a collection
    assert [(m.name, m.documents) for m in list_collections(data)] == [
        ("alpha-1_b", 1),
        ("zeta", 2),
    ]


def test_a_rebuild_switches_over_and_keeps_only_the_previous_version(tmp_path: Path) -> None:
    data = tmp_path / "data"
    versions: list[str] = []
    for round_ in range(4):
        write_collection(data, "kb", docs(f"round {round_} text", prefix=f"r{round_}-"))
        versions.append(str(current_version(data, "kb")))
    assert len(set(versions)) == 4
    home = collections_dir(data) / "kb"
    assert sorted(p.name for p in home.iterdir() if p.is_dir()) == sorted(versions[-2:])
    collection = load_collection(data, "kb")
    assert collection.version == versions[-1]
    assert [d.id for d in collection.documents] == ["r3-0"]


def test_readers_during_rebuilds_always_see_a_whole_collection(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_collection(data, "kb", docs(*["alpha beta"] * 5, prefix="v0-"))
    stop = threading.Event()
    seen: list[tuple[str, int]] = []
    errors: list[BaseException] = []

    def read() -> None:
        while not stop.is_set():
            try:
                collection = load_collection(data, "kb")
                size = len(collection.search(["alpha"], 100))
                seen.append((collection.documents[0].id.split("-")[0], size))
            except BaseException as exc:
                errors.append(exc)
                return

    readers = [threading.Thread(target=read) for _ in range(3)]
    for reader in readers:
        reader.start()
    try:
        for round_ in range(1, 21):
            write_collection(data, "kb", docs(*["alpha beta"] * (5 + round_), prefix=f"v{round_}-"))
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    assert errors == []
    assert seen
    # Every load was one complete version: its documents and its index agree.
    assert all(size == 5 + int(version[1:]) for version, size in seen)


def test_invalid_documents_change_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": "fine"}\n{"id": "b"}\n')
    assert refused(data, "kb", [bad]) == f'{bad} line 2: "text" must be a string, got None'
    assert not collections_dir(data).exists()

    write_collection(data, "kb", docs("kept"))
    version = current_version(data, "kb")
    with pytest.raises(CollectionError):
        build_collection(data, "kb", [bad])
    assert current_version(data, "kb") == version


def test_an_empty_collection_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "picture.jpg").write_bytes(b"\xff\xd8")
    assert refused(tmp_path / "data", "kb", [empty]) == (
        f"no documents in {empty} (skipped 1 files of other kinds): a collection needs "
        ".txt, .md or .jsonl files"
    )


def test_a_collection_without_a_searchable_word_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CollectionError) as caught:
        write_collection(
            tmp_path, "kb", [Document("a", "The", "the and"), Document("b", "!", "!!")]
        )
    assert str(caught.value) == (
        "collection 'kb' cannot be indexed: no document has a searchable word "
        "(only stopwords or punctuation)"
    )


@pytest.mark.parametrize("name", ["KB", "", "-kb", "k b", "../kb", "kb/x", ".building", "x" * 65])
def test_a_bad_name_is_refused(tmp_path: Path, name: str) -> None:
    message = refused(tmp_path, name, [sources(tmp_path)])
    assert message == (
        f"{name!r} is not a collection name: use 1-64 lowercase letters, digits, '-' and '_', "
        "starting with a letter or digit"
    )
    assert not collections_dir(tmp_path).exists()


def test_an_unknown_collection_names_the_others_and_how_to_make_it(tmp_path: Path) -> None:
    assert str(unknown_collection(tmp_path, "kb")) == (
        f"no collection 'kb' in {tmp_path / 'collections'} (there are none yet); "
        "create it with `celeriac index kb PATH...`"
    )
    write_collection(tmp_path, "faq", docs("x"))
    write_collection(tmp_path, "docs", docs("y"))
    with pytest.raises(CollectionError) as caught:
        load_collection(tmp_path, "kb")
    assert isinstance(caught.value, PermanentError)
    assert str(caught.value) == (
        f"no collection 'kb' in {tmp_path / 'collections'} (collections there: docs, faq); "
        "create it with `celeriac index kb PATH...`"
    )
    assert collection_names(tmp_path) == ["docs", "faq"]


def test_a_damaged_collection_says_to_rebuild_it(tmp_path: Path) -> None:
    write_collection(tmp_path, "kb", docs("one", "two"))
    where = collections_dir(tmp_path) / "kb" / str(current_version(tmp_path, "kb"))
    stored = (where / "documents.jsonl").read_text().splitlines()
    (where / "documents.jsonl").write_text(stored[0] + "\n")
    with pytest.raises(CollectionError) as caught:
        load_collection(tmp_path, "kb")
    assert str(caught.value) == (
        f"collection 'kb' ({where}) is damaged: 2 documents in its manifest, 1 stored, "
        "2 indexed; rebuild it"
    )


def test_a_collection_from_another_format_says_to_rebuild_it(tmp_path: Path) -> None:
    write_collection(tmp_path, "kb", docs("one"))
    where = collections_dir(tmp_path) / "kb" / str(current_version(tmp_path, "kb"))
    manifest = json.loads((where / "manifest.json").read_text())
    (where / "manifest.json").write_text(json.dumps({**manifest, "format": 99}))
    with pytest.raises(CollectionError, match="was built by another version of celeriac"):
        load_collection(tmp_path, "kb")


def test_the_title_is_searchable_unless_the_text_has_it() -> None:
    assert searchable(Document("a", "Login", "Use your email.")) == "Login\nUse your email."
    assert searchable(Document("b", "Login", "Login\nUse your email.")) == "Login\nUse your email."


def test_a_collection_missing_its_files_says_to_rebuild_it(tmp_path: Path) -> None:
    write_collection(tmp_path, "kb", docs("one"))
    where = collections_dir(tmp_path) / "kb" / str(current_version(tmp_path, "kb"))
    shutil.rmtree(where / "bm25")
    with pytest.raises(CollectionError) as caught:
        load_collection(tmp_path, "kb")
    assert str(caught.value) == (
        f"collection 'kb' is damaged ({where / 'bm25' / 'params.index.json'} is missing): "
        "rebuild it with `celeriac index kb PATH...`"
    )


def test_a_collection_with_an_unreadable_index_says_to_rebuild_it(tmp_path: Path) -> None:
    write_collection(tmp_path, "kb", docs("one"))
    where = collections_dir(tmp_path) / "kb" / str(current_version(tmp_path, "kb"))
    (where / "bm25" / "data.csc.index.npy").write_bytes(b"not numpy")
    with pytest.raises(CollectionError) as caught:
        load_collection(tmp_path, "kb")
    assert str(caught.value).startswith(
        f"collection 'kb' ({where}) is damaged: its index cannot be read ("
    )


def test_empty_documents_are_left_out_and_only_nothing_left_fails(tmp_path: Path) -> None:
    data = tmp_path / "data"
    corpus = tmp_path / "cran.jsonl"
    corpus.write_text('{"id": "1", "text": "Flow."}\n{"id": "471", "text": ""}\n')
    built = build_collection(data, "cran", [corpus])
    assert (built.manifest.documents, built.empty) == (1, ["471"])
    assert [d.id for d in load_collection(data, "cran").documents] == ["1"]

    blank = tmp_path / "blank.jsonl"
    blank.write_text('{"id": "471", "text": ""}\n{"id": "995", "text": " "}\n')
    assert refused(data, "blank", [blank]) == (
        f"no documents in {blank} (skipped 2 empty documents): a collection needs .txt, "
        ".md or .jsonl files"
    )
