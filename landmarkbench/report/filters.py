"""Which stored runs a report shows: ``--method``, ``--split``, ``--gt``, ``--seed``,
``--exclude`` and ``--exclude-tag`` of ``table``, ``plot`` and ``leaderboard``.

A ``RunSelection`` is checked against the stored runs before any table or figure is made:
a value that matches no stored run is refused with one sentence naming the stored values,
so a typo never yields a silently empty (or silently unfiltered) report. Tags are recorded
by ``run --tag`` in the run's protocol record (``record["tags"]``); they are labels, never
part of a run's identity, so they never change its folder or config hash.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from landmarkbench.errors import ResultsError, UsageError

if TYPE_CHECKING:  # annotations only: the CLI imports this module, the store imports pandas
    from landmarkbench.results.store import StoredRun

__all__ = ["LEADERBOARD_EXCLUDED_TAGS", "NO_TAG", "RunSelection", "run_tags"]

# Runs tagged so are left out of the leaderboard unless --exclude-tag says otherwise.
LEADERBOARD_EXCLUDED_TAGS = ("smoke",)
# ``--exclude-tag none``: leave out no tagged run.
NO_TAG = "none"


def run_tags(record: Mapping[str, Any]) -> tuple[str, ...]:
    """The tags a run was made with (``run --tag``), from its protocol record."""
    return tuple(str(t) for t in record.get("tags") or ())


def _names(run: StoredRun) -> set[str]:
    """What ``--method`` and ``--exclude`` match: the method, the shown name (with recipe,
    e.g. ``subpixel (cpu)``) and the label."""
    return {run.identity.method, run.name, run.label}


def _split_names(run: StoredRun) -> set[str]:
    """What ``--split`` matches: the protocol (``kfold``) and the split id."""
    return {run.conventions.protocol, run.conventions.split_id}


@dataclass(frozen=True)
class RunSelection:
    """The runs a report keeps; empty fields keep everything.

    ``methods``: method names or shown names (``subpixel (cpu)``); ``splits``: protocol
    names (``kfold``) or split ids (``kfold-cac3b65d62``, or a prefix of 6+ characters);
    ``ground_truths``: ground-truth sources; ``seeds``: training seeds; ``exclude``: runs
    whose method, shown name, config hash or tag is one of these are left out;
    ``exclude_tags``: runs carrying one of these tags are left out.
    """

    methods: tuple[str, ...] = ()
    splits: tuple[str, ...] = ()
    ground_truths: tuple[str, ...] = ()
    seeds: tuple[int, ...] = ()
    exclude: tuple[str, ...] = ()
    exclude_tags: tuple[str, ...] = ()

    @classmethod
    def from_options(
        cls,
        methods: Iterable[str] = (),
        splits: Iterable[str] = (),
        ground_truths: Iterable[str] = (),
        seeds: Iterable[int] = (),
        exclude: Iterable[str] = (),
        exclude_tags: Iterable[str] = (),
    ) -> RunSelection:
        """A selection from repeatable, comma-separated option values (``--method a,b``);
        ``--exclude-tag none`` leaves out no tag."""

        def split(values: Iterable[str]) -> tuple[str, ...]:
            found = (p.strip() for v in values for p in str(v).split(","))
            return tuple(dict.fromkeys(p for p in found if p))

        tags = tuple(t for t in split(exclude_tags) if t != NO_TAG)
        return cls(
            split(methods),
            split(splits),
            split(ground_truths),
            tuple(dict.fromkeys(int(s) for s in seeds)),
            split(exclude),
            tags,
        )

    @property
    def empty(self) -> bool:
        return not any(
            (
                self.methods,
                self.splits,
                self.ground_truths,
                self.seeds,
                self.exclude,
                self.exclude_tags,
            )
        )

    def describe(self) -> str:
        """The options as a user would type them (for notes and messages)."""
        parts = [
            *(f"--method {m}" for m in self.methods),
            *(f"--split {s}" for s in self.splits),
            *(f"--gt {g}" for g in self.ground_truths),
            *(f"--seed {s}" for s in self.seeds),
            *(f"--exclude {e}" for e in self.exclude),
            *(f"--exclude-tag {t}" for t in self.exclude_tags),
        ]
        return " ".join(parts)

    def keeps(self, run: StoredRun) -> bool:
        """Whether ``run`` passes every filter."""
        conventions = run.conventions
        tags = set(run_tags(run.record))
        if self.methods and not _names(run) & set(self.methods):
            return False
        if self.splits and not any(_split_matches(s, run) for s in self.splits):
            return False
        if self.ground_truths and conventions.ground_truth not in self.ground_truths:
            return False
        if self.seeds and run.identity.seed not in self.seeds:
            return False
        excluded = _names(run) | tags | {run.identity.config_hash}
        if set(self.exclude) & excluded:
            return False
        return not (tags & set(self.exclude_tags))

    def check(self, runs: Sequence[StoredRun], where: str) -> None:
        """Refuse a value that matches no stored run (a typo), naming the stored values.

        Raises:
            UsageError: one sentence: the option and value, where it was looked for, and
                the values that are stored.
        """
        stored_names = sorted({n for run in runs for n in (run.identity.method, run.name)})
        stored_splits = sorted({n for run in runs for n in _split_names(run)})
        stored_gts = sorted({run.conventions.ground_truth for run in runs})
        stored_seeds = sorted({run.identity.seed for run in runs})
        stored_tags = sorted({t for run in runs for t in run_tags(run.record)})
        excludable = sorted(
            {*stored_names, *stored_tags, *(run.identity.config_hash for run in runs)}
        )
        checks: list[tuple[str, Sequence[Any], Any, Sequence[Any]]] = [
            ("--method", self.methods, lambda v: v in stored_names, stored_names),
            (
                "--split",
                self.splits,
                lambda v: any(_split_matches(v, run) for run in runs),
                stored_splits,
            ),
            ("--gt", self.ground_truths, lambda v: v in stored_gts, stored_gts),
            ("--seed", self.seeds, lambda v: v in stored_seeds, stored_seeds),
            ("--exclude", self.exclude, lambda v: v in excludable, stored_names),
        ]
        for option, values, known, shown in checks:
            for value in values:
                if not known(value):
                    listed = ", ".join(map(str, shown)) or "none"
                    raise UsageError(
                        f"{option} {value} matches no stored run {where} (stored: {listed}); "
                        f"fix the value or drop {option}."
                    )
        # --exclude-tag is not checked: the leaderboard's default (smoke) may match nothing.

    def apply(self, runs: Sequence[StoredRun], where: str) -> list[StoredRun]:
        """The runs kept, after ``check``.

        Raises:
            UsageError: for a value matching no stored run (``check``).
            ResultsError: when the values each match runs but no run matches them all.
        """
        if self.empty:
            return list(runs)
        self.check(runs, where)
        kept = [run for run in runs if self.keeps(run)]
        tagged = self.left_out(runs)
        if not kept and tagged and sum(tagged.values()) == len(runs):
            raise ResultsError(
                f"Every stored run {where} is tagged {', '.join(sorted(tagged))}, which "
                "--exclude-tag leaves out (the leaderboard's default leaves out smoke runs); "
                "pass --exclude-tag none to show them."
            )
        if not kept:
            raise ResultsError(
                f"No stored run {where} matches {self.describe()} together (each value "
                "matches some run, but no run matches them all); drop one of the options."
            )
        return kept

    def left_out(self, runs: Sequence[StoredRun]) -> dict[str, int]:
        """How many of ``runs`` each excluded tag leaves out (for a note)."""
        counts: dict[str, int] = {}
        for run in runs:
            for tag in set(run_tags(run.record)) & set(self.exclude_tags):
                counts[tag] = counts.get(tag, 0) + 1
        return counts


def _split_matches(value: str, run: StoredRun) -> bool:
    conventions = run.conventions
    if value in (conventions.protocol, conventions.split_id):
        return True
    return len(value) >= 6 and conventions.split_id.startswith(value)
