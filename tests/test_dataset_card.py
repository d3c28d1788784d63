"""The generated dataset card says, per parameter setting and from its actual values,
whether a chemotaxis mass lies above or below the critical mass 8π/chi (never one
claim for all settings)."""

import math
from pathlib import Path

import pytest
import yaml

from pdesim.dataset_card import critical_mass_note, setting_lines, write_dataset_card
from pdesim.recipes import Summary, load_recipe
from pdesim.systems import make_system

REPO = Path(__file__).resolve().parents[1]


def _recipe(tmp_path, masses, system="keller_segel_indirect", extra=""):
    path = tmp_path / "chemo.toml"
    path.write_text(
        f"""name = "chemo"
system = "{system}"
description = "test"
seed = 1

[parameters]
L = 4.0
N = 16
width = 0.8
mass = {list(masses)!r}
{extra}

[run]
dt = 0.001
t_warmup = 0.0
t_duration = 0.002
save_every = 0.001

[sizes.small]
train = 1
valid = 1
test = 1
per_file = 1
"""
    )
    return load_recipe(path)


def test_each_setting_says_whether_its_mass_is_above_or_below_8_pi(tmp_path):
    lines = setting_lines(_recipe(tmp_path, [6 * math.pi, 12 * math.pi]))
    assert len(lines) == 2
    low, high = lines
    assert "M = 6π is below the classic critical mass 8π/chi = 8π" in low
    assert "M = 12π is above the classic critical mass 8π/chi = 8π" in high
    assert "(M / M_c = 0.75)" in low and "(M / M_c = 1.5)" in high
    assert all("stays bounded for every mass" in line for line in lines)  # tau = 1 > 0


def test_the_critical_mass_follows_chi_and_the_model(tmp_path):
    # chi = 2 halves the critical mass: 6π is then above 8π/chi = 4π
    (line,) = setting_lines(_recipe(tmp_path, [6 * math.pi], extra="chi = 2.0"))
    assert "above the classic critical mass 8π/chi = 4π (chi = 2)" in line
    minimal = make_system("keller_segel", mass=12 * math.pi).params
    assert "can blow up in finite time" in critical_mass_note(minimal)
    assert critical_mass_note(make_system("keller_segel", dim=1, L=4.0).params) is None
    assert critical_mass_note(make_system("keller_segel", chi=0.0).params) is None
    assert critical_mass_note(make_system("ks1d").params) is None


def test_the_shipped_chemotaxis_recipe_makes_no_blanket_mass_claim():
    recipe = load_recipe(REPO / "datasets" / "chemotaxis.toml")
    assert "above the classic critical mass" not in recipe.description
    lines = setting_lines(recipe)
    assert [("below" in line, "above" in line) for line in lines] == [(True, False), (False, True)]


def test_the_card_lists_the_settings_with_their_mass_notes(tmp_path):
    recipe = _recipe(tmp_path, [6 * math.pi, 12 * math.pi])
    out = tmp_path / "chemo"
    out.mkdir()
    stats = {k: {"n": 1.0} for k in ("mean", "std", "rms", "std_delta")}
    (out / "stats.yaml").write_text(yaml.safe_dump(stats))
    card = write_dataset_card(recipe, out, Summary(name="chemo", size="small", out_dir=str(out)))
    text = card.read_text()
    assert "6π is below" in text and "12π is above" in text
    assert "above the classic critical mass 8 pi but" not in text


@pytest.mark.parametrize("mass", [8 * math.pi])
def test_a_mass_at_the_threshold_is_called_equal(mass):
    note = critical_mass_note(make_system("keller_segel_indirect", mass=mass).params)
    assert "equal to the classic critical mass" in note
