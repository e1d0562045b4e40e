"""The LLM boundary: one chat-model interface, the openai-SDK implementation, a test double."""

from agents.llm.base import ChatModel, Message, Reply, Usage
from agents.llm.errors import (
    BudgetExceeded,
    InvalidModelOutput,
    LLMPermanentError,
    LLMTransientError,
    StructuredOutputUnsupported,
)
from agents.llm.metered import MeteredChatModel
from agents.llm.openai_model import OpenAIChatModel
from agents.llm.scripted import ScriptedChatModel

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
