"""The LLM boundary: one chat-model interface, the openai-SDK implementation, a test double.

``OpenAIChatModel`` is imported on first use: the openai SDK takes ~0.5 s and tens of MiB,
which offline workers need not pay.
"""

from typing import TYPE_CHECKING, Any

from agents.llm.base import ChatModel, Message, Reply, Usage
from agents.llm.errors import (
    BudgetExceeded,
    InvalidModelOutput,
    LLMPermanentError,
    LLMTransientError,
    StructuredOutputUnsupported,
)
from agents.llm.metered import MeteredChatModel
from agents.llm.scripted import ScriptedChatModel

if TYPE_CHECKING:
    from agents.llm.openai_model import OpenAIChatModel


def __getattr__(name: str) -> Any:
    if name == "OpenAIChatModel":
        from agents.llm.openai_model import OpenAIChatModel

        return OpenAIChatModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BudgetExceeded",
    "ChatModel",
    "InvalidModelOutput",
    "LLMPermanentError",
    "LLMTransientError",
    "Message",
    "MeteredChatModel",
    "OpenAIChatModel",
    "Reply",
    "ScriptedChatModel",
    "StructuredOutputUnsupported",
    "Usage",
]
