"""OpenCV grabCut on the scenes the `opencv` benchmark suite hands over (packages/cli/src/bench/opencv.ts).

Reads a manifest JSON: {"iterations": int, "seedRadius": float, "items": [{"id", "image" (PNG path),
"width", "height", "gold" (raw uint8 mask file, row-major 0/1), "box" [x1, y1, x2, y2] (pixels,
exclusive x2/y2), "positives" [[x, y]...], "negatives" [[x, y]...]}]} and writes, per item, the IoU
with the gold mask and the grabCut time (ms, the cv2.grabCut calls only) of
  - box only: GC_INIT_WITH_RECT on the full image (the classic use);
  - box + points: the rectangle's labels (outside definitely background, inside probably foreground)
    with a disc of `seedRadius` pixels around each point set to definitely fore/background, then
    GC_INIT_WITH_MASK; one call, the same iteration count.
OpenCV is single-threaded here (cv2.setNumThreads(1)), as node runs our decoder on one thread.
Needs python3-opencv (Debian) or opencv-python; the suite skips itself with that reason otherwise.
"""

import json
import math
import sys
import time

import cv2
import numpy as np


def iou(pred, gold):
    p = pred.astype(bool)
    g = gold.astype(bool)
    union = np.logical_or(p, g).sum()
    return 1.0 if union == 0 else float(np.logical_and(p, g).sum()) / float(union)


def rect_of(box, w, h):
    x1 = max(0, int(math.floor(box[0])))
    y1 = max(0, int(math.floor(box[1])))
    x2 = min(w, int(math.ceil(box[2])))
    y2 = min(h, int(math.ceil(box[3])))
    return x1, y1, max(1, x2 - x1), max(1, y2 - y1)


def grabcut(img, mask, rect, mode, iterations):
    bgd = np.zeros((1, 65), np.float64)
    fgd = np.zeros((1, 65), np.float64)
    t = time.perf_counter()
    try:
        cv2.grabCut(img, mask, rect, bgd, fgd, iterations, mode)
    except cv2.error:
        # grabCut refuses a rectangle with no background or no foreground samples: nothing found.
        mask[:] = cv2.GC_BGD
    ms = (time.perf_counter() - t) * 1000.0
    return ((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)).astype(np.uint8), ms


def main():
    manifest = json.load(open(sys.argv[1]))
    cv2.setNumThreads(1)
    iterations = int(manifest.get("iterations", 5))
    radius = float(manifest.get("seedRadius", 4))
    out = []
    for it in manifest["items"]:
        img = cv2.imread(it["image"], cv2.IMREAD_COLOR)
        h, w = img.shape[:2]
        gold = np.fromfile(it["gold"], dtype=np.uint8).reshape(h, w)
        rect = rect_of(it["box"], w, h)
        m = np.zeros((h, w), np.uint8)
        box_mask, box_ms = grabcut(img, m, rect, cv2.GC_INIT_WITH_RECT, iterations)
        row = {"id": it["id"], "boxOnly": {"iou": iou(box_mask, gold), "ms": box_ms}}
        if it.get("positives") or it.get("negatives"):
            m = np.full((h, w), cv2.GC_BGD, np.uint8)
            x, y, rw, rh = rect
            m[y : y + rh, x : x + rw] = cv2.GC_PR_FGD
            r = max(1, int(round(radius)))
            for px, py in it.get("negatives", []):
                cv2.circle(m, (int(px), int(py)), r, int(cv2.GC_BGD), -1)
            for px, py in it.get("positives", []):
                cv2.circle(m, (int(px), int(py)), r, int(cv2.GC_FGD), -1)
            pts_mask, pts_ms = grabcut(img, m, None, cv2.GC_INIT_WITH_MASK, iterations)
            row["points"] = {"iou": iou(pts_mask, gold), "ms": pts_ms}
        out.append(row)
    json.dump({"opencv": cv2.__version__, "items": out}, open(sys.argv[2], "w"))


if __name__ == "__main__":
    main()
