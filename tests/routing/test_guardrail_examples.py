"""The shipped example routes for guardrails' own JSON (orchestrator/routing/examples/
guardrails.yaml): LLM Guard's API answers and Lakera Guard's `/v2/guard` answers, posted
through the generic format under `detail`, become the incidents their routes name; through
the real API and worker too."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client

import orchestrator.routing
from orchestrator.routing.service import RouteTable, load_table
from orchestrator.settings import Settings
from orchestrator.temporal.incidents import describe
from tests.routing.conftest import post
from tests.routing.test_service import fixture, routed, summary
from tests.support.principals import Tokens

EXAMPLES = Path(orchestrator.routing.__file__).parent / "examples" / "guardrails.yaml"


@pytest.fixture(scope="module")
def examples() -> RouteTable:
    return load_table(EXAMPLES)


def llm_guard(**scanners: float) -> dict[str, Any]:
    body = fixture("llm_guard_analyze_prompt.json")
    body["detail"]["scanners"] |= scanners
    return body


def lakera(*detected: str) -> dict[str, Any]:
    body = fixture("lakera_guard_v2.json")
    for entry in body["detail"]["breakdown"]:
        entry["detected"] = entry["detector_type"] in detected
    body["detail"]["flagged"] = bool(detected)
    return body


KEY = {"api_key": "key-support-bot", "model": "support-llm", "agent": "support-bot"}
CASES = [
    (llm_guard(), ("llm-guard-prompt-injection", "prompt_injection", "critical", "prod"), KEY),
    (
        llm_guard(PromptInjection=0.0, Secrets=1.0),
        ("llm-guard-secrets", "api_key_abuse", "high", "prod"),
        KEY,
    ),
    (
        llm_guard(PromptInjection=0.2, Sensitive=0.8),
        ("llm-guard-sensitive-output", "model_inversion", "high", "prod"),
        KEY,
    ),
    (
        llm_guard(PromptInjection=0.45),  # below the examples' 0.5: the sender's own type
        ("default", "guardrail", "high", "prod"),
        KEY,
    ),
    (
        fixture("lakera_guard_v2.json"),
        ("lakera-guard", "prompt_injection", "high", "staging"),
        {"api_key": "key-analytics", "model": "gpt-4o"},
    ),
    (
        lakera("pii/email"),
        ("lakera-guard", "model_inversion", "high", "staging"),
        {"api_key": "key-analytics", "model": "gpt-4o"},
    ),
    (
        lakera("moderated_content/crime", "prompt_attack"),  # the first detected one names it
        ("lakera-guard", "moderated_content", "high", "staging"),
        {"api_key": "key-analytics", "model": "gpt-4o"},
    ),
    (
        lakera(),  # not flagged
        ("default", "guardrail", "high", "staging"),
        {"api_key": "key-analytics", "model": "gpt-4o"},
    ),
]


@pytest.mark.parametrize(("body", "expected", "resources"), CASES)
def test_guardrail_answers_route_by_the_examples(
    examples: RouteTable,
    body: dict[str, Any],
    expected: tuple[str, str, str, str],
    resources: dict[str, str],
) -> None:
    [alert] = routed(examples, "generic", body)
    assert summary(alert) == (*expected, resources)


def test_a_selector_over_something_that_is_not_a_list_matches_nothing(
    examples: RouteTable,
) -> None:
    body = fixture("lakera_guard_v2.json")
    body["detail"]["breakdown"] = {"detected": True, "detector_type": "prompt_attack"}
    [alert] = routed(examples, "generic", body)
    assert alert.route == "default"
    hostile = copy.deepcopy(fixture("lakera_guard_v2.json"))
    hostile["detail"]["breakdown"][1]["detector_type"] = "<script>alert(1)</script>"
    [alert] = routed(examples, "generic", hostile)
    # the route's regex does not take it: the type falls back to the default route's
    assert (alert.route, alert.type) == ("lakera-guard", "guardrail")


@pytest.fixture
def fb_settings(fb_settings: Settings) -> Settings:
    return fb_settings.model_copy(update={"routes_file": EXAMPLES})


async def test_guardrail_answers_open_their_incidents(
    served: tuple[httpx.AsyncClient, Tokens], dev_client: Client
) -> None:
    http, tokens = served
    for body, incident_type, environment in (
        (fixture("llm_guard_analyze_prompt.json"), "prompt_injection", "prod"),
        (fixture("lakera_guard_v2.json"), "prompt_injection", "staging"),
    ):
        answer = await post(http, tokens.source, "generic", body)
        [incident] = answer["incidents"]
        state = await describe(dev_client, incident)
        assert (state.type, state.environment) == (incident_type, environment)
