"""Reports a reader can trust: comparable intervals, honest baseline names, transductive rows
marked, readable plots, and a self-contained report.html rendered in a real headless browser."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

for _module in ("pydantic", "sklearn", "matplotlib", "PIL"):
    pytest.importorskip(_module, reason="needs the semalign-core[experiments] extra")

from conftest import running_in_ci  # noqa: E402
from test_experiment import PickPlugin, TinyPlugin, _ridge, config, make_dataset  # noqa: E402

from semalign_core.experiments import report  # noqa: E402
from semalign_core.experiments.runner import run_experiment  # noqa: E402

PROMPTS = {"normal": ["clear lungs"], "pneumonia": ["focal consolidation"]}


@pytest.fixture
def components(semalign_register_plugin):
    semalign_register_plugin(TinyPlugin(), "tiny-encoders")
    semalign_register_plugin(PickPlugin(), "pick-and-ridge")


def _run(tmp_path, counts, seeds, **task):
    make_dataset(tmp_path)
    cfg = config(tmp_path, {"kind": "zero-shot", "positive_label": "pneumonia",
                            "prompts": PROMPTS, **task},
                 anchors={"dataset": {"manifest": "manifest.csv", "split": "train"},
                          "count": counts, "selector": {"name": "pick"}},
                 seeds=seeds, translator=_ridge())
    return run_experiment(cfg)


@pytest.fixture
def five_seeds(tmp_path, components):
    return _run(tmp_path, [8, 20], [0, 1, 2, 3, 4])


def test_table_says_how_each_interval_was_made_and_names_the_baselines(five_seeds):
    table = report.format_table(five_seeds.document)
    header, *rows = table.splitlines()
    assert header.split()[-1] == "interval"
    assert rows[0].endswith("bootstrap, mean of 5 seeds")
    majority = next(r for r in rows if r.startswith("majority class of the anchor pool"))
    # 20 train images per class: a tie, which scikit-learn breaks by the first class
    assert majority.startswith("majority class of the anchor pool (normal)")
    assert majority.endswith("bootstrap")
    assert not any(r.startswith("chance") for r in rows)
    summary = (five_seeds.output_dir / "summary.md").read_text()
    assert "Every interval is a bootstrap over the 20 evaluation items" in summary
    assert "5 anchor seeds" in summary and "seed(s)" not in summary


def test_one_seed_is_singular_and_keeps_its_own_bootstrap(tmp_path, components):
    result = _run(tmp_path, [8], [0])
    summary = (result.output_dir / "summary.md").read_text()
    assert "1 anchor seed [0]" in summary and "1 anchor seeds" not in summary
    entry = result.document["summary"][0]["metrics"]["auroc"]
    assert entry["method"] == "bootstrap over evaluation items" and "over_seeds" not in entry
    assert report.format_table(result.document).splitlines()[1].endswith("bootstrap")


def test_gmm_rows_are_marked_transductive(tmp_path, components):
    result = _run(tmp_path, [20], [0, 1], calibration="gmm")
    rows = report.format_table(result.document).splitlines()[1:]
    assert rows[0].startswith("zero-shot + gmm threshold (transductive)")
    assert not rows[-1].startswith("zero-shot")  # baselines are not calibrated
    assert "(transductive)" in (result.output_dir / "summary.md").read_text()


def test_confusion_rates_are_row_normalised_seed_means(five_seeds):
    rates = report.confusion_rates(five_seeds, 20, [0, 1, 2, 3, 4])
    np.testing.assert_allclose(rates.sum(axis=1), 1.0)
    from sklearn.metrics import confusion_matrix

    y = np.asarray(five_seeds.curves["y_true"])
    first = confusion_matrix(y, five_seeds.curves["20/0"]["y_pred"], normalize="true")
    np.testing.assert_allclose(report.confusion_rates(five_seeds, 20, [0]), first)


def test_encoder_names_are_not_repeated():
    hub = {"encoder": "sentence-transformers", "dim": 384, "weights": "w",
           "architecture": "sentence-transformers/all-MiniLM-L6-v2"}
    assert report.describe_encoder(hub).startswith("`sentence-transformers/all-MiniLM-L6-v2`")
    plain = {"encoder": "tiny-image", "architecture": "thumb8", "weights": "none", "dim": 64}
    assert report.describe_encoder(plain).startswith("`tiny-image/thumb8`")
    assert report.plural(1, "seed") == "1 seed" and report.plural(3, "seed") == "3 seeds"


def test_the_y_range_follows_the_data():
    low, high = report._data_range([0.81, 0.86, 0.9])
    assert 0.79 < low < 0.81 and 0.9 < high < 0.92
    low, high = report._data_range([0.5, 0.5])  # one flat value still gets a visible range
    assert low < 0.5 < high


def test_report_html_is_one_self_contained_file(five_seeds):
    page = (five_seeds.output_dir / "report.html").read_text()
    assert "report.html" in five_seeds.files
    images = re.findall(r'<img [^>]*src="([^"]+)"', page)
    assert len(images) == 3 and all(s.startswith("data:image/png;base64,") for s in images)
    # nothing to fetch: no script, style sheet, font or remote image
    assert not re.search(r"<script|<link|@import|url\(|src=\"(?!data:)", page)
    assert "majority class of the anchor pool" in page and "bootstrap, mean of 5 seeds" in page
    fp = five_seeds.document["fingerprints"]["source"]
    assert fp["architecture"] in page and "Encoder fingerprints" in page
    assert "&quot;seeds&quot;: [" in page and "&quot;solver&quot;: &quot;test-ridge&quot;" in page


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    if running_in_ci():
        pytest.fail("CI needs Debian's chromium for the report.html test (.ci/run installs it)")
    pytest.skip("chromium is not installed (apt-get install chromium)")


@pytest.mark.slow
def test_report_html_renders_in_headless_chromium(five_seeds, tmp_path):
    from PIL import Image

    browser = _chromium()
    shot = tmp_path / "shot.png"
    page = five_seeds.output_dir / "report.html"
    # flags for a closed network and a root user (docs: machines/python.md)
    proc = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars",
         "--window-size=1200,2400", f"--screenshot={shot}", page.as_uri()],
        capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0 and shot.is_file(), proc.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=np.int16)
    assert pixels.shape[:2] == (2400, 1200)
    ink = np.any(pixels < 200, axis=2)  # text, rules, plot lines: anything not near-white
    assert 0.01 < ink.mean() < 0.6, f"{ink.mean():.3%} of the page is ink"
    # matplotlib's first colour (#1f77b4) is the zero-shot curve: the inline plots rendered
    blue = np.all(np.abs(pixels - np.array([31, 119, 180])) < 30, axis=2)
    assert blue.sum() > 200, "no plot colour on the screenshot: the data: images did not render"
