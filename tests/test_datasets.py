"""Readers for MIMIC-CXR-JPG, CheXpert, NIH ChestX-ray14 and RSNA Pneumonia on their layouts."""

from __future__ import annotations

import gzip
import shutil
import zipfile

import pytest

from semalign_core import InvalidInputError
from semalign_core.data import split_by_group
from semalign_core.data.chexpert import CHEXPERT_5X200_CLASSES, chexpert_5x200, chexpert_manifest
from semalign_core.data.mimic import mimic_cxr_manifest
from semalign_core.data.nih import nih_chestxray14_manifest
from semalign_core.data.reports import report_section, report_sections
from semalign_core.data.rsna import rsna_pneumonia_manifest

pytest.importorskip("PIL")
pytest.importorskip("pydicom")

from cxr_layouts import (
    CHEXPERT_HEADER,
    MIMIC_REPORT,
    chexpert_row,
    make_chexpert,
    make_mimic,
    make_nih,
    make_rsna,
    write_csv,
)

READERS = {"mimic-cxr": (mimic_cxr_manifest, make_mimic),
           "chexpert": (chexpert_manifest, lambda p: make_chexpert(p).parent),
           "nih-chestxray14": (nih_chestxray14_manifest, make_nih),
           "rsna-pneumonia": (rsna_pneumonia_manifest, make_rsna)}


# -- reports -------------------------------------------------------------------------------------
def test_report_sections_end_at_the_next_header():
    sections = report_sections(MIMIC_REPORT)
    assert sections["IMPRESSION"] == "Small left pleural effusion."
    assert sections["NOTIFICATION"].startswith("The findings were discussed")
    assert sections["FINDINGS"] == ("There is a small left pleural effusion. No pneumothorax. "
                                    "The cardiomediastinal silhouette is normal.")
    assert sections[""] == "FINAL REPORT"
    assert report_section(MIMIC_REPORT, "both") == (sections["FINDINGS"] + " "
                                                    + sections["IMPRESSION"])
    assert report_section("FINDINGS: Clear.", "impression") == ""
    assert report_section("IMPRESSION: a.\n RECOMMENDATION(S): b.", "impression") == "a."
    # a lower-case word before a colon is prose, not a header
    assert report_section("FINDINGS: PA and lateral views: clear.", "findings") == (
        "PA and lateral views: clear.")
    with pytest.raises(InvalidInputError, match="section must be one of"):
        report_section("x", "summary")


# -- MIMIC-CXR -----------------------------------------------------------------------------------
@pytest.mark.parametrize("gz", [True, False])
def test_mimic_labels_texts_splits_groups(tmp_path, gz):
    m = mimic_cxr_manifest(make_mimic(tmp_path, gz=gz))
    assert len(m) == 6  # one record per image, every view
    first = m["files/p10/p10000032/s50414267/d1.jpg"]
    assert first.labels == ("Pleural Effusion", "Support Devices")  # -1 -> 0, No Finding dropped
    assert first.text == "Small left pleural effusion."  # the notification is not in it
    assert first.group == "10000032" and first.split == "train"
    assert m["files/p10/p10000032/s50414267/d2.jpg"].text == first.text  # same study, same report
    assert m["files/p10/p10000032/s53189527/d3.jpg"].labels == ()  # No Finding is no label
    assert m["files/p10/p10000032/s53189527/d3.jpg"].text is None  # report has no impression
    assert m["files/p10/p10000764/s56699142/d4.jpg"].split == "validate"
    assert set(m.splits) == {"train", "validate", "test"}
    assert first.image == str((tmp_path / first.id).resolve())


def test_mimic_options(tmp_path):
    root = make_mimic(tmp_path)
    ones = mimic_cxr_manifest(root, uncertain="ones")
    assert ones["files/p10/p10000032/s50414267/d1.jpg"].labels == ("Edema", "Pleural Effusion",
                                                                   "Support Devices")
    assert ones["files/p10/p10002428/s57375967/d5.jpg"].labels == ("Atelectasis",)
    frontal = mimic_cxr_manifest(root, views="frontal")
    assert sorted(r.id.rsplit("/", 1)[1] for r in frontal) == ["d1.jpg", "d3.jpg", "d4.jpg",
                                                               "d5.jpg"]
    assert [r.id[-6:] for r in mimic_cxr_manifest(root, views=["ll"])] == ["d6.jpg"]
    both = mimic_cxr_manifest(root, section="both")
    assert both["files/p10/p10000032/s53189527/d3.jpg"].text == "Clear lungs."
    assert mimic_cxr_manifest(root, section=None)["files/p10/p10000032/s50414267/d1.jpg"].text \
        is None
    assert len(mimic_cxr_manifest(root, labeler="negbio")) == 6
    for option, value in (("section", "summary"), ("uncertain", "maybe"), ("labeler", "x"),
                          ("views", "oblique")):
        with pytest.raises(InvalidInputError, match=option if option != "views" else "view"):
            mimic_cxr_manifest(root, **{option: value})


def test_mimic_reports_elsewhere_or_zipped(tmp_path):
    root, reports = tmp_path / "jpg", tmp_path / "reports"
    make_mimic(root, reports=reports)
    assert mimic_cxr_manifest(root, reports=reports)["files/p10/p10000764/s56699142/d4.jpg"].text
    with pytest.raises(InvalidInputError, match="no report found"):
        mimic_cxr_manifest(root)
    archive = tmp_path / "mimic-cxr-reports.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in reports.rglob("*.txt"):
            zf.write(path, path.relative_to(reports).as_posix())
    zipped = mimic_cxr_manifest(root, reports=archive)
    assert zipped["files/p10/p10000032/s50414267/d1.jpg"].text == "Small left pleural effusion."


def test_mimic_study_without_labels_is_left_out_with_a_warning(tmp_path):
    root = make_mimic(tmp_path)
    path = root / "mimic-cxr-2.0.0-chexpert.csv.gz"
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    path.write_bytes(gzip.compress("\n".join(lines[:-1]).encode()))  # drop study 57375967
    with pytest.warns(UserWarning, match="2 image"):
        m = mimic_cxr_manifest(root)
    assert len(m) == 4


# -- CheXpert ------------------------------------------------------------------------------------
@pytest.mark.parametrize("folder", ["CheXpert-v1.0-small", "CheXpert-v1.0"])
def test_chexpert_labels_splits_groups(tmp_path, folder):
    base = make_chexpert(tmp_path, folder=folder)
    for root in (base, tmp_path):  # the dataset folder or the folder holding it
        m = chexpert_manifest(root)
        assert len(m) == 4
        first = m["train/patient00001/study1/view1_frontal.jpg"]
        assert first.labels == ("Support Devices",) and first.group == "patient00001"
        assert first.image == str((base / first.id).resolve())
        assert m["train/patient00002/study1/view1_frontal.jpg"].labels == ("Cardiomegaly",)
        assert m["valid/patient64541/study1/view1_frontal.jpg"].split == "valid"
    ones = chexpert_manifest(base, uncertain="ones")
    assert ones["train/patient00002/study1/view1_frontal.jpg"].labels == ("Cardiomegaly",
                                                                          "Edema")
    assert len(chexpert_manifest(base, views="frontal")) == 3
    assert chexpert_manifest(base, views="lateral").ids == [
        "train/patient00002/study1/view2_lateral.jpg"]
    assert len(chexpert_manifest(base, views=["pa"])) == 1
    assert chexpert_manifest(base, splits=["valid"]).splits == ("valid",)
    with pytest.raises(InvalidInputError, match="uncertain must be one of"):
        chexpert_manifest(base, uncertain="ignore")
    with pytest.raises(InvalidInputError, match="splits must be one of"):
        chexpert_manifest(base, splits=["test"])


def test_chexpert_bad_cell_names_file_line_and_column(tmp_path):
    base = make_chexpert(tmp_path, train=[chexpert_row("CheXpert-v1.0-small", "train", 1, 1, 1,
                                                       "Frontal", "AP", {"Edema": "yes"})])
    with pytest.raises(InvalidInputError, match=r"train.csv line 2: column 'Edema' holds 'yes'"):
        chexpert_manifest(base)


def _five_by_n_rows(n_per_class: int) -> list[list[object]]:
    rows, patient = [], 1
    for name in CHEXPERT_5X200_CLASSES:
        for _ in range(n_per_class):
            rows.append(chexpert_row("CheXpert-v1.0-small", "train", patient, 1, 1, "Frontal",
                                     "AP", {name: "1.0", "Support Devices": "1.0"}))
            patient += 1
    # two of the five positive: never eligible; uncertain: eligible only under "zeros"
    rows.append(chexpert_row("CheXpert-v1.0-small", "train", patient, 1, 1, "Frontal", "AP",
                             {"Edema": "1.0", "Atelectasis": "1.0"}))
    rows.append(chexpert_row("CheXpert-v1.0-small", "train", patient + 1, 1, 1, "Frontal", "AP",
                             {"Edema": "1.0", "Atelectasis": "-1.0"}))
    return rows


def test_chexpert_5x200_is_seeded_and_exactly_one_positive(tmp_path):
    base = make_chexpert(tmp_path, train=_five_by_n_rows(6))
    m = chexpert_manifest(base, splits=["train"])
    a = chexpert_5x200(m, per_class=5, seed=3)
    assert len(a) == 25 and a.classes == tuple(sorted(CHEXPERT_5X200_CLASSES))
    assert a.ids == chexpert_5x200(m, per_class=5, seed=3).ids
    assert a.ids != chexpert_5x200(m, per_class=5, seed=4).ids
    for record in a:
        (label,) = record.labels
        assert set(m[record.id].labels) & set(CHEXPERT_5X200_CLASSES) == {label}
    counts = {c: sum(r.labels == (c,) for r in chexpert_5x200(m, per_class=6)) for c in
              CHEXPERT_5X200_CLASSES}
    assert counts["Edema"] == 6
    # under "zeros" the uncertain Atelectasis makes patient 32 a seventh Edema-only image
    with pytest.raises(InvalidInputError, match="only 6 image.*'Atelectasis'"):
        chexpert_5x200(m, per_class=7, classes=["Edema", "Atelectasis"])
    with pytest.raises(InvalidInputError, match="only 6 image.*'Edema'"):
        chexpert_5x200(chexpert_manifest(base, uncertain="ones", splits=["train"]), per_class=7,
                       classes=["Edema", "Atelectasis"])


# -- NIH -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kaggle", [False, True])
def test_nih_labels_splits_groups(tmp_path, kaggle):
    m = nih_chestxray14_manifest(make_nih(tmp_path, kaggle=kaggle))
    assert m.ids == ["00000001_000.png", "00000001_001.png", "00000002_000.png",
                     "00000003_000.png"]
    assert m["00000001_001.png"].labels == ("Cardiomegaly", "Emphysema")
    assert m["00000002_000.png"].labels == () and m["00000002_000.png"].split == "test"
    assert m["00000003_000.png"].labels == ("Hernia", "Pleural_Thickening")
    assert m["00000001_000.png"].group == m["00000001_001.png"].group == "1"
    assert all(r.image and r.image.endswith(r.id) for r in m)
    if kaggle:
        assert "/images_002/images/" in m["00000003_000.png"].image
    assert nih_chestxray14_manifest(tmp_path, views="ap").ids == ["00000002_000.png"]
    assert len(nih_chestxray14_manifest(tmp_path, views="frontal")) == 4


def test_nih_missing_image_list_and_unknown_finding(tmp_path):
    root = make_nih(tmp_path)
    (root / "images" / "00000002_000.png").unlink()
    with pytest.raises(InvalidInputError, match="1 image.*00000002_000.png"):
        nih_chestxray14_manifest(root)
    assert len(nih_chestxray14_manifest(root, check_files=False)) == 4
    (root / "test_list.txt").unlink()
    with pytest.raises(InvalidInputError, match="test_list.txt not found"):
        nih_chestxray14_manifest(root)
    root2 = tmp_path / "other"
    make_nih(root2)
    text = (root2 / "Data_Entry_2017.csv").read_text().replace("Hernia|", "Hernie|")
    (root2 / "Data_Entry_2017.csv").write_text(text)
    with pytest.raises(InvalidInputError, match=r"line 5: 'Finding Labels' 'Hernie"):
        nih_chestxray14_manifest(root2)


# -- RSNA ----------------------------------------------------------------------------------------
def test_rsna_one_record_per_patient_from_box_rows(tmp_path):
    m = rsna_pneumonia_manifest(make_rsna(tmp_path))
    assert len(m) == 3  # four label rows, three patients
    sick = m["00436515-870c-4b36-a041-de91049b9ab4"]
    assert sick.labels == ("Pneumonia",) and sick.image.endswith(".dcm")
    assert m["003d8fa0-6bf1-40ed-b54c-ac657f8495c5"].labels == ()
    assert {r.group for r in m} == set(m.ids)
    detailed = rsna_pneumonia_manifest(tmp_path, labels="class")
    assert detailed["0004cfab-14fd-4e49-80ba-63a80b6bddd6"].labels == (
        "No Lung Opacity / Not Normal",)
    assert detailed["003d8fa0-6bf1-40ed-b54c-ac657f8495c5"].labels == ("Normal",)
    assert rsna_pneumonia_manifest(tmp_path, views="ap").ids == [sick.id]  # from the DICOM
    assert len(rsna_pneumonia_manifest(tmp_path, views=["pa"])) == 2
    with pytest.raises(InvalidInputError, match="labels must be one of"):
        rsna_pneumonia_manifest(tmp_path, labels="boxes")


def test_rsna_rows_of_a_patient_must_agree(tmp_path):
    root = make_rsna(tmp_path)
    path = root / "stage_2_train_labels.csv"
    lines = path.read_text().splitlines()
    assert lines[3].startswith("00436515")
    lines[3] = lines[3][:-1] + "0"  # the patient's second box row now says Target 0
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InvalidInputError, match="every box row of a patient must agree"):
        rsna_pneumonia_manifest(root)


# -- shared rules --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(READERS))
def test_groups_never_leak_a_patient(tmp_path, name):
    reader, make = READERS[name]
    m = split_by_group(reader(make(tmp_path)), test_size=0.5, seed=0)
    sides = {}
    for record in m:
        sides.setdefault(record.group, set()).add(record.split)
    assert all(len(s) == 1 for s in sides.values())


@pytest.mark.parametrize("name", list(READERS))
def test_wrong_roots_raise_naming_what_was_expected(tmp_path, name):
    reader = READERS[name][0]
    with pytest.raises(InvalidInputError, match="is not a folder"):
        reader(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInputError, match="is empty"):
        reader(tmp_path / "empty")
    other = next(n for n in READERS if n != name)
    other_root = READERS[other][1](tmp_path / "other")
    with pytest.raises(InvalidInputError, match=f"not found.*looks like a {other} folder"):
        reader(other_root)


def _table_of(name: str, root):
    return {"mimic-cxr": root / "mimic-cxr-2.0.0-metadata.csv.gz",
            "chexpert": root / "CheXpert-v1.0-small" / "train.csv",
            "nih-chestxray14": root / "Data_Entry_2017.csv",
            "rsna-pneumonia": root / "stage_2_train_labels.csv"}[name]


@pytest.mark.parametrize("name", list(READERS))
def test_missing_or_wrong_column_csv_is_named(tmp_path, name):
    reader, make = READERS[name]
    root = make(tmp_path / "wrong")
    table = _table_of(name, root)
    write_csv(table.with_name(table.name.removesuffix(".gz")), ["a", "b"], [[1, 2]])
    if table.suffix == ".gz":
        table.unlink()
    with pytest.raises(InvalidInputError, match=r"lacks column\(s\).*its columns are \['a', 'b'\]"):
        reader(root)
    root = make(tmp_path / "missing")
    _table_of(name, root).unlink()
    with pytest.raises(InvalidInputError, match="not found"):
        reader(root)


def test_header_only_csv_is_an_error_not_an_empty_manifest(tmp_path):
    base = make_chexpert(tmp_path)
    write_csv(base / "train.csv", CHEXPERT_HEADER, [])
    with pytest.raises(InvalidInputError, match="has a header but no rows"):
        chexpert_manifest(base)


def test_missing_images_are_listed(tmp_path):
    root = make_rsna(tmp_path)
    shutil.rmtree(root / "stage_2_train_images")
    with pytest.raises(InvalidInputError, match="3 image file"):
        rsna_pneumonia_manifest(root)


# -- through the registry ------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(READERS))
def test_get_dataset_reads_each_official_layout(tmp_path, name, semalign_isolated_plugins):
    from semalign_core import get_dataset, list_datasets

    assert name in list_datasets()
    root = READERS[name][1](tmp_path)
    assert get_dataset(name, root).ids == READERS[name][0](root).ids
    with pytest.raises(InvalidInputError, match="unknown view"):
        get_dataset(name, root, views=["sideways"])


def test_get_dataset_chexpert_5x200_protocol(tmp_path, semalign_isolated_plugins):
    from semalign_core import get_dataset

    base = make_chexpert(tmp_path, train=_five_by_n_rows(3))
    m = get_dataset("chexpert", base, protocol="5x200", per_class=2, seed=1, splits=["train"])
    assert len(m) == 10 and m.ids == chexpert_5x200(chexpert_manifest(base, splits=["train"]),
                                                    per_class=2, seed=1).ids
    with pytest.raises(InvalidInputError, match="protocol must be"):
        get_dataset("chexpert", base, protocol="5x100")
