"""Evaluation of pronunciation encoders: the paper's four evaluations and PWESuite's tasks.

Every function here takes *embedding functions* (``Callable[[list[str]], ndarray]`` returning
L2-normalised rows), so the same code scores a CLIP text encoder, a pronunciation encoder, or
their fused query.
"""
