"""Labelling in the browser: label clips and mark event segments, with the model in the loop.

``vidscope label VIDEOS --classes a,b`` serves a local page (see :class:`LabelApp`) that
writes ``labels.csv`` (``path,label``) and ``annotations.csv``
(``file_name,start_time,end_time,label``): the files ``vidscope train --labels`` and
``--annotations`` read. Nothing else in vidscope imports this package.
"""

from ._app import LabelApp, LabelConfig, assign_keys
from ._proxy import ProxyCache, make_proxy
from ._state import ActionError, LabelFileError, LabelState
from ._videos import VideoItem, list_videos

__all__ = [
    "ActionError",
    "LabelApp",
    "LabelConfig",
    "LabelFileError",
    "LabelState",
    "ProxyCache",
    "VideoItem",
    "assign_keys",
    "list_videos",
    "make_proxy",
]
