"""``/healthz`` (the process answers) and ``/readyz`` (it can serve: Redis answers, and a
worker for the orchestrator and for each built-in agent type was heard lately)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from agents.errors import CeleriacError
from orchestrator.service.deps import ServiceDep

router = APIRouter(tags=["health"])
BUILT_IN = ("retrieval", "generation", "translation")


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Not ready: says what is missing."}})
def readyz(service: ServiceDep) -> JSONResponse:
    try:
        service.redis.ping()
        workers = service.client.live_workers().values()
    except CeleriacError as exc:
        return JSONResponse({"status": "unready", "missing": [str(exc)]}, status_code=503)
    except Exception as exc:  # a Redis error that redis_errors does not wrap (ping)
        said = f"cannot reach Redis: {type(exc).__name__}"
        return JSONResponse({"status": "unready", "missing": [said]}, status_code=503)
    served = {agent for info in workers for agent in info.get("agents", [])}
    missing = [f"no live worker serving {agent!r}" for agent in BUILT_IN if agent not in served]
    if not any(info.get("orchestrator") for info in workers):
        missing.append("no live orchestrator worker")
    if missing:
        return JSONResponse({"status": "unready", "missing": missing}, status_code=503)
    return JSONResponse({"status": "ready", "workers": len(workers)})
