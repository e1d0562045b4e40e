"""Collections on disk: built into a temporary directory, switched in atomically, listed.

The layout under ``<data_dir>/collections/``::

    NAME/CURRENT                      the version being served; replaced atomically
    NAME/VERSION/manifest.json        name, document count, build time, format
    NAME/VERSION/documents.jsonl      id, title and text of each document, in index order
    NAME/VERSION/bm25/                the bm25s index
    NAME/VERSION/embeddings.npy       float32 document embeddings, when built with celeriac[dense]
    .building/...                     builds in progress, renamed to NAME/VERSION when complete

A reader holds ``CURRENT``'s version while it loads; a rebuild writes a new version and
then points ``CURRENT`` at it, so a reader never sees a half-written index. The version
before the current one is kept for readers that are still loading it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, ValidationError

from agents.documents import Document, read_documents
from agents.errors import CollectionError

if TYPE_CHECKING:
    from agents.bm25 import Bm25Index
    from agents.dense import Vectors

FORMAT = 2  # 2: accents folded and hyphenated compounds joined (bm25.analysed)
CURRENT = "CURRENT"
EMBEDDINGS = "embeddings.npy"
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_VERSION = re.compile(r"v\d{8}T\d{6}-[0-9a-f]{8}")


class Manifest(BaseModel):
    """What ``celeriac index --list`` shows about a collection version."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    documents: int
    built_at: datetime
    format: int
    stemmer: str
    stopwords: str
    embeddings: str | None = None  # the embedding model, if dense retrieval can search it


@dataclass(frozen=True)
class Built:
    """The outcome of ``build_collection``."""

    manifest: Manifest
    path: Path
    skipped: list[Path] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)  # ids of the empty documents skipped


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise CollectionError(
            f"{name!r} is not a collection name: use 1-64 lowercase letters, digits, '-' "
            "and '_', starting with a letter or digit"
        )
    return name


def collections_dir(data_dir: Path) -> Path:
    return data_dir / "collections"


def current_version(data_dir: Path, name: str) -> str | None:
    """The version ``name`` serves now, or None if there is no such collection."""
    return _pointer(collections_dir(data_dir) / name)


def _pointer(home: Path) -> str | None:
    try:
        version = (home / CURRENT).read_text().strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return version if _VERSION.fullmatch(version) else None


def collection_names(data_dir: Path) -> list[str]:
    root = collections_dir(data_dir)
    if not root.is_dir():
        return []
    return sorted(
        entry.name
        for entry in root.iterdir()
        if _NAME.fullmatch(entry.name) and current_version(data_dir, entry.name)
    )


def unknown_collection(data_dir: Path, name: str) -> CollectionError:
    names = collection_names(data_dir)
    known = f"collections there: {', '.join(names)}" if names else "there are none yet"
    return CollectionError(
        f"no collection {name!r} in {collections_dir(data_dir)} ({known}); "
        f"create it with `celeriac index {name} PATH...`"
    )


DEMO = "demo"
DEMO_DOCUMENTS = Path(__file__).parent / "demo"  # a support knowledge base we wrote


def require_collection(data_dir: Path, name: str) -> None:
    """Raise ``unknown_collection`` unless ``name`` is built in ``data_dir`` or is the demo
    (which workers build on first use)."""
    check_name(name)
    if name != DEMO and current_version(data_dir, name) is None:
        raise unknown_collection(data_dir, name)


def ensure_demo(data_dir: Path) -> None:
    """Build the demo collection from the documents that ship with celeriac, so a fresh
    install has something to search; build it again when they are newer than it."""
    version = current_version(data_dir, DEMO)
    if version is not None:
        manifest = read_manifest(collections_dir(data_dir) / DEMO / version)
        newest = max(path.stat().st_mtime for path in DEMO_DOCUMENTS.glob("*.md"))
        if newest < manifest.built_at.timestamp() and manifest.format == FORMAT:
            return
    build_collection(data_dir, DEMO, [DEMO_DOCUMENTS])


def build_collection(
    data_dir: Path, name: str, paths: Sequence[Path], *, embeddings: bool = False
) -> Built:
    """Read the documents under ``paths`` and make them collection ``name``, replacing any
    earlier build. Nothing changes on disk when the documents are invalid.

    With ``embeddings`` (which needs ``celeriac[dense]``), document embeddings are stored
    too, for dense and hybrid retrieval."""
    check_name(name)
    gathered = read_documents(paths)
    if not gathered.documents:
        found = [f"{len(gathered.skipped)} files of other kinds"] * bool(gathered.skipped)
        empty = len(gathered.empty)
        found += [f"{empty} empty document{'s' * (empty != 1)}"] * bool(empty)
        raise CollectionError(
            f"no documents in {', '.join(map(str, paths))}"
            + (f" (skipped {' and '.join(found)})" if found else "")
            + ": a collection needs .txt, .md or .jsonl files"
        )
    manifest = write_collection(data_dir, name, gathered.documents, embeddings=embeddings)
    return Built(manifest, collections_dir(data_dir) / name, gathered.skipped, gathered.empty)


def write_collection(
    data_dir: Path, name: str, documents: Sequence[Document], *, embeddings: bool = False
) -> Manifest:
    """Index ``documents`` as collection ``name`` and switch readers over to it.

    With ``embeddings``, their dense embeddings are computed and stored in the same build.
    """
    from agents import bm25, dense  # numpy and bm25s only where an index is built or read

    check_name(name)
    texts = [searchable(document) for document in documents]
    try:
        index = bm25.Bm25Index.build(texts)
    except ValueError as exc:
        raise CollectionError(f"collection {name!r} cannot be indexed: {exc}") from None
    vectors = dense.encode(texts) if embeddings else None
    manifest = Manifest(
        name=name,
        documents=len(documents),
        built_at=datetime.now(UTC).replace(microsecond=0),
        format=FORMAT,
        stemmer=bm25.STEMMER,
        stopwords=bm25.STOPWORDS,
        embeddings=dense.MODEL if embeddings else None,
    )
    building = collections_dir(data_dir) / ".building"
    building.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=building))
    try:
        index.save(staging / "bm25")
        if vectors is not None:
            dense.save(staging / EMBEDDINGS, vectors)
        _write_documents(staging / "documents.jsonl", documents)
        (staging / "manifest.json").write_text(manifest.model_dump_json(indent=2) + "\n")
        _publish(collections_dir(data_dir) / name, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def searchable(document: Document) -> str:
    """The text indexed for a document: its text, with its title if the text lacks it."""
    if document.title in document.text:
        return document.text
    return f"{document.title}\n{document.text}"


def _write_documents(path: Path, documents: Sequence[Document]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for document in documents:
            record = {"id": document.id, "title": document.title, "text": document.text}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


def _publish(home: Path, staging: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    version = f"v{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"
    with _locked(home / ".lock"):  # one switch at a time: cleanup must not race a rename
        previous = _pointer(home)
        staging.rename(home / version)
        pointer = home / f".{CURRENT}.{version}"
        pointer.write_text(version + "\n")
        os.replace(pointer, home / CURRENT)
        for entry in home.iterdir():
            if _VERSION.fullmatch(entry.name) and entry.name not in (version, previous):
                shutil.rmtree(entry, ignore_errors=True)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_manifest(version_dir: Path) -> Manifest:
    try:
        return Manifest.model_validate_json((version_dir / "manifest.json").read_bytes())
    except ValidationError as exc:
        raise CollectionError(f"{version_dir / 'manifest.json'} is invalid: {exc}") from None


def list_collections(data_dir: Path) -> list[Manifest]:
    """The manifest of every collection's current version, by name."""
    manifests = []
    for name in collection_names(data_dir):
        version = current_version(data_dir, name)
        with contextlib.suppress(FileNotFoundError):  # replaced meanwhile: skip it
            manifests.append(read_manifest(collections_dir(data_dir) / name / str(version)))
    return manifests


@dataclass(frozen=True)
class Collection:
    """A loaded version of a collection: its documents, their BM25 index and, when it was
    built with them, their embeddings. Immutable."""

    name: str
    version: str
    manifest: Manifest
    documents: list[Document]
    index: Bm25Index
    embeddings: Vectors | None = None

    def search(self, query_terms: Sequence[str], k: int) -> list[tuple[Document, float]]:
        return [(self.documents[i], score) for i, score in self.index.search(query_terms, k)]

    def dense_embeddings(self) -> Vectors:
        """The document embeddings; a ``CollectionError`` if the build has none."""
        if self.embeddings is None:
            raise CollectionError(
                f"collection {self.name!r} was built without embeddings, so it has no dense "
                f"or hybrid search: rebuild it with `celeriac index {self.name} PATH...` where "
                'celeriac[dense] is installed, or search it with "mode": "bm25"'
            )
        return self.embeddings


def load_collection(data_dir: Path, name: str) -> Collection:
    """Load the current version of ``name``; a rebuild meanwhile is waited out."""
    for _ in range(5):
        version = current_version(data_dir, name)
        if version is None:
            raise unknown_collection(data_dir, name)
        try:
            return _load_version(data_dir, name, version)
        except FileNotFoundError as exc:
            if current_version(data_dir, name) == version:  # not a rebuild: a loss
                raise CollectionError(
                    f"collection {name!r} is damaged ({exc.filename} is missing): "
                    f"rebuild it with `celeriac index {name} PATH...`"
                ) from None
    raise CollectionError(f"collection {name!r} kept changing while it was being loaded")


def _load_version(data_dir: Path, name: str, version: str) -> Collection:
    from agents import bm25, dense  # numpy and bm25s only where an index is built or read

    where = collections_dir(data_dir) / name / version
    manifest = read_manifest(where)
    if (manifest.format, manifest.stemmer, manifest.stopwords) != (
        FORMAT,
        bm25.STEMMER,
        bm25.STOPWORDS,
    ) or manifest.embeddings not in (None, dense.MODEL):
        raise CollectionError(
            f"collection {name!r} ({where}) was built by another version of celeriac: "
            f"rebuild it with `celeriac index {name} PATH...`"
        )
    documents = _read_stored_documents(where / "documents.jsonl")
    try:
        index = bm25.Bm25Index.load(where / "bm25")
    except FileNotFoundError:
        raise
    except (OSError, ValueError, KeyError) as exc:
        raise CollectionError(
            f"collection {name!r} ({where}) is damaged: its index cannot be read ({exc}); "
            f"rebuild it with `celeriac index {name} PATH...`"
        ) from None
    if not len(documents) == index.size == manifest.documents:
        raise CollectionError(
            f"collection {name!r} ({where}) is damaged: {manifest.documents} documents in "
            f"its manifest, {len(documents)} stored, {index.size} indexed; rebuild it"
        )
    embeddings = None
    if manifest.embeddings is not None:
        embeddings = dense.load(where / EMBEDDINGS, manifest.documents)
    return Collection(name, version, manifest, documents, index, embeddings)


def _read_stored_documents(path: Path) -> list[Document]:
    with path.open(encoding="utf-8") as lines:
        try:
            return [Document(**json.loads(line)) for line in lines]
        except (ValueError, TypeError) as exc:
            raise CollectionError(f"{path} is damaged ({exc}): rebuild the collection") from None
