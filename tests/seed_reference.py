"""Plain-PyTorch reference models, transcribed from the coursework documents in shared/seeds/.

These classes deliberately do NOT use cnnedu: they are written the way the documents write them
(``nn.Module`` subclasses with layers as attributes and a hand-written ``forward``), so that
tests/arch/test_zoo.py can check every preset in cnnedu/arch/zoo.py against an independent implementation:
same parameter count, same output shape.

Where a document has a mistake that would change the count, the comment says what we did.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

# --------------------------------------------------------------------------------------------------
# 000_73ac177a9b0566b3.txt — LeNet and MobileNet on CIFAR-10
# --------------------------------------------------------------------------------------------------


class LeNetCifar(nn.Module):
    """000 Task 1.1 (and Task 1.6 with ``batch_norm=True``): conv-relu-pool twice, three FC layers."""

    def __init__(self, batch_norm: bool = False):
        super().__init__()
        bn1 = [nn.BatchNorm2d(6)] if batch_norm else []
        bn2 = [nn.BatchNorm2d(16)] if batch_norm else []
        self.layer1 = nn.Sequential(
            nn.Conv2d(3, 6, kernel_size=5, stride=1, padding=0), *bn1, nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2))
        self.layer2 = nn.Sequential(
            nn.Conv2d(6, 16, kernel_size=5, stride=1, padding=0), *bn2, nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2))
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        out = self.layer1(x)
        out = self.layer2(out)
        out = out.view(-1, 16 * 5 * 5)
        out = F.relu(self.fc1(out))
        out = F.relu(self.fc2(out))
        return self.fc3(out)


class LeNetGray64(nn.Module):
    """000 Task 1.2: the Task 1.1 layers on a 1x64x64 input.

    The document only does the arithmetic (and gets it wrong: it pools 30 instead of 26, counts
    conv2's weights with 1 input channel instead of 6 and so ends at 443,706). Done right:
    64 -conv5-> 60 -pool-> 30 -conv5-> 26 -pool-> 13, so fc1 sees 16*13*13 = 2704 features.
    """

    def __init__(self):
        super().__init__()
        self.layer1 = nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2, 2))
        self.layer2 = nn.Sequential(nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2, 2))
        self.fc1 = nn.Linear(16 * 13 * 13, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        out = self.layer2(self.layer1(x))
        out = out.view(-1, 16 * 13 * 13)
        out = F.relu(self.fc1(out))
        out = F.relu(self.fc2(out))
        return self.fc3(out)


class MobileNetBlock(nn.Module):
    """000 Task 1.7 ``Block``: depthwise conv + pointwise conv."""

    def __init__(self, in_planes, out_planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, in_planes, kernel_size=3, stride=stride, padding=1,
                               groups=in_planes, bias=False)
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv2 = nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=1, padding=0, bias=False)
        self.bn2 = nn.BatchNorm2d(out_planes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)))


class MobileNet(nn.Module):
    """000 Task 1.7: MobileNet v1 for 32x32 CIFAR-10 images."""

    cfg = [64, (128, 2), 128, (256, 2), 256, (512, 2), 512, 512, 512, 512, 512, (1024, 2), 1024]

    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.layers = self._make_layers(in_planes=32)
        self.linear = nn.Linear(1024, num_classes)

    def _make_layers(self, in_planes):
        layers = []
        for x in self.cfg:
            out_planes = x if isinstance(x, int) else x[0]
            stride = 1 if isinstance(x, int) else x[1]
            layers.append(MobileNetBlock(in_planes, out_planes, stride))
            in_planes = out_planes
        return nn.Sequential(*layers)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layers(out)
        out = F.avg_pool2d(out, 2)
        out = out.view(out.size(0), -1)
        return self.linear(out)


# --------------------------------------------------------------------------------------------------
# 001_abc7ab9de4061813.txt — LeNet5 on CIFAR-10
# --------------------------------------------------------------------------------------------------


class LeNet5(nn.Module):
    """001: three convs, two pools, three FC layers; ``forward`` also returns softmax probabilities.

    The document's forward returns ``(logits, probs)``; the cnnedu preset ends in a Softmax layer,
    so here we return ``probs`` only (same parameters, same output shape). ``dropout`` > 0 adds the
    two dropout layers of Exercise 2 after the two hidden FC+ReLU pairs (the document does not show
    where; this is the usual place).
    """

    def __init__(self, n_classes=10, dropout=0.0):
        super().__init__()
        self.feature_extractor = nn.Sequential(
            nn.Conv2d(in_channels=3, out_channels=6, kernel_size=5, stride=1),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2),
            nn.Conv2d(in_channels=6, out_channels=16, kernel_size=5, stride=1),
            nn.ReLU(),
            nn.Conv2d(in_channels=16, out_channels=120, kernel_size=5, stride=1),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=6, stride=1),
        )
        drop1 = [nn.Dropout(dropout)] if dropout else []
        drop2 = [nn.Dropout(dropout)] if dropout else []
        self.classifier = nn.Sequential(
            nn.Linear(in_features=120, out_features=84), nn.ReLU(), *drop1,
            nn.Linear(in_features=84, out_features=42), nn.ReLU(), *drop2,
            nn.Linear(in_features=42, out_features=n_classes),
        )

    def forward(self, x):
        x = self.feature_extractor(x)
        x = torch.flatten(x, 1)
        logits = self.classifier(x)
        return F.softmax(logits, dim=1)


# --------------------------------------------------------------------------------------------------
# 002_5dc57961bc4d70d9.txt — CNNs on MNIST and Fashion-MNIST
# --------------------------------------------------------------------------------------------------


class CNN(nn.Module):
    """002 part a: the default CNN of mnist.py."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels=1, out_channels=16, kernel_size=5, stride=1, padding=0)
        self.maxpool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(in_channels=16, out_channels=32, kernel_size=3, stride=1, padding=0)
        self.fc1 = nn.Linear(in_features=800, out_features=128)
        self.fc2 = nn.Linear(in_features=128, out_features=10)

    def forward(self, x):
        x = self.maxpool(F.relu(self.conv1(x)))
        x = self.maxpool(F.relu(self.conv2(x)))
        x = x.view(-1, 800)
        x = F.relu(self.fc1(x))
        return F.log_softmax(self.fc2(x), dim=1)


class CNN2(nn.Module):
    """002 part b: the corrected CNN2 ('same' padding, 32 and 64 filters, FC 256)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels=1, out_channels=32, kernel_size=5, stride=1, padding=2)
        self.maxpool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(in_channels=32, out_channels=64, kernel_size=5, stride=1, padding=2)
        self.fc1 = nn.Linear(in_features=3136, out_features=256)
        self.fc2 = nn.Linear(in_features=256, out_features=10)

    def forward(self, x):
        x = self.maxpool(F.relu(self.conv1(x)))
        x = self.maxpool(F.relu(self.conv2(x)))
        x = x.view(-1, 3136)
        x = F.relu(self.fc1(x))
        return F.log_softmax(self.fc2(x), dim=1)


class CNN3(nn.Module):
    """002 part d: CNN3 for Fashion-MNIST (batch norm, a stride-1 pool, dropout before the FC)."""

    def __init__(self, dropout=0.05):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        self.layer1 = nn.Sequential(nn.Conv2d(1, 16, kernel_size=5, stride=1, padding=2),
                                    nn.BatchNorm2d(16), nn.ReLU())
        self.layer2 = nn.Sequential(nn.Conv2d(16, 32, kernel_size=5, stride=1, padding=2),
                                    nn.BatchNorm2d(32), nn.ReLU())
        self.layer3 = nn.Sequential(nn.Conv2d(32, 64, kernel_size=5, stride=1, padding=2),
                                    nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2))
        self.layer4 = nn.Sequential(nn.Conv2d(64, 128, kernel_size=5, stride=1, padding=2),
                                    nn.BatchNorm2d(128), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=1))
        self.fc1 = nn.Linear(in_features=18432, out_features=10)

    def forward(self, x):
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = x.reshape(x.size(0), -1)
        x = self.dropout(x)
        return F.log_softmax(self.fc1(x), dim=1)


# --------------------------------------------------------------------------------------------------
# 003_21cfcb5578ce8830.txt — eye-gaze quadrant classification, 1x36x120 input, 4 classes
# --------------------------------------------------------------------------------------------------


class FullyConnectedNet(nn.Module):
    """003 Tasks 1.6 (``TwoLayerNet``, hidden_dims=[128]) and 1.10 (hidden_dims=[100, 100, 100]).

    The document writes these in NumPy with weights W1, b1, ...; this is the same network in torch.
    """

    def __init__(self, hidden_dims, input_dim=1 * 36 * 120, num_classes=4):
        super().__init__()
        dims = [input_dim, *hidden_dims, num_classes]
        self.fcs = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))

    def forward(self, x):
        x = x.reshape(x.size(0), -1)
        for fc in self.fcs[:-1]:
            x = F.relu(fc(x))
        return self.fcs[-1](x)


class GazeCNN(nn.Module):
    """003 Task 2.1 ``CNNWithoutBatchNorm`` and Task 2.3 ``CNNWithBatchNorm`` (BN after each pool)."""

    def __init__(self, batch_norm=False):
        super().__init__()
        self.batch_norm = batch_norm
        self.conv1 = nn.Conv2d(1, 6, 3)
        self.pool1 = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.pool2 = nn.MaxPool2d(2, 2)
        if batch_norm:
            self.bn1 = nn.BatchNorm2d(6)
            self.bn2 = nn.BatchNorm2d(16)
        self.fc1 = nn.Linear(16 * 6 * 27, 256)
        self.fc2 = nn.Linear(256, 4)

    def forward(self, x):
        x = self.pool1(F.relu(self.conv1(x)))  # input(1, 36, 120) output(6, 17, 59)
        if self.batch_norm:
            x = self.bn1(x)
        x = self.pool2(F.relu(self.conv2(x)))  # output(16, 6, 27)
        if self.batch_norm:
            x = self.bn2(x)
        x = x.view(-1, 16 * 6 * 27)
        x = F.relu(self.fc1(x))
        return self.fc2(x)


# --------------------------------------------------------------------------------------------------
# 004_9bd9eec40f530ee5.txt — ResNets on CIFAR-10 (printed module trees)
# --------------------------------------------------------------------------------------------------
#
# The printed ``stack_layer`` modules also hold a ``proj_shortcut`` of their own (e.g. Conv2d(32, 64)
# in the first stack, whose input never has 32 channels); the blocks' forward passes use only their
# own ``proj_shortcut``, so those stack-level convolutions are dead weight and are left out here.
# The printed start/output BatchNorms use momentum=0.997 (a TensorFlow-style value); it does not
# change the parameter count.


def _shortcut(in_ch, out_ch, stride):
    """Identity where the shape is unchanged, else the document's 1x1 projection (with bias)."""
    if in_ch == out_ch and stride == 1:
        return None
    return nn.Conv2d(in_ch, out_ch, kernel_size=1, stride=stride)


class StandardBlock(nn.Module):
    """004 ``standard_block``: conv-BN-ReLU-conv-BN, add the shortcut, ReLU."""

    def __init__(self, in_ch, out_ch, stride):
        super().__init__()
        self.proj_shortcut = _shortcut(in_ch, out_ch, stride)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, stride=1, padding=1, bias=False)
        self.batch_norm_function1 = nn.BatchNorm2d(out_ch)
        self.batch_norm_function2 = nn.BatchNorm2d(out_ch)
        self.relu_function = nn.ReLU()

    def forward(self, x):
        shortcut = x if self.proj_shortcut is None else self.proj_shortcut(x)
        out = self.relu_function(self.batch_norm_function1(self.conv1(x)))
        out = self.batch_norm_function2(self.conv2(out))
        return self.relu_function(out + shortcut)


class PreActBlock(nn.Module):
    """Full pre-activation basic block: BN-ReLU-conv, BN-ReLU-conv, add the shortcut."""

    def __init__(self, in_ch, out_ch, stride):
        super().__init__()
        self.proj_shortcut = _shortcut(in_ch, out_ch, stride)
        self.bn1 = nn.BatchNorm2d(in_ch)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, stride=1, padding=1, bias=False)

    def forward(self, x):
        out = F.relu(self.bn1(x))
        shortcut = x if self.proj_shortcut is None else self.proj_shortcut(out)  # see BottleneckBlock
        out = self.conv1(out)
        out = self.conv2(F.relu(self.bn2(out)))
        return out + shortcut


class BottleneckBlock(nn.Module):
    """004 ``bottleneck_block`` (pre-activation): BN-ReLU-1x1 (stride here), BN-ReLU-3x3, BN-ReLU-1x1.

    The printed tree registers ``proj_shortcut`` right after ``bottle_BN1``: as in TensorFlow's official
    ResNet v2 (whose names and momentum 0.997 the document uses) and He et al. 2016, the projection reads
    the input after the first BN-ReLU, while an identity shortcut carries the input itself.
    """

    def __init__(self, in_ch, out_ch, stride):
        super().__init__()
        width = out_ch // 4
        self.bottle_conv1 = nn.Conv2d(in_ch, width, 1, stride=stride, bias=False)
        self.bottle_BN1 = nn.BatchNorm2d(in_ch)
        self.proj_shortcut = _shortcut(in_ch, out_ch, stride)
        self.bottle_BN2 = nn.BatchNorm2d(width)
        self.bottle_conv2 = nn.Conv2d(width, width, 3, stride=1, padding=1, bias=False)
        self.bottle_BN3 = nn.BatchNorm2d(width)
        self.bottle_conv3 = nn.Conv2d(width, out_ch, 1, stride=1, bias=False)
        self.bottle_batch_relu = nn.ReLU()

    def forward(self, x):
        out = self.bottle_batch_relu(self.bottle_BN1(x))
        shortcut = x if self.proj_shortcut is None else self.proj_shortcut(out)
        out = self.bottle_conv1(out)
        out = self.bottle_conv2(self.bottle_batch_relu(self.bottle_BN2(out)))
        out = self.bottle_conv3(self.bottle_batch_relu(self.bottle_BN3(out)))
        return out + shortcut


class ResNet(nn.Module):
    """004 ``ResNet``: 7x7 stem, three stacks (64, 128, 256 filters), average pool, FC.

    ``block`` is "standard" (post-activation, BN+ReLU after the stem, no BN before the head),
    "preact" or "bottleneck" (both pre-activation: nothing after the stem, BN+ReLU before the pool).
    """

    def __init__(self, block="standard", resnet_size=3, num_classes=10):
        super().__init__()
        block_class = {"standard": StandardBlock, "preact": PreActBlock, "bottleneck": BottleneckBlock}[block]
        self.preact = block != "standard"
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=1, padding=3, bias=False)
        if not self.preact:
            self.batch_norm_relu_start = nn.Sequential(nn.BatchNorm2d(64, momentum=0.997), nn.ReLU())
        blocks = []
        in_ch = 64
        for i, out_ch in enumerate([64, 128, 256]):
            for j in range(resnet_size):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(block_class(in_ch, out_ch, stride))
                in_ch = out_ch
        self.stack_layers = nn.Sequential(*blocks)
        if self.preact:
            self.bn_relu = nn.Sequential(nn.BatchNorm2d(256, momentum=0.997), nn.ReLU())
        self.avg_pool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc_layer = nn.Linear(256, num_classes)

    def forward(self, x):
        x = self.conv1(x)
        if not self.preact:
            x = self.batch_norm_relu_start(x)
        x = self.stack_layers(x)
        if self.preact:
            x = self.bn_relu(x)
        x = self.avg_pool(x).flatten(1)
        return self.fc_layer(x)


# --------------------------------------------------------------------------------------------------
# One reference per preset id of cnnedu/arch/zoo.py (with its default parameters).
# --------------------------------------------------------------------------------------------------

REFERENCE_MODELS = {
    "lenet-cifar10": lambda: LeNetCifar(),
    "lenet-cifar10-bn": lambda: LeNetCifar(batch_norm=True),
    "lenet-64x64-gray": lambda: LeNetGray64(),
    "mobilenet-cifar10": lambda: MobileNet(),
    "lenet5-cifar10": lambda: LeNet5(10),
    "lenet5-cifar10-dropout": lambda: LeNet5(10, dropout=0.25),
    "mnist-cnn": lambda: CNN(),
    "mnist-cnn2": lambda: CNN2(),
    "fashion-cnn3": lambda: CNN3(),
    "gaze-fc2": lambda: FullyConnectedNet([128]),
    "gaze-fc-deep": lambda: FullyConnectedNet([100, 100, 100]),
    "gaze-cnn": lambda: GazeCNN(),
    "gaze-cnn-bn": lambda: GazeCNN(batch_norm=True),
    "resnet-cifar10": lambda: ResNet("standard", 3),
    "resnet-cifar10-bottleneck": lambda: ResNet("bottleneck", 2),
    "resnet-cifar10-preact": lambda: ResNet("preact", 3),
}
