"""Tests for ``ledgerlab explore`` (``analysis/explore.py``).

The controls and the scenario they describe are tested directly (no solara needed). The
page itself is tested in a real headless Chromium: ``ledgerlab explore`` is started on
127.0.0.1 (a free port the server picks and prints), the page is loaded, stepped, a
defence switched on, a fee split refused, and every check is read from the rendered DOM.
The screenshots are kept as test artefacts in ``tests/artifacts/`` (git-ignored):
``explore.png`` after two steps, ``explore-error.png`` showing a refused setting.

The browser test is skipped when no Chromium binary is found (Debian: ``apt-get install
chromium``; or point ``LEDGERLAB_CHROMIUM`` at one), except in CI (``CI`` set), where a
missing Chromium is a failure: ``.ci/run`` installs it.
"""

from __future__ import annotations

import math
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from ledgerlab.analysis import explore
from ledgerlab.scenarios import Scenario, ScenarioError, apply_overrides
from ledgerlab.scenarios.library import load_scenario

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("LEDGERLAB_ARTIFACTS", ROOT / "tests" / "artifacts"))
"""Where the page's screenshots are written (``LEDGERLAB_ARTIFACTS`` overrides)."""

SMALL = [
    "--set",
    "population.providers=20",
    "--set",
    "population.consumers=20",
]
"""Overrides that keep the page's scenario small (fast epochs on a loaded machine)."""


def _defaults(spec: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {name: control["value"] for name, control in spec.items()}


@pytest.fixture(scope="module")
def world() -> Scenario:
    return apply_overrides(
        load_scenario("antifarming_world"),
        {"population.providers": 20, "population.consumers": 20},
    )


# ------------------------------------------------------------------ controls and model


def test_controls_default_to_the_scenario_and_stay_in_bounds(world: Scenario) -> None:
    spec = explore.param_spec(world)
    assert spec["engine"]["value"] == world.attribution.engine
    assert set(spec["engine"]["values"]) == set(explore.ENGINES)
    assert spec["emission"]["value"] == world.tokenomics.emission.tokens_per_epoch
    assert spec["fee_burn_pct"]["value"] == pytest.approx(world.tokenomics.fee_split.burn * 100)
    assert spec["population__farmers__wash"]["value"] == world.population.farmers.wash
    kinds = {d.kind for d in world.defenses}
    for kind in explore.DEFENSE_KINDS:
        assert spec[f"defense_{kind}"]["value"] is (kind in kinds)
    for name, control in spec.items():
        assert control["label"], name
        if control["type"] in ("SliderInt", "SliderFloat"):
            assert control["min"] <= control["value"] <= control["max"], name
            assert control["min"] >= 0, name
            assert 0 < control["step"] <= control["max"] - control["min"], name
    assert spec["fee_burn_pct"]["max"] == 100.0


def test_untouched_controls_leave_the_scenario_as_it_is(world: Scenario) -> None:
    assert explore.scenario_from_params(world, _defaults(explore.param_spec(world))) is world


def test_controls_change_the_scenario(world: Scenario) -> None:
    params = _defaults(explore.param_spec(world))
    params.update(
        emission=750.0,
        fee_burn_pct=20.0,
        engine="knn_shapley",
        defense_dedup=True,
        population__farmers__wash=0,
        population__poisoners__noise=9,
    )
    sc = explore.scenario_from_params(world, params)
    assert sc.tokenomics.emission.tokens_per_epoch == 750.0
    split = sc.tokenomics.fee_split
    assert split.burn == pytest.approx(0.2)
    assert split.contributors == pytest.approx(0.4)  # builder 30 %, stakers 10 %: the rest
    assert sc.attribution.engine == "knn_shapley"
    assert [d.kind for d in sc.defenses] == ["dedup"]
    assert sc.population.farmers.wash == 0
    assert sc.population.poisoners.noise == 9
    # and switched off again
    with_dedup = sc
    params2 = _defaults(explore.param_spec(with_dedup))
    params2["defense_dedup"] = False
    assert explore.scenario_from_params(with_dedup, params2).defenses == ()


def test_a_table_emission_is_scaled(world: Scenario) -> None:
    sc = apply_overrides(world, {"tokenomics.emission.kind": "table"})
    spec = explore.param_spec(sc)
    assert spec["emission"]["value"] == 1.0
    scaled = explore.scenario_from_params(sc, {**_defaults(spec), "emission": 2.0})
    before = [s.tokens_per_epoch for s in sc.tokenomics.emission.steps]
    assert [s.tokens_per_epoch for s in scaled.tokenomics.emission.steps] == [2 * v for v in before]


def test_refused_settings_become_a_message_not_a_crash(world: Scenario) -> None:
    params = _defaults(explore.param_spec(world))
    with pytest.raises(explore.ExploreError, match="more than 100 %"):
        explore.scenario_from_params(world, {**params, "fee_burn_pct": 80.0})
    model = explore.ExploreModel(world, **{**params, "fee_burn_pct": 80.0})
    assert model.economy is None and not model.running
    assert "contributors get the rest" in model.error
    model.step()  # does nothing
    assert model.epoch == 0 and model.timeseries().empty
    # a combination the schema refuses: a kNN-only engine on a logistic datanet
    logistic = apply_overrides(
        world, {"datanets.0.model": "logistic", "attribution.engine": "influence"}
    )
    spec = explore.param_spec(logistic)
    with pytest.raises(ScenarioError):
        explore.scenario_from_params(logistic, {**_defaults(spec), "engine": "knn_shapley"})
    model = explore.ExploreModel(logistic, **{**_defaults(spec), "engine": "knn_shapley"})
    assert model.economy is None and not model.running
    assert "needs model: knn" in model.error
    with pytest.raises(explore.ExploreError, match="unknown controls"):
        explore.scenario_from_params(world, {"nonsense": 1})


def test_the_model_steps_and_the_plots_read_its_kpis(world: Scenario) -> None:
    model = explore.ExploreModel(world, **_defaults(explore.param_spec(world)))
    assert model.running and model.error is None
    for _ in range(3):
        model.step()
    assert model.epoch == 3 and model.steps == 3
    frame = model.frame()
    assert list(frame["day"]) == [1.0, 2.0, 3.0]
    plots = explore.plotted()
    assert [p.title for p in plots][:2] == ["Token price", "Circulating supply"]
    for plot in plots:
        fig = explore.plot_figure(frame, plot)
        ax = fig.axes[0]
        assert ax.get_xlabel() == "days since launch"
        assert ax.get_ylabel() == plot.unit and ax.get_title() == plot.title
        assert ax.lines, plot.title
        assert explore.png_bytes(fig).startswith(b"\x89PNG")
        assert "3 epochs" in explore.caption(frame, plot)
    share = frame["adversary_reward_share"].dropna()
    assert ((share >= 0) & (share <= 1)).all()


def test_kpis_the_model_does_not_report_are_skipped() -> None:
    kpis = ("epoch", "price_usd", "circulating_tokens", "accuracy")
    plots = explore.plotted(kpis)
    assert [p.title for p in plots] == ["Token price", "Circulating supply", "Model accuracy"]
    assert [s.column for s in plots[1].series] == ["circulating_tokens"]
    # a new KPI is plotted as soon as the model reports it
    more = explore.plotted((*kpis, "market_float_tokens", "excess_share"))
    assert [s.column for s in more[2].series] == ["market_float_tokens"]
    assert any(s.column == "excess_share" for p in more for s in p.series)


def test_a_bad_scenario_is_one_error_line_and_no_server() -> None:
    from typer.testing import CliRunner

    from ledgerlab.analysis.cli import app

    result = CliRunner().invoke(app, ["explore", "baseline", "--set", "population.providers=-1"])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: --set: population.providers: ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output and "http://" not in result.stdout


def test_without_the_viz_extra_the_command_says_what_to_install() -> None:
    code = (
        "import sys; sys.modules['solara'] = None; sys.argv = ['ledgerlab', 'explore'];"
        "from ledgerlab.analysis.cli import main; main()"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines() == [
        "error: the interactive page needs solara: pip install 'ledgerlab[viz]'"
    ]


# ------------------------------------------------------------------------- the browser


def _chromium() -> str | None:
    found = os.environ.get("LEDGERLAB_CHROMIUM")
    if found:
        return found
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class Server:
    """``ledgerlab explore`` in a subprocess; its output read by threads."""

    def __init__(self, args: list[str]) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "0"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ledgerlab.analysis.cli", "explore", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.stderr: list[str] = []
        self.stdout: list[str] = []
        assert self.proc.stdout is not None and self.proc.stderr is not None
        threading.Thread(target=self._pump, args=(self.proc.stdout, True), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, False), daemon=True).start()

    def _pump(self, stream: Any, is_stdout: bool) -> None:
        for line in stream:
            (self.stdout if is_stdout else self.stderr).append(line)
            if is_stdout:
                self.lines.put(line)

    def url(self, timeout: float = 120.0) -> str:
        """The page's URL, from the line the command prints once it listens."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                time.sleep(0.5)  # let the pump threads drain
                pytest.fail(f"ledgerlab explore exited {self.proc.returncode}: {self.output()}")
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                continue
            match = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
            if match:
                return match.group(1)
        pytest.fail(f"ledgerlab explore printed no URL in {timeout:.0f} s: {self.output()}")

    def output(self) -> str:
        return "".join(self.stdout) + "".join(self.stderr)

    def stop(self, timeout: float = 60.0) -> int:
        """Ctrl-C, then wait (a kill if it hangs, which fails the caller's check)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
                return -9
        time.sleep(0.2)  # let the pump threads drain
        return self.proc.returncode


@pytest.fixture
def server() -> Any:
    started: list[Server] = []

    def start(*args: str) -> Server:
        srv = Server(list(args))
        started.append(srv)
        return srv

    yield start
    for srv in started:
        if srv.proc.poll() is None:
            srv.proc.kill()
            srv.proc.wait(timeout=30)


def _wait_http(url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last = exc
        time.sleep(0.25)
    pytest.fail(f"{url} did not answer in {timeout:.0f} s: {last}")


IMAGE_DIGESTS = """
async () => {
  const out = [];
  for (const img of document.querySelectorAll('.ledgerlab-plot img')) {
    try {
      const bytes = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
      let h = 2166136261;
      for (const b of bytes) { h ^= b; h = Math.imul(h, 16777619) >>> 0; }
      out.push({digest: h, size: bytes.length, width: img.naturalWidth});
    } catch (e) {
      return [];  // an image replaced while read: ask again
    }
  }
  return out;
}
"""
"""Per plot image: an FNV-1a digest of the PNG bytes the page shows, and its size (an
empty list while an image is being replaced)."""


def _digests(
    page: Any, n: int, timeout_s: float, unlike: list[dict[str, int]] | None = None
) -> Any:
    """The ``n`` plot images' digests, polled until there are ``n`` of them (a re-render
    replaces images) and, given ``unlike``, until every one differs from those."""
    deadline = time.monotonic() + timeout_s
    now: list[dict[str, int]] = []
    while time.monotonic() < deadline:
        now = page.evaluate(IMAGE_DIGESTS)
        if len(now) == n and (
            unlike is None
            or all(a["digest"] != b["digest"] for a, b in zip(unlike, now, strict=True))
        ):
            return now
        page.wait_for_timeout(250)
    pytest.fail(f"the {n} plot images did not all change: before {unlike}, now {now}")


def test_page_in_a_real_browser(server: Any, tmp_path: Path) -> None:
    chromium = _chromium()
    if chromium is None:
        if os.environ.get("CI"):
            pytest.fail("CI: no Chromium binary found (.ci/run installs Debian's chromium)")
        pytest.skip("no Chromium binary (apt-get install chromium, or set LEDGERLAB_CHROMIUM)")
    try:
        import playwright.sync_api as sync_api
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("CI: playwright is missing (it is in the dev extra)")
        pytest.skip("playwright is in the dev extra: pip install -e '.[dev]'")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    srv = server("antifarming_world", "--port", "0", "--host", "127.0.0.1", *SMALL)
    url = srv.url()
    _wait_http(url)
    n_plots = len(explore.plotted())
    timeout_ms = 90_000

    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh profile
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 2000},
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(timeout_ms)
            sync_api.expect.set_options(timeout=timeout_ms)
            page.goto(url, timeout=timeout_ms)
            step = page.get_by_role("button", name="Step", exact=True)
            reset = page.get_by_role("button", name="Reset", exact=True)
            step.wait_for()
            captions = page.locator(".ledgerlab-caption")
            price = captions.filter(has_text="Token price")
            sync_api.expect(captions).to_have_count(n_plots)
            sync_api.expect(price).to_contain_text("no epochs yet")
            empty = _digests(page, n_plots, timeout_ms / 1000)

            # each step draws new data into every plot
            step.click()
            sync_api.expect(price).to_contain_text("1 epoch,")
            first = _digests(page, n_plots, timeout_ms / 1000, unlike=empty)
            step.click()
            sync_api.expect(price).to_contain_text("2 epochs")
            sync_api.expect(captions.first).to_contain_text("2 epochs")
            second = _digests(page, n_plots, timeout_ms / 1000, unlike=first)
            assert all(img["size"] > 5_000 and img["width"] > 300 for img in second)
            # the plots show numbers: the price is a positive finite USD value
            match = re.search(r"AMM price ([0-9.]+) USD", price.inner_text())
            assert match and math.isfinite(float(match.group(1))) and float(match.group(1)) > 0
            status = page.locator(".ledgerlab-status")
            sync_api.expect(status).to_contain_text("2 of 120")
            page.screenshot(path=str(ARTIFACTS / "explore.png"), full_page=True)

            # a defence switched on applies on Reset
            dedup = page.get_by_label("Defence: de-duplication")
            page.locator("label", has_text="Defence: de-duplication").click()
            sync_api.expect(dedup).to_be_checked()
            reset.click()
            sync_api.expect(status).to_contain_text("0 of 120")
            sync_api.expect(status.locator("tr", has_text="Defences")).to_contain_text("dedup")
            sync_api.expect(price).to_contain_text("no epochs yet")

            # settings the scenario refuses: the page says why and does not run
            burn = page.locator(".v-input", has_text="Burn (% of fees)").locator("[role=slider]")
            burn.focus()
            page.keyboard.press("End")  # 100 % burnt + builder 30 % + stakers 10 %
            reset.click()
            error = page.locator(".ledgerlab-error-text")
            sync_api.expect(error).to_contain_text("more than 100 %")
            step.click()  # Mesa re-enables Step on Reset; a step finds nothing to run
            sync_api.expect(step).to_be_disabled()
            sync_api.expect(error).to_contain_text("contributors get the rest")
            sync_api.expect(price).to_contain_text("no epochs yet")
            page.screenshot(path=str(ARTIFACTS / "explore-error.png"), full_page=True)
        finally:
            context.close()

    status_code = srv.stop()
    log = srv.output()
    assert status_code == 0, log
    assert "ledgerlab explore: stopped" in log
    assert "Traceback" not in log, log
    # every asset came from this machine (solara-assets): nothing was fetched from a CDN
    assert "Could not load URL" not in log, log
    print(f"\nscreenshots: {ARTIFACTS / 'explore.png'}, {ARTIFACTS / 'explore-error.png'}")
