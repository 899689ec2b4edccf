"""The work-order lifecycle table, row by row: every allowed move, every forbidden one naming the
allowed states, and the reasons that cancel and reopen need."""

from __future__ import annotations

import pytest

from infrasight.core.errors import InvalidInputError
from infrasight.reasoning.errors import TransitionNotAllowedError
from infrasight.reasoning.work_orders import (
    TRANSITIONS,
    WorkOrderAction,
    WorkOrderStatus,
    action_to,
    allowed_targets,
    apply_action,
)

S, A = WorkOrderStatus, WorkOrderAction

EXPECTED = [
    (S.DRAFT, A.SUBMIT, S.OPEN),
    (S.DRAFT, A.CANCEL, S.CANCELLED),
    (S.OPEN, A.ASSIGN, S.ASSIGNED),
    (S.OPEN, A.CANCEL, S.CANCELLED),
    (S.ASSIGNED, A.START, S.IN_PROGRESS),
    (S.ASSIGNED, A.HOLD, S.ON_HOLD),
    (S.ASSIGNED, A.UNASSIGN, S.OPEN),
    (S.ASSIGNED, A.CANCEL, S.CANCELLED),
    (S.IN_PROGRESS, A.COMPLETE, S.COMPLETED),
    (S.IN_PROGRESS, A.HOLD, S.ON_HOLD),
    (S.IN_PROGRESS, A.CANCEL, S.CANCELLED),
    (S.ON_HOLD, A.RESUME, S.IN_PROGRESS),
    (S.ON_HOLD, A.CANCEL, S.CANCELLED),
    (S.COMPLETED, A.VERIFY, S.VERIFYING),
    (S.COMPLETED, A.REOPEN, S.REOPENED),
    (S.VERIFYING, A.CLOSE, S.CLOSED),
    (S.VERIFYING, A.REOPEN, S.REOPENED),
    (S.CLOSED, A.REOPEN, S.REOPENED),
    (S.REOPENED, A.ASSIGN, S.ASSIGNED),
    (S.REOPENED, A.START, S.IN_PROGRESS),
    (S.REOPENED, A.CANCEL, S.CANCELLED),
]


def test_the_table_is_exactly_the_expected_rows() -> None:
    assert {(s, a): t for s, a, t in EXPECTED} == dict(TRANSITIONS)


@pytest.mark.parametrize(("state", "action", "to"), EXPECTED)
def test_allowed_row(state: WorkOrderStatus, action: WorkOrderAction, to: WorkOrderStatus) -> None:
    tr = apply_action(state, action, "because")
    assert (tr.from_status, tr.action, tr.to_status, tr.note) == (state, action, to, "because")
    assert action_to(state, to) is action


@pytest.mark.parametrize("state", list(WorkOrderStatus))
@pytest.mark.parametrize("action", list(WorkOrderAction))
def test_forbidden_rows_name_the_allowed_actions(
    state: WorkOrderStatus, action: WorkOrderAction
) -> None:
    if (state, action) in TRANSITIONS:
        return
    with pytest.raises(TransitionNotAllowedError) as err:
        apply_action(state, action, "because")
    assert err.value.allowed == tuple(str(a) for (s, a) in TRANSITIONS if s is state)


def test_forbidden_targets_name_the_allowed_states() -> None:
    with pytest.raises(TransitionNotAllowedError, match="allowed: assigned, cancelled") as err:
        action_to(S.OPEN, S.COMPLETED)
    assert err.value.allowed == ("assigned", "cancelled")
    assert allowed_targets(S.CANCELLED) == ()
    with pytest.raises(TransitionNotAllowedError, match="allowed: none"):
        action_to(S.CANCELLED, S.OPEN)
    assert allowed_targets(S.ON_HOLD) == (S.IN_PROGRESS, S.CANCELLED)


@pytest.mark.parametrize(
    ("state", "action"), [(S.OPEN, A.CANCEL), (S.VERIFYING, A.REOPEN), (S.CLOSED, A.REOPEN)]
)
def test_cancel_and_reopen_need_a_reason(state: WorkOrderStatus, action: WorkOrderAction) -> None:
    with pytest.raises(InvalidInputError, match="needs a reason") as err:
        apply_action(state, action, "  ")
    assert err.value.field == "note"
