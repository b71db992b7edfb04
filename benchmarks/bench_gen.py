"""Benchmark for `losscheck gen` (run by hand, not by the test suite).

    python benchmarks/bench_gen.py            # everything
    python benchmarks/bench_gen.py --gen-only # only the generator timings (no TensorFlow)

1. Generator: a 200-task layout (10 outputs x 20 tasks, every feature), in-process
   (best of 5) and as a fresh `losscheck gen` process (best of 5, Python start-up included).
2. One training step (CPU, the same run, interleaved fit() epochs, fastest and median),
   graph-compiled fit step and with jit_compile=True:
   - several named outputs, one task each: the generated LOSSES vs Keras's own
     ``loss={...}`` dict of built-in Loss objects with the same parameters;
   - one packed segmentation output: the generated loss vs a hand-written sliced loss
     (what a careful user writes: slices, keras.losses, a masked mean).
   Prints the ratios generated / baseline (target: <= 1.05).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def big_layout(tasks: int = 200) -> dict:
    kinds = [
        {"type": "binary", "units": 1, "loss": ["binary_crossentropy", "dice"]},
        {"type": "categorical", "units": 5, "targets": "sparse", "ignore_value": -1, "from_logits": True},
        {"type": "regression", "units": 4, "loss": {"name": "huber", "delta": 0.5},
         "when": {"task": "t0", "equals": 1}},
        {"type": "multilabel", "units": 3, "loss": "binary_focal_crossentropy", "weight": 0.5},
    ]
    return {"version": 1, "outputs": [
        {"name": f"out{o}", "spatial": [32, 32], "tasks": [dict(kinds[i % 4], name=f"t{i}") for i in range(20)]}
        for o in range(tasks // 20)]}


def bench_gen(tmp: Path) -> None:
    from losscheck.gen.cli import generate

    path = tmp / "big200.json"
    path.write_text(json.dumps(big_layout(200)))
    times = []
    for _ in range(5):
        start = time.perf_counter()
        text, plan = generate(path)
        times.append(time.perf_counter() - start)
    print(f"gen, 200 tasks, in-process: best {min(times) * 1000:.1f} ms "
          f"(first call {times[0] * 1000:.1f} ms incl. imports), {len(text)} bytes")
    import resource

    cli, cpu, bare = [], [], []
    for _ in range(5):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "losscheck", "gen", str(path), "-o", str(tmp / "big_losses.py"), "-q"],
                       check=True)
        cli.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare.append(time.perf_counter() - start)
    print(f"gen, 200 tasks, `python -m losscheck gen` process: wall best {min(cli) * 1000:.1f} ms, "
          f"median {statistics.median(cli) * 1000:.1f} ms; CPU best {min(cpu) * 1000:.1f} ms "
          f"(target < 500 ms; a bare `python -c pass` takes {min(bare) * 1000:.1f} ms wall here)")


# -- training-step comparison -------------------------------------------------------------
NAMED = {
    "version": 1,
    "outputs": [
        {"name": "age", "weight": 0.5, "tasks": [{"name": "years", "type": "regression", "units": 1,
                                                  "loss": {"name": "huber", "delta": 2.0}}]},
        {"name": "gender", "tasks": [{"name": "is_female", "type": "binary", "units": 1}]},
        {"name": "emotion", "weight": 2.0, "tasks": [{"name": "label", "type": "categorical", "units": 7}]},
        {"name": "attributes", "tasks": [{"name": "tags", "type": "multilabel", "units": 5, "from_logits": True,
                                          "loss": {"name": "binary_focal_crossentropy", "alpha": 0.25}}]},
    ],
}
PACKED = {
    "version": 1,
    "outputs": [{"name": "seg", "spatial": [32, 32], "tasks": [
        {"name": "fg", "type": "binary", "units": 1, "from_logits": True},
        {"name": "organ", "type": "categorical", "units": 4, "targets": "sparse", "from_logits": True,
         "ignore_value": -1, "weight": 0.5},
        {"name": "dist", "type": "regression", "units": 2, "when": {"task": "fg", "equals": 1}},
    ]}],
}


def load_module(layout: dict, tmp: Path, stem: str):
    import importlib.util

    from losscheck.cli import main

    path = tmp / f"{stem}.json"
    path.write_text(json.dumps(layout))
    out = tmp / f"{stem}_losses.py"
    assert main(["gen", str(path), "-o", str(out), "-q"]) == 0
    spec = importlib.util.spec_from_file_location(stem, out)
    module = importlib.util.module_from_spec(spec)
    sys.modules[stem] = module  # as an import does: torch.compile looks its globals up there
    spec.loader.exec_module(module)
    return module


def hand_written_packed_loss(nan_safe: bool = False):
    """A careful user's sliced loss for PACKED (correct, per example), with keras.losses.

    ``nan_safe``: also replace masked targets with where() before the loss, as the
    generated code does, so a NaN/inf target there reaches neither value nor gradient: the
    sparse task's index and the regression task's targets (one select each, on y_true only,
    so no gradient). Without it the comparison is not like for like: the regression guard
    costs a select that the plain loss skips.
    """
    import keras
    from keras import ops

    def seg_loss(y_true, y_pred):
        fg_t, fg_p = y_true[..., 0:1], y_pred[..., 0:1]
        organ_t, organ_p = y_true[..., 1], y_pred[..., 1:5]
        dist_t, dist_p = y_true[..., 2:4], y_pred[..., 5:7]
        fg = ops.mean(keras.losses.binary_crossentropy(fg_t, fg_p, from_logits=True), axis=(1, 2))
        keep = ops.not_equal(organ_t, -1.0)
        gate = ops.equal(fg_t[..., 0], 1.0)
        if nan_safe:
            organ_t = ops.where(keep, organ_t, 0.0)
            dist_t = ops.where(gate[..., None], dist_t, 0.0)
        else:
            organ_t = ops.maximum(organ_t, 0.0)  # -1 is not a class: any valid index, masked below
        valid = ops.cast(keep, y_pred.dtype)
        organ_map = keras.losses.sparse_categorical_crossentropy(organ_t, organ_p, from_logits=True)
        organ = ops.sum(organ_map * valid, axis=(1, 2)) / ops.maximum(ops.sum(valid, axis=(1, 2)), 1.0)
        gate = ops.cast(gate, y_pred.dtype)
        dist_map = keras.losses.mean_squared_error(dist_t, dist_p)
        dist = ops.sum(dist_map * gate, axis=(1, 2)) / ops.maximum(ops.sum(gate, axis=(1, 2)), 1.0)
        return fg + 0.5 * organ + dist

    return seg_loss


def builtin_named_losses():
    import keras

    return {
        "age": keras.losses.Huber(delta=2.0),
        "gender": keras.losses.BinaryCrossentropy(),
        "emotion": keras.losses.CategoricalCrossentropy(),
        "attributes": keras.losses.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=0.25, gamma=2.0,
                                                           from_logits=True),
    }


def named_model():
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((64,))
    hidden = keras.layers.Dense(64, activation="relu")(inputs)
    return keras.Model(inputs, {
        "age": keras.layers.Dense(1, name="age")(hidden),
        "gender": keras.layers.Dense(1, activation="sigmoid", name="gender")(hidden),
        "emotion": keras.layers.Dense(7, activation="softmax", name="emotion")(hidden),
        "attributes": keras.layers.Dense(5, name="attributes")(hidden),
    })


def packed_model():
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3))
    hidden = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    return keras.Model(inputs, {"seg": keras.layers.Conv2D(7, 1, name="seg")(hidden)})


def data(kind: str, n: int):
    import numpy as np

    sys.path.insert(0, str(ROOT / "tests"))
    import gen_helpers as H

    rng = np.random.default_rng(0)
    layout = NAMED if kind == "named" else PACKED
    x = rng.normal(size=(n, 64) if kind == "named" else (n, 32, 32, 3)).astype("float32")
    y = {o["name"]: H.make_data(o, n, rng)[0] for o in layout["outputs"]}
    return x, y


def compiled(build, loss, loss_weights, x, y, jit: bool, batch: int):
    """A model compiled with these losses, warmed up (traced and compiled) on two batches."""
    import keras

    model = build()
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss=loss, loss_weights=loss_weights, jit_compile=jit)
    model.fit(x[: batch * 2], {k: v[: batch * 2] for k, v in y.items()}, batch_size=batch, epochs=1, verbose=0)
    return model


def step_time(model, x, y, batch: int) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) per train step over one fit() epoch.

    CPU time counts every TensorFlow thread of this process and not the time other
    processes take the cores from us, so it is the steadier figure on a shared machine.
    """
    steps = len(x) // batch
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)
    return (time.perf_counter() - wall) / steps, (time.process_time() - cpu) / steps


def bench_training(tmp: Path, rounds: int) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    named = load_module(NAMED, tmp, "named")
    packed = load_module(PACKED, tmp, "packed")
    print(f"\nKeras {keras.__version__}, backend {keras.backend.backend()}, CPU; {rounds} interleaved fit() "
          "epochs per model; ratio of the fastest epochs (noise on a shared machine only adds time), median too")
    cases = [
        ("named outputs: generated vs Keras loss={...} built-ins", named_model, "named", 64, 40,
         (named.LOSSES, named.LOSS_WEIGHTS), (builtin_named_losses(), named.LOSS_WEIGHTS)),
        ("packed output: generated vs hand-written sliced loss", packed_model, "packed", 16, 50,
         (packed.LOSSES, packed.LOSS_WEIGHTS), ({"seg": hand_written_packed_loss()}, {"seg": 1.0})),
        ("packed output: generated vs hand-written sliced loss with the same NaN guards", packed_model, "packed",
         16, 50, (packed.LOSSES, packed.LOSS_WEIGHTS), ({"seg": hand_written_packed_loss(True)}, {"seg": 1.0})),
    ]
    for title, build, kind, batch, steps, generated, baseline in cases:
        x, y = data(kind, batch * steps)
        for jit in (False, True):
            gen_model = compiled(build, *generated, x, y, jit, batch)
            base_model = compiled(build, *baseline, x, y, jit, batch)
            gen_t, base_t = [], []
            for _ in range(rounds):  # interleaved so machine noise hits both alike
                gen_t.append(step_time(gen_model, x, y, batch))
                base_t.append(step_time(base_model, x, y, batch))
            for i, what in ((0, "wall"), (1, "CPU")):
                g = [t[i] for t in gen_t]
                b = [t[i] for t in base_t]
                # paired: round i of one model ran right after round i of the other, so the
                # per-round ratio cancels slow drifts in machine load that min/median do not
                paired = statistics.median(x / y for x, y in zip(g, b))
                print(f"{title}, jit_compile={jit}, {what}: generated {min(g) * 1e3:.3f} ms/step "
                      f"(median {statistics.median(g) * 1e3:.3f}), baseline {min(b) * 1e3:.3f} ms/step "
                      f"(median {statistics.median(b) * 1e3:.3f}); ratio of fastest {min(g) / min(b):.3f}, "
                      f"of medians {statistics.median(g) / statistics.median(b):.3f}, "
                      f"median of paired rounds {paired:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gen-only", action="store_true")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench_gen(Path(tmp))
        if not args.gen_only:
            bench_training(Path(tmp), args.rounds)


if __name__ == "__main__":
    main()
