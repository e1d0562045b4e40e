"""The page at ``/``: a chat on a collection whose answer streams in with its citations and
scores, the job's plan drawn as a DAG whose steps change state live, the recent jobs, a
link to Flower. One file of HTML, CSS and JavaScript: no build step, nothing fetched from
elsewhere."""

from __future__ import annotations

from functools import cache
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from orchestrator.service.deps import ServiceDep

router = APIRouter(include_in_schema=False)


@cache
def _page() -> str:
    return (resources.files("orchestrator.service") / "page" / "index.html").read_text()


@router.get("/", response_class=HTMLResponse)
def page(service: ServiceDep) -> HTMLResponse:
    flower = service.settings.flower_url or ""
    return HTMLResponse(_page().replace("{{FLOWER_URL}}", flower))
