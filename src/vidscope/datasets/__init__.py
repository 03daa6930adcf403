"""Synthetic, labelled video datasets for demos and tests.

:func:`make_collisions` writes short H.264 clips of moving objects that collide (and set off
a crash effect: fireball, smoke, debris) or narrowly miss each other (labels in the Kaggle
dashcam-collision layout) plus one long video with timed collision events.
"""

from __future__ import annotations

from vidscope.datasets._collisions import CollisionDataset, make_collisions

__all__ = ["CollisionDataset", "make_collisions"]
