"""Line numbers in YAML documents, so that data-file errors can name the line of each item."""

from __future__ import annotations

import yaml


def item_lines(root: yaml.Node | None, section: str) -> list[int]:
    """The first line (1-based) of each item of the list under `section` in a composed document."""
    if not isinstance(root, yaml.MappingNode):
        return []
    for key_node, value_node in root.value:
        if key_node.value == section and isinstance(value_node, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value_node.value]
    return []
