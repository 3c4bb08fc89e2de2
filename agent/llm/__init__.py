"""Model access: the OpenAI-compatible client, the run's cost ledger, prices, and the two
action protocols. Import from here; the submodules are implementation detail."""

from agent.llm.actions import (
    Action,
    ActionProtocol,
    FormatError,
    NativeToolProtocol,
    TextActionProtocol,
    parse_text_action,
    protocol_for,
)
from agent.llm.client import LLMClient
from agent.llm.config import Endpoint, ModelConfig
from agent.llm.errors import (
    AuthError,
    BadRequest,
    BadResponse,
    BudgetExhausted,
    BudgetExit,
    ContextLengthError,
    EndpointUnreachable,
    ModelError,
    RateLimited,
    ServerError,
    UnknownPrice,
)
from agent.llm.ledger import BudgetCaps, Charge, Ledger, LedgerReport, Reservation, Spend
from agent.llm.logprobs import YesNo, yes_no_score
from agent.llm.prices import BUILTIN_PRICES, ModelPricing, Price, price_for
from agent.llm.protocol import Model
from agent.llm.retry import RetryPolicy
from agent.llm.tokens import prompt_token_bound
from agent.llm.toolspec import ToolSpec
from agent.llm.types import Completion, TokenLogprob, ToolCall, TopLogprob, Usage

__all__ = [
    "BUILTIN_PRICES", "Action", "ActionProtocol", "AuthError", "BadRequest", "BadResponse",
    "BudgetCaps", "BudgetExhausted", "BudgetExit", "Charge", "Completion", "ContextLengthError",
    "Endpoint", "EndpointUnreachable", "FormatError", "LLMClient", "Ledger", "LedgerReport",
    "Model", "ModelConfig", "ModelError", "ModelPricing", "NativeToolProtocol", "Price",
    "RateLimited",
    "Reservation", "RetryPolicy", "ServerError", "Spend", "TextActionProtocol",
    "TokenLogprob", "ToolCall", "ToolSpec", "TopLogprob", "UnknownPrice", "Usage", "YesNo",
    "parse_text_action", "price_for", "prompt_token_bound", "protocol_for", "yes_no_score",
]
