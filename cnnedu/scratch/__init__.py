"""Seed 003's neural network from scratch, in NumPy (float64), in the style of cs231n and micrograd: one
small module per idea, every function with its formula in the docstring, gradients checked against
centred differences and against PyTorch's autograd.

    layers.py       fc_forward/backward, relu_forward/backward, softmax_loss, the L2 term (0.5·reg·ΣW²)
    conv.py         conv_forward_naive/backward_naive (loops), conv_forward_im2col/backward_im2col
    pool.py         max_pool_forward/backward
    batchnorm.py    batchnorm_forward/backward (train and test mode, running averages)
    dropout.py      dropout_forward/backward (inverted dropout, p = keep probability)
    nets.py         TwoLayerNet, FullyConnectedNet (params W1, b1, …; loss(X, y=None))
    optim.py        sgd, sgd_momentum (the coursework's formula), sgd_momentum_torch (PyTorch's)
    solver.py       Solver: minibatch training, history, best parameters, lr decay
    gradcheck.py    rel_error, eval_numerical_gradient(_array), torch_gradients
    layer_specs.py  each layer's small random input, forward/backward and torch twin
    check.py        check_layer (the three-way gradient check), compare_training (NumPy vs torch SGD)
    compare.py      compare_training's implementation
"""
