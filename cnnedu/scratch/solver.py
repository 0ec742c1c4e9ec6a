"""The coursework's Solver (seed 003, Task 1.7; cs231n's ``solver.py``): trains a model that has ``params``
and ``loss(X, y)`` with an update rule from optim.py.

    solver = Solver(model, {"X_train": X, "y_train": y, "X_val": Xv, "y_val": yv},
                    update_rule="sgd_momentum", optim_config={"learning_rate": 1e-3, "momentum": 0.9},
                    lr_decay=0.8, batch_size=256, num_epochs=10, seed=0)
    solver.train()            # solver.loss_history, .train_acc_history, .val_acc_history, .best_params

Each epoch visits the training set once in a shuffled order (like the coursework's data loader: "Epoch 0
Batch 1", …); after each epoch it measures train and validation accuracy, in percent as the coursework's
``check_accuracy`` does, keeps the parameters with the best validation accuracy, and multiplies every
parameter's learning rate by ``lr_decay``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from cnnedu.scratch.optim import UPDATE_RULES

#: ``on_iteration(iteration, total_iterations, loss)`` after every update (iteration counts from 1).
OnIteration = Callable[[int, int, float], None]


def epoch_batches(num_train: int, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """The indices of one epoch's minibatches: a permutation of range(num_train) cut into pieces of
    ``batch_size`` (the last one may be smaller)."""
    order = rng.permutation(num_train)
    for start in range(0, num_train, batch_size):
        yield order[start:start + batch_size]


def accuracy(model, X: np.ndarray, y: np.ndarray, batch_size: int = 256) -> float:
    """Percentage of examples whose highest score is the true class (the coursework's ``check_accuracy``)."""
    predictions = [np.argmax(model.loss(X[i:i + batch_size]), axis=1) for i in range(0, len(X), batch_size)]
    return float(np.mean(np.concatenate(predictions) == y) * 100) if len(X) else 0.0


class Solver:
    """Minibatch training of ``model`` on ``data`` (``X_train``, ``y_train``, ``X_val``, ``y_val``).

    ``update_rule``: a name in optim.UPDATE_RULES ("sgd", "sgd_momentum", "sgd_momentum_torch") or the
    function itself (the coursework passes ``sgd_momentum``). ``optim_config`` is copied for every
    parameter. ``print_every``: print the loss every so many batches when ``verbose``. ``on_iteration``:
    called after every update, for a progress bar.
    """

    def __init__(self, model, data: dict[str, np.ndarray], *, update_rule: str | Callable = "sgd",
                 optim_config: dict | None = None, lr_decay: float = 1.0, batch_size: int = 100,
                 num_epochs: int = 10, seed: int | None = 0, print_every: int = 100, verbose: bool = False,
                 on_iteration: OnIteration | None = None):
        self.model, self.data = model, data
        self.update_rule = UPDATE_RULES[update_rule] if isinstance(update_rule, str) else update_rule
        self.optim_configs = {name: dict(optim_config or {}) for name in model.params}
        self.lr_decay, self.batch_size, self.num_epochs = lr_decay, batch_size, num_epochs
        self.rng = np.random.default_rng(seed)
        self.print_every, self.verbose, self.on_iteration = print_every, verbose, on_iteration
        self.loss_history: list[float] = []
        self.train_acc_history: list[float] = []
        self.val_acc_history: list[float] = []
        self.best_val_acc = -1.0
        self.best_params: dict[str, np.ndarray] = {}

    def _step(self, batch: np.ndarray) -> float:
        """One update of every parameter on one minibatch; returns the minibatch loss before the update."""
        loss, grads = self.model.loss(self.data["X_train"][batch], self.data["y_train"][batch])
        for name, w in self.model.params.items():
            self.model.params[name], self.optim_configs[name] = self.update_rule(w, grads[name],
                                                                                 self.optim_configs[name])
        self.loss_history.append(loss)
        return loss

    def _end_epoch(self, epoch: int) -> None:
        """Accuracies, the best parameters so far, and the learning-rate decay."""
        train_acc = accuracy(self.model, self.data["X_train"], self.data["y_train"])
        val_acc = accuracy(self.model, self.data["X_val"], self.data["y_val"])
        self.train_acc_history.append(train_acc)
        self.val_acc_history.append(val_acc)
        if self.verbose:
            print(f"(Epoch {epoch} / {self.num_epochs}) train acc: {train_acc:f}; val_acc: {val_acc:f}")
        if val_acc > self.best_val_acc:
            self.best_val_acc = val_acc
            self.best_params = {k: v.copy() for k, v in self.model.params.items()}
        for config in self.optim_configs.values():
            config["learning_rate"] = config.get("learning_rate", 1e-2) * self.lr_decay

    def train(self) -> None:
        """Run ``num_epochs`` epochs; the model keeps its last parameters (``best_params`` holds the best)."""
        num_train = len(self.data["X_train"])
        per_epoch = -(-num_train // self.batch_size)
        total, iteration = self.num_epochs * per_epoch, 0
        for epoch in range(self.num_epochs):
            for b, batch in enumerate(epoch_batches(num_train, self.batch_size, self.rng)):
                loss = self._step(batch)
                iteration += 1
                if self.verbose and b % self.print_every == 0:
                    print(f"(Epoch {epoch} Batch {b + 1}) loss: {loss:f}")
                if self.on_iteration is not None:
                    self.on_iteration(iteration, total, loss)
            self._end_epoch(epoch)
