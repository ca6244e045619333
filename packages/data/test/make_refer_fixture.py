"""Write a tiny REFER-style dataset: refs(unc).p pickled the way Python 2 wrote them.

Protocol 0 with S'...' strings for refcoco+, protocol 2 with SHORT_BINSTRING/BINSTRING for refcoco,
instances.json, and expected.json: what Python's own pickle.loads reads from each file, for the
TypeScript reader to match. Usage: python3 make_refer_fixture.py <out dir>
"""
import json, os, pickle, struct, sys

def p0(v, out, memo):
    if isinstance(v, bool): out.append(b"I01\n" if v else b"I00\n")
    elif isinstance(v, int): out.append(b"I%d\n" % v if abs(v) < 2**31 else b"L%dL\n" % v)
    elif isinstance(v, float): out.append(b"F" + repr(v).encode() + b"\n")
    elif isinstance(v, str):
        out.append(b"S" + repr(v).encode("ascii") + b"\n")
        out.append(b"p%d\n" % len(memo)); memo.append(v)
    elif isinstance(v, list):
        out.append(b"(lp%d\n" % len(memo)); memo.append(v)
        for x in v: p0(x, out, memo); out.append(b"a")
    elif isinstance(v, dict):
        out.append(b"(dp%d\n" % len(memo)); memo.append(v)
        for k, x in v.items(): p0(k, out, memo); p0(x, out, memo); out.append(b"s")
    else: raise TypeError(v)

def put(out, i):
    out.append(b"q" + bytes([i]) if i < 256 else b"r" + struct.pack("<I", i))

def get(out, i):
    out.append(b"h" + bytes([i]) if i < 256 else b"j" + struct.pack("<I", i))

def p2(v, out, memo):
    if isinstance(v, bool): out.append(b"\x88" if v else b"\x89")
    elif isinstance(v, int):
        if 0 <= v < 256: out.append(b"K" + bytes([v]))
        elif 0 <= v < 65536: out.append(b"M" + struct.pack("<H", v))
        elif -2**31 <= v < 2**31: out.append(b"J" + struct.pack("<i", v))
        else:
            b = v.to_bytes((v.bit_length() + 8) // 8, "little", signed=True)
            out.append(b"\x8a" + bytes([len(b)]) + b)
    elif isinstance(v, float): out.append(b"G" + struct.pack(">d", v))
    elif isinstance(v, str):
        if v in memo: get(out, memo.index(v)); return
        b = v.encode("ascii")
        out.append((b"U" + bytes([len(b)]) if len(b) < 256 else b"T" + struct.pack("<i", len(b))) + b)
        put(out, len(memo)); memo.append(v)
    elif isinstance(v, list):
        out.append(b"]"); put(out, len(memo)); memo.append(None)
        if v:
            out.append(b"(")
            for x in v: p2(x, out, memo)
            out.append(b"e")
    elif isinstance(v, dict):
        out.append(b"}"); put(out, len(memo)); memo.append(None)
        out.append(b"(")
        for k, x in v.items(): p2(k, out, memo); p2(x, out, memo)
        out.append(b"u")
    else: raise TypeError(v)

def refs(prefix):
    out = []
    splits = ["train", "val", "testA", "testB", "testA", "val"]
    for i, split in enumerate(splits):
        ann = 100 + i
        out.append({"ref_id": i, "ann_id": ann, "category_id": 1 + i % 2, "image_id": 1 + i % 3,
                    "file_name": "COCO_train2014_%012d_%d.jpg" % (1 + i % 3, ann), "split": split,
                    "sent_ids": [10 * i, 10 * i + 1],
                    "sentences": [{"raw": "%s ref %d, it's \"quoted\"" % (prefix, i), "sent": "%s ref %d left" % (prefix, i), "sent_id": 10 * i, "tokens": [prefix, "ref", str(i)]},
                                  {"raw": "second %d" % i, "sent": "second %d" % i, "sent_id": 10 * i + 1, "tokens": ["second", str(i)]}]})
    out[0]["score"] = 0.25
    out[1]["big"] = 2**40
    return out

def main(root):
    inst = {"images": [{"id": k, "file_name": "COCO_train2014_%012d.jpg" % k, "width": 64, "height": 48} for k in (1, 2, 3)],
            "annotations": [{"id": 100 + i, "image_id": 1 + i % 3, "category_id": 1 + i % 2, "iscrowd": 0,
                             "bbox": [4 + i, 5, 20, 18],
                             "segmentation": [[4 + i, 5, 24 + i, 5, 24 + i, 23, 4 + i, 23]] if i != 3 else [[4 + i, 5, 14 + i, 5, 14 + i, 23], [14 + i, 5, 24 + i, 5, 24 + i, 23]]}
                            for i in range(6) if i != 5],
            "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]}
    expected = {}
    for name, writer, proto in (("refcoco", p2, 2), ("refcoco+", p0, 0)):
        d = os.path.join(root, "refer_seg", name); os.makedirs(d, exist_ok=True)
        out = [b"\x80\x02"] if proto == 2 else []
        writer(refs(name), out, [])
        data = b"".join(out) + b"."
        with open(os.path.join(d, "refs(unc).p"), "wb") as f: f.write(data)
        with open(os.path.join(d, "instances.json"), "w") as f: json.dump(inst, f)
        expected[name] = pickle.loads(data)  # Python 3 reads Python 2 str opcodes without an encoding argument
    with open(os.path.join(root, "expected.json"), "w") as f: json.dump(expected, f)

def big(root, n):
    """A REFER-sized fixture for the bench: n refs, 3 sentences each, n/10 images, protocol 2."""
    import random
    rnd = random.Random(0)
    refs_, anns, imgs = [], [], []
    for k in range(max(1, n // 10)):
        imgs.append({"id": k, "file_name": "COCO_train2014_%012d.jpg" % k, "width": 640, "height": 480})
    for i in range(n):
        x, y = rnd.uniform(0, 500), rnd.uniform(0, 350)
        poly = [round(x + 60 + 50 * __import__("math").cos(a / 8 * 6.283), 2) if j == 0 else round(y + 60 + 50 * __import__("math").sin(a / 8 * 6.283), 2) for a in range(8) for j in (0, 1)]
        anns.append({"id": i, "image_id": i % len(imgs), "category_id": 1 + i % 80, "bbox": [x + 10, y + 10, 100, 100], "segmentation": [poly], "iscrowd": 0})
        refs_.append({"ref_id": i, "ann_id": i, "category_id": 1 + i % 80, "image_id": i % len(imgs), "file_name": "x.jpg", "split": ["train", "val", "testA", "testB"][i % 4],
                      "sent_ids": [3 * i, 3 * i + 1, 3 * i + 2], "sentences": [{"raw": "the thing %d" % s, "sent": "the thing %d" % s, "sent_id": 3 * i + s, "tokens": ["the", "thing"]} for s in range(3)]})
    d = os.path.join(root, "refer_seg", "refcoco"); os.makedirs(d, exist_ok=True)
    out = [b"\x80\x02"]; p2(refs_, out, [])
    with open(os.path.join(d, "refs(unc).p"), "wb") as f: f.write(b"".join(out) + b".")
    with open(os.path.join(d, "instances.json"), "w") as f: json.dump({"images": imgs, "annotations": anns}, f)

if len(sys.argv) > 2: big(sys.argv[1], int(sys.argv[2]))
else: main(sys.argv[1])
