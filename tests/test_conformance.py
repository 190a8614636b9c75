"""The conformance kit: one named check per rule, run one case each or all at once."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
from helpers import FirstNSelector, HashTextEncoder

from semalign_core import Encoder, Fingerprint, InvalidInputError
from semalign_core.align.identity import IdentitySolver
from semalign_core.testing import (
    check_encoder,
    check_solver,
    checks_for,
    parametrize_with_checks,
)

ENCODER_CHECK_NAMES = ["attributes", "lazy_loading", "fingerprint", "shape", "dtype",
                       "deterministic", "batch_size_invariance", "order", "empty_input",
                       "save_load"]


class MeanColourEncoder(Encoder):
    """Image path -> mean RGB: a weight-free image encoder for the built-in sample PNGs."""

    name = "test-mean-colour"
    modality = "image"
    dim = 3

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint(self.name, "mean-rgb", "none", 3, preprocessing={"mode": "RGB"})

    def encode_batch(self, items):
        from PIL import Image

        return np.stack([np.asarray(Image.open(p).convert("RGB"), np.float32).mean(axis=(0, 1))
                         for p in items])


@parametrize_with_checks([HashTextEncoder(), FirstNSelector(seed=1), IdentitySolver()],
                         dims=(5, 5))
def test_the_core_components_conform(obj, check):
    check(obj)


def test_one_case_per_check_named_after_class_and_rule():
    mark = parametrize_with_checks([HashTextEncoder(), IdentitySolver()], dims=(5, 5))
    names, cases = mark.args
    assert names == ("obj", "check")
    ids = [case.id for case in cases]
    assert ids[:len(ENCODER_CHECK_NAMES)] == [f"HashTextEncoder-{n}" for n in ENCODER_CHECK_NAMES]
    assert {"IdentitySolver-shape", "IdentitySolver-dtype", "IdentitySolver-deterministic",
            "IdentitySolver-save_load"} <= set(ids)
    assert len(ids) == len(set(ids))


def test_every_broken_rule_is_its_own_failing_case(pytester):
    pytester.makepyfile(test_broken=textwrap.dedent('''
        import numpy as np
        from semalign_core import Encoder, Fingerprint
        from semalign_core.testing import parametrize_with_checks


        class Broken(Encoder):
            """Loads in __init__ and depends on the batch size: two rules broken."""

            name = "broken"
            modality = "text"
            dim = 4

            def __init__(self):
                self.load()

            @property
            def fingerprint(self):
                return Fingerprint(self.name, "broken", "none", 4)

            def encode_batch(self, items):
                return np.full((len(items), 4), len(items), np.float32)


        @parametrize_with_checks([Broken()])
        def test_conformance(obj, check):
            check(obj)
        '''))
    result = pytester.runpytest("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=len(ENCODER_CHECK_NAMES) - 2, failed=2)
    result.stdout.fnmatch_lines(["*Broken-lazy_loading*", "*Broken-batch_size_invariance*"])


def test_check_encoder_reports_all_failures_at_once():
    class TwoWrongs(HashTextEncoder):
        def encode_batch(self, items):  # batch-size dependent, and NaN in every row
            out = super().encode_batch(items) + len(items)
            out[:, 0] = np.nan
            return out

    with pytest.raises(AssertionError) as info:
        check_encoder(TwoWrongs(), ["a", "b", "c"])
    message = str(info.value)
    assert "TwoWrongs failed" in message
    assert "- dtype:" in message and "NaN or inf" in message
    assert "- batch_size_invariance:" in message


def test_check_solver_still_names_the_rule():
    class Sloppy(IdentitySolver):
        def _fit(self, X, Y):
            self.weights = np.eye(X.shape[1])

    with pytest.raises(AssertionError, match=r"fitted_attributes: .*end in '_'"):
        check_solver(Sloppy(), dims=(5, 5))


def test_image_encoders_get_generated_sample_images():
    pytest.importorskip("PIL")
    check_encoder(MeanColourEncoder())


def test_items_per_modality_and_too_few_items():
    checks = dict(checks_for(HashTextEncoder(), items={"text": ["x", "y", "z"]}))
    checks["shape"](HashTextEncoder())
    too_few = dict(checks_for(HashTextEncoder(), items=["only one"]))
    with pytest.raises(InvalidInputError, match="at least 3 sample items"):
        too_few["shape"](HashTextEncoder())


def test_cases_run_on_copies_so_order_does_not_matter():
    encoder = HashTextEncoder()
    checks = dict(checks_for(encoder))
    checks["shape"](encoder)  # would load the weights if it ran on the object itself
    assert not encoder.is_loaded
    checks["lazy_loading"](encoder)


def test_objects_without_checks_are_refused():
    with pytest.raises(InvalidInputError, match="no conformance checks for dict"):
        checks_for({})
