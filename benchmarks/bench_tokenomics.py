"""Benchmark: a tokenomics-only world in ledgerlab vs the same model written in radCAD.

Why: a tokenomics designer can write a token model (vesting, sell rules, an emission drip,
an AMM) directly in radCAD. ledgerlab must not be the slower way to run that model
(issue 15, target 2): its tokenomics-only scenario (``scenarios/tokenomics_only.yaml``:
10,000 holders in vesting buckets with sell rules, a reward drip routed to the stakers, the
AMM, 3,650 daily epochs) must run at least 2× faster than an expert radCAD model of the
same rules — numpy arrays in the state, updated in place, ``deepcopy=False``, the exogenous
order flow drawn up front — measured side by side in one run. A second target (issue 15,
target 3): the fixed cost of an epoch with 10,000 holders and nothing to do (no unlock, no
sell rule, no emission, no order flow) is at most 50 µs.

The radCAD model implements ledgerlab's rules independently (only the scenario and the
seed's per-epoch ``market`` substreams, their random numbers, are shared): the launch (genesis buckets, TGE, the AMM's seed,
the outside market's inventory lent by the treasury, launch stakes), vesting unlocks (``sim.phases.market.VestingBook``:
each bucket's increment shared equally, at most what is still locked), the sell rules (a
fraction of each group's liquid balance while the price is at or above the trigger), the
outside flow (``economics.market.OrderFlow``: log-normal magnitude, a sell with
probability ``sell_share``), the netted AMM trade (``ConstantProductPool.execute_net``:
the matched part at spot with the fee on both sides, the rest as one Uniswap-v2 swap) and
the emission routing (``sim.phases.reward.route_emission``: pro rata to stake or liquid
balance). The benchmark checks that both give the same price path, tracker circulating
supply and market float (relative 1e-9), so the two timings do the same work. Both are
timed end to end: ledgerlab's model construction and epochs, radCAD's setup (which draws
the order flow) and run. The fixed cost is split by phase, so what an idle epoch spends
is visible.

radCAD is in the ``bench`` extra; install it with ``pip install --no-deps radcad fn-py
pathos`` (radCAD 0.14 pins numpy < 1.26.4, which would downgrade the environment's numpy
2 and break pyarrow; it runs on numpy 2).

Run: ``python benchmarks/bench_tokenomics.py [--epochs 3650] [--repeats 3] [--idle-epochs 2000]``.
Exit status 1 only when the two models' outputs differ (timings are printed, not asserted).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import ndtri

from ledgerlab.scenarios import Scenario
from ledgerlab.sim.model import STREAMS, EconomyModel
from ledgerlab.sim.phases import collect, market, reward, settle
from ledgerlab.sim.resolve import resolve_scenario
from ledgerlab.sim.streams import substream

TARGET_RATIO = 2.0  # radCAD ms/epoch ÷ ledgerlab ms/epoch
TARGET_FIXED_US = 50.0  # ledgerlab µs per epoch with 10,000 holders and nothing to do
RTOL = 1e-9  # outputs equal to rounding
SCENARIO = "tokenomics_only"
FIXED_COST_EPOCHS = 2_000


# ------------------------------------------------------------------------------ ledgerlab


def run_ledgerlab(scenario: Scenario) -> tuple[float, dict[str, np.ndarray]]:
    """Build the model and step every epoch (both timed, as the radCAD peer's setup and
    run are); returns (seconds, outputs)."""
    gc.collect()
    start = time.perf_counter()
    model = EconomyModel(scenario)
    for _ in range(scenario.epochs):
        model.step()
    seconds = time.perf_counter() - start
    ts = model.timeseries()
    out = {k: ts[k].to_numpy() for k in ("price_usd", "circulating_tokens", "market_float_tokens")}
    return seconds, out


def idle_scenario(scenario: Scenario, epochs: int) -> Scenario:
    """The same holders with nothing to do: every bucket unlocked at launch (nothing
    vests), no sell rule, no emission, no order flow."""
    return resolve_scenario(
        scenario,
        {
            "epochs": epochs,
            "tokenomics.sell_policies": [],
            "tokenomics.vesting": [
                {**b.model_dump(), "tge_fraction": 1.0} for b in scenario.tokenomics.vesting
            ],
            "tokenomics.emission.tokens_per_epoch": 0.0,
            "market.order_flow.mean_usd_per_epoch": 0.0,
        },
    )


# ------------------------------------------------------------------------------ radCAD


@dataclass
class Setup:
    """What the radCAD model's policies read: the scenario's rules as plain arrays."""

    bucket_rows: list[slice | None]  # holders' rows per bucket (None: a protocol account)
    bucket_kind: list[str]  # holders, reward_pool or liquidity
    unlocked_table: np.ndarray  # [epochs + 1, buckets]: unlocked over [0, t) per bucket
    policies: list[tuple[int, float, float]]  # (bucket, fraction, min price)
    flow_usd: np.ndarray  # the outside order flow of every epoch (USD, signed)
    emission_tokens: float  # per epoch
    from_pool: bool  # a pool drip (True) or minted (False)
    routing: str  # stakers, holders, reward_pool or auto
    fee: float  # the AMM's swap fee


def bucket_unlocked(b: Any, supply: float, t: np.ndarray) -> np.ndarray:
    """Tokens of bucket ``b`` unlocked over ``[0, t)`` (``economics.vesting`` rule)."""
    amount = b.share * supply
    tge = amount * b.tge_fraction
    if b.linear_epochs > 0:
        ramp = np.clip((t - b.cliff_epochs) / b.linear_epochs, 0.0, 1.0)
    else:
        ramp = (t > b.cliff_epochs).astype(np.float64)
    started = t >= 1.0
    partial = np.where(started, tge, 0.0) + (amount - tge) * ramp
    return np.where(started & (ramp >= 1.0), amount, partial)


def order_flow(scenario: Scenario, epochs: int) -> np.ndarray:
    """Every epoch's signed outside flow, drawn at setup: two standard normals per epoch
    (the log-magnitude and the sign) from that epoch's substream of the seed's ``market``
    stream (``sim.streams``: the random numbers are what the two models share)."""
    seq = np.random.SeedSequence(scenario.seed).spawn(len(STREAMS))[STREAMS.index("market")]
    market = np.random.Generator(np.random.PCG64(seq))
    of = scenario.market.order_flow
    g = np.array([substream(market, e).standard_normal(2) for e in range(epochs)])
    g = g.reshape(epochs, 2)
    t = np.arange(epochs, dtype=np.float64)
    s = of.volatility
    if of.persistent:
        noise = s * np.cumsum(g[:, 0]) - 0.5 * s * s * (t + 1.0)
    else:
        noise = s * g[:, 0] - 0.5 * s * s
    magnitude = of.mean_usd_per_epoch * np.exp(of.growth_per_epoch * t + noise)
    for shock in of.shocks:
        if shock.epoch < epochs:
            magnitude[shock.epoch] *= shock.multiplier
    flow = magnitude * np.where(g[:, 1] < ndtri(of.sell_share), -1.0, 1.0)
    for shock in of.shocks:
        if shock.epoch < epochs:
            flow[shock.epoch] += shock.net_usd
    return flow


def make_setup(sc: Scenario) -> tuple[Setup, dict[str, Any]]:
    """The rules and the launch state (genesis, TGE, the AMM's seed, launch stakes)."""
    tk, mk = sc.tokenomics, sc.market
    if sc.datanets or tk.emission.kind not in ("pool_drip", "constant"):
        raise SystemExit("the radCAD peer models tokenomics-only worlds with a drip or constant")
    elastic = (
        getattr(getattr(mk, "value_trader", None), "capital_usd", 0.0),
        getattr(getattr(mk, "arbitrage", None), "enabled", False),
        getattr(getattr(mk, "buyback", None), "share", 0.0),
        len(getattr(mk, "shocks", ())),
    )
    if any(elastic) or sc.chain.enabled or sc.population.validators:
        raise SystemExit(
            "the radCAD peer models holders and the noise traders' order flow only: no "
            "value trader, arbitrageur, buyback, price shock, chain or validators"
        )
    supply = tk.total_supply_tokens
    rows: list[slice | None] = []
    n = 0
    for b in tk.vesting:
        rows.append(slice(n, n + b.holders) if b.recipient == "holders" else None)
        n += b.holders if b.recipient == "holders" else 0
    t = np.arange(sc.epochs + 1, dtype=np.float64)
    table = np.stack([bucket_unlocked(b, supply, t) for b in tk.vesting], axis=1)
    names = [b.name for b in tk.vesting]
    policies = [
        (names.index(p.holder), p.fraction_per_epoch, p.min_price_usd) for p in tk.sell_policies
    ]
    em = tk.emission
    setup = Setup(
        rows,
        [b.recipient for b in tk.vesting],
        table,
        policies,
        order_flow(sc, sc.epochs),
        em.tokens_per_epoch,
        em.kind == "pool_drip",
        em.without_contributors,
        mk.amm_fee,
    )
    state: dict[str, Any] = {  # one mutable world, shared by every record (deepcopy=False)
        "bal": np.zeros(n),
        "stk": np.zeros(n),
        "lck": np.zeros(n),
        "pool_bal": 0.0,
        "pool_lck": 0.0,
        "treasury_bal": 0.0,
        "treasury_lck": 0.0,
        "outside_bal": 0.0,
        "unlocked": np.zeros(len(tk.vesting)),
        "amm_tokens": 0.0,
        "amm_usd": mk.pool_liquidity_usd,
    }
    for i, b in enumerate(tk.vesting):
        amount, tge = b.share * supply, b.share * supply * b.tge_fraction
        if rows[i] is not None:
            state["lck"][rows[i]] = amount / b.holders - tge / b.holders
            state["bal"][rows[i]] = tge / b.holders
        else:
            key = "pool" if b.recipient == "reward_pool" else "treasury"
            state[f"{key}_lck"] += amount - tge
            state[f"{key}_bal"] += tge
        state["unlocked"][i] = tge
    reserve = mk.pool_liquidity_usd / mk.initial_price_usd
    state["treasury_bal"] -= reserve
    state["amm_tokens"] = reserve
    # the outside market's launch inventory, lent by the treasury (at most half its rest)
    want = getattr(mk, "outside_inventory_multiple", 0.0) * reserve
    lent = min(want, max(state["treasury_bal"], 0.0) / 2.0)
    if lent > 0:
        state["treasury_bal"] -= lent
        state["outside_bal"] += lent
    frac = tk.staking.initial_staked_fraction
    if frac > 0:
        stake = state["bal"] * frac
        state["bal"] -= stake
        state["stk"] += stake
    return setup, state


def unlock(p: Setup, s: dict[str, Any], epoch: int) -> None:
    """Each bucket's increment to its schedule, shared equally, at most what is locked."""
    inc = np.maximum(p.unlocked_table[epoch + 1] - s["unlocked"], 0.0)
    for i, rows in enumerate(p.bucket_rows):
        if inc[i] <= 0:
            continue
        if rows is None:
            key = "pool" if p.bucket_kind[i] == "reward_pool" else "treasury"
            each = min(inc[i], s[f"{key}_lck"])
            s[f"{key}_lck"] -= each
            s[f"{key}_bal"] += each
            s["unlocked"][i] += each
            continue
        n = rows.stop - rows.start
        each = np.minimum(inc[i] / n, s["lck"][rows])
        s["lck"][rows] -= each
        s["bal"][rows] += each
        s["unlocked"][i] += float(each.sum())


def swap_out(amount: float, r_in: float, r_out: float, fee: float) -> float:
    """Uniswap v2 output, the pool keeping k from rounding down (``_protect_k``)."""
    if amount == 0.0:
        return 0.0
    if fee == 0.003:
        a = amount * 997.0
        out = a * r_out / (r_in * 1000.0 + a)
    else:
        a = amount * (1.0 - fee)
        out = a * r_out / (r_in + a)
    new_in, new_out, k = r_in + amount, r_out - out, r_in * r_out
    if new_in * new_out < k:
        r = k / new_in
        while new_in * r < k:
            r = float(np.nextafter(r, np.inf))
        new_out = min(max(new_out, r), r_out)
    return r_out - new_out


def trade(p: Setup, s: dict[str, Any], epoch: int) -> None:
    """Sell rules and the outside flow, netted into one AMM trade."""
    price = s["amm_usd"] / s["amm_tokens"]
    bal = s["bal"]
    sold = 0.0
    for bucket, fraction, min_price in p.policies:
        if price < min_price or fraction <= 0:
            continue
        rows = p.bucket_rows[bucket]
        amounts = bal[rows] * fraction
        bal[rows] -= amounts
        sold += float(amounts.sum())
    net = p.flow_usd[epoch]
    buy = max(net, 0.0)
    outside_sell = min(-net / price, s["outside_bal"]) if net < 0 else 0.0
    s["outside_bal"] += sold  # sellers' tokens cross to the outside market
    sells = sold + max(outside_sell, 0.0)
    tok, usd, fee = s["amm_tokens"], s["amm_usd"], p.fee
    if buy >= sells * price:  # every token sold is matched; the rest of the cash swaps
        m_tok, m_usd = sells, sells * price
    else:
        m_usd, m_tok = buy, min(buy / price, sells)
    if m_usd > 0.0:
        tok, usd = tok + m_tok * fee, usd + m_usd * fee
    if buy >= sells * price:
        out = swap_out(max(buy - m_usd, 0.0), usd, tok, fee)
        usd, tok = usd + max(buy - m_usd, 0.0), tok - out
    else:
        rest = max(sells - m_tok, 0.0)
        out = swap_out(rest, tok, usd, fee)
        tok, usd = tok + rest, usd - out
    delta = tok - s["amm_tokens"]
    if delta > 0:
        moved = min(delta, s["outside_bal"])
        s["outside_bal"] -= moved
        s["amm_tokens"] += moved
    elif delta < 0:
        s["outside_bal"] -= delta
        s["amm_tokens"] += delta
    s["amm_usd"] = usd


def emit(p: Setup, s: dict[str, Any]) -> None:
    """The epoch's emission, minted or dripped, paid pro rata to stake or liquid balance."""
    if not p.from_pool and p.emission_tokens > 0:
        s["pool_bal"] += p.emission_tokens
    amount = min(p.emission_tokens, s["pool_bal"])
    routing = p.routing
    if routing == "auto":
        routing = "stakers" if s["stk"].any() else "holders"
    if routing == "reward_pool" or amount <= 0:
        return
    weights = s["stk"] if routing == "stakers" else s["bal"]
    total = float(weights.sum())
    if total <= 0:
        return
    share = weights * (amount / total)
    paid = float(share.sum())
    limit = s["pool_bal"] * (1.0 - 1e-12)
    if paid > limit:
        share *= limit / paid
        paid = float(share.sum())
    s["bal"] += share
    s["pool_bal"] -= paid


def p_epoch(params: dict[str, Any], substep: int, history: Any, state: dict[str, Any]) -> dict:
    """The whole epoch as one policy acting on the arrays in the state (in place)."""
    p: Setup = params["setup"]
    w = state["world"]
    epoch = state["timestep"]  # the previous state's: 0 in the first epoch
    unlock(p, w, epoch)
    trade(p, w, epoch)
    emit(p, w)
    held = float(w["bal"].sum() + w["stk"].sum())
    market_float = held + w["outside_bal"]
    protocol = w["pool_bal"] + w["treasury_bal"] + w["amm_tokens"]
    return {
        "price_usd": w["amm_usd"] / w["amm_tokens"],
        "circulating_tokens": market_float + protocol,
        "market_float_tokens": market_float,
    }


def _kpi(name: str) -> Any:
    def update(params: Any, substep: int, history: Any, state: Any, signal: dict) -> tuple:
        return name, signal[name]

    return update


def run_radcad(scenario: Scenario) -> tuple[float, dict[str, np.ndarray]]:
    """The same world in radCAD: one state-update block whose policy updates the world's
    arrays and accounts in place (one mutable object in the state, never copied), and
    whose state updates record the three KPIs."""
    from radcad import Engine, Model, Simulation

    gc.collect()
    start = time.perf_counter()  # its setup draws the order flow: timed, like ledgerlab's
    setup, world = make_setup(scenario)
    kpis = ("price_usd", "circulating_tokens", "market_float_tokens")
    model = Model(
        initial_state={"world": world, **dict.fromkeys(kpis, 0.0)},
        state_update_blocks=[
            {"policies": {"epoch": p_epoch}, "variables": {k: _kpi(k) for k in kpis}}
        ],
        params={"setup": [setup]},
    )
    sim = Simulation(model=model, timesteps=scenario.epochs, runs=1)
    sim.engine = Engine(deepcopy=False, drop_substeps=True)
    results = sim.run()
    seconds = time.perf_counter() - start
    rows = results[1:]  # the first record is the initial state
    return seconds, {k: np.array([r[k] for r in rows]) for k in kpis}


# ------------------------------------------------------------------------------ main


def compare(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> list[str]:
    """Names of the outputs that differ beyond :data:`RTOL` (with their worst gap)."""
    bad = []
    for k in a:
        gap = np.max(np.abs(a[k] - b[k]) / np.maximum(np.abs(b[k]), 1e-300))
        if not np.allclose(a[k], b[k], rtol=RTOL, atol=0.0):
            bad.append(f"{k} (worst relative gap {gap:.3g})")
    return bad


PHASES = (
    (market, "unlock_and_trade"),
    (reward, "attribute_and_pay"),
    (settle, "settle_transactions"),
    (collect, "collect"),
)
"""The phase functions an idle tokenomics-only epoch calls (``EconomyModel.step`` looks
them up on their modules, so wrapping them there times them)."""


def fixed_cost_us(scenario: Scenario, epochs: int) -> tuple[float, dict[str, float]]:
    """ledgerlab's µs per epoch with the scenario's holders and nothing to do, and its
    split by phase (µs per epoch; ``rest``: the loop, the flows record, the streams)."""
    idle = idle_scenario(scenario, epochs)
    model = EconomyModel(idle)
    spent = dict.fromkeys([name for _, name in PHASES], 0.0)
    originals = [(mod, name, getattr(mod, name)) for mod, name in PHASES]

    def timed(name: str, fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - t0

        return wrapper

    for mod, name, fn in originals:
        setattr(mod, name, timed(name, fn))
    try:
        gc.collect()
        start = time.perf_counter()
        for _ in range(epochs):
            model.step()
        total = time.perf_counter() - start
    finally:
        for mod, name, fn in originals:
            setattr(mod, name, fn)
    split = {name: t / epochs * 1e6 for name, t in spent.items()}
    split["rest"] = total / epochs * 1e6 - sum(split.values())
    return total / epochs * 1e6, split


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=None, help="default: the scenario's 3,650")
    ap.add_argument("--repeats", type=int, default=3, help="best of this many runs each")
    ap.add_argument(
        "--idle-epochs", type=int, default=FIXED_COST_EPOCHS, help="epochs of the fixed-cost run"
    )
    args = ap.parse_args(argv)
    sc = resolve_scenario(SCENARIO, {"epochs": args.epochs} if args.epochs else {})
    holders = sum(b.holders for b in sc.tokenomics.vesting if b.recipient == "holders")
    print(f"tokenomics-only world: {holders:,} holders, {sc.epochs:,} epochs, one core")
    try:
        import radcad  # noqa: F401
    except ImportError:
        print("radCAD is not installed (the `bench` extra): SKIP the comparison")
        return 0
    lab = min((run_ledgerlab(sc) for _ in range(args.repeats)), key=lambda r: r[0])
    cad = min((run_radcad(sc) for _ in range(args.repeats)), key=lambda r: r[0])
    lab_ms, cad_ms = lab[0] / sc.epochs * 1e3, cad[0] / sc.epochs * 1e3
    ratio = cad_ms / lab_ms
    print(f"ledgerlab  {lab_ms:8.4f} ms/epoch")
    print(f"radCAD     {cad_ms:8.4f} ms/epoch  (numpy state in place, deepcopy=False)")
    verdict = "PASS" if ratio >= TARGET_RATIO else "FAIL"
    print(f"ratio      radCAD / ledgerlab = {ratio:.2f}×  (target ≥ {TARGET_RATIO:g}×)  {verdict}")
    print(
        f"TARGET 2: tokenomics-only world, ledgerlab {ratio:.2f}x the speed of the radCAD "
        f"model (>= {TARGET_RATIO:g}x) {verdict}"
    )
    bad = compare(lab[1], cad[1])
    print(
        "outputs    price, circulating supply, market float: "
        + ("equal to rtol 1e-9  PASS" if not bad else "DIFFER: " + "; ".join(bad) + "  FAIL")
    )
    fixed, split = min(
        (fixed_cost_us(sc, args.idle_epochs) for _ in range(args.repeats)), key=lambda r: r[0]
    )
    fixed_ok = "PASS" if fixed <= TARGET_FIXED_US else "FAIL"
    print(
        f"fixed cost {fixed:8.1f} µs/epoch with {holders:,} holders and nothing to do  "
        f"(target ≤ {TARGET_FIXED_US:g} µs)  {fixed_ok}"
    )
    print("           by phase: " + ", ".join(f"{k} {v:.0f} µs" for k, v in split.items()))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
