"""The tiny fraud model the local providers train, store and evaluate.

A model is one threshold on the transaction amount: amounts at or above it are flagged as
fraud. Training picks the threshold with the best accuracy on the training rows, so a dataset
whose labels were flipped (poisoned) yields a visibly worse model. Real enough to make
rollback, validation and retraining observable; small enough to train in milliseconds.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

Row = tuple[float, int]
FEATURE = "amount"


def parse_rows(text: str) -> list[Row]:
    """Rows of `amount,label` from CSV text with a header line."""
    reader = csv.DictReader(io.StringIO(text))
    return [(float(r[FEATURE]), int(r["label"])) for r in reader]


def read_rows(path: Path) -> list[Row]:
    return parse_rows(path.read_text())


def format_rows(rows: list[Row]) -> str:
    lines = [f"{FEATURE},label"] + [f"{amount:.2f},{label}" for amount, label in rows]
    return "\n".join(lines) + "\n"


def predict(weights: dict[str, Any], amount: float) -> int:
    return int(amount >= float(weights["threshold"]))


def accuracy(weights: dict[str, Any], rows: list[Row]) -> float:
    if not rows:
        return 0.0
    hits = sum(predict(weights, amount) == label for amount, label in rows)
    return round(hits / len(rows), 4)


def train(rows: list[Row]) -> dict[str, Any]:
    """The threshold (one of the observed amounts) that classifies `rows` best."""
    if not rows:
        raise ValueError("no training rows")
    candidates = sorted({amount for amount, _ in rows})
    best = max(candidates, key=lambda t: (accuracy({"threshold": t}, rows), -t))
    return {"feature": FEATURE, "threshold": best}
