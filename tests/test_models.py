"""Whole models on real lanes: the digits CNN (trained once per session, cached), the per-layer table, the
Pareto front of the report, and bring-your-own models through the command line."""

import jsonschema
import numpy as np
import pytest

from report.format import pareto
from tests.test_cli import tfparity
from tfparity.convert import convert
from tfparity.models import MODELS, digits
from tfparity.models.check import check_model
from tfparity.results import schema


@pytest.fixture(scope="session")
def digits_case():
    digits.trained()  # trains (seconds) or loads the cached model
    return MODELS.select("quick", 0, ops=["digits_cnn"])[0]


def _check(case, lane, benchmark):
    record = check_model(case, lane, benchmark=benchmark, run_id="t", threads=1, availability=(True, ""))
    jsonschema.validate(record, schema())
    return record


def test_digits_cnn_learns_the_held_out_digits(digits_case):
    _, _, x_test, y_test = digits.split()
    probabilities = np.asarray(digits.trained()(x_test))
    assert len(y_test) == 450 and np.mean(probabilities.argmax(-1) == y_test) >= 0.95


@pytest.mark.parametrize("lane", ["tf-cpu", "tflite-xnnpack"])
def test_float_lanes_match_the_float64_executor(digits_case, lane, benchmark):
    record = _check(digits_case, lane, benchmark)
    assert record["outcome"] == "pass", record["reason"]
    model = record["model"]
    assert model["task"]["top1_agreement"] == 1.0 and model["task"]["accuracy"] >= 0.95
    assert model["size_bytes"] > 0 and model["p90_s"] >= record["timing"]["median_s"] > 0
    assert record["metrics"]["tol_used"] <= 1.0


def test_int8_ref_is_exact_in_every_layer(digits_case, benchmark):
    record = _check(digits_case, "tflite-int8-ref", benchmark)
    assert record["outcome"] == "pass", record["reason"]
    layers = record["model"]["layers"]
    assert [row["op"] for row in layers][:2] == ["CONV_2D", "CONV_2D"] and layers[-1]["op"] == "SOFTMAX"
    assert all(row["max_lsb_vs_exact"] == 0 and row["max_lsb_isolated"] == 0 for row in layers)
    assert record["model"]["unmatched"] == []  # every layer has its float counterpart
    assert all(row["rmse_over_scale"] > 0.0 for row in layers)  # computed for every layer
    # ≈0.29 LSB is ideal rounding; the feature layers stay near it. The head (MEAN, FC, SOFTMAX at its fixed
    # 1/256 scale) carries the error of every layer before it, which depends on the weights training produced.
    assert all(row["rmse_over_scale"] < 1.0 for row in layers if row["op"] in ("CONV_2D", "MAX_POOL_2D"))
    assert record["model"]["task"]["top1_drop"] <= 0.02


def test_a_broken_integer_model_is_located_at_its_first_layer(digits_case):
    """Corrupt the first conv's int8 weights: the table must name that layer first."""
    import reference.tflite
    from tfparity.lanes import LANES
    from tfparity.models.layers import table

    model = bytearray(convert(digits_case, "int8"))
    graph = reference.tflite.load(bytes(model))
    weights = graph.tensors[graph.operators[0].inputs[1]].data
    start = bytes(model).find(weights.tobytes())
    model[start:start + weights.size] = (-weights).astype(np.int8).tobytes()  # every weight negated
    lane = LANES["tflite-int8-ref"]
    q = lane.load(bytes(model), 1).input_quant[0].quantize(digits_case.arrays.inputs[0])
    _, float_tensors = reference.tflite.run_all(convert(digits_case, "float"), digits_case.arrays.inputs, float64=True)
    result = table(lane, bytes(model), [q], float_tensors, 1)
    assert result["first_divergent"]["index"] == 0 and "RMSE" in result["first_divergent"]["exceeds"]


def test_pareto_front_keeps_only_undominated_lanes():
    points = [("fast", 1.0, 0.3), ("exact", 5.0, 0.0), ("slow_and_worse", 6.0, 0.4), ("tie", 1.0, 0.3)]
    assert pareto(points) == ["fast", "exact", "tie"]


def test_bring_your_own_tflite_and_keras(digits_case, tmp_path):
    tflite = tmp_path / "digits_int8.tflite"
    tflite.write_bytes(convert(digits_case, "int8"))
    done = tfparity("run", "--model", str(tflite), "--lanes", "tflite-int8-ref,tflite-ref,tf-cpu", "--threads", "1",
                    "--results-dir", str(tmp_path / "r1"))
    assert done.returncode == 0, done.stderr[-2000:]
    from tfparity.results import load

    frame = load(tmp_path / "r1").set_index("lane")
    assert frame.loc["tflite-int8-ref", "outcome"] == "pass"
    assert frame.loc["tflite-ref", "outcome"] == "skip" and "int8 model" in frame.loc["tflite-ref", "reason"]
    assert frame.loc["tf-cpu", "outcome"] == "skip"

    keras_file = tmp_path / "digits.keras"
    digits.trained().save(keras_file)
    inputs = tmp_path / "inputs.npz"
    np.savez(inputs, x=digits.split()[2][:8])
    done = tfparity("run", "--model", str(keras_file), "--inputs", str(inputs), "--lanes", "tf-cpu,tflite-xnnpack",
                    "--threads", "1", "--results-dir", str(tmp_path / "r2"))
    assert done.returncode == 0, done.stderr[-2000:]
    frame = load(tmp_path / "r2")
    assert set(frame.outcome) == {"pass"} and set(frame.case_id) == {"given[file=digits.keras]"}


def test_an_edited_model_file_is_converted_anew(tmp_path):
    """Same path, other weights: the conversion cache must not hand back the old model (it did, keyed by name)."""
    import keras

    net = tmp_path / "net.keras"
    env_cache = tmp_path / "cache"
    for seed in (1, 2):
        keras.utils.set_random_seed(seed)
        keras.Sequential([keras.Input((6,), batch_size=2), keras.layers.Dense(4, activation="tanh")]).save(net)
        done = tfparity("run", "--model", str(net), "--lanes", "tf-cpu,tflite-xnnpack", "--threads", "1", "--no-timing",
                        "--results-dir", str(tmp_path / f"r{seed}"), env={"TFPARITY_CACHE": str(env_cache)})
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert len(list(env_cache.glob("*.tflite"))) == 2  # one float conversion per content


@pytest.mark.parametrize("args, message", [
    (["run", "--model", "/nonexistent/net.tflite"], "does not exist"),
    (["run", "--inputs", "x.npz"], "--inputs needs --model"),
    (["run", "--model", __file__.replace("test_models.py", "__init__.py")], "not a loadable"),
])
def test_bad_model_arguments_are_one_line(args, message):
    done = tfparity(*args)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, done.stderr
