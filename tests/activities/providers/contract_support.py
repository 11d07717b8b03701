"""What the provider contract suites share: the repeat-with-the-same-key check, and the mark
for a provider that breaks one clause of its contract.

A suite (`contract_*.py`) is an abstract class per capability whose `test_*` methods state what
`activities/providers/protocols.py` promises; a concrete class (`test_contract_*.py`) says only
how to build one provider and how to look at the system behind it, and inherits every test.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import pytest

T = TypeVar("T")
Test = TypeVar("Test", bound=Callable[..., Awaitable[None]])


async def repeated(
    effect: Callable[[], Awaitable[T]], observe: Callable[[], Awaitable[object]]
) -> tuple[T, T, bool]:
    """Call `effect` twice (it uses one idempotency key): both answers, and whether the system
    looked the same after the repeat as after the first call."""
    first = await effect()
    before = await observe()
    again = await effect()
    return first, again, await observe() == before


Answers = tuple[Any, Any, bool]


async def applies_nothing(answers: Awaitable[Answers]) -> None:
    """The system after the repeat is as the first call left it."""
    _, _, unchanged = await answers
    assert unchanged, "the repeat changed the system again"


async def returns_the_first_answer(answers: Awaitable[Answers]) -> None:
    """protocols.py: a repeat 'must return what the first call returned'."""
    first, again, _ = await answers
    assert again == first


Suite = TypeVar("Suite")
SuiteTest = Callable[[Suite], Awaitable[None]]


def idempotency_tests(
    repeat: Callable[[Suite], Awaitable[Answers]],
) -> tuple[SuiteTest[Suite], SuiteTest[Suite]]:
    """The two tests protocols.py's idempotency clause makes of one effect, each over a fresh
    `repeat(suite)` (see `repeated`): the repeat applies nothing, and it returns the first
    answer. A suite assigns them to `test_a_repeated_<effect>_applies_nothing` and
    `test_a_repeated_<effect>_returns_the_first_answer`, so a provider can mark either."""

    async def applies(suite: Suite) -> None:
        await applies_nothing(repeat(suite))

    async def returns(suite: Suite) -> None:
        await returns_the_first_answer(repeat(suite))

    return applies, returns


def violation(test: Test, reason: str) -> Test:
    """`test` inherited from a suite, marked as a clause this provider breaks. The mark is
    strict: once the provider is fixed the test passes, the mark fails, and it must go."""

    @functools.wraps(test)
    async def run(*args: Any, **kwargs: Any) -> None:
        await test(*args, **kwargs)

    return cast(Test, pytest.mark.xfail(strict=True, reason=reason)(run))
