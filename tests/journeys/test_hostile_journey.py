"""J7: what a clumsy or hostile student can throw at the Build page, in a real browser (1280×720).

A damaged link, a link whose numbers are absurd, a spec file saved by Notepad (with a byte-order mark), a
spec naming a layer `_modules`, a file whose name is Markdown that would fetch an image: each gets a
sentence on the screen (never a traceback, never a fetched image), and the page keeps working for the
next edit and after a reload.
"""

from __future__ import annotations

import base64
import json
import zlib

from cnnedu.arch.zoo import preset_spec
from cnnedu.ui.state import encode
from tests.journeys.student import Student

TABLE = "layers_"
LENET = 62_006  # LeNet (CIFAR-10): 456 + 2,416 + 48,120 + 10,164 + 850, as the seed works it out
MNIST_CNN = (5 * 5 * 1 * 16 + 16) + (3 * 3 * 16 * 32 + 32) + (800 * 128 + 128) + (128 * 10 + 10)  # 108,874


def raw_link(text: str) -> str:
    return base64.urlsafe_b64encode(zlib.compress(text.encode(), 9)).decode().rstrip("=")


def upload_spec(s: Student, path) -> None:
    s.click("Upload a spec")
    s.upload("Upload a spec (.json)", path)
    s.page.keyboard.press("Escape")  # close the popover
    s.wait()


def test_j7_damaged_links_absurd_numbers_and_hostile_files_get_a_sentence(student, tmp_path):
    s = student
    # 1. A link holding 100,000 nested brackets (a RecursionError in Python's json): a warning, LeNet instead.
    s.open(f"build?spec={raw_link('[' * 100_000 + ']' * 100_000)}")
    s.sees("The network in the address bar could not be read")
    s.sees(f"{LENET:,}")
    assert not s.errors()
    s.shot("j7-damaged-link")

    # ... and the page still works: the next edit shows at once
    s.edit_cell(TABLE, 0, "settings", "out_channels=8, kernel_size=5")
    s.sees(f"{LENET + (5 * 5 * 3 * 2 + 2) + 5 * 5 * 2 * 16:,}")  # 2 more filters in conv1 and their inputs in conv2

    # 2. A link whose stride is 2^63 (torch: "Overflow when unpacking long"): a sentence naming the layer.
    spec = preset_spec("lenet-cifar10").to_dict()
    spec["layers"][0]["stride"] = 2**63
    s.open(f"build?spec={encode(spec)}")
    s.sees("far more than any network can hold")
    assert any("Layer 0" in e and "stride" in e for e in s.errors()), s.errors()
    s.does_not_see("Traceback")
    s.shot("j7-absurd-stride")

    # 3. A spec saved by Windows Notepad (UTF-8 with a byte-order mark) is read like any other.
    mnist = preset_spec("mnist-cnn").to_dict()
    notepad = tmp_path / "my net.json"
    notepad.write_bytes("\ufeff".encode() + json.dumps(mnist, indent=2).encode())
    upload_spec(s, notepad)
    s.sees(f"{MNIST_CNN:,}")
    assert not s.errors()

    # 4. A layer named _modules (PyTorch's own attribute: training would crash) gets a sentence.
    bad = dict(mnist, layers=[dict(mnist["layers"][0], name="_modules"), *mnist["layers"][1:]])
    named = tmp_path / "![x](http:⁄⁄127.0.0.1:9⁄x.png).json"
    named.write_text(json.dumps(bad))
    upload_spec(s, named)
    s.sees("taken by PyTorch")
    error = next(e for e in s.errors() if "taken by PyTorch" in e)
    assert "![x](http" in error  # the file's name, shown as the characters it is
    assert s.page.locator('[data-testid="stAlert"] img').count() == 0  # no image was made of it
    s.sees(f"{MNIST_CNN:,}")  # the network before the bad upload is kept
    s.shot("j7-hostile-file-name")

    # 5. A reload keeps the last good network and shows no leftover error.
    s.reload()
    s.sees(f"{MNIST_CNN:,}")
    assert not any("taken by PyTorch" in e for e in s.errors())
    s.shot("j7-after-reload")
