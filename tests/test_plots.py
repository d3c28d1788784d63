"""Pictures: the library draws without pyplot and leaves matplotlib's backend alone."""

import subprocess
import sys

import numpy as np
import pytest

import pdesim
from pdesim.plots import animate_run, plot_run


def test_importing_and_drawing_leave_the_backend_as_the_program_chose(tmp_path):
    script = f"""
import matplotlib
matplotlib.use("svg")
import numpy as np
import pytest

import pdesim
from pdesim.plots import plot_run
run = pdesim.simulate(pdesim.make_system("ks1d", L=10.0, N=16), t_end=1.0, dt=0.25,
                      save_every=0.25)
plot_run(run, {str(tmp_path / "run.png")!r})
print(matplotlib.get_backend())
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "svg"
    assert (tmp_path / "run.png").stat().st_size > 1000


def test_plots_and_animations_of_1d_and_2d_runs(tmp_path):
    for name, params in (("ks1d", {"L": 10.0, "N": 16}), ("rd_spiral", {"L": 5.0, "N": 16})):
        system = pdesim.make_system(name, **params)
        run = pdesim.simulate(system, t_end=1.0, dt=0.05, save_every=0.25)
        assert plot_run(run, tmp_path / f"{name}.png").stat().st_size > 1000
        assert animate_run(run, tmp_path / f"{name}.gif").stat().st_size > 1000


def test_animation_is_written_atomically_and_leaves_nothing_on_failure(tmp_path, monkeypatch):
    """A GIF is committed whole under its name (a real GIF, whatever the temporary
    name's suffix), and a failure half-way through encoding leaves neither the target
    nor a temporary file."""
    from PIL import Image

    run = pdesim.simulate(
        pdesim.make_system("ks1d", N=32, L=22.0), dt=0.25, t_end=4.0, save_every=1.0, seed=0
    )
    gif = animate_run(run, tmp_path / "ok.gif")
    with Image.open(gif) as image:
        assert image.format == "GIF" and image.n_frames == len(run.t)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.gif"]

    def broken(self, fp, *args, **kwargs):  # half a GIF on disk, then the failure
        with open(fp, "wb") as out:
            out.write(b"GIF89a")
        raise OSError("disk gone")

    monkeypatch.setattr(Image.Image, "save", broken)
    with pytest.raises(OSError, match="disk gone"):
        animate_run(run, tmp_path / "bad.gif")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.gif"]


# What a reader needs on every picture: physical axes, named colour bars, a colour map
# that fits the field's sign, the system, parameters and trajectory in the title, and
# the values that are not finite marked. The figures are inspected, not the pixels.


def _colorbars(fig):
    """``{colour bar axes: label}`` of ``fig``."""
    return {
        ax: ax.get_ylabel()
        for ax in fig.axes
        if ax.get_label() == "<colorbar>" or hasattr(ax, "_colorbar")
    }


def _images(fig):
    """``(axes, mappable)`` of every image/mesh drawn on a non-colour-bar axes."""
    bars = _colorbars(fig)
    return [
        (ax, artist)
        for ax in fig.axes
        if ax not in bars
        for artist in (*ax.images, *ax.collections)
        if hasattr(artist, "get_cmap")
    ]


@pytest.fixture(scope="module")
def ks_run():
    system = pdesim.make_system("ks1d", L=10.0, N=16)
    return pdesim.simulate(system, t_end=1.0, dt=0.25, save_every=0.25, n_traj=2)


@pytest.fixture(scope="module")
def spiral_run():
    system = pdesim.make_system("rd_spiral", L=5.0, N=16)
    return pdesim.simulate(system, t_end=0.5, dt=0.05, save_every=0.25)


@pytest.fixture(scope="module")
def chemotaxis_run():
    system = pdesim.make_system("keller_segel", L=4.0, N=16, width=0.8)
    return pdesim.simulate(system, t_end=0.002, dt=0.001, save_every=0.001)


def test_a_1d_space_time_diagram_has_physical_axes_a_named_colour_bar_and_a_title(ks_run):
    from pdesim.plots import run_figure

    fig = run_figure(ks_run, trajectory=1)
    ((ax, mesh),) = _images(fig)
    assert ax.get_xlabel() == "x" and ax.get_ylabel() == "t"
    assert ax.get_xlim()[1] == pytest.approx(10.0, abs=10 / 16)  # x in units of L
    assert ax.get_ylim()[1] == pytest.approx(1.0, abs=0.25)  # t, not the frame index
    assert list(_colorbars(fig).values()) == ["u"]
    title = fig.get_suptitle()
    assert "ks1d" in title and "L = 10" in title and "trajectory 1" in title
    assert mesh.get_cmap().name.startswith("RdBu_r")  # KS u is signed: diverging ...
    assert mesh.norm.vmin == pytest.approx(-mesh.norm.vmax)  # ... and centred at 0


def test_2d_snapshots_have_x_y_axes_and_a_colour_bar_named_after_the_field(spiral_run):
    from pdesim.plots import run_figure

    fig = run_figure(spiral_run, n_snapshots=3)
    images = _images(fig)
    assert len(images) == 2 * 3
    assert sorted(_colorbars(fig).values()) == ["u"] * 3 + ["v"] * 3
    assert {ax.get_xlabel() for ax, _ in images} == {"x", ""}  # bottom row only
    assert {ax.get_ylabel() for ax, _ in images} == {"y", ""}  # first column only
    for _ax, image in images:
        x0, x1, y0, y1 = image.get_extent()
        assert x1 - x0 == pytest.approx(5.0) and y1 - y0 == pytest.approx(5.0)
    assert "rd_spiral" in fig.get_suptitle() and "trajectory 0" in fig.get_suptitle()


def test_positive_fields_get_a_sequential_colour_map(chemotaxis_run):
    from pdesim.plots import DIVERGING, SEQUENTIAL, colour_scale, run_figure

    fig = run_figure(chemotaxis_run, n_snapshots=2)
    for _, image in _images(fig):
        assert image.get_cmap().name.startswith(SEQUENTIAL)  # n, c >= 0
    assert colour_scale(np.array([0.0, 2.0]))["cmap"].name.startswith(SEQUENTIAL)
    assert colour_scale(np.array([-1.0, 2.0]))["cmap"].name.startswith(DIVERGING)
    # a positive field's spectral undershoot near a front (Gray-Scott's v: -0.009 below a
    # peak of 0.54) keeps it positive; a field that reaches -10 % of its peak is signed
    assert colour_scale(np.array([-0.009, 0.54]))["cmap"].name.startswith(SEQUENTIAL)
    assert colour_scale(np.array([-0.1, 1.0]))["cmap"].name.startswith(DIVERGING)
    logged = run_figure(chemotaxis_run, n_snapshots=2, log_fields=("n",))
    bars = sorted(_colorbars(logged).values())
    assert bars == ["c", "c", "n (log scale)", "n (log scale)"]


def test_values_that_are_not_finite_are_drawn_grey_and_noted(ks_run, spiral_run):
    from dataclasses import replace

    from matplotlib.colors import to_rgba

    from pdesim.plots import BAD_COLOUR, animation_figure, run_figure

    fields = {"u": ks_run.fields["u"].copy()}
    fields["u"][0, 2:] = np.nan  # diverged at the third saved frame
    fig = run_figure(replace(ks_run, fields=fields))
    ((ax, mesh),) = _images(fig)
    assert mesh.get_cmap().get_bad() == pytest.approx(to_rgba(BAD_COLOUR))
    assert f"not finite from t = {ks_run.t[2]:g}" in ax.get_title()

    fields = {k: v.copy() for k, v in spiral_run.fields.items()}
    fields["u"][0, -1, :4] = np.inf
    fig, draw = animation_figure(replace(spiral_run, fields=fields))
    draw(len(spiral_run.t) - 1)
    titles = [ax.get_title() for ax, _ in _images(fig)]
    assert "not finite" in titles[0] and "not finite" not in titles[1]


def test_animation_frames_have_labels_colour_bars_and_the_time(ks_run, spiral_run):
    from pdesim.plots import animation_figure

    fig, draw = animation_figure(ks_run, trajectory=1)
    draw(2)
    (ax,) = fig.axes
    assert ax.get_xlabel() == "x" and ax.get_ylabel() == "u"  # the field on the y axis
    assert "trajectory 1" in fig.get_suptitle()
    assert fig.get_suptitle().endswith(f"t = {ks_run.t[2]:g}")

    fig, draw = animation_figure(spiral_run)
    draw(1)
    assert sorted(_colorbars(fig).values()) == ["u", "v"]
    assert [ax.get_title() for ax, _ in _images(fig)] == ["u", "v"]
    assert {ax.get_xlabel() for ax, _ in _images(fig)} == {"x"}
    assert {ax.get_ylabel() for ax, _ in _images(fig)} == {"y"}


def test_the_1d_gif_keeps_its_axis_labels_inside_the_picture(ks_run):
    """Constrained layout: the x label and the y label are drawn inside the frame."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from pdesim.plots import animation_figure

    fig, draw = animation_figure(ks_run)
    draw(0)
    canvas = FigureCanvasAgg(fig)  # as the GIF writer draws it
    canvas.draw()
    renderer = canvas.get_renderer()
    box = fig.bbox
    (ax,) = fig.axes
    for label in (ax.xaxis.label, ax.yaxis.label):
        extent = label.get_window_extent(renderer)
        assert extent.x0 >= box.x0 and extent.y0 >= box.y0
        assert extent.x1 <= box.x1 and extent.y1 <= box.y1


def test_a_network_run_names_iterations_nodes_and_its_parameters():
    from pdesim.plots import network_figure

    run = pdesim.simulate(
        pdesim.make_system("chialvo_ring_star", N=8), t_end=20, dt=1, save_every=1
    )
    fig = network_figure(run)
    raster = fig.axes[0]
    assert raster.get_xlabel().startswith("node") and raster.get_ylabel() == "iteration n"
    assert "x" in _colorbars(fig).values()
    assert "N = 8" in fig.get_suptitle() and "trajectory 0" in fig.get_suptitle()


def test_titles_name_multiples_of_pi_and_wrap_between_parameters():
    from pdesim.plots import format_value, wrap_title

    assert format_value(12 * np.pi) == "12π" and format_value(22.0) == "22"
    title = wrap_title("s", ", ".join(f"p{i} = {i}" for i in range(30)), "trajectory 2", 40)
    lines = title.split("\n")
    assert all(len(line) <= 40 for line in lines) and lines[-1].endswith("trajectory 2")
    assert all(" = " in part for line in lines for part in line.split(", ") if "p" in part)


def test_a_shard_titles_the_global_trajectory_index(tmp_path):
    from pdesim.io import read_run, write_run
    from pdesim.plots import run_figure

    system = pdesim.make_system("ks1d", L=10.0, N=16)
    run = pdesim.simulate(
        system, t_end=0.5, dt=0.25, save_every=0.25, n_traj=2, first_trajectory=16
    )
    assert "trajectory 17 (row 1 of the run)" in run_figure(run, trajectory=1).get_suptitle()
    write_run(tmp_path / "shard.hdf5", run)
    title = run_figure(read_run(tmp_path / "shard.hdf5"), trajectory=1).get_suptitle()
    assert "trajectory 17 (row 1 of the file)" in title


@pytest.fixture(scope="module")
def ks2d_run():
    system = pdesim.make_system("ks2d", L=10.0, N=16)
    return pdesim.simulate(system, t_end=0.4, dt=0.1, save_every=0.2)


def _renderer(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)  # as the PNG and GIF writers draw it
    canvas.draw()
    return canvas.get_renderer()


def test_each_2d_panel_has_its_own_scale_and_bar_clear_of_the_next_panel(spiral_run):
    """u and v (and each time) get their own colour range, and a colour bar's label
    does not run into the next panel's y tick labels (at 0.09 inch from them it read as
    that panel's label)."""
    from pdesim.plots import run_figure

    fig = run_figure(spiral_run, n_snapshots=2)
    renderer = _renderer(fig)
    for _, image in _images(fig):
        data = image.get_array()
        top = float(np.abs(data).max())
        assert image.norm.vmax == pytest.approx(top) and image.norm.vmin == pytest.approx(-top)
    bars = list(_colorbars(fig))
    images = [ax for ax, _ in _images(fig)]
    for row in range(2):
        bar, right = bars[2 * row], images[2 * row + 1]
        label = bar.yaxis.label.get_window_extent(renderer)
        assert right.get_tightbbox(renderer).x0 - label.x1 > 0.2 * fig.dpi  # 0.2 inch


def test_a_drifting_mean_is_taken_off_before_drawing(ks2d_run):
    """2-D KS: the mean falls without bound (its files store u - <u>); drawn as it is on
    a scale about 0 the pattern turns one colour. It is drawn less its mean, so named."""
    from dataclasses import replace

    from pdesim.plots import animation_figure, run_figure

    drifted = replace(ks2d_run, fields={"u": ks2d_run.fields["u"] - 40.0})
    fig = run_figure(drifted, n_snapshots=2)
    assert sorted(set(_colorbars(fig).values())) == ["u − ⟨u⟩"]
    for ax, image in _images(fig):
        assert ax.get_title().startswith("u − ⟨u⟩, t = ")
        assert float(np.mean(image.get_array())) == pytest.approx(0.0, abs=1e-9)
        assert image.norm.vmax < 20  # the pattern's range, not the mean's
    fig, _ = animation_figure(drifted)
    assert list(_colorbars(fig).values()) == ["u − ⟨u⟩"]
    from pdesim.plots import drawn_fields

    (label,) = drawn_fields(drifted)
    assert label == "u − ⟨u⟩"
    logged = drawn_fields(replace(drifted, fields={"u": ks2d_run.fields["u"] ** 2}), 0, ("u",))
    assert list(logged) == ["u"]  # a log scale draws the field itself


def test_a_complex_amplitude_adds_its_modulus_on_a_sequential_scale():
    from pdesim.plots import SEQUENTIAL, run_figure

    run = pdesim.simulate(
        pdesim.make_system("cgle", L=10.0, N=16), t_end=0.1, dt=0.05, save_every=0.05
    )
    fig = run_figure(run, n_snapshots=2)
    assert sorted(set(_colorbars(fig).values())) == ["A_im", "A_re", "|A|"]
    moduli = [image for ax, image in _images(fig) if ax.get_title().startswith("|A|")]
    assert len(moduli) == 2
    for image in moduli:
        assert image.get_cmap().name.startswith(SEQUENTIAL)
        assert float(image.get_array().min()) >= 0


def test_a_gif_keeps_one_colour_scale_over_the_trajectory(spiral_run):
    """A colour means one value in every frame: the scale is the whole trajectory's and
    drawing a frame leaves it (and so the colour bar) alone."""
    from pdesim.plots import animation_figure

    fig, draw = animation_figure(spiral_run)
    for (_, image), name in zip(_images(fig), ("u", "v"), strict=True):
        top = float(np.abs(spiral_run.fields[name][0]).max())
        assert image.get_clim() == pytest.approx((-top, top))
    draw(len(spiral_run.t) - 1)
    for (_, image), name in zip(_images(fig), ("u", "v"), strict=True):
        top = float(np.abs(spiral_run.fields[name][0]).max())
        assert image.get_clim() == pytest.approx((-top, top))


def test_a_gif_draws_the_figure_once_and_only_what_changes_per_frame(
    tmp_path, spiral_run, monkeypatch
):
    """Axes, ticks and colour bars are drawn once (the layout pass and the background),
    not once per frame; every frame still differs (identical frames would be merged)."""
    from matplotlib.figure import Figure
    from PIL import Image

    calls = []
    draw = Figure.draw
    monkeypatch.setattr(Figure, "draw", lambda self, r: calls.append(1) or draw(self, r))
    gif = animate_run(spiral_run, tmp_path / "spiral.gif")
    assert len(calls) <= 2 < len(spiral_run.t)
    with Image.open(gif) as image:
        assert image.n_frames == len(spiral_run.t)


def test_the_gif_palette_holds_each_colour_map_and_line_colour(spiral_run, ks_run):
    from matplotlib.colors import to_rgb

    from pdesim.plots import animation_figure, gif_palette

    fig, draw = animation_figure(spiral_run)
    palette = np.array(gif_palette(draw(0)).getpalette()).reshape(-1, 3)
    (_, image), _ = _images(fig)
    for end in (0.0, 1.0):
        colour = np.round(np.array(image.get_cmap()(end)[:3]) * 255)
        assert np.abs(palette - colour).sum(axis=1).min() == 0
    fig, draw = animation_figure(ks_run)
    palette = np.array(gif_palette(draw(0)).getpalette()).reshape(-1, 3)
    line = np.round(np.array(to_rgb(fig.axes[0].get_lines()[0].get_color())) * 255)
    assert np.abs(palette - line).sum(axis=1).min() == 0


def test_a_2d_gif_with_a_long_title_keeps_every_label_inside_and_apart(chemotaxis_run):
    """Images keep their aspect, so a three-line title took the height the x labels
    needed (they were cut off); and a colour bar's label sat against the next panel's
    y label."""
    from pdesim.plots import animation_figure

    fig, draw = animation_figure(chemotaxis_run)
    draw(0)
    assert fig.get_suptitle().count("\n") == 2
    renderer = _renderer(fig)
    box = fig.bbox
    for ax in fig.axes:
        for label in (ax.xaxis.label, ax.yaxis.label):
            if label.get_text():
                extent = label.get_window_extent(renderer)
                assert extent.x0 >= box.x0 and extent.y0 >= box.y0
                assert extent.x1 <= box.x1 and extent.y1 <= box.y1
    bar, right = next(iter(_colorbars(fig))), [ax for ax, _ in _images(fig)][1]
    label = bar.yaxis.label.get_window_extent(renderer)
    assert right.get_tightbbox(renderer).x0 - label.x1 > 0.2 * fig.dpi  # 0.2 inch


def test_nodes_of_a_graph_are_integers_and_the_centre_is_named(tmp_path):
    from pdesim.plots import animation_figure, network_figure

    run = pdesim.simulate(
        pdesim.make_system("chialvo_ring_star", N=8), t_end=20, dt=1, save_every=1
    )
    fig = network_figure(run)
    raster = fig.axes[0]
    ticks = [t for t in raster.get_xticks() if -0.5 <= t <= 7.5]
    assert ticks and all(float(t).is_integer() for t in ticks)
    series = fig.axes[2]
    assert "node 0 (centre)" in [t.get_text() for t in series.get_legend().get_texts()]
    fig, draw = animation_figure(run)
    draw(3)
    for ax in fig.axes:
        assert ax.get_xlabel() == "node (0 = centre)"
        assert ax.get_xlim() == (-0.5, 7.5)  # each node in its own cell, none beyond
        (line,) = ax.get_lines()
        assert line.get_linestyle() == "None" and line.get_marker() == "o"  # no continuum
