"""The synthetic SPCD-like set, made from photographs bundled with installed packages (`data synth`).

Modules: `sources` (bundled photos → scenes), `isp` (looks → images, attribute severities), `looks` (seeded
phone looks and edits), `geometry` (phone framing), `proxy` (the perceptual ΔV proxy), `generate` (the set).
"""

from cdreasoning.data.synth.generate import SynthSummary, scene_layout, split_scenes, synthesize

__all__ = ["SynthSummary", "scene_layout", "split_scenes", "synthesize"]
