"""Each piclassify-train command's whole job: the 28x28 models, their backbone head, and photo folders (a head or
a CNN).
"""
