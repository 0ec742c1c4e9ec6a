"""Seed 003's NumPy network (cnnedu/scratch): the coursework's own autograder values, transcribed with the
line of /work/shared/seeds/003_21cfcb5578ce8830.txt they come from, and every gradient against centred
differences and plain PyTorch autograd."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnedu.cli.main import main
from cnnedu.errors import ScratchError
from cnnedu.scratch import check as check_module
from cnnedu.scratch.batchnorm import batchnorm_forward
from cnnedu.scratch.check import LAYERS, check_layer, compare_training
from cnnedu.scratch.conv import (
    conv_backward_im2col,
    conv_backward_naive,
    conv_forward_im2col,
    conv_forward_naive,
)
from cnnedu.scratch.dropout import dropout_backward, dropout_forward
from cnnedu.scratch.gradcheck import eval_numerical_gradient, eval_numerical_gradient_array, rel_error
from cnnedu.scratch.layer_specs import LAYER_SPECS, LayerSpec
from cnnedu.scratch.layers import fc_backward, fc_forward, relu_backward, relu_forward, softmax_loss
from cnnedu.scratch.nets import FullyConnectedNet, TwoLayerNet
from cnnedu.scratch.optim import sgd_momentum, sgd_momentum_torch
from cnnedu.scratch.pool import max_pool_backward, max_pool_forward
from cnnedu.scratch.solver import Solver

rng = np.random.default_rng(228)  # the document seeds NumPy with 228 (line 72); its random draws are its own


# ------------------------------------------------------------------------ the document's autograder


def test_fc_forward_matches_the_documents_correct_out():
    # lines 222-244; "The error should be around e-7 or less" (line 246)
    input_shape, output_dim = (4, 3, 3), 10
    x = np.linspace(-0.2, 0.2, num=np.prod(input_shape)).reshape(1, *input_shape)
    w = np.linspace(-0.1, 0.1, num=output_dim * np.prod(input_shape)).reshape(np.prod(input_shape), output_dim)
    b = np.linspace(-0.2, 0.2, num=output_dim)
    correct_out = [[0.04735376, 0.0917982, 0.13624265, 0.18068709, 0.22513154, 0.26957598, 0.31402043,
                    0.35846487, 0.40290932, 0.44735376]]
    out, _ = fc_forward(x, w, b)
    assert rel_error(out, correct_out) < 1e-7


def test_fc_backward_against_numerical_gradients_with_the_documents_shapes():
    # lines 294-309: x (10, 2, 3), w (6, 5); "The error should be around e-9 or less"
    x, w, b, dout = rng.standard_normal((10, 2, 3)), rng.standard_normal((6, 5)), rng.standard_normal(5), \
        rng.standard_normal((10, 5))
    dx, dw, db = fc_backward(dout, fc_forward(x, w, b)[1])
    assert dx.shape == x.shape
    assert rel_error(eval_numerical_gradient_array(lambda x: fc_forward(x, w, b)[0], x, dout), dx) < 1e-8
    assert rel_error(eval_numerical_gradient_array(lambda w: fc_forward(x, w, b)[0], w, dout), dw) < 1e-8
    assert rel_error(eval_numerical_gradient_array(lambda b: fc_forward(x, w, b)[0], b, dout), db) < 1e-8


def test_relu_forward_matches_the_documents_table_and_backward_its_order():
    # lines 350-362 ("on the order of e-8": the table is printed to 8 digits), 399-410 (e-12)
    x = np.linspace(-0.5, 0.5, num=12).reshape(3, 4)
    correct_out = np.array([[0., 0., 0., 0.], [0., 0., 0.04545455, 0.13636364],
                            [0.22727273, 0.31818182, 0.40909091, 0.5]])
    assert rel_error(relu_forward(x)[0], correct_out) < 1e-7
    x, dout = rng.standard_normal((10, 10)), rng.standard_normal((10, 10))
    dx_num = eval_numerical_gradient_array(lambda x: relu_forward(x)[0], x, dout)
    assert rel_error(dx_num, relu_backward(dout, relu_forward(x)[1])) < 1e-10


def test_softmax_loss_is_log_10_for_tiny_scores_and_its_gradient_checks():
    # lines 473-489: 50 examples, 10 classes, scores 0.001·randn: "Loss should be close to 2.3"
    x, y = 0.001 * rng.standard_normal((50, 10)), rng.integers(10, size=50)
    loss, dx = softmax_loss(x, y)
    assert abs(loss - np.log(10)) < 5e-3
    assert loss == pytest.approx(F.cross_entropy(torch.from_numpy(x), torch.from_numpy(y)).item(), abs=1e-14)
    assert rel_error(eval_numerical_gradient(lambda x: softmax_loss(x, y)[0], x, verbose=False), dx) < 1e-7


def test_two_layer_net_reproduces_the_documents_scores_and_losses():
    # lines 659-713
    N, D, H, C = 3, 5, 50, 7
    std = 1e-3
    model = TwoLayerNet(input_dim=D, hidden_dim=H, num_classes=C, weight_scale=std, seed=0)
    assert abs(model.params["W1"].std() - std) < std / 10 and abs(model.params["W2"].std() - std) < std / 10
    assert np.all(model.params["b1"] == 0) and np.all(model.params["b2"] == 0)
    model.params["W1"] = np.linspace(-0.7, 0.3, num=D * H).reshape(D, H)
    model.params["b1"] = np.linspace(-0.1, 0.9, num=H)
    model.params["W2"] = np.linspace(-0.3, 0.4, num=H * C).reshape(H, C)
    model.params["b2"] = np.linspace(-0.9, 0.1, num=C)
    X = np.linspace(-5.5, 4.5, num=N * D).reshape(D, N).T
    # lines 684-686; the document's lines are cut after the 6th of the 7 columns
    correct_scores = np.asarray([[11.53165108, 12.2917344, 13.05181771, 13.81190102, 14.57198434, 15.33206765],
                                 [12.05769098, 12.74614105, 13.43459113, 14.1230412, 14.81149128, 15.49994135],
                                 [12.58373087, 13.20054771, 13.81736455, 14.43418138, 15.05099822, 15.66781506]])
    assert np.abs(model.loss(X)[:, :6] - correct_scores).sum() < 1e-6
    y = np.asarray([0, 5, 1])
    assert abs(model.loss(X, y)[0] - 3.4702243556) < 1e-10
    model.reg = 1.0
    assert abs(model.loss(X, y)[0] - 26.5948426952) < 1e-10
    for reg in [0.0, 0.7]:  # "Errors should be around e-7 or less"; the document printed up to 2.53e-7
        model.reg = reg
        _, grads = model.loss(X, y)
        for name in sorted(grads):
            num = eval_numerical_gradient(lambda _: model.loss(X, y)[0], model.params[name], verbose=False)
            assert rel_error(num, grads[name]) < 1e-6, name
    # nets.py's note: the document's solution has no ReLU yet passes, since these pre-activations are > 0
    assert np.all(X @ model.params["W1"] + model.params["b1"] > 0)


def test_two_layer_net_has_its_relu_as_torch_does():
    model = TwoLayerNet(input_dim=6, hidden_dim=8, num_classes=3, weight_scale=1.0, seed=1)
    X = rng.standard_normal((4, 6))
    p = {k: torch.from_numpy(v) for k, v in model.params.items()}
    expected = torch.relu(torch.from_numpy(X) @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]
    assert np.allclose(model.loss(X), expected.numpy(), rtol=0, atol=1e-12)
    assert not np.allclose(model.loss(X), X @ model.params["W1"] @ model.params["W2"], atol=1e-3)


@pytest.mark.parametrize("reg", [0, 3.14])
def test_fully_connected_net_initial_loss_and_gradients(reg):
    # lines 1004-1049: N, D, H1, H2, C = 2, 15, 20, 30, 10, weight_scale 5e-2; with small weights the data
    # loss is ≈ log 10 (the document's 2.3004 with reg 0); "most of the errors should be on the order of
    # 1e-7 or smaller" (W2 up to 1e-5 is fine)
    N, D, H1, H2, C = 2, 15, 20, 30, 10
    X, y = rng.standard_normal((N, D)), rng.integers(C, size=N)
    model = FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, reg=reg, weight_scale=5e-2, seed=3)
    loss, grads = model.loss(X, y)
    l2 = 0.5 * reg * sum((model.params[f"W{i}"] ** 2).sum() for i in (1, 2, 3))
    assert abs(loss - l2 - np.log(C)) < 0.05
    for name in sorted(grads):
        num = eval_numerical_gradient(lambda _: model.loss(X, y)[0], model.params[name], verbose=False)
        assert rel_error(num, grads[name]) < 1e-5, name


def test_fully_connected_net_with_batchnorm_and_dropout_gradient_checks():
    X, y = rng.standard_normal((5, 6)), rng.integers(3, size=5)
    model = FullyConnectedNet([7, 4], input_dim=6, num_classes=3, dropout_keep_ratio=0.7,
                              normalization="batchnorm", reg=0.1, weight_scale=0.5, seed=4)
    assert {"gamma1", "beta1", "gamma2", "beta2"} <= set(model.params) and "gamma3" not in model.params
    _, grads = model.loss(X, y)
    for name in sorted(grads):
        num = eval_numerical_gradient(lambda _: model.loss(X, y)[0], model.params[name], verbose=False)
        assert rel_error(num, grads[name]) < 1e-6, name


def test_sgd_momentum_matches_the_documents_expected_arrays():
    # lines 1106-1127: "You should see errors less than 1e-8"
    N, D = 4, 5
    w = np.linspace(-0.4, 0.6, num=N * D).reshape(N, D)
    dw = np.linspace(-0.6, 0.4, num=N * D).reshape(N, D)
    v = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    config = {"learning_rate": 1e-3, "velocity": v}
    next_w, _ = sgd_momentum(w, dw, config=config)
    expected_next_w = np.asarray([
        [0.1406, 0.20738947, 0.27417895, 0.34096842, 0.40775789],
        [0.47454737, 0.54133684, 0.60812632, 0.67491579, 0.74170526],
        [0.80849474, 0.87528421, 0.94207368, 1.00886316, 1.07565263],
        [1.14244211, 1.20923158, 1.27602105, 1.34281053, 1.4096]])
    expected_velocity = np.asarray([
        [0.5406, 0.55475789, 0.56891579, 0.58307368, 0.59723158],
        [0.61138947, 0.62554737, 0.63970526, 0.65386316, 0.66802105],
        [0.68217895, 0.69633684, 0.71049474, 0.72465263, 0.73881053],
        [0.75296842, 0.76712632, 0.78128421, 0.79544211, 0.8096]])
    assert rel_error(next_w, expected_next_w) < 1e-8
    assert rel_error(expected_velocity, config["velocity"]) < 1e-8


def _torch_sgd_path(w0, grad_fn, lrs, momentum):
    w = torch.tensor(w0, requires_grad=True)
    opt = torch.optim.SGD([w], lr=lrs[0], momentum=momentum)
    path = []
    for lr in lrs:
        opt.param_groups[0]["lr"] = lr
        opt.zero_grad()
        w.grad = torch.from_numpy(grad_fn(w.detach().numpy()))
        opt.step()
        path.append(w.detach().numpy().copy())
    return path


def test_the_two_momentum_conventions_agree_for_a_constant_lr_and_differ_when_it_changes():
    w0, grad = np.array([1.0, -2.0, 3.0]), lambda w: np.array([2.0, 1.0, 4.0]) * w  # a quadratic bowl
    for lrs, same in (([0.1] * 6, True), ([0.1] * 3 + [0.01] * 3, False)):
        torch_path = _torch_sgd_path(w0, grad, lrs, 0.9)
        ours, theirs = w0.copy(), w0.copy()
        c1, c2 = {"momentum": 0.9}, {"momentum": 0.9}
        for step, lr in enumerate(lrs):
            c1["learning_rate"] = c2["learning_rate"] = lr
            ours, c1 = sgd_momentum(ours, grad(ours), c1)
            theirs, c2 = sgd_momentum_torch(theirs, grad(theirs), c2)
            assert np.allclose(theirs, torch_path[step], rtol=0, atol=1e-12)  # PyTorch's rule, exactly
        assert np.allclose(ours, torch_path[-1], rtol=0, atol=1e-12) == same


# --------------------------------------------------------------------- every layer against torch


@pytest.mark.parametrize("layer", list(LAYERS))
def test_every_layer_agrees_with_numerical_and_torch_gradients(layer):
    result = check_layer(layer, size=5, seed=1)
    assert result.ok and result.grads
    for g in result.grads:
        assert g.error_torch <= 1e-7 and g.error_numeric <= 1e-7, (g.name, g.verdict)
        assert g.shape == result.inputs[g.name].shape == g.analytic.shape == g.torch.shape
        assert g.verdict.startswith("agrees")
    if layer == "dropout":  # the mask is fixed: about half the gradient is exactly zero, and torch agrees
        assert 0 < np.mean(result.grads[0].analytic == 0) < 1


def test_a_wrong_backward_pass_is_caught_by_torch(monkeypatch):
    relu = LAYER_SPECS["relu"]
    broken = LayerSpec(relu.description, relu.make, relu.forward, lambda d, cache: {"x": d}, relu.torch_op,
                       kinks=True)  # forgets the mask: passes the gradient everywhere
    monkeypatch.setitem(LAYER_SPECS, "relu", broken)
    result = check_layer("relu", batch=4, size=8)
    assert not result.ok
    assert "does not agree with torch" in result.grads[0].verdict and "bug" in result.grads[0].verdict


@pytest.mark.parametrize("layer", ["softmax_loss", "batchnorm"])
def test_the_numerical_check_gets_worse_as_h_grows(layer):
    errors = [max(g.error_numeric for g in check_layer(layer, h=h).grads) for h in (1e-5, 1e-3, 1e-1)]
    assert errors[0] < errors[1] < errors[2] and errors[0] < 1e-8 < 1e-5 < errors[2]
    big = check_layer(layer, h=1e-1)
    assert not big.ok and "too large" in big.grads[0].verdict and "torch agrees" in big.grads[0].verdict


def test_conv_naive_and_im2col_with_stride_and_pad_against_torch():
    x, w, b = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
    dout = None
    for stride, pad in ((2, 1), (1, 0), (3, 2)):
        param = {"stride": stride, "pad": pad}
        xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        out_t = F.conv2d(xt, wt, bt, stride=stride, padding=pad)
        dout = rng.standard_normal(out_t.shape)
        out_t.backward(torch.from_numpy(dout))
        for forward, backward in ((conv_forward_naive, conv_backward_naive),
                                  (conv_forward_im2col, conv_backward_im2col)):
            out, cache = forward(x, w, b, param)
            assert rel_error(out, out_t.detach().numpy()) < 1e-12
            for ours, theirs in zip(backward(dout, cache), (xt.grad, wt.grad, bt.grad)):
                assert rel_error(ours, theirs.numpy()) < 1e-10


def test_max_pool_with_overlapping_windows_and_an_odd_size_against_torch():
    x = rng.standard_normal((2, 3, 7, 7))
    xt = torch.tensor(x, requires_grad=True)
    out_t = F.max_pool2d(xt, (3, 2), stride=1)  # overlapping windows: their gradients add up
    dout = rng.standard_normal(out_t.shape)
    out_t.backward(torch.from_numpy(dout))
    out, cache = max_pool_forward(x, {"pool_height": 3, "pool_width": 2, "stride": 1})
    assert out.shape == out_t.shape and rel_error(out, out_t.detach().numpy()) < 1e-12
    assert rel_error(max_pool_backward(dout, cache), xt.grad.numpy()) < 1e-12


def test_batchnorm_running_averages_and_test_mode_against_torch():
    x, gamma, beta = 2 * rng.standard_normal((6, 4)) + 3, rng.standard_normal(4), rng.standard_normal(4)
    bn_param = {"mode": "train", "momentum": 0.9}
    mean_t, var_t = torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64)
    bn_param["running_var"] = np.ones(4)
    for _ in range(3):
        batchnorm_forward(x, gamma, beta, bn_param)
        F.batch_norm(torch.from_numpy(x), mean_t, var_t, training=True, momentum=1 - 0.9)  # torch's m = 1 − ours
    assert np.allclose(bn_param["running_mean"], mean_t.numpy(), atol=1e-12)
    assert not np.allclose(bn_param["running_var"], var_t.numpy())  # torch keeps the unbiased variance
    bn_param["mode"] = "test"
    out, _ = batchnorm_forward(x, gamma, beta, bn_param)
    expected = F.batch_norm(torch.from_numpy(x), torch.from_numpy(bn_param["running_mean"]),
                            torch.from_numpy(bn_param["running_var"]), torch.from_numpy(gamma),
                            torch.from_numpy(beta), training=False)
    assert rel_error(out, expected.numpy()) < 1e-12


def test_inverted_dropout_keeps_p_of_the_units_and_the_expected_value():
    x = np.ones((200, 500))
    out, cache = dropout_forward(x, {"mode": "train", "p": 0.3, "seed": 5})
    assert abs(np.mean(out > 0) - 0.3) < 0.01 and abs(out.mean() - 1.0) < 0.02  # kept ones are 1/0.3
    again, _ = dropout_forward(x, {"mode": "train", "p": 0.3, "seed": 5})
    assert np.array_equal(out, again)
    assert np.array_equal(dropout_backward(x, cache) > 0, out > 0)
    assert np.array_equal(dropout_forward(x, {"mode": "test", "p": 0.3})[0], x)


# ------------------------------------------------------------------------- training, NumPy vs torch


def _blobs(n=120, d=6, classes=3, seed=7):
    r = np.random.default_rng(seed)
    y = r.integers(classes, size=n)
    return r.standard_normal((classes, d))[y] * 3 + r.standard_normal((n, d)), y


def test_solver_learns_separable_blobs_decays_lr_and_reports_progress():
    X, y = _blobs()
    data = {"X_train": X[:90], "y_train": y[:90], "X_val": X[90:], "y_val": y[90:]}
    model = FullyConnectedNet([16], input_dim=6, num_classes=3, weight_scale=0.1, seed=0)
    seen = []
    solver = Solver(model, data, update_rule=sgd_momentum, optim_config={"learning_rate": 0.05, "momentum": 0.9},
                    lr_decay=0.5, batch_size=30, num_epochs=4, on_iteration=lambda i, n, loss: seen.append((i, n)))
    solver.train()
    assert seen == [(i, 12) for i in range(1, 13)] and len(solver.loss_history) == 12
    assert solver.loss_history[-1] < solver.loss_history[0]
    assert max(solver.val_acc_history) >= 90 and solver.best_val_acc == max(solver.val_acc_history)
    assert solver.optim_configs["W1"]["learning_rate"] == pytest.approx(0.05 * 0.5**4)
    model.params.update(solver.best_params)
    assert np.mean(np.argmax(model.loss(data["X_val"]), 1) == data["y_val"]) * 100 == solver.best_val_acc


def test_compare_training_numpy_and_torch_agree_step_by_step():
    X, y = _blobs(n=60)
    steps = []
    result = compare_training(X, y, [10, 8], num_classes=3, epochs=2, batch_size=16, lr=0.1, reg=0.01,
                              weight_scale=0.1, seed=2, on_step=lambda *a: steps.append(a))
    assert result.steps == list(range(1, 9)) and len(steps) == 8 and steps[-1][:2] == (8, 8)
    assert result.max_difference <= 1e-6
    assert result.max_difference == max(abs(a - b) for a, b in zip(result.numpy_loss, result.torch_loss))
    assert result.numpy_loss[-1] < result.numpy_loss[0]


def test_compare_training_full_batch_matches_an_independent_torch_loop():
    # one batch of all examples: every step's loss is independent of the order, so a plain torch loop
    # started from the same weights must see the same losses
    X, y = _blobs(n=40, classes=4)
    result = compare_training(X, y, [12], num_classes=4, epochs=5, batch_size=40, lr=0.5, weight_scale=1e-3, seed=3)
    assert abs(result.numpy_loss[0] - np.log(4)) < 1e-3  # tiny weights: uniform scores
    start = FullyConnectedNet([12], input_dim=6, num_classes=4, weight_scale=1e-3, seed=3).params
    p = {k: torch.tensor(v, requires_grad=True) for k, v in start.items()}
    xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    for step in range(5):
        loss = F.cross_entropy(torch.relu(xt @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"], yt)
        loss.backward()
        assert result.torch_loss[step] == pytest.approx(loss.item(), abs=1e-12)
        assert result.numpy_loss[step] == pytest.approx(loss.item(), abs=1e-12)
        with torch.no_grad():
            for t in p.values():
                t -= 0.5 * t.grad
                t.grad = None


# ------------------------------------------------------------------------ bad arguments, the CLI


@pytest.mark.parametrize("kwargs, words", [
    ({"layer": "convolution"}, "choose one of: affine"),
    ({"layer": "relu", "size": 0}, "size must be a whole number from 1 to 16"),
    ({"layer": "relu", "size": 17}, "from 1 to 16"),
    ({"layer": "conv_naive", "size": 9}, "conv_im2col checks up to 16"),
    ({"layer": "relu", "batch": 9}, "batch must be a whole number from 1 to 8"),
    ({"layer": "batchnorm", "batch": 2}, "x̂ = ±1"),
    ({"layer": "relu", "h": 0.0}, "between 0 and 1"),
    ({"layer": "relu", "h": 1.0}, "between 0 and 1"),
    ({"layer": "relu", "h": float("nan")}, "use h = 1e-5"),
])
def test_bad_check_arguments_get_a_readable_error(kwargs, words):
    layer = kwargs.pop("layer")
    with pytest.raises(ScratchError, match="(?i)" + words.replace("(", r"\(").replace("+", r"\+")):
        check_layer(layer, **kwargs)


@pytest.mark.parametrize("change, words", [
    ({"y": np.array([0, 1, 5, 0])}, "labels 0 … num_classes − 1"),
    ({"hidden_dims": []}, "1 to 8 hidden layer sizes"),
    ({"hidden_dims": [5000]}, "from 1 to 1024"),
    ({"batch_size": 5}, "batch_size must be a whole number from 1 to 4"),
    ({"lr": -1.0}, "lr must be a number above 0"),
    ({"X": np.full((4, 3), np.nan)}, "NaN"),
])
def test_bad_training_comparison_arguments_get_a_readable_error(change, words):
    args = {"X": np.zeros((4, 3)), "y": np.array([0, 1, 2, 0]), "hidden_dims": [5], "num_classes": 3,
            "batch_size": 2, **change}
    with pytest.raises(ScratchError, match=words.replace("(", r"\(")):
        compare_training(args.pop("X"), args.pop("y"), args.pop("hidden_dims"), **args)


def test_cli_gradcheck_table_json_and_exit_codes(capsys):
    assert main(["gradcheck"]) == 0
    table = capsys.readouterr().out
    assert all(layer in table for layer in LAYERS) and "all gradients agree." in table
    assert main(["gradcheck", "softmax_loss", "--h", "0.1"]) == 1
    assert "h = 0.1 is too large" in capsys.readouterr().out
    out = subprocess.run([sys.executable, "-m", "cnnedu", "gradcheck", "batchnorm", "--json"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    [data] = json.loads(out.stdout)
    assert data["ok"] and [g["name"] for g in data["grads"]] == ["x", "gamma", "beta"]
    assert all(g["error_torch"] <= 1e-7 for g in data["grads"])
    assert main(["gradcheck", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no layer 'nope'" in err and "choose one of: affine" in err.lower()


def test_layers_describe_themselves():
    assert list(LAYERS) == ["affine", "relu", "softmax_loss", "conv_naive", "conv_im2col", "max_pool",
                            "batchnorm", "dropout"]
    assert check_module.LAYERS is LAYERS and all(isinstance(v, str) and v for v in LAYERS.values())
