"""`make claims`: every claim under every numeric variant lands in bench/claims.json in the agreed
shape, and a claim that fails under any variant fails the command."""

import json

from distillab import claim_variants
from distillab.claims import Claim


def fake_variant(effects_by_variant):
    def measure_variant(chapter, variant, profile_name, seeds):
        claim = Claim("KD beats SFT", tuple(seeds), effects_by_variant[variant], rule="every seed")
        return {"numerics": {"threads": 1, "cpu capability": variant}, "seconds": 1.0,
                "claims": {f"{chapter}: {claim.name}": claim.summary() | {"describe": claim.describe()}}}
    return measure_variant


def test_every_claim_under_every_variant_in_the_agreed_shape(monkeypatch, tmp_path):
    monkeypatch.setattr(claim_variants, "measure_variant",
                        fake_variant({"default": (9.7, 4.3, 21.0), "MKL compatible": (21.6, 4.8, 3.1)}))
    out = tmp_path / "claims.json"
    assert claim_variants.main(["--claims", "02", "--variants", "default", "MKL compatible", "--seeds", "0", "1", "2",
                                "--out", str(out)]) == 0
    written = json.loads(out.read_text())
    variants = written["claims"]["02: KD beats SFT"]["variants"]
    assert set(variants) == {"default", "MKL compatible"}
    for found in variants.values():
        assert {"mean", "lower_bound", "seeds", "seeds_ahead", "holds"} <= set(found) and found["holds"] is True
    assert variants["MKL compatible"]["numerics"]["cpu capability"] == "MKL compatible"
    assert "| 02: KD beats SFT |" in claim_variants.table(written)


def test_a_claim_that_fails_under_one_variant_fails_the_command(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(claim_variants, "measure_variant",
                        fake_variant({"default": (9.7, 4.3, 21.0), "no SIMD kernels": (21.6, 4.8, -0.1)}))
    assert claim_variants.main(["--claims", "02", "--variants", "default", "no SIMD kernels", "--seeds", "0", "1", "2",
                                "--out", str(tmp_path / "claims.json")]) == 1
    assert "02: KD beats SFT under 'no SIMD kernels'" in capsys.readouterr().err


def test_a_run_stopped_halfway_is_resumed_not_repeated(monkeypatch, tmp_path):
    measured = []

    def measure_variant(chapter, variant, profile_name, seeds):
        measured.append(variant)
        return fake_variant({variant: (5.0, 6.0, 7.0)})(chapter, variant, profile_name, seeds)

    monkeypatch.setattr(claim_variants, "measure_variant", measure_variant)
    out = tmp_path / "claims.json"
    arguments = ["--claims", "02", "--seeds", "0", "1", "2", "--out", str(out)]
    claim_variants.main([*arguments, "--variants", "default"])
    claim_variants.main([*arguments, "--variants", "default", "MKL compatible"])
    assert measured == ["default", "MKL compatible"]
    assert set(json.loads(out.read_text())["claims"]["02: KD beats SFT"]["variants"]) == {"default", "MKL compatible"}
    claim_variants.main([*arguments, "--variants", "default", "--again"])
    assert measured[-1] == "default" and len(measured) == 3


def test_the_seeds_a_claim_needs_come_from_every_seed_under_every_variant(monkeypatch, tmp_path):
    monkeypatch.setattr(claim_variants, "measure_variant",
                        fake_variant({"default": (26.6, 2.0, 31.9), "no SIMD kernels": (11.7, -2.2, 13.8),
                                      "MKL compatible": (13.4, 3.7, 22.4)}))
    out = tmp_path / "claims.json"
    claim_variants.main(["--claims", "02", "--variants", "default", "no SIMD kernels", "MKL compatible",
                         "--seeds", "0", "1", "2", "--out", str(out)])
    found = claim_variants.every_variant("02: KD beats SFT", out)
    assert found["no SIMD kernels"].effects == (11.7, -2.2, 13.8) and found["default"].rule == "every seed"
    live = Claim("KD beats SFT", (0, 1, 2), (20.0, 5.0, 9.0))
    report = claim_variants.seeds_report("02", live, out)
    # nine runs: mean +13.7, spread 11.5 -> 7 seeds; the weakest variant alone (+7.8 +- 8.7) -> 10
    assert "+13.7 points" in report and "spread of 11.5" in report and "takes 7 seeds" in report
    assert "'no SIMD kernels' at +7.8" in report and "10 seeds" in report and "This run used 3" in report
    assert "has not measured" in claim_variants.seeds_report("03", live, out)
    assert "has not measured" in claim_variants.seeds_report("02", live, tmp_path / "missing.json")
