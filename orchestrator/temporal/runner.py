"""The workflow sandbox, minus a per-payload trip into it to ask for a serialization context.

For every payload sequence it encodes or decodes (several per workflow activation), the worker
asks the workflow instance which serialization context applies; the sandboxed instance answers
by running code inside the sandbox with its import hooks applied. When no part of the data
converter takes a context, every answer leads to the same converter, and under load the
questions are a large share of the worker's CPU (figures: `docs/benchmarks.md`,
`ContextFreeRunner`). `ContextFreeRunner` runs workflow code in the same sandbox and answers
those questions outside it; the worker uses it only for a converter that provably ignores
context (`ignores_context`).
"""

from __future__ import annotations

from collections.abc import Sequence

from temporalio.bridge.proto.workflow_activation import WorkflowActivation
from temporalio.bridge.proto.workflow_completion import WorkflowActivationCompletion
from temporalio.converter import (
    ActivitySerializationContext,
    DataConverter,
    SerializationContext,
    StorageDriverStoreContext,
    StorageDriverWorkflowInfo,
    WorkflowSerializationContext,
)
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.workflow import Info, _Definition


def ignores_context(converter: DataConverter) -> bool:
    """Whether `converter` encodes the same with any serialization context (its parts keep
    themselves under `with_context`) and stores no payload externally."""
    probes: list[SerializationContext] = [
        WorkflowSerializationContext(namespace="probe", workflow_id="probe"),
        ActivitySerializationContext(
            namespace="probe",
            activity_id="probe",
            activity_type="probe",
            activity_task_queue="probe",
            workflow_id="probe",
            workflow_type="probe",
            is_local=False,
        ),
    ]
    return converter.external_storage is None and all(
        converter.with_context(probe) is converter for probe in probes
    )


class ContextFreeRunner(WorkflowRunner):
    """`SandboxedWorkflowRunner` whose instances report no serialization context."""

    def __init__(self) -> None:
        self._inner = SandboxedWorkflowRunner()

    def prepare_workflow(self, defn: _Definition) -> None:
        self._inner.prepare_workflow(defn)

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _ContextFreeInstance(self._inner.create_instance(det))

    def set_worker_level_failure_exception_types(
        self, types: Sequence[type[BaseException]]
    ) -> None:
        self._inner.set_worker_level_failure_exception_types(types)


class _ContextFreeInstance(WorkflowInstance):
    def __init__(self, inner: WorkflowInstance) -> None:
        self._inner = inner
        info = inner.get_info()
        self._store_context = StorageDriverStoreContext(
            target=StorageDriverWorkflowInfo(
                namespace=info.namespace,
                id=info.workflow_id,
                run_id=info.run_id,
                type=info.workflow_type,
            )
        )

    def activate(self, act: WorkflowActivation) -> WorkflowActivationCompletion:
        return self._inner.activate(act)

    def get_serialization_context(self, command_info: object) -> SerializationContext | None:
        return None

    def get_external_store_context(self, command_info: object) -> StorageDriverStoreContext:
        return self._store_context

    def get_info(self) -> Info:
        return self._inner.get_info()

    def get_thread_id(self) -> int | None:
        return self._inner.get_thread_id()
