"""Every experiment of the five coursework documents, as data (``EXPERIMENTS``).

An ``Experiment`` is a base ``TrainConfig`` (``base``: the document's own set-up), the one setting that
varies (``vary``) and its values, the numbers the document reports for each value, and two short texts:
what the document concluded and what is actually known to be true. ``configs(scale)`` gives the runs:
the same seed and every other setting, at the document's scale or at a classroom scale (``classroom``:
fewer epochs and images, said in ``classroom_note``) that finishes on a 2-core CPU in a few minutes.

``vary`` is one ``TrainConfig`` field ("arch" too); a few experiments change several fields together
(seed 000's "normalization + augmentation"): then ``vary`` names them joined by "+" and each value is a
dict of those fields.
"""

from __future__ import annotations

import difflib

from cnnedu.errors import CnnEduError
from cnnedu.experiments.experiment import SCALES, Experiment

__all__ = ["EXPERIMENTS", "SCALES", "Experiment", "by_document", "get"]

S000 = "Seed 000: LeNet on CIFAR-10"
S001 = "Seed 001: LeNet5 on CIFAR-10"
S002 = "Seed 002: CNNs on MNIST and Fashion-MNIST"
S003 = "Seed 003: eye gaze, fully connected vs CNN"
S004 = "Seed 004: ResNet blocks on CIFAR-10"


def _lenet5_logits(dropout: bool = False) -> dict:
    """Seed 001's LeNet5 as its loss saw it: ``y_hat, _ = model(X)`` are the logits, so the preset's final
    Softmax is left out (argmax, hence accuracy, is the same)."""
    from cnnedu.arch.zoo import preset_spec

    spec = preset_spec("lenet5-cifar10-dropout" if dropout else "lenet5-cifar10").to_dict()
    spec["layers"] = [layer for layer in spec["layers"] if layer["type"] != "Softmax"]
    spec["name"] = "lenet5-logits" + ("-dropout" if dropout else "")
    return spec


def _gaze_fc(hidden: list[int]) -> dict:
    from cnnedu.arch.zoo import preset_spec

    spec = preset_spec("gaze-fc-deep", hidden=hidden).to_dict()
    spec["name"] = "gaze-fc-" + "-".join(map(str, hidden))
    return spec



# ----------------------------------------------------------------- the documents' set-ups and scales

#: 000 Task 1.3: SGD lr 0.001 momentum 0.9, batch 16, 10 epochs, cross-entropy, ToTensor only.
_B000 = dict(arch="lenet-cifar10", dataset="cifar10", optimizer="sgd", lr=0.001, momentum=0.9, batch_size=16,
             epochs=10, normalize=False, norm_stats="half")
#: 000 Task 1.4's transform: flip, crop with padding 4, Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)).
_AUG000 = dict(normalize=True, flip=0.5, crop=4)
_CIFAR_CLASS = dict(epochs=2, n_train=2000, n_test=1000)
_CIFAR_NOTE = "2 epochs on 2,000 training and 1,000 test images instead of {epochs} epochs on 50,000 and 10,000"
#: 001: LeNet5 (its logits), the first half by index, batch 10, plain SGD at 0.001, 15 epochs.
_B001 = dict(arch=_lenet5_logits(), dataset="cifar10", subset="even", batch_size=10, optimizer="sgd", lr=0.001,
             momentum=0.0, epochs=15, normalize=False, norm_stats="identity")
_CLASS001 = dict(epochs=2, n_train=4000, n_test=1000)
_NOTE001 = ("2 epochs on 2,000 training images (the even half of 4,000) and 1,000 test images instead of 15 "
            "epochs on 25,000 and 10,000")
#: 002: SGD lr 0.001 momentum 0.9 weight decay 0.04, batch 64, 1 epoch, MNIST's 0.1307 / 0.3081.
_B002 = dict(arch="mnist-cnn", dataset="mnist", optimizer="sgd", lr=0.001, momentum=0.9, weight_decay=0.04,
             batch_size=64, epochs=1, normalize=True, norm_stats="mnist")
_CLASS002 = dict(epochs=2, n_train=5000, n_test=2000)
_NOTE002 = "2 epochs on 5,000 training and 2,000 test images instead of 1 epoch on 60,000 and 10,000"
#: 003: the eye-gaze images, batch 256.
_B003 = dict(dataset="gaze-synthetic", optimizer="sgd", batch_size=256, normalize=True)
_CLASS003 = dict(n_train=3000, n_test=1000)
_NOTE003 = "3,000 training and 1,000 test images of the synthetic eye pairs"
#: 004 6.d: SGD lr 0.01, weight decay 1e-4, momentum 0.9, the rate cut by 10 every 100 epochs; 6.b's
#: augmentation (pad, flip, crop); batch 128.
_B004 = dict(arch="resnet-cifar10", dataset="cifar10", optimizer="sgd", lr=0.01, weight_decay=1e-4, momentum=0.9,
             scheduler="step", step_size=100, gamma=0.1, epochs=200, batch_size=128, flip=0.5, crop=4)
_CLASS004 = dict(epochs=2, step_size=1, n_train=600, n_test=400, batch_size=32)
_NOTE004 = ("2 epochs on 600 training and 400 test images in batches of 32, the rate cut by 10 after epoch 1, "
            "instead of 200 epochs on 50,000 and 10,000 in batches of 128 with the cut every 100 epochs")

_ONE_RUN = " One run per value cannot tell a point or two from seed noise: launch it with several seeds."

DEFINITIONS = [
    Experiment(
        "000-preprocessing", "000", S000, "Tasks 1.3-1.4", "Normalization and augmentation",
        "Does normalizing the inputs help LeNet on CIFAR-10, and does random flipping and cropping help "
        "further?",
        "normalize+flip+crop",
        ({"normalize": False, "flip": 0.0, "crop": 0}, {"normalize": True, "flip": 0.0, "crop": 0}, _AUG000),
        ("ToTensor only (baseline)", "normalized (0.5, 0.5)", "normalized + flip + crop"),
        (58.14, 61.72, 57.08),
        "Normalization is about 3% better than the baseline; normalization with augmentation about 1% worse.",
        "The document's load_data gives its test set the same random flip and crop as the training set, so it "
        "measured on altered test images (cnnedu never augments test images). Augmentation makes the training "
        "task harder: in 10 epochs of a small LeNet it often costs accuracy; it pays off against overfitting "
        "on longer runs." + _ONE_RUN,
        _B000, _CIFAR_CLASS, _CIFAR_NOTE.format(epochs=10)),
    Experiment(
        "000-learning-rate", "000", S000, "Task 1.5", "The learning-rate sweep",
        "Which learning rate is too high, which too low, and which is about right for LeNet with SGD and "
        "momentum?",
        "lr", (0.1, 0.01, 0.001, 0.0001), ("0.1", "0.01", "0.001", "0.0001"), (10.00, 51.34, 57.08, 32.60),
        "A low rate is reliable but slow — '0.1 → 10%'; a high rate may overshoot and not converge — "
        "'0.0001 → 32.60%'. The best of the four is 0.001 (57.08%).",
        "The examples are swapped: 0.1 is the rate that is too HIGH (the weights blow up, the network is stuck "
        "at chance, 10%) and 0.0001 the one too LOW (after 10 epochs it has barely moved: 32.60%). The "
        "explanations themselves are right.",
        {**_B000, **_AUG000}, _CIFAR_CLASS, _CIFAR_NOTE.format(epochs=10)),
    Experiment(
        "000-batchnorm", "000", S000, "Task 1.6", "LeNet with and without BatchNorm",
        "What does a BatchNorm layer after each convolution change for LeNet?",
        "arch", ("lenet-cifar10", "lenet-cifar10-bn"), ("LeNet", "LeNet + BatchNorm"), (58.14, 56.33),
        "BatchNorm is a little worse (56.33% against 58.14%) but should reduce overfitting because it has a "
        "slight regularization effect.",
        "BatchNorm's main effect is on optimization: it keeps the activations in range, so a network can train "
        "with larger learning rates. At lr 0.001 with momentum the 1.8-point difference is within what "
        "another seed gives; one run each cannot show BatchNorm is worse." + _ONE_RUN,
        _B000, _CIFAR_CLASS, _CIFAR_NOTE.format(epochs=10)),
    Experiment(
        "000-mobilenet", "000", S000, "Task 1.7", "MobileNet beside LeNet",
        "How does MobileNet v1 (depthwise-separable blocks) compare with LeNet after 5 epochs, and is it "
        "really too much for a CPU?",
        "arch", ("lenet-cifar10", "mobilenet-cifar10"), ("LeNet", "MobileNet v1"), (None, None),
        "Not enough computing power to calculate and get some results.",
        "MobileNet needs far fewer multiply-adds than ordinary convolutions of its width, but it is still "
        "hundreds of times LeNet's work per image: on a CPU 5 epochs on 50,000 images take hours, which is "
        "why the classroom scale trains it on fewer images. The document reports no number for either "
        "network at 5 epochs (its LeNet numbers are for 10).",
        {**_B000, **_AUG000, "epochs": 5}, dict(epochs=1, n_train=1000, n_test=500),
        "1 epoch on 1,000 training and 500 test images instead of 5 epochs on 50,000 and 10,000"),
    Experiment(
        "001-augment-normalize", "001", S001, "Exercise 1", "Augmentation only, normalization only, both",
        "What do random flips and crops, and normalization, change for LeNet5 on half of CIFAR-10?",
        "flip+crop+normalize",
        ({"flip": 0.5, "crop": 4, "normalize": False}, {"flip": 0.0, "crop": 0, "normalize": True},
         {"flip": 0.5, "crop": 4, "normalize": True}),
        ("augmentation only", "normalization only", "both"), (None, None, None),
        "Data augmentation strengthens the model and prevents over-fitting (graphs only, no numbers).",
        "The document's Normalize([0, 0, 0], [1, 1, 1]) subtracts 0 and divides by 1: it changes nothing, so "
        "'normalization only' is the plain baseline and 'both' is augmentation only (the table shows the "
        "measured mean and std that would normalize). Trained here with cross-entropy: see 001-loss.",
        _B001, _CLASS001, _NOTE001),
    Experiment(
        "001-dropout", "001", S001, "Exercise 2", "Dropout 25%",
        "Do two dropout layers at 25% make LeNet5 generalize better?",
        "arch", (_lenet5_logits(), _lenet5_logits(dropout=True)), ("no dropout", "dropout 25%"), (None, None),
        "Two dropout layers at 25% prevent the model from overfitting: training accuracy is lower but "
        "validation accuracy improves (graphs only).",
        "Dropout reduces overfitting only when there is overfitting to reduce: LeNet5 on half of CIFAR-10 for "
        "a few epochs hardly overfits, so dropout mostly slows training; its benefit shows on long runs, when "
        "the training accuracy is well above the test accuracy.",
        _B001, _CLASS001, _NOTE001),
    Experiment(
        "001-optimizers", "001", S001, "Exercise 3", "SGD and Adam at 0.001 and 0.01",
        "How do plain SGD and Adam compare at two learning rates?",
        "optimizer+lr",
        ({"optimizer": "sgd", "lr": 0.001}, {"optimizer": "sgd", "lr": 0.01}, {"optimizer": "adam", "lr": 0.001},
         {"optimizer": "adam", "lr": 0.01}),
        ("SGD 0.001", "SGD 0.01", "Adam 0.001", "Adam 0.01"), (17.2, 48.49, 50.5, 10.0),
        "Changes the optimizer and learning rate 'to observe the results'; the logs stop after 11, 10, 8 and "
        "7 of the 15 epochs (the last test accuracy printed is shown).",
        "Plain SGD at 0.001 crawls (17% after 11 epochs): tiny steps and no momentum. Adam at 0.01 is stuck at "
        "10% with a loss of 2.305 ≈ ln 10: its outputs became constant (the rate is too high for Adam). The "
        "logged losses start at 2.30 = ln 10, a cross-entropy value, although the text says L1Loss.",
        _B001, _CLASS001, _NOTE001),
    Experiment(
        "001-loss", "001", S001, "Exercise 3", "L1Loss on class indices against cross-entropy",
        "What does training with nn.L1Loss on the class indices, as the document's code does, give compared "
        "with cross-entropy?",
        "loss", ("l1_index", "cross_entropy"), ("L1Loss on class indices (as written)", "cross-entropy"),
        (17.2, None),
        "The loss used is L1Loss, the mean absolute error between the output and the target (SGD 0.001: 10% "
        "to 17.2% after 11 epochs).",
        "L1Loss()(logits, labels) with logits [10, 10] and labels [10] only runs because the batch size 10 "
        "equals the number of classes: torch broadcasts the labels along the rows, so output j of every image "
        "is pulled towards the label of image j of the batch, not towards its own class. It is not a "
        "classification loss and stays near chance. The document's logged losses (2.3061 at epoch 0 ≈ ln 10) "
        "are what cross-entropy gives, not L1 (about 4.5 for outputs near 0): its 17.2% most likely comes "
        "from a cross-entropy run.",
        _B001, _CLASS001, _NOTE001),
    Experiment(
        "001-half-split", "001", S001, "set-up", "The even half against the odd half",
        "Does it matter which half of the training set (even or odd indices) the network learns from?",
        "subset", ("even", "odd"), ("even indices", "odd indices"), (None, None),
        "Splits the training set into two halves by index and trains on the first (batch size 10).",
        "CIFAR-10's training images are in no particular order, so the two halves are equally good and their "
        "accuracies differ only by seed noise. Halves by index would be biased for a dataset sorted by class.",
        _B001, _CLASS001, _NOTE001),
    Experiment(
        "001-batch-size", "001", S001, "set-up", "Batch size 10 against 64",
        "What does the document's batch size of 10 change against the usual 64, at the same learning rate?",
        "batch_size", (10, 64), ("10", "64"), (None, None),
        "Keeps the batch size at 10.",
        "Batch size 10 takes 6.4 times as many steps per epoch as 64: each epoch moves the weights further at "
        "the same learning rate (so plain SGD at 0.001 learns more per epoch), but a CPU processes the images "
        "more slowly in small batches.",
        {**_B001, "loss": "cross_entropy"}, _CLASS001, _NOTE001),
    Experiment(
        "002-learning-rate", "002", S002, "Part 1 a) i", "Learning rate too large or too small",
        "What happens to the default CNN on MNIST when the learning rate is too large or too small?",
        "lr", (0.1, 0.01, 0.001, 0.0001), ("0.1", "0.01", "0.001 (the document's)", "0.0001"),
        (None, None, None, None),
        "Too small: the loss changes slowly and takes long to converge, 'so it is easy to produce "
        "over-fitting'; too large: gradient descent can overshoot the minimum and fail to converge or diverge.",
        "Right, except that a too-small rate does not cause overfitting: it underfits (the network is still "
        "near its starting weights). With momentum 0.9 the effective step is about 10 times the rate.",
        _B002, _CLASS002, _NOTE002),
    Experiment(
        "002-weight-decay", "002", S002, "Part 1 a) ii", "Weight decay too large or too small",
        "What happens when the L2 penalty (weight decay) is too large or too small?",
        "weight_decay", (0.0, 0.0005, 0.04, 0.5), ("0", "0.0005", "0.04 (the document's)", "0.5"),
        (None, None, None, None),
        "Weight decay adjusts how much the model's complexity counts in the loss, to prevent overfitting; a "
        "large weight decay makes a complex model's loss large.",
        "Too small: no effect on a short run (overfitting on long ones). Too large: the penalty dominates, the "
        "weights shrink towards 0 and the network underfits, down to chance. The document's 0.04 is already "
        "large for SGD (1e-4 to 5e-4 is usual).",
        _B002, _CLASS002, _NOTE002),
    Experiment(
        "002-architectures", "002", S002, "Part 1 b)-d)", "CNN against CNN2 against CNN3 on Fashion-MNIST",
        "How much do a wider network (CNN2) and BatchNorm with dropout (CNN3) gain over the default CNN on "
        "Fashion-MNIST?",
        "arch", ("mnist-cnn", "mnist-cnn2", "fashion-cnn3"), ("CNN", "CNN2", "CNN3"), (None, None, 87.11),
        "CNN3's BatchNorm, modified max-pool and dropout improve the accuracy by 3% over CNN2 (only CNN3's "
        "87% is shown: 8711/10000).",
        "Only CNN3's number is printed; the 3% has no CNN2 number beside it. Here all three share the seed, the "
        "data and every setting, so the table measures the claim.",
        {**_B002, "dataset": "fashion-mnist"}, _CLASS002, _NOTE002),
    Experiment(
        "002-norm-stats", "002", S002, "Part 1 c)", "Fashion-MNIST's own mean and std against MNIST's",
        "Does normalizing Fashion-MNIST with its own measured mean and std, as the task asks, beat MNIST's "
        "0.1307 / 0.3081 that the code uses?",
        "norm_stats", ("mnist", "measured"), ("MNIST's 0.1307 / 0.3081 (as written)", "measured on Fashion-MNIST"),
        (87.11, None),
        "Task c) asks to estimate the dataset's mean and standard deviation and normalize with them; the code "
        "normalizes with MNIST's 0.1307 / 0.3081 and reaches 87% with CNN3.",
        "The task was not done: the constants are MNIST's. Fashion-MNIST's own are about 0.29 and 0.35 (the "
        "table shows the measured values), so its inputs were off-centre by about half a standard deviation, "
        "which a BatchNorm network such as CNN3 largely absorbs.",
        {**_B002, "dataset": "fashion-mnist", "arch": "fashion-cnn3"}, _CLASS002, _NOTE002),
    Experiment(
        "003-momentum", "003", S003, "Task 1.9", "SGD against SGD + momentum",
        "How much faster does a fully connected network [256, 128, 64] learn with momentum 0.9 than with plain "
        "SGD?",
        "momentum", (0.0, 0.9), ("SGD", "SGD + momentum 0.9"), (33.38, 59.17),
        "Stochastic gradient descent with momentum tends to make deep networks converge faster than vanilla "
        "SGD (validation accuracy after 5 epochs: 33.38% against 59.17%).",
        "Right: along a steady gradient direction momentum 0.9 makes the step about 10 times larger. The "
        "document's numbers are validation accuracies of its own NumPy network; the table shows test "
        "accuracy.",
        {**_B003, "arch": _gaze_fc([256, 128, 64]), "lr": 0.001, "epochs": 5}, {**_CLASS003, "n_train": 2000},
        "2,000 training and 1,000 test images of the synthetic eye pairs instead of the document's eye images "
        "(5 epochs as in the document)"),
    Experiment(
        "003-batchnorm", "003", S003, "Tasks 2.1-2.3", "The gaze CNN with and without BatchNorm",
        "Does BatchNorm after each pooling layer help the eye-gaze CNN?",
        "arch", ("gaze-cnn", "gaze-cnn-bn"), ("CNN", "CNN + BatchNorm"), (61.04, 76.0),
        "With BatchNorm the CNN reaches 76.0% test accuracy, against 61.0% without.",
        "BatchNorm normalises the activations after each pool, which steadies and speeds training at lr 0.01 "
        "with momentum; the gain is real, its size depends on the data and the seed.",
        {**_B003, "lr": 0.01, "momentum": 0.9, "scheduler": "step", "step_size": 2, "gamma": 0.9, "epochs": 10},
        {**_CLASS003, "epochs": 3},
        _NOTE003 + ", 3 epochs instead of 10 on the document's eye images"),
    Experiment(
        "003-fc-vs-cnn", "003", S003, "Tasks 1.10, 2.1, 3.1", "Fully connected against convolutional",
        "Which does better on the eye images at the same settings, the fully connected [100, 100, 100] or the "
        "CNN, and how many parameters does each need?",
        "arch", ("gaze-fc-deep", "gaze-cnn"), ("FC [100, 100, 100]", "CNN"), (67.28, 61.04),
        "Observe the difference between the fully connected network and the CNN on the same task (67.28% "
        "for the best FC model, 61.04% for the CNN).",
        "The document trained them differently (the FC net 20 epochs with lr decay, the CNN 10 with StepLR), "
        "so its two numbers do not compare the networks; here they share every setting. The table shows the "
        "parameter counts (the document's own counts in Task 3.1 have mistakes).",
        {**_B003, "lr": 0.01, "momentum": 0.9, "epochs": 10}, {**_CLASS003, "epochs": 3},
        _NOTE003 + ", 3 epochs instead of 10 on the document's eye images"),
    Experiment(
        "004-blocks", "004", S004, "6.c-6.e", "Standard, pre-activation and bottleneck residual blocks",
        "How do the three kinds of residual block compare at the same depth and training?",
        "arch", ("resnet-cifar10", "resnet-cifar10-preact", "resnet-cifar10-bottleneck"),
        ("standard", "pre-activation", "bottleneck"), (86.12, None, None),
        "The best accuracy comes with the standard residual block, resnet size 18 (test accuracy 0.8604, "
        "0.8612 and 0.8352 printed).",
        "The printed accuracies come from lr 0.0001, weight decay 2e-4, 50 epochs and resnet size 18, not from "
        "the 6.d set-up this comparison uses (and all three from the same checkpoint); the pre-activation and "
        "bottleneck blocks report no number. Pre-activation mostly helps very deep ResNets; at this depth the "
        "three are close.",
        _B004, _CLASS004, _NOTE004),
    Experiment(
        "004-schedule", "004", S004, "6.d", "A constant rate against the rate cut by 10",
        "What does cutting the learning rate by 10 on a schedule do to a ResNet's accuracy?",
        "scheduler", ("none", "step"), ("constant 0.01", "cut by 10 (step)"), (None, None),
        "For each 100 epochs, the learning rate is reduced by a factor of 10.",
        "The cut lets the network take big steps early and then settle into a minimum: the test accuracy "
        "usually jumps right after each cut. At the classroom scale the cut comes after epoch 1 of 2.",
        _B004, _CLASS004, _NOTE004),
]

#: Every experiment by id, grouped by document in the order of the seeds.
EXPERIMENTS: dict[str, Experiment] = {e.id: e for e in DEFINITIONS}


def get(exp_id: str) -> Experiment:
    """The experiment with this id; a ``CnnEduError`` naming the closest ids when there is none."""
    key = str(exp_id).strip()
    if key in EXPERIMENTS:
        return EXPERIMENTS[key]
    close = difflib.get_close_matches(key, list(EXPERIMENTS), n=3, cutoff=0.4)
    hint = (f"Did you mean {', '.join(close)}? " if close else "") + \
        "`python -m cnnedu experiment list` shows every experiment."
    raise CnnEduError(f"There is no experiment '{exp_id}'.", hint)


def by_document() -> dict[str, list[Experiment]]:
    """The experiments grouped by their document's short name, seeds in order."""
    groups: dict[str, list[Experiment]] = {}
    for e in sorted(EXPERIMENTS.values(), key=lambda e: e.seed):
        groups.setdefault(e.document, []).append(e)
    return groups
