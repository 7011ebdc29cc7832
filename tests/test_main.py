"""The demo (README command 1): source-only vs DANN on the paper's moons."""

from skdann.__main__ import main


def test_demo_prints_source_only_and_dann_target_accuracy(capsys):
    assert main(["demo", "--seed", "0"]) == 0
    out = capsys.readouterr().out
    assert "source only (lambda_max=0)" in out and "DANN (defaults)" in out
    assert "DANN (lambda_max=6, paper)" in out and "DANN (vat_weight=1)" in out
    accs = [float(line.split("target accuracy")[1].split()[0])
            for line in out.splitlines() if "target accuracy" in line]
    source_only, dann, paper, vat = accs
    # the demo shows adaptation paying off, more with the paper's λ for this
    # toy, most with the cluster assumption added
    assert source_only < 0.7 < 0.75 < dann < 0.9 < paper < vat
