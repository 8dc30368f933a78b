"""Benchmark: random transfers via one vectorised ``Ledger.transfer_many`` vs a Python loop.

Why: the design relies on array-backed role sets paying each other in vectorised batches;
this measures what that buys over calling ``Ledger.transfer`` once per transfer, in the same
run, with the journal on (the default) and off. Target (issue 2): ratio >= 100 with the
journal on.

Every account is funded with the sum of its outgoing transfers plus one token, so the
one-by-one loop never overdraws whatever the order; both methods must then end with the
same balances (checked, to 1e-9 relative), so the two timings do the same work.

If the loop would take longer than ``--loop-budget`` seconds (estimated after its first
10,000 transfers), only the first 100,000 transfers are timed and the time is scaled to
``n``; the output says so.

Run: ``python benchmarks/bench_ledger.py [--n 1000000] [--accounts 10000]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import numpy as np

from ledgerlab.economics.ledger import Ledger

SEED = 20_240_611  # fixed: the same transfers on every run
TARGET_RATIO = 100.0  # loop time / batch time, journal on
LOOP_BLOCK = 10_000  # transfers per timed block of the loop (the budget is checked per block)
LOOP_SUBSAMPLE = 100_000  # transfers timed when the full loop would exceed the budget


def _funded_ledger(funding_tokens: np.ndarray, journal: bool) -> Ledger:
    """A ledger with one account per entry of ``funding_tokens``, each minted that much."""
    ledger = Ledger(capacity=len(funding_tokens), journal=journal)
    ids = ledger.open_accounts(len(funding_tokens))
    ledger.mint_many(ids, funding_tokens)
    return ledger


def _time_loop(
    ledger: Ledger,
    src: list[int],
    dst: list[int],
    amounts: list[float],
    budget_s: float,
    subsample: int,
) -> tuple[float, int]:
    """Apply transfers one by one; returns (seconds, transfers done).

    Stops after ``subsample`` transfers (rounded up to a whole block) when the first block
    projects a total above ``budget_s`` seconds. Only the ``transfer`` calls are timed.
    """
    n = len(amounts)
    transfer = ledger.transfer
    elapsed, done, limit = 0.0, 0, n
    while done < limit:  # a loop over blocks; the per-transfer loop is the thing measured
        stop = min(done + LOOP_BLOCK, limit)
        s, d, a = src[done:stop], dst[done:stop], amounts[done:stop]
        t0 = time.perf_counter()
        for i, j, x in zip(s, d, a, strict=True):
            transfer(i, j, x)
        elapsed += time.perf_counter() - t0
        done = stop
        if limit == n and elapsed / done * n > budget_s:
            limit = min(n, max(done, subsample))
    return elapsed, done


def run(
    n: int = 1_000_000,
    accounts: int = 10_000,
    *,
    seed: int = SEED,
    loop_budget_s: float = 60.0,
    loop_subsample: int = LOOP_SUBSAMPLE,
    repeats: int = 3,
) -> dict[str, Any]:
    """Time ``n`` random transfers among ``accounts`` accounts both ways, journal on and off.

    Args:
        n: number of transfers (>= 1).
        accounts: number of accounts (>= 1).
        seed: seed of the numpy Generator that draws the transfers.
        loop_budget_s: seconds the one-by-one loop may take before it is subsampled.
        loop_subsample: transfers timed (then scaled to ``n``) when the budget is exceeded.
        repeats: the batch is timed this many times on fresh ledgers; the best time counts.

    Returns:
        A dict with ``n``, ``accounts``, ``seed``, ``target_ratio``, ``passed`` (journal-on
        ratio >= target) and, under ``"journal_on"`` and ``"journal_off"``: ``batch_s``
        (best seconds for one ``transfer_many``), ``batch_first_s`` (the first, cold-memory
        repetition: the journal's fresh chunks cost page faults), ``loop_s`` (seconds for ``n`` ``transfer``
        calls, scaled if subsampled), ``loop_timed`` (transfers actually timed),
        ``loop_scaled`` (bool), ``ratio`` (``loop_s / batch_s``), ``agree`` (both methods
        gave the same balances) and ``journal_rows``.
    """
    if n < 1 or accounts < 1:
        raise ValueError(f"run: n and accounts must be >= 1, got n={n}, accounts={accounts}")
    rng = np.random.default_rng(seed)
    src = rng.integers(0, accounts, n, dtype=np.int64)
    dst = rng.integers(0, accounts, n, dtype=np.int64)
    amounts_tokens = rng.uniform(0.01, 100.0, n)
    funding_tokens = np.bincount(src, weights=amounts_tokens, minlength=accounts) + 1.0
    src_l, dst_l, amt_l = src.tolist(), dst.tolist(), amounts_tokens.tolist()

    result: dict[str, Any] = {
        "n": n,
        "accounts": accounts,
        "seed": seed,
        "target_ratio": TARGET_RATIO,
        "repeats": max(1, repeats),
    }
    for journal in (True, False):
        batch_times_s = []
        for _ in range(max(1, repeats)):
            batch = _funded_ledger(funding_tokens, journal)
            t0 = time.perf_counter()
            batch.transfer_many(src, dst, amounts_tokens)
            batch_times_s.append(time.perf_counter() - t0)
        batch_s = min(batch_times_s)
        looped = _funded_ledger(funding_tokens, journal)
        loop_s, done = _time_loop(looped, src_l, dst_l, amt_l, loop_budget_s, loop_subsample)
        if done < n:  # compare with a batch of the same subsample
            batch = _funded_ledger(funding_tokens, journal)
            batch.transfer_many(src[:done], dst[:done], amounts_tokens[:done])
        looped.check_invariants()
        batch.check_invariants()
        agree = bool(
            np.allclose(looped.balance, batch.balance, rtol=1e-9, atol=1e-9 * batch.supply)
        )
        loop_total_s = loop_s / done * n
        result["journal_on" if journal else "journal_off"] = {
            "batch_s": float(batch_s),
            "batch_first_s": float(batch_times_s[0]),
            "loop_s": float(loop_total_s),
            "loop_timed": done,
            "loop_scaled": done < n,
            "ratio": float(loop_total_s / batch_s),
            "agree": agree,
            "journal_rows": batch.journal_size,
        }
    result["passed"] = result["journal_on"]["ratio"] >= TARGET_RATIO
    return result


def _report(res: dict[str, Any]) -> str:
    lines = [
        f"bench_ledger: {res['n']:,} random transfers over {res['accounts']:,} accounts "
        f"(seed {res['seed']})"
    ]
    for key, label in (("journal_on", "journal on "), ("journal_off", "journal off")):
        r = res[key]
        timed = (
            f"first {r['loop_timed']:,} timed, scaled x{res['n'] / r['loop_timed']:.1f}"
            if r["loop_scaled"]
            else f"all {r['loop_timed']:,} timed"
        )
        verdict = "PASS" if r["ratio"] >= res["target_ratio"] else "FAIL"
        lines.append(
            f"  {label}: transfer_many {r['batch_s'] * 1e3:6.1f} ms (best of "
            f"{res['repeats']}; first {r['batch_first_s'] * 1e3:.1f} ms) | loop of transfer "
            f"{r['loop_s']:7.2f} s ({timed}) | ratio {r['ratio']:7.1f}x | "
            f"target >= {res['target_ratio']:.0f}: {verdict} | same balances: {r['agree']}"
        )
    lines.append(f"result (journal on, the issue's target): {'PASS' if res['passed'] else 'FAIL'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="number of transfers")
    parser.add_argument("--accounts", type=int, default=10_000, help="number of accounts")
    parser.add_argument(
        "--loop-budget",
        type=float,
        default=60.0,
        help="seconds the one-by-one loop may take before it is subsampled (default 60)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 when the target is missed"
    )
    args = parser.parse_args(argv)
    if args.n < 1 or args.accounts < 1:
        parser.error("--n and --accounts must be >= 1")
    res = run(args.n, args.accounts, loop_budget_s=args.loop_budget)
    print(_report(res))
    ok = res["journal_on"]["agree"] and res["journal_off"]["agree"]
    if not ok:
        print("error: the loop and the batch ended with different balances", file=sys.stderr)
        return 1
    return 1 if args.strict and not res["passed"] else 0


if __name__ == "__main__":
    sys.exit(main())
