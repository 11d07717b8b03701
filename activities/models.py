"""Model activities: snapshot the serving version, roll back, restore, validate, evaluate a
candidate against a threshold and a baseline, and promote it to the serving alias."""

from __future__ import annotations

from dataclasses import dataclass

from activities.base import action, dry_run, guarded, optional, outcome, undo_guarded
from activities.errors import InvalidParams, ValidationFailed
from activities.guard import ResourceGuard
from activities.providers.protocols import AliasMove, ModelRegistry
from orchestrator.domain import ActionInput, ActionResult

DEFAULT_ALIAS = "production"
DEFAULT_METRIC = "accuracy"
"""The metric `models.evaluate` compares when the step names none: what the local registry
scores on its held-out rows, and what training runs commonly log to MLflow."""


@dataclass
class ModelActivities:
    models: ModelRegistry
    guard: ResourceGuard

    @action("models.snapshot")
    async def snapshot(self, input: ActionInput) -> ActionResult:
        model, alias = input.params["model"], optional(input, "alias") or DEFAULT_ALIAS
        if input.dry_run:
            version = await self.models.resolve(model, alias)
            return dry_run(
                input,
                f"record {model}@{alias} (version {version}) as known-good",
                version=version,
                alias=alias,
            )
        snap = await self.models.snapshot(model, alias, idempotency_key=input.idempotency_key)
        return ActionResult(
            action=input.action,
            changed=False,
            summary=f"recorded {model}@{alias} -> version {snap.version} as a rollback target",
            outputs={"model": model, "alias": alias, "version": snap.version},
        )

    @action("models.rollback")
    async def rollback(self, input: ActionInput) -> ActionResult:
        """Move the alias back; with `from_version` (the version an alert is about), only if
        the alias serves it. A drift alert about a canary names a version the alias does not
        serve, and rolling the alias back then would quarantine the good version behind it."""
        model, alias = input.params["model"], optional(input, "alias") or DEFAULT_ALIAS
        to_version = optional(input, "to_version")
        from_version = optional(input, "from_version")

        async def effect() -> ActionResult:
            if input.dry_run:
                current = await self.models.resolve(model, alias)
                if from_version is not None and from_version != current:
                    return dry_run(
                        input,
                        f"leave {model}@{alias} on version {current}: it does not serve"
                        f" version {from_version}",
                        from_version=current,
                        to_version=current,
                        rolled_back="false",
                    )
                target = to_version or "the last known-good snapshot"
                return dry_run(
                    input,
                    f"move {model}@{alias} from version {current} to {target}",
                    from_version=current,
                )
            move = await self.models.rollback(
                model,
                alias,
                to_version=to_version,
                incident_id=input.incident_id,
                idempotency_key=input.idempotency_key,
                from_version=from_version,
            )
            if from_version is not None and move.from_version != from_version:
                already = (
                    f"{model}@{alias} left on version {move.to_version}: it does not serve"
                    f" version {from_version}"
                )
            else:
                already = f"{model}@{alias} already at version {move.to_version}"
            result = alias_moved(
                input,
                move,
                f"{model}@{alias} rolled back from version {move.from_version} to "
                f"{move.to_version}",
                already,
                undoable=True,
            )
            rolled_back = move.from_version != move.to_version
            outputs = result.outputs | {"rolled_back": str(rolled_back).lower()}
            return result.model_copy(update={"outputs": outputs})

        return await guarded(
            self.guard,
            f"model:{model}",
            input,
            effect,
            remediated=lambda result: result.outputs.get("rolled_back") != "false",
        )

    @action("models.restore")
    async def restore(self, input: ActionInput) -> ActionResult:
        model, version = input.params["model"], input.params["version"]
        alias = optional(input, "alias") or DEFAULT_ALIAS

        async def effect() -> ActionResult:
            if input.dry_run:
                return dry_run(
                    input, f"point {model}@{alias} at version {version}", version=version
                )
            move = await self.models.restore(
                model, alias, version, idempotency_key=input.idempotency_key
            )
            return alias_moved(
                input,
                move,
                f"{model}@{alias} restored to version {version}",
                f"{model}@{alias} already at version {version}",
                undoable=False,
            )

        return await undo_guarded(self.guard, f"model:{model}", input, effect)

    @action("models.validate")
    async def validate(self, input: ActionInput) -> ActionResult:
        """Fails non-retryably (`ValidationFailed`) when the model does not pass."""
        model = input.params["model"]
        version = optional(input, "version") or await self.models.resolve(
            model, optional(input, "alias") or DEFAULT_ALIAS
        )
        report = await self.models.validate(model, version)
        if not report.passed:
            raise ValidationFailed(f"{model} version {version} failed validation: {report.detail}")
        return ActionResult(
            action=input.action,
            changed=False,
            summary=f"{model} version {version} passed validation: {report.detail}",
            outputs={"model": model, "version": version}
            | {f"metric.{k}": f"{v:g}" for k, v in report.metrics.items()},
        )

    @action("models.promote")
    async def promote(self, input: ActionInput) -> ActionResult:
        """Point the serving alias at `version` (a retrained one); its inverse puts back the
        version the alias served before. Guarded like a rollback: one incident moves a model's
        alias at a time."""
        model, version = input.params["model"], input.params["version"]
        alias = optional(input, "alias") or DEFAULT_ALIAS

        async def effect() -> ActionResult:
            if input.dry_run:
                current = await self.models.resolve(model, alias)
                return dry_run(
                    input,
                    f"promote {model} version {version} to {alias} (serving {current} now)",
                    from_version=current,
                )
            move = await self.models.restore(
                model, alias, version, idempotency_key=input.idempotency_key
            )
            return alias_moved(
                input,
                move,
                f"{model}@{alias} promoted from version {move.from_version} to {version}",
                f"{model}@{alias} already serves version {version}",
                undoable=True,
            )

        return await guarded(self.guard, f"model:{model}", input, effect)

    @action("models.evaluate")
    async def evaluate(self, input: ActionInput) -> ActionResult:
        """Score a candidate version on the registry's held-out data against the step's
        threshold (`min_score`) and a baseline version. A candidate that falls short is a
        finding (`passed=false`) that a later step's `when:` acts on, not an activity failure:
        the playbook, not a retry, decides what follows."""
        model, version = input.params["model"], input.params["version"]
        metric = optional(input, "metric") or DEFAULT_METRIC
        min_score = _number(input, "min_score")
        baseline = optional(input, "baseline_version")
        report = await self.models.validate(model, version)
        score = report.metrics.get(metric)
        problems = [] if report.passed else [report.detail]
        if score is None:
            problems.append(f"metric {metric} is not reported for version {version}")
        elif min_score is not None and score < min_score:
            problems.append(f"{metric} {score:.4f} is below the threshold {min_score:.4f}")
        baseline_score = None
        if baseline and baseline != version:
            baseline_score = (await self.models.validate(model, baseline)).metrics.get(metric)
            if score is not None and baseline_score is not None and score < baseline_score:
                problems.append(
                    f"{metric} {score:.4f} is below version {baseline}'s {baseline_score:.4f}"
                )
        passed = not problems
        shown = "n/a" if score is None else f"{score:.4f}"
        detail = "; ".join(problems) or f"{metric} {shown}" + (
            f", baseline {baseline} {baseline_score:.4f}" if baseline_score is not None else ""
        )
        verdict = "passed" if passed else "failed"
        return ActionResult(
            action=input.action,
            changed=False,
            summary=f"{model} version {version} {verdict} evaluation: {detail}",
            outputs={
                "passed": str(passed).lower(),
                "model": model,
                "version": version,
                "metric": metric,
                "score": "" if score is None else f"{score:g}",
                "min_score": "" if min_score is None else f"{min_score:g}",
                "baseline_version": baseline or "",
                "baseline_score": "" if baseline_score is None else f"{baseline_score:g}",
                "detail": detail,
            },
        )


def alias_moved(
    input: ActionInput, move: AliasMove, done: str, already: str, *, undoable: bool
) -> ActionResult:
    """An alias move as a step's result: where it went from and to, and (`undoable`) how to
    put it back: the alias on the version it left."""
    outputs = {
        "model": move.model,
        "alias": move.alias,
        "from_version": move.from_version,
        "to_version": move.to_version,
    }
    inverse = {"model": move.model, "alias": move.alias, "version": move.from_version}
    return outcome(input, move.changed, done, already, outputs, inverse if undoable else None)


def _number(input: ActionInput, param: str) -> float | None:
    text = optional(input, param)
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        raise InvalidParams(
            f"{input.action}: {param} must be a number, not {text!r}", param
        ) from None
