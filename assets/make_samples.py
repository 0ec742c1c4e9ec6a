"""Regenerate the sample images in assets/samples/ (run from the repository root):

    .venv/bin/python assets/make_samples.py

So that prediction can be tried without having any images of one's own:

- ``fashion-mnist/``: one image per class from the real Fashion-MNIST *test* set (28×28 gray PNGs, read
  from /usr/share/datasets/fashion-mnist or the cnnedu data folder); skipped when the data is not there.
- ``synthetic/``: one image per class of cnnedu's synthetic shapes (28×28 gray, seed 12345, so not one
  of the images a default run trains or tests on).
- ``colour/``: simple procedural colour pictures in the spirit of CIFAR-10 classes (a ship at sea, an
  airplane in the sky, a red car, a green frog, a truck), 64×64 — drawn here, nothing downloaded.
- ``drawn/``: images that show the conversion options: a dark trouser drawn on white paper (try
  "invert" with a Fashion-MNIST model) and a bag cut out on a transparent background (try background
  "black").

The images are small on purpose; all of them together stay well under 200 kB.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parent / "samples"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def save(img: Image.Image, folder: str, name: str) -> Path:
    path = ROOT / folder / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, optimize=True)
    return path


def fashion_mnist() -> int:
    from cnnedu.data.idx import read_idx
    from cnnedu.data.mnist import FASHION_CLASSES, find_local

    folder = find_local("fashion-mnist")
    if folder is None:
        print("Fashion-MNIST not found: fashion-mnist/ samples skipped")
        return 0
    images = read_idx(next(folder.glob("t10k-images*")))
    labels = read_idx(next(folder.glob("t10k-labels*")))
    count = 0
    for k, name in enumerate(FASHION_CLASSES):
        i = int(np.flatnonzero(labels == k)[0])  # the first test image of each class
        save(Image.fromarray(images[i], "L"), "fashion-mnist", f"{k}-{slug(name)}-test{i}")
        count += 1
    return count


def synthetic() -> int:
    from cnnedu.data.synthetic import CLASS_NAMES, generate

    x, y = generate(200, (1, 28, 28), len(CLASS_NAMES), seed=12345)
    for k, name in enumerate(CLASS_NAMES):
        i = int(np.flatnonzero(y.numpy() == k)[0])
        save(Image.fromarray(x[i, 0].numpy(), "L"), "synthetic", f"{k}-{slug(name)}")
    return len(CLASS_NAMES)


def _gradient(size: int, top: tuple[int, int, int], bottom: tuple[int, int, int]) -> Image.Image:
    t = np.linspace(0.0, 1.0, size)[:, None, None]
    rows = (1 - t) * np.array(top) + t * np.array(bottom)
    return Image.fromarray(np.repeat(rows, size, axis=1).astype(np.uint8), "RGB")


def _noise(img: Image.Image, amount: float, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    a = np.asarray(img, dtype=np.float32) + rng.normal(0, amount, (img.height, img.width, 1))
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "RGB")


def colour() -> int:
    s = 64
    # ship: sky, sea, a dark hull with a white cabin
    img = _gradient(s, (150, 190, 235), (200, 220, 240))
    d = ImageDraw.Draw(img)
    d.rectangle([0, 38, s, s], fill=(30, 80, 140))
    d.polygon([(10, 34), (54, 34), (48, 44), (16, 44)], fill=(60, 60, 70))
    d.rectangle([24, 26, 40, 34], fill=(240, 240, 240))
    d.rectangle([30, 20, 33, 26], fill=(180, 40, 40))
    save(_noise(img, 4, 1), "colour", "ship")
    # airplane: blue sky, a light gray plane seen from below
    img = _gradient(s, (70, 130, 210), (140, 190, 240))
    d = ImageDraw.Draw(img)
    d.polygon([(8, 30), (58, 30), (62, 33), (58, 36), (8, 36)], fill=(215, 215, 220))
    d.polygon([(28, 31), (40, 31), (30, 12), (26, 12)], fill=(200, 200, 205))
    d.polygon([(28, 35), (40, 35), (30, 54), (26, 54)], fill=(200, 200, 205))
    d.polygon([(8, 30), (14, 30), (10, 22), (6, 22)], fill=(200, 200, 205))
    save(_noise(img, 3, 2), "colour", "airplane")
    # automobile: a red car on a gray road, green background
    img = _gradient(s, (120, 170, 110), (90, 130, 80))
    d = ImageDraw.Draw(img)
    d.rectangle([0, 46, s, s], fill=(90, 90, 95))
    d.rounded_rectangle([6, 30, 58, 46], radius=5, fill=(200, 30, 30))
    d.polygon([(16, 30), (22, 20), (42, 20), (50, 30)], fill=(180, 25, 25))
    d.polygon([(20, 29), (24, 22), (31, 22), (31, 29)], fill=(170, 210, 240))
    d.polygon([(34, 29), (34, 22), (41, 22), (47, 29)], fill=(170, 210, 240))
    for cx in (17, 47):
        d.ellipse([cx - 6, 40, cx + 6, 52], fill=(20, 20, 20))
        d.ellipse([cx - 2, 44, cx + 2, 48], fill=(160, 160, 160))
    save(_noise(img, 4, 3), "colour", "automobile")
    # frog: a green frog on brown earth
    img = _gradient(s, (120, 95, 60), (90, 70, 45))
    d = ImageDraw.Draw(img)
    d.ellipse([14, 22, 50, 50], fill=(60, 150, 50))
    d.ellipse([10, 40, 24, 54], fill=(50, 130, 40))
    d.ellipse([40, 40, 54, 54], fill=(50, 130, 40))
    for cx in (24, 40):
        d.ellipse([cx - 5, 16, cx + 5, 26], fill=(70, 160, 60))
        d.ellipse([cx - 2, 19, cx + 2, 23], fill=(10, 10, 10))
    save(_noise(img.filter(ImageFilter.SMOOTH), 5, 4), "colour", "frog")
    # truck: a blue cab and a white box on a road
    img = _gradient(s, (170, 200, 230), (160, 170, 160))
    d = ImageDraw.Draw(img)
    d.rectangle([0, 48, s, s], fill=(80, 80, 85))
    d.rectangle([4, 18, 42, 46], fill=(235, 235, 230))
    d.rectangle([42, 26, 60, 46], fill=(40, 70, 170))
    d.rectangle([46, 29, 57, 36], fill=(170, 210, 240))
    for cx in (14, 32, 52):
        d.ellipse([cx - 5, 42, cx + 5, 52], fill=(20, 20, 20))
    save(_noise(img, 4, 5), "colour", "truck")
    return 5


def drawn() -> int:
    # a dark trouser drawn on white paper: the opposite of Fashion-MNIST's light-on-black
    img = Image.new("L", (112, 112), 250)
    d = ImageDraw.Draw(img)
    d.polygon([(36, 10), (76, 10), (84, 104), (62, 104), (56, 40), (50, 104), (28, 104)], fill=40)
    d.line([(56, 12), (56, 36)], fill=90, width=2)
    save(img.filter(ImageFilter.GaussianBlur(1)), "drawn", "trouser-on-white-paper")
    # a bag cut out on a transparent background (RGBA)
    img = Image.new("RGBA", (96, 96), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle([14, 34, 82, 86], radius=8, fill=(150, 100, 60, 255))
    d.arc([30, 12, 66, 52], 180, 360, fill=(120, 80, 50, 255), width=6)
    d.rectangle([40, 52, 56, 60], fill=(200, 170, 90, 255))
    save(img, "drawn", "bag-transparent")
    return 2


def main() -> None:
    if ROOT.exists():
        shutil.rmtree(ROOT)
    counts = {"fashion-mnist": fashion_mnist(), "synthetic": synthetic(), "colour": colour(), "drawn": drawn()}
    total = sum(p.stat().st_size for p in ROOT.rglob("*.png"))
    print(", ".join(f"{k}: {v}" for k, v in counts.items()) + f"; {total / 1e3:.1f} kB in {ROOT}")


if __name__ == "__main__":
    main()
