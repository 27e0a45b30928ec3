#!/usr/bin/env python3
"""Draw Patchbay's app icon and write every size Tauri's bundler wants into icons/.

Pure standard library (zlib + struct), so it runs anywhere python3 does:

    python3 scripts/gen-icons.py

The picture: a dark rounded tile with two columns of jacks, patched together by
three cables. Shapes are drawn as signed distance fields with one sample per
pixel and analytic anti-aliasing, so every size is rendered directly, not scaled.
"""

import math
import os
import struct
import sys
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "icons")


def hex_rgb(h):
    h = h.lstrip("#")
    return tuple(int(h[i : i + 2], 16) / 255.0 for i in (0, 2, 4))


class Canvas:
    def __init__(self, size):
        self.size = size
        # Premultiplied RGBA, floats 0..1.
        self.px = [[0.0, 0.0, 0.0, 0.0] for _ in range(size * size)]

    def blend(self, x, y, rgb, alpha):
        if alpha <= 0.0:
            return
        p = self.px[y * self.size + x]
        inv = 1.0 - alpha
        p[0] = rgb[0] * alpha + p[0] * inv
        p[1] = rgb[1] * alpha + p[1] * inv
        p[2] = rgb[2] * alpha + p[2] * inv
        p[3] = alpha + p[3] * inv

    def pixel_box(self, x0, y0, x1, y1, pad):
        """Unit-space box -> clamped pixel ranges."""
        s = self.size
        return (
            max(0, int(math.floor(x0 * s - pad))),
            min(s, int(math.ceil(x1 * s + pad))),
            max(0, int(math.floor(y0 * s - pad))),
            min(s, int(math.ceil(y1 * s + pad))),
        )

    def fill_sdf(self, box, sdf, color, opacity=1.0):
        """sdf(ux, uy) -> signed distance in unit space; color(ux, uy) -> rgb."""
        s = self.size
        xa, xb, ya, yb = self.pixel_box(*box, pad=2)
        for y in range(ya, yb):
            uy = (y + 0.5) / s
            for x in range(xa, xb):
                ux = (x + 0.5) / s
                d = sdf(ux, uy) * s  # in pixels
                a = min(1.0, max(0.0, 0.5 - d))
                if a > 0.0:
                    self.blend(x, y, color(ux, uy), a * opacity)

    def circle(self, cx, cy, r, rgb, opacity=1.0):
        self.fill_sdf(
            (cx - r, cy - r, cx + r, cy + r),
            lambda x, y: math.hypot(x - cx, y - cy) - r,
            lambda x, y: rgb,
            opacity,
        )

    def stroke(self, points, width, rgb, opacity=1.0):
        """A round-capped polyline: min distance over its segments, blended once."""
        s = self.size
        half = width / 2.0
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        xa, xb, ya, yb = self.pixel_box(min(xs) - half, min(ys) - half, max(xs) + half, max(ys) + half, 2)
        w = xb - xa
        dist = [float("inf")] * (w * (yb - ya))
        for (ax, ay), (bx, by) in zip(points, points[1:]):
            sxa, sxb, sya, syb = self.pixel_box(
                min(ax, bx) - half, min(ay, by) - half, max(ax, bx) + half, max(ay, by) + half, 2
            )
            dx, dy = bx - ax, by - ay
            ll = dx * dx + dy * dy or 1e-12
            for y in range(max(sya, ya), min(syb, yb)):
                uy = (y + 0.5) / s
                row = (y - ya) * w
                for x in range(max(sxa, xa), min(sxb, xb)):
                    ux = (x + 0.5) / s
                    t = ((ux - ax) * dx + (uy - ay) * dy) / ll
                    t = 0.0 if t < 0.0 else 1.0 if t > 1.0 else t
                    d = math.hypot(ux - (ax + t * dx), uy - (ay + t * dy))
                    i = row + x - xa
                    if d < dist[i]:
                        dist[i] = d
        for y in range(ya, yb):
            row = (y - ya) * w
            for x in range(xa, xb):
                a = min(1.0, max(0.0, 0.5 - (dist[row + x - xa] - half) * s))
                if a > 0.0:
                    self.blend(x, y, rgb, a * opacity)

    def rgba_bytes(self):
        out = bytearray()
        for r, g, b, a in self.px:
            if a > 0.0:
                r, g, b = r / a, g / a, b / a
            out += bytes(int(round(min(1.0, max(0.0, c)) * 255)) for c in (r, g, b, a))
        return bytes(out)


def rounded_rect_sdf(x0, y0, x1, y1, radius):
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    hx, hy = (x1 - x0) / 2 - radius, (y1 - y0) / 2 - radius

    def sdf(x, y):
        qx, qy = abs(x - cx) - hx, abs(y - cy) - hy
        outside = math.hypot(max(qx, 0.0), max(qy, 0.0))
        inside = min(max(qx, qy), 0.0)
        return outside + inside - radius

    return sdf


def bezier(p0, p1, p2, p3, n=48):
    pts = []
    for i in range(n + 1):
        t = i / n
        u = 1 - t
        pts.append(
            (
                u * u * u * p0[0] + 3 * u * u * t * p1[0] + 3 * u * t * t * p2[0] + t * t * t * p3[0],
                u * u * u * p0[1] + 3 * u * u * t * p1[1] + 3 * u * t * t * p2[1] + t * t * t * p3[1],
            )
        )
    return pts


def draw(size):
    c = Canvas(size)
    # The tile: a rounded square with a vertical gradient.
    top, bottom = hex_rgb("#33457a"), hex_rgb("#141b33")
    m = 0.04
    c.fill_sdf(
        (m, m, 1 - m, 1 - m),
        rounded_rect_sdf(m, m, 1 - m, 1 - m, 0.2),
        lambda x, y: tuple(top[i] + (bottom[i] - top[i]) * y for i in range(3)),
    )
    # Two columns of jacks.
    left, right = 0.25, 0.75
    rows = (0.3, 0.5, 0.7)
    ring, hole = hex_rgb("#dfe4ef"), hex_rgb("#0a0f1e")
    for x in (left, right):
        for y in rows:
            c.circle(x, y, 0.078, ring)
            c.circle(x, y, 0.045, hole)
    # Three patch cables, each with a soft shadow and a plug head on both ends.
    cables = (
        ((left, rows[0]), (right, rows[2]), hex_rgb("#ff9f43"), 0.10),
        ((left, rows[2]), (right, rows[0]), hex_rgb("#2ee6c5"), 0.10),
        ((left, rows[1]), (right, rows[1]), hex_rgb("#ff5c8a"), 0.22),
    )
    shadow = (0.0, 0.0, 0.0)
    for a, b, rgb, sag in cables:
        pts = bezier(a, (a[0] + 0.16, a[1] + sag), (b[0] - 0.16, b[1] + sag), b)
        c.stroke([(x + 0.008, y + 0.014) for x, y in pts], 0.06, shadow, 0.35)
        c.stroke(pts, 0.042, rgb)
        for x, y in (a, b):
            c.circle(x, y, 0.04, rgb)
            c.circle(x - 0.012, y - 0.012, 0.012, (1.0, 1.0, 1.0), 0.45)
    return c


def png(size, rgba):
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    stride = size * 4
    raw = b"".join(b"\x00" + rgba[y * stride : (y + 1) * stride] for y in range(size))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def ico(pngs):
    """An .ico whose entries are PNG-encoded (Windows Vista and later)."""
    header = struct.pack("<HHH", 0, 1, len(pngs))
    offset = 6 + 16 * len(pngs)
    entries, blobs = b"", b""
    for size, data in pngs:
        dim = 0 if size >= 256 else size
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(data), offset)
        offset += len(data)
        blobs += data
    return header + entries + blobs


def icns(pngs):
    """An .icns with PNG payloads: ic07 = 128, ic08 = 256, ic09 = 512."""
    kinds = {128: b"ic07", 256: b"ic08", 512: b"ic09"}
    body = b"".join(kinds[s] + struct.pack(">I", 8 + len(d)) + d for s, d in pngs if s in kinds)
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def main():
    os.makedirs(OUT, exist_ok=True)
    sizes = (16, 32, 48, 128, 256, 512)
    encoded = {}
    for s in sizes:
        encoded[s] = png(s, draw(s).rgba_bytes())
        print(f"rendered {s}x{s}", file=sys.stderr)
    files = {
        "32x32.png": encoded[32],
        "128x128.png": encoded[128],
        "128x128@2x.png": encoded[256],
        "icon.png": encoded[512],
        "icon.ico": ico([(s, encoded[s]) for s in (16, 32, 48, 256)]),
        "icon.icns": icns([(s, encoded[s]) for s in (128, 256, 512)]),
    }
    for name, data in files.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        print(f"wrote icons/{name} ({len(data)} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
