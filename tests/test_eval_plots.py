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


def test_error_curves_are_told_apart_and_the_thresholds_named(case):
    """Coinciding curves (climatology and DMD both at VRMSE 1) hid each other: each
    forecaster has its own line style; the grey VPT thresholds are in the legend."""
    report, rollouts, _, _ = case
    fig = error_figure(report, rollouts, "waves")
    (ax,) = fig.axes
    assert "VPT thresholds ε = 0.3, 0.5, 1" in _legend(ax)
    styles = {line.get_label(): line.get_linestyle() for line in ax.get_lines()}
    assert styles["good"] != styles["bad (diverged at step 6)"]
    assert "median over 4 test trajectories" in ax.get_title()
    one = error_figure({**report, "n_trajectories": 1}, rollouts, "waves")
    assert "median over 1 test trajectory" in one.axes[0].get_title()


def test_spectra_name_the_cut_off_line(case):
    report, rollouts, results, ref = case
    fig = spectra_figure(report, rollouts, results, ref, "waves")
    assert "2/3 cut-off" in [text.get_text() for text in fig.axes[-1].texts]


@pytest.fixture(scope="module")
def case_2d():
    """Two fields of different ranges on an 8 x 8 grid: a signed wave and a positive
    density; a forecaster overshooting both by half."""
    x = 2 * np.pi * np.arange(8) / 8
    t = np.arange(6)[:, None, None]
    wave = np.sin(x[:, None] + x[None, :] - t)
    truth = np.stack([wave, 3.0 + wave], axis=1)[None].repeat(2, axis=0)  # (2, 6, 2, 8, 8)
    ref = prepare(truth, np.ones(2), m.pod(truth.reshape(-1, 2, 8, 8), 2), 2, None)
    rollouts = {"over": Rollout(1.5 * truth, np.full(2, 6), 1.0)}
    report = {
        "horizon": 6,
        "dt": 0.5,
        "n_trajectories": 2,
        "time_scale": {"unit": "time unit", "symbol": "t", "length": 1.0},
        "forecasters": {"over": {"label": "over", "curves": {}}},
    }
    return report, rollouts, ref


def test_2d_spacetime_gives_each_field_its_scale_and_shows_an_overshoot(case_2d):
    """One colour bar per field, on that field's range; its arrows show that a
    forecaster's values lie beyond it (drawn in the end colours); the title gives the
    frame's lead time."""
    report, rollouts, ref = case_2d
    fig = spacetime_figure(report, rollouts, ref, "waves2d")
    bars = [ax for ax in fig.axes if hasattr(ax, "_colorbar")]
    assert [ax.get_ylabel() for ax in bars] == ["field 0", "field 1"]
    signed, positive = (ax._colorbar for ax in bars)
    assert signed.norm.vmin == pytest.approx(-signed.norm.vmax)  # diverging about 0
    assert positive.norm.vmin > 1.5  # the density's own range, not the signed field's
    assert signed.extend == "both" and positive.extend == "max"
    assert "lead 3 t" in fig.get_suptitle()
    truth_only = spacetime_figure({**report, "forecasters": {}}, {}, ref, "waves2d")
    assert {ax._colorbar.extend for ax in truth_only.axes if hasattr(ax, "_colorbar")} == {
        "neither"
    }


def test_a_colour_bar_stays_beside_a_long_row_of_panels(case_2d):
    """The bar's gap was a fraction of the whole row's width: 0.9 inch from the last of
    six panels."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    report, rollouts, ref = case_2d
    many = {f"f{i}": rollouts["over"] for i in range(5)}
    report = {**report, "forecasters": {k: {"label": k, "curves": {}} for k in many}}
    fig = spacetime_figure(report, many, ref, "waves2d")
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    bars = [ax for ax in fig.axes if hasattr(ax, "_colorbar")]
    last = [ax for ax in fig.axes if ax not in bars][5]  # the first row's last panel
    gap = bars[0].get_window_extent(renderer).x0 - last.get_window_extent(renderer).x1
    assert 0 < gap < 0.25 * fig.dpi  # inches
