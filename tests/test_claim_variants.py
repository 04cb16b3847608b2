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
