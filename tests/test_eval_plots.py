"""The evaluation's pictures: lead time in the report's unit, a forecaster that diverges
named in the legend instead of vanishing, space-time panels with physical axes, a
named colour bar and the missing frames in grey."""

import numpy as np
import pytest

from surrogates import metrics as m
from surrogates.eval_plots import diverged_at, error_figure, spacetime_figure, spectra_figure
from surrogates.rollout import Rollout
from surrogates.scoring import prepare, score


def _waves(n_traj=4, n_t=20, n=16):
    x = 2 * np.pi * np.arange(n) / n
    t = np.arange(n_t)[:, None, None]
    phase = np.linspace(0, 3, n_traj)[:, None, None, None]
    return sum(np.cos(k * x - 2 * np.pi * k * t / 20 + phase) / k for k in range(1, 6))


@pytest.fixture(scope="module")
def case():
    """Truth, a perfect forecaster and one that stops at step 6 of trajectory 0."""
    truth = _waves()
    ref = prepare(
        truth, np.sqrt((truth**2).mean(3)).max((0, 1)), m.pod(truth.reshape(-1, 1, 16), 2), 5, 10
    )
    broken = truth.copy() * 1.5
    broken[0, 5:] = np.nan
    rollouts = {
        "good": Rollout(truth.copy(), np.full(4, 20), 1.0),
        "bad": Rollout(broken, np.array([5, 20, 20, 20]), 1.0),
    }
    results = {key: score(r, ref) for key, r in rollouts.items()}
    curve_bad = [0.5] * 5 + [float("nan")] * 15
    report = {
        "horizon": 20,
        "dt": 0.5,
        "n_trajectories": 4,
        "time_scale": {"unit": "Lyapunov time", "symbol": "Λt", "length": 2.0},
        "forecasters": {
            "good": {"label": "good", "curves": {"vrmse": {"median": [0.0] * 20}}},
            "bad": {"label": "bad", "curves": {"vrmse": {"median": curve_bad}}},
        },
    }
    return report, rollouts, results, ref


def _legend(fig_or_ax):
    legends = getattr(fig_or_ax, "legends", None) or [fig_or_ax.get_legend()]
    return [t.get_text() for legend in legends for t in legend.get_texts()]


def test_diverged_at_is_the_first_step_with_a_value_that_is_not_finite(case):
    _, rollouts, _, _ = case
    assert diverged_at(rollouts["good"].frames) is None
    assert diverged_at(rollouts["bad"].frames) == 6


def test_error_curve_of_a_diverged_forecaster_is_noted_in_the_legend(case):
    report, rollouts, _, _ = case
    fig = error_figure(report, rollouts, "waves")
    (ax,) = fig.axes
    assert ax.get_xlabel() == "lead time [Lyapunov times]"
    labels = _legend(ax)
    assert "good" in labels and "bad (diverged at step 6)" in labels
    bad = next(line for line in ax.get_lines() if line.get_label().startswith("bad"))
    assert len(bad.get_xdata()) == 5  # drawn up to its last finite step
    assert bad.get_xdata()[-1] == pytest.approx(5 * 0.5 / 2.0)  # lead in Lyapunov times


def test_spectra_name_a_forecaster_missing_from_a_panel(case):
    report, rollouts, results, ref = case
    fig = spectra_figure(report, rollouts, results, ref, "waves")
    assert "bad (diverged at step 6)" in _legend(fig)
    late = fig.axes[-1]
    colours = {line.get_color() for line in late.get_lines()}
    assert "C2" not in colours  # "bad" has no late spectrum: absent, but in the legend


def test_spacetime_has_axes_a_named_colour_bar_grey_nans_and_the_trajectory(case):
    from matplotlib.colors import to_rgba

    from pdesim.plots import BAD_COLOUR

    report, rollouts, _, ref = case
    fig = spacetime_figure(report, rollouts, ref, "waves")
    bars = [ax for ax in fig.axes if hasattr(ax, "_colorbar")]
    assert [ax.get_ylabel() for ax in bars] == ["field 0"]
    panels = [ax for ax in fig.axes if ax not in bars]
    assert [ax.get_title().split("\n")[0] for ax in panels] == ["true", "good", "bad"]
    assert "grey: not finite from step 6" in panels[2].get_title()
    assert panels[0].get_ylabel() == "lead time [Lyapunov times]"
    assert panels[0].get_xlabel() == "x (grid index)"  # no pdesim system to ask
    mesh = panels[2].collections[0]
    assert mesh.get_cmap().get_bad() == pytest.approx(to_rgba(BAD_COLOUR))
    assert mesh.get_cmap().name.startswith("RdBu_r")  # a signed field
    assert "test trajectory 0" in fig.get_suptitle()


def test_a_pdesim_dataset_gives_physical_axes_field_names_and_parameters(tmp_path, case):
    """With the test split's description the panels use the grid's x (0 .. L), the
    field names and the system's parameters instead of grid indices."""
    from test_surrogates_data import write_dataset

    from surrogates.data import scan

    report, rollouts, _, ref = case
    root = write_dataset(tmp_path / "ks", ("ks1d", {"L": 10.0, "N": 16}), splits=("test",))
    info = scan(root, "test")
    fig = spacetime_figure(report, rollouts, ref, "ks1d", info)
    bars = [ax for ax in fig.axes if hasattr(ax, "_colorbar")]
    assert [ax.get_ylabel() for ax in bars] == ["u"]
    panel = next(ax for ax in fig.axes if ax not in bars)
    assert panel.get_xlabel() == "x" and panel.get_xlim()[1] == pytest.approx(10, abs=0.7)
    assert "L = 10" in fig.get_suptitle()
    fig = spectra_figure(report, *list(case[1:4]), "ks1d", info)
    assert fig.axes[0].get_xlabel() == "k [2π / L], L = 10"
