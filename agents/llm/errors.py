"""Errors of the LLM boundary; transient and permanent are types, never string matches.

AgentError
├── TransientError
│   └── LLMTransientError         429, 5xx, 408/409, timeouts, connection resets
│       └── RateLimitFull         the shared rate limit stays full for too long
└── PermanentError
    └── LLMPermanentError         401/403/404, bad requests, …
        ├── StructuredOutputUnsupported   the endpoint refused a JSON schema
        ├── InvalidModelOutput            no valid structured reply after repairs
        └── BudgetExceeded                the job's token or cost budget is spent
"""

from __future__ import annotations

from agents.errors import PermanentError, TransientError


class LLMTransientError(TransientError):
    """The model endpoint failed in a way that may pass; ``retry_after`` if it said."""


class RateLimitFull(LLMTransientError):
    """The shared rate limit would keep a call waiting too long: retry the step later."""


class LLMPermanentError(PermanentError):
    """The model endpoint refused the call; retrying the same call cannot help."""


class StructuredOutputUnsupported(LLMPermanentError):
    """The endpoint rejected ``response_format`` of type ``json_schema``."""


class InvalidModelOutput(LLMPermanentError):
    """The model's replies never validated against the requested model."""


class BudgetExceeded(LLMPermanentError):
    """A call would take the job past its budget of tokens or cost."""
