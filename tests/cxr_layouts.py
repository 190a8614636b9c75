"""Tiny copies of the public chest X-ray datasets in their official on-disk layouts.

Each builder writes real (4x4 pixel) JPEG / PNG / DICOM files and CSVs with the datasets' real
headers and value conventions (``1.0`` / ``0.0`` / ``-1.0`` / blank cells, ``A|B`` labels, several
box rows per RSNA patient, the Kaggle NIH copy's trailing commas, gzipped MIMIC tables).
"""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import dicom_files
import numpy as np

CHEXPERT_HEADER = ["Path", "Sex", "Age", "Frontal/Lateral", "AP/PA", "No Finding",
                   "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion",
                   "Edema", "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax",
                   "Pleural Effusion", "Pleural Other", "Fracture", "Support Devices"]
MIMIC_OBSERVATIONS = sorted(CHEXPERT_HEADER[5:])


def _image(path: Path, value: int = 128) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((4, 4), value, np.uint8)).save(path)
    return path


def write_dicom(path: Path, view: str = "PA") -> Path:
    return dicom_files.write_dicom(path, np.arange(16, dtype=np.uint8).reshape(4, 4), view=view)


def write_csv(path: Path, header: list[str], rows: list[list[object]], *, gz: bool = False,
              trailing_comma: bool = False) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for cells in [header, *rows]:
        writer.writerow([*cells, ""] if trailing_comma else cells)
    data = buffer.getvalue().encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


MIMIC_REPORT = """                                 FINAL REPORT
 EXAMINATION:  CHEST (PA AND LAT)

 INDICATION:  ___F with cough

 FINDINGS:

 There is a small left pleural effusion.  No pneumothorax.
 The cardiomediastinal silhouette is normal.

 IMPRESSION:

 Small left pleural effusion.

 NOTIFICATION:  The findings were discussed with Dr. ___ by phone at 10:00.
"""

# study -> (subject, [(dicom_id, view)], observations: {column: value}, split)
MIMIC_STUDIES = {
    "50414267": ("10000032", [("d1", "PA"), ("d2", "LATERAL")],
                 {"Pleural Effusion": "1.0", "Support Devices": "1.0", "Edema": "-1.0",
                  "Cardiomegaly": "0.0"}, "train"),
    "53189527": ("10000032", [("d3", "AP")], {"No Finding": "1.0"}, "train"),
    "56699142": ("10000764", [("d4", "PA")], {"Pneumonia": "1.0"}, "validate"),
    "57375967": ("10002428", [("d5", "AP"), ("d6", "LL")], {"Atelectasis": "-1.0"}, "test"),
}


def make_mimic(root: Path, *, gz: bool = True, reports: Path | None = None) -> Path:
    meta, labels, split = [], [], []
    for study, (subject, images, obs, part) in MIMIC_STUDIES.items():
        labels.append([subject, study, *(obs.get(c, "") for c in MIMIC_OBSERVATIONS)])
        for dicom, view in images:
            meta.append([dicom, subject, study, "CHEST (PA AND LAT)", view, 4, 4, "21800506",
                         "213014.531", "CHEST (PA AND LAT)", "postero-anterior", "Erect"])
            split.append([dicom, study, subject, part])
            _image(root / f"files/p{subject[:2]}/p{subject}/s{study}/{dicom}.jpg")
        text = MIMIC_REPORT if study != "53189527" else " FINDINGS: Clear lungs.\n"
        report = (reports or root) / f"files/p{subject[:2]}/p{subject}/s{study}.txt"
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(text)
    write_csv(root / "mimic-cxr-2.0.0-metadata.csv",
              ["dicom_id", "subject_id", "study_id", "PerformedProcedureStepDescription",
               "ViewPosition", "Rows", "Columns", "StudyDate", "StudyTime",
               "ProcedureCodeSequence_CodeMeaning", "ViewCodeSequence_CodeMeaning",
               "PatientOrientationCodeSequence_CodeMeaning"], meta, gz=gz)
    for labeler in ("chexpert", "negbio"):
        write_csv(root / f"mimic-cxr-2.0.0-{labeler}.csv",
                  ["subject_id", "study_id", *MIMIC_OBSERVATIONS], labels, gz=gz)
    write_csv(root / "mimic-cxr-2.0.0-split.csv", ["dicom_id", "study_id", "subject_id",
                                                    "split"], split, gz=gz)
    return root


def chexpert_row(folder: str, split: str, patient: int, study: int, view: int, side: str,
                 appa: str, obs: dict[str, str]) -> list[object]:
    path = f"{folder}/{split}/patient{patient:05d}/study{study}/view{view}_{side.lower()}.jpg"
    return [path, "Female", 68, side, appa, *(obs.get(c, "") for c in CHEXPERT_HEADER[5:])]


def make_chexpert(parent: Path, *, folder: str = "CheXpert-v1.0-small",
                  train: list[list[object]] | None = None) -> Path:
    if train is None:
        train = [
            chexpert_row(folder, "train", 1, 1, 1, "Frontal", "AP",
                         {"No Finding": "1.0", "Support Devices": "1.0"}),
            chexpert_row(folder, "train", 2, 1, 1, "Frontal", "PA",
                         {"Cardiomegaly": "1.0", "Edema": "-1.0", "Pneumonia": "0.0"}),
            chexpert_row(folder, "train", 2, 1, 2, "Lateral", "",
                         {"Cardiomegaly": "1.0", "Edema": "-1.0"}),
        ]
    valid = [chexpert_row(folder, "valid", 64541, 1, 1, "Frontal", "AP",
                          {"Atelectasis": "1.0", "Edema": "0.0"})]
    base = parent / folder
    for rows, name in ((train, "train.csv"), (valid, "valid.csv")):
        write_csv(base / name, CHEXPERT_HEADER, rows)
        for row in rows:
            _image(parent / str(row[0]))
    return base


NIH_HEADER = ["Image Index", "Finding Labels", "Follow-up #", "Patient ID", "Patient Age",
              "Patient Gender", "View Position", "OriginalImage[Width", "Height]",
              "OriginalImagePixelSpacing[x", "y]"]
NIH_ROWS = [
    ["00000001_000.png", "Cardiomegaly", 0, 1, 58, "M", "PA", 2682, 2749, 0.143, 0.143],
    ["00000001_001.png", "Cardiomegaly|Emphysema", 1, 1, 58, "M", "PA", 2894, 2729, 0.143, 0.143],
    ["00000002_000.png", "No Finding", 0, 2, 81, "M", "AP", 2500, 2048, 0.171, 0.171],
    ["00000003_000.png", "Hernia|Pleural_Thickening", 0, 3, 74, "F", "PA", 2500, 2048, 0.168,
     0.168],
]


def make_nih(root: Path, *, kaggle: bool = False) -> Path:
    write_csv(root / "Data_Entry_2017.csv", NIH_HEADER, NIH_ROWS, trailing_comma=kaggle)
    (root / "train_val_list.txt").write_text("00000001_000.png\n00000001_001.png\n"
                                             "00000003_000.png\n")
    (root / "test_list.txt").write_text("00000002_000.png\n")
    for i, row in enumerate(NIH_ROWS):
        folder = root / (f"images_{i // 2 + 1:03d}/images" if kaggle else "images")
        _image(folder / str(row[0]))
    return root


RSNA_PATIENTS = {  # patientId -> (boxes, class, view)
    "0004cfab-14fd-4e49-80ba-63a80b6bddd6": ([], "No Lung Opacity / Not Normal", "PA"),
    "00436515-870c-4b36-a041-de91049b9ab4": ([(264, 152, 213, 379), (562, 152, 256, 453)],
                                             "Lung Opacity", "AP"),
    "003d8fa0-6bf1-40ed-b54c-ac657f8495c5": ([], "Normal", "PA"),
}


def make_rsna(root: Path) -> Path:
    labels, classes = [], []
    for patient, (boxes, klass, view) in RSNA_PATIENTS.items():
        for box in boxes or [("", "", "", "")]:
            labels.append([patient, *box, 1 if boxes else 0])
            classes.append([patient, klass])
        write_dicom(root / "stage_2_train_images" / f"{patient}.dcm", view)
    write_csv(root / "stage_2_train_labels.csv", ["patientId", "x", "y", "width", "height",
                                                  "Target"], labels)
    write_csv(root / "stage_2_detailed_class_info.csv", ["patientId", "class"], classes)
    return root
