"""`-oyt`: the frame's boxes as YOLO text, `class cx cy w h` normalised, one line per box.

Every gated box is written, attribute classes included (the reference dropped them), from the
detector's normalised coordinates rather than truncated pixels. Hidden classes (-drc) are
written too: hiding is a drawing choice.
"""

from __future__ import annotations

from hsc_infer.demo.wholebody.parse import ParsedFrame, WholeBodyObject


def yolo_line(obj: WholeBodyObject) -> str:
    x1, y1, x2, y2 = obj.normalised
    return (
        f"{obj.class_id} {(x1 + x2) / 2:.6f} {(y1 + y2) / 2:.6f} "
        f"{abs(x2 - x1):.6f} {abs(y2 - y1):.6f}"
    )


def yolo_text(parsed: ParsedFrame) -> str:
    """Drawable objects in list order, then the attribute boxes; '' for an empty frame."""
    lines = [yolo_line(o) for o in (*parsed.objects, *parsed.attributes)]
    return "\n".join(lines) + ("\n" if lines else "")
