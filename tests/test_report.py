from core.report import main, mean_std


def test_mean_std_formats_and_skips_missing():
    assert mean_std([0.5, 0.7]) == "0.600 ± 0.141"
    assert mean_std([None, float("nan")]) == "–"
    assert mean_std([2.0], "{:.1f}") == "2.0"


def test_report_trains_each_cell_and_writes_markdown(tmp_path, capsys):
    out = tmp_path / "results.md"
    args = ["--epochs", "1", "--seeds", "1", "--presets", "clean", "--strategies", "taaf", "unimodal-audio",
            "--runs-dir", str(tmp_path / "runs"), "--out", str(out)]
    assert main(args) == 0
    text = out.read_text()
    assert "## clean" in text and "| taaf |" in text and "| unimodal-audio |" in text
    assert "Fused test accuracy, best first:" in text
    # a second report reuses the finished runs instead of training again
    assert main(args + ["--finished-only"]) == 0
    assert "Not run" not in out.read_text()
    assert main(["--epochs", "1", "--seeds", "2", "--presets", "clean", "--strategies", "taaf", "--runs-dir",
                 str(tmp_path / "runs"), "--out", str(out), "--finished-only"]) == 0
    assert "taaf on clean, seed 1" in out.read_text()
