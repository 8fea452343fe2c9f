"""gymnast_pose: pose estimation and performance comparison for gymnastics and athletics coaches.

The core package never imports Qt; the GUI lives in ``gymnast_pose.gui``.
"""

__version__ = "0.1.0"
