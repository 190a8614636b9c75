"""Manifests, image folders, group splits and the Kermany / Open-i readers."""

from __future__ import annotations

import csv
import io
import tarfile

import numpy as np
import pytest

from semalign_core import InvalidInputError
from semalign_core.data import Manifest, Record, read_manifest, split_by_group


def _write_csv(path, rows, header):
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def images(tmp_path):
    (tmp_path / "img").mkdir()
    for name in ("a.png", "b.png", "c.png"):
        (tmp_path / "img" / name).write_bytes(b"not decoded here")
    return tmp_path


def test_csv_manifest_resolves_paths_and_labels(images):
    path = _write_csv(images / "m.csv", [
        {"id": "a", "image": "img/a.png", "text": "clear lungs", "label": "normal",
         "split": "train", "group": "p1"},
        {"id": "b", "image": "img/b.png", "text": "", "label": "pneumonia|effusion",
         "split": "test", "group": "p2"}], ["id", "image", "text", "label", "split", "group"])
    m = read_manifest(path)
    assert m.ids == ["a", "b"]
    assert m["a"].image == str((images / "img" / "a.png").resolve())
    assert m["b"].text is None and m["b"].labels == ("pneumonia", "effusion")
    assert m.is_multilabel and m.classes == ("effusion", "normal", "pneumonia")
    assert m.label_matrix().tolist() == [[0, 1, 0], [1, 0, 1]]
    assert m.filter(split="train").ids == ["a"]
    assert m.pairs().ids == ["a"]


def test_column_mapping_and_synonyms(images):
    path = _write_csv(images / "m.csv", [{"key": "a", "path": "img/a.png", "report": "x",
                                          "patient": "p"}], ["key", "path", "report", "patient"])
    m = read_manifest(path, columns={"id": "key", "group": "patient"})
    assert m["a"].group == "p" and m["a"].text == "x" and m["a"].image.endswith("a.png")


def test_missing_id_column_is_named(images):
    path = _write_csv(images / "m.csv", [{"image": "img/a.png"}], ["image"])
    with pytest.raises(InvalidInputError, match="missing required column 'id'"):
        read_manifest(path)


def test_mapped_column_that_does_not_exist(images):
    path = _write_csv(images / "m.csv", [{"id": "a", "image": "img/a.png"}], ["id", "image"])
    with pytest.raises(InvalidInputError, match="'patient'.*missing"):
        read_manifest(path, columns={"group": "patient"})


def test_missing_files_are_listed(images):
    path = _write_csv(images / "m.csv", [{"id": "a", "image": "img/a.png"},
                                         {"id": "z", "image": "img/zzz.png"}], ["id", "image"])
    with pytest.raises(InvalidInputError, match=r"1 image file\(s\) not found: .*zzz.png"):
        read_manifest(path)
    assert len(read_manifest(path, check_files=False)) == 2


def test_duplicate_ids_are_named(images):
    path = _write_csv(images / "m.csv", [{"id": "a", "text": "x"}, {"id": "a", "text": "y"}],
                      ["id", "text"])
    with pytest.raises(InvalidInputError, match="duplicate ids: 'a'"):
        read_manifest(path)


def test_empty_id_and_unknown_split(images):
    path = _write_csv(images / "m.csv", [{"id": "", "text": "x"}], ["id", "text"])
    with pytest.raises(InvalidInputError, match="row 2 has an empty id"):
        read_manifest(path)
    m = Manifest([Record("a", text="x", split="train")])
    with pytest.raises(InvalidInputError, match=r"no items in split\(s\) \['tset'\]"):
        m.filter(split="tset")


def test_parquet_round_trip(images):
    pytest.importorskip("pyarrow")
    m = Manifest([Record("a", str(images / "img" / "a.png"), "t", ("x",), "train", "g")])
    m.write(images / "m.parquet")
    back = read_manifest(images / "m.parquet")
    assert back.records == m.records


def test_csv_write_round_trip(images):
    m = Manifest([Record("a", str(images / "img" / "a.png"), "two  spaces", ("x", "y"), "tr",
                         None)])
    back = read_manifest(m.write(images / "sub" / "out.csv"))
    assert back.records == m.records


def test_image_folder(images):
    m = Manifest.from_image_folder(images)
    assert m.ids == ["img/a.png", "img/b.png", "img/c.png"]
    assert m.classes == ("img",)
    with pytest.raises(InvalidInputError, match="holds no images"):
        Manifest.from_image_folder(images / "img")


def _grouped(n_groups=30, per_group=3):
    return Manifest([Record(f"{g}-{i}", text="t", group=f"patient{g}")
                     for g in range(n_groups) for i in range(per_group)])


def test_split_by_group_keeps_patients_together():
    pytest.importorskip("sklearn")
    split = split_by_group(_grouped(), test_size=0.3, seed=1)
    sides: dict[str, set[str]] = {}
    for r in split:
        sides.setdefault(r.group, set()).add(r.split)
    assert all(len(s) == 1 for s in sides.values())
    n_test = sum(1 for s in sides.values() if s == {"test"})
    assert n_test == 9  # 30% of 30 groups


def test_split_by_group_is_seeded():
    pytest.importorskip("sklearn")
    a = [r.split for r in split_by_group(_grouped(), seed=0)]
    b = [r.split for r in split_by_group(_grouped(), seed=0)]
    c = [r.split for r in split_by_group(_grouped(), seed=5)]
    assert a == b and a != c


def test_split_by_group_errors():
    pytest.importorskip("sklearn")
    with pytest.raises(InvalidInputError, match="at least 2 groups"):
        split_by_group(Manifest([Record("a", text="t", group="g"),
                                 Record("b", text="t", group="g")]))
    with pytest.raises(InvalidInputError, match="test_size"):
        split_by_group(_grouped(), test_size=1.5)


def _report_xml(number: int, impression: str, tags: list[str], findings: str = "") -> bytes:
    mesh = "".join(f"<major>{t}</major>" for t in tags)
    return (f'<?xml version="1.0"?><eCitation><MedlineCitation><Article><Abstract>'
            f'<AbstractText Label="FINDINGS">{findings}</AbstractText>'
            f'<AbstractText Label="IMPRESSION">{impression}</AbstractText>'
            f"</Abstract></Article></MedlineCitation><MeSH>{mesh}</MeSH></eCitation>").encode()


def test_openi_parsing_and_labels(tmp_path):
    from semalign_core.data.openi import openi_manifest, read_openi_reports

    path = tmp_path / "reports.tgz"
    with tarfile.open(path, "w:gz") as tar:
        for number, impression, tags in [(10, "No acute disease.", ["normal"]),
                                         (2, "Right lower lobe pneumonia.",
                                          ["Pneumonia/lung/lower lobe/right"]),
                                         (3, "Cardiomegaly.", ["Cardiomegaly"]),
                                         (4, "", ["Airspace Disease"])]:
            data = _report_xml(number, impression, tags, findings="Focal opacity." if
                               number == 4 else "")
            info = tarfile.TarInfo(f"ecgen-radiology/{number}.xml")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    reports = read_openi_reports(path)
    assert [r.id for r in reports] == ["openi/2", "openi/3", "openi/4", "openi/10"]
    m = openi_manifest(path)
    assert {r.id: (r.label, r.text) for r in m} == {
        "openi/2": ("pneumonia", "Right lower lobe pneumonia."),
        "openi/4": ("pneumonia", "Focal opacity."),  # no impression: the findings
        "openi/10": ("normal", "No acute disease.")}
    with pytest.raises(InvalidInputError, match="not found"):
        read_openi_reports(tmp_path / "missing.tgz")


def test_kermany_image_paths_are_the_resolved_paths(tmp_path):
    """Folders are resolved once per folder, yet every path equals ``Path.resolve()``: through a
    linked folder, a linked file, ``..`` and a file that does not exist."""
    from semalign_core.data import kermany_manifest

    real = tmp_path / "real"
    (real / "imgs").mkdir(parents=True)
    for name in ("a.jpeg", "target.jpeg"):
        (real / "imgs" / name).write_bytes(b"x")
    root = tmp_path / "root"
    (root / "train").mkdir(parents=True)
    (root / "linked").symlink_to(real / "imgs", target_is_directory=True)
    (root / "train" / "b.jpeg").write_bytes(b"x")
    (root / "train" / "link.jpeg").symlink_to(real / "imgs" / "target.jpeg")
    rels = ["train/b.jpeg", "train/link.jpeg", "linked/a.jpeg", "train/../train/b.jpeg",
            "train/missing.jpeg"]
    (root / "labels.csv").write_text("path,split,label\n" + "".join(
        f"{rel},train,normal\n" for rel in rels))
    manifest = kermany_manifest(root, check_files=False)
    assert [r.image for r in manifest] == [str((root / rel).resolve()) for rel in rels]
    assert manifest.records[1].image == str(real / "imgs" / "target.jpeg")


def _reports_archive(path, reports):
    with tarfile.open(path, "w:gz") as tar:
        for number, impression, tags in reports:
            data = _report_xml(number, impression, tags)
            info = tarfile.TarInfo(f"ecgen-radiology/{number}.xml")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_openi_archive_parsed_once_then_read_back(tmp_path, monkeypatch):
    import semalign_core.data.openi as openi

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    path = _reports_archive(tmp_path / "r.tgz", [(1, "No acute disease.", ["normal"]),
                                                 (2, "Pneumonia &amp; effusion.",
                                                  ["Pneumonia", "Effusion"])])
    first = openi.read_openi_reports(path)
    parses = []
    real = openi._read_archive
    monkeypatch.setattr(openi, "_read_archive", lambda s: parses.append(s) or real(s))
    again = openi.read_openi_reports(path)
    assert again == first and parses == []  # equal reports, no parse: the memo answered
    assert first[1].tags == ("Pneumonia", "Effusion")
    assert first[1].impression == "Pneumonia & effusion."
    (memo,) = (tmp_path / "xdg" / "semalign" / "parsed-archives").iterdir()
    # a damaged memo is parsed again, never trusted
    memo.write_text(memo.read_text().replace("effusion", "tampered"))
    assert openi.read_openi_reports(path) == first and len(parses) == 1
    # other bytes at the same path: a new key, so the new content is parsed
    _reports_archive(path, [(1, "Clear lungs.", ["normal"])])
    assert [r.impression for r in openi.read_openi_reports(path)] == ["Clear lungs."]
    assert len(parses) == 2


@pytest.mark.shared_data
def test_real_kermany_and_openi(shared):
    from semalign_core.data import kermany_manifest, openi_manifest

    kermany = kermany_manifest(shared / "data" / "kermany-cxr")
    test = kermany.filter(split="test")
    assert len(test) == 624 and len(kermany.filter(split="train")) == 400
    assert sorted(np.unique(test.labels(), return_counts=True)[1].tolist()) == [234, 390]
    assert kermany["train/pneumonia/person988_virus_1666.jpeg"].group == "person988"
    reports = openi_manifest(shared / "data" / "openi-reports" / "NLMCXR_reports.tgz")
    counts = dict(zip(*np.unique(reports.labels(), return_counts=True), strict=True))
    assert counts["normal"] > 1000 and counts["pneumonia"] > 100
