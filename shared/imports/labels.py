"""A model's labels as other tools write them: a labels file, a comma list, or Keras' ``class_indices``.

- Teachable Machine's ``labels.txt``: ``0 Name`` a line, numbered from 0 in order (the numbers are dropped);
- TensorFlow's and Model Maker's: one name a line (ImageNet's has a few names twice: ``crane`` the bird and
  the machine; the second becomes ``crane (2)``);
- ``cats,dogs`` on the command line, or the notebook's ``train_generator.class_indices`` as it prints:
  ``{'cats': 0, 'dogs': 1}``.

Every label reaches terminals, logs, MQTT topics and web pages: printable, one line, at most 200 characters.
"""

from __future__ import annotations

import re

from piclassify.shared.errors import PiclassifyError

MAX_LABELS = 65536  # the most outputs a manifest allows
MAX_LABELS_BYTES = 1 << 20  # ImageNet-21k's names are 300 KB
MAX_LABEL_CHARACTERS = 200
_NUMBERED = re.compile(r"(\d+)\s+(\S.*)")
_CLASS_INDEX = re.compile(r"""\s*(['"])(.*?)\1\s*:\s*(\d+)\s*""")


class LabelsError(PiclassifyError):
    """Labels that cannot name a model's outputs."""


def parse_labels_file(data: bytes, where: str) -> tuple[str, ...]:
    """A labels file's names, in output order."""
    if len(data) > MAX_LABELS_BYTES:
        raise LabelsError(f"{where}: larger than {MAX_LABELS_BYTES >> 10} KiB; not a labels file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise LabelsError(f"{where}: not UTF-8 text; not a labels file") from None
    lines = [line.strip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    if len(lines) > MAX_LABELS:
        raise LabelsError(f"{where}: {len(lines)} labels, more than the {MAX_LABELS} outputs a model may have")
    if "" in lines:
        raise LabelsError(f"{where}: line {lines.index('') + 1} is empty; one label a line")
    numbered = [_NUMBERED.fullmatch(line) for line in lines]
    if lines and all(match and int(match.group(1)) == n for n, match in enumerate(numbered)):
        lines = [match.group(2).strip() for match in numbered if match]  # Teachable Machine: "0 Name"
    return checked_labels(lines, where)


def is_numbered(data: bytes) -> bool:
    """Whether a labels file numbers its lines ``0 Name``: Teachable Machine's, and no other tool's."""
    first = data.decode("utf-8", "replace").lstrip("\ufeff").split("\n", 1)[0].strip()
    return _NUMBERED.fullmatch(first) is not None and first.startswith("0")


def parse_labels_text(text: str) -> tuple[str, ...]:
    """``cats,dogs``, or ``{'cats': 0, 'dogs': 1}`` (Keras' class_indices), from the command line."""
    text = text.strip()
    if text.startswith("{") and text.endswith("}"):
        pairs = [_CLASS_INDEX.fullmatch(item) for item in text[1:-1].split(",") if item.strip()]
        if not pairs or not all(pairs):
            raise LabelsError(f"{text[:60]!r}: expected Keras' class_indices, e.g. {{'cats': 0, 'dogs': 1}}")
        by_index = {int(match.group(3)): match.group(2) for match in pairs if match}
        if sorted(by_index) != list(range(len(pairs))):
            raise LabelsError(f"{text[:60]!r}: the class indices must be 0, 1, ... each once")
        return checked_labels([by_index[n] for n in range(len(by_index))], "--labels")
    return checked_labels([name.strip() for name in text.split(",")], "--labels")


def checked_labels(names: list[str], where: str) -> tuple[str, ...]:
    """Printable names of at most 200 characters; a name given twice gets its count (``crane (2)``)."""
    seen: dict[str, int] = {}
    labels = []
    for number, name in enumerate(names, 1):
        if not name or not name.isprintable() or len(name) > MAX_LABEL_CHARACTERS:
            raise LabelsError(f"{where}: label {number} must be printable text of 1 to {MAX_LABEL_CHARACTERS} "
                              "characters")
        seen[name] = seen.get(name, 0) + 1
        labels.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    if len(set(labels)) != len(labels):
        raise LabelsError(f"{where}: the labels are not distinct even with their counts added")
    return tuple(labels)
