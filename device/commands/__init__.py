"""``piclassify``'s command line: each sub-command wires the rooms below it together."""
