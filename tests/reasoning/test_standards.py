"""Condition standards: worked examples computed by hand from each standard's own rules."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from infrasight.core.errors import InvalidInputError
from infrasight.reasoning.errors import (
    DefinitionError,
    MissingElementDataError,
    OutOfRangeError,
    UnknownStandardError,
)
from infrasight.reasoning.standards import (
    DefectObservation,
    ElementObservation,
    StandardRegistry,
    load_standards,
    rate_condition,
)
from infrasight.reasoning.standards.deduction import component_score, t_value


@pytest.fixture(scope="module")
def reg() -> StandardRegistry:
    return load_standards()


def _d(i: str, kind: str, q: float | None = None, **kw: object) -> DefectObservation:
    meas = {k: float(v) for k, v in kw.items() if isinstance(v, (int, float))}
    attrs = {k: str(v) for k, v in kw.items() if isinstance(v, str)}
    return DefectObservation(
        defect_id=i, kind=kind, measurements=meas, attributes=attrs, quantity=q
    )


def _el(i: str, typ: str, *defects: DefectObservation, q: float | None = None, **attrs: str):
    return ElementObservation(
        element_id=i, element_type=typ, attributes=attrs, quantity=q, defects=defects
    )


def test_packaged_standards_load(reg: StandardRegistry) -> None:
    assert reg.ids == ("aashto-mbei", "jtg-h21", "nbi", "tunnel-lining")


# --- AASHTO MBEI --------------------------------------------------------------------------
# 1130 (RC): CS1 w < 0.012 in = 0.3048 mm; CS2 0.3048 <= w <= 0.05 in = 1.27 mm; CS3 w > 1.27;
# spacing CS1 > 3 ft = 914.4 mm, CS2 304.8-914.4 mm, CS3 < 304.8 mm; the worse governs.
# 1110 (PSC): CS1 w < 0.004 in = 0.1016 mm; CS2 <= 0.009 in = 0.2286 mm; CS3 above.
# 1080: CS2 depth <= 1 in = 25.4 mm and diameter <= 6 in = 152.4 mm; CS3 otherwise.
MBEI_ROWS = [
    ("rc", _d("1", "crack", width_mm=0.25), 1),  # 0.25 < 0.3048
    ("rc", _d("1", "crack", width_mm=0.3048), 2),  # not < 0.3048, <= 1.27
    ("rc", _d("1", "crack", width_mm=1.27), 2),  # upper edge of CS2 inclusive
    ("rc", _d("1", "crack", width_mm=1.30), 3),  # > 1.27
    ("rc", _d("1", "crack", width_mm=0.2, spacing_mm=500), 2),  # width CS1, spacing CS2
    ("rc", _d("1", "crack", width_mm=0.2, spacing_mm=200), 3),  # spacing < 304.8 -> CS3
    ("rc", _d("1", "crack", width_mm=0.2, spacing_mm=1000), 1),  # both CS1
    ("psc", _d("1", "crack", width_mm=0.1), 1),  # 0.1 < 0.1016
    ("psc", _d("1", "crack", width_mm=0.2), 2),  # 0.1016 <= 0.2 <= 0.2286
    ("psc", _d("1", "crack", width_mm=0.25), 3),  # > 0.2286
    ("rc", _d("1", "spall", depth_mm=20, diameter_mm=100), 2),  # both within 1 in / 6 in
    ("rc", _d("1", "spall", depth_mm=30, diameter_mm=100), 3),  # deeper than 25.4
    ("rc", _d("1", "spall", depth_mm=20, diameter_mm=160), 3),  # wider than 152.4
    ("rc", _d("1", "delamination", grade="delaminated"), 2),
    ("rc", _d("1", "efflorescence", grade="surface_white"), 2),
    ("rc", _d("1", "efflorescence", grade="heavy_buildup_rust"), 3),
    ("rc", _d("1", "exposed_rebar", grade="section_loss"), 3),
    ("steel", _d("1", "corrosion", grade="freckled"), 2),
    ("steel", _d("1", "corrosion", grade="pack_rust"), 3),
    ("rc", _d("1", "crack", width_mm=0.1, structural_review="true"), 4),
]


@pytest.mark.parametrize(("material", "defect", "state"), MBEI_ROWS)
def test_mbei_defect_states(
    reg: StandardRegistry, material: str, defect: DefectObservation, state: int
) -> None:
    res = rate_condition(reg, "aashto-mbei", [_el("E", "deck", defect, material=material)])
    assert res.elements[0].rating == state
    assert res.elements[0].clause.startswith("MBEI 2019")
    assert res.elements[0].evidence[0].ref == "defect:1"


def test_mbei_quantity_distribution(reg: StandardRegistry) -> None:
    # deck 100 m2: crack CS2 over 10 m2, spall CS3 over 5 m2 -> CS1 100 - 15 = 85 m2; worst CS3.
    el = _el(
        "D1",
        "deck",
        _d("c", "crack", 10.0, width_mm=0.5),
        _d("s", "spall", 5.0, depth_mm=30),
        q=100.0,
        material="rc",
    )
    r = rate_condition(reg, "aashto-mbei", [el]).elements[0]
    assert dict(r.quantities) == {"cs1": 85.0, "cs2": 10.0, "cs3": 5.0, "cs4": 0.0}
    assert r.rating == 3 and r.label == "CS3 Poor"
    assert "1080" in r.clause


def test_mbei_no_defects_is_cs1(reg: StandardRegistry) -> None:
    r = rate_condition(reg, "aashto-mbei", [_el("G", "girder", q=20.0, material="rc")])
    assert r.summary.rating == 1 and r.elements[0].quantities["cs1"] == 20.0


@pytest.mark.parametrize(
    ("element", "error", "what"),
    [
        (
            _el("E", "deck", _d("1", "crack", spacing_mm=100), material="rc"),
            MissingElementDataError,
            "width_mm",
        ),
        (_el("E", "deck", _d("1", "crack", width_mm=0.2)), MissingElementDataError, "material"),
        (
            _el("E", "deck", _d("1", "crack", width_mm=-0.2), material="rc"),
            OutOfRangeError,
            "width_mm",
        ),
        (
            _el("E", "deck", _d("1", "crack", width_mm=0.2), material="timber"),
            InvalidInputError,
            "material",
        ),
        (
            _el("E", "deck", _d("1", "graffiti", grade="x"), material="rc"),
            InvalidInputError,
            "kind",
        ),
        (
            _el("E", "deck", _d("1", "efflorescence", grade="pink"), material="rc"),
            InvalidInputError,
            "grade",
        ),
        (
            _el("E", "deck", _d("1", "spall", 9.0, depth_mm=5), q=5.0, material="rc"),
            OutOfRangeError,
            "quantity",
        ),
        (
            _el("E", "deck", _d("1", "spall", depth_mm=5), q=5.0, material="rc"),
            MissingElementDataError,
            "quantity",
        ),
    ],
)
def test_mbei_bad_input(
    reg: StandardRegistry, element: ElementObservation, error: type[Exception], what: str
) -> None:
    with pytest.raises(error) as info:
        rate_condition(reg, "aashto-mbei", [element])
    assert getattr(info.value, "field", None) == what


def test_unknown_standard(reg: StandardRegistry) -> None:
    with pytest.raises(UnknownStandardError, match="known: aashto-mbei, jtg-h21, nbi"):
        rate_condition(reg, "eurocode-99", [_el("E", "deck")])


# --- NBI -------------------------------------------------------------------------------------
def test_nbi_translated_and_recorded(reg: StandardRegistry) -> None:
    # deck 100 m2 with 10 m2 in CS2 -> CS2 share 0.10 >= 0.10, no CS3 -> 6.
    # girder 50 m with 4 m in CS3 -> CS3 share 0.08 < 0.10 but > 0 -> 5.
    # pier recorded by the inspector as 7 -> 7.  Lowest = 5 -> Fair (23 CFR 490.409(b)).
    els = [
        _el(
            "D",
            "deck",
            _d("c", "crack", 10.0, width_mm=0.5),
            q=100.0,
            material="rc",
            component="deck",
        ),
        _el(
            "G",
            "girder",
            _d("s", "spall", 4.0, depth_mm=40),
            q=50.0,
            material="rc",
            component="superstructure",
        ),
        _el("P", "pier", material="rc", component="substructure", nbi_rating="7"),
    ]
    res = rate_condition(reg, "nbi", els)
    ratings = {g.subject: g.rating for g in res.groups}
    assert ratings == {
        "component:deck": 6,
        "component:superstructure": 5,
        "component:substructure": 7,
    }
    assert res.summary.label == "Fair" and res.summary.rating == 5
    assert "490.409" in res.summary.clause


@pytest.mark.parametrize(
    ("recorded", "label"),
    [
        (("9", "8", "7"), "Good"),
        (("7", "6", "8"), "Fair"),
        (("5", "5", "5"), "Fair"),
        (("8", "4", "9"), "Poor"),
        (("0", "9", "9"), "Poor"),
    ],
)
def test_nbi_good_fair_poor(
    reg: StandardRegistry, recorded: tuple[str, str, str], label: str
) -> None:
    comps = ("deck", "superstructure", "substructure")
    els = [_el(c, c, component=c, nbi_rating=r) for c, r in zip(comps, recorded, strict=True)]
    res = rate_condition(reg, "nbi", els)
    assert res.summary.label == label
    assert res.summary.rating == min(int(r) for r in recorded)


@pytest.mark.parametrize(
    ("attrs", "error", "what"),
    [
        ({"component": "deck", "nbi_rating": "10"}, OutOfRangeError, "nbi_rating"),
        ({"component": "deck", "nbi_rating": "-1"}, OutOfRangeError, "nbi_rating"),
        ({"component": "deck", "nbi_rating": "six"}, InvalidInputError, "nbi_rating"),
        ({"nbi_rating": "6"}, MissingElementDataError, "component"),
        ({"component": "roof"}, InvalidInputError, "component"),
    ],
)
def test_nbi_bad_input(
    reg: StandardRegistry, attrs: dict[str, str], error: type[Exception], what: str
) -> None:
    with pytest.raises(error) as info:
        rate_condition(reg, "nbi", [_el("E", "widget", **attrs)])
    assert getattr(info.value, "field", None) == what


# --- JTG/T H21-2011 ------------------------------------------------------------------------
def test_jtg_component_score_formula() -> None:
    # DP sorted [45, 25]: U1 = 45; U2 = 25 / (100 sqrt 2) x (100 - 45) = 9.7227...
    assert component_score([25, 45]) == pytest.approx(
        100 - 45 - 25 * 55 / (100 * math.sqrt(2)), abs=1e-12
    )
    # a deduction of 100 zeroes the component: U1 = 100, U2 = DP2 x 0
    assert component_score([100, 35]) == 0.0
    assert component_score([]) == 100.0
    # three: [60, 35, 20]: U1 = 60; U2 = 35/(100 sqrt2) x 40 = 9.8995;
    # U3 = 20/(100 sqrt3) x (40 - 9.8995)
    u2 = 35 / (100 * math.sqrt(2)) * 40
    u3 = 20 / (100 * math.sqrt(3)) * (100 - 60 - u2)
    assert component_score([20, 60, 35]) == pytest.approx(100 - 60 - u2 - u3, abs=1e-12)


@pytest.mark.parametrize(
    ("n", "t"),
    [(1, math.inf), (2, 10.0), (3, 9.7), (20, 6.6), (35, 5.15), (100, 2.5), (150, 2.4), (250, 2.3)],
)
def test_jtg_t_table(reg: StandardRegistry, n: int, t: float) -> None:
    part = reg.get("jtg-h21").data["part"]
    # 35 lies between 30 (5.4) and 40 (4.9): 5.4 - 0.5 x 5/10 = 5.15; 150: 2.5 - 0.2 x 0.5 = 2.4
    assert t_value(n, part["t_n"], part["t_values"]) == pytest.approx(t, abs=1e-12)


def _jtg_bridge(pier_class: str = "2") -> list[ElementObservation]:
    return [
        _el(
            "G1",
            "girder",
            _d("1", "crack", indicator="cracks", **{"class": "3"}),
            _d("2", "spall", indicator="spalling", **{"class": "2"}),
            part="main_members",
        ),
        _el("G2", "girder", part="main_members"),
        _el(
            "G3",
            "girder",
            _d("3", "x", indicator="honeycomb", **{"class": "2"}),
            part="main_members",
        ),
        _el(
            "B1",
            "bearing",
            _d("4", "x", indicator="bearing_defect", **{"class": "2"}),
            part="bearings",
        ),
        _el("B2", "bearing", part="bearings"),
        _el(
            "P1",
            "pier",
            _d("5", "x", indicator="settlement", **{"class": pier_class}),
            part="piers",
        ),
        _el(
            "D1",
            "deck",
            _d("6", "x", indicator="pavement_damage", **{"class": "3"}),
            part="deck_pavement",
        ),
    ]


def test_jtg_worked_example(reg: StandardRegistry) -> None:
    # Table 4.1.1 deductions: cracks 3/5 -> 45, spalling 2/4 -> 25, honeycomb 2/3 -> 20,
    # bearing 2/4 -> 25, settlement 2/5 -> 35, pavement 3/4 -> 40.
    # PMCI: G1 = 100 - 45 - 25x55/(100 sqrt2) = 45.27728; G2 = 100; G3 = 80; B1 = 75; B2 = 100;
    # P1 = 65; D1 = 60.
    g1 = 100 - 45 - 25 * 55 / (100 * math.sqrt(2))
    # PCCI main (n = 3, t = 9.7) = mean(g1, 100, 80) - (100 - g1)/9.7 = 69.4509
    main = (g1 + 180) / 3 - (100 - g1) / 9.7
    # PCCI bearings (n = 2, t = 10) = 87.5 - 25/10 = 85; piers (n = 1) = 65; pavement = 60
    # SPCI: secondary members absent -> weights 0.70 and 0.12 over 0.82
    spci = (main * 0.70 + 85 * 0.12) / 0.82
    # SBCI: only piers -> 65; BDCI: only pavement -> 60
    dr = 0.2 * 60 + 0.4 * spci + 0.4 * 65  # = 66.690 -> 60 <= Dr < 80 -> class 3
    res = rate_condition(reg, "jtg-h21", _jtg_bridge())
    els = {e.subject: e.rating for e in res.elements}
    assert els["element:G1"] == pytest.approx(g1, abs=1e-9)
    assert els["element:B1"] == 75.0 and els["element:P1"] == 65.0 and els["element:D1"] == 60.0
    groups = {g.subject: g.rating for g in res.groups}
    assert groups["part:main_members"] == pytest.approx(main, abs=1e-9)
    assert groups["part:bearings"] == pytest.approx(85.0, abs=1e-9)
    assert groups["structure:superstructure"] == pytest.approx(spci, abs=1e-9)
    assert groups["structure:substructure"] == 65.0
    assert groups["structure:deck_system"] == 60.0
    assert res.summary.rating == pytest.approx(dr, abs=1e-9)
    assert dr == pytest.approx(66.6905546, abs=1e-6)
    assert res.summary.quantities["class"] == 3 and res.summary.label.endswith("class 3")


def test_jtg_main_part_governs(reg: StandardRegistry) -> None:
    # settlement class 5 of 5 -> DP 100 -> P1 PMCI 0 -> piers PCCI 0 (class 5); Dr = 12 + 0.4 x
    # SPCI + 0 = 40.69 (class 4) but the main part piers in class 5 governs -> class 5.
    res = rate_condition(reg, "jtg-h21", _jtg_bridge(pier_class="5"))
    assert res.summary.quantities["class"] == 5
    assert "main part" in res.summary.clause


@pytest.mark.parametrize(
    ("attrs", "error", "what"),
    [
        ({"indicator": "cracks", "class": "6"}, OutOfRangeError, "class"),
        ({"indicator": "cracks", "class": "0"}, OutOfRangeError, "class"),
        ({"indicator": "cracks"}, MissingElementDataError, "class"),
        ({"class": "2"}, MissingElementDataError, "indicator"),
        ({"indicator": "moss", "class": "2"}, InvalidInputError, "indicator"),
    ],
)
def test_jtg_bad_defects(
    reg: StandardRegistry, attrs: dict[str, str], error: type[Exception], what: str
) -> None:
    el = ElementObservation(
        element_id="G",
        element_type="girder",
        attributes={"part": "main_members"},
        defects=(DefectObservation(defect_id="1", kind="crack", attributes=attrs),),
    )
    with pytest.raises(error) as info:
        rate_condition(reg, "jtg-h21", [el])
    assert getattr(info.value, "field", None) == what


def test_jtg_element_without_part(reg: StandardRegistry) -> None:
    with pytest.raises(MissingElementDataError, match="element G lacks 'part'"):
        rate_condition(reg, "jtg-h21", [_el("G", "widget")])
    # a known kind gives the part: a sound girder is main_members with PMCI 100 -> class 1
    res = rate_condition(reg, "jtg-h21", [_el("G", "girder")])
    assert res.groups[0].subject == "part:main_members"
    assert res.summary.rating == 100.0 and res.summary.quantities["class"] == 1


def test_nbi_component_from_kind(reg: StandardRegistry) -> None:
    # a pier without defects -> all CS1 -> 8; it is substructure by its kind
    res = rate_condition(reg, "nbi", [_el("P", "pier", material="rc")])
    assert [(g.subject, g.rating) for g in res.groups] == [("component:substructure", 8.0)]
    assert res.summary.label == "Good"


# --- tunnel lining ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("defects", "convergence", "grade"),
    [
        ((), None, 0),
        ((_d("c", "crack", width_mm=0.19),), None, 0),  # < 0.2
        ((_d("c", "crack", width_mm=0.2),), None, 1),  # not < 0.2, < 0.5
        (
            (_d("c", "crack", width_mm=0.3), _d("l", "leakage", grade="dripping")),
            12.0,
            2,
        ),  # 1, 2, 2
        ((_d("l", "leakage", grade="gushing"),), 3.0, 4),
        ((_d("c", "crack", width_mm=2.0),), 60.0, 4),  # crack 3, convergence >= 50 -> 4
        ((), 9.99, 1),
    ],
)
def test_tunnel_grades(
    reg: StandardRegistry,
    defects: tuple[DefectObservation, ...],
    convergence: float | None,
    grade: int,
) -> None:
    el = ElementObservation(
        element_id="R12",
        element_type="lining_ring",
        defects=defects,
        measurements={} if convergence is None else {"convergence_mm": convergence},
    )
    res = rate_condition(reg, "tunnel-lining", [el])
    assert res.elements[0].rating == grade
    assert res.summary.rating == grade


def test_new_standard_is_a_data_file(reg: StandardRegistry, tmp_path: Path) -> None:
    text = (
        Path(__file__).parents[2] / "src/infrasight/reasoning/standards/tunnel-lining.toml"
    ).read_text()
    text = text.replace('id = "tunnel-lining"', 'id = "tunnel-strict"').replace(
        "lt = 0.2 }", "lt = 0.1 }"
    )
    (tmp_path / "strict.toml").write_text(text)
    reg2 = load_standards([tmp_path])
    el = ElementObservation(
        element_id="R", element_type="ring", defects=(_d("c", "crack", width_mm=0.15),)
    )
    assert rate_condition(reg2, "tunnel-strict", [el]).summary.rating == 1
    assert rate_condition(reg2, "tunnel-lining", [el]).summary.rating == 0


@pytest.mark.parametrize(
    "text",
    [
        'id = "x"\nname = "x"\nmethod = "vibes"\ncitation = "c"\n',
        'id = "x"\nname = "x"\nmethod = "graded"\n',
        'id = "x"\nname = "x"\nmethod = "graded"\ncitation = "c"\ngrades = {0 = "a"}\n'
        '[indicators.a]\nsource = "defect"\nclause = "c"\nmeasure = "w"\n'
        "bins = [{state = 0, lt = 1}]\n",
        "not toml [",
    ],
)
def test_bad_definition_files(tmp_path: Path, text: str) -> None:
    (tmp_path / "bad.toml").write_text(text)
    with pytest.raises(DefinitionError):
        load_standards([tmp_path])
